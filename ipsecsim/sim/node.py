"""A peer as a SimPy process driving its sans-IO ``Endpoint`` (aioquic's driver pattern).

The loop waits for the next inbound datagram (or traffic) or the core's next deadline,
whichever comes first, feeds it to the core, then sends what the core wants sent and records
its events.

Processing time (``proto.cpu``, a peer's ``cpu`` setting): an IKE message waits for the peer's
one worker, which computes what the message costs before the core acts on it, so the core
answers, installs and arms its timers at the end of the computation; messages arriving
meanwhile queue behind it. A peer frozen during a computation finishes it when thawed; one
that crashes loses it.

Faults: a frozen peer (a hung VM) processes nothing and drops what arrives; its timers fire
late, at once, when it is unfrozen. A crashed peer loses all state silently (no DELETE is
sent) and drops what arrives until it is restarted, when it boots with fresh state and
starts over as configured. While a peer is frozen or crashed, its data plane only accounts
the traffic offered to it as dropped (``peer_down``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import simpy

from ..proto.cpu import Cpu
from ..proto.endpoint import Datagram, Endpoint
from ..proto.rng import stream
from ..proto.settings import PeerSettings
from ..proto.traffic import EspFluid, EspPacket, FluidFlow, Packet
from .icmp import IcmpEcho
from .log import EventLog

if TYPE_CHECKING:
    from .link import Link


class PeerNode:
    def __init__(self, env: simpy.Environment, settings: PeerSettings,
                 make_endpoint: Callable[[PeerSettings, int], Endpoint], link: Link, log: EventLog,
                 seed: int = 0):
        self.env = env
        self.name = settings.name
        self.make_endpoint = make_endpoint
        self.boots = 0
        self.ep = make_endpoint(settings, self.boots)
        self.link = link
        self.log = log
        self.inbox: simpy.Store = simpy.Store(env)
        self.frozen = False
        self.crashed = False
        self.egress: str | None = None
        self.icmp_replies: dict[str, int] = {}
        """Underlay ICMP: the latest echo reply sequence number per probe flow."""
        self.offered: dict[str, tuple[FluidFlow, float]] = {}
        """The rate each fluid flow currently offers to this peer (re-offered after a reboot)."""
        self.started = False
        """The process has started its endpoint (after the faults due at 0 s)."""
        self.retiring: list[Endpoint] = []
        """Endpoints of recreated connections still deleting their SAs (``recreate``)."""
        self._thaw = env.event()
        self._cpu_rng = stream(seed, "cpu", settings.name)
        self._worker: tuple[Endpoint, Cpu] | None = None
        link.attach(settings.address, self)
        self.process = env.process(self._run())

    @property
    def settings(self) -> PeerSettings:
        return self.ep.settings

    def cpu(self) -> Cpu | None:
        """The worker of the current configuration and boot (None: instantaneous)."""
        s = self.ep.settings
        if s.cpu is None:
            return None
        if self._worker is None or self._worker[0] is not self.ep:
            groups = frozenset(a.ikev2_id for p in (*s.ike.proposals, *s.child.proposals) for a in p.dh)
            self._worker = (self.ep, Cpu(s.cpu, self._cpu_rng, groups))
        return self._worker[1]

    @property
    def down(self) -> bool:
        return self.frozen or self.crashed

    def deliver(self, dgram: Datagram, sender: str) -> None:
        if isinstance(dgram.message, IcmpEcho):
            self._icmp(dgram)
            return
        if self.down:
            from .link import message_fields
            self.log.emit(self.env.now, sender, "message_lost", reason="peer_down" if self.crashed else "peer_frozen",
                          **message_fields(dgram.message), retransmit=dgram.retransmit, src=dgram.src, dst=dgram.dst)
            return
        self.inbox.put(dgram)

    def _icmp(self, dgram: Datagram) -> None:
        """The gateway's own IP stack: it answers pings unless it is hung or down."""
        if self.down:
            return
        msg: IcmpEcho = dgram.message
        if msg.reply:
            self.icmp_replies[msg.flow] = max(self.icmp_replies.get(msg.flow, -1), msg.seq)
        else:
            back = Datagram(dgram.dst, 0, dgram.src, 0, IcmpEcho(msg.flow, msg.seq, True, msg.size))
            self.link.transmit_quiet(back, self.name)

    def send_icmp(self, flow: str, seq: int, size: int, dst: str) -> None:
        src = self.egress or self.settings.address
        self.link.transmit_quiet(Datagram(src, 0, dst, 0, IcmpEcho(flow, seq, False, size)), self.name)

    # Traffic goes through the inbox like datagrams, so the loop re-arms its timer from the
    # core's new deadline (a flow's volume limit).
    def submit_packet(self, pkt: Packet) -> None:
        self._traffic(("packet", pkt))

    def submit_fluid(self, flow: FluidFlow, rate: float) -> None:
        self._traffic(("fluid", (flow, rate)))

    def deliver_traffic(self, item: EspPacket | EspFluid) -> None:
        self._traffic(("esp", item))

    def _traffic(self, item: tuple[str, object]) -> None:
        if self.down:
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
            flow: FluidFlow
            rate: float
            flow, rate = payload  # type: ignore[misc]
            self.offered[flow.flow] = (flow, rate)
            self.ep.offer_fluid(flow, rate, now)
        else:
            self.ep.receive_traffic(payload, now)  # type: ignore[arg-type]

    # --- faults -----------------------------------------------------------------------------
    def freeze(self) -> None:
        self.frozen = True
        self.ep.set_frozen(True, self.env.now)
        self._flush()

    def unfreeze(self) -> None:
        if self.frozen:
            self.frozen = False
            self.ep.set_frozen(False, self.env.now)
            self._flush()
            self._wake()

    def crash(self) -> None:
        self.crashed = True
        self.retiring.clear()  # state lost: nothing finishes its deletes
        self.ep.set_frozen(True, self.env.now, crashed=True)
        self._flush()

    def restart(self, settings: PeerSettings | None = None, reboot: bool = False) -> None:
        """Boot with fresh state: new SPIs, nonces and keys from a new random stream. A
        ``reboot`` (the gateway restarts) also loses what a recreated connection was still
        deleting; a recreate keeps it."""
        old, now = self.ep, self.env.now
        if reboot:
            self.retiring.clear()
        self.boots += 1
        new = self.make_endpoint(settings or old.settings, self.boots)
        # the old gateway's clock stopped when it crashed or froze: what both report now
        # (the drop intervals closed by the hand-over) happens now, not back then
        old.advance(now)
        new.advance(now)
        new.keylog = old.keylog  # the packet trace still needs the keys of SAs from before the crash
        new.traffic.flows = old.traffic.flows  # the hosts' flow counters outlive the gateway's reboot
        new.traffic.ledger.totals = old.traffic.ledger.totals  # and so do the dropped totals
        new.traffic.take_over_arrivals(old.traffic, now)
        # the old connection sends nothing more: its flows stop on the wire, its queue is lost
        old.traffic.shutdown(now, "peer_down" if reboot else "no_sa")
        old.finish(now)
        self._flush()
        self.ep = new
        self.crashed = False
        if self.started:  # before the first step the process starts the endpoint itself
            self.ep.start(now)
        for flow, rate in self.offered.values():
            self.ep.offer_fluid(flow, rate, now)
        self._flush()
        self._wake()

    def recreate(self, settings: PeerSettings | None = None) -> None:
        """The connection is deleted (its SAs deleted, the peer told) and created again, with
        ``settings`` if given: it starts over from fresh state, as after a restart. The gateway
        runs (config/topology.py refuses a recreate while it is crashed or frozen)."""
        assert not (self.crashed or self.frozen), f"{self.name}: recreate of a gateway that does not run"
        old = self.ep
        old.close(self.env.now)
        self._flush()
        self.restart(settings)
        if old.closing():
            self.retiring.append(old)  # its Delete exchanges run on beside the new connection

    def reconfigure(self, settings: PeerSettings) -> None:
        """A configuration change on this side only; it applies to the next negotiation."""
        self.ep.reconfigure(settings)

    def change_address(self, address: str) -> None:
        """Multi-exit link switch: from now on this peer's packets leave from ``address`` (the
        other uplink's source NAT); the peer itself is not told. Packets to either address
        still reach it."""
        self.egress = address
        self.link.attach(address, self)

    def revoke_route(self, revoked: bool) -> None:
        """Withdraw (or restore) this peer's route to the remote subnets (health check policy)."""
        self.ep.advance(self.env.now)
        self.ep.traffic.route_revoked = revoked
        self.ep.traffic.refresh(self.env.now)
        self._flush()

    def finish(self) -> None:
        """End of the run: the data plane settles its counters and open drop intervals."""
        self.ep.finish(self.env.now)
        for ep in [*self.retiring, self.ep]:
            for ev in ep.take_events():
                self.log.add(ev)

    def _wake(self) -> None:
        self._thaw.succeed()
        self._thaw = self.env.event()

    # --- the process ------------------------------------------------------------------------
    def _flush(self) -> None:
        if self.retiring:  # rare: only after a recreate, until its deletes are done
            for ep in self.retiring:
                self._send(ep)
            self.retiring = [ep for ep in self.retiring if ep.closing()]
        self._send(self.ep)
        for t in self.ep.take_traffic():
            self.link.transmit_traffic(t, self.name)

    def _send(self, ep: Endpoint) -> None:
        for ev in ep.take_events():
            self.log.add(ev)
        for d in ep.take_datagrams():
            if self.egress is not None and d.src != self.egress:
                d = replace(d, src=self.egress)
            self.link.transmit(d, self.name)

    def _next_timer(self) -> float | None:
        if not self.retiring:  # the hot path: one endpoint
            return self.ep.get_timer()
        timers = [t for ep in (self.ep, *self.retiring) if (t := ep.get_timer()) is not None]
        return min(timers) if timers else None

    def _run(self):  # type: ignore[no-untyped-def]
        env = self.env
        yield env.timeout(0)  # let faults scheduled for t=0 take effect before the peer acts
        self.started = True
        self.ep.start(env.now)
        self._flush()
        get = self.inbox.get()
        while True:
            timer = self._next_timer()
            waits = [get, self._thaw]
            if timer is not None:
                waits.append(env.timeout(max(0.0, timer - env.now)))
            yield env.any_of(waits)
            while self.down:
                yield self._thaw
            if get.triggered:
                # simultaneous events (docs/timing.md): timer jobs due at this instant run before a
                # message that arrives at it, whichever the event queue produced first
                for ep in self.retiring:
                    ep.handle_timer(env.now)
                self.ep.handle_timer(env.now)
                item = get.value
                get = self.inbox.get()
                if isinstance(item, tuple):
                    self._apply(item)
                else:
                    cpu = self.cpu()
                    if cpu is not None:
                        boots = self.boots
                        yield env.timeout(cpu.inbound(item.message, item.retransmit))  # the worker computes
                        while self.down:
                            yield self._thaw
                        if self.boots != boots:
                            item = None  # the gateway rebooted meanwhile: the work is lost
                    if item is not None:
                        owner = next((ep for ep in self.retiring if ep.owns(item)), self.ep)
                        owner.receive(item, env.now)
            for ep in self.retiring:
                ep.handle_timer(env.now)
            self.ep.handle_timer(env.now)
            self._flush()
