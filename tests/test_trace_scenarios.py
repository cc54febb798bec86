"""The shipped IKEv2 scenarios as packets: tshark dissects every frame without a malformed
one and, with the keys file, decrypts and verifies every Encrypted (SK) payload.

tshark is required (ipsecsim verify runs it): without it these tests fail, they never skip.
"""

from __future__ import annotations

import shutil

import pytest
from conftest import ROOT, SCENARIOS
from tracehelp import run_with_trace, verify_trace

from ipsecsim.cli import main
from ipsecsim.proto.ikev2.message import Message

IKEV2_SCENARIOS = sorted(SCENARIOS.glob("ikev2-*.yaml"))


def test_tshark_is_installed() -> None:
    assert shutil.which("tshark"), "tshark is required for the packet tests: apt-get install tshark"


def test_there_are_scenarios_to_check() -> None:
    assert len(IKEV2_SCENARIOS) >= 8


@pytest.mark.parametrize("path", IKEV2_SCENARIOS, ids=lambda p: p.stem)
def test_scenario_trace_decrypts_completely(tmp_path, path) -> None:
    result, pcap, keys, _ = run_with_trace(tmp_path, path)
    check = verify_trace(pcap, keys)
    assert check.rc == 0, check.out
    # Every datagram sent is one frame (captured at its sender, lost ones included).
    assert check.report.frames == len(result.transmissions)
    # RFC 7296 1.2 / 3.14: every message after IKE_SA_INIT travels in an SK payload.
    encrypted = sum(1 for tx in result.transmissions if isinstance(tx.dgram.message, Message)
                    and tx.dgram.message.encrypted)
    assert check.count("IKEv2 SK") == (encrypted, encrypted)
    assert check.protocols().get("isakmp(IKEv2)") == len(result.transmissions)


def test_trace_without_keys_has_no_malformed_frame(tmp_path) -> None:
    _, pcap, _, _ = run_with_trace(tmp_path, SCENARIOS / "ikev2-lossy-link.yaml")
    check = verify_trace(pcap)
    assert check.rc == 0, check.out


def test_cli_writes_pcap_and_keys(tmp_path, capsys) -> None:
    pcap, keys = tmp_path / "basic.pcap", tmp_path / "basic.keys.json"
    rc = main(["run", str(SCENARIOS / "ikev2-basic.yaml"), "--json", "--pcap", str(pcap), "--keys", str(keys)])
    assert rc == 0
    captured = capsys.readouterr()
    assert captured.out.lstrip().startswith("{")  # --json keeps stdout pure JSON
    assert f"pcap: 4 packets (4 IKE) -> {pcap}" in captured.err
    assert f"keys: 1 IKEv2 SA, 2 ESP SAs -> {keys}" in captured.err
    check = verify_trace(pcap, keys)
    assert check.rc == 0 and check.count("IKEv2 SK") == (2, 2), check.out


def test_runs_without_a_trace_never_load_scapy(tmp_path) -> None:
    """Fleet runs must not pay for packet encoding: scapy is imported only to write a trace."""
    import subprocess
    import sys
    code = ("import sys; from ipsecsim.config.loader import load_scenario; from ipsecsim.sim.runner import simulate;"
            f"simulate(load_scenario({str(SCENARIOS / 'ikev2-basic.yaml')!r}));"
            "print(any(m == 'scapy' or m.startswith('scapy.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "False"
