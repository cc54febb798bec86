"""The ``expect:`` block of a scenario file: what a run must show (docs/expectations.md).

Three kinds of expectation, told apart by their key:

* ``event:`` - an event happens (or not), optionally at one peer, with given field values,
  inside a time window, a number of times::

      - {event: peer_dead, peer: A, between: [26s, 28s]}
      - {event: negotiation_failed, peer: A, notify: AUTHENTICATION_FAILED}
      - {event: child_sa_established, never: true}
      - {event: message_sent, peer: A, exchange: IKE_SA_INIT, count: 6}

  Field filters are written inline (``notify: ...``) or under ``where:``; both are checked
  against the event registry (``ipsecsim.vocabulary``), so a misspelt event, field or value is
  an error, never an expectation that silently cannot match.
* ``status:`` - each named peer's status at the end of the run:
  ``{status: {A: ipsec_sa_established}}``.
* ``summary:`` - a number in the ``--json`` summary within bounds, units as everywhere:
  ``{summary: {path: peers.A.messages.retransmitted, max: 3}}``.

Peer names are checked against the scenario's peers by ``ScenarioConfig``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from .. import vocabulary as V
from ..errors import shown
from .units import Duration, parse_duration, parse_size

EVENT_KEYS = ("peer", "between", "after", "before", "count", "at_least", "at_most", "never", "where")
KINDS = ("event", "status", "summary")


def parse_bound(value: Any) -> float | int:
    """A number, or a duration (``30s``) or size (``20GB``) string, as seconds or bytes."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a number, a duration (30s) or a size (20GB), got {shown(value)}")
    if isinstance(value, int | float):
        if not abs(value) < 1e300:
            raise ValueError(f"expected a finite number, got {shown(value)}")
        return value
    for parse in (parse_duration, parse_size):
        try:
            return parse(value)
        except ValueError:
            pass
    raise ValueError(f"expected a number, a duration (30s) or a size (20GB), got {shown(value)}")


_BOUND_SCHEMA = {"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "null"}],
                 "description": "a number, a duration (30s) or a size (20GB)"}


class SummaryBound(BaseModel):
    """A value of the run summary (``ipsecsim run --json``) and the bounds it must respect."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)

    path: str = Field(description="dotted path into the summary, e.g. peers.A.messages.retransmitted; "
                      "list items by index: peers.A.failures.0.notify")
    min: Annotated[float | int | None, WithJsonSchema(_BOUND_SCHEMA)] = Field(
        None, description="lowest allowed value (number, duration or size)")
    max: Annotated[float | int | None, WithJsonSchema(_BOUND_SCHEMA)] = Field(
        None, description="highest allowed value (number, duration or size)")
    equals: Any = Field(None, description="the exact value required (null, a string, a number, or a duration / "
                        "size such as 1s or 20GB, compared as a number)")

    @property
    def equals_given(self) -> bool:
        """Whether ``equals`` was written (``equals: null`` is a requirement, no ``equals`` none)."""
        return "equals" in self.model_fields_set

    @field_validator("min", "max", mode="before")
    @classmethod
    def _bound(cls, v: Any) -> Any:
        return None if v is None else parse_bound(v)

    @field_validator("equals", mode="before")
    @classmethod
    def _equals(cls, v: Any) -> Any:
        """A string with a unit (1s, 20GB) means its number; other strings stay strings."""
        if isinstance(v, str):
            try:
                return parse_bound(v)
            except ValueError:
                return v
        return v

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        parts = v.split(".")
        if not v or any(not p.strip() for p in parts):
            raise ValueError(f"summary path {shown(v)} must be dotted keys such as peers.A.messages.retransmitted")
        return v

    @model_validator(mode="after")
    def _some_bound(self) -> SummaryBound:
        if "equals" not in self.model_fields_set and self.min is None and self.max is None:
            raise ValueError("a summary expectation needs min, max or equals")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is greater than max {self.max:g}")
        return self


class Expectation(BaseModel):
    """One entry of ``expect:``. Exactly one of ``event``, ``status``, ``summary``."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False, strict=True)

    event: str | None = Field(None, description="event name from docs/events.md; other keys of the entry "
                              "that are not listed here filter on the event's fields (notify: ...)")
    peer: str | None = Field(None, description="only events at this peer ('link' for link faults, an HA "
                             "group's name for its events)")
    between: tuple[Duration, Duration] | None = Field(None, strict=False,
                                                      description="[from, to], inclusive, simulated time")
    after: Duration | None = Field(None, description="only events at or after this time")
    before: Duration | None = Field(None, description="only events at or before this time")
    count: int | None = Field(None, ge=0, description="exactly this many matching events")
    at_least: int | None = Field(None, ge=0, description="at least this many matching events")
    at_most: int | None = Field(None, ge=0, description="at most this many matching events")
    never: bool = Field(False, description="no matching event at all")
    where: dict[str, Any] = Field(default_factory=dict, description="field filters (same as inline keys)")
    status: dict[str, str] | None = Field(None, description="peer -> status at the end of the run")
    summary: SummaryBound | None = Field(None, description="a summary value and its bounds")
    label: str | None = Field(None, description="a name for this expectation in reports")

    @property
    def kind(self) -> str:
        return next(k for k in KINDS if getattr(self, k) is not None)

    @property
    def filters(self) -> dict[str, Any]:
        """Field filters of an event expectation: ``where`` plus the inline keys."""
        return {**self.where, **(self.model_extra or {})}

    @property
    def window(self) -> tuple[float | None, float | None]:
        if self.between is not None:
            return self.between
        return self.after, self.before

    @model_validator(mode="after")
    def _consistent(self) -> Expectation:
        given = [k for k in KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            extra = list(self.model_extra or {})
            hint = ""
            if extra and not given:
                hint = f" (got keys: {', '.join(extra)}{V.suggest(extra[0], (*KINDS, *EVENT_KEYS))})"
            raise ValueError(f"an expectation needs exactly one of event, status, summary; "
                             f"got {', '.join(given) or 'none'}{hint}")
        if self.event is None:
            used = [k for k in EVENT_KEYS if k in self.model_fields_set] + list(self.model_extra or {})
            if used:
                raise ValueError(f"{', '.join(used)}: only allowed with event:, not with {given[0]}: "
                                 f"(keys of a {given[0]} expectation: {given[0]}, label)")
            if self.status is not None:
                self._check_status()
            return self
        try:
            fields = V.spec(self.event).fields
            for key in self.filters:
                if key not in fields:
                    hint = V.suggest(key, (*fields, *EVENT_KEYS, "label"))
                    raise ValueError(f"unknown key {shown(key)}{hint} (expectation keys: {', '.join(EVENT_KEYS)}, "
                                     f"label; fields of {self.event}: {', '.join(fields)})")
            V.check_fields(self.event, self.filters)
            payloads = self.filters.get("payloads")
            if isinstance(payloads, list) and any(isinstance(p, bool) for p in payloads):
                raise ValueError("payloads lists payload names as strings; YAML reads an unquoted No (the "
                                 "nonce payload) as false: write \"No\"")
        except V.VocabularyError as e:
            raise ValueError(str(e)) from None
        self._check_counts()
        self._check_window()
        return self

    def _check_status(self) -> None:
        assert self.status is not None
        if not self.status:
            raise ValueError("status: names at least one peer, e.g. {A: ipsec_sa_established}")
        for peer, st in self.status.items():
            if st not in V.STATUSES:
                raise ValueError(f"status of {peer}: {shown(st)} is not a status{V.suggest(st, V.STATUSES)} "
                                 f"(allowed: {', '.join(V.STATUSES)})")

    def _check_counts(self) -> None:
        if self.never and {"count", "at_least", "at_most"} & self.model_fields_set:
            raise ValueError("never: true cannot be combined with count, at_least or at_most")
        if self.count is not None and (self.at_least is not None or self.at_most is not None):
            raise ValueError("count is exact; do not combine it with at_least or at_most")
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise ValueError(f"at_least {self.at_least} is greater than at_most {self.at_most}")

    def _check_window(self) -> None:
        if self.between is not None:
            if self.after is not None or self.before is not None:
                raise ValueError("between is [after, before]; do not combine it with after or before")
            if self.between[0] > self.between[1]:
                raise ValueError(f"between [{self.between[0]:g}s, {self.between[1]:g}s] ends before it starts")
        elif self.after is not None and self.before is not None and self.after > self.before:
            raise ValueError(f"after {self.after:g}s is later than before {self.before:g}s")

    def peers_named(self) -> list[tuple[str, str]]:
        """(key, peer name) pairs this expectation refers to, for the scenario to check."""
        out: list[tuple[str, str]] = []
        if self.peer is not None:
            out.append(("peer", self.peer))
        for name in self.status or {}:
            out.append(("status", name))
        if self.summary is not None:
            parts = self.summary.path.split(".")
            if parts[0] == "peers" and len(parts) > 1:
                out.append(("summary.path", parts[1]))
        return out

    def written(self) -> dict[str, Any]:
        """The expectation as it was written (for reports and JSON)."""
        return self.model_dump(exclude_unset=True, exclude_none=False, mode="json")


def parse_expectations(entries: Sequence[Mapping[str, Any] | Expectation], peers: Sequence[str],
                       groups: Sequence[str] = ()) -> list[Expectation]:
    """Validate ``expect:`` entries given from Python, as the scenario loader would (ConfigError).
    ``groups``: the scenario's HA group names, which ``peer:`` may name (their events)."""
    from ..errors import ConfigError
    out = []
    for i, entry in enumerate(entries):
        try:
            e = entry if isinstance(entry, Expectation) else Expectation.model_validate(entry)
        except ValidationError as err:
            first = err.errors()[0]
            loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
            msg = first["msg"].removeprefix("Value error, ")
            raise ConfigError(None, f"expect[{i}]{loc}", msg) from None
        for key, name in e.peers_named():
            if name not in peers and not (key == "peer" and (name == "link" or name in groups)):
                raise ConfigError(None, f"expect[{i}].{key}", f"{shown(name)} is not a peer of this scenario "
                                  f"(peers: {', '.join(peers)})")
        out.append(e)
    return out
