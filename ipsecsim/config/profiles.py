"""Vendor profiles: data files of defaults, each value with its source.

A profile (``config/profiles/NAME.yaml``) has ``settings`` - dotted paths into a peer's
configuration (``retransmit.timeout``) with ``value``, ``source`` (a key of ``sources``),
an optional ``note`` and ``assumption: true`` where no document gives the value - and
``limits``, the ranges the vendor's API accepts (``{min, max, source}``), checked after the
scenario's own values are applied.

``documented`` holds sourced vendor values for settings the simulator does not model yet
(DPD timers, NQA, health checks, soft-expiry margins ...), in the same form as ``settings``.
They are shown by ``ipsecsim profiles show`` under their own heading and never applied; when
the model gains such a setting, the entry moves to ``settings``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from ..errors import ConfigError, shown


@dataclass(frozen=True)
class Setting:
    path: str
    value: Any
    source: str
    note: str = ""
    assumption: bool = False


@dataclass(frozen=True)
class Limit:
    path: str
    min: Any = None
    max: Any = None
    source: str = ""
    note: str = ""


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    description: str
    sources: dict[str, str]
    settings: dict[str, Setting] = field(default_factory=dict)
    limits: dict[str, Limit] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    documented: dict[str, Setting] = field(default_factory=dict)
    """Sourced vendor values the simulator does not model yet (shown, never applied)."""

    def nested(self) -> dict[str, Any]:
        """The settings as a nested dict, ready to be merged under a peer's own values."""
        out: dict[str, Any] = {}
        for s in self.settings.values():
            node = out
            *parents, leaf = s.path.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = s.value
        return out

    def source_text(self, key: str) -> str:
        return self.sources.get(key, key)


def _dir() -> Any:
    return resources.files("ipsecsim.config") / "profiles"


_LISTED: dict[str, tuple[str, ...]] = {}
"""The profiles of a directory, listed once (the loader asks once per peer)."""


def names() -> list[str]:
    d = _dir()
    key = str(d)
    if key not in _LISTED:
        _LISTED[key] = tuple(sorted(p.name[:-5] for p in d.iterdir() if p.name.endswith(".yaml")))
    return list(_LISTED[key])


@functools.cache
def load(name: str) -> Profile:
    if name not in names():
        from ..vocabulary import suggest
        hint = suggest(name, names()) if isinstance(name, str) else ""
        raise ConfigError(None, "profile", f"unknown profile {shown(name)}; available: {', '.join(names())}{hint}")
    fname = f"profiles/{name}.yaml"
    data = yaml.safe_load((_dir() / f"{name}.yaml").read_text(encoding="utf-8"))
    sources = data.get("sources") or {}
    settings = _settings(fname, "settings", data.get("settings"), sources)
    documented = _settings(fname, "documented", data.get("documented"), sources)
    limits = {}
    for path, spec in (data.get("limits") or {}).items():
        src = spec.get("source", "")
        if src not in sources:
            raise ConfigError(fname, f"limits.{path}.source", f"{shown(src)} is not one of the profile's sources")
        limits[path] = Limit(path, spec.get("min"), spec.get("max"), src, spec.get("note", ""))
    known = {"name", "title", "description", "sources", "settings", "limits", "documented"}
    return Profile(data["name"], data.get("title", name), (data.get("description") or "").strip(), sources,
                   settings, limits, {k: v for k, v in data.items() if k not in known}, documented)


def _settings(fname: str, section: str, raw: Any, sources: dict[str, str]) -> dict[str, Setting]:
    out = {}
    for path, spec in (raw or {}).items():
        if not isinstance(spec, dict) or "value" not in spec:
            raise ConfigError(fname, f"{section}.{path}", "needs 'value' and 'source'")
        src = spec.get("source", "")
        if src not in sources:
            raise ConfigError(fname, f"{section}.{path}.source", f"{shown(src)} is not one of the profile's sources")
        unknown = set(spec) - {"value", "source", "note", "assumption"}
        if unknown:
            raise ConfigError(fname, f"{section}.{path}", f"unknown key(s) {', '.join(sorted(unknown))}; "
                              "allowed: value, source, note, assumption")
        out[path] = Setting(path, spec["value"], src, spec.get("note", ""), bool(spec.get("assumption")))
    return out
