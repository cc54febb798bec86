"""The ``ha`` section of the run summary, and its lines in the timeline's final state.

Per HA group (config/ha.py), from its ``ha_switch`` and ``ha_member_state`` events:

* ``carried``: intervals of which member carried the traffic (member, start, end, duration).
  Active-standby: the active member between two switches. Active-active: a member while it
  is usable and has flows placed on it (``ha_switch`` ``flows``), so intervals of different
  members overlap.
* ``time_by_member``: the total of each member's intervals.
* ``switches``: how often traffic moved from one member to another (a failover, a preempt or,
  active-active, a move of flows); ``ha_switch`` events to or from no member are not counted.
* ``unavailable``: intervals with no usable member (from the start of the run until the first
  member is usable, and after every failure of the last usable one); ``unavailable_total``.
* ``active_at_end`` (active-standby): the member active when the run ended, or null.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape

from .timefmt import CURRENT, at, span

if TYPE_CHECKING:
    from rich.console import Console

    from ..proto.events import Event
    from ..result import Result
    from ..spec import HaGroupSpec


def _interval(member: str | None, start: float, end: float) -> dict[str, Any]:
    out: dict[str, Any] = {} if member is None else {"member": member}
    return {**out, "start": round(start, 6), "end": round(end, 6), "duration": round(end - start, 6)}


def ha_summary(result: Result) -> dict[str, Any]:
    return {g.name: _group(g, [e for e in result.events if e.peer == g.name
                               and e.event in ("ha_switch", "ha_member_state")], result.duration)
            for g in result.scenario.spec.ha}


def _group(g: HaGroupSpec, mine: list[Event], end: float) -> dict[str, Any]:
    """One group's summary from its own events (in time order) in a run that ended at ``end``."""
    tally = _Tally(g)
    for e in mine:
        if e.event == "ha_member_state":
            tally.member_state(e)
        else:
            tally.switch(e)
    return tally.summary(end)


class _Tally:
    """One HA group's intervals and switches, event by event."""

    def __init__(self, g: HaGroupSpec):
        self.g = g
        self.carried: list[dict[str, Any]] = []
        self.unavailable: list[dict[str, Any]] = []
        self.usable: dict[str, float | None] = {m: None for m in g.members}  # usable since
        self.none_since: float | None = 0.0
        self.active: str | None = None
        self.since = 0.0
        self.switches = 0
        self.flows_on: dict[str, set[str]] = {m: set() for m in g.members}  # active-active placement
        self.open_since: dict[str, float | None] = {m: None for m in g.members}

    def carrying(self, m: str, t: float) -> None:
        """Active-active: open or close m's interval as it starts or stops carrying."""
        now = self.usable[m] is not None and bool(self.flows_on[m])
        opened = self.open_since[m]
        if now and opened is None:
            self.open_since[m] = t
        elif not now and opened is not None:
            self.carried.append(_interval(m, opened, t))
            self.open_since[m] = None

    def member_state(self, e: Event) -> None:
        m = e.get("member")
        self.usable[m] = e.t if e.get("usable") else None
        self.carrying(m, e.t)
        anyone = any(v is not None for v in self.usable.values())
        if anyone and self.none_since is not None:
            self.unavailable.append(_interval(None, self.none_since, e.t))
            self.none_since = None
        elif not anyone and self.none_since is None:
            self.none_since = e.t

    def switch(self, e: Event) -> None:
        old, new = e.get("from"), e.get("to")
        if old is not None and new is not None:
            self.switches += 1
        if self.g.mode == "active-standby":
            if self.active is not None:
                self.carried.append(_interval(self.active, self.since, e.t))
            self.active, self.since = new, e.t
        elif new is not None:
            for f in e.get("flows") or []:
                for held in self.flows_on.values():
                    held.discard(f)
                self.flows_on[new].add(f)
            for m in self.g.members:
                self.carrying(m, e.t)

    def summary(self, end: float) -> dict[str, Any]:
        g, carried, unavailable = self.g, list(self.carried), list(self.unavailable)
        if g.mode == "active-standby" and self.active is not None:
            carried.append(_interval(self.active, self.since, end))
        if g.mode == "active-active":
            carried += [_interval(m, t, end) for m, t in self.open_since.items() if t is not None]
            carried.sort(key=lambda c: (c["start"], g.members.index(c["member"])))
        if self.none_since is not None:
            unavailable.append(_interval(None, self.none_since, end))
        carried = [c for c in carried if c["duration"] > 0]
        unavailable = [u for u in unavailable if u["duration"] > 0]
        return {
            "mode": g.mode, "members": list(g.members), "preempt": g.preempt, "watch": list(g.watch),
            "carried": carried,
            "time_by_member": {m: float(round(sum(c["duration"] for c in carried if c["member"] == m), 6))
                               for m in g.members},
            "switches": self.switches,
            "unavailable": unavailable,
            "unavailable_total": float(round(sum(u["duration"] for u in unavailable), 6)),
            **({"active_at_end": self.active} if g.mode == "active-standby" else {}),
        }


def render_ha(summary: dict[str, Any], console: Console) -> None:
    """The final state's lines: per group, who carried the traffic when."""
    for name, g in (summary.get("ha") or {}).items():
        head = f"  [bold]HA group {escape(name)}[/] ({g['mode']}, members {', '.join(g['members'])}): " \
               f"{g['switches']} switch{'es' if g['switches'] != 1 else ''}, no usable member for " \
               f"{span(g['unavailable_total'])}"
        console.print(head)
        for c in g["carried"][:20]:
            console.print(f"    {CURRENT.get().at(c['start'])} - {at(c['end'])} ({span(c['duration'])}): "
                          f"{escape(c['member'])}")
        if len(g["carried"]) > 20:
            console.print(f"    ... {len(g['carried']) - 20} more")
