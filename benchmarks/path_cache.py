"""The data plane's cached look-ups, each against computing it afresh, in one process.

    python benchmarks/path_cache.py calls               # CPU per call, cached against computed
    python benchmarks/path_cache.py fleet [PAIRS] [HOURS] [REPS]    # (c) fleet pairs, array path
    python benchmarks/path_cache.py packet [N] [HOURS] [REPS]       # N tunnels on the packet path

Two caches (docs: benchmarks/README.md):
- ``ready``: a ping flow's path on the array path (sim/flowpath.py ``Cached``), held while the
  SAs (``sa.route_epoch``) and the link (``Link.generation``) are unchanged; off, it is found
  again at every window attempt (``flowpath.plan``), as it was before;
- ``reread``: a data plane re-reads its engine's SAs only after an SA pushed a change; off, at
  every refresh (after every step of the peer), as it was before.

``fleet`` and ``packet`` run the same pairs alternately with everything on, with one cache off
and with both off (the order reversed every other round: the machine's load drifts), print the
CPU of each run and a hash of its rows or events (the same in every variant) and the sums.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from ipsecsim.proto.traffic import TrafficPlane  # noqa: E402
from ipsecsim.sim import flowpath, train  # noqa: E402

REAL_HOLDS = flowpath.Cached.holds
REAL_REFRESH = TrafficPlane._refresh_once


def _reread_always(self: TrafficPlane, now: float) -> None:
    self._read_at = -2  # as if a change had been pushed
    REAL_REFRESH(self, now)


def use(variant: str) -> None:
    """``on``, ``no-ready``, ``no-reread`` or ``off``."""
    ready = variant in ("on", "no-reread")
    reread = variant in ("on", "no-ready")
    flowpath.Cached.holds = REAL_HOLDS if ready else (lambda self, *a: False)  # type: ignore[method-assign]
    TrafficPlane._refresh_once = REAL_REFRESH if reread else _reread_always  # type: ignore[method-assign]


def per_call(fn: Any, n: int = 20000) -> float:
    """Microseconds of CPU per call (the best of 5 rounds)."""
    best = float("inf")
    for _ in range(5):
        c0 = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time() - c0) / n)
    return best * 1e6


def cmd_calls() -> None:
    import fleet as fb

    from ipsecsim.fleet import pair_row
    from ipsecsim.proto import sa as sa_mod
    seen: list[train.Trains] = []
    real_init = train.Trains.__init__

    def spy(self: train.Trains, *a: Any, **k: Any) -> None:
        real_init(self, *a, **k)
        seen.append(self)

    train.Trains.__init__ = spy  # type: ignore[method-assign]
    f = fb.fleet(1, 1.0)
    pair_row(f, f.plans[0], "fast", "real")  # a steady pair after 1 h: its state is what is looked up
    train.Trains.__init__ = real_init  # type: ignore[method-assign]
    trains = seen[0]
    tr = trains.trains[0]
    a, pa = tr.node, tr.node.ep.traffic
    assert trains._ready(tr) is not None
    epoch, gen = sa_mod.route_epoch, trains.link.generation
    def fresh() -> Any:
        return flowpath.plan(trains.link, tr, a, pa, epoch, gen, trains._live)
    rows = [("Trains._ready", lambda: trains._ready(tr), fresh),
            ("TrafficPlane._refresh_once", lambda: pa._refresh_once(0.0), lambda: _reread_always(pa, 0.0))]
    for name, cached, fresh in rows:
        c, u = per_call(cached), per_call(fresh)
        print(f"{name:28} cached {c:6.2f} us a call, computed {u:6.2f} us: saves {u - c:6.2f} us")


def alternate(variants: list[str], reps: int, once: Any, per: float) -> None:
    total: dict[str, list[float]] = {}
    for r in range(reps):
        for v in variants if r % 2 == 0 else variants[::-1]:
            use(v)
            c0 = time.process_time()
            digest = once()
            cpu = time.process_time() - c0
            total.setdefault(v, []).append(cpu)
            print(f"  {v:10} {cpu:7.2f} CPU s  output {digest}", flush=True)
    use("on")
    on = sum(total["on"])
    for v, cs in total.items():
        print(f"{v:10} {sum(cs):7.2f} CPU s in {len(cs)} runs, {sum(cs) / (len(cs) * per):.4f} CPU s per pair-hour, "
              f"{sum(cs) / on:.3f}x all on")


def cmd_fleet(pairs: int, hours: float, reps: int) -> None:
    import fleet as fb

    from ipsecsim.fleet import pair_row
    f = fb.fleet(pairs, hours)

    def once() -> str:
        rows = [pair_row(f, p, "fast", "real") for p in f.plans]
        return hashlib.sha256(repr(rows).encode()).hexdigest()[:12]

    print(f"fleet: {pairs} pairs x {hours:g} h on the array path, {reps} rounds")
    alternate(["on", "no-ready", "no-reread", "off"], reps, once, pairs * hours)


def cmd_packet(n: int, hours: float, reps: int) -> None:
    from factory import scenario_dict

    from ipsecsim import load_scenario, simulate
    pings = [{"name": "ping-ab", "kind": "ping", "from": "A", "to": "B", "interval": 1},
             {"name": "ping-ba", "kind": "ping", "from": "B", "to": "A", "interval": 1}]
    dpd = {"dpd": {"delay": "30s"}}
    scs = [load_scenario(scenario_dict(a=dpd, b=dpd, duration=hours * 3600.0, seed=s, traffic=pings))
           for s in range(n)]

    def once() -> str:
        h = hashlib.sha256()
        for sc in scs:
            h.update(repr([e.to_dict() for e in simulate(sc, traffic="packet", esp_records=False).events]).encode())
        return h.hexdigest()[:12]

    print(f"packet path: {n} tunnels x {hours:g} h (DPD 30 s, 1 s ping each way), {reps} rounds")
    alternate(["on", "no-reread"], reps, once, n * hours)


def main() -> None:
    cmd, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("calls", [])
    if cmd == "calls":
        cmd_calls()
    elif cmd == "fleet":
        cmd_fleet(int(rest[0]) if rest else 2, float(rest[1]) if len(rest) > 1 else 24.0,
                  int(rest[2]) if len(rest) > 2 else 4)
    elif cmd == "packet":
        cmd_packet(int(rest[0]) if rest else 2, float(rest[1]) if len(rest) > 1 else 3.0,
                   int(rest[2]) if len(rest) > 2 else 6)
    else:
        raise SystemExit(f"path_cache.py: unknown command {cmd!r} (calls, fleet, packet)")


if __name__ == "__main__":
    main()
