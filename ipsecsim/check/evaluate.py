"""Expectations against a run: one ``Verdict`` per ``expect:`` entry, with what was found.

A failed verdict explains itself the way a person would debug it: the matching events and
their times, matching events outside the time window and by how much they missed it, and
the nearest miss - the same event at the same peer with other field values, or at another
peer - so a wrong bound and a wrong assumption look different. Times compare at the
microsecond resolution of the event log.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..proto.events import Event
from ..units import format_duration

if TYPE_CHECKING:
    from ..result import Result


class Bound(Protocol):
    """A ``summary:`` expectation's value and bounds (spec/expect.py ``BoundSpec``, or
    config/expect.py ``SummaryBound`` given from Python)."""

    @property
    def path(self) -> str: ...
    @property
    def min(self) -> float | None: ...
    @property
    def max(self) -> float | None: ...
    @property
    def equals(self) -> Any: ...
    @property
    def equals_given(self) -> bool:
        """Whether ``equals`` was written (``equals: null`` is a requirement, no ``equals`` none)."""


class Expectation(Protocol):
    """One ``expect:`` entry (spec/expect.py ``ExpectSpec``, or config/expect.py ``Expectation``
    given from Python): what is read of it here, so that checking a run depends on its result,
    not on the configuration."""

    @property
    def kind(self) -> str:
        """``event``, ``status`` or ``summary``."""
    @property
    def event(self) -> str | None: ...
    @property
    def peer(self) -> str | None: ...
    @property
    def filters(self) -> dict[str, Any]: ...
    @property
    def window(self) -> tuple[float | None, float | None]: ...
    @property
    def count(self) -> int | None: ...
    @property
    def at_least(self) -> int | None: ...
    @property
    def at_most(self) -> int | None: ...
    @property
    def never(self) -> bool: ...
    @property
    def status(self) -> dict[str, str] | None: ...
    @property
    def summary(self) -> Bound | None: ...
    @property
    def label(self) -> str | None: ...
    def written(self) -> dict[str, Any]:
        """The entry as it was written (for reports and JSON)."""


EPS = 1e-6
SHOWN = 5
Outcome = Literal["pass", "fail", "error"]


@dataclass(frozen=True)
class Verdict:
    """The outcome of one expectation."""

    index: int
    label: str
    """What was expected, in one line."""
    outcome: Outcome
    observed: str
    """What happened, in one line."""
    details: tuple[str, ...] = ()
    """Further lines: events found, the nearest miss."""
    written: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"

    @property
    def name(self) -> str:
        return f"expect[{self.index}]"

    def text(self) -> str:
        """The verdict as a few readable lines: what was expected, what happened, why."""
        mark = {"pass": "PASS", "fail": "FAIL", "error": "ERROR"}[self.outcome]
        lines = [f"{mark} {self.name}: {self.label}", f"  observed: {self.observed}"]
        return "\n".join(lines + [f"  {d}" for d in self.details])

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "expect": self.written, "label": self.label, "outcome": self.outcome,
                "passed": self.passed, "observed": self.observed, "details": list(self.details)}


@dataclass(frozen=True)
class CheckResult:
    """All verdicts of one run."""

    verdicts: tuple[Verdict, ...]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.verdicts)

    def __len__(self) -> int:
        return len(self.verdicts)

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    @property
    def failures(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.passed]

    def text(self) -> str:
        ok = sum(v.passed for v in self.verdicts)
        head = f"{ok} of {len(self.verdicts)} expectations met"
        return "\n".join([head, *(v.text() for v in self.failures)])


class SummaryPathError(LookupError):
    """A summary path that does not exist in this run's summary."""


def evaluate(result: Result, expectations: Sequence[Expectation] | None = None) -> CheckResult:
    """Check ``expectations`` (default: the scenario's ``expect:`` block) against ``result``."""
    exps = result.scenario.spec.expect if expectations is None else expectations
    summary: dict[str, Any] | None = None
    out = []
    for i, e in enumerate(exps):
        if e.kind == "event":
            out.append(_event(i, e, result))
        elif e.kind == "status":
            out.append(_status(i, e, result))
        else:
            if summary is None:
                summary = result.summary()
            out.append(_summary(i, e, summary))
    return CheckResult(tuple(out))


def evaluate_summary(expectations: Sequence[Expectation], summary: dict[str, Any]) -> CheckResult:
    """Check ``summary:`` expectations against a summary without a run behind it (a fleet's,
    fleet/summary.py; the loader allows no other kind in a fleet file)."""
    return CheckResult(tuple(_summary(i, e, summary) for i, e in enumerate(expectations)))


# --- describing ------------------------------------------------------------------------------

def t(x: float) -> str:
    """A time as users write it: 165.061s, 20ms, 4h."""
    if x and abs(x) < 1:
        return f"{x * 1000:.6g}ms"
    if x >= 60 and x % 60 == 0:
        return format_duration(x)
    return f"{round(x, 6):g}s"


def _value(v: Any) -> str:
    return "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def describe(e: Expectation) -> str:
    """One line saying what ``e`` expects."""
    if e.label:
        return e.label
    if e.kind == "status":
        return "status at the end: " + ", ".join(f"{p} {s}" for p, s in (e.status or {}).items())
    if e.kind == "summary":
        s = e.summary
        assert s is not None
        parts = []
        if s.equals_given:
            parts.append(f"= {_value(s.equals)}")
        if s.min is not None:
            parts.append(f">= {s.min:g}")
        if s.max is not None:
            parts.append(f"<= {s.max:g}")
        return f"summary {s.path} {' and '.join(parts)}"
    text = str(e.event)
    if e.peer:
        text += f" at {e.peer}"
    if e.filters:
        text += " with " + ", ".join(f"{k}={_value(v)}" for k, v in e.filters.items())
    lo, hi = e.window
    if lo is not None and hi is not None:
        text += f" at {t(lo)}" if abs(hi - lo) <= EPS else f" between {t(lo)} and {t(hi)}"
    elif lo is not None:
        text += f" at or after {t(lo)}"
    elif hi is not None:
        text += f" by {t(hi)}"
    return text + ": " + _requirement(e)


def _requirement(e: Expectation) -> str:
    if e.never:
        return "never"
    if e.count is not None:
        return "never" if e.count == 0 else f"exactly {_times(e.count)}"
    if e.at_least is not None and e.at_most is not None:
        return f"{e.at_least} to {e.at_most} times"
    if e.at_most is not None:
        return f"at most {_times(e.at_most)}"
    return f"at least {_times(e.at_least if e.at_least is not None else 1)}"


_NOISY = {"ike_version", "spi_i", "spi_r", "payloads", "src", "dst", "local_ts", "remote_ts", "spi_in", "spi_out",
          "local_id", "remote_id", "reason"}


def show_event(ev: Event, keys: Sequence[str] = ()) -> str:
    """``12.5s A negotiation_failed notify=...``: the given fields, else the telling ones."""
    keys = list(keys) or [k for k in ev.fields if k not in _NOISY][:3]
    fields = " ".join(f"{k}={_value(ev.fields.get(k))}" for k in keys)
    return f"{ev.t:.6g}s {ev.peer} {ev.event}" + (f" {fields}" if fields else "")


def _list(events: Sequence[Event], keys: Sequence[str]) -> str:
    shown = ", ".join(show_event(ev, keys) for ev in events[:SHOWN])
    return shown + (f" ... ({len(events) - SHOWN} more)" if len(events) > SHOWN else "")


# --- event expectations ----------------------------------------------------------------------

def _in_window(ev: Event, lo: float | None, hi: float | None) -> bool:
    return (lo is None or ev.t >= lo - EPS) and (hi is None or ev.t <= hi + EPS)


def _ok(e: Expectation, n: int) -> bool:
    if e.never:
        return n == 0
    if e.count is not None:
        return n == e.count
    lo = e.at_least if e.at_least is not None else (0 if e.at_most is not None else 1)
    return n >= lo and (e.at_most is None or n <= e.at_most)


def _matches(ev: Event, filters: dict[str, Any]) -> bool:
    return all(_equal(ev.fields.get(k), v) for k, v in filters.items())


def _equal(actual: Any, wanted: Any) -> bool:
    if isinstance(actual, float) and isinstance(wanted, int | float) and not isinstance(wanted, bool):
        return math.isclose(actual, wanted, rel_tol=1e-9, abs_tol=EPS)
    if isinstance(actual, tuple):
        actual = list(actual)
    return bool(actual == wanted)


def _event(i: int, e: Expectation, result: Result) -> Verdict:
    label = describe(e)
    filters = e.filters
    keys = list(filters)
    lo, hi = e.window
    named = [ev for ev in result.events if ev.event == e.event]
    at_peer = [ev for ev in named if e.peer is None or ev.peer == e.peer]
    matching = [ev for ev in at_peer if _matches(ev, filters)]
    inside = [ev for ev in matching if _in_window(ev, lo, hi)]
    n = len(inside)
    ok = _ok(e, n)
    observed = f"{n} matching event{'s' if n != 1 else ''}" + (f": {_list(inside, keys)}" if inside else "")
    details: list[str] = []
    if not ok and n < max(1, e.count or 0, e.at_least or 0) and not e.never:
        details += _near_misses(e, named, at_peer, matching, inside, keys, lo, hi)
    return Verdict(i, label, "pass" if ok else "fail", observed, tuple(details), e.written())


def _near_misses(e: Expectation, named: list[Event], at_peer: list[Event], matching: list[Event],
                 inside: list[Event], keys: list[str], lo: float | None, hi: float | None) -> list[str]:
    out = []
    outside = [ev for ev in matching if ev not in inside]
    if outside:
        out.append("outside the window: " + ", ".join(
            f"{show_event(ev, keys)} ({_miss(ev.t, lo, hi)})" for ev in outside[:SHOWN]))
    other_values = [ev for ev in at_peer if ev not in matching]
    if other_values:
        ev = min(other_values, key=lambda x: _distance(x.t, lo, hi))
        diffs = [f"{k}={_value(ev.fields.get(k))} (expected {_value(v)})" for k, v in e.filters.items()
                 if not _equal(ev.fields.get(k), v)]
        out.append(f"nearest miss: {ev.t:.6g}s {ev.peer} {ev.event} with {', '.join(diffs)}")
    elif e.peer is not None and not at_peer and named:
        ev = min(named, key=lambda x: _distance(x.t, lo, hi))
        out.append(f"nearest miss: {show_event(ev, keys)} at peer {ev.peer} (expected {e.peer})")
    if not named:
        out.append(f"no {e.event} event at any peer in this run")
    return out


def _miss(x: float, lo: float | None, hi: float | None) -> str:
    if lo is not None and x < lo:
        return f"{t(lo - x)} early"
    if hi is not None and x > hi:
        return f"{t(x - hi)} late"
    return "inside"


def _distance(x: float, lo: float | None, hi: float | None) -> float:
    if lo is not None and x < lo:
        return lo - x
    if hi is not None and x > hi:
        return x - hi
    return 0.0


# --- status and summary ----------------------------------------------------------------------

def _status(i: int, e: Expectation, result: Result) -> Verdict:
    wanted = e.status or {}
    actual = {p: result.status(p) for p in wanted}
    ok = all(actual[p] == s for p, s in wanted.items())
    observed = ", ".join(f"{p} {actual[p]}" + ("" if actual[p] == s else f" (expected {s})")
                         for p, s in wanted.items())
    details = []
    if not ok:
        for p in wanted:
            fails = result.select("negotiation_failed", p)
            if fails:
                f = fails[-1]
                details.append(f"last failure at {p}: {f.t:.6g}s {f.get('phase')} {_value(f.get('notify'))} "
                               f"- {f.get('reason')}")
            counts = Counter(ev.event for ev in result.events if ev.peer == p and not ev.event.startswith("message_"))
            if counts:
                details.append(f"events at {p}: " + ", ".join(f"{k} x{v}" for k, v in counts.items()))
    return Verdict(i, describe(e), "pass" if ok else "fail", observed, tuple(details), e.written())


def summary_value(summary: dict[str, Any], path: str) -> Any:
    """The value at dotted ``path`` (list items by index); SummaryPathError names what exists."""
    node: Any = summary
    done: list[str] = []
    for part in path.split("."):
        if isinstance(node, dict):
            if part not in node:
                where = ".".join(done) or "the top level"
                raise SummaryPathError(f"summary path {path}: no key {part!r} under {where} "
                                       f"(keys there: {', '.join(map(str, node)) or 'none'})")
            node = node[part]
        elif isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise SummaryPathError(f"summary path {path}: {'.'.join(done)} is a list of {len(node)} "
                                       f"item(s); {part!r} is not an index into it")
            node = node[int(part)]
        else:
            raise SummaryPathError(f"summary path {path}: {'.'.join(done)} is {_value(node)!r}, not a mapping")
        done.append(part)
    return node


def _summary(i: int, e: Expectation, summary: dict[str, Any]) -> Verdict:
    s = e.summary
    assert s is not None
    label = describe(e)
    try:
        value = summary_value(summary, s.path)
    except SummaryPathError as err:
        return Verdict(i, label, "error", str(err), (), e.written())
    if s.equals_given and not _equal(value, s.equals):
        return Verdict(i, label, "fail", f"{s.path} = {_value(value)}", (), e.written())
    if s.min is not None or s.max is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return Verdict(i, label, "error", f"{s.path} = {_value(value)!r} is not a number; min and max need "
                           "a number", (), e.written())
        if (s.min is not None and value < s.min - EPS) or (s.max is not None and value > s.max + EPS):
            return Verdict(i, label, "fail", f"{s.path} = {value:g}", (), e.written())
    return Verdict(i, label, "pass", f"{s.path} = {_value(value)}", (), e.written())
