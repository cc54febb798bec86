"""Timeline lines for the BGP events (docs/events.md, "BGP over the tunnels")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.markup import escape

from ..proto.events import Event


def _state(e: Event) -> str:
    to = str(e.get("to"))
    colour = "bold green" if to == "Established" else "bold red" if e.get("from") == "Established" else "cyan"
    up = f", up for {e.get('up_for'):g} s" if e.get("up_for") is not None else ""
    return (f"[{colour}]BGP {escape(str(e.get('from')))} → {escape(to)}[/] with {escape(str(e.get('neighbor')))} "
            f"({escape(str(e.get('trigger')))}: {escape(str(e.get('reason')))}{up})")


def _open(e: Event) -> str:
    arrow = "sent" if e.get("direction") == "sent" else "received"
    return (f"BGP OPEN {arrow}: AS {e.get('asn')}, hold time {e.get('hold_time')} s, "
            f"identifier {escape(str(e.get('router_id')))}")


def _notification(e: Event) -> str:
    return (f"[bold red]BGP NOTIFICATION {e.get('code')}/{e.get('subcode')} {escape(str(e.get('direction')))}[/] "
            f"({escape(str(e.get('name')))})")


def _update(e: Event) -> str:
    parts = []
    if e.get("advertised"):
        parts.append(f"advertises {', '.join(e.get('advertised'))} (AS path {' '.join(map(str, e.get('as_path')))})")
    if e.get("withdrawn"):
        parts.append(f"withdraws {', '.join(e.get('withdrawn'))}")
    return f"BGP UPDATE {escape(str(e.get('direction')))}: {escape('; '.join(parts) or 'empty')}"


def _best(e: Event) -> str:
    to = e.get("to")
    if to is None:
        return f"[bold red]BGP: no route for {escape(str(e.get('flow')))}[/] (was via {escape(str(e.get('from')))})"
    return (f"[bold magenta]BGP best path for {escape(str(e.get('flow')))}: {escape(str(e.get('from')))} → "
            f"{escape(str(to))}[/] ({escape(str(e.get('reason')))})")


def _bfd(e: Event) -> str:
    to = str(e.get("to"))
    colour = "bold green" if to == "Up" else "bold red" if e.get("from") == "Up" else "cyan"
    detect = f", detection time {e.get('detection_time'):g} s" if e.get("detection_time") is not None else ""
    diag = f", diagnostic {e.get('diag')} {e.get('diag_name')}" if e.get("diag") else ""
    return (f"[{colour}]BFD {escape(str(e.get('from')))} → {escape(to)}[/] with {escape(str(e.get('neighbor')))} "
            f"({escape(str(e.get('reason')))}{escape(diag)}{detect})")


FORMATTERS: dict[str, Callable[[Event, Any], tuple[str, str]]] = {
    "bgp_state": lambda e, n: (e.peer, _state(e)),
    "bgp_open": lambda e, n: (e.peer, _open(e)),
    "bgp_notification": lambda e, n: (e.peer, _notification(e)),
    "bgp_update": lambda e, n: (e.peer, _update(e)),
    "bgp_best_path": lambda e, n: (e.peer, _best(e)),
    "bfd_state": lambda e, n: (e.peer, _bfd(e)),
}
