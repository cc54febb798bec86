"""A peer on real sockets and the wall clock, driving its sans-IO ``Endpoint``.

The third driver of the cores, beside ``sim.node`` (SimPy) and the callback loop: the same
three calls (``start(now)``, ``receive(datagram, now)``, ``handle_timer(now)``) and the same
read-back (``take_datagrams()``, ``take_events()``, ``get_timer()``), aioquic's asyncio driver
pattern. ``now`` is seconds on a monotonic clock since the peer started; the loop sleeps in
``select`` until a datagram arrives or the core's earliest deadline is due, whichever comes
first, then lets the core act and sends what it asks for.

Every datagram sent or received is recorded as a ``sim.link.Transmission`` so that the trace
writers (``trace.packets``) write the real exchange: what this peer sent and exactly the
octets the real gateway sent back.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from ..proto.endpoint import Endpoint
from ..proto.events import Event
from ..proto.onwire import Datagram, NatKeepalive
from ..proto.settings import PeerSettings
from ..sim.link import Transmission
from .codec import DecodeError, Encoder, Received, decode_v1, decode_v2, ike_version, v1_label
from .transport import Inbound, UdpTransport


class LivePeer:
    """One configured peer (``settings``) talking to the gateway named ``remote``."""

    def __init__(self, settings: PeerSettings, remote: str, transport: UdpTransport,
                 clock: Callable[[], float] = time.monotonic,
                 on_event: Callable[[Event], None] | None = None):
        # Keys, nonces, SPIs and every other random choice from the OS CSPRNG (os.urandom).
        self.ep = Endpoint(settings, random.SystemRandom())
        self.name = settings.name
        self.remote = remote
        self.transport = transport
        self.clock = clock
        self.t0 = clock()
        self.events: list[Event] = []
        self.transmissions: list[Transmission] = []
        self.on_event = on_event
        self.encoder = Encoder()
        self.ike_keys: dict[tuple[bytes, bytes], Any] = {}
        """IKEv2 ``IkeKeys`` by (SPIi, SPIr): of SAs alive, and of SAs already gone whose
        late messages (a Delete's response) must still be read."""
        self.esp_received = 0
        """ESP-in-UDP packets that arrived on 4500: the gateway's CHILD SA carrying traffic,
        which live mode does not decrypt (no data plane)."""

    def now(self) -> float:
        return self.clock() - self.t0

    # --- the loop ----------------------------------------------------------------------------
    def start(self) -> None:
        self.ep.start(self.now())
        self.flush()

    def step(self, until: float) -> None:
        """Wait for a datagram or the core's next deadline (at most until ``until``) and act."""
        now = self.now()
        timer = self.ep.get_timer()
        end = until if timer is None else min(until, timer)
        for d in self.transport.receive(max(0.0, end - now)):
            self.inbound(d)
        self.ep.handle_timer(self.now())
        self.flush()

    def run(self, until: float) -> None:
        while self.now() < until:
            self.step(until)

    def close(self, grace: float) -> None:
        """Delete every SA (the peer is told) and wait up to ``grace`` seconds for the answers."""
        self.ep.close(self.now(), reason="stopped")
        self.flush()
        end = self.now() + grace
        while self.ep.closing() and self.now() < end:
            self.step(end)

    # --- both directions ---------------------------------------------------------------------
    def flush(self) -> None:
        for ev in self.ep.take_events():
            self.record(ev)
        for d in self.ep.take_datagrams():
            if d.keys is not None and hasattr(d.keys, "spi_i"):
                self.ike_keys[(d.keys.spi_i, d.keys.spi_r)] = d.keys
            data = self.encoder.encode(d.message, d.keys)
            self.transport.send(d.sport, d.dst, d.dport, data)
            self.transmissions.append(Transmission(self.now(), self.name, d, None))

    def record(self, ev: Event) -> None:
        self.events.append(ev)
        if self.on_event is not None:
            self.on_event(ev)

    def ignored(self, reason: str, d: Inbound) -> None:
        self.record(Event(self.now(), self.name, "message_ignored", {"reason": reason, "src": d.src}))

    def inbound(self, d: Inbound) -> None:
        now = self.now()
        if d.kind == "esp":
            self.esp_received += 1
            return
        if d.kind == "keepalive":
            dgram = Datagram(d.src, d.sport, d.dst, d.dport, NatKeepalive())
            self.transmissions.append(Transmission(now, self.remote, dgram, now))
            self.ep.receive(dgram, now)
            return
        message: Any = None
        keys = None
        try:
            version = ike_version(d.data)
            if version == 2:
                message, keys = decode_v2(d.data, self.keys_for)
                label = message.notation()
            elif version == 1:
                message = decode_v1(d.data)
                label = v1_label(message)
            else:
                raise DecodeError(f"IKE major version {version}")
        except DecodeError as e:
            self.transmissions.append(Transmission(now, self.remote, Datagram(
                d.src, d.sport, d.dst, d.dport, Received(d.data, None, f"not understood: {e}")), now))
            self.ignored(str(e), d)
            self.flush()
            return
        received = Datagram(d.src, d.sport, d.dst, d.dport, Received(d.data, message, label), keys=keys)
        self.transmissions.append(Transmission(now, self.remote, received, now))
        self.ep.receive(Datagram(d.src, d.sport, d.dst, d.dport, message), now)
        self.flush()

    def keys_for(self, spi_i: bytes, spi_r: bytes) -> Any:
        for sa in getattr(self.ep.engine, "sas", {}).values():
            if getattr(sa, "spi_i", None) == spi_i and getattr(sa, "spi_r", None) == spi_r \
                    and getattr(sa, "keys", None) is not None:
                self.ike_keys[(spi_i, spi_r)] = sa.wire_keys()
        return self.ike_keys.get((spi_i, spi_r))
