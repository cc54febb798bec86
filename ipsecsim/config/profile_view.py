"""``ipsecsim profiles show NAME``: every effective default of a profile with its source."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape

from .model import PeerConfig
from .profiles import Profile

_SKIP = {"profile", "address", "remote_address", "local_subnets", "remote_subnets"}


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
            out[path] = f.get_default(call_default_factory=True)
    return out


def show(p: Profile, console: Console) -> None:
    console.print(f"[bold]{escape(p.name)}[/]: {escape(p.title)}")
    if p.description:
        console.print(escape(p.description))
    console.print()
    for path, default in leaf_defaults().items():
        s = p.settings.get(path)
        if s is not None:
            mark = " [yellow](assumption)[/]" if s.assumption else ""
            console.print(f"  {path:<28} {escape(str(s.value)):<28} {escape(p.source_text(s.source))}{mark}")
            if s.note:
                console.print(f"  {'':<28} [dim]{escape(s.note)}[/]")
        else:
            console.print(f"  {path:<28} {escape(str(default)):<28} [dim]not set by this profile: "
                          f"ipsecsim default, no vendor source[/]")
    if p.limits:
        console.print("\n  [bold]accepted ranges[/]")
        for path, lim in p.limits.items():
            console.print(f"  {path:<28} {lim.min} - {lim.max}  {escape(p.source_text(lim.source))}")
