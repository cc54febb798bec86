"""The IKEv2 engine of one peer: its IKE SAs, dispatch of inbound messages, SA lifecycle.

Inbound messages are matched to an IKE SA by this side's SPI; a new IKE_SA_INIT request
is checked statelessly first (proposal, KE group) and only then creates state. Everything
that happens is reported as an event (docs/events.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import dh, kdf, natt
from ..events import (
    ChildSaEstablished,
    IkeSaDeleted,
    IkeSaEstablished,
    MessageEvent,
    MessageIgnored,
    MessageReceived,
    MessageSent,
    NatDetected,
    NegotiationFailed,
    NegotiationRetry,
    SaEvent,
)
from ..keylog import child_records
from ..proposals import Proposal, Protocol, choose
from ..sa import ChildSa
from ..settings import Identity
from ..ts import TrafficSelector
from .ikesa import IkeInput, IkeSa, IkeState, natd_hash
from .lifecycle import LifecycleMixin
from .liveness import Liveness
from .message import AUTH, ID, KE, SA, AuthMethod, D, Exchange, Message, N, Nonce, Notify, Payload, SaProposal
from .responder import Responder
from .taskmgr import TaskManager
from .tasks import IkeAuthTask, IkeInitTask, InformationalTask
from .wire import real_message, sealed

if TYPE_CHECKING:
    from ..endpoint import Endpoint
    from ..onwire import Datagram

ID_KINDS = {v: k for k, v in Identity.ID_TYPES.items()}


class Ikev2Engine(LifecycleMixin):
    version = 2

    def __init__(self, ep: Endpoint):
        self.ep = ep
        self.settings = ep.settings
        self.sas: dict[int, IkeSa] = {}
        self.by_spi: dict[bytes, IkeSa] = {}
        self.half_open: dict[tuple[bytes, str], IkeSa] = {}
        self.pending_init_response: dict[int, Message] = {}
        self.responder = Responder(self)
        self.liveness = Liveness(self)
        self.trap_armed = False
        """A dead peer's SAs were deleted with action trap/hold: traffic renegotiates them."""
        self.attempts = 0
        self._rx: Datagram | None = None
        self.children: dict[int, ChildSa] = {}
        """CHILD SAs by uid (timer hints carry the uid), until deleted."""
        self.creating = False
        """A traffic-triggered CREATE_CHILD_SA is under way."""
        self.keepalives = natt.Keepalives(ep, lambda: natt.keepalive_path(self.sas.values()))

    # --- entry points ----------------------------------------------------------------------
    def start(self, now: float) -> None:
        if self.settings.start == "initiate":
            self.initiate(now)

    def initiate(self, now: float) -> IkeSa:
        s = self.settings
        sa = self._new_sa(True, self.ep.random_spi(8), bytes(8), (s.remote_address, s.remote_port), now)
        sa.tm.queue.extend([IkeInitTask(self), IkeAuthTask(self)])
        sa.tm.initiate(now)
        return sa

    def receive(self, dgram: Datagram, now: float) -> None:
        msg = dgram.message
        if not isinstance(msg, Message):
            self.ep.emit(MessageIgnored(reason="not an IKEv2 message", message={"src": dgram.src}))
            return
        self._rx = dgram
        if msg.exchange is Exchange.IKE_SA_INIT and not msg.response:
            self.on_init_request(dgram, msg, now)
            return
        sa = self.by_spi.get(msg.spi_r if msg.initiator else msg.spi_i)
        if sa is None or not sa.alive:
            self.ep.emit(MessageIgnored(reason="unknown IKE SA", message={
                "exchange": msg.exchange.name, "response": msg.response, "msg_id": msg.msg_id,
                "spi_i": msg.spi_i.hex(), "spi_r": msg.spi_r.hex()}))
            return
        self._emit_message(MessageReceived, sa, msg, dgram.retransmit, src=dgram.src, dst=dgram.dst)
        if msg.response and msg.unsupported_critical() is not None:
            # RFC 7296 2.5: the message is rejected; a request would be answered (responder.py)
            self.ep.emit(MessageIgnored(
                reason=f"critical payload of unknown type {msg.unsupported_critical()} in a response",
                message={"ike_version": 2, **sa.label(), "exchange": msg.exchange.name, "response": True,
                         "msg_id": msg.msg_id}))
            return
        if msg.encrypted:  # integrity-protected: follow the peer to 4500 / its new NAT port (RFC 7296 2.23)
            natt.on_authenticated(sa, dgram, lambda event: self.emit_sa(sa, event))
            self.keepalives.start(now)
        self.liveness.inbound(sa, msg, now)
        if msg.response:
            sa.tm.on_response(msg, now)
        else:
            sa.tm.on_request(msg, now, self.responder.respond)

    def on_init_request(self, dgram: Datagram, msg: Message, now: float) -> None:
        known = self.half_open.get((msg.spi_i, dgram.src))
        if known is not None and known.alive:
            self._emit_message(MessageReceived, known, msg, dgram.retransmit, src=dgram.src, dst=dgram.dst)
            known.tm.on_request(msg, now, self.responder.respond)
            return
        s = self.settings
        if dgram.src != s.remote_address:
            # No connection is configured for this peer address (e.g. the peer's traffic now
            # leaves through another uplink): a gateway drops the request.
            self.ep.emit(MessageIgnored(
                reason=f"no connection configured for {dgram.src} (remote address is {s.remote_address})",
                message={**self._msg_fields(msg, dgram.retransmit), "src": dgram.src, "dst": dgram.dst}))
            return
        self.ep.emit(MessageReceived(**self._msg_fields(msg, dgram.retransmit), src=dgram.src, dst=dgram.dst))
        critical = msg.unsupported_critical()
        if critical is not None:  # RFC 7296 2.5: the payload type as the notification data
            self._refuse(dgram, msg, N(Notify.UNSUPPORTED_CRITICAL_PAYLOAD, bytes([critical])),
                         f"critical payload of unknown type {critical}")
            return
        sa_p, ke, nonce = msg.first(SA), msg.first(KE), msg.first(Nonce)
        if not isinstance(sa_p, SA) or not isinstance(ke, KE) or not isinstance(nonce, Nonce):
            self._refuse(dgram, msg, N(Notify.INVALID_SYNTAX), "IKE_SA_INIT without SA, KE or Ni")
            return
        offered = tuple(p.proposal for p in sa_p.proposals)
        choice = choose(offered, s.ike.proposals)
        if choice is None:
            self._refuse(dgram, msg, N(Notify.NO_PROPOSAL_CHOSEN),
                         f"no configured IKE proposal ({', '.join(map(str, s.ike.proposals))}) matches the "
                         f"offered ({', '.join(map(str, offered))})")
            return
        index, chosen = choice
        num = sa_p.proposals[index - 1].num  # RFC 7296 3.3.1: the number the initiator gave it
        group = chosen.dh[0].ikev2_id
        if ke.group != group:
            # RFC 7296 1.2 / 3.10.1: tell the initiator which group to use; keep no state.
            self._refuse(dgram, msg, N(Notify.INVALID_KE_PAYLOAD, group.to_bytes(2, "big")), None)
            return
        sa = self._new_sa(False, msg.spi_i, self.ep.random_spi(8), (dgram.src, dgram.sport), now)
        self.half_open[(msg.spi_i, dgram.src)] = sa
        sa.proposal, sa.nonce_i = chosen, nonce.data
        sa.nonce_r = self.ep.rng.randbytes(s.ike.nonce_bytes)
        sa.dh = dh.generate(group, self.ep.rng, self.ep.crypto_model)
        try:
            secret = dh.shared_secret(sa.dh, ke.data)
        except dh.DhError as ex:
            self.destroy(sa, "invalid_ke", now)
            self._refuse(dgram, msg, N(Notify.INVALID_SYNTAX), f"bad KE payload: {ex}")
            return
        sa.init_request = real_message(msg)  # RFC 7296 2.15 RealMessage1: the octets received
        sa.derive_keys(secret)
        self.check_natd(sa, msg)
        natd = self.natd_payloads(sa) if msg.notify(Notify.NAT_DETECTION_SOURCE_IP) is not None else []
        payloads: list[Payload] = [SA((SaProposal(num, b"", chosen),)), KE(group, sa.dh.public),
                                   Nonce(sa.nonce_r), *natd]
        resp = sealed(Message(Exchange.IKE_SA_INIT, sa.spi_i, sa.spi_r, msg.msg_id, True, False, tuple(payloads)))
        sa.init_response = resp.raw  # RealMessage2: the octets sent
        self.pending_init_response[sa.uid] = resp
        sa.tm.on_request(msg, now, self.responder.respond)
        self.ep.schedule(now + s.ike.half_open_timeout, self.on_half_open_timer, sa.uid)

    def _refuse(self, dgram: Datagram, msg: Message, answer: N, reason: str | None) -> None:
        """Answer an IKE_SA_INIT request with a notify, keeping no state (RFC 7296 2.6)."""
        from ..onwire import Datagram
        resp = sealed(Message(Exchange.IKE_SA_INIT, msg.spi_i, bytes(8), msg.msg_id, True, False, (answer,)))
        if reason is not None:
            self.ep.emit(NegotiationFailed(ike_version=2, spi_i=msg.spi_i.hex(), spi_r=bytes(8).hex(), phase="ike",
                                           notify=answer.name, reason=reason))
        self.ep.emit(MessageSent(**self._msg_fields(resp, 0), src=dgram.dst, dst=dgram.src))
        self.ep.send(Datagram(dgram.dst, dgram.dport, dgram.src, dgram.sport, resp, 0))

    # --- timers ----------------------------------------------------------------------------
    def on_retransmit_timer(self, now: float, uid: int, msg_id: int, n: int, generation: int) -> None:
        sa = self.sas.get(uid)
        if sa is not None and sa.alive:
            sa.tm.on_retransmit_timer(now, msg_id, n, generation)

    def on_half_open_timer(self, now: float, uid: int) -> None:
        sa = self.sas.get(uid)
        if sa is not None and sa.alive and sa.established_at is None:
            self.emit_sa(sa, NegotiationFailed(phase="ike", notify=None,
                                               reason="half-open IKE SA expired: no IKE_AUTH within "
                                                      f"{self.settings.ike.half_open_timeout:g} s"))
            self.destroy(sa, "half_open_timeout", now)

    # --- services for tasks and the responder ----------------------------------------------
    def _new_sa(self, initiator: bool, spi_i: bytes, spi_r: bytes, remote: tuple[str, int], now: float) -> IkeSa:
        s = self.settings
        sa = IkeSa(self.ep.next_uid(), initiator, spi_i, spi_r, (s.address, s.port), remote, now)
        sa.tm = TaskManager(self, sa)
        self.sas[sa.uid] = sa
        self.by_spi[sa.my_spi] = sa
        return sa

    def _msg_fields(self, msg: Message, retransmit: int) -> dict[str, Any]:
        return {**msg.fields(), "retransmit": retransmit}

    def _emit_message(self, event: type[MessageEvent], sa: IkeSa, msg: Message, retransmit: int, **extra: Any) -> None:
        self.ep.emit(event(**self._msg_fields(msg, retransmit), **extra))

    def send_message(self, sa: IkeSa, msg: Message, retransmit: int) -> None:
        from ..onwire import Datagram
        self._emit_message(MessageSent, sa, msg, retransmit, src=sa.local[0], dst=sa.remote[0])
        keys = sa.wire_keys() if msg.encrypted and sa.keys is not None else None
        self.ep.send(Datagram(sa.local[0], sa.local[1], sa.remote[0], sa.remote[1], msg, retransmit, keys))

    def emit_sa(self, sa: IkeSa, event: SaEvent) -> None:
        """Report ``event`` as an event of the IKE SA ``sa``."""
        self.ep.emit(event, {"ike_version": 2, **sa.label()})

    def natd_payloads(self, sa: IkeSa) -> list[N]:
        """NAT_DETECTION_SOURCE_IP and _DESTINATION_IP (RFC 7296 2.23), unless NAT traversal is
        off here (``nat_traversal: false``: the peer then detects nothing either)."""
        if not self.settings.nat_traversal:
            return []
        spi_r = sa.spi_r if not sa.initiator or sa.proposal else bytes(8)
        # encap: strongSwan ike_natd.c build_natd_payload() fakes the source hash (force_encap),
        # so the peer sees this side behind a NAT and both move to UDP 4500 and ESP in UDP
        source = (sa.local[0], 0) if self.settings.encap else sa.local
        return [N(Notify.NAT_DETECTION_SOURCE_IP, natd_hash(sa.spi_i, spi_r, *source)),
                N(Notify.NAT_DETECTION_DESTINATION_IP, natd_hash(sa.spi_i, spi_r, *sa.remote))]

    def check_natd(self, sa: IkeSa, msg: Message) -> None:
        """RFC 7296 2.23: compare the peer's hashes with the addresses the packet really used."""
        rx = self._rx
        src, dst = msg.notify(Notify.NAT_DETECTION_SOURCE_IP), msg.notify(Notify.NAT_DETECTION_DESTINATION_IP)
        if rx is None or src is None or dst is None or not self.settings.nat_traversal:
            return
        sa.nat_remote = src.data != natd_hash(msg.spi_i, msg.spi_r, rx.src, rx.sport)
        sa.nat_local = dst.data != natd_hash(msg.spi_i, msg.spi_r, rx.dst, rx.dport)
        if self.settings.encap and not (sa.nat_local or sa.nat_remote):
            sa.nat_remote = True  # ike_natd.c: COND_NAT_FAKE, which floats like a NAT (COND_NAT_ANY)
        if sa.nat_local or sa.nat_remote:
            self.emit_sa(sa, NatDetected(local=sa.nat_local, remote=sa.nat_remote))
            if sa.initiator:  # RFC 7296 2.23: IKE_AUTH and everything after from and to UDP 4500
                natt.float_ports(sa, lambda event: self.emit_sa(sa, event))
                self.keepalives.start(self.ep.now)

    def verify_peer(self, sa: IkeSa, idp: ID, auth: AUTH, of_initiator: bool) -> str | None:
        """None if the peer's identity and AUTH verify, else the reason why not."""
        s = self.settings
        kind = ID_KINDS.get(idp.id_type, str(idp.id_type))
        shown = Identity(kind, _id_text(kind, idp.data))
        if s.ike.remote_id is not None and (s.ike.remote_id.id_type, s.ike.remote_id.data) != (idp.id_type, idp.data):
            return f"peer identity {shown.kind}:{shown} does not match configured remote_id " \
                   f"{s.ike.remote_id.kind}:{s.ike.remote_id}"
        if auth.method != AuthMethod.SHARED_KEY_MIC:
            return f"unsupported AUTH method {auth.method}"
        if sa.auth_octets(of_initiator, idp.body, s.ike.psk) != auth.data:
            return "AUTH payload does not verify: the pre-shared keys differ"
        sa.peer_id = shown
        return None

    def ike_established(self, sa: IkeSa, now: float) -> None:
        """IKE_AUTH completed: a new IKE SA with the peer."""
        self.half_open.pop((sa.spi_i, sa.remote[0]), None)
        self.attempts = 0
        assert sa.proposal is not None
        self.emit_sa(sa, IkeSaEstablished(initiator=sa.initiator, proposal=str(sa.proposal),
                                          local_id=str(self.settings.local_identity), remote_id=str(sa.peer_id)))
        self.trap_armed = False
        self.became_established(sa, now)

    def became_established(self, sa: IkeSa, now: float) -> None:
        """The one place where an IKE SA becomes established, whatever made it (IKE_AUTH, a
        rekey initiated by either side, the SA kept after a rekey collision, a new SA after a
        restart): it is usable, its lifetime starts and its dead peer detection is armed
        (strongSwan ike_sa.c ``set_state``: entering IKE_ESTABLISHED schedules the rekey /
        delete jobs and the first DPD check of the SA, ``send_dpd``)."""
        sa.move(IkeInput.ESTABLISH)
        sa.established_at = now
        self.liveness.start(sa, now)
        self.start_ike_lifetime(sa, now)

    def install_child(self, sa: IkeSa, proposal: Proposal, spi_in: bytes, spi_out: bytes,
                      local_ts: tuple[TrafficSelector, ...], remote_ts: tuple[TrafficSelector, ...],
                      initiator: bool, now: float, ni: bytes, nr: bytes, g_ir: bytes | None = None,
                      emit_established: bool = True, outbound: bool = True, replaces: int | None = None) -> ChildSa:
        """Derive KEYMAT (RFC 7296 2.17) and install the SA pair; ``initiator`` is who sent the
        request that created it: its outbound keys are the i->r keys. A rekeyed SA is installed
        with ``outbound`` False until traffic switches to it (``switch_to``)."""
        assert sa.keys is not None
        keys = kdf.child_keys(sa.prf, sa.keys.sk_d, ni, nr, proposal.encr[0],
                              proposal.integ[0] if proposal.integ else None, g_ir)
        i_keys, r_keys = (keys.encr_i, keys.integ_i), (keys.encr_r, keys.integ_r)
        out_k, in_k = (i_keys, r_keys) if initiator else (r_keys, i_keys)
        child = ChildSa(self.ep.next_uid(), sa.uid, spi_in, spi_out, proposal, local_ts, remote_ts, initiator, now,
                        encr_key_in=in_k[0], integ_key_in=in_k[1], encr_key_out=out_k[0], integ_key_out=out_k[1],
                        nonces=(ni, nr), outbound=outbound, replaces=replaces)
        sa.children.append(child)
        child.encap = sa.encap  # ESP in UDP when NAT traversal floated the IKE SA (RFC 3948)
        encap = (sa.local[1], sa.remote[1]) if sa.encap is not None else None
        self.ep.log_keys(*child_records(child, sa.local[0], sa.remote[0], now, encap,
                                        self.ep.settings.child.sha256_96))
        if emit_established:
            self.emit_sa(sa, ChildSaEstablished(**child.describe()))
        self.start_child_lifetime(child, now)
        return child

    def delete_refused_child(self, sa: IkeSa, spi_in: bytes, now: float) -> None:
        """The responder installed a CHILD SA this initiator refuses (its traffic selectors):
        delete it there, INFORMATIONAL { D(ESP, our inbound SPI) } (strongSwan child_create.c
        delete_failed_sa() / build_i_delete())."""
        sa.tm.queue_task(InformationalTask(self, "child_delete", (D(Protocol.ESP, (spi_in,)),)), now)

    def child_failed(self, sa: IkeSa, notify: str, reason: str) -> None:
        sa.child_failed = notify
        self.emit_sa(sa, NegotiationFailed(phase="child", notify=notify, reason=reason))

    def fail(self, sa: IkeSa, phase: str, notify: str, reason: str, defer: bool = False,
             notify_peer: bool = False) -> None:
        """The IKE SA cannot be set up. ``defer``: destroy after our response is sent;
        ``notify_peer``: tell the peer in an INFORMATIONAL first (RFC 7296 2.21.2)."""
        self.emit_sa(sa, NegotiationFailed(phase=phase, notify=notify, reason=reason))
        if defer:
            self.mark_deleting(sa, notify.lower())
        elif notify_peer and sa.keys is not None:
            sa.move(IkeInput.DELETE)
            sa.tm.drop_queued()
            sa.tm.queue_task(InformationalTask(self, "auth_failed_notify", (N(Notify.AUTHENTICATION_FAILED),),
                                               lambda s, r, t: self.destroy(s, notify.lower(), t)), self.ep.now)
        else:
            self.destroy(sa, notify.lower(), self.ep.now)

    def mark_deleting(self, sa: IkeSa, reason: str) -> None:
        """Destroy the SA once the response being built has been sent."""
        sa.move(IkeInput.DELETE)
        sa.delete_reason = reason
        sa.tm.drop_queued()

    def after_response(self, sa: IkeSa, response: Message, now: float) -> None:
        if sa.state is IkeState.DELETING and sa.delete_reason is not None:
            self.destroy(sa, sa.delete_reason, now)

    def setup_timed_out(self, sa: IkeSa, now: float) -> None:
        self.destroy(sa, "retransmit_timeout", now)
        if not sa.initiator:
            return
        self.attempts += 1
        tries = self.settings.keyingtries
        if tries == 0 or self.attempts < tries:
            self.ep.emit(NegotiationRetry(attempt=self.attempts + 1, keyingtries="forever" if tries == 0 else tries))
            self.initiate(now)

    # --- the data plane reports traffic (proto.traffic): DPD's inputs ----------------------
    def trapped(self) -> bool:
        """A dead peer's SAs went with action trap/hold: traffic renegotiates them."""
        return self.trap_armed

    def _dpd_targets(self, child: ChildSa | None, flowing: bool | None) -> list[IkeSa]:
        if child is not None and flowing is not False:
            sa = self.sas.get(child.ike_uid)
            return [sa] if sa is not None and sa.alive else []
        return [sa for sa in self.sas.values() if sa.alive]

    def on_esp_outbound(self, child: ChildSa | None, now: float, flowing: bool | None) -> None:
        """A packet leaves on ``child`` (flowing None), or fluid outbound traffic starts or stops:
        the on-demand worry trigger (RFC 3706 5.3)."""
        if flowing is not None:
            self.liveness.out_flowing = flowing
        for sa in self._dpd_targets(child, flowing):
            self.liveness.traffic(sa, now, flowing)

    def on_esp_inbound(self, child: ChildSa | None, now: float, flowing: bool | None) -> None:
        """A packet arrived on ``child`` (flowing None), or fluid inbound traffic starts or stops:
        inbound ESP is a sign of life (swanctl.conf dpd_delay)."""
        if flowing is not None:
            self.liveness.in_flowing = flowing
        for sa in self._dpd_targets(child, flowing):
            if flowing is None:
                self.liveness.esp_inbound(sa, now)
            else:
                self.liveness.esp_flowing(sa, flowing, now)

    def dpd_steady(self, children: Sequence[ChildSa]) -> tuple[float, float, bool] | None:
        """Whether a row of ESP packets on ``children`` (each a packet for the hooks above)
        can be fed to dead peer detection as one (``on_esp_rows``): None if not (the
        packets feed different IKE SAs, or the machine's next input may act); else what
        ``Liveness.steady`` says of the one IKE SA they feed."""
        targets = [self._dpd_targets(c, None) for c in children]
        if any(x != targets[0] for x in targets[1:]):
            return None
        if not targets or not targets[0]:
            return (-math.inf, math.inf, False)
        return self.liveness.steady(targets[0][0])

    def on_esp_rows(self, children: Sequence[ChildSa], n_in: int, t_in: float, n_out: int, t_out: float,
                    out_last: bool) -> None:
        """``n_in`` packets arrived and ``n_out`` left on ``children`` (the latest at ``t_in`` /
        ``t_out``, the very last an outbound one if ``out_last``), a row ``dpd_steady``
        allowed: the same as one ``on_esp_inbound`` / ``on_esp_outbound`` call each."""
        for sa in self._dpd_targets(children[0], None):
            self.liveness.esp_rows(sa, n_in, t_in, n_out, t_out, out_last)

    def dpd_timer_idle(self, fn: Any, args: tuple[Any, ...], now: float) -> bool | None:
        """Of a timer job ``(fn, args)`` due at ``now``: None if it is not dead peer
        detection's; True if running it would only re-arm it (a stale hint, or an SA gone);
        False otherwise."""
        if fn != self.liveness.on_timer:
            return None
        sa = self.sas.get(args[0])
        if sa is None or not sa.alive or sa.dpd is None:
            return True
        return sa.dpd.stale_timer(now)

    def exchange_gave_up(self, sa: IkeSa, now: float) -> None:
        """A request of an established IKE SA went unanswered through its whole retransmission
        schedule: the peer is unreachable. With DPD on this side its action applies (strongSwan
        re-establishes per dpd_action after a retransmit timeout); without, the SAs go."""
        if sa.dpd is not None:
            sa.dpd_cause = "exchange_gave_up"
            sa.dpd.fail(now)
            self.liveness.dead(sa, now)
        else:
            self.destroy(sa, "retransmit_timeout", now)

    def peer_dead(self, sa: IkeSa, action: str, now: float) -> None:
        """DPD gave up on the peer: drop its SAs without a DELETE, then apply ``action``."""
        self.destroy(sa, "dpd", now)
        if action == "restart":
            self.initiate(now)
        elif action in ("trap", "hold"):
            self.trap_armed = True

    def has_other_sa_with(self, sa: IkeSa) -> bool:
        return any(o is not sa and o.alive and o.established_at is not None and o.remote[0] == sa.remote[0]
                   for o in self.sas.values())

    def initial_contact(self, sa: IkeSa, now: float) -> None:
        """RFC 7296 2.4: INITIAL_CONTACT - the peer has no other SA with us; drop stale ones."""
        for other in list(self.sas.values()):
            if other is not sa and other.alive and other.remote[0] == sa.remote[0]:
                self.destroy(other, "initial_contact", now)

    def destroy(self, sa: IkeSa, reason: str, now: float) -> None:
        if not sa.alive:
            return
        for c in list(sa.children):
            self.remove_child(sa, c, reason, now)
        if sa.established_at is not None:
            self.emit_sa(sa, IkeSaDeleted(reason=reason))
        sa.move(IkeInput.DESTROY)
        sa.tm.abort()
        self.by_spi.pop(sa.my_spi, None)
        self.half_open.pop((sa.spi_i, sa.remote[0]), None)
        self.pending_init_response.pop(sa.uid, None)
        del self.sas[sa.uid]

    def delete_ike(self, sa: IkeSa, reason: str, now: float) -> None:
        """Delete an IKE SA and its children, telling the peer (INFORMATIONAL with D)."""
        if not sa.alive:
            return
        sa.move(IkeInput.DELETE)
        sa.tm.drop_queued()
        sa.tm.queue_task(InformationalTask(self, "ike_delete", (D(Protocol.IKE),),
                                           lambda s, r, t: self.destroy(s, reason, t)), now)

    def close_all(self, reason: str, now: float) -> None:
        """The connection is deleted: each established IKE SA is deleted with an INFORMATIONAL
        [ D ] (RFC 7296 1.4.1), queued behind an exchange in flight (window size 1, 2.3) and
        retransmitted like any request; it is gone when answered or when the retransmissions
        give up (``closing`` until then). SAs not yet established are dropped at once."""
        for sa in list(self.sas.values()):
            if sa.usable:
                self.delete_ike(sa, reason, now)
            elif sa.alive and sa.state is not IkeState.DELETING:
                self.destroy(sa, reason, now)

    def owns(self, message: Any) -> bool:
        if not isinstance(message, Message) or (message.exchange is Exchange.IKE_SA_INIT and not message.response):
            return False
        sa = self.by_spi.get(message.spi_r if message.initiator else message.spi_i)
        return sa is not None and sa.alive

    def closing(self) -> bool:
        return any(sa.alive for sa in self.sas.values())

    # --- status ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        ikes = [sa for sa in self.sas.values() if sa.alive]
        established = [sa for sa in ikes if sa.usable]
        children = [c for sa in established for c in sa.children if c.active]
        if children:
            status = "ipsec_sa_established"
        elif established:
            status = "ipsec_sa_not_established" if any(sa.child_failed for sa in established) else "ike_sa_established"
        else:
            status = "ike_sa_not_established"
        return {
            "status": status,
            "ike_sas": [{**sa.label(), "state": sa.state.value, "initiator": sa.initiator,
                         "proposal": str(sa.proposal) if sa.proposal else None,
                         "established_at": sa.established_at} for sa in ikes],
            "child_sas": [{**c.describe(), "established_at": c.established_at, **c.counters} for c in children],
        }


def _id_text(kind: str, data: bytes) -> str:
    if kind == "ipv4" and len(data) == 4:
        return ".".join(str(b) for b in data)
    try:
        return data.decode()
    except UnicodeDecodeError:
        return data.hex()
