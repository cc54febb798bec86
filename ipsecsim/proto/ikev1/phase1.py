"""IKEv1 phase 1 with pre-shared keys: main mode and aggressive mode, both roles
(RFC 2409 5.4; vendor IDs RFC 3706 / RFC 3947, NAT-D RFC 3947 3.2).

Wire narration (strongSwan notation):

    Main mode (IDENTITY_PROTECTION), message id 0
      1  I->R  [ SA V V ]
      2  R->I  [ SA V V ]
      3  I->R  [ KE No NAT-D NAT-D ]
      4  R->I  [ KE No NAT-D NAT-D ]          both sides derive SKEYID..., IV = hash(g^xi | g^xr)
      5  I->R  E[ ID HASH [N(INITIAL_CONTACT)] ]   HASH_I
      6  R->I  E[ ID HASH ]                         HASH_R
    Aggressive mode (AGGRESSIVE), message id 0
      1  I->R  [ SA KE No ID V V ]
      2  R->I  [ SA KE No ID HASH V V NAT-D NAT-D ] HASH_R in the clear
      3  I->R  E[ HASH NAT-D NAT-D [N(INITIAL_CONTACT)] ]   HASH_I

Each (mode, role, message number) has one handler and the message expected next in the table
``FLIGHTS``; ``sa.next_msg`` says which message this side expects. ``ike.mode`` chooses what
a peer initiates; as a responder it answers either mode (as strongSwan and Cisco do for main
mode), without strongSwan's default refusal of aggressive mode with PSK as a responder.

With different pre-shared keys the two sides derive different SKEYID_e: in main mode the
responder cannot decrypt message 5 (PAYLOAD_MALFORMED, like strongSwan's "message parsing
failed"); in aggressive mode the initiator finds that HASH_R does not verify
(INVALID_HASH_INFORMATION).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import dh
from ..events import LifetimeNegotiated, NatDetected, RetransmitGaveUp
from ..proposals import Protocol, choose, is_subset
from . import doi, sa_life, wire
from .aggressive_mode import AggressiveMode
from .keys import IvState, Phase1Keys, digest
from .main_mode import MainMode
from .message import (
    ID,
    KE,
    NATD,
    SA,
    VID_DPD,
    VID_NATT,
    Exchange,
    Message,
    N,
    Nonce,
    Notify,
    Payload,
    SaProposal,
    Transform,
    V,
)
from .sa_life import SaLife

if TYPE_CHECKING:
    from ..onwire import Datagram
    from .engine import Ikev1Engine
    from .isakmpsa import IsakmpSa

EXCHANGE = {"main": Exchange.IDENTITY_PROTECTION, "aggressive": Exchange.AGGRESSIVE}
ENCRYPTED = {("main", 5), ("main", 6), ("aggressive", 3)}
CONTENT = {("main", 5): "IDii, HASH_I", ("main", 6): "IDir, HASH_R", ("aggressive", 3): "HASH_I"}
LAST = {"main": 6, "aggressive": 3}

Handler = Callable[..., bool]
"""A mode's handler of one message: ``handler(mode, sa, msg, dgram, now)``, True when it advanced."""


def vendor_ids(natt: bool = True) -> list[Payload]:
    """strongSwan announces DPD (RFC 3706) and RFC 3947 NAT traversal (unless ``nat_traversal``
    is off) in messages 1 and 2."""
    return [V(VID_DPD), V(VID_NATT)] if natt else [V(VID_DPD)]


def natd_hash(sa: IsakmpSa, addr: str, port: int) -> bytes:
    """RFC 3947 3.2: HASH(CKY-I | CKY-R | IP | Port) with the negotiated hash."""
    assert sa.proposal is not None
    data = sa.cky_i + sa.cky_r + ipaddress.ip_address(addr).packed + port.to_bytes(2, "big")
    return digest(sa.proposal.prf[0], data)


class Phase1:
    def __init__(self, engine: Ikev1Engine):
        self.e = engine
        self.modes: dict[str, MainMode | AggressiveMode] = {"main": MainMode(self), "aggressive": AggressiveMode(self)}
        """The exchange of each mode, both roles (``main_mode.py``, ``aggressive_mode.py``)."""

    def vendor_ids(self) -> list[Payload]:
        return vendor_ids(self.e.settings.nat_traversal)

    # --- dispatch ---------------------------------------------------------------------------
    def receive(self, sa: IsakmpSa, hdr: wire.Header, raw: bytes, dgram: Datagram, now: float) -> None:
        e = self.e
        if hdr.exchange != EXCHANGE[sa.mode]:
            e.ignore(hdr, dgram, f"{Exchange(hdr.exchange).name} message for a {sa.mode} mode ISAKMP SA")
            return
        kind = sa.p1.classify(raw)
        if kind == "duplicate":
            e.received(sa.p1.last_received(), dgram)
            sa.p1.on_duplicate(now)
            return
        if kind == "old":
            e.ignore(hdr, dgram, "late retransmission of an earlier phase 1 message")
            return
        n = sa.next_msg
        row = FLIGHTS.get((sa.mode, sa.initiator, n))
        if row is None:
            e.ignore(hdr, dgram, "phase 1 already complete" if n > LAST[sa.mode] else
                     f"unexpected phase 1 message (expecting message {n})")
            return
        if hdr.encrypted != ((sa.mode, n) in ENCRYPTED):
            e.undecryptable(sa, hdr, dgram, f"message {n} must {'' if not hdr.encrypted else 'not '}be encrypted")
            return
        try:
            msg = e.open(sa, hdr, raw, response=sa.initiator)
        except wire.WireError as ex:  # malformed, or garbage after decryption with our key
            failure = None
            if (sa.mode, n) in ENCRYPTED:
                failure = (f"{EXCHANGE[sa.mode].name} message {n} ({CONTENT[(sa.mode, n)]}) does not decrypt to "
                           f"valid payloads with our key: the pre-shared keys probably differ (SKEYID = "
                           f"prf(PSK, Ni_b | Nr_b) keys the encryption)")
            e.undecryptable(sa, hdr, dgram, str(ex), failure)
            return
        if hdr.encrypted:
            assert sa.iv is not None
            sa.iv.advance(0, raw)
        sa.p1.accepted(raw, msg)
        e.received(msg, dgram)
        handler, then = row
        if handler(self.modes[sa.mode], sa, msg, dgram, now):
            sa.next_msg = then

    def fail(self, sa: IsakmpSa, notify: Notify, reason: str, now: float, tell: bool = True) -> None:
        """Phase 1 cannot complete: report, tell the peer in an INFORMATIONAL, drop the SA."""
        self.e.phase1_failed(sa, notify.name, reason)
        if tell:
            self.e.info.notify(sa, notify, now)
        self.e.destroy(sa, notify.name.lower(), now)

    def gave_up(self, sa: IsakmpSa, now: float, transmissions: int) -> None:
        e = self.e
        n = sa.next_msg - 1
        e.emit_sa(sa, RetransmitGaveUp(exchange=EXCHANGE[sa.mode].name, msg_id=0, transmissions=transmissions,
                                       task=f"{sa.mode}_mode"))
        if sa.failed is None:
            why = f"no answer to {EXCHANGE[sa.mode].name} message {n} after {transmissions} transmissions"
            if sa.undecryptable:
                why += (f"; the {sa.undecryptable} message(s) the peer sent could not be decrypted: the pre-shared "
                        f"keys probably differ")
            e.phase1_failed(sa, None, why)
        if sa.initiator:
            e.setup_timed_out(sa, now)
        else:
            e.destroy(sa, "retransmit_timeout", now)

    # --- helpers ----------------------------------------------------------------------------
    def send(self, sa: IsakmpSa, payloads: list[Payload], now: float, armed: bool, encrypted: bool = False) -> Message:
        msg = Message(EXCHANGE[sa.mode], sa.cky_i, sa.cky_r, 0, not sa.initiator, tuple(payloads), encrypted)
        sealed = self.e.seal(sa, msg)
        sa.p1.send(sealed, now, armed=armed, reply=bool(sa.p1.seen))
        return sealed

    def own_life(self) -> SaLife:
        return SaLife.from_settings(self.e.settings.ike.life_time)

    def choose(self, sa: IsakmpSa, msg: Message, now: float) -> Transform | None:
        """Responder: pick the first offered transform we accept (RFC 2409 5, one proposal
        with alternative transforms), apply the lifetime policy."""
        s = self.e.settings
        sa_p = msg.first(SA)
        if not isinstance(sa_p, SA):
            self.fail(sa, Notify.INVALID_PAYLOAD_TYPE, "first phase 1 message has no SA payload", now)
            return None
        sa.sai_b = msg.body_of(sa_p)
        if len(sa_p.proposals) != 1 or sa_p.proposals[0].protocol != Protocol.IKE:
            self.fail(sa, Notify.BAD_PROPOSAL_SYNTAX, "phase 1 SA payload must hold exactly one ISAKMP proposal", now)
            return None
        cands = []
        for t in sa_p.proposals[0].transforms:
            try:
                prop, life = doi.parse_phase1(t)
            except doi.DoiError:
                continue
            cands.append((t, prop, life))
        choice = choose(tuple(p for _, p, _ in cands), s.ike.proposals)
        if choice is None:
            offered = ", ".join(str(p) for _, p, _ in cands) or "nothing usable"
            self.fail(sa, Notify.NO_PROPOSAL_CHOSEN, f"no configured IKE proposal "
                      f"({', '.join(map(str, s.ike.proposals))}) matches the offered ({offered})", now)
            return None
        idx, chosen = choice
        t, _, proposed = cands[idx - 1]
        own = self.own_life()
        dec = sa_life.decide(s.ike.lifetime_policy, proposed, own)
        if not dec.ok:
            self.fail(sa, Notify.NO_PROPOSAL_CHOSEN, f"ISAKMP SA lifetime: {dec.reason}", now)
            return None
        if dec.reason:
            self.e.emit_sa(sa, LifetimeNegotiated(phase="ike", policy=s.ike.lifetime_policy,
                                                  proposed_time=proposed.seconds, configured_time=own.seconds,
                                                  life_time=dec.life.seconds, proposed_kilobytes=proposed.kilobytes,
                                                  configured_kilobytes=own.kilobytes,
                                                  life_kilobytes=dec.life.kilobytes, responder_lifetime=False,
                                                  reason=dec.reason))
        sa.proposal, sa.life = chosen, dec.life
        sa.peer_vids = tuple(v.data for v in msg.all(V))  # type: ignore[union-attr]
        return t

    def accept_choice(self, sa: IsakmpSa, msg: Message, now: float) -> bool:
        """Initiator: the responder's SA must be one transform we offered."""
        sa_p = msg.first(SA)
        sa.cky_r = msg.cky_r
        ok = isinstance(sa_p, SA) and len(sa_p.proposals) == 1 and len(sa_p.proposals[0].transforms) == 1
        chosen = None
        if ok:
            assert isinstance(sa_p, SA)
            try:
                chosen, life = doi.parse_phase1(sa_p.proposals[0].transforms[0])
            except doi.DoiError:
                ok = False
        if not ok or chosen is None or not is_subset(chosen, self.e.settings.ike.proposals):
            self.fail(sa, Notify.NO_PROPOSAL_CHOSEN, f"responder chose {chosen or 'something'}, which was not offered",
                      now)
            return False
        sa.proposal, sa.life = chosen, life
        sa.peer_vids = tuple(v.data for v in msg.all(V))  # type: ignore[union-attr]
        return True

    def natd(self, sa: IsakmpSa) -> list[Payload]:
        """NAT-D payloads when both announced RFC 3947: the peer's address first, then ours."""
        if not sa.natt or not self.e.settings.nat_traversal:
            return []
        return [NATD(natd_hash(sa, *sa.remote)), NATD(natd_hash(sa, *sa.local))]

    def check_natd(self, sa: IsakmpSa, msg: Message, dgram: Datagram) -> None:
        """RFC 3947 3.2: compare the hashes with the addresses the packet really used."""
        natds = msg.all(NATD)
        if len(natds) < 2 or not self.e.settings.nat_traversal:
            return
        sa.nat_local = natds[0].data != natd_hash(sa, dgram.dst, dgram.dport)  # type: ignore[union-attr]
        sa.nat_remote = all(n.data != natd_hash(sa, dgram.src, dgram.sport) for n in natds[1:])  # type: ignore
        if sa.nat_local or sa.nat_remote:
            self.e.emit_sa(sa, NatDetected(local=sa.nat_local, remote=sa.nat_remote))

    def derive(self, sa: IsakmpSa, peer_public: bytes, now: float) -> bool:
        """g^xy, then SKEYID... and the phase 1 IV (RFC 2409 section 5, Appendix B)."""
        assert sa.dh is not None and sa.proposal is not None
        try:
            g_xy = dh.shared_secret(sa.dh, peer_public)
        except dh.DhError as ex:
            self.fail(sa, Notify.INVALID_KEY_INFORMATION, f"KE payload unusable for the negotiated group "
                      f"{sa.proposal.dh[0].name}: {ex}", now)
            return False
        sa.keys = Phase1Keys.derive(sa.proposal, self.e.settings.ike.psk, sa.nonce_i, sa.nonce_r, g_xy,
                                    sa.cky_i, sa.cky_r)
        self.e.ep.log_keys(sa.key_record())  # for --keys
        sa.iv = IvState.start(sa.keys, sa.g_xi, sa.g_xr)
        return True

    def peer_id(self, sa: IsakmpSa, idp: ID, now: float, reject: Callable[..., None] | None = None) -> bool:
        """Check the peer's identity against ``ike.remote_id``; AUTHENTICATION_FAILED if not
        (strongSwan finds no matching peer config)."""
        reject = reject or self.fail
        try:
            ident = doi.identity_from_id(idp)
        except doi.DoiError as ex:
            reject(sa, Notify.INVALID_ID_INFORMATION, f"peer identity unusable: {ex}", now)
            return False
        want = self.e.settings.ike.remote_id
        if want is not None and (want.id_type, want.data) != (idp.id_type, idp.data):
            reject(sa, Notify.AUTHENTICATION_FAILED, f"peer identity {ident.kind}:{ident} does not match "
                   f"configured remote_id {want.kind}:{want}", now)
            return False
        sa.peer_id = ident
        return True

    def ke_and_nonce(self, sa: IsakmpSa, msg: Message, now: float) -> tuple[KE, Nonce] | None:
        ke, nonce = msg.first(KE), msg.first(Nonce)
        if not isinstance(ke, KE) or not isinstance(nonce, Nonce):
            self.fail(sa, Notify.INVALID_PAYLOAD_TYPE, "phase 1 message lacks its KE or nonce payload", now)
            return None
        if not 8 <= len(nonce.data) <= 256:
            self.fail(sa, Notify.PAYLOAD_MALFORMED, f"nonce of {len(nonce.data)} octets (RFC 2409 5: 8-256)", now)
            return None
        return ke, nonce

    def initial_contact(self, sa: IsakmpSa) -> list[Payload]:
        s = self.e.settings
        if s.ike.initial_contact and not self.e.has_contact(sa):
            return [N(Notify.INITIAL_CONTACT, Protocol.IKE, sa.cky_i + sa.cky_r)]
        return []

    def established(self, sa: IsakmpSa, msg: Message, now: float) -> None:
        self.e.established(sa, now, initial_contact=msg.notify(Notify.INITIAL_CONTACT) is not None)

    def new_dh(self, sa: IsakmpSa) -> bytes:
        assert sa.proposal is not None
        sa.dh = dh.generate(sa.proposal.dh[0].ikev2_id, self.e.ep.rng, self.e.ep.crypto_model)
        return sa.dh.public

    def nonce(self) -> bytes:
        return self.e.ep.rng.randbytes(self.e.settings.ike.nonce_bytes)

    # --- initiator: message 1 ---------------------------------------------------------------
    def start(self, sa: IsakmpSa, now: float) -> None:
        s = self.e.settings
        props = s.ike.proposals
        sa.life = self.own_life()
        sa_p = SA((SaProposal(1, Protocol.IKE, b"", tuple(doi.phase1_transform(i, p, sa.life)
                                                          for i, p in enumerate(props, 1))),))
        payloads: list[Payload] = [sa_p, *self.modes[sa.mode].first_payloads(sa), *self.vendor_ids()]
        sealed = self.send(sa, payloads, now, armed=True)
        sa.sai_b = sealed.bodies[0]
        sa.next_msg = 2

    def reject_established_peer(self, sa: IsakmpSa, notify: Notify, reason: str, now: float) -> None:
        """The responder already considers the ISAKMP SA up after message 6: delete it
        (strongSwan main_mode ``send_delete`` when authentication fails as initiator)."""
        self.e.phase1_failed(sa, notify.name, reason)
        self.e.info.delete_isakmp(sa, now)
        self.e.destroy(sa, notify.name.lower(), now)


FLIGHTS: dict[tuple[str, bool, int], tuple[Handler, int]] = {
    # (mode, this side initiated, message expected): (its handler, message expected next)
    ("main", False, 1): (MainMode.choose_offered_sa, 3),
    ("main", True, 2): (MainMode.send_key_exchange, 4),
    ("main", False, 3): (MainMode.answer_key_exchange, 5),
    ("main", True, 4): (MainMode.send_identity, 6),
    ("main", False, 5): (MainMode.authenticate_initiator, 7),
    ("main", True, 6): (MainMode.authenticate_responder, 7),
    ("aggressive", False, 1): (AggressiveMode.answer_offer, 3),
    ("aggressive", True, 2): (AggressiveMode.authenticate_responder, 4),
    ("aggressive", False, 3): (AggressiveMode.authenticate_initiator, 4),
}
"""Phase 1 as one table. The state is ``sa.next_msg``, the message this side expects (an
initiator starts expecting message 2, after ``start`` sent message 1); past the last message
(7 main, 4 aggressive) the exchange is complete. A handler returns True when the message
advanced the exchange (False: it did not, and the handler reported why). A message the table
has no row for is the peer's error: it is ignored with the reason (``Phase1.receive``)."""
