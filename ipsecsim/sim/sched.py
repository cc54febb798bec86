"""The scheduler interface every simulation driver moves time with, and its two engines.

A driver needs three things from time: ``now``, ``call_at(t, fn, *args)`` (call ``fn(*args)``
when the clock reads ``t``) and ``call_later(delay, fn, *args)`` (at ``now + delay``). Nothing
is ever cancelled: a callback that may have become stale checks whether it is still wanted
when it runs (strongSwan's jobs, aioquic's ``get_timer()``), so a peer keeps one lazy
deadline (sim/node.py).

Two engines implement it, with the same ordering rule, so a scenario gives the same events on
both (tests/test_engines.py runs every scenario on both and compares them one by one):

* ``FastLoop`` (``--engine fast``, the default): a heap of plain tuples ``(t, seq, fn, args)``;
  callbacks due at the same instant run in the order they were scheduled.
* ``SimpyScheduler`` (``--engine simpy``): the same callbacks as SimPy timeouts on a
  ``simpy.Environment`` (SimPy orders equal times by scheduling order too), for teaching and
  for composing a scenario with other SimPy models on one environment.

Both compute a callback's instant as SimPy does for a timeout, ``now + delay`` (``call_at``:
``now + (t - now)``), so the two engines see bit-identical times. ``run(until)`` runs every callback due strictly before
``until`` (SimPy's ``run(until=...)`` does not process events at ``until`` either) and leaves
the clock at ``until``.

``spawn`` runs a generator as a small process: it yields delays in seconds (``yield 2.0``
sleeps two seconds); its first step runs at once, like a SimPy process started before the run.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Generator
from typing import Any, Protocol

import simpy
import simpy.events


class Scheduler(Protocol):
    """What a driver needs from time (the sim drivers and, with the wall clock, the live one)."""

    @property
    def now(self) -> float: ...

    def call_at(self, t: float, fn: Callable[..., None], *args: Any) -> None: ...

    def call_later(self, delay: float, fn: Callable[..., None], *args: Any) -> None: ...

    def call_exact(self, t: float, fn: Callable[..., None], *args: Any) -> None: ...


class FastLoop:
    """A callback event loop: one heap of ``(t, seq, fn, args)`` tuples."""

    __slots__ = ("_heap", "_seq", "now", "until")

    def __init__(self) -> None:
        self.now = 0.0
        self.until = float("inf")
        """Where the current ``run`` stops."""
        self._heap: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = 0

    def call_at(self, t: float, fn: Callable[..., None], *args: Any) -> None:
        now = self.now
        if t < now:
            t = now
        self._seq += 1
        heapq.heappush(self._heap, (now + (t - now), self._seq, fn, args))

    def call_later(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (self.now + delay, self._seq, fn, args))

    def call_exact(self, t: float, fn: Callable[..., None], *args: Any) -> None:
        """Call ``fn(*args)`` at the instant ``t`` itself (``t >= now``), which ``now + delay``
        cannot always reach in floating point: an instant another callback computed as
        ``earlier + delay`` (the array traffic path re-creating the packet path's callbacks)."""
        self._seq += 1
        heapq.heappush(self._heap, (max(t, self.now), self._seq, fn, args))

    def next_other(self, skip: Callable[[Callable[..., None], tuple[Any, ...]], bool]) -> float:
        """The earliest instant of a pending callback for which ``skip(fn, args)`` is false."""
        return min((t for t, _, fn, args in self._heap if not skip(fn, args)), default=float("inf"))

    def others(self, skip: Callable[[Callable[..., None], tuple[Any, ...]], bool]
               ) -> list[tuple[float, Callable[..., None], tuple[Any, ...]]]:
        """The pending callbacks ``(t, fn, args)`` for which ``skip(fn, args)`` is false. A
        driver may run one of them ahead of the loop, with ``now`` set to its instant (the
        array traffic path's crossings of a peer's timer, sim/train.py); it stays pending and
        must then find itself stale when it runs. In the order the loop runs them (instant,
        then the order they were scheduled in): a driver runs those at one instant so too."""
        return [(t, fn, args) for t, _, fn, args in sorted(x for x in self._heap if not skip(x[2], x[3]))]

    def run(self, until: float) -> None:
        self.until = until
        heap, pop = self._heap, heapq.heappop
        while heap and heap[0][0] < until:
            t, _, fn, args = pop(heap)
            self.now = t
            fn(*args)
        self.now = until

    @property
    def scheduled(self) -> int:
        """Callbacks scheduled so far (a benchmark figure)."""
        return self._seq

    def pending(self) -> int:
        """Callbacks scheduled and not yet run (stale ones included)."""
        return len(self._heap)


class SimpyScheduler:
    """The scheduler interface on a ``simpy.Environment``: every ``call_at`` is one timeout."""

    def __init__(self, env: simpy.Environment | None = None) -> None:
        self.env = env if env is not None else simpy.Environment()
        self.scheduled = 0
        self.until = float("inf")

    @property
    def now(self) -> float:
        return float(self.env.now)

    def call_at(self, t: float, fn: Callable[..., None], *args: Any) -> None:
        now = self.env.now
        ev = self.env.timeout(t - now if t > now else 0.0)
        ev.callbacks.append(lambda _e: fn(*args))
        ev.fn_args = (fn, args)  # type: ignore[attr-defined]
        self.scheduled += 1

    def call_later(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        ev = self.env.timeout(delay)
        ev.callbacks.append(lambda _e: fn(*args))
        ev.fn_args = (fn, args)  # type: ignore[attr-defined]
        self.scheduled += 1

    def call_exact(self, t: float, fn: Callable[..., None], *args: Any) -> None:
        """As ``FastLoop.call_exact``: a timeout put on SimPy's queue at ``t`` itself, the way
        ``Environment.schedule`` puts one at ``now + delay`` (the same queue entry layout that
        ``next_other`` reads)."""
        ev = simpy.Event(self.env)
        ev._ok = True
        ev._value = None
        ev.callbacks.append(lambda _e: fn(*args))
        ev.fn_args = (fn, args)  # type: ignore[attr-defined]
        heapq.heappush(self.env._queue, (max(t, self.env.now), simpy.events.NORMAL, next(self.env._eid), ev))
        self.scheduled += 1

    def next_other(self, skip: Callable[[Callable[..., None], tuple[Any, ...]], bool]) -> float:
        """The earliest instant of a pending event that is not a callback ``skip(fn, args)``
        is true of (another SimPy process's events always count)."""
        out = float("inf")
        for t, _prio, _eid, ev in self.env._queue:
            fa = getattr(ev, "fn_args", None)
            if t < out and (fa is None or not skip(*fa)):
                out = t
        return float(out)

    def run(self, until: float) -> None:
        self.until = until
        if until > self.env.now:
            self.env.run(until=until)

    def pending(self) -> int:
        return len(self.env._queue)


Engine = FastLoop | SimpyScheduler

ENGINES = ("fast", "simpy")
"""The engines ``simulate(..., engine=)`` and ``ipsecsim run --engine`` accept."""


def make(engine: str | simpy.Environment) -> FastLoop | SimpyScheduler:
    """The engine named ``fast`` or ``simpy``, or the SimPy adapter on a user's environment."""
    if isinstance(engine, simpy.Environment):
        return SimpyScheduler(engine)
    if engine == "fast":
        return FastLoop()
    if engine == "simpy":
        return SimpyScheduler()
    raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")


def as_scheduler(clock: Scheduler | simpy.Environment) -> Scheduler:
    """A scheduler for ``clock``: itself, or a SimPy environment wrapped in the adapter."""
    if isinstance(clock, simpy.Environment):
        return SimpyScheduler(clock)
    return clock


def spawn(sched: Scheduler, gen: Generator[float, None, None]) -> None:
    """Run ``gen`` as a process: its first step now, each later one after the delay it yields."""
    def step() -> None:
        try:
            delay = next(gen)
        except StopIteration:
            return
        sched.call_later(delay, step)
    step()
