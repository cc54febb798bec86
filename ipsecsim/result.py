"""The outcome of one run, as plain data: the events, each peer's final state and counters,
the packets put on the wire; the summary and the checks are computed from these.

For pytest users (docs/api.md): ``select`` / ``first`` filter events leniently,
``events_named`` / ``times`` check the event name and fields against the vocabulary (a typo
raises instead of matching nothing), ``summary_value`` reads one summary value by path, and
``check`` / ``assert_expectations`` evaluate ``expect:`` entries - the scenario's own or
ones given from Python.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .proto.events import Event
from .proto.final import PeerFinal
from .spec import RunSource

if TYPE_CHECKING:
    from .check.evaluate import CheckResult
    from .config.expect import Expectation


@dataclass
class Result:
    scenario: RunSource
    """What was run: the loaded scenario (config/loader.py ``Scenario``) or a live run's; its
    ``spec`` is the run description the traces and checks read."""
    seed: int
    duration: float
    events: list[Event]
    peers: dict[str, PeerFinal]
    """Each peer's final state and counters (plain data: no live core is kept)."""
    transmissions: list[Any] = field(default_factory=list)
    """Every datagram put on the wire (``sim.link.Transmission``), for packet traces."""
    esp: list[Any] = field(default_factory=list)
    """Every discrete ESP packet put on the wire (``sim.link.EspSent``), for packet traces."""
    fluids: list[Any] = field(default_factory=list)
    """Every state of a fluid (bulk) flow put on the wire: (time, sender, ``EspFluid``)."""
    link_dropped: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    """What the link dropped: (flow, reason) -> (bytes, packets), unrounded."""
    forwarded: dict[str, list[float]] = field(default_factory=dict)
    """Per flow: bytes and packets the link passed on towards a gateway (``sim.link``)."""
    clock: str = "simulated"
    """``simulated``, or ``wall-clock`` for a live run (``ipsecsim live``, one real peer)."""
    bgp: dict[str, Any] = field(default_factory=dict)
    """Per peer with a BGP session, its state at the end (sim/bgp.py ``BgpNetwork.snapshot``)."""
    crypto: str = "real"
    """``real``, or ``model`` (``ipsecsim run --crypto model``: key exchange from hashes, proto/dh.py)."""

    def select(self, event: str | None = None, peer: str | None = None, **fields: Any) -> list[Event]:
        """Events matching a name, a peer and field values."""
        return [e for e in self.events
                if (event is None or e.event == event) and (peer is None or e.peer == peer)
                and all(e.fields.get(k) == v for k, v in fields.items())]

    def first(self, event: str, peer: str | None = None, **fields: Any) -> Event | None:
        found = self.select(event, peer, **fields)
        return found[0] if found else None

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def status(self, peer: str) -> str:
        return str(self.peers[peer].status["status"])

    def summary(self) -> dict[str, Any]:
        from .trace.summary import summarize
        return summarize(self)

    def events_named(self, event: str, peer: str | None = None, **fields: Any) -> list[Event]:
        """Events called ``event`` (at ``peer``, with these field values), in time order.

        Unlike ``select``, the name, the fields and closed-set values are checked against the
        event vocabulary (docs/events.md) and the peer against the scenario: a misspelling
        raises ValueError naming the allowed values instead of returning an empty list.
        """
        from .vocabulary import check_fields
        check_fields(event, fields)
        groups = [g.name for g in self.scenario.spec.ha]
        if peer is not None and peer not in self.peers and peer != "link" and peer not in groups:
            raise ValueError(f"{peer!r} is not a peer of this scenario (peers: {', '.join(self.peers)}, "
                             f"{''.join(g + ', ' for g in groups)}link)")
        return self.select(event, peer, **fields)

    def times(self, event: str, peer: str | None = None, **fields: Any) -> list[float]:
        """The simulated times of ``events_named(event, peer, **fields)``, in seconds."""
        return [e.t for e in self.events_named(event, peer, **fields)]

    def summary_value(self, path: str) -> Any:
        """One value of the summary by dotted path, e.g. ``peers.A.messages.retransmitted``."""
        from .check.evaluate import summary_value
        return summary_value(self.summary(), path)

    def check(self, expectations: Sequence[Mapping[str, Any] | Expectation] | None = None) -> CheckResult:
        """Evaluate ``expectations`` (entries written as in an ``expect:`` block), or by default
        the scenario's own ``expect:`` block. Bad entries raise ConfigError."""
        from .check.evaluate import evaluate
        from .config.expect import parse_expectations
        groups = [g.name for g in self.scenario.spec.ha]
        exps = None if expectations is None else parse_expectations(expectations, list(self.peers), groups)
        return evaluate(self, exps)

    def assert_expectations(self, expectations: Sequence[Mapping[str, Any] | Expectation] | None = None) -> None:
        """Like ``check``, raising AssertionError with the readable diff when one is not met."""
        report = self.check(expectations)
        if not report.passed:
            raise AssertionError(f"{self.scenario.name} (seed {self.seed}): {report.text()}")
