"""Helpers for packet-trace tests: write a run's trace, check it with tshark (``ipsecsim verify``).

tshark is required: without it ``verify`` reports bad input and the tests fail (CI installs the
Debian package ``tshark``); they never skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ipsecsim.config.loader import load_scenario
from ipsecsim.result import Result
from ipsecsim.sim.runner import simulate
from ipsecsim.trace import wireshark
from ipsecsim.trace.frames import FrameSource
from ipsecsim.trace.options import TraceOptions
from ipsecsim.trace.packets import write_trace
from ipsecsim.trace.verify import Report, verify

NAMES = {"ESP": "esp", "IKEv2 SK": "ikev2", "IKEv1 encrypted": "ikev1"}


@dataclass
class Check:
    """``ipsecsim verify``'s report on a trace, with the exit status the command would give."""

    report: Report

    @property
    def rc(self) -> int:
        return self.report.status

    @property
    def out(self) -> str:
        return "\n".join(self.report.lines())

    def count(self, what: str) -> tuple[int, int]:
        """(decrypted and verified, packets) for 'ESP', 'IKEv2 SK' or 'IKEv1 encrypted'."""
        t = self.report.tallies[NAMES[what]]
        return t.verified, t.packets

    def protocols(self) -> dict[str, int]:
        return dict(self.report.protocols)

    def failed_frames(self) -> set[int]:
        return {o.frame for o in self.report.failures}

    def expected_frames(self) -> set[int]:
        return {o.frame for o in self.report.expected}


def verify_trace(pcap: Path, keys: Path | None = None) -> Check:
    return Check(verify(pcap, keys))


def run_with_trace(tmp: Path, source: Any, sources: Sequence[FrameSource] | None = None, name: str = "t",
                   **trace: Any) -> tuple[Result, Path, Path, dict[str, Any]]:
    """Simulate a scenario (file or dict) and write its pcap and keys into ``tmp``."""
    sc = load_scenario(source)
    result = simulate(sc)
    pcap, keys = tmp / f"{name}.pcapng", tmp / f"{name}.keys.json"
    opts = TraceOptions.build(sc.config.trace, pcap, keys)
    if trace:
        from dataclasses import replace
        opts = replace(opts, **trace)
    write_trace(result, opts, sources)
    return result, pcap, keys, json.loads(keys.read_text())


def tshark_fields(pcap: Path, keys: Path, fields: Sequence[str], options: Sequence[str] = (),
                  display_filter: str | None = None) -> list[list[str]]:
    """One row per frame of ``fields`` as tshark shows them with the keys file's Wireshark tables
    (``trace.wireshark``), e.g. inner and outer ``ip.src`` of a decrypted ESP packet
    comma-separated."""
    cmd = ["tshark", "-n", "-r", str(pcap), "-T", "fields", "-E", "occurrence=a", "-E", "separator=/t"]
    for o in options:  # tshark preferences, e.g. "tcp.check_checksum:TRUE"
        cmd += ["-o", o]
    if display_filter:
        cmd += ["-Y", display_filter]
    for f in fields:
        cmd += ["-e", f]
    with tempfile.TemporaryDirectory() as cfg:
        wireshark.write_profile(cfg, wireshark.check_keys(json.loads(keys.read_text())))
        out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                             env={**os.environ, "WIRESHARK_CONFIG_DIR": cfg}).stdout
    return [line.split("\t") for line in out.splitlines()]
