"""The cyclic garbage collector's oldest generation waits while a run is simulated.

A run keeps what it makes: the event log, the link's records, the SAs' history; almost nothing
it allocates becomes cyclic garbage. CPython's full collections (generation 2) walk every
tracked object each time the long-lived ones grew by a quarter: over a run of days a tenth of
the process time, for nothing (a 10-day pair: seven full passes of ~0.15 s each, and the
objects they freed were a few thousand). ``paused`` raises the third threshold for the run (the
young generations are collected as before) and puts back the caller's thresholds after it.
Nothing a run computes depends on when garbage is collected. The thresholds are the
process's: while a run is simulated, the other threads' full collections wait too, and a
threshold set meanwhile is replaced by the caller's when the last run ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

OLDEST_WAITS = 1000
"""Collections of generation 1 between two of generation 2 while a run is simulated (CPython's
default: 10): ~7 million net allocations of tracked objects."""

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int, int] = (700, 10, 10)


@contextmanager
def paused() -> Iterator[None]:
    """Run the body with the oldest generation's collections held back (nested and concurrent
    runs share one setting; the last to finish restores the caller's)."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(_saved[0], _saved[1], max(_saved[2], OLDEST_WAITS))
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.set_threshold(*_saved)
