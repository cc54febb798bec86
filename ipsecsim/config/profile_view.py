"""``ipsecsim profiles show NAME``: every effective default of a profile with its source.

Four parts, each a table that wraps to the terminal: the defaults the profile sets (value,
source reference, note; assumptions marked), the ranges the vendor accepts, the documented
vendor values the simulator does not apply yet, and the ipsecsim defaults the profile leaves
alone. Sources are printed once at the end as a numbered list, and referred to by number.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .model import PeerConfig
from .profiles import Profile, Setting
from .units import format_duration, parse_duration

_SKIP = {"profile", "address", "remote_address", "local_subnets", "remote_subnets", "import_", "remote_peer"}


def leaf_defaults(model: type[BaseModel] = PeerConfig, prefix: str = "") -> dict[str, Any]:
    """Dotted path -> model default for every leaf field of a peer."""
    out: dict[str, Any] = {}
    for name, f in model.model_fields.items():
        path = f"{prefix}{name}"
        if not prefix and name in _SKIP:
            continue
        ann = f.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.update(leaf_defaults(ann, path + "."))
        else:
            out[path] = REQUIRED if f.is_required() else f.get_default(call_default_factory=True)
    return out


class _Required:
    def __repr__(self) -> str:
        return "required"


REQUIRED = _Required()
"""A field every scenario gives itself (the pre-shared key): no default anywhere."""


def _is_duration(path: str, model: type[BaseModel] = PeerConfig) -> bool:
    """Whether the peer field at ``path`` is a duration (annotated with ``parse_duration``)."""
    current: Any = model
    for part in path.split("."):
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return False
        f = current.model_fields[part]
        if any(getattr(m, "func", None) is parse_duration for m in f.metadata):
            return True
        current = f.annotation
    args = typing.get_args(current)
    return any(any(getattr(m, "func", None) is parse_duration for m in getattr(a, "__metadata__", ())) for a in args)


def fmt_value(value: Any, duration: bool = False) -> str:
    if value is None:
        return "unset"
    if value is REQUIRED:
        return "required (no default)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(fmt_value(v, duration) for v in value) if value else "none"
    if duration and isinstance(value, int | float):
        return format_duration(float(value))
    if isinstance(value, str) and value == "":
        return '""'
    return str(value)


def _table(*headers: str) -> Table:
    t = Table(box=None, show_header=True, header_style="dim", pad_edge=False, padding=(0, 2, 0, 0),
              expand=False)
    t.add_column(headers[0], no_wrap=True)
    t.add_column(headers[1], overflow="fold", max_width=32)
    t.add_column(headers[2], no_wrap=True)
    if len(headers) > 3:
        t.add_column(headers[3], overflow="fold", ratio=1)
    return t


def _note(s: Setting) -> str:
    text = escape(s.note)
    if s.assumption:
        text = "[yellow]assumption[/]" + (f": {text}" if text else "")
    return text


def show(p: Profile, console: Console) -> None:
    """Print the profile; lines are stripped of the tables' trailing padding."""
    soft_wrap, console.soft_wrap = console.soft_wrap, False
    try:
        with console.capture() as capture:
            _show(p, console)
    finally:
        console.soft_wrap = soft_wrap
    console.file.write("".join(line.rstrip() + "\n" for line in capture.get().splitlines()))


_BGP_FALLBACK = {
    "hold_time": ("RFC 4271 10", "suggested hold time 90 s"),
    "keepalive": ("RFC 4271 10", "a third of the hold time"),
    "connect_retry": ("RFC 4271 10", "suggested ConnectRetryTime 120 s"),
    "sa_down": ("ipsecsim", "the tunnel interface stays up when its SA goes: the hold timer decides"),
    "idle_hold": ("ipsecsim", "assumption: RFC 4271 8.1.1 leaves the IdleHoldTime to the implementation"),
}


def _show_bgp(p: Profile, console: Console, ref: typing.Callable[[str], str]) -> None:
    """The defaults of a peer's ``bgp:`` section (docs/bgp.md): the profile's, each with its
    source, then RFC 4271's suggestions and ipsecsim's own for the keys the profile leaves alone."""
    from .bgp import RFC_DEFAULTS
    own = p.extra.get("bgp") or {}
    console.print("\n[bold]BGP defaults[/] [dim](for a peer's bgp: section, which overrides them; docs/bgp.md)[/]")
    t = _table("setting", "value", "source", "note")
    for key, spec in own.items():
        setting = Setting(f"bgp.{key}", spec["value"], spec.get("source", ""), spec.get("note", ""),
                          bool(spec.get("assumption")))
        t.add_row(escape(f"bgp.{key}"), escape(fmt_value(setting.value)), escape(ref(setting.source)), _note(setting))
    for key, value in RFC_DEFAULTS.items():
        if key in own:
            continue
        source, note = _BGP_FALLBACK[key]
        shown = "hold time / 3" if value is None else fmt_value(value, key != "sa_down")
        t.add_row(escape(f"bgp.{key}"), escape(shown), escape(source), escape(note))
    console.print(t)


def _show(p: Profile, console: Console) -> None:
    refs = {key: i for i, key in enumerate(p.sources, 1)}

    def ref(key: str) -> str:
        return f"[{refs[key]}]" if key in refs else escape(key)

    console.print(f"[bold]{escape(p.name)}[/]: {escape(p.title)}")
    if p.description:
        console.print(escape(p.description))
    defaults = leaf_defaults()

    console.print("\n[bold]Defaults set by this profile[/] [dim](a peer's own keys override them)[/]")
    if p.settings:
        t = _table("setting", "value", "source", "note")
        for path in [*[k for k in defaults if k in p.settings], *[k for k in p.settings if k not in defaults]]:
            s = p.settings[path]
            t.add_row(escape(path), escape(fmt_value(s.value)), escape(ref(s.source)), _note(s))
        console.print(t)
    else:
        console.print("  [dim]none[/]")

    if p.limits:
        console.print("\n[bold]Accepted ranges[/] [dim](checked against a peer's effective values)[/]")
        t = _table("setting", "range", "source", "note")
        for path, lim in p.limits.items():
            t.add_row(escape(path), escape(f"{fmt_value(lim.min)} - {fmt_value(lim.max)}"), escape(ref(lim.source)),
                      escape(lim.note))
        console.print(t)

    if p.documented:
        console.print("\n[bold]Documented vendor values not yet applied by the simulator[/] "
                      "[dim](shown for reference; the simulation does not use them)[/]")
        t = _table("setting", "value", "source", "note")
        for path, s in p.documented.items():
            t.add_row(escape(path), escape(fmt_value(s.value)), escape(ref(s.source)), _note(s))
        console.print(t)

    _show_bgp(p, console, ref)

    unset = {k: v for k, v in defaults.items() if k not in p.settings}
    if unset:
        console.print("\n[bold]ipsecsim defaults[/] [dim](not set by this profile: no vendor source)[/]")
        t = _table("setting", "value", "")
        for path, v in unset.items():
            t.add_row(escape(path), escape(fmt_value(v, _is_duration(path))), "")
        console.print(t)

    console.print("\n[bold]Sources[/]")
    t = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1, 0, 0))
    t.add_column(no_wrap=True)
    t.add_column(overflow="fold", ratio=1)
    for key, text in p.sources.items():
        t.add_row(escape(f"[{refs[key]}]"), f"{escape(key)}: {escape(text)}")
    console.print(t)
