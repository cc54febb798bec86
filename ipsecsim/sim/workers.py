"""A gateway's worker threads, shared by the peers (tunnels) it terminates (``cpu: {workers}``).

A peer is one IKE connection (config/topology.py): a hub with many branches is many peers that
share the hub's address. Each peer computes one thing at a time (strongSwan checks an IKE SA
out to one thread, libcharon/sa/ike_sa_manager.c ``checkout``); the gateway runs up to
``workers`` computations of different peers at once (strongSwan's thread pool: strongswan.conf
``charon.threads``, default 16), and a computation that finds every worker busy waits for the
first one to finish, in the order they asked.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from .sched import Scheduler


class WorkerPool:
    def __init__(self, sched: Scheduler, workers: int):
        self.sched = sched
        self.workers = workers
        self.busy = 0
        self.waiting: deque[tuple[float, Callable[..., None], tuple[Any, ...]]] = deque()

    def run(self, seconds: float, done: Callable[..., None], *args: Any) -> None:
        """Compute for ``seconds`` on a free worker (after waiting for one), then ``done(*args)``."""
        if self.busy < self.workers:
            self.busy += 1
            self.sched.call_later(seconds, self._finish, done, args)
        else:
            self.waiting.append((seconds, done, args))

    def _finish(self, done: Callable[..., None], args: tuple[Any, ...]) -> None:
        if self.waiting:
            seconds, nxt, nargs = self.waiting.popleft()
            self.sched.call_later(seconds, self._finish, nxt, nargs)
        else:
            self.busy -= 1
        done(*args)
