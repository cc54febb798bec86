"""The IKEv2 IKE_SA_INIT exchange, both roles (strongSwan's ike_init task): proposal, key
exchange, nonces and NAT detection (RFC 7296 1.2, 2.23).

    IKE_SA_INIT  { SA, KEi, Ni, N(NATD_S_IP), N(NATD_D_IP) }  -->
                 <--  { SA, KEr, Nr, N(NATD_S_IP), N(NATD_D_IP) }  or { N(INVALID_KE_PAYLOAD) }

A request is checked statelessly first (``receive_request``: critical payloads, proposal,
KE group) and answered with a notify without creating state when refused (RFC 7296 2.6);
only then does the responder create the IKE SA, whose task manager runs ``IkeInit`` as
responder task. The initiator retries with the group the responder asks for
(INVALID_KE_PAYLOAD, RFC 7296 1.2) under the same message id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import dh, natt
from ..events import KeGroupRetry, MessageIgnored, MessageReceived, MessageSent, NatDetected, NegotiationFailed
from ..proposals import Proposal, choose, is_subset
from ..taskmgr import Outcome
from .ikesa import natd_hash
from .message import KE, SA, Exchange, Message, N, Nonce, Notify, Payload, SaProposal
from .wire import real_message, sealed

if TYPE_CHECKING:
    from ..onwire import Datagram
    from .engine import Ikev2Engine
    from .ikesa import IkeSa


class IkeInit:
    name = "ike_init"
    exchange = "IKE_SA_INIT"

    def __init__(self, engine: Ikev2Engine):
        self.engine = engine
        self.group: int | None = None
        # responder: what the stateless check of the request chose (``receive_request``)
        self.dgram: Datagram | None = None
        self.num = 0
        self.chosen: Proposal | None = None
        self.failed = False

    # --- initiator ---------------------------------------------------------------------------
    def build_i(self, sa: IkeSa, msg_id: int, now: float) -> Message:
        e = self.engine
        props = e.settings.ike.proposals
        if self.group is None:
            self.group = props[0].dh[0].ikev2_id
        if sa.dh is None or sa.dh.group != self.group:
            sa.dh = dh.generate(self.group, e.ep.rng, e.ep.crypto_model)
        if not sa.nonce_i:
            sa.nonce_i = e.ep.rng.randbytes(e.settings.ike.nonce_bytes)
        payloads: list[Payload] = [
            SA(tuple(SaProposal(i, b"", p) for i, p in enumerate(props, 1))),
            KE(self.group, sa.dh.public),
            Nonce(sa.nonce_i),
            *natd_payloads(e, sa),
        ]
        msg = sealed(Message(Exchange.IKE_SA_INIT, sa.spi_i, bytes(8), msg_id, False, True, tuple(payloads)))
        sa.init_request = msg.raw  # RFC 7296 2.15 RealMessage1: the octets sent
        return msg

    def process_i(self, sa: IkeSa, resp: Message, now: float) -> Outcome:
        e = self.engine
        inval = resp.notify(Notify.INVALID_KE_PAYLOAD)
        if inval is not None:
            wanted = int.from_bytes(inval.data[:2], "big")
            mine = {g.ikev2_id for p in e.settings.ike.proposals for g in p.dh}
            if wanted in mine and wanted != self.group:
                e.emit_sa(sa, KeGroupRetry(rejected=self.group, requested=wanted))
                self.group = wanted
                return Outcome.RESTART
            e.fail(sa, "ike", "INVALID_KE_PAYLOAD", f"responder wants DH group {wanted}, not configured here")
            return Outcome.DONE
        err = resp.error_notify()
        if err is not None:
            e.fail(sa, "ike", err.name, "responder refused IKE_SA_INIT")
            return Outcome.DONE
        sa_p, ke, nonce = resp.first(SA), resp.first(KE), resp.first(Nonce)
        if not isinstance(sa_p, SA) or not isinstance(ke, KE) or not isinstance(nonce, Nonce) \
                or len(sa_p.proposals) != 1:
            e.fail(sa, "ike", "INVALID_SYNTAX", "IKE_SA_INIT response lacks SA, KE or Nr")
            return Outcome.DONE
        chosen = sa_p.proposals[0].proposal
        if not is_subset(chosen, e.settings.ike.proposals) or not chosen.dh or chosen.dh[0].ikev2_id != self.group:
            e.fail(sa, "ike", "NO_PROPOSAL_CHOSEN", f"responder chose {chosen}, which was not offered")
            return Outcome.DONE
        sa.spi_r = resp.spi_r
        sa.proposal = chosen
        sa.nonce_r = nonce.data
        sa.init_response = real_message(resp)  # RealMessage2: the octets received
        assert sa.dh is not None
        try:
            secret = dh.shared_secret(sa.dh, ke.data)
        except dh.DhError as ex:
            e.fail(sa, "ike", "INVALID_SYNTAX", f"bad KE payload: {ex}")
            return Outcome.DONE
        sa.derive_keys(secret)
        check_natd(e, sa, resp)
        return Outcome.DONE

    def gave_up(self, sa: IkeSa, now: float) -> None:
        self.engine.setup_timed_out(sa, now)

    # --- responder (after ``receive_request`` accepted the request) --------------------------
    def process_r(self, sa: IkeSa, msg: Message, now: float) -> None:
        e = self.engine
        assert self.chosen is not None and self.group is not None and self.dgram is not None
        nonce, ke = msg.first(Nonce), msg.first(KE)
        assert isinstance(nonce, Nonce) and isinstance(ke, KE)
        sa.proposal, sa.nonce_i = self.chosen, nonce.data
        sa.nonce_r = e.ep.rng.randbytes(e.settings.ike.nonce_bytes)
        sa.dh = dh.generate(self.group, e.ep.rng, e.ep.crypto_model)
        try:
            secret = dh.shared_secret(sa.dh, ke.data)
        except dh.DhError as ex:
            self.failed = True
            e.destroy(sa, "invalid_ke", now)
            refuse(e, self.dgram, msg, N(Notify.INVALID_SYNTAX), f"bad KE payload: {ex}")
            return
        sa.init_request = real_message(msg)  # RFC 7296 2.15 RealMessage1: the octets received
        sa.derive_keys(secret)
        check_natd(e, sa, msg)

    def build_r(self, sa: IkeSa, msg: Message, now: float) -> Message | None:
        if self.failed:
            return None
        assert self.chosen is not None and self.group is not None and sa.dh is not None
        natd = natd_payloads(self.engine, sa) if msg.notify(Notify.NAT_DETECTION_SOURCE_IP) is not None else []
        payloads: list[Payload] = [SA((SaProposal(self.num, b"", self.chosen),)), KE(self.group, sa.dh.public),
                                   Nonce(sa.nonce_r), *natd]
        resp = sealed(Message(Exchange.IKE_SA_INIT, sa.spi_i, sa.spi_r, msg.msg_id, True, False, tuple(payloads)))
        sa.init_response = resp.raw  # RealMessage2: the octets sent
        return resp


def receive_request(e: Ikev2Engine, dgram: Datagram, msg: Message, now: float) -> None:
    """An IKE_SA_INIT request: a retransmission of one answered already, a refusal without
    state, or a new half-open IKE SA answered by its ``IkeInit`` responder task."""
    known = e.half_open.get((msg.spi_i, dgram.src))
    if known is not None and known.alive:
        e.emit_message(MessageReceived, msg, dgram.retransmit, src=dgram.src, dst=dgram.dst)
        known.tm.on_request(msg, now, None)
        return
    s = e.settings
    if dgram.src != s.remote_address:
        # No connection is configured for this peer address (e.g. the peer's traffic now
        # leaves through another uplink): a gateway drops the request.
        e.ep.emit(MessageIgnored(
            reason=f"no connection configured for {dgram.src} (remote address is {s.remote_address})",
            message={**msg_fields(msg, dgram.retransmit), "src": dgram.src, "dst": dgram.dst}))
        return
    e.emit_message(MessageReceived, msg, dgram.retransmit, src=dgram.src, dst=dgram.dst)
    task = _check_request(e, dgram, msg)
    if task is None:
        return
    sa = e.new_sa(False, msg.spi_i, e.ep.random_spi(8), (dgram.src, dgram.sport), now)
    e.half_open[(msg.spi_i, dgram.src)] = sa
    sa.tm.on_request(msg, now, task)
    if sa.alive:
        e.ep.schedule(now + s.ike.half_open_timeout, e.on_half_open_timer, sa.uid)


def _check_request(e: Ikev2Engine, dgram: Datagram, msg: Message) -> IkeInit | None:
    """The stateless checks (RFC 7296 2.5, 1.2, 3.10.1): the responder task for an acceptable
    request, else None after answering with a notify."""
    s = e.settings
    critical = msg.unsupported_critical()
    if critical is not None:  # RFC 7296 2.5: the payload type as the notification data
        refuse(e, dgram, msg, N(Notify.UNSUPPORTED_CRITICAL_PAYLOAD, bytes([critical])),
               f"critical payload of unknown type {critical}")
        return None
    sa_p, ke, nonce = msg.first(SA), msg.first(KE), msg.first(Nonce)
    if not isinstance(sa_p, SA) or not isinstance(ke, KE) or not isinstance(nonce, Nonce):
        refuse(e, dgram, msg, N(Notify.INVALID_SYNTAX), "IKE_SA_INIT without SA, KE or Ni")
        return None
    offered = tuple(p.proposal for p in sa_p.proposals)
    choice = choose(offered, s.ike.proposals)
    if choice is None:
        refuse(e, dgram, msg, N(Notify.NO_PROPOSAL_CHOSEN),
               f"no configured IKE proposal ({', '.join(map(str, s.ike.proposals))}) matches the "
               f"offered ({', '.join(map(str, offered))})")
        return None
    index, chosen = choice
    group = chosen.dh[0].ikev2_id
    if ke.group != group:
        # RFC 7296 1.2 / 3.10.1: tell the initiator which group to use; keep no state.
        refuse(e, dgram, msg, N(Notify.INVALID_KE_PAYLOAD, group.to_bytes(2, "big")), None)
        return None
    task = IkeInit(e)
    task.dgram, task.chosen, task.group = dgram, chosen, group
    task.num = sa_p.proposals[index - 1].num  # RFC 7296 3.3.1: the number the initiator gave it
    return task


def refuse(e: Ikev2Engine, dgram: Datagram, msg: Message, answer: N, reason: str | None) -> None:
    """Answer an IKE_SA_INIT request with a notify, keeping no state (RFC 7296 2.6)."""
    from ..onwire import Datagram
    resp = sealed(Message(Exchange.IKE_SA_INIT, msg.spi_i, bytes(8), msg.msg_id, True, False, (answer,)))
    if reason is not None:
        e.ep.emit(NegotiationFailed(ike_version=2, spi_i=msg.spi_i.hex(), spi_r=bytes(8).hex(), phase="ike",
                                    notify=answer.name, reason=reason))
    e.ep.emit(MessageSent(**msg_fields(resp, 0), src=dgram.dst, dst=dgram.src))
    e.ep.send(Datagram(dgram.dst, dgram.dport, dgram.src, dgram.sport, resp, 0))


def msg_fields(msg: Message, retransmit: int) -> dict[str, Any]:
    return {**msg.fields(), "retransmit": retransmit}


# --- NAT detection (RFC 7296 2.23) -----------------------------------------------------------
def natd_payloads(e: Ikev2Engine, sa: IkeSa) -> list[N]:
    """NAT_DETECTION_SOURCE_IP and _DESTINATION_IP (RFC 7296 2.23), unless NAT traversal is
    off here (``nat_traversal: false``: the peer then detects nothing either)."""
    if not e.settings.nat_traversal:
        return []
    spi_r = sa.spi_r if not sa.initiator or sa.proposal else bytes(8)
    # encap: strongSwan ike_natd.c build_natd_payload() fakes the source hash (force_encap),
    # so the peer sees this side behind a NAT and both move to UDP 4500 and ESP in UDP
    source = (sa.local[0], 0) if e.settings.encap else sa.local
    return [N(Notify.NAT_DETECTION_SOURCE_IP, natd_hash(sa.spi_i, spi_r, *source)),
            N(Notify.NAT_DETECTION_DESTINATION_IP, natd_hash(sa.spi_i, spi_r, *sa.remote))]


def check_natd(e: Ikev2Engine, sa: IkeSa, msg: Message) -> None:
    """RFC 7296 2.23: compare the peer's hashes with the addresses the packet really used."""
    rx = e.rx
    src, dst = msg.notify(Notify.NAT_DETECTION_SOURCE_IP), msg.notify(Notify.NAT_DETECTION_DESTINATION_IP)
    if rx is None or src is None or dst is None or not e.settings.nat_traversal:
        return
    sa.nat_remote = src.data != natd_hash(msg.spi_i, msg.spi_r, rx.src, rx.sport)
    sa.nat_local = dst.data != natd_hash(msg.spi_i, msg.spi_r, rx.dst, rx.dport)
    if e.settings.encap and not (sa.nat_local or sa.nat_remote):
        sa.nat_remote = True  # ike_natd.c: COND_NAT_FAKE, which floats like a NAT (COND_NAT_ANY)
    if sa.nat_local or sa.nat_remote:
        e.emit_sa(sa, NatDetected(local=sa.nat_local, remote=sa.nat_remote))
        if sa.initiator:  # RFC 7296 2.23: IKE_AUTH and everything after from and to UDP 4500
            natt.float_ports(sa, lambda event: e.emit_sa(sa, event))
            e.keepalives.start(e.ep.now)
