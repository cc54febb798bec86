"""Where a rekey's CPU goes outside the array traffic path's windows, benchmark (a)'s pair.

    python benchmarks/rekey_cost.py [HOURS] [--crypto=model]     # default 12 simulated hours

Runs engines.py's (a) pair (Huawei Cloud defaults, 1 Gbit/s bulk with a CHILD SA rekey with
PFS MODP-3072 every 18 GB, a 1 s ping each way) on the fast engine and the array path, and
splits its process time: the array path's windows (``PingTrain._wake``, all of it), and
outside them, by part, the exclusive time of a few entry points (a part's time leaves out the
parts it calls): the DH key pairs and shared secrets (``proto.dh``), the CHILD SA keys
(``kdf.child_keys``), installing the SA, the data plane's refresh after every step of a peer,
message and other events, the IKE engine's handling of a message and of its timer jobs (the
volume timer that starts a rekey, the delete of the old SA), the link, and the driver (the
rest of each scheduler callback: sim/node.py's worker accounting, flush, log, timers). Every
figure is divided by the number of rekeys. The wrappers cost a few microseconds per call,
counted in the parts they wrap; nothing here is asserted by the tests.
"""

from __future__ import annotations

import collections
import functools
import heapq
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

DRIVER = "driver (node: worker accounting, flush, log, timers)"


def measure(hours: float, crypto: str) -> None:
    import engines

    from ipsecsim.proto import dh, kdf
    from ipsecsim.proto import endpoint as ep_mod
    from ipsecsim.proto.ikev2 import children, engine
    from ipsecsim.proto.traffic import TrafficPlane
    from ipsecsim.sim import link, runner, sched, train

    clock = time.process_time
    own: dict[str, float] = collections.defaultdict(float)
    stack: list[list[Any]] = []  # [part, start, time of the parts it called]
    saved: list[tuple[Any, str, Any]] = []

    def enter(part: str) -> None:
        stack.append([part, clock(), 0.0])

    def leave() -> None:
        part, start, inner = stack.pop()
        spent = clock() - start
        own[part] += spent - inner
        if stack:
            stack[-1][2] += spent

    def wrap(owner: Any, name: str, part: str) -> None:
        real = getattr(owner, name)
        saved.append((owner, name, real))

        @functools.wraps(real)
        def timed(*args: Any, **kwargs: Any) -> Any:
            enter(part)
            try:
                return real(*args, **kwargs)
            finally:
                leave()
        setattr(owner, name, timed)

    wrap(dh, "generate", "DH: key pair (g^x)")
    wrap(dh, "shared_secret", "DH: shared secret (y^x)")
    wrap(kdf, "child_keys", "KDF: CHILD SA keys")
    wrap(children.ChildSas, "install", "SA installed (less its KDF)")
    wrap(TrafficPlane, "refresh", "data plane refresh after each step")
    wrap(engine.Ikev2Engine, "emit_message", "message events")
    wrap(ep_mod.Endpoint, "emit", "other events")
    wrap(ep_mod.Endpoint, "receive", "IKE engine: a message in (process, answer)")
    wrap(ep_mod.Endpoint, "handle_timer", "IKE engine: timer jobs (volume timer, rekey start, delete)")
    wrap(link.Link, "transmit", "link")
    wrap(link.Link, "transmit_traffic", "link")
    windows = [0.0, 0]
    trains: list[Any] = []
    real_init = train.Trains.__init__

    def spy_init(self: Any, *a: Any, **k: Any) -> None:
        real_init(self, *a, **k)
        trains.append(self)
    saved.append((train.Trains, "__init__", real_init))
    train.Trains.__init__ = spy_init  # type: ignore[method-assign]

    def run(self: Any, until: float) -> None:  # FastLoop.run, each callback timed
        self.until = until
        heap, pop = self._heap, heapq.heappop
        while heap and heap[0][0] < until:
            t, _, fn, args = pop(heap)
            self.now = t
            if getattr(fn, "__name__", "") == "_wake":
                start = clock()
                fn(*args)
                windows[0] += clock() - start
                windows[1] += 1
            else:
                enter(DRIVER)
                fn(*args)
                leave()
        self.now = until

    saved.append((sched.FastLoop, "run", sched.FastLoop.run))
    sched.FastLoop.run = run  # type: ignore[method-assign]
    try:
        scenario = engines.pair_scenario(hours / 24.0)
        start = clock()
        result = runner.simulate(scenario, engine="fast", traffic="array", esp_records=False, crypto=crypto)
        total = clock() - start
    finally:
        for owner, name, real in reversed(saved):
            setattr(owner, name, real)
    rekeys = sum(1 for ev in result.events if ev.event == "child_sa_rekeyed") / 2  # one per side
    outside = total - windows[0]
    print(f"(a) pair, {hours:g} simulated hours, crypto {crypto}: {total:.2f} CPU s, {rekeys:.0f} CHILD SA rekeys")
    print(f"  array path windows ({windows[1]} wake-ups): {windows[0]:.2f} s = {windows[0] / rekeys * 1e3:.2f} ms "
          f"per rekey; outside them: {outside:.2f} s = {outside / rekeys * 1e3:.2f} ms per rekey, of which:")
    tr = trains[-1]
    print(f"  windows moved (Trains.windows): {tr.windows} = {tr.windows / rekeys:.2f} per rekey; peer timers run "
          f"ahead inside them: {tr.crossed} = {tr.crossed / rekeys:.2f} per rekey")
    for part, spent in sorted(own.items(), key=lambda kv: -kv[1]):
        print(f"    {part:<62} {spent / rekeys * 1e3:7.3f} ms")
    rest = outside - sum(own.values())
    print(f"    {'scheduler loop, set-up, end of run (less the wrappers)':<62} {rest / rekeys * 1e3:7.3f} ms")


def main() -> None:
    crypto = "real"
    args = []
    for a in sys.argv[1:]:
        if a.startswith("--crypto="):
            crypto = a.split("=", 1)[1]
        else:
            args.append(a)
    measure(float(args[0]) if args else 12.0, crypto)


if __name__ == "__main__":
    main()
