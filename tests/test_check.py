"""`ipsecsim check` and `expect:` blocks: verdicts, readable diffs, exit codes, JUnit XML.

Expected times come from the documents, not from the program: strongSwan's retransmission
schedule (docs.strongswan.org "Retransmission": 4 s x 1.8^(n-1), 5 tries, gives up at
4 x (1.8^6 - 1) / 0.8 = 165.06112 s) and RFC 7296 message counts.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, SCENARIOS
from factory import STRONGSWAN_GIVE_UP, scenario_dict

from ipsecsim import ConfigError, load_scenario, simulate
from ipsecsim.check.junit import junit_xml
from ipsecsim.check.runner import check_paths
from ipsecsim.cli import main

GIVE_UP = STRONGSWAN_GIVE_UP  # strongSwan defaults, whole-ms waits: 165.060 s


def write(tmp_path: Path, data: dict[str, Any], name: str = "s.yaml") -> str:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(p)


def no_responder(expect: list[dict[str, Any]]) -> dict[str, Any]:
    return scenario_dict(name="no-responder", duration=300, faults=[{"at": 0, "kind": "freeze", "peer": "B"}],
                         expect=expect)


def test_shipped_scenarios_pass_check_from_the_command_line() -> None:
    """The scenario library is a regression suite: `ipsecsim check scenarios/` exits 0."""
    proc = subprocess.run([sys.executable, "-m", "ipsecsim", "check", "scenarios/"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAIL" not in proc.stdout and "ERROR" not in proc.stdout


def test_every_shipped_scenario_has_expectations() -> None:
    for path in sorted(SCENARIOS.glob("*.yaml")):
        assert load_scenario(path).config.expect, f"{path.name} has no expect: block"


def test_design_example_form_loads() -> None:
    """DESIGN.md's `{event: peer_dead, peer: A, between: [26s, 28s]}` parses with units."""
    entry = {"event": "peer_dead", "peer": "A", "between": ["26s", "28s"]}
    e = load_scenario(scenario_dict(expect=[entry])).config.expect[0]
    assert (e.event, e.peer, e.between) == ("peer_dead", "A", (26.0, 28.0))
    with pytest.raises(ConfigError, match=r"expect\[0\]: unknown event 'peer_died'"):
        load_scenario(scenario_dict(expect=[{**entry, "event": "peer_died"}]))


def test_counts_windows_and_fields_on_the_strongswan_schedule() -> None:
    result = simulate(load_scenario(no_responder([])))
    report = result.check([
        {"event": "message_sent", "peer": "A", "count": 6},                       # 1 + retransmit_tries 5
        {"event": "message_sent", "peer": "A", "at_least": 6, "at_most": 6},
        {"event": "message_sent", "peer": "A", "after": "11.2s", "count": 4},     # 11.2, 24.16, 47.488, 89.4784
        {"event": "message_sent", "peer": "A", "before": "11.2s", "count": 3},    # 0, 4, 11.2 (inclusive)
        {"event": "retransmit_gave_up", "peer": "A", "transmissions": 6,
         "between": [f"{GIVE_UP - 0.001}s", f"{GIVE_UP + 0.001}s"]},
        {"event": "retransmit_gave_up", "where": {"exchange": "IKE_SA_INIT"}},
        {"event": "ike_sa_established", "never": True},
        {"event": "message_sent", "peer": "B", "count": 0},
        {"status": {"A": "ike_sa_not_established", "B": "ike_sa_not_established"}},
        {"summary": {"path": "peers.A.messages.retransmitted", "equals": 5, "min": 5, "max": "5"}},
        {"summary": {"path": "peers.A.first_ike_sa_established_at", "equals": None}},
    ])
    assert report.passed, report.text()
    failing = result.check([
        {"event": "message_sent", "peer": "A", "at_most": 5},
        {"event": "message_sent", "peer": "A", "count": 7},
        {"event": "retransmit_gave_up", "peer": "A", "before": "165s"},
        {"status": {"A": "ipsec_sa_established"}},
        {"summary": {"path": "peers.A.messages.retransmitted", "max": 3}},
    ])
    assert [v.outcome for v in failing] == ["fail"] * 5


def test_a_missed_window_says_by_how_much() -> None:
    result = simulate(load_scenario(no_responder([])))
    [v] = result.check([{"event": "retransmit_gave_up", "peer": "A", "between": ["160s", "165s"]}])
    assert not v.passed
    assert v.observed == "0 matching events"
    # 165.060 s - 165 s = 60 ms
    assert "outside the window: 165.06s A retransmit_gave_up" in v.details[0]
    assert "(60ms late)" in v.details[0]


def test_nearest_miss_shows_the_other_field_value() -> None:
    """PSK mismatch: the responder says AUTHENTICATION_FAILED (RFC 7296 2.15), not NO_PROPOSAL_CHOSEN."""
    result = simulate(load_scenario(SCENARIOS / "ikev2-psk-mismatch.yaml"))
    [v] = result.check([{"event": "negotiation_failed", "peer": "B", "notify": "NO_PROPOSAL_CHOSEN"}])
    assert "notify=AUTHENTICATION_FAILED (expected NO_PROPOSAL_CHOSEN)" in v.details[0]
    [v] = result.check([{"event": "ike_sa_established", "peer": "A"}])
    assert v.details == ("no ike_sa_established event at any peer in this run",)


def test_check_prints_the_diff_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ok = write(tmp_path, no_responder([{"event": "retransmit_gave_up", "peer": "A"}]), "a-ok.yaml")
    bad = write(tmp_path, no_responder([{"event": "retransmit_gave_up", "peer": "A", "before": "100s"},
                                        {"event": "message_sent", "peer": "A", "count": 6}]), "b-bad.yaml")
    assert main(["check", ok, bad]) == 1
    out = capsys.readouterr().out
    assert re.search(r"PASS\s+.*a-ok.yaml", out)
    assert re.search(r"FAIL\s+.*b-bad.yaml.*1 of 2 expectations not met", out)
    assert "✗ expect[0]: retransmit_gave_up at A by 100s: at least once" in out
    assert "(65.06s late)" in out
    assert "expect[1]" not in out  # met expectations are listed only with -v
    assert "2 scenarios: 1 passed, 1 failed (2 of 3 expectations met)" in out
    assert main(["check", "-v", bad]) == 1
    assert "✓ expect[1]: message_sent at A: exactly 6 times" in capsys.readouterr().out


def test_directories_are_searched_and_bad_files_give_exit_2(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path, no_responder([{"event": "retransmit_gave_up"}]), "sub/ok.yml")
    write(tmp_path, no_responder([{"event": "peer_ded"}]), "typo.yaml")
    assert main(["check", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert "ok.yml" in out and "PASS" in out
    assert "typo.yaml: expect[0]: unknown event 'peer_ded'" in out
    assert main(["check", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml: no such file or directory" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert main(["check", str(tmp_path / "empty")]) == 2


@pytest.mark.parametrize("entry, message", [
    ({"event": "negotiation_failed", "notfy": "AUTHENTICATION_FAILED"}, "unknown key 'notfy'; did you mean notify?"),
    ({"event": "negotiation_failed", "notify": "AUTH_FAILED"},
     "'AUTH_FAILED' is not a value of negotiation_failed.notify; did you mean AUTHENTICATION_FAILED?"),
    ({"event": "negotiation_failed", "phase": "phase1"}, "'phase1' is not a value of negotiation_failed.phase"),
    ({"event": "ike_sa_established", "peer": "C"}, "expect[0].peer: 'C' is not a peer of this scenario"),
    ({"event": "ike_sa_established", "between": ["30s", "20s"]}, "between [30s, 20s] ends before it starts"),
    ({"event": "ike_sa_established", "between": ["3 parsecs", "20s"]}, "expect[0].between[0]: expected a duration"),
    ({"event": "ike_sa_established", "never": True, "at_least": 1}, "never: true cannot be combined"),
    ({"event": "ike_sa_established", "count": 1, "at_most": 2}, "count is exact"),
    ({"event": "ike_sa_established", "at_least": 3, "at_most": 2}, "at_least 3 is greater than at_most 2"),
    ({"status": {"A": "up"}}, "status of A: 'up' is not a status"),
    ({"status": {"A": "ike_sa_established"}, "peer": "A"}, "peer: only allowed with event:"),
    ({"summary": {"path": "peers.A.messages.sent"}}, "needs min, max or equals"),
    ({"summary": {"path": "peers.X.messages.sent", "max": 1}}, "expect[0].summary.path: 'X' is not a peer"),
    ({"summary": {"path": "peers.A.messages.sent", "maximum": 1}}, "unknown key 'maximum'; allowed: path, min, max"),
    ({"betwen": [1, 2]}, "needs exactly one of event, status, summary; got none (got keys: betwen; did you mean"),
    ({"event": "ike_sa_established", "status": {"A": "ike_sa_established"}}, "got event, status"),
])
def test_bad_expectations_name_file_entry_and_allowed_values(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             entry: dict[str, Any], message: str) -> None:
    path = write(tmp_path, scenario_dict(expect=[entry]))
    assert main(["check", path]) == 2
    out = capsys.readouterr().out
    assert f"{path}: expect[0]" in out
    assert message in out
    assert main(["run", path]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_summary_path_that_does_not_exist_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A mistyped path (traffic lives at the top of the summary, not under a peer) is bad input."""
    path = write(tmp_path, scenario_dict(expect=[{"summary": {"path": "peers.A.traffic.outage_total",
                                                              "max": "30s"}}]))
    assert main(["check", path]) == 2
    out = capsys.readouterr().out
    assert "no key 'traffic' under peers.A (keys there: status, vendor_status, down, profile" in out


def test_junit_groups_testcases_per_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, no_responder([{"event": "retransmit_gave_up", "peer": "A"},
                                         {"event": "retransmit_gave_up", "peer": "A", "before": "100s"}]), "g.yaml")
    broken = write(tmp_path, {"name": "broken"}, "broken.yaml")
    empty = write(tmp_path, scenario_dict(name="empty"), "empty.yaml")
    junit = tmp_path / "out.xml"
    junit.write_text("the report of the last good run\n")
    # bad input (exit 2): the report of the last run a user has is kept, and the line says why
    assert main(["check", good, broken, empty, "--junit", str(junit), "--seed", "9"]) == 2
    assert junit.read_text() == "the report of the last good run\n"
    assert "--junit: " + str(junit) + " not written" in capsys.readouterr().err
    root = ET.fromstring(junit_xml(list(check_paths([good, broken, empty], seed=9, simulate=simulate,
                                                    load=load_scenario))))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("4", "1", "1", "1")
    suites = root.findall("testsuite")
    assert [s.get("file") for s in suites] == [good, broken, empty]
    first = suites[0]
    assert first.get("name") == "no-responder"
    assert first.find("properties/property[@name='seed']").get("value") == "9"  # type: ignore[union-attr]
    cases = first.findall("testcase")
    assert [c.find("failure") is None for c in cases] == [True, False]
    failure = cases[1].find("failure")
    assert failure is not None and "late" in (failure.text or "")
    assert suites[1].find("testcase/error") is not None
    assert suites[2].find("testcase/skipped") is not None


def test_junit_flag_checks_the_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(SCENARIOS / "ikev2-basic.yaml"), "--junit", "/nonexistent/dir/x.xml"]) == 2
    assert "--junit: cannot write" in capsys.readouterr().err


def test_seed_override_changes_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(SCENARIOS / "ikev2-basic.yaml"), "--seed", "5"]) == 0
    assert "ikev2-basic, seed 5" in capsys.readouterr().out


def test_run_shows_the_verdict_and_json_carries_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json
    path = write(tmp_path, no_responder([{"event": "retransmit_gave_up", "peer": "A", "before": "100s"}]))
    assert main(["run", path]) == 0  # run reports; check is the command whose status says it
    out = capsys.readouterr().out
    assert "Expectations: 0 of 1 met" in out
    assert "✗ expect[0]: retransmit_gave_up at A by 100s" in out
    assert main(["run", path, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    [v] = data["expectations"]
    assert v["outcome"] == "fail" and v["expect"] == {"event": "retransmit_gave_up", "peer": "A", "before": 100.0}
    assert main(["run", str(SCENARIOS / "ikev2-basic.yaml"), "--json"]) == 0
    assert all(v["passed"] for v in json.loads(capsys.readouterr().out)["expectations"])


def test_expectations_do_not_change_the_run() -> None:
    """Expectations only read the result: the events are the same with and without them."""
    plain = load_scenario(SCENARIOS / "ikev2-lossy-link.yaml")
    raw = copy.deepcopy(plain.raw)
    assert raw is not None
    raw.pop("expect")
    a = [e.to_dict() for e in simulate(plain).events]
    b = [e.to_dict() for e in simulate(load_scenario(raw)).events]
    assert a == b
