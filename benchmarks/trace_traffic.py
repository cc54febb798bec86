"""Writing the traffic of a run as packets: ESP packets per second, bytes per packet.

    python benchmarks/trace_traffic.py            # from the repository root

Cases: rekey-by-time (5 h of 1 s pings: 35,998 ESP packets, every one written and
encrypted), rekey-20gb (10 min of 1 Gbit/s: 52.7 M bulk packets on the wire, 100 written),
nat-mapping-expiry (ESP in UDP behind a NAT). For each: the simulation alone, then the
trace (plan, encryption, layering, pcapng writing) and the file size. Nothing is asserted.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ipsecsim.config.loader import load_scenario
from ipsecsim.sim.runner import simulate
from ipsecsim.trace.options import TraceOptions
from ipsecsim.trace.packets import write_trace

ROOT = Path(__file__).resolve().parents[1]
CASES = ["rekey-by-time", "rekey-20gb", "nat-mapping-expiry"]


def main() -> None:
    print(f"{'scenario':<22}{'simulate':>10}{'trace':>10}{'packets':>10}{'ESP/s':>10}{'bytes/pkt':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in CASES:
            sc = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
            t0 = time.perf_counter()
            result = simulate(sc)
            t1 = time.perf_counter()
            pcap = Path(tmp) / f"{name}.pcapng"
            report = write_trace(result, TraceOptions(pcap, Path(tmp) / f"{name}.keys.json"))
            t2 = time.perf_counter()
            n, esp = sum(report.frames.values()), report.frames.get("esp", 0)
            print(f"{name:<22}{t1 - t0:>9.2f}s{t2 - t1:>9.2f}s{n:>10}{esp / (t2 - t1):>10.0f}"
                  f"{pcap.stat().st_size / max(n, 1):>11.0f}")


if __name__ == "__main__":
    main()
