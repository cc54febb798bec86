"""The ``ha`` section of the run summary, and its lines in the timeline's final state.

Per HA group (config/ha.py), from its ``ha_switch`` and ``ha_member_state`` events:

* ``carried``: intervals of which member carried the traffic (member, start, end, duration).
  Active-standby: the active member between two switches. Active-active: every usable member
  carries its share of the flows, so intervals of different members overlap.
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

if TYPE_CHECKING:
    from rich.console import Console

    from ..result import Result


def _interval(member: str | None, start: float, end: float) -> dict[str, Any]:
    out: dict[str, Any] = {} if member is None else {"member": member}
    return {**out, "start": round(start, 6), "end": round(end, 6), "duration": round(end - start, 6)}


def ha_summary(result: Result) -> dict[str, Any]:
    end = result.duration
    out: dict[str, Any] = {}
    for g in result.scenario.config.ha:
        mine = [e for e in result.events if e.peer == g.name and e.event in ("ha_switch", "ha_member_state")]
        carried: list[dict[str, Any]] = []
        unavailable: list[dict[str, Any]] = []
        usable: dict[str, float | None] = {m: None for m in g.members}  # usable since
        none_since: float | None = 0.0
        active: str | None = None
        since = 0.0
        switches = 0
        for e in mine:
            if e.event == "ha_member_state":
                m = e.get("member")
                if e.get("usable"):
                    usable[m] = e.t
                else:
                    if g.mode == "active-active" and usable[m] is not None:
                        carried.append(_interval(m, usable[m], e.t))  # type: ignore[arg-type]
                    usable[m] = None
                anyone = any(v is not None for v in usable.values())
                if anyone and none_since is not None:
                    unavailable.append(_interval(None, none_since, e.t))
                    none_since = None
                elif not anyone and none_since is None:
                    none_since = e.t
            else:
                old, new = e.get("from"), e.get("to")
                if old is not None and new is not None:
                    switches += 1
                if g.mode == "active-standby":
                    if active is not None:
                        carried.append(_interval(active, since, e.t))
                    active, since = new, e.t
        if g.mode == "active-standby" and active is not None:
            carried.append(_interval(active, since, end))
        if g.mode == "active-active":
            carried += [_interval(m, t, end) for m, t in usable.items() if t is not None]
            carried.sort(key=lambda c: (c["start"], g.members.index(c["member"])))
        if none_since is not None:
            unavailable.append(_interval(None, none_since, end))
        carried = [c for c in carried if c["duration"] > 0]
        unavailable = [u for u in unavailable if u["duration"] > 0]
        out[g.name] = {
            "mode": g.mode, "members": list(g.members), "preempt": g.preempt, "watch": list(g.watch),
            "carried": carried,
            "time_by_member": {m: float(round(sum(c["duration"] for c in carried if c["member"] == m), 6))
                               for m in g.members},
            "switches": switches,
            "unavailable": unavailable,
            "unavailable_total": float(round(sum(u["duration"] for u in unavailable), 6)),
            **({"active_at_end": active} if g.mode == "active-standby" else {}),
        }
    return out


def render_ha(summary: dict[str, Any], console: Console) -> None:
    """The final state's lines: per group, who carried the traffic when."""
    for name, g in (summary.get("ha") or {}).items():
        head = f"  [bold]HA group {escape(name)}[/] ({g['mode']}, members {', '.join(g['members'])}): " \
               f"{g['switches']} switch{'es' if g['switches'] != 1 else ''}, no usable member for " \
               f"{g['unavailable_total']:g} s"
        console.print(head)
        for c in g["carried"][:20]:
            console.print(f"    {c['start']:.3f} - {c['end']:.3f} s ({c['duration']:g} s): {escape(c['member'])}")
        if len(g["carried"]) > 20:
            console.print(f"    ... {len(g['carried']) - 20} more")
