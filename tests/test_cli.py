"""The command line contract of DESIGN.md: run, --json, --events, --seed, schema."""

import json

import jsonschema
import pytest
import yaml
from conftest import SCENARIOS

from ipsecsim.cli import main

BASIC = str(SCENARIOS / "ikev2-basic.yaml")


def test_run_prints_a_timeline_with_the_negotiation_and_the_final_state(capsys):
    assert main(["run", BASIC]) == 0
    out = capsys.readouterr().out
    assert "A → B  IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) ]" in out
    assert "B → A  IKE_AUTH response 1 [ IDr AUTH SA TSi TSr ]" in out
    final = out.split("Final state")[1].splitlines()
    assert any(x.startswith("  A: ipsec_sa_established") for x in final)
    assert any(x.startswith("  B: ipsec_sa_established") for x in final)


def test_json_puts_only_the_summary_on_stdout(capsys):
    assert main(["run", BASIC, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["scenario"] == "ikev2-basic" and summary["seed"] == 1 and summary["duration"] == 60
    assert {p["status"] for p in summary["peers"].values()} == {"ipsec_sa_established"}
    assert summary["peers"]["A"]["messages"] == {"sent": 2, "received": 2, "retransmitted": 0, "lost": 0}


def test_events_file_is_jsonl_with_t_peer_event(tmp_path, capsys):
    path = tmp_path / "events.jsonl"
    assert main(["run", BASIC, "--json", "--events", str(path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    lines = path.read_text().splitlines()
    events = [json.loads(x) for x in lines]
    assert len(events) == summary["events"]
    assert all(list(e)[:3] == ["t", "peer", "event"] for e in events)
    assert [e["event"] for e in events if e["peer"] == "A"][:2] == ["message_sent", "message_received"]
    assert sorted(e["t"] for e in events) == [e["t"] for e in events]


def test_seed_override_changes_the_randomness_not_the_outcome(tmp_path, capsys):
    main(["run", BASIC, "--json", "--seed", "99"])
    s99 = json.loads(capsys.readouterr().out)
    main(["run", BASIC, "--json"])
    s1 = json.loads(capsys.readouterr().out)
    assert s99["seed"] == 99 and s1["seed"] == 1
    assert s99["peers"]["A"]["ike_sas"][0]["spi_i"] != s1["peers"]["A"]["ike_sas"][0]["spi_i"]
    assert s99["peers"]["A"]["status"] == s1["peers"]["A"]["status"]


def test_duration_override(capsys):
    main(["run", BASIC, "--json", "--duration", "10ms"])
    s = json.loads(capsys.readouterr().out)
    assert s["duration"] == 0.01 and s["peers"]["A"]["status"] == "ike_sa_not_established"


def test_schema_is_a_json_schema_that_accepts_every_shipped_scenario(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted(SCENARIOS.glob("*.yaml")):
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert not errors, f"{path.name}: {errors[0].message}"
    bad = {"name": "x", "duration": "1m", "peers": {}, "bogus": 1}
    assert list(validator.iter_errors(bad))


def test_profiles_list_and_show(capsys):
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    assert "strongswan" in out and "huawei-cloud" in out
    assert main(["profiles", "show", "strongswan"]) == 0
    out = capsys.readouterr().out
    assert "retransmit.timeout" in out and "docs.strongswan.org" in out


@pytest.mark.parametrize("argv", [["profiles", "show", "nope"], ["profiles", "show"]])
def test_profiles_bad_name(capsys, argv):
    assert main(argv) == 2
    assert "available:" in capsys.readouterr().err


@pytest.mark.parametrize("flag,value,words", [
    ("--duration", "0", "the simulated time must be greater than 0"),
    ("--duration", "-5s", "duration"),
    ("--seed", "-3", "a seed is a whole number 0 or greater"),
    ("--seed", "x", "a seed is a whole number 0 or greater"),
])
def test_bad_run_flags_exit_2_with_the_flag_named(capsys, flag, value, words):
    with pytest.raises(SystemExit) as e:
        main(["run", BASIC, flag, value])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}" in err and words in err and "Traceback" not in err


def test_an_output_never_overwrites_the_scenario_or_another_output(tmp_path, capsys):
    scenario = tmp_path / "s.yaml"
    scenario.write_text((SCENARIOS / "ikev2-basic.yaml").read_text())
    before = scenario.read_text()
    assert main(["run", str(scenario), "--events", str(scenario)]) == 2
    assert "--events: " in capsys.readouterr().err and scenario.read_text() == before
    same = str(tmp_path / "out")
    assert main(["run", str(scenario), "--pcap", same, "--keys", same]) == 2
    assert f"--keys: {same} is also --pcap" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_events_to_stdout(capsys):
    assert main(["run", BASIC, "--events", "-"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert json.loads(lines[0])["event"] == "message_sent" and all(json.loads(x) for x in lines)
    assert main(["run", BASIC, "--events", "-", "--json"]) == 2


def _timeline_times(out: str) -> list[str]:
    return [line.split()[0] for line in out.split("\n\n")[1].splitlines() if line.strip()]


def test_timeline_keeps_one_time_format_for_a_long_run(capsys):
    """A run of 10,000 s or more shows every line as days and clock time, from the first."""
    assert main(["run", BASIC, "--duration", "3h"]) == 0
    times = _timeline_times(capsys.readouterr().out)
    # ikev2-basic's first line: A's IKE_SA_INIT at 7.1 ms, once it has made its key (docs/cpu.md)
    assert times[0] == "0d00:00:00.007" and all(t[1] == "d" for t in times)
    assert main(["run", BASIC]) == 0
    assert _timeline_times(capsys.readouterr().out)[0] == "0.007"


def test_a_drop_interval_is_shown_where_it_began(capsys):
    """unilateral-tunnel-no-dpd: the link is down from 60 s; the first vpc-job ping it loses
    (62 s) opens a drop interval reported when it closes, shown in the timeline at 62 s."""
    assert main(["run", str(SCENARIOS / "unilateral-tunnel-no-dpd.yaml")]) == 0
    lines = [x for x in capsys.readouterr().out.split("\n\n")[1].splitlines() if x.strip()]
    drop = next(x for x in lines if "vpc-job dropped (link_down)" in x)
    assert drop.split()[0] == "62.000"
    times = [float(x.split()[0]) for x in lines]
    assert times == sorted(times)


def test_fault_lines_say_what_the_fault_does(capsys):
    assert main(["run", str(SCENARIOS / "one-side-config-change.yaml")]) == 0
    out = capsys.readouterr().out
    assert "⚡ fault reconfigure (ike.psk: new-secret)" in out
    assert "⚡ fault link_down (for 120 s)" in out
    assert main(["run", str(SCENARIOS / "isp-jitter-false-positive.yaml")]) == 0
    assert "⚡ fault loss (Gilbert-Elliott: bursts of 3 s after 60 s without on average, 100% lost in a burst)" \
        in capsys.readouterr().out


def test_scenarios_lists_the_library_from_any_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["scenarios"]) == 0
    assert "ikev2-basic" in capsys.readouterr().out
    assert main(["scenarios", str(tmp_path)]) == 2
    assert "no scenario files (*.yaml) in this directory" in capsys.readouterr().err


def test_final_state_uses_the_huawei_vocabulary_only_for_huawei_peers(capsys):
    assert main(["run", BASIC]) == 0
    assert "Huawei Cloud:" not in capsys.readouterr().out  # two strongSwan peers
    assert main(["run", str(SCENARIOS / "huawei-dpd-detects-crash.yaml")]) == 0
    final = capsys.readouterr().out.split("Final state")[1]
    assert "(Huawei Cloud: " in final


def test_lost_health_check_probes_are_not_called_traffic(capsys):
    """nqa-detects-broken-tunnel: the branch's probes through the tunnel are lost with the ESP
    from 60 s; the timeline names them as probes (the traffic summary leaves them out)."""
    assert main(["run", str(SCENARIOS / "nqa-detects-broken-tunnel.yaml")]) == 0
    out = capsys.readouterr().out
    assert "✗ health-check probes of branch dropped (loss)" in out and "traffic nqa:" not in out
