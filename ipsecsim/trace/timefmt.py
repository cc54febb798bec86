"""One way of writing simulated time for the whole output of a run.

A run shorter than ``LONG_RUN`` seconds writes times as seconds with milliseconds
(``   125.020``); a longer one as days and a clock time (``2d03:04:05.678``), on every line alike:
the header, the timeline, the final state, failures, health-check periods and traffic outages.
Durations follow the same choice (``12.5 s`` / ``0d01:00:00.000``). ``parse_time`` reads back
what the timeline prints (and plain durations such as ``90s`` or ``2h``), so the times of one
run can be pasted into ``--since`` / ``--until``.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass

from ..units import parse_duration

LONG_RUN = 10_000.0
"""Runs of this many simulated seconds or more write days and clock times."""


@dataclass(frozen=True, slots=True)
class TimeFormat:
    long: bool = False

    @classmethod
    def for_run(cls, duration: float) -> TimeFormat:
        return cls(duration >= LONG_RUN)

    def at(self, t: float, pad: bool = False) -> str:
        """A point in simulated time; ``pad`` right-aligns short times in a 10-wide column."""
        if not self.long:
            return f"{t:10.3f}" if pad else f"{t:.3f}"
        return day_clock(t)

    def span(self, d: float) -> str:
        """A length of simulated time."""
        if not self.long:
            return f"{d:g} s"
        return day_clock(d)

    def unit(self) -> str:
        """What follows a time written by ``at`` in prose (``12.000 s`` / ``0d00:00:12.000``)."""
        return " s" if not self.long else ""


def day_clock(t: float) -> str:
    t = round(t, 3)  # rounded first: 3599.9999 s is 1 h, not 59 min 60 s
    days, rem = divmod(t, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    return f"{int(days)}d{int(h):02d}:{int(m):02d}:{s:06.3f}"


_CLOCK = re.compile(r"^(?:(\d+)d)?(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?$")

TIME_HELP = ("a time as the timeline prints it (125.020, 2d03:04:05.678, 01:30:00) or a duration from the start "
             "(90s, 2h, 1d12h)")


def parse_time(text: str) -> float:
    """Seconds from the start of the run; ValueError naming the accepted forms."""
    s = text.strip().lower()
    m = _CLOCK.match(s)
    if m:
        days, h, mi, sec = m.groups()
        if int(mi) >= 60 or (sec is not None and float(sec) >= 60):
            raise ValueError(f"expected {TIME_HELP}, got {text!r}")
        return int(days or 0) * 86400 + int(h) * 3600 + int(mi) * 60 + float(sec or 0)
    try:
        return parse_duration(s)
    except ValueError:
        raise ValueError(f"expected {TIME_HELP}, got {text!r}") from None


CURRENT: ContextVar[TimeFormat] = ContextVar("ipsecsim_time_format", default=TimeFormat())  # noqa: B039 (frozen)
"""The format of the run being rendered, for formatters that only get an event."""


def at(t: float) -> str:
    """``t`` in the current run's format followed by its unit where it needs one."""
    f = CURRENT.get()
    return f.at(t) + f.unit()


def span(d: float) -> str:
    return CURRENT.get().span(d)
