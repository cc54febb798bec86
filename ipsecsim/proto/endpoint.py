"""One IKE peer as a sans-IO object: the surface every driver uses.

Shaped after aioquic's ``QuicConnection``: a driver calls ``start(now)``,
``receive(datagram, now)`` and ``handle_timer(now)``; it reads back ``take_datagrams()``,
``take_events()`` and ``get_timer()`` (the earliest deadline) and re-arms one timer from it.
Nothing here knows about SimPy, sockets or the wall clock.

Timers are hints (strongSwan's jobs): each entry names a handler and carries ids, never SA
objects; the handler re-checks that what it is about to act on is still current (message id
in flight, SA generation), so a driver never has to cancel a timer.

The protocol itself lives in a version engine (``ikev2.engine.Ikev2Engine``,
``ikev1.engine.Ikev1Engine``) chosen by ``settings.ike.version``.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from .events import Event, EventKind
from .onwire import Datagram as Datagram  # defined in onwire, still importable from here
from .onwire import NatKeepalive
from .settings import PeerSettings
from .traffic import EspFluid, EspPacket, FluidFlow, Packet, TrafficPlane


class Engine(Protocol):
    """A version engine. For the data plane (``traffic.TrafficPlane``) an engine also offers
    ``child_sas()`` (its CHILD / IPsec SAs, including replaced ones whose inbound SA is still
    kept), ``negotiating()`` (an SA for the policy is being set up), ``acquire(now)`` (traffic
    asks for an SA, ``start: on-traffic``) and ``on_child_volume(child, kind, by, now)`` (a
    soft or hard volume limit was reached); the plane looks them up with ``getattr``. Optional:
    ``trapped()`` (traffic without an SA negotiates, as after a DPD action trap) and the dead
    peer detection hooks ``on_esp_inbound(child, now, flowing)`` / ``on_esp_outbound(...)``
    (``proto.traffic`` module docstring)."""

    def start(self, now: float) -> None: ...
    def receive(self, dgram: Datagram, now: float) -> None: ...
    def status(self) -> dict[str, Any]: ...
    def has_child_sas(self) -> bool: ...
    def close_all(self, reason: str, now: float) -> None: ...
    def owns(self, message: Any) -> bool: ...
    def closing(self) -> bool: ...


class Endpoint:
    """An IKE daemon with one connection configuration (``settings``)."""

    def __init__(self, settings: PeerSettings, rng: random.Random):
        self.settings = settings
        self.name = settings.name
        self.rng = rng
        self.crypto_model = False
        """Key exchange from hashes instead of modular exponentiation (proto/dh.py ``model``)."""
        self.now = 0.0
        self._out: list[Datagram] = []
        self._sent_marks: list[tuple[int, int, int]] = []
        """``mark()`` just after each datagram of ``_out`` was queued (``mark_after``)."""
        self._events: list[Event] = []
        self._timers: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = 0
        self._uid = 0
        self.last_sent: dict[tuple[str, int], float] = {}
        """When a datagram last left from each local (address, port)."""
        self.keylog: list[Any] = []
        """Key records of every SA this peer set up, in order (``proto.keylog``): what
        ``--keys`` writes for Wireshark. Appending a reference is all it costs."""
        self.engine: Engine = self._make_engine()
        self.traffic = TrafficPlane(self)
        self.retired = False
        """Closed (``close``): its data plane carries nothing more; only its engine runs on."""
        self.down: str | None = None
        """``frozen`` (hung, state kept) or ``crashed`` (state lost) while a fault holds it."""

    def _make_engine(self) -> Engine:
        if self.settings.ike.version == 2:
            from .ikev2.engine import Ikev2Engine
            return Ikev2Engine(self)
        if self.settings.ike.version == 1:
            try:
                from .ikev1.engine import Ikev1Engine
            except ImportError as e:  # pragma: no cover - until IKEv1 lands
                raise NotImplementedError("IKEv1 is not available in this build") from e
            return Ikev1Engine(self)
        raise ValueError(f"unsupported IKE version {self.settings.ike.version}")

    # --- driver API ------------------------------------------------------------------------
    def start(self, now: float) -> None:
        self.now = now
        self.engine.start(now)
        self.traffic.refresh(now)

    def receive(self, dgram: Datagram, now: float) -> None:
        self.now = now
        if isinstance(dgram.message, NatKeepalive):
            return  # RFC 3948 2.3: only there for the NAT; the receiver ignores it
        self.engine.receive(dgram, now)
        if not self.retired:
            self.traffic.refresh(now)

    def advance(self, now: float) -> None:
        """The driver's clock reads ``now``: whatever this peer reports from here on happened
        then (a driver calls it before reaching into the peer other than through the entry
        points above, e.g. when a rebooted gateway's data plane hands its flows over)."""
        self.now = now

    def handle_timer(self, now: float) -> None:
        """Run every timer job due at or before ``now``."""
        self.now = now
        while self._timers and self._timers[0][0] <= now:
            _, _, fn, args = heapq.heappop(self._timers)
            fn(now, *args)
        if not self.retired:
            self.traffic.refresh(now)

    # --- data plane (traffic.TrafficPlane) ----------------------------------------------------
    def offer_fluid(self, flow: FluidFlow, rate: float, now: float) -> None:
        """A host behind this peer offers ``flow`` at ``rate`` bytes/s from now (0: stops)."""
        self.now = now
        self.traffic.offer_fluid(flow, rate, now)
        self.traffic.refresh(now)

    def offer_packet(self, packet: Packet, now: float) -> None:
        """A host behind this peer sends one packet."""
        self.now = now
        self.traffic.offer_packet(packet, now)
        self.traffic.refresh(now)

    def receive_traffic(self, item: EspPacket | EspFluid, now: float) -> None:
        """ESP from the peer (a packet, or a fluid flow's new state)."""
        self.now = now
        self.traffic.receive(item, now)
        self.traffic.refresh(now)

    def take_traffic(self) -> list[EspPacket | EspFluid]:
        return self.traffic.take()

    def set_frozen(self, frozen: bool, now: float, crashed: bool = False) -> None:
        """A hung gateway forwards nothing: its traffic is dropped (``peer_down``) meanwhile. A
        crashed one has also lost every SA: it reports none (a restart boots a new Endpoint)."""
        self.now = now
        self.down = ("crashed" if crashed else "frozen") if frozen else None
        self.traffic.set_frozen(frozen, now)

    def finish(self, now: float) -> None:
        """End of the run: settle counters, report open drop intervals."""
        self.now = now
        self.traffic.finish(now)

    def get_timer(self) -> float | None:
        return self._timers[0][0] if self._timers else None

    def mark(self) -> tuple[int, int, int]:
        """Where the next step starts, for ``since`` and ``postpone``."""
        return self._seq, len(self._events), len(self._out)

    def since(self, mark: tuple[int, int, int]) -> list[Datagram]:
        """The datagrams queued since ``mark``."""
        return self._out[mark[2]:]

    def mark_after(self, mark: tuple[int, int, int], index: int) -> tuple[int, int, int]:
        """The mark just after the step since ``mark`` queued its datagram ``index - 1`` (``mark``
        itself for 0): what the step did after that datagram left."""
        return mark if index == 0 else self._sent_marks[mark[2] + index - 1]

    def release(self, mark: tuple[int, int, int]) -> tuple[list[Event], list[Datagram]]:
        """After ``postpone``: take the events that keep their instant (not later than now) and the
        datagrams queued before ``mark``; the postponed ones stay queued."""
        now = self.now
        events = [e for e in self._events if e.t <= now]
        self._events = [e for e in self._events if e.t > now]
        out, self._out = self._out[:mark[2]], self._out[mark[2]:]
        self._sent_marks = self._sent_marks[mark[2]:]
        return events, out

    def postpone(self, mark: tuple[int, int, int], seconds: float) -> None:
        """What the step since ``mark`` did happens ``seconds`` later: the driver charged the
        work it needed before its messages could leave (proto/cpu.py ``Cpu.outbound``). The
        timers it armed start then, and its messages are logged as sent then (the step's other
        events, a decision such as giving up on a peer, keep their instant)."""
        self._timers = [(at + seconds if seq > mark[0] else at, seq, fn, args) for at, seq, fn, args in self._timers]
        heapq.heapify(self._timers)
        n = mark[1]
        self._events[n:] = [replace(e, t=e.t + seconds) if e.event == "message_sent" else e
                             for e in self._events[n:]]
        for d in self._out[mark[2]:]:
            self.last_sent[(d.src, d.sport)] = self.now + seconds

    def take_datagrams(self) -> list[Datagram]:
        out, self._out = self._out, []
        self._sent_marks = []
        return out

    def take_events(self) -> list[Event]:
        out, self._events = self._events, []
        return out

    def status(self) -> dict[str, Any]:
        if self.down == "crashed":
            return {"status": "ike_sa_not_established", "ike_sas": [], "child_sas": [], "down": "crashed"}
        return {**self.engine.status(), "down": self.down}

    def close(self, now: float, reason: str = "recreated") -> None:
        """The connection is deleted (a ``recreate`` fault; ``stopped``: a live run ends): every
        SA is deleted, the peer told.
        Its data plane is retired at once (a new connection takes the traffic); the engine may
        still have Delete exchanges to finish (``closing``), for which the driver keeps feeding
        it the messages it ``owns`` and its timers."""
        self.now = now
        self.engine.close_all(reason, now)
        self.traffic.refresh(now)
        self.retired = True

    def take_over(self, old: Endpoint, now: float, reason: str) -> None:
        """This endpoint replaces ``old`` at ``now`` (the gateway rebooted, or the connection
        was recreated): the hosts' flow counters, the dropped totals and the key records of
        the SAs from before outlive it, fluid flows still arriving on the wire are taken on,
        and the old data plane stops: its flows stop on the wire and its acquire queue is
        dropped for ``reason``. The old gateway's clock stopped when it crashed or froze: what
        both report now (the drop intervals closed by the hand-over) happens now."""
        old.advance(now)
        self.advance(now)
        self.keylog = old.keylog
        self.traffic.flows = old.traffic.flows
        self.traffic.ledger.totals = old.traffic.ledger.totals
        self.traffic.take_over_arrivals(old.traffic, now)
        old.traffic.shutdown(now, reason)
        old.finish(now)

    def owns(self, dgram: Datagram) -> bool:
        """An IKE message for one of this endpoint's live IKE SAs (not a new negotiation)."""
        return self.engine.owns(dgram.message)

    def closing(self) -> bool:
        """After ``close``: an SA is still being deleted (its Delete not yet answered)."""
        return self.engine.closing()

    def reconfigure(self, settings: PeerSettings) -> None:
        """New settings for this side (a configuration change while in use). Established SAs
        keep what they negotiated; the new values apply from the next negotiation on."""
        self.settings = settings
        self.engine.settings = settings  # type: ignore[attr-defined]

    # --- services for engines --------------------------------------------------------------
    def schedule(self, at: float, fn: Callable[..., None], *args: Any) -> tuple[Any, ...]:
        """Run ``fn(now, *args)`` when the clock reaches ``at``; returns the job (``cancel``)."""
        self._seq += 1
        job = (at, self._seq, fn, args)
        heapq.heappush(self._timers, job)
        return job

    def cancel(self, job: tuple[Any, ...]) -> None:
        """Forget a job that has become stale (the data plane's volume timer, superseded
        when a packet moved the crossing): no timer wakes the peer for nothing."""
        timers = self._timers
        for i, x in enumerate(timers):
            if x[1] == job[1]:
                last = timers.pop()
                if i < len(timers):
                    timers[i] = last
                    heapq.heapify(timers)
                return

    def emit(self, event: EventKind, context: Mapping[str, Any] | None = None) -> None:
        """Report ``event`` (a typed event of ``proto.events``) as happening here, now;
        ``context``: the leading fields it leaves absent (``EventKind.record``)."""
        self._events.append(event.record(self.now, self.name, context))

    def emit_fields(self, kind: type[EventKind], fields: dict[str, Any]) -> None:
        """Report an event of ``kind`` whose record ``fields`` the caller wrote out itself, in the
        kind's declaration order and without its absent fields (``EventKind.record`` of the same
        event gives the same record): for the events made by the thousand (IKE messages)."""
        self._events.append(Event(self.now, self.name, kind.NAME, fields))

    def send(self, dgram: Datagram) -> None:
        self._out.append(dgram)
        self._sent_marks.append((self._seq, len(self._events), len(self._out)))
        self.last_sent[(dgram.src, dgram.sport)] = self.now

    def last_out(self, local: tuple[str, int], now: float) -> float | None:
        """When this peer last sent anything from ``local`` (IKE) or any ESP: NAT keepalives
        are due only after ``nat_keepalive`` seconds of silence (RFC 3948 2.3)."""
        times = [t for t in (self.last_sent.get(local), self.traffic.last_esp_out(now)) if t is not None]
        return max(times) if times else None

    def log_keys(self, *records: Any) -> None:
        """Record SA keys for packet traces (``proto.keylog`` records)."""
        self.keylog.extend(records)

    def next_uid(self) -> int:
        self._uid += 1
        return self._uid

    def random_spi(self, size: int) -> bytes:
        """A non-zero SPI; 4-byte SPIs avoid the reserved values 1-255 (RFC 4303 2.1)."""
        while True:
            spi = self.rng.randbytes(size)
            if int.from_bytes(spi, "big") > 255:
                return spi
