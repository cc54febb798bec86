"""Cost of reporting an event as a typed dataclass relative to a plain dict, in the same process.

    python benchmarks/bench_events.py [N]

Makes N ``Event`` records of a CHILD SA's ``sa_expired`` (the SA's SPIs filled in by the
engine as the record's leading fields, ``EventKind.record``) and of a ``dpd_probe_sent``, once from typed events
(``proto.events``) and, as the baseline, from keyword arguments straight into a dict, as
the cores did before typed events. Prints both and their ratio. Never used as a timed test.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from ipsecsim.proto.events import DpdProbeSent, Event, SaExpired

LABEL = {"spi_i": "0011223344556677", "spi_r": "8899aabbccddeeff"}


def untyped(n: int) -> float:
    def emit(out: list[Event], event: str, **fields: Any) -> None:
        out.append(Event(1.0, "A", event, fields))

    out: list[Event] = []
    t0 = time.perf_counter()
    for i in range(n):
        emit(out, "sa_expired", ike_version=2, **LABEL, sa_type="child", kind="soft", by="time",
             spi_in="c0ffee01", spi_out="c0ffee02", limit=float(i))
        emit(out, "dpd_probe_sent", ike_version=2, **LABEL, msg_id=i, retry=0)
    return time.perf_counter() - t0


def typed(n: int) -> float:
    out: list[Event] = []
    t0 = time.perf_counter()
    for i in range(n):
        out.append(SaExpired(sa_type="child", kind="soft", by="time", spi_in="c0ffee01", spi_out="c0ffee02",
                             limit=float(i)).record(1.0, "A", {"ike_version": 2, **LABEL}))
        out.append(DpdProbeSent(msg_id=i, retry=0).record(1.0, "A", {"ike_version": 2, **LABEL}))
    return time.perf_counter() - t0


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    base, new = min(untyped(n) for _ in range(3)), min(typed(n) for _ in range(3))
    print(f"{2 * n} events: dict {base * 1e6 / (2 * n):.2f} us/event, typed {new * 1e6 / (2 * n):.2f} us/event, "
          f"ratio {new / base:.2f}")
