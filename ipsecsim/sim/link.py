"""The simulated network between the peers (SimPy's ``Cable`` example, with faults).

One-way delay plus uniform jitter, loss (Bernoulli or Gilbert-Elliott, per direction) and
down periods; loss and delay can be changed for a window, one way or both, for IKE only, ESP
only or everything (an ISP filtering IP protocol 50), by faults. IKE datagrams draw from the
link's own seeded stream; a discrete ESP packet from a counter-based stream keyed by (seed,
sender, flow, packet number) (sim/draws.py), so its fate does not depend on what else was
drawn before it, and a flow's packets can be judged as an array (sim/train.py). A datagram is judged when it is sent: a
link that goes down while a datagram is in flight does not catch it (it left before).

Peers are attached by address; a peer that changes its source address (multi-exit link
switch) is attached under the new address too, so answers can reach it. Several peers may
share an address (one gateway terminating several tunnels, config/topology.py): a packet for
that address goes to the one whose remote peer sent it (``partner``).

A fault may hold only the path between two peers (``between``), both ways: one tunnel of
two fails while the other, between other addresses, carries on.

ESP traffic crosses the same link: a packet is lost like a datagram (``traffic_dropped``
with reason ``loss`` or ``link_down``, peer ``link``); a fluid flow loses the long-run loss
fraction of the direction's loss model continuously (for Gilbert-Elliott p*loss_bad +
r*loss_good over p + r), all of it while the link is down that way, and arrives after the
one-way delay (no jitter: a fluid has no packet order to disturb).

The path has an MTU (``link.mtu``, sim/mtu.py): ESP larger than it is dropped (``too_big``)
when DF is set, else fragmented, and a packet is lost when any of its fragments is.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from ..proto.events import MessageLost, TrafficDropped
from ..proto.onwire import Datagram
from ..proto.traffic import DropLedger, EspFluid, EspPacket
from ..spec import LinkSpec
from . import draws as draws_mod
from . import loss as lossmod
from . import mtu as mtu_mod
from . import nat as nat_mod
from .draws import Draws
from .log import EventLog
from .nat import endpoint
from .sched import Scheduler

if TYPE_CHECKING:
    from .node import PeerNode


def message_fields(msg: Any) -> dict[str, Any]:
    fields = getattr(msg, "fields", None)
    return fields() if callable(fields) else {"message": type(msg).__name__}


@dataclass(frozen=True, slots=True)
class Transmission:
    """One datagram put on the wire: when, by whom, and whether and when it arrived."""

    t: float
    sender: str
    dgram: Datagram
    arrival: float | None
    lost: str | None = None
    nat: str | None = None
    """How the NAT translated it (``NAT 10.0.0.2:4500 → 203.0.113.5:40123``), or why it dropped it."""


class EspSent(NamedTuple):
    """One discrete ESP packet put on the wire, and whether it arrived."""

    t: float
    sender: str
    packet: EspPacket
    arrival: float | None
    lost: str | None = None
    """Why it never arrived (``loss``, ``link_down``, ``no_route`` ...)."""


@dataclass
class Override:
    """A fault window changing the link in one direction (or both when ``ends`` is None)."""

    ends: tuple[str, str] | None
    protocol: str = "all"
    loss: lossmod.LossModel | None = None
    delay: float | None = None
    jitter: float | None = None
    down: bool = False
    pair: frozenset[str] | None = None
    """Only the path between these two peers, both ways (a ``between`` fault)."""

    def applies(self, src: str, dst: str, proto: str = "all") -> bool:
        return (self.ends is None or self.ends == (src, dst)) and self.protocol in ("all", proto) \
            and (self.pair is None or self.pair == {src, dst})


class Link:
    def __init__(self, sched: Scheduler, cfg: LinkSpec, rng: random.Random, log: EventLog, seed: int = 0):
        self.sched = sched
        self.rng = rng
        self.seed = seed
        self._esp_keys: dict[tuple[str, str], int] = {}
        """Per (sender, flow): the key of its ESP packets' counter-based draws (sim/draws.py)."""
        self.esp_sent: dict[tuple[str, str], int] = {}
        """Per (sender, flow): ESP packets put on the wire so far (the next one's draw number)."""
        self.log = log
        self.delay = cfg.delay
        self.jitter = cfg.jitter
        self.mtu = cfg.mtu
        self._loss_spec = cfg.loss
        self._loss: dict[tuple[str, str], lossmod.LossModel] = {}
        self.overrides: list[Override] = []
        """Fault windows in force; whoever changes the list calls ``changed``."""
        self.generation = 0
        """Bumped whenever what a packet meets on the link may change (``changed``: a fault
        window begins or ends, the NAT's mappings; ``attach``): cached paths (sim/train.py)
        hold while it is unchanged."""
        self.nodes: dict[str, PeerNode] = {}
        """The first peer attached at each address."""
        self.at: dict[str, list[PeerNode]] = {}
        """Every peer attached at each address (several: one gateway, several tunnels)."""
        self.partner: dict[str, str] = {}
        """Each peer's remote peer (config/topology.py), set by the runner."""
        self.on_deliver: list[Callable[[Datagram, str], None]] = []
        self.transmissions: list[Transmission] = []
        """Every datagram sent, in order (the packet trace is written from this)."""
        self.esp: list[EspSent] = []
        """Every discrete ESP packet sent (the packet trace writes them), if ``keep_esp``."""
        self.keep_esp = True
        """Keep a record of every discrete ESP packet (off: a long run without a packet trace)."""
        self.fluid_log: list[tuple[float, str, EspFluid]] = []
        """Every fluid flow state put on the wire, in order: (time, sender, state); with
        ``esp`` the traffic a packet trace writes."""
        self.ledger = DropLedger(self._dropped)
        self.drop_at: float | None = None
        """The instant the ledger's drop events are logged at, when not now (the array traffic
        path, sim/train.py, replays a window's drops at their packets' instants)."""
        self.nat: nat_mod.Nat | None = None
        """The NAT in front of one peer (``link.nat``), set by the runner."""
        self._nat_held: dict[tuple[str, str], tuple[str, int | None, int]] = {}
        """Outbound fluid flows holding a NAT mapping alive: (sender, flow) -> its inside side."""
        self.fluids: dict[tuple[str, str], EspFluid] = {}
        """The current state of every fluid flow on the wire, by (sender, flow)."""
        self._fates: dict[tuple[str, str], tuple[str, float, float]] = {}
        """What each fluid is currently losing on the link: (reason, bytes/s, packets/s)."""
        self._passing: dict[tuple[str, str], tuple[float, float, float]] = {}
        """What each fluid currently passes on to its receiver: (bytes/s, packets/s, since)."""
        self.egress: dict[str, str] = {}
        """The source address a peer's packets leave from after a multi-exit link switch."""
        self.forwarded: dict[str, list[float]] = {}
        """Per flow: bytes and packets that crossed the link towards a gateway (delivered to it,
        or still on their way at the end of the run: ``in_flight``)."""

    def _dropped(self, fields: dict[str, Any]) -> None:
        t = self.sched.now if self.drop_at is None else self.drop_at
        self.log.emit(t, "link", TrafficDropped(**fields))

    def set_egress(self, peer: str, address: str) -> None:
        """From now on ``peer``'s IKE datagrams leave from ``address`` (the other uplink's
        source NAT): the link rewrites their source; the peer itself is not told."""
        self.egress[peer] = address

    def attach(self, address: str, node: PeerNode) -> None:
        self.generation += 1
        self.nodes.setdefault(address, node)
        here = self.at.setdefault(address, [])
        if node not in here:
            here.append(node)

    def node_at(self, address: str, sender: str) -> PeerNode | None:
        """The peer a packet from ``sender`` to ``address`` reaches: the one there, or, where
        several share the address, the sender's remote peer."""
        found = self.at.get(address)
        if not found:
            return None
        if len(found) > 1:
            want = self.partner.get(sender)
            for node in found:
                if node.name == want:
                    return node
        return found[0]

    def is_down(self, src: str, dst: str, proto: str = "all") -> bool:
        return any(o.down and o.applies(src, dst, proto) for o in self.overrides)

    def _override(self, attr: str, src: str, dst: str, proto: str = "all") -> Any:
        for o in reversed(self.overrides):
            value = getattr(o, attr)
            if value is not None and o.applies(src, dst, proto):
                return value
        return None

    def _loss_model(self, src: str, dst: str, proto: str = "all") -> lossmod.LossModel:
        model = self._override("loss", src, dst, proto)
        if model is None:
            model = self._loss.get((src, dst))
            if model is None:
                model = self._loss[(src, dst)] = lossmod.make(self._loss_spec)
        return model  # type: ignore[no-any-return]

    def _lost(self, src: str, dst: str, proto: str = "all", rng: random.Random | Draws | None = None) -> bool:
        return self._loss_model(src, dst, proto).lost(rng or self.rng, self.sched.now)  # type: ignore[arg-type]

    def _delay(self, src: str, dst: str, jitter: bool = True, proto: str = "all",
               rng: random.Random | Draws | None = None) -> float:
        delay = self._override("delay", src, dst, proto)
        delay = self.delay if delay is None else delay
        if jitter:
            j = self._override("jitter", src, dst, proto)
            j = self.jitter if j is None else j
            if j:
                delay += (rng or self.rng).uniform(0.0, j)
        return float(delay)

    def esp_draws(self, sender: str, flow: str) -> Draws:
        """The counter-based draws of the next ESP packet of ``flow`` from ``sender``: its loss
        (one draw per fragment, and a Gilbert-Elliott channel's moves) and then its jitter,
        keyed by (seed, sender, flow, packet number), whatever else the link drew before."""
        k = (sender, flow)
        key = self._esp_keys.get(k)
        if key is None:
            key = self._esp_keys[k] = draws_mod.key(self.seed, "esp", sender, flow)
        n = self.esp_sent.get(k, 0)
        self.esp_sent[k] = n + 1
        return Draws(key, n)

    # --- the NAT (sim/nat.py) -----------------------------------------------------------------
    def _nat_out(self, sender: str, src: str, sport: int | None, proto: int,
                 fluid: int = 0) -> tuple[str, int | None, str | None]:
        """The source an outbound packet of the peer behind the NAT leaves with, and a note."""
        nat = self.nat
        if nat is None or sender != nat.peer:
            return src, sport, None
        out = nat.outbound(src, sport, proto, fluid)
        return out[0], out[1], nat.describe(src, sport, out)

    def _nat_in(self, dst: str, dport: int | None, proto: int) -> tuple[str, int | None, str | None, bool]:
        """(destination, port, note, dropped) of a packet after the NAT."""
        nat = self.nat
        if nat is None or dst != nat.public:
            return dst, dport, None, False
        inside = nat.inbound(dport, proto)
        if inside is None:  # it reaches the NAT, in front of the inside peer, and dies there
            return nat.inside_address, dport, f"no NAT mapping for {endpoint(dst, dport or 0)}", True
        return inside[0], inside[1], nat.describe(dst, dport, inside), False

    def transmit_quiet(self, dgram: Datagram, sender: str) -> bool:
        """A datagram that is not IKE (an underlay ICMP probe): same fate, no message events.
        Returns whether it is on its way."""
        node = self.node_at(dgram.dst, sender)
        if node is None or self.is_down(sender, node.name) or self._lost(sender, node.name):
            return False
        self.sched.call_later(self._delay(sender, node.name), node.deliver, dgram, sender)
        return True

    def transmit(self, dgram: Datagram, sender: str) -> None:
        now = self.sched.now
        egress = self.egress.get(sender) if self.egress else None
        if egress is not None and dgram.src != egress:
            dgram = replace(dgram, src=egress)
        src, sport, note_out = self._nat_out(sender, dgram.src, dgram.sport, nat_mod.UDP)
        dst, dport, note_in, blocked = self._nat_in(dgram.dst, dgram.dport, nat_mod.UDP)
        node = self.node_at(dst, sender)
        receiver = node.name if node is not None else "?"
        reason = None
        if node is None:
            reason = "no_route"
        elif self.is_down(sender, receiver, "ike"):
            reason = "link_down"
        elif self._lost(sender, receiver, "ike"):
            reason = "loss"
        elif blocked:
            reason = "nat_no_mapping"
        note = note_out or note_in
        if reason is not None:
            self.transmissions.append(Transmission(now, sender, dgram, None, reason, note))
            self.log.emit(now, sender, MessageLost(reason=reason, message=message_fields(dgram.message),
                                                   retransmit=dgram.retransmit, src=dgram.src, dst=dgram.dst))
            return
        assert node is not None
        delay = self._delay(sender, receiver, proto="ike")
        self.transmissions.append(Transmission(now, sender, dgram, now + delay, None, note))
        seen = dgram if note is None else replace(dgram, src=src, sport=sport or 0, dst=dst, dport=dport or 0)
        self.sched.call_later(delay, node.deliver, seen, sender)

    # --- ESP traffic ------------------------------------------------------------------------
    def transmit_traffic(self, item: EspPacket | EspFluid, sender: str) -> None:
        if isinstance(item, EspFluid):
            self._fluid(item, sender)
            return
        now = self.sched.now
        pkt = item.packet
        proto = nat_mod.UDP if item.sport is not None else nat_mod.ESP
        src, sport, _ = self._nat_out(sender, item.src, item.sport, proto)
        dst, dport, _, blocked = self._nat_in(item.dst, item.dport, proto)
        node = self.node_at(dst, sender)
        rng = self.esp_draws(sender, pkt.flow)
        if node is None:
            reason: str | None = "no_route"
        elif self.is_down(sender, node.name, "esp"):
            reason = "link_down"
        elif mtu_mod.too_big(item, self.mtu):
            reason = "too_big"
        elif any([self._lost(sender, node.name, "esp", rng) for _ in range(mtu_mod.fragment_count(item, self.mtu))]):
            reason = "loss"  # one draw per fragment: all of them must arrive
        else:
            reason = "nat_no_mapping" if blocked else None
        if reason is not None or node is None:
            if self.keep_esp:
                self.esp.append(EspSent(now, sender, item, None, reason or "no_route"))
            detail = mtu_mod.too_big_detail(item, pkt.size, self.mtu) if reason == "too_big" else None
            self.ledger.packet(pkt.flow, reason or "no_route", pkt.t0, pkt.span, pkt.size, detail)
            return
        self.ledger.passed(pkt.flow)
        fwd = self.forwarded.setdefault(pkt.flow, [0.0, 0.0])
        fwd[0] += pkt.size
        fwd[1] += 1
        delay = self._delay(sender, node.name, proto="esp", rng=rng)
        if self.keep_esp:
            self.esp.append(EspSent(now, sender, item, now + delay))
        seen = replace(item, src=src, sport=sport, dst=dst, dport=dport) if self.nat is not None else item
        self.sched.call_later(delay, node.deliver_traffic, seen)

    def _fluid(self, msg: EspFluid, sender: str) -> None:
        self.fluid_log.append((self.sched.now, sender, msg))
        key = (sender, msg.flow)
        nat = self.nat
        if nat is not None and sender == nat.peer:  # an outbound flow keeps its NAT mapping alive
            held = self._nat_held.pop(key, None)
            if held is not None:
                nat.outbound(*held, fluid=-1)
            proto = nat_mod.UDP if msg.sport is not None else nat_mod.ESP
            if msg.rate > 0:
                nat.outbound(msg.src, msg.sport, proto, fluid=+1)
                self._nat_held[key] = (msg.src, msg.sport, proto)
        self._close(key)
        self.fluids[key] = msg
        self._judge(key)
        self._forward(key)

    def _fluid_dest(self, key: tuple[str, str]) -> tuple[PeerNode | None, bool]:
        """The node a fluid flow reaches, and whether the NAT drops it (no mapping)."""
        msg = self.fluids[key]
        nat = self.nat
        if nat is not None and msg.dst == nat.public:
            proto = nat_mod.UDP if msg.sport is not None else nat_mod.ESP
            return self.node_at(nat.inside_address, key[0]), nat.inbound(msg.dport, proto) is None
        return self.node_at(msg.dst, key[0]), False

    def _close(self, key: tuple[str, str]) -> None:
        """Stop accounting what the flow was losing on the link."""
        fate = self._fates.pop(key, None)
        if fate is not None:
            self.ledger.fluid(key[1], fate[0], self.sched.now, 0.0, 0.0)

    def _fate(self, key: tuple[str, str]) -> tuple[str, float, float] | None:
        """What the flow loses on its way from now: (reason, bytes/s, packets/s), or None."""
        msg = self.fluids[key]
        node, blocked = self._fluid_dest(key)
        if msg.rate <= 0:
            return None
        if node is None:
            return ("no_route", msg.rate, msg.pps)
        if self.is_down(key[0], node.name, "esp"):
            return ("link_down", msg.rate, msg.pps)
        if mtu_mod.too_big(msg, self.mtu):
            return ("too_big", msg.rate, msg.pps)
        if blocked:
            return ("nat_no_mapping", msg.rate, msg.pps)
        frac = mtu_mod.loss_fraction(self._loss_model(key[0], node.name, "esp"), mtu_mod.fragment_count(msg, self.mtu))
        return ("loss", msg.rate * frac, msg.pps * frac) if frac else None

    def _fate_detail(self, key: tuple[str, str], reason: str) -> str | None:
        msg = self.fluids[key]
        if reason != "too_big" or msg.pps <= 0:
            return None
        return mtu_mod.too_big_detail(msg, round(msg.rate / msg.pps), self.mtu)

    def _judge(self, key: tuple[str, str]) -> None:
        """Account the drops of the flow on the link from now on."""
        fate = self._fate(key)
        if fate is None:
            return
        self._fates[key] = fate
        self.ledger.fluid(key[1], fate[0], self.sched.now, fate[1], fate[2], self._fate_detail(key, fate[0]))

    def _pass(self, key: tuple[str, str], rate: float, pps: float) -> None:
        """From now on the flow passes ``rate`` on to its receiver: count what passed so far."""
        now = self.sched.now
        old = self._passing.get(key)
        if old is not None and now > old[2]:
            fwd = self.forwarded.setdefault(key[1], [0.0, 0.0])
            fwd[0] += old[0] * (now - old[2])
            fwd[1] += old[1] * (now - old[2])
        self._passing[key] = (rate, pps, now)

    def _forward(self, key: tuple[str, str]) -> None:
        msg = self.fluids[key]
        node, blocked = self._fluid_dest(key)
        if node is None:
            self._pass(key, 0.0, 0.0)
            return
        k = 0.0 if blocked or self.is_down(key[0], node.name, "esp") or mtu_mod.too_big(msg, self.mtu) \
            else 1.0 - mtu_mod.loss_fraction(self._loss_model(key[0], node.name, "esp"),
                                             mtu_mod.fragment_count(msg, self.mtu))
        out = replace(msg, rate=msg.rate * k, pps=msg.pps * k, sent_at=self.sched.now)
        self._pass(key, out.rate, out.pps)
        self.sched.call_later(self._delay(key[0], node.name, jitter=False, proto="esp"), node.deliver_traffic, out)

    def changed(self) -> None:
        """The link's state changed (down, up, a loss or delay window): every fluid flow on it
        changes its fate from now."""
        self.generation += 1
        for key in list(self.fluids):
            old, new = self._fates.get(key), self._fate(key)
            if old is not None and new is not None and old[0] == new[0]:
                if new != old:  # same reason, another rate: the drop interval goes on
                    self._fates[key] = new
                    self.ledger.fluid(key[1], new[0], self.sched.now, new[1], new[2], self._fate_detail(key, new[0]))
            else:
                self._close(key)
                self._judge(key)
            self._forward(key)

    def finish(self) -> None:
        self.ledger.finish(self.sched.now)
        for key in list(self._passing):
            self._pass(key, 0.0, 0.0)
