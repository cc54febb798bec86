"""A peer as a SimPy process driving its sans-IO ``Endpoint`` (aioquic's driver pattern).

The loop waits for the next inbound datagram or the core's next deadline, whichever comes
first, feeds it to the core, then sends what the core wants sent and records its events.
A frozen peer (a hung VM) processes nothing and drops what arrives; its timers fire late,
at once, when it is unfrozen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import simpy

from ..proto.endpoint import Datagram, Endpoint
from ..proto.traffic import EspFluid, EspPacket, FluidFlow, Packet
from .log import EventLog

if TYPE_CHECKING:
    from .link import Link


class PeerNode:
    def __init__(self, env: simpy.Environment, endpoint: Endpoint, link: Link, log: EventLog):
        self.env = env
        self.ep = endpoint
        self.name = endpoint.name
        self.link = link
        self.log = log
        self.inbox: simpy.Store = simpy.Store(env)
        self.frozen = False
        self._thaw = env.event()
        link.attach(endpoint.settings.address, self)
        self.process = env.process(self._run())

    def deliver(self, dgram: Datagram, sender: str) -> None:
        if self.frozen:
            from .link import message_fields
            self.log.emit(self.env.now, sender, "message_lost", reason="peer_frozen",
                          **message_fields(dgram.message), retransmit=dgram.retransmit, src=dgram.src, dst=dgram.dst)
            return
        self.inbox.put(dgram)

    # Traffic goes through the inbox like datagrams, so the loop re-arms its timer from the
    # core's new deadline (a flow's volume limit). A frozen peer forwards nothing: its data
    # plane only accounts the traffic as dropped (peer_down).
    def submit_packet(self, pkt: Packet) -> None:
        self._traffic(("packet", pkt))

    def submit_fluid(self, flow: FluidFlow, rate: float) -> None:
        self._traffic(("fluid", (flow, rate)))

    def deliver_traffic(self, item: EspPacket | EspFluid) -> None:
        self._traffic(("esp", item))

    def _traffic(self, item: tuple[str, object]) -> None:
        if self.frozen:
            self._apply(item)
            self._flush()
        else:
            self.inbox.put(item)

    def _apply(self, item: tuple[str, object]) -> None:
        kind, payload = item
        now = self.env.now
        if kind == "packet":
            self.ep.offer_packet(payload, now)  # type: ignore[arg-type]
        elif kind == "fluid":
            flow, rate = payload  # type: ignore[misc]
            self.ep.offer_fluid(flow, rate, now)
        else:
            self.ep.receive_traffic(payload, now)  # type: ignore[arg-type]

    def freeze(self) -> None:
        self.frozen = True
        self.ep.set_frozen(True, self.env.now)
        self._flush()

    def unfreeze(self) -> None:
        if self.frozen:
            self.frozen = False
            self.ep.set_frozen(False, self.env.now)
            self._flush()
            self._thaw.succeed()
            self._thaw = self.env.event()

    def finish(self) -> None:
        """End of the run: the data plane settles its counters and open drop intervals."""
        self.ep.finish(self.env.now)
        for ev in self.ep.take_events():
            self.log.add(ev)

    def _flush(self) -> None:
        for ev in self.ep.take_events():
            self.log.add(ev)
        for d in self.ep.take_datagrams():
            self.link.transmit(d, self.name)
        for t in self.ep.take_traffic():
            self.link.transmit_traffic(t, self.name)

    def _run(self):  # type: ignore[no-untyped-def]
        env, ep = self.env, self.ep
        ep.start(env.now)
        self._flush()
        get = self.inbox.get()
        while True:
            timer = ep.get_timer()
            waits = [get]
            if timer is not None:
                waits.append(env.timeout(max(0.0, timer - env.now)))
            yield env.any_of(waits)
            while self.frozen:
                yield self._thaw
            if get.triggered:
                item = get.value
                if isinstance(item, tuple):
                    self._apply(item)
                else:
                    ep.receive(item, env.now)
                get = self.inbox.get()
            ep.handle_timer(env.now)
            self._flush()
