"""Hostile input to the loader and the command line, case by case (tests/test_fuzz_input.py
finds such cases at random): each is refused in one line naming the file and the field, exit
2, or accepted and run correctly."""

from __future__ import annotations

import io
import json
import math
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import SCENARIOS
from factory import scenario_dict

from ipsecsim import ConfigError, load_scenario
from ipsecsim.cli import main, progress_text
from ipsecsim.config.units import MAX_DURATION, MAX_SIZE, parse_duration, parse_rate, parse_size

BASIC = str(SCENARIOS / "ikev2-basic.yaml")


def write(tmp_path: Path, data: object, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    if isinstance(data, bytes):
        p.write_bytes(data)
    else:
        p.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return p


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def one_error(err: str) -> str:
    lines = [x for x in err.splitlines() if not x.startswith("ipsecsim: warning: ")]
    assert len(lines) == 1 and lines[0].startswith("ipsecsim: error: "), err
    return lines[0]


# --- numbers: one central refusal of NaN, infinity and overflow ---------------------------------

@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "nan", "inf", "1e999", "9" * 400 + "s",
                                   10**400, "1e5s", "5s\n"])
def test_durations_that_are_not_finite_or_not_in_the_grammar_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


def test_the_largest_values_are_stated() -> None:
    assert parse_duration("3650d") == MAX_DURATION
    with pytest.raises(ValueError, match=r"at most 3\.1536e"):
        parse_duration("3651d")
    assert parse_size(MAX_SIZE) == MAX_SIZE
    for bad in ("1e400GB", "9" * 400 + "GB", MAX_SIZE + 1, 1.5, math.nan):
        with pytest.raises(ValueError, match="size"):
            parse_size(bad)
    with pytest.raises(ValueError, match=r"at most 400Gbit/s"):
        parse_rate("1Tbit/s")
    with pytest.raises(ValueError, match="rate"):
        parse_rate(math.inf)


@pytest.mark.parametrize("where,value", [
    ({"link": {"delay": math.nan}}, None), ({"link": {"jitter": math.inf}}, None),
    ({"faults": [{"at": math.nan, "kind": "crash", "peer": "B"}]}, None),
    ({"traffic": [{"kind": "ping", "from": "A", "to": "B", "start": math.nan}]}, None),
    ({"traffic": [{"kind": "ping", "from": "A", "to": "B", "stop": math.inf}]}, None),
    ({"expect": [{"event": "peer_dead", "between": [math.nan, 5]}]}, None),
    ({"peers": {"A": {"dpd": {"delay": math.nan}}}}, None),
    ({"peers": {"A": {"child": {"life_time": math.nan}}}}, None),
    ({"peers": {"A": {"child": {"life_packets": math.inf}}}}, None),
    ({"peers": {"A": {"retransmit": {"base": math.nan}}}}, None),
    ({"peers": {"A": {"retransmit": {"jitter": math.inf}}}}, None),
    ({"link": {"loss": math.nan}}, None),
    ({"seed": 2**64}, None),
], ids=lambda x: json.dumps(x, default=str)[:50] if x else "")
def test_nan_and_infinity_are_refused_in_every_field(where: dict, value: None) -> None:
    d = scenario_dict()
    peers = where.pop("peers", None) if "peers" in where else None
    d.update(where)
    if peers:
        from ipsecsim.config.loader import deep_merge
        d["peers"] = deep_merge(d["peers"], peers)
    with pytest.raises(ConfigError) as e:
        load_scenario(d)
    assert "Traceback" not in str(e.value)


def test_a_nan_duration_on_the_command_line_is_refused_and_json_never_holds_nan(capsys) -> None:  # type: ignore[no-untyped-def]
    for bad in ("nan", "inf", "1e999", "NaN"):
        code, _, err = run(capsys, "run", BASIC, "--duration", bad)
        assert code == 2 and "--duration" in one_error(err)
    code, out, _ = run(capsys, "run", BASIC, "--duration", "30s", "--json")
    assert code == 0 and json.loads(out)["duration"] == 30


# --- Huawei USG volume lifetime: sizes, not durations --------------------------------------------

def test_usg_life_bytes_in_kb_with_a_percentage_rekey() -> None:
    # huawei-usg profile: ipsec sa duration traffic-based 8000-200,000,000 KB (its limits block)
    ok = scenario_dict({"profile": "huawei-usg", "child": {"life_bytes": "8000KB", "rekey_bytes": "90%"}})
    sc = load_scenario(ok)
    assert sc.peers["A"].child.life_bytes == 8_000_000
    low = scenario_dict({"profile": "huawei-usg", "child": {"life_bytes": "7999KB", "rekey_bytes": "90%"}})
    with pytest.raises(ConfigError) as e:
        load_scenario(low)
    assert e.value.path == "peers.A.child.life_bytes" and "7,999,000 bytes is outside the range 8000KB" in str(e.value)


# --- YAML: duplicates, bombs, nesting, encodings -------------------------------------------------

def test_a_duplicate_key_is_refused_naming_it_and_its_lines(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    text = yaml.safe_dump(scenario_dict(), sort_keys=False) + "seed: 7\n"
    p = write(tmp_path, text)
    code, _, err = run(capsys, "run", str(p))
    line = one_error(err)
    assert code == 2 and f"{p}: line {text.count(chr(10))}, column 1: duplicate key 'seed' (first given at line 2)" \
        in line


def test_a_yaml_merge_key_may_be_overridden(tmp_path) -> None:  # type: ignore[no-untyped-def]
    d = scenario_dict()
    text = yaml.safe_dump(d, sort_keys=False).replace("link:", "base: &b {delay: 5ms}\nlink:")
    text = "x-base: &b {delay: 5ms, jitter: 1ms}\n" + yaml.safe_dump({**d, "link": {"delay": "7ms"}}, sort_keys=False)
    text = text.replace("link:\n  delay: 7ms", "link:\n  <<: *b\n  delay: 7ms")
    with pytest.raises(ConfigError, match="unknown key 'x-base'"):  # merging works; the extra key is reported
        load_scenario(write(tmp_path, text))


def test_an_alias_bomb_is_refused_quickly_in_a_short_line(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
    p = write(tmp_path, "\n".join(lines) + "\nname: *i\n")
    assert len(p.read_bytes()) < 400
    start = time.perf_counter()
    code, _, err = run(capsys, "run", str(p))
    assert code == 2 and "alias" in one_error(err) and len(err) < 300
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("data,words", [
    (b"name: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
    (b"name: x\xff\xfe\n", "not UTF-8 text (byte 0xff at offset 7)"),
    (b"\x00\x01\x02binary", "invalid YAML"),
    (b"when: 2020-13-45\n", "invalid YAML value"),
    (b"", "a scenario is a mapping"),
])
def test_garbage_files_are_refused_in_one_line(tmp_path, capsys, data, words) -> None:  # type: ignore[no-untyped-def]
    p = write(tmp_path, data)
    code, _, err = run(capsys, "run", str(p))
    line = one_error(err)
    assert code == 2 and str(p) in line and words in line


def test_a_long_value_is_cut_in_the_error_line(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    p = write(tmp_path, scenario_dict({"start": "x" * 100_000}))
    code, _, err = run(capsys, "run", str(p))
    line = one_error(err)
    assert code == 2 and "peers.A.start" in line and "…" in line and len(line) < 400


# --- suggestions ----------------------------------------------------------------------------------

@pytest.mark.parametrize("a,path,hint", [
    ({"retransmit": {"tiemout": "5s"}}, "peers.A.retransmit.tiemout", "did you mean timeout?"),
    ({"ike": {"proposals": ["aes128-sha265-modp2048"]}}, "peers.A.ike.proposals[0]", "did you mean sha256?"),
    ({"profile": "huawei-clod"}, "peers.A.profile", "did you mean huawei-cloud?"),
    ({"start": "initate"}, "peers.A.start", "did you mean initiate?"),
])
def test_did_you_mean(a, path, hint) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as e:
        load_scenario(scenario_dict(a))
    assert e.value.path == path and hint in e.value.message


# --- event floors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("top,a,path,bound", [
    ({"traffic": [{"kind": "ping", "from": "A", "to": "B", "interval": "0.000000001s"}]}, {},
     "traffic[0].interval", "0.01"),
    ({"traffic": [{"kind": "burst", "from": "A", "to": "B", "rate": "1Gbit/s", "every": "1ms", "length": "0.5ms"}]},
     {}, "traffic[0].every", "0.1"),
    ({}, {"retransmit": {"timeout": 0}}, "peers.A.retransmit.timeout", "0.1"),
    ({}, {"retransmit": {"waits": ["1s", "1ms"]}}, "peers.A.retransmit.waits[1]", "at least 100ms"),
    ({}, {"dpd": {"delay": "10ms"}}, "peers.A.dpd.delay", "at least 1s"),
    ({}, {"nat_keepalive": "0.5s"}, "peers.A.nat_keepalive", "at least 1s"),
])
def test_timers_that_would_multiply_events_state_their_floor(top, a, path, bound) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as e:
        load_scenario(scenario_dict(a, **top))
    assert e.value.path == path and bound in e.value.message


def test_the_floors_run_in_bounded_time() -> None:
    # at the floors, 20 simulated seconds: 2000 pings, a retransmission every 100 ms for ever
    d = scenario_dict({"retransmit": {"timeout": "100ms", "base": 1}, "keyingtries": 0, "dpd": {"delay": "1s"}},
                      {"start": "respond", "ike": {"psk": "other"}},
                      traffic=[{"kind": "ping", "from": "A", "to": "B", "interval": "10ms"}], duration="20s")
    from ipsecsim import simulate
    start = time.perf_counter()
    simulate(load_scenario(d))
    assert time.perf_counter() - start < 60


# --- --duration is the duration everything is checked against -----------------------------------

def test_duration_on_the_command_line_is_the_one_checked(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    d = scenario_dict(duration="7d", faults=[{"at": "9d", "kind": "crash", "peer": "B"},
                                             {"at": "30s", "kind": "crash", "peer": "A"}])
    p = write(tmp_path, d)
    code, _, err = run(capsys, "run", str(p))
    assert code == 2 and "faults[0].at: 777600 s is not before the end of the run (604800 s)" in one_error(err)
    code, out, err = run(capsys, "run", str(p), "--duration", "10d", "--json")
    assert code == 0 and err == "" and json.loads(out)["duration"] == 864000
    code, out, err = run(capsys, "run", str(p), "--duration", "20s")
    assert code == 0
    assert err.splitlines() == [
        f"ipsecsim: warning: {p}: faults[0] (crash at 777600 s) is not before the end of the run (20 s, --duration): "
        "dropped",
        f"ipsecsim: warning: {p}: faults[1] (crash at 30 s) is not before the end of the run (20 s, --duration): "
        "dropped"]
    assert "not simulated: faults[1] (crash at 30 s)" in out


# --- stdin, output paths, check -------------------------------------------------------------------

def test_run_dash_reads_the_scenario_from_stdin(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(Path(BASIC).read_bytes())))
    code, out, _ = run(capsys, "run", "-", "--duration", "30s", "--json")
    assert code == 0 and json.loads(out)["scenario"] == "ikev2-basic"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"name: x\nduration: soon\n")))
    code, _, err = run(capsys, "run", "-")
    assert code == 2 and one_error(err).startswith("ipsecsim: error: <stdin>: duration: expected a duration")


@pytest.mark.parametrize("target", ["dir", "long", "missing-dir"])
def test_odd_output_paths_are_refused_before_the_run(tmp_path, capsys, target) -> None:  # type: ignore[no-untyped-def]
    path = {"dir": str(tmp_path), "long": str(tmp_path / ("x" * 300)), "missing-dir": str(tmp_path / "no" / "e")}
    for argv in (["run", BASIC, "--events", path[target]], ["check", BASIC, "--junit", path[target]]):
        code, _, err = run(capsys, *argv)
        assert code == 2 and ("--events" in one_error(err) or "--junit" in one_error(err))


def test_check_never_writes_its_report_over_a_scenario(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    p = write(tmp_path, Path(BASIC).read_text())
    before = p.read_bytes()
    code, _, err = run(capsys, "check", str(p), "--junit", str(p))
    assert code == 2 and "--junit: " in one_error(err) and p.read_bytes() == before


def test_check_in_parallel_gives_the_same_verdicts_and_a_timeout_is_a_failure(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    files = [str(SCENARIOS / n) for n in ("ikev2-basic.yaml", "ikev2-psk-mismatch.yaml", "rekey-by-time.yaml")]
    code1, out1, _ = run(capsys, "check", *files)
    code2, out2, _ = run(capsys, "check", "-j", "2", *files)
    assert code1 == code2 == 0 and out1 == out2
    code, out, _ = run(capsys, "check", "--timeout", "1ms", files[0])
    assert code == 1 and "did not finish within --timeout 0.001 s" in out


def test_bad_flags_are_one_line(capsys) -> None:  # type: ignore[no-untyped-def]
    for argv in (["run", BASIC, "--bogus"], ["check", BASIC, "-j", "0"], ["check", BASIC, "--timeout", "nan"],
                 ["run", BASIC, "--seed", "9" * 5000]):
        code, _, err = run(capsys, *argv)
        assert code == 2 and len(one_error(err)) < 300, argv


def test_progress_counts_days_on_long_runs() -> None:
    assert progress_text(3600, 7200) == "3,600 of 7,200 s"
    assert progress_text(86400 * 3, 86400 * 7) == "day 3.0 of 7.0"
