"""IKEv1 phase 2: quick mode, both roles (RFC 2409 5.5; IPsec DOI RFC 2407).

    QUICK_MODE, random message id M-ID, everything encrypted under the ISAKMP SA
      1  I->R  E[ HASH(1) SA Ni [KE] IDci IDcr ]    HASH(1) = prf(SKEYID_a, M-ID | SA | Ni [| KE] | IDci | IDcr)
      2  R->I  E[ HASH(2) SA Nr [KE] IDci IDcr [N(RESPONDER_LIFETIME)] ]
                                                   HASH(2) = prf(SKEYID_a, M-ID | Ni_b | SA | Nr ...)
      3  I->R  E[ HASH(3) ]                        HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b)

The responder checks the proxy identities first (INVALID_ID_INFORMATION), then the
proposals including the PFS group (NO_PROPOSAL_CHOSEN: unlike IKEv2, a PFS mismatch fails the
very first quick mode), then the lifetime policy; a refusal goes back in an INFORMATIONAL
[ HASH N ] (strongSwan quick_mode.c ``send_notify``). The initiator installs the IPsec SA
pair after sending message 3, the responder after receiving it. The initiator runs one
quick mode at a time, one per pair of local and remote subnets (one proxy-identity pair per
quick mode, RFC 2409 5.5) that no IPsec SA covers yet. A rekey is a quick mode for the
selectors of the SA it replaces (``rekey_of``; IKEv1 has no REKEY_SA notify, the new SA
replaces the old one by its selectors: ``expiry.py``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import dh
from ..dh import DhKey
from ..events import LifetimeNegotiated, MessageIgnored, RetransmitGaveUp
from ..proposals import Proposal, Protocol, choose, is_subset
from ..sa import ChildSa, ChildState
from ..ts import TrafficSelector, narrow
from . import doi, sa_life, wire
from .flight import Flight
from .message import HASH, ID, KE, SA, Exchange, Message, N, Nonce, Notify, Payload, SaProposal, Transform
from .sa_life import SaLife

if TYPE_CHECKING:
    from ..onwire import Datagram
    from .engine import Ikev1Engine
    from .isakmpsa import IsakmpSa


@dataclass(eq=False)
class QuickMode:
    mid: int
    initiator: bool
    flight: Flight
    tsi: TrafficSelector
    """The initiator's side (IDci)."""
    tsr: TrafficSelector
    """The responder's side (IDcr)."""
    spi_i: bytes = b""
    spi_r: bytes = b""
    nonce_i: bytes = b""
    nonce_r: bytes = b""
    dh: DhKey | None = None
    g_qm: bytes | None = None
    proposal: Proposal | None = None
    life: SaLife = field(default_factory=SaLife)
    next_msg: int = 1
    done: bool = False
    rekey_of: ChildSa | None = None
    """The IPsec SA this quick mode replaces (initiator of a rekey)."""


def select_ids(policy: str, tsi: TrafficSelector, tsr: TrafficSelector, my_remote: tuple[TrafficSelector, ...],
               my_local: tuple[TrafficSelector, ...]) -> tuple[TrafficSelector, TrafficSelector] | str:
    """The responder's proxy identities for a proposal, or why they are unacceptable.

    ``exact`` (Huawei: the interesting flows must be mirror images) requires IDci to be one
    of our remote subnets and IDcr one of our local subnets. ``narrow`` (strongSwan) takes the
    intersection with our configuration, the first one if several."""
    if policy == "exact":
        if tsi in my_remote and tsr in my_local:
            return tsi, tsr
        return (f"proposed IDci {tsi} / IDcr {tsr} are not mirror images of our remote "
                f"{', '.join(map(str, my_remote))} / local {', '.join(map(str, my_local))} (ts_policy exact)")
    ni, nr = narrow((tsi,), my_remote), narrow((tsr,), my_local)
    if not ni or not nr:
        return (f"proposed IDci {tsi} / IDcr {tsr} do not overlap our remote {', '.join(map(str, my_remote))} / "
                f"local {', '.join(map(str, my_local))}")
    return ni[0], nr[0]


def _rest(msg: Message) -> bytes:
    """The payload chain after the leading HASH payload, with all payload headers."""
    return msg.plain[4 + len(msg.bodies[0]):]


class QuickModes:
    def __init__(self, engine: Ikev1Engine):
        self.e = engine
        self.pending: dict[int, deque[tuple[TrafficSelector, TrafficSelector, ChildSa | None]]] = {}

    # --- initiator --------------------------------------------------------------------------
    def start(self, sa: IsakmpSa, now: float) -> None:
        """Queue one quick mode per pair of local and remote subnets that no IPsec SA (or
        quick mode in flight) covers yet, and run the first."""
        s = self.e.settings
        queue = self.pending.setdefault(sa.uid, deque())
        busy = [(q.tsi, q.tsr) for q in sa.quick.values() if q.initiator and not q.done] + \
            [(lt, rt) for lt, rt, _ in queue]
        for lt in s.child.local_ts:
            for rt in s.child.remote_ts:
                if self._covered(lt, rt) or any(_overlap(lt, rt, a, b) for a, b in busy):
                    continue
                queue.append((lt, rt, None))
        self._next(sa, now)

    def _covered(self, lt: TrafficSelector, rt: TrafficSelector) -> bool:
        return any(c.active and _overlap(lt, rt, c.local_ts[0],
                                                                                  c.remote_ts[0])
                   for c in self.e.children)

    def queue(self, sa: IsakmpSa, tsi: TrafficSelector, tsr: TrafficSelector, now: float,
              rekey_of: ChildSa | None = None, run: bool = True) -> None:
        self.pending.setdefault(sa.uid, deque()).append((tsi, tsr, rekey_of))
        if run:
            self._next(sa, now)

    def run(self, sa: IsakmpSa, now: float) -> None:
        self._next(sa, now)

    def negotiating(self, sa: IsakmpSa) -> bool:
        """A quick mode for a new (not a replacement) IPsec SA is under way or queued on ``sa``."""
        return any(q.initiator and not q.done and q.rekey_of is None for q in sa.quick.values()) or any(
            c is None for *_, c in self.pending.get(sa.uid, ()))

    def _next(self, sa: IsakmpSa, now: float) -> None:
        queue = self.pending.get(sa.uid)
        if not sa.established or not queue or any(q.initiator and not q.done for q in sa.quick.values()):
            return
        while queue:
            tsi, tsr, old = queue.popleft()
            if old is not None and old.state is not ChildState.REKEYING:
                continue  # replaced by the peer's rekey, or deleted, meanwhile
            self.initiate(sa, tsi, tsr, now, rekey_of=old)
            return

    def forget(self, sa: IsakmpSa) -> None:
        self.pending.pop(sa.uid, None)

    def _own_life(self) -> SaLife:
        c = self.e.settings.child
        return SaLife.from_settings(c.life_time, c.life_bytes)

    def initiate(self, sa: IsakmpSa, tsi: TrafficSelector, tsr: TrafficSelector, now: float,
                 rekey_of: ChildSa | None = None) -> QuickMode:
        e = self.e
        s = e.settings
        mid = e.new_mid(sa)
        qm = self._new(sa, mid, True, tsi, tsr)
        qm.rekey_of = rekey_of
        qm.spi_i, qm.nonce_i = e.ep.random_spi(4), e.ep.rng.randbytes(s.ike.nonce_bytes)
        life = self._own_life()
        props = s.child.proposals
        mode = e.encap_mode(sa)
        sa_p = SA(tuple(SaProposal(i, Protocol.ESP, qm.spi_i, (doi.esp_transform(1, p, life, mode),))
                        for i, p in enumerate(props, 1)))
        payloads: list[Payload] = [sa_p, Nonce(qm.nonce_i)]
        if props[0].dh:  # PFS: one KE for the group of the first proposal (strongSwan)
            qm.dh = dh.generate(props[0].dh[0].ikev2_id, e.ep.rng, e.ep.crypto_model)
            payloads.append(KE(qm.dh.public))
        payloads += [doi.id_from_ts(tsi), doi.id_from_ts(tsr)]
        self._send(sa, qm, 1, payloads, now, armed=True)
        qm.next_msg = 2
        return qm

    def _new(self, sa: IsakmpSa, mid: int, initiator: bool, tsi: TrafficSelector, tsr: TrafficSelector) -> QuickMode:
        sa.mids.claim(mid)
        flight = Flight(self.e, sa, mid, initiator, "quick_mode", lambda t, n: self.gave_up(sa, mid, t, n))
        qm = QuickMode(mid, initiator, flight, tsi, tsr)
        sa.quick[mid] = qm
        return qm

    def _send(self, sa: IsakmpSa, qm: QuickMode, n: int, payloads: list[Payload], now: float, armed: bool) -> None:
        """Send quick mode message ``n`` with its HASH(n) in front, encrypted in the QM IV chain."""
        keys = sa.keys
        assert keys is not None
        rest = wire.encode_chain(payloads)[1]
        if n == 1:
            h = keys.hash1(qm.mid, rest)
        elif n == 2:
            h = keys.hash2(qm.mid, qm.nonce_i, rest)
        else:
            h = keys.hash3(qm.mid, qm.nonce_i, qm.nonce_r)
        msg = Message(Exchange.QUICK_MODE, sa.cky_i, sa.cky_r, qm.mid, not qm.initiator, (HASH(h), *payloads), True)
        qm.flight.send(self.e.seal(sa, msg), now, armed=armed, reply=bool(qm.flight.seen))

    def gave_up(self, sa: IsakmpSa, mid: int, now: float, transmissions: int) -> None:
        """strongSwan destroys the IKE SA when a retransmission gives up (task_manager_v1);
        the IPsec SAs installed earlier stay."""
        e = self.e
        qm = sa.quick.get(mid)
        e.emit_sa(sa, RetransmitGaveUp(exchange="QUICK_MODE", msg_id=mid, transmissions=transmissions,
                                       task="quick_mode"))
        if qm is not None:
            e.child_failed(sa, None, f"no answer to QUICK_MODE message {qm.next_msg - 1} after {transmissions} "
                           f"transmissions", rekey=qm.rekey_of is not None)
        e.destroy(sa, "retransmit_timeout", now)

    # --- dispatch ---------------------------------------------------------------------------
    def receive(self, sa: IsakmpSa, hdr: wire.Header, raw: bytes, dgram: Datagram, now: float) -> None:
        e = self.e
        if not sa.established:
            e.ignore(hdr, dgram, "QUICK_MODE before phase 1 is complete")
            return
        qm = sa.quick.get(hdr.msg_id)
        if qm is not None:
            kind = qm.flight.classify(raw)
            if kind == "duplicate":
                e.received(qm.flight.last_received(), dgram)
                qm.flight.on_duplicate(now)
                return
            if kind == "old" or qm.done:
                e.ignore(hdr, dgram, "late retransmission in a finished quick mode")
                return
        fresh = qm is None
        try:
            msg = e.open(sa, hdr, raw, response=not fresh and qm.initiator)  # type: ignore[union-attr]
        except wire.WireError as ex:
            e.undecryptable(sa, hdr, dgram, str(ex))
            return
        if fresh:
            qm = self._new(sa, hdr.msg_id, False, TrafficSelector(0, 0), TrafficSelector(0, 0))
        assert qm is not None and sa.iv is not None
        row = FLIGHTS.get((qm.initiator, qm.next_msg))
        if row is None:
            e.ignore(hdr, dgram, "unexpected quick mode message")
            return
        sa.iv.advance(qm.mid, raw)
        qm.flight.accepted(raw, msg)
        e.received(msg, dgram)
        if not isinstance(msg.payloads[0] if msg.payloads else None, HASH):
            self._refuse(sa, qm, Notify.INVALID_HASH_INFORMATION, "quick mode message does not start with HASH", now)
            return
        handler, then = row
        if handler(self, sa, qm, msg, now):
            qm.next_msg = then

    def _refuse(self, sa: IsakmpSa, qm: QuickMode, notify: Notify, reason: str, now: float,
                tell: bool = True) -> None:
        """This quick mode fails: report, tell the peer (protocol ESP, the initiator's SPI,
        as strongSwan does), end the exchange."""
        self.e.child_failed(sa, notify.name, reason, rekey=qm.rekey_of is not None)
        if tell:
            self.e.info.notify(sa, notify, now, protocol=Protocol.ESP, spi=qm.spi_i or bytes(4))
        self._finish(sa, qm, now, drop=not qm.initiator)

    def _finish(self, sa: IsakmpSa, qm: QuickMode, now: float, drop: bool = False) -> None:
        qm.done = True
        qm.flight.stop()
        assert sa.iv is not None
        sa.iv.forget(qm.mid)
        if drop:  # a refused responder exchange: a retransmitted message 1 is judged anew
            sa.quick.pop(qm.mid, None)
        if qm.initiator and qm.rekey_of is not None:
            self.e.expiry.rekey_failed(qm.rekey_of, now)  # no-op once the new SA replaced it
        self._next(sa, now)

    def refused(self, sa: IsakmpSa, n: N, now: float) -> None:
        """The peer answered our quick mode with an error notify (INFORMATIONAL): cancel it
        (strongSwan informational.c ``cancel_quick_mode`` for INVALID_ID / NO_PROPOSAL)."""
        active = [q for q in sa.quick.values() if not q.done]
        hit = [q for q in active if q.spi_i == n.spi]
        if not hit and n.type in (Notify.INVALID_ID_INFORMATION, Notify.NO_PROPOSAL_CHOSEN):
            hit = [q for q in active if q.initiator]
        for qm in hit:
            self.e.child_failed(sa, n.name, f"peer refused quick mode {qm.mid} ({qm.tsi} === {qm.tsr}) with "
                                f"{n.name}", rekey=qm.rekey_of is not None)
            self._finish(sa, qm, now, drop=not qm.initiator)

    # --- responder: message 1 ---------------------------------------------------------------
    def answer_proposal(self, sa: IsakmpSa, qm: QuickMode, msg: Message, now: float) -> bool:
        """Responder, message 1 E[ HASH(1) SA Ni [KE] IDci IDcr ]: check the proxy identities, choose a
        proposal and the lifetime (RFC 2409 5.5, in this order); send message 2 (retransmitted until
        message 3). Each check that fails has refused the quick mode."""
        e = self.e
        s = e.settings
        assert sa.keys is not None
        if msg.payloads[0].data != sa.keys.hash1(qm.mid, _rest(msg)):  # type: ignore[union-attr]
            self._refuse(sa, qm, Notify.INVALID_HASH_INFORMATION, "HASH(1) does not verify", now)
            return False
        sa_p, nonce = msg.first(SA), msg.first(Nonce)
        if not isinstance(sa_p, SA) or not isinstance(nonce, Nonce):
            self._refuse(sa, qm, Notify.INVALID_PAYLOAD_TYPE, "quick mode message 1 lacks SA or Ni", now)
            return False
        if sa_p.proposals:
            qm.spi_i = sa_p.proposals[0].spi
        answer = self._proxy_ids(sa, qm, msg, now)
        offer = self._choose_esp(sa, qm, sa_p, now) if answer is not None else None
        if answer is None or offer is None:
            return False
        sp, t, chosen, proposed = offer
        proposed, own = proposed.with_ipsec_default(), self._own_life().with_ipsec_default()
        dec = sa_life.decide(s.ike.lifetime_policy, proposed, own)
        if not dec.ok:
            self._refuse(sa, qm, Notify.NO_PROPOSAL_CHOSEN, f"IPsec SA lifetime: {dec.reason}", now)
            return False
        pfs = self._pfs_key_exchange(sa, qm, msg, chosen, now)
        if pfs is None:
            return False
        if dec.reason:
            e.emit_sa(sa, LifetimeNegotiated(phase="child", policy=s.ike.lifetime_policy,
                                             proposed_time=proposed.seconds, configured_time=own.seconds,
                                             life_time=dec.life.seconds, proposed_kilobytes=proposed.kilobytes,
                                             configured_kilobytes=own.kilobytes, life_kilobytes=dec.life.kilobytes,
                                             responder_lifetime=dec.claimed is not None, reason=dec.reason))
        qm.proposal, qm.life, qm.tsi, qm.tsr = chosen, dec.life, answer[0], answer[1]
        qm.nonce_i, qm.nonce_r, qm.spi_r = nonce.data, e.ep.rng.randbytes(s.ike.nonce_bytes), e.ep.random_spi(4)
        payloads: list[Payload] = [SA((SaProposal(sp.num, Protocol.ESP, qm.spi_r, (t,)),)), Nonce(qm.nonce_r),
                                   *pfs, doi.id_from_ts(qm.tsi), doi.id_from_ts(qm.tsr)]
        if dec.claimed is not None:
            # RFC 2407 4.6.3.1: SPI = the sender's inbound SPI, data = our actual lifetime(s)
            attrs = doi.life_attrs(dec.claimed, doi.P2_LIFE_TYPE, doi.P2_LIFE_DURATION)
            payloads.append(N(Notify.RESPONDER_LIFETIME, Protocol.ESP, qm.spi_r, wire.encode_attrs(tuple(attrs))))
        self._send(sa, qm, 2, payloads, now, armed=True)  # three-message exchange: retransmit until message 3
        return True

    def _proxy_ids(self, sa: IsakmpSa, qm: QuickMode, msg: Message,
                   now: float) -> tuple[TrafficSelector, TrafficSelector] | None:
        """The responder's IDci / IDcr for the proposed ones (``select_ids``), or None: refused."""
        s = self.e.settings
        ids = msg.all(ID)
        try:
            if len(ids) == 2:
                tsi, tsr = doi.ts_from_id(ids[0]), doi.ts_from_id(ids[1])  # type: ignore[arg-type]
            elif not ids:  # RFC 2409 5.5: no IDs means the ISAKMP peers' addresses
                tsi, tsr = TrafficSelector.host(sa.remote[0]), TrafficSelector.host(sa.local[0])
            else:
                raise doi.DoiError(f"{len(ids)} ID payloads, expected IDci and IDcr")
        except doi.DoiError as ex:
            self._refuse(sa, qm, Notify.INVALID_ID_INFORMATION, str(ex), now)
            return None
        answer = select_ids(s.child.ts_policy, tsi, tsr, s.child.remote_ts, s.child.local_ts)
        if isinstance(answer, str):
            self._refuse(sa, qm, Notify.INVALID_ID_INFORMATION, answer, now)
            return None
        return answer

    def _choose_esp(self, sa: IsakmpSa, qm: QuickMode, sa_p: SA,
                    now: float) -> tuple[SaProposal, Transform, Proposal, SaLife] | None:
        """The first offered ESP transform (in the encapsulation mode in use) that a configured
        proposal accepts: its proposal, transform, algorithms and proposed life; None: refused."""
        e = self.e
        s = e.settings
        offered: list[tuple[SaProposal, Transform, Proposal, SaLife]] = []
        for sp in sa_p.proposals:
            if sp.protocol != Protocol.ESP or len(sp.spi) != 4:
                continue
            for t in sp.transforms:
                try:
                    prop, life, mode = doi.parse_esp(t)
                except doi.DoiError:
                    continue
                if mode == e.encap_mode(sa):  # tunnel, UDP-encapsulated behind a NAT (RFC 3947 5.1)
                    offered.append((sp, t, prop, life))
        choice = choose(tuple(o[2] for o in offered), s.child.proposals)
        if choice is None:
            shown = ", ".join(str(o[2]) for o in offered) or "nothing usable"
            self._refuse(sa, qm, Notify.NO_PROPOSAL_CHOSEN, f"no configured ESP proposal "
                         f"({', '.join(map(str, s.child.proposals))}) matches the offered ({shown})", now)
            return None
        idx, chosen = choice
        sp, t, _, proposed = offered[idx - 1]
        qm.spi_i = sp.spi
        return sp, t, chosen, proposed

    def _pfs_key_exchange(self, sa: IsakmpSa, qm: QuickMode, msg: Message, chosen: Proposal,
                          now: float) -> list[Payload] | None:
        """With PFS (a DH group in ``chosen``): g^xy from the initiator's KE and our KE payload
        for message 2; without, nothing. None: refused."""
        if not chosen.dh:
            return []
        e = self.e
        ke = msg.first(KE)
        if not isinstance(ke, KE):
            self._refuse(sa, qm, Notify.INVALID_PAYLOAD_TYPE, "PFS proposal without KE payload", now)
            return None
        qm.dh = dh.generate(chosen.dh[0].ikev2_id, e.ep.rng, e.ep.crypto_model)
        try:
            qm.g_qm = dh.shared_secret(qm.dh, ke.data)
        except dh.DhError as ex:
            self._refuse(sa, qm, Notify.INVALID_KEY_INFORMATION, f"PFS KE payload unusable: {ex}", now)
            return None
        return [KE(qm.dh.public)]

    # --- initiator: message 2 ---------------------------------------------------------------
    def install_and_confirm(self, sa: IsakmpSa, qm: QuickMode, msg: Message, now: float) -> bool:
        """Initiator, message 2 E[ HASH(2) SA Nr [KE] IDci IDcr ]: accept the choice; send HASH(3)
        (message 3) and install the IPsec SA pair."""
        e = self.e
        s = e.settings
        assert sa.keys is not None
        if msg.payloads[0].data != sa.keys.hash2(qm.mid, qm.nonce_i, _rest(msg)):  # type: ignore[union-attr]
            self._refuse(sa, qm, Notify.INVALID_HASH_INFORMATION, "HASH(2) does not verify", now)
            return False
        nonce = msg.first(Nonce)
        if not isinstance(nonce, Nonce):
            self._refuse(sa, qm, Notify.INVALID_PAYLOAD_TYPE, "quick mode message 2 lacks Nr", now)
            return False
        sa_p = msg.first(SA)
        chosen = None
        if isinstance(sa_p, SA) and len(sa_p.proposals) == 1 and len(sa_p.proposals[0].transforms) == 1:
            try:
                chosen, returned, mode = doi.parse_esp(sa_p.proposals[0].transforms[0])
            except doi.DoiError:
                chosen = None
        if chosen is None or mode != e.encap_mode(sa) or not is_subset(chosen, s.child.proposals):
            self._refuse(sa, qm, Notify.NO_PROPOSAL_CHOSEN, f"responder chose {chosen or 'something'}, which was "
                         f"not offered", now)
            return False
        assert isinstance(sa_p, SA)
        qm.spi_r, qm.nonce_r, qm.proposal = sa_p.proposals[0].spi, nonce.data, chosen
        if chosen.dh:
            ke = msg.first(KE)
            try:
                if not isinstance(ke, KE) or qm.dh is None:
                    raise dh.DhError("no KE payload")
                qm.g_qm = dh.shared_secret(qm.dh, ke.data)
            except dh.DhError as ex:
                self._refuse(sa, qm, Notify.INVALID_KEY_INFORMATION, f"PFS KE payload unusable: {ex}", now)
                return False
        if not self._accept_responder_ids(sa, qm, msg, now):
            return False
        qm.life = self._initiator_life(sa, returned.with_ipsec_default(), msg.notify(Notify.RESPONDER_LIFETIME))
        self._send(sa, qm, 3, [], now, armed=False)  # final message: re-sent when message 2 is repeated
        e.install_child(sa, qm, now)
        self._finish(sa, qm, now)
        return True

    def _accept_responder_ids(self, sa: IsakmpSa, qm: QuickMode, msg: Message, now: float) -> bool:
        """The IDci / IDcr of message 2, which may narrow ours (False: refused)."""
        ids = msg.all(ID)
        if len(ids) != 2:
            return True
        try:
            tsi, tsr = doi.ts_from_id(ids[0]), doi.ts_from_id(ids[1])  # type: ignore[arg-type]
        except doi.DoiError as ex:
            self._refuse(sa, qm, Notify.INVALID_ID_INFORMATION, str(ex), now)
            return False
        # strongSwan quick_mode.c get_ts: the responder's choice must lie within ours
        if not narrow((tsi,), (qm.tsi,)) == (tsi,) or not narrow((tsr,), (qm.tsr,)) == (tsr,):
            self._refuse(sa, qm, Notify.INVALID_ID_INFORMATION, f"responder answered IDci {tsi} / IDcr {tsr}, "
                         f"not within the proposed {qm.tsi} / {qm.tsr}", now)
            return False
        qm.tsi, qm.tsr = tsi, tsr
        return True

    def _initiator_life(self, sa: IsakmpSa, life: SaLife, rl: N | None) -> SaLife:
        """Adopt shorter values announced in RESPONDER-LIFETIME (RFC 2407 4.6.3.1)."""
        if rl is None:
            return life
        if not self.e.settings.ike.accept_responder_lifetime:
            self.e.ep.emit(MessageIgnored(reason="RESPONDER-LIFETIME notify ignored: this implementation keeps its "
                                          "proposed lifetime (ike.accept_responder_lifetime: false)",
                                          message={"ike_version": 1}))
            return life
        claimed = doi.parse_life(Transform(0, 0, wire.parse_attrs(rl.data)), doi.P2_LIFE_TYPE,
                                  doi.P2_LIFE_DURATION)
        secs, kb = life.seconds, life.kilobytes
        if claimed.seconds is not None and (secs is None or claimed.seconds < secs):
            secs = claimed.seconds
        if claimed.kilobytes is not None and (kb is None or claimed.kilobytes < kb):
            kb = claimed.kilobytes
        new = SaLife(secs, kb)
        if new != life:
            self.e.emit_sa(sa, LifetimeNegotiated(phase="child", policy=None, proposed_time=life.seconds,
                                                  configured_time=life.seconds, life_time=new.seconds,
                                                  proposed_kilobytes=life.kilobytes,
                                                  configured_kilobytes=life.kilobytes, life_kilobytes=new.kilobytes,
                                                  responder_lifetime=True,
                                                  reason=f"responder announced RESPONDER-LIFETIME {claimed}: "
                                                         f"using {new} instead of the proposed {life}"))
        return new

    # --- responder: message 3 ---------------------------------------------------------------
    def install_on_confirmation(self, sa: IsakmpSa, qm: QuickMode, msg: Message, now: float) -> bool:
        """Responder, message 3 E[ HASH(3) ]: verify it and install the IPsec SA pair."""
        assert sa.keys is not None
        if msg.payloads[0].data != sa.keys.hash3(qm.mid, qm.nonce_i, qm.nonce_r):  # type: ignore[union-attr]
            self._refuse(sa, qm, Notify.INVALID_HASH_INFORMATION, "HASH(3) does not verify", now)
            return False
        self.e.install_child(sa, qm, now)
        self._finish(sa, qm, now)
        return True


def _overlap(lt: TrafficSelector, rt: TrafficSelector, a: TrafficSelector, b: TrafficSelector) -> bool:
    return lt.intersect(a) is not None and rt.intersect(b) is not None


Handler = Callable[[QuickModes, "IsakmpSa", QuickMode, Message, float], bool]
FLIGHTS: dict[tuple[bool, int], tuple[Handler, int]] = {
    # (this side initiated, message expected): (its handler, message expected next)
    (False, 1): (QuickModes.answer_proposal, 3),
    (True, 2): (QuickModes.install_and_confirm, 4),
    (False, 3): (QuickModes.install_on_confirmation, 4),
}
"""Quick mode as one table. The state is ``qm.next_msg``, the message this side expects (an
initiator starts expecting message 2, after ``initiate`` sent message 1); 4: complete. A
handler returns True when the message advanced the exchange (False: it was refused). A message
the table has no row for is the peer's error: it is ignored (``QuickModes.receive``)."""
