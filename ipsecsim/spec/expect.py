"""A scenario's ``expect:`` entries as plain frozen values (config/expect.py validates them;
config/runspec.py turns them into these), so that checking a run reads its description only."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class BoundSpec:
    """A ``summary:`` expectation's value and bounds (config/expect.py ``SummaryBound``)."""

    path: str
    min: float | None
    max: float | None
    equals: Any
    equals_given: bool
    """Whether ``equals`` was written (``equals: null`` is a requirement, no ``equals`` none)."""


@dataclass(frozen=True, slots=True)
class ExpectSpec:
    """One ``expect:`` entry (config/expect.py ``Expectation``): exactly one of an event, a
    status or a summary requirement."""

    kind: str
    """``event``, ``status`` or ``summary``."""
    event: str | None
    peer: str | None
    filters: dict[str, Any]
    """Field filters of an event expectation (``where`` plus the inline keys)."""
    window: tuple[float | None, float | None]
    count: int | None
    at_least: int | None
    at_most: int | None
    never: bool
    status: dict[str, str] | None
    summary: BoundSpec | None
    label: str | None
    written_as: dict[str, Any] = field(default_factory=dict, compare=False)
    """The entry as it was written."""

    def written(self) -> dict[str, Any]:
        """The entry as it was written (for reports and JSON); a copy, to change at will."""
        return copy.deepcopy(self.written_as)
