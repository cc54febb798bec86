"""ipsecsim report (the HTML file itself), ipsecsim explain, the timeline filters and the one
time format of a run's output. The report in a browser: test_report_browser.py."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from ipsecsim.cli import main
from ipsecsim.config.loader import load_scenario
from ipsecsim.report.explain import narrate
from ipsecsim.report.html import render
from ipsecsim.report.model import build
from ipsecsim.sim.runner import simulate
from ipsecsim.trace.timefmt import TimeFormat, parse_time

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
REPORTS = ROOT / "docs" / "reports"
TEACHING = [*sorted(p.stem for p in SCENARIOS.glob("teach-*.yaml")), "ikev2-basic", "ikev1-main-mode",
            "ikev2-wireshark-walkthrough"]


@pytest.fixture(scope="module")
def basic():  # type: ignore[no-untyped-def]
    return simulate(load_scenario(str(SCENARIOS / "ikev2-basic.yaml")))


def _data(page: str) -> dict:  # type: ignore[type-arg]
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert m is not None
    return json.loads(m.group(1))


def test_the_report_references_nothing_outside_itself(basic) -> None:
    page = render(build(basic))
    lowered = page.lower()
    assert "http:" not in lowered and "https:" not in lowered and "//" + "cdn" not in lowered
    assert not re.search(r"\bsrc\s*=", lowered), "no script, image or frame loaded from a file"
    assert not re.search(r"<link\b", lowered) and "@import" not in lowered and "url(" not in lowered
    # the page forbids every request itself (Content-Security-Policy default-src 'none')
    assert "default-src 'none'" in page


def test_the_report_carries_the_decoded_messages_and_keys(basic) -> None:
    data = _data(render(build(basic)))
    assert len(data["messages"]) == len(basic.transmissions) == 4  # IKE_SA_INIT and IKE_AUTH (RFC 7296 1.2)
    first = json.dumps(data["details"]["0"])
    assert "DH group 14" in first  # modp2048 is group 14 (RFC 3526 section 3)
    auth = data["details"]["2"]
    labels = [n[0] for n in auth]
    assert any(label.startswith("SK {") for label in labels)  # IKE_AUTH is encrypted (RFC 7296 1.2, 3.14)
    keys = next(n for n in auth if n[0] == "keys")
    # the SK_ei of the report is the one of the run's key records (what Wireshark decrypts with)
    from ipsecsim.trace.keyfile import build as keys_doc
    sk_ei = next(k for k in keys[2] if k[0] == "SK_ei")[1]
    assert sk_ei == keys_doc(basic)["ikev2"][0]["sk_ei"]


def test_same_seed_same_bytes(basic) -> None:
    again = simulate(load_scenario(str(SCENARIOS / "ikev2-basic.yaml")))
    assert render(build(basic)) == render(build(again))


@pytest.mark.parametrize("name", TEACHING)
def test_the_shipped_reports_are_regenerated_identically(name: str) -> None:
    """docs/reports/NAME.html is what `ipsecsim report scenarios/NAME.yaml -o docs/reports/NAME.html` writes."""
    shipped = REPORTS / f"{name}.html"
    assert shipped.is_file(), f"missing {shipped}: run ipsecsim report scenarios/{name}.yaml -o {shipped}"
    made = render(build(simulate(load_scenario(str(SCENARIOS / f"{name}.yaml")))))
    assert made == shipped.read_text(encoding="utf-8"), f"regenerate {shipped}"
    assert f"docs/reports/{name}.html" in (ROOT / "README.md").read_text()


def test_report_from_an_events_file(tmp_path, capsys) -> None:
    events = tmp_path / "run.jsonl"
    assert main(["run", str(SCENARIOS / "ikev2-basic.yaml"), "--events", str(events)]) == 0
    out = tmp_path / "run.html"
    assert main(["report", "--events-file", str(events), "-o", str(out)]) == 0
    data = _data(out.read_text())
    assert [(m["ex"], m["resp"]) for m in data["messages"]] == [("IKE_SA_INIT", False), ("IKE_SA_INIT", True),
                                                                ("IKE_AUTH", False), ("IKE_AUTH", True)]
    assert data["details"] == {}


def test_report_bad_input_is_one_line(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"t": 0, "peer": "A", "event": "x"}\nnot json\n')
    assert main(["report", "--events-file", str(bad), "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "line 2" in err[0] and str(bad) in err[0]
    scenario = SCENARIOS / "ikev2-basic.yaml"
    assert main(["report", str(scenario), "-o", str(scenario)]) == 2  # never overwrites its input
    assert main(["report", "-o", str(tmp_path / "r.html")]) == 2


def test_explain_cites_the_rfcs_and_names_timers(capsys) -> None:
    result = simulate(load_scenario(str(SCENARIOS / "teach-ikev2-create-child-sa.yaml")))
    from rich.console import Console
    console = Console(file=io.StringIO(), width=200, highlight=False)
    narrate(result, console)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "RFC 7296 1.2" in text  # IKE_SA_INIT / IKE_AUTH
    assert "RFC 7296 1.3.3" in text  # CHILD SA rekey with N(REKEY_SA)
    assert "RFC 7296 1.3.2" in text  # IKE SA rekey
    assert "RFC 7296 1.4.1" in text  # delete in INFORMATIONAL
    assert "RFC 4303" in text  # the CHILD SA is ESP
    assert "soft lifetime" in text and "(2m" not in text  # the timer that fired, in words


def test_explain_v1_cites_rfc_2409_and_3706(capsys) -> None:
    assert main(["explain", str(SCENARIOS / "teach-ikev1-informational.yaml")]) == 0
    out = capsys.readouterr().out
    assert "RFC 2409 5" in out and "RFC 2409 5.5" in out and "RFC 3706" in out


def test_explain_step_waits_for_enter(monkeypatch, capsys) -> None:
    """--step: one line of input per step; 'q' stops."""
    monkeypatch.setattr("sys.stdin", io.StringIO("\n\nq\n"))
    assert main(["explain", str(SCENARIOS / "ikev2-basic.yaml"), "--step"]) == 0
    out = capsys.readouterr().out
    assert re.findall(r"Step (\d+) of", out) == ["1", "2", "3"]
    assert "stopped at step 3 of" in out and "Final state" not in out


def test_time_format_is_chosen_by_the_run_length() -> None:
    assert TimeFormat.for_run(60).at(125.02) == "125.020"
    long = TimeFormat.for_run(30 * 86400)
    assert long.at(2 * 86400 + 3 * 3600 + 4 * 60 + 5.678) == "2d03:04:05.678"
    assert long.span(30 * 86400) == "30d00:00:00.000"
    # what the timeline prints parses back, as do durations
    assert parse_time("2d03:04:05.678") == pytest.approx(183845.678)
    assert parse_time("01:30") == 5400 and parse_time("90s") == 90 and parse_time("125.020") == pytest.approx(125.02)
    with pytest.raises(ValueError):
        parse_time("1d25:99:00")


def test_a_long_run_writes_one_time_format(capsys) -> None:
    assert main(["run", str(SCENARIOS / "ikev2-basic.yaml"), "--duration", "12h", "--event", "child"]) == 0
    out = capsys.readouterr().out
    assert "0d12:00:00.000 simulated" in out and "Final state at 0d12:00:00.000" in out
    stamps = [line.split()[0] for line in out.splitlines() if re.match(r"^\s*\d+d\d\d:", line)]
    assert stamps and all(re.fullmatch(r"\d+d\d\d:\d\d:\d\d\.\d{3}", s) for s in stamps)
    assert not re.search(r"\b\d+\.\d{3} s\b", out)  # no line in raw seconds


def test_filters_choose_timeline_lines(capsys) -> None:
    scenario = str(SCENARIOS / "teach-ikev2-create-child-sa.yaml")
    assert main(["run", scenario, "--event", "child", "--peer", "A", "--since", "100s", "--until", "250"]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if re.match(r"^\s+\d+\.\d{3}  ", x)]
    times = [float(x.split()[0]) for x in lines]
    assert lines and all(100 <= t <= 250 for t in times)
    assert all(x.split()[1] == "A" for x in lines)
    # soft lifetime at 120.02 s and 240.03 s, each followed by the rekey and the old SA's deletion 5 s later
    assert sum("CHILD SA rekeyed" in x for x in lines) == 2
    assert not any("→" in x.split("  ")[2] for x in lines if len(x.split("  ")) > 2 and "IKE_" in x)
    assert main(["run", scenario, "--summary"]) == 0
    out = capsys.readouterr().out
    assert "Final state" in out and "Traffic" in out and "IKE_SA_INIT" not in out


def test_filter_bad_values_exit_2(capsys) -> None:
    scenario = str(SCENARIOS / "ikev2-basic.yaml")
    assert main(["run", scenario, "--peer", "C"]) == 2
    err = capsys.readouterr().err
    assert "--peer" in err and "A, B" in err
    with pytest.raises(SystemExit) as e:
        main(["run", scenario, "--event", "ikev3"])
    assert e.value.code == 2
    with pytest.raises(SystemExit):
        main(["run", scenario, "--since", "yesterday"])
    assert main(["run", scenario, "--json", "--summary"]) == 2
