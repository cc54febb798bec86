"""The event vocabulary as data: every event name, its fields and their closed value sets.

The vocabulary is defined by the typed event kinds (``ipsecsim.proto.events``: one frozen
dataclass per event, a docstring under each field); this module derives the registry that
code checks against from them, so that an ``expect:`` block or ``Result.events_named`` with
a misspelt event, field or value is an error that names the allowed ones, instead of an
expectation that silently never matches. docs/events.md is generated from the same kinds
(``python -m ipsecsim.eventdocs``; a test keeps it current).

Whoever adds an event adds one dataclass to ``proto/events`` (and a formatter to
``trace.timeline.FORMATTERS``), then regenerates docs/events.md.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .proto.events import KINDS, EventKind
from .proto.events.record import layout
from .proto.events.values import BGP_STATES, IKEV1_NOTIFY_NAMES, NOTIFY_NAMES, STATUSES

__all__ = ["BGP_STATES", "EVENTS", "IKEV1_NOTIFY_NAMES", "NOTIFY_NAMES", "NUMERIC_FIELDS", "STATUSES", "EventSpec",
           "VocabularyError", "check_fields", "spec", "suggest"]


@dataclass(frozen=True, slots=True)
class EventSpec:
    name: str
    fields: tuple[str, ...]
    doc: str
    values: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)


def field_names(kind: type[EventKind]) -> tuple[str, ...]:
    """The fields an event of ``kind`` can carry, in record order (a flattened mapping's keys in place)."""
    out: list[str] = []
    for _attr, key, flat in layout(kind):
        out.extend(kind.KEYS if flat else (key,))
    return tuple(out)


def _numeric(annotation: object) -> bool:
    parts = {p.strip() for p in str(annotation).split("|")} - {"None"}
    return bool(parts) and parts <= {"int", "float"}


EVENTS: dict[str, EventSpec] = {
    name: EventSpec(name, field_names(kind), " ".join((kind.__doc__ or "").split()), dict(kind.VALUES))
    for name, kind in KINDS.items()}

NUMERIC_FIELDS = frozenset(
    {f.name.rstrip("_") for kind in KINDS.values() for f in dataclasses.fields(kind) if _numeric(f.type)}
    | {key for kind in KINDS.values() for key in kind.NUMERIC_KEYS})
"""Fields whose values are numbers (or null) wherever they occur: an expectation comparing one
with text can never match, so it is refused."""


class VocabularyError(ValueError):
    """An unknown event name, field or value; the message names the allowed ones."""


def suggest(word: str, choices: Iterable[str]) -> str:
    """``; did you mean X?`` when a close match exists, else an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def spec(name: str) -> EventSpec:
    """The registered event ``name``, or a VocabularyError naming the known events."""
    if not isinstance(name, str) or name not in EVENTS:
        raise VocabularyError(f"unknown event {name!r}{suggest(str(name), EVENTS)} "
                              f"(known events, docs/events.md: {', '.join(EVENTS)})")
    return EVENTS[name]


def check_fields(name: str, fields: Mapping[str, Any]) -> None:
    """Every key of ``fields`` is a field of event ``name`` and every value is allowed."""
    s = spec(name)
    for key, value in fields.items():
        if key not in s.fields:
            raise VocabularyError(f"event {name} has no field {key!r}{suggest(key, s.fields)} "
                                  f"(its fields: {', '.join(s.fields)})")
        if key in NUMERIC_FIELDS and value is not None and (isinstance(value, bool) or
                                                            not isinstance(value, int | float)):
            raise VocabularyError(f"{name}.{key} is a number, got {value!r}")
        allowed = s.values.get(key)
        if allowed is not None and value not in allowed:
            shown = ", ".join("null" if a is None else str(a) for a in allowed[:12])
            if len(allowed) > 12:
                shown += f" ... ({len(allowed)} values, docs/events.md)"
            hint = suggest(str(value), [str(a) for a in allowed if a is not None])
            raise VocabularyError(f"{value!r} is not a value of {name}.{key}{hint} (allowed: {shown})")
