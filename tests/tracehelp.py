"""Helpers for packet-trace tests: write a run's trace, check it with tshark via pcapcheck.

tshark is required: without it ``pcapcheck`` fails and so do the tests (CI installs the
Debian package ``tshark``); they never skip.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import SHARED

from ipsecsim.config.loader import load_scenario
from ipsecsim.result import Result
from ipsecsim.sim.runner import simulate
from ipsecsim.trace.frames import FrameSource
from ipsecsim.trace.options import TraceOptions
from ipsecsim.trace.packets import write_trace

PCAPCHECK = SHARED / "tools" / "pcapcheck"


@dataclass
class Check:
    rc: int
    out: str

    def count(self, what: str) -> tuple[int, int]:
        """(decrypted, seen) for 'ESP', 'IKEv2 SK' or 'IKEv1 encrypted' from the summary line."""
        m = re.search(rf"{re.escape(what)} (\d+)/(\d+)", self.out)
        assert m, self.out
        return int(m.group(1)), int(m.group(2))

    def protocols(self) -> dict[str, int]:
        return {m.group(1): int(m.group(2)) for m in re.finditer(r"^  (\S+)\s+(\d+)$", self.out, re.M)}


def pcapcheck(pcap: Path, keys: Path | None = None) -> Check:
    cmd = [sys.executable, str(PCAPCHECK), str(pcap)] + (["--keys", str(keys)] if keys else [])
    res = subprocess.run(cmd, capture_output=True, text=True)
    return Check(res.returncode, res.stdout + res.stderr)


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


def tshark_fields(pcap: Path, keys: Path, fields: Sequence[str]) -> list[list[str]]:
    """One row per frame of ``fields`` as tshark shows them with the keys file's decryption
    tables (pcapcheck's translation), e.g. inner and outer ``ip.src`` of a decrypted ESP packet
    comma-separated."""
    import importlib.machinery
    import importlib.util
    loader = importlib.machinery.SourceFileLoader("pcapcheck", str(PCAPCHECK))
    spec = importlib.util.spec_from_loader("pcapcheck", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    cmd = ["tshark", "-n", "-r", str(pcap), *module.uat_args(json.loads(keys.read_text())), "-T", "fields",
           "-E", "occurrence=a", "-E", "separator=/t"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]
