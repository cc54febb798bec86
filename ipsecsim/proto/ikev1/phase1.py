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
from . import doi, lifetime, wire
from .keys import IvState, Phase1Keys, digest
from .lifetime import Lifetime
from .message import (
    HASH,
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

if TYPE_CHECKING:
    from ..onwire import Datagram
    from .engine import Ikev1Engine
    from .isakmpsa import IsakmpSa

EXCHANGE = {"main": Exchange.IDENTITY_PROTECTION, "aggressive": Exchange.AGGRESSIVE}
ENCRYPTED = {("main", 5), ("main", 6), ("aggressive", 3)}
CONTENT = {("main", 5): "IDii, HASH_I", ("main", 6): "IDir, HASH_R", ("aggressive", 3): "HASH_I"}
LAST = {"main": 6, "aggressive": 3}

Handler = Callable[["Phase1", "IsakmpSa", Message, "Datagram", float], bool]


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
        if handler(self, sa, msg, dgram, now):
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
    def _send(self, sa: IsakmpSa, payloads: list[Payload], now: float, armed: bool, encrypted: bool = False) -> Message:
        msg = Message(EXCHANGE[sa.mode], sa.cky_i, sa.cky_r, 0, not sa.initiator, tuple(payloads), encrypted)
        sealed = self.e.seal(sa, msg)
        sa.p1.send(sealed, now, armed=armed, reply=bool(sa.p1.seen))
        return sealed

    def _own_life(self) -> Lifetime:
        return Lifetime.from_settings(self.e.settings.ike.life_time)

    def _choose(self, sa: IsakmpSa, msg: Message, now: float) -> Transform | None:
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
        own = self._own_life()
        dec = lifetime.decide(s.ike.lifetime_policy, proposed, own)
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

    def _accept_choice(self, sa: IsakmpSa, msg: Message, now: float) -> bool:
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

    def _natd(self, sa: IsakmpSa) -> list[Payload]:
        """NAT-D payloads when both announced RFC 3947: the peer's address first, then ours."""
        if not sa.natt or not self.e.settings.nat_traversal:
            return []
        return [NATD(natd_hash(sa, *sa.remote)), NATD(natd_hash(sa, *sa.local))]

    def _check_natd(self, sa: IsakmpSa, msg: Message, dgram: Datagram) -> None:
        """RFC 3947 3.2: compare the hashes with the addresses the packet really used."""
        natds = msg.all(NATD)
        if len(natds) < 2 or not self.e.settings.nat_traversal:
            return
        sa.nat_local = natds[0].data != natd_hash(sa, dgram.dst, dgram.dport)  # type: ignore[union-attr]
        sa.nat_remote = all(n.data != natd_hash(sa, dgram.src, dgram.sport) for n in natds[1:])  # type: ignore
        if sa.nat_local or sa.nat_remote:
            self.e.emit_sa(sa, NatDetected(local=sa.nat_local, remote=sa.nat_remote))

    def _derive(self, sa: IsakmpSa, peer_public: bytes, now: float) -> bool:
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

    def _peer_id(self, sa: IsakmpSa, idp: ID, now: float, reject: Callable[..., None] | None = None) -> bool:
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

    def _kn(self, sa: IsakmpSa, msg: Message, now: float) -> tuple[KE, Nonce] | None:
        ke, nonce = msg.first(KE), msg.first(Nonce)
        if not isinstance(ke, KE) or not isinstance(nonce, Nonce):
            self.fail(sa, Notify.INVALID_PAYLOAD_TYPE, "phase 1 message lacks its KE or nonce payload", now)
            return None
        if not 8 <= len(nonce.data) <= 256:
            self.fail(sa, Notify.PAYLOAD_MALFORMED, f"nonce of {len(nonce.data)} octets (RFC 2409 5: 8-256)", now)
            return None
        return ke, nonce

    def _initial_contact(self, sa: IsakmpSa) -> list[Payload]:
        s = self.e.settings
        if s.ike.initial_contact and not self.e.has_contact(sa):
            return [N(Notify.INITIAL_CONTACT, Protocol.IKE, sa.cky_i + sa.cky_r)]
        return []

    def _established(self, sa: IsakmpSa, msg: Message, now: float) -> None:
        self.e.established(sa, now, initial_contact=msg.notify(Notify.INITIAL_CONTACT) is not None)

    def _new_dh(self, sa: IsakmpSa) -> bytes:
        assert sa.proposal is not None
        sa.dh = dh.generate(sa.proposal.dh[0].ikev2_id, self.e.ep.rng, self.e.ep.crypto_model)
        return sa.dh.public

    def _nonce(self) -> bytes:
        return self.e.ep.rng.randbytes(self.e.settings.ike.nonce_bytes)

    # --- initiator: message 1 ---------------------------------------------------------------
    def start(self, sa: IsakmpSa, now: float) -> None:
        s = self.e.settings
        props = s.ike.proposals
        sa.life = self._own_life()
        sa_p = SA((SaProposal(1, Protocol.IKE, b"", tuple(doi.phase1_transform(i, p, sa.life)
                                                          for i, p in enumerate(props, 1))),))
        payloads: list[Payload] = [sa_p]
        if sa.mode == "aggressive":
            # RFC 2409 5.4: the group cannot be negotiated; config validation keeps it single.
            sa.dh = dh.generate(props[0].dh[0].ikev2_id, self.e.ep.rng, self.e.ep.crypto_model)
            sa.g_xi, sa.nonce_i = sa.dh.public, self._nonce()
            idp = doi.id_from_identity(s.local_identity)
            sa.id_i = idp.body
            payloads += [KE(sa.g_xi), Nonce(sa.nonce_i), idp]
        payloads += self.vendor_ids()
        sealed = self._send(sa, payloads, now, armed=True)
        sa.sai_b = sealed.bodies[0]
        sa.next_msg = 2

    # --- main mode --------------------------------------------------------------------------
    def r_mm1(self, sa: IsakmpSa, msg: Message, dgram: Datagram, now: float) -> bool:
        t = self._choose(sa, msg, now)
        if t is None:
            return False
        self._send(sa, [SA((SaProposal(1, Protocol.IKE, b"", (t,)),)), *self.vendor_ids()], now, armed=False)
        return True

    def i_mm2(self, sa: IsakmpSa, msg: Message, dgram: Datagram, now: float) -> bool:
        if not self._accept_choice(sa, msg, now):
            return False
        sa.g_xi, sa.nonce_i = self._new_dh(sa), self._nonce()
        self._send(sa, [KE(sa.g_xi), Nonce(sa.nonce_i), *self._natd(sa)], now, armed=True)
        return True

    def r_mm3(self, sa: IsakmpSa, msg: Message, dgram: Datagram, now: float) -> bool:
        kn = self._kn(sa, msg, now)
        if kn is None:
            return False
        sa.g_xi, sa.nonce_i = kn[0].data, kn[1].data
        sa.g_xr, sa.nonce_r = self._new_dh(sa), self._nonce()
        if not self._derive(sa, sa.g_xi, now):
            return False
        self._check_natd(sa, msg, dgram)
        self._send(sa, [KE(sa.g_xr), Nonce(sa.nonce_r), *self._natd(sa)], now, armed=False)
        return True

    def i_mm4(self, sa: IsakmpSa, msg: Message, dgram: Datagram, now: float) -> bool:
        kn = self._kn(sa, msg, now)
        if kn is None:
            return False
        sa.g_xr, sa.nonce_r = kn[0].data, kn[1].data
        if not self._derive(sa, sa.g_xr, now):
            return False
        self._check_natd(sa, msg, dgram)
        self.e.nat_float(sa)  # RFC 3947 4: behind a NAT, message 5 on goes from and to UDP 4500
        assert sa.keys is not None
        idp = doi.id_from_identity(self.e.settings.local_identity)
        h = sa.keys.hash_i(sa.g_xi, sa.g_xr, sa.cky_i, sa.cky_r, sa.sai_b, idp.body)
        self._send(sa, [idp, HASH(h), *self._initial_contact(sa)], now, armed=True, encrypted=True)
        return True

    def r_mm5(self, sa: IsakmpSa, msg: Message, dgram: Datagram, now: float) -> bool:
        idp, h = msg.first(ID), msg.first(HASH)
        if not isinstance(idp, ID) or not isinstance(h, HASH):
            self.fail(sa, Notify.INVALID_PAYLOAD_TYPE, "message 5 lacks IDii or HASH_I", now)
            return False
        if not self._peer_id(sa, idp, now):
            return False
        assert sa.keys is not None
        if h.data != sa.keys.hash_i(sa.g_xi, sa.g_xr, sa.cky_i, sa.cky_r, sa.sai_b, msg.body_of(idp)):
            self.fail(sa, Notify.INVALID_HASH_INFORMATION, "HASH_I does not verify (RFC 2409 5): the pre-shared "
                      "keys differ", now)
            return False
        self._established(sa, msg, now)
        mine = doi.id_from_identity(self.e.settings.local_identity)
        hr = sa.keys.hash_r(sa.g_xi, sa.g_xr, sa.cky_i, sa.cky_r, sa.sai_b, mine.body)
        self._send(sa, [mine, HASH(hr)], now, armed=False, encrypted=True)
        return True

    def i_mm6(self, sa: IsakmpSa, msg: Message, dgram: Datagram, now: float) -> bool:
        idp, h = msg.first(ID), msg.first(HASH)
        if not isinstance(idp, ID) or not isinstance(h, HASH):
            self._reject_established_peer(sa, Notify.INVALID_PAYLOAD_TYPE, "message 6 lacks IDir or HASH_R", now)
            return False
        assert sa.keys is not None
        if not self._peer_id(sa, idp, now, self._reject_established_peer):
            return False
        if h.data != sa.keys.hash_r(sa.g_xi, sa.g_xr, sa.cky_i, sa.cky_r, sa.sai_b, msg.body_of(idp)):
            self._reject_established_peer(sa, Notify.INVALID_HASH_INFORMATION,
                                          "HASH_R does not verify (RFC 2409 5): the pre-shared keys differ", now)
            return False
        self._established(sa, msg, now)
        self.e.quick.start(sa, now)
        return True

    def _reject_established_peer(self, sa: IsakmpSa, notify: Notify, reason: str, now: float) -> None:
        """The responder already considers the ISAKMP SA up after message 6: delete it
        (strongSwan main_mode ``send_delete`` when authentication fails as initiator)."""
        self.e.phase1_failed(sa, notify.name, reason)
        self.e.info.delete_isakmp(sa, now)
        self.e.destroy(sa, notify.name.lower(), now)

    # --- aggressive mode --------------------------------------------------------------------
    def r_am1(self, sa: IsakmpSa, msg: Message, dgram: Datagram, now: float) -> bool:
        t = self._choose(sa, msg, now)
        if t is None:
            return False
        kn, idp = self._kn(sa, msg, now), msg.first(ID)
        if kn is None:
            return False
        if not isinstance(idp, ID):
            self.fail(sa, Notify.INVALID_PAYLOAD_TYPE, "aggressive mode message 1 lacks IDii", now)
            return False
        if not self._peer_id(sa, idp, now):
            return False
        sa.g_xi, sa.nonce_i, sa.id_i = kn[0].data, kn[1].data, msg.body_of(idp)
        sa.g_xr, sa.nonce_r = self._new_dh(sa), self._nonce()
        if not self._derive(sa, sa.g_xi, now):
            return False
        assert sa.keys is not None
        mine = doi.id_from_identity(self.e.settings.local_identity)
        hr = sa.keys.hash_r(sa.g_xi, sa.g_xr, sa.cky_i, sa.cky_r, sa.sai_b, mine.body)
        # three-message exchange: the responder retransmits message 2 until message 3 arrives
        self._send(sa, [SA((SaProposal(1, Protocol.IKE, b"", (t,)),)), KE(sa.g_xr), Nonce(sa.nonce_r), mine,
                        HASH(hr), *self.vendor_ids(), *self._natd(sa)], now, armed=True)
        return True

    def i_am2(self, sa: IsakmpSa, msg: Message, dgram: Datagram, now: float) -> bool:
        if not self._accept_choice(sa, msg, now):
            return False
        assert sa.proposal is not None and sa.dh is not None
        if sa.proposal.dh[0].ikev2_id != sa.dh.group:
            self.fail(sa, Notify.NO_PROPOSAL_CHOSEN, f"responder chose DH group {sa.proposal.dh[0].name}, but our "
                      f"KE payload is for group {sa.dh.group} (RFC 2409 5.4: not negotiable)", now)
            return False
        kn, idp, h = self._kn(sa, msg, now), msg.first(ID), msg.first(HASH)
        if kn is None:
            return False
        if not isinstance(idp, ID) or not isinstance(h, HASH):
            self.fail(sa, Notify.INVALID_PAYLOAD_TYPE, "aggressive mode message 2 lacks IDir or HASH_R", now)
            return False
        sa.g_xr, sa.nonce_r = kn[0].data, kn[1].data
        if not self._derive(sa, sa.g_xr, now) or not self._peer_id(sa, idp, now):
            return False
        assert sa.keys is not None
        if h.data != sa.keys.hash_r(sa.g_xi, sa.g_xr, sa.cky_i, sa.cky_r, sa.sai_b, msg.body_of(idp)):
            self.fail(sa, Notify.INVALID_HASH_INFORMATION, "HASH_R in aggressive mode message 2 does not verify "
                      "(RFC 2409 5): the pre-shared keys differ", now)
            return False
        self._check_natd(sa, msg, dgram)
        self.e.nat_float(sa)  # RFC 3947 4: behind a NAT, message 3 goes from and to UDP 4500
        hi = sa.keys.hash_i(sa.g_xi, sa.g_xr, sa.cky_i, sa.cky_r, sa.sai_b, sa.id_i)
        payloads: list[Payload] = [HASH(hi), *self._natd(sa), *self._initial_contact(sa)]
        self._established(sa, msg, now)
        self._send(sa, payloads, now, armed=False, encrypted=True)
        self.e.quick.start(sa, now)
        return True

    def r_am3(self, sa: IsakmpSa, msg: Message, dgram: Datagram, now: float) -> bool:
        h = msg.first(HASH)
        if not isinstance(h, HASH):
            self.fail(sa, Notify.INVALID_PAYLOAD_TYPE, "aggressive mode message 3 lacks HASH_I", now)
            return False
        assert sa.keys is not None
        if h.data != sa.keys.hash_i(sa.g_xi, sa.g_xr, sa.cky_i, sa.cky_r, sa.sai_b, sa.id_i):
            self.fail(sa, Notify.INVALID_HASH_INFORMATION, "HASH_I does not verify (RFC 2409 5): the pre-shared "
                      "keys differ", now)
            return False
        self._check_natd(sa, msg, dgram)
        self._established(sa, msg, now)
        return True


FLIGHTS: dict[tuple[str, bool, int], tuple[Handler, int]] = {
    # (mode, this side initiated, message expected): (its handler, message expected next)
    ("main", False, 1): (Phase1.r_mm1, 3),
    ("main", True, 2): (Phase1.i_mm2, 4),
    ("main", False, 3): (Phase1.r_mm3, 5),
    ("main", True, 4): (Phase1.i_mm4, 6),
    ("main", False, 5): (Phase1.r_mm5, 7),
    ("main", True, 6): (Phase1.i_mm6, 7),
    ("aggressive", False, 1): (Phase1.r_am1, 3),
    ("aggressive", True, 2): (Phase1.i_am2, 4),
    ("aggressive", False, 3): (Phase1.r_am3, 4),
}
"""Phase 1 as one table. The state is ``sa.next_msg``, the message this side expects (an
initiator starts expecting message 2, after ``start`` sent message 1); past the last message
(7 main, 4 aggressive) the exchange is complete. A handler returns True when the message
advanced the exchange (False: it did not, and the handler reported why). A message the table
has no row for is the peer's error: it is ignored with the reason (``Phase1.receive``)."""
