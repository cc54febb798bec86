"""IKEv1 aggressive mode with pre-shared keys, both roles (RFC 2409 5, 5.4): one handler per
message, each processing the peer's message and sending this side's next one; ``phase1.FLIGHTS``
says which handler takes which message. The steps both modes share (proposal choice, key
derivation, NAT-D, identities) are ``phase1.Phase1``'s.

    Aggressive mode (AGGRESSIVE), message id 0
      1  I->R  [ SA KE No ID V V ]
      2  R->I  [ SA KE No ID HASH V V NAT-D NAT-D ] HASH_R in the clear
      3  I->R  E[ HASH NAT-D NAT-D [N(INITIAL_CONTACT)] ]   HASH_I
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import dh
from ..proposals import Protocol
from . import doi
from .message import HASH, ID, KE, SA, Nonce, Notify, Payload, SaProposal

if TYPE_CHECKING:
    from ..onwire import Datagram
    from .isakmpsa import IsakmpSa
    from .message import Message
    from .phase1 import Phase1


class AggressiveMode:
    def __init__(self, phase1: Phase1):
        self.p = phase1
        self.e = phase1.e

    def first_payloads(self, sa: IsakmpSa) -> list[Payload]:
        """What message 1 carries besides the SA and vendor IDs: KE, Ni, IDii."""
        s = self.e.settings
        # RFC 2409 5.4: the group cannot be negotiated; config validation keeps it single.
        sa.dh = dh.generate(s.ike.proposals[0].dh[0].ikev2_id, self.e.ep.rng, self.e.ep.crypto_model)
        sa.g_xi, sa.nonce_i = sa.dh.public, self.p.nonce()
        idp = doi.id_from_identity(s.local_identity)
        sa.id_i = idp.body
        return [KE(sa.g_xi), Nonce(sa.nonce_i), idp]

    def answer_offer(self, sa: IsakmpSa, msg: Message, dgram: Datagram, now: float) -> bool:
        """Responder, message 1 [ SA KE Ni IDii V V ]: choose, derive the keys; send message 2 with
        HASH_R (retransmitted until message 3: a three-message exchange)."""
        t = self.p.choose(sa, msg, now)
        if t is None:
            return False
        kn, idp = self.p.ke_and_nonce(sa, msg, now), msg.first(ID)
        if kn is None:
            return False
        if not isinstance(idp, ID):
            self.p.fail(sa, Notify.INVALID_PAYLOAD_TYPE, "aggressive mode message 1 lacks IDii", now)
            return False
        if not self.p.peer_id(sa, idp, now):
            return False
        sa.g_xi, sa.nonce_i, sa.id_i = kn[0].data, kn[1].data, msg.body_of(idp)
        sa.g_xr, sa.nonce_r = self.p.new_dh(sa), self.p.nonce()
        if not self.p.derive(sa, sa.g_xi, now):
            return False
        assert sa.keys is not None
        mine = doi.id_from_identity(self.e.settings.local_identity)
        hr = sa.keys.hash_r(sa.g_xi, sa.g_xr, sa.cky_i, sa.cky_r, sa.sai_b, mine.body)
        # three-message exchange: the responder retransmits message 2 until message 3 arrives
        self.p.send(sa, [SA((SaProposal(1, Protocol.IKE, b"", (t,)),)), KE(sa.g_xr), Nonce(sa.nonce_r), mine,
                        HASH(hr), *self.p.vendor_ids(), *self.p.natd(sa)], now, armed=True)
        return True

    def authenticate_responder(self, sa: IsakmpSa, msg: Message, dgram: Datagram, now: float) -> bool:
        """Initiator, message 2: verify HASH_R, established; send E[ HASH_I NAT-D ]
        (message 3); quick mode follows."""
        if not self.p.accept_choice(sa, msg, now):
            return False
        assert sa.proposal is not None and sa.dh is not None
        if sa.proposal.dh[0].ikev2_id != sa.dh.group:
            self.p.fail(sa, Notify.NO_PROPOSAL_CHOSEN, f"responder chose DH group {sa.proposal.dh[0].name}, but our "
                      f"KE payload is for group {sa.dh.group} (RFC 2409 5.4: not negotiable)", now)
            return False
        kn, idp, h = self.p.ke_and_nonce(sa, msg, now), msg.first(ID), msg.first(HASH)
        if kn is None:
            return False
        if not isinstance(idp, ID) or not isinstance(h, HASH):
            self.p.fail(sa, Notify.INVALID_PAYLOAD_TYPE, "aggressive mode message 2 lacks IDir or HASH_R", now)
            return False
        sa.g_xr, sa.nonce_r = kn[0].data, kn[1].data
        if not self.p.derive(sa, sa.g_xr, now) or not self.p.peer_id(sa, idp, now):
            return False
        assert sa.keys is not None
        if h.data != sa.keys.hash_r(sa.g_xi, sa.g_xr, sa.cky_i, sa.cky_r, sa.sai_b, msg.body_of(idp)):
            self.p.fail(sa, Notify.INVALID_HASH_INFORMATION, "HASH_R in aggressive mode message 2 does not verify "
                      "(RFC 2409 5): the pre-shared keys differ", now)
            return False
        self.p.check_natd(sa, msg, dgram)
        self.e.nat_float(sa)  # RFC 3947 4: behind a NAT, message 3 goes from and to UDP 4500
        hi = sa.keys.hash_i(sa.g_xi, sa.g_xr, sa.cky_i, sa.cky_r, sa.sai_b, sa.id_i)
        payloads: list[Payload] = [HASH(hi), *self.p.natd(sa), *self.p.initial_contact(sa)]
        self.p.established(sa, msg, now)
        self.p.send(sa, payloads, now, armed=False, encrypted=True)
        self.e.quick.start(sa, now)
        return True

    def authenticate_initiator(self, sa: IsakmpSa, msg: Message, dgram: Datagram, now: float) -> bool:
        """Responder, message 3 E[ HASH_I NAT-D ]: verify it, established."""
        h = msg.first(HASH)
        if not isinstance(h, HASH):
            self.p.fail(sa, Notify.INVALID_PAYLOAD_TYPE, "aggressive mode message 3 lacks HASH_I", now)
            return False
        assert sa.keys is not None
        if h.data != sa.keys.hash_i(sa.g_xi, sa.g_xr, sa.cky_i, sa.cky_r, sa.sai_b, sa.id_i):
            self.p.fail(sa, Notify.INVALID_HASH_INFORMATION, "HASH_I does not verify (RFC 2409 5): the pre-shared "
                      "keys differ", now)
            return False
        self.p.check_natd(sa, msg, dgram)
        self.p.established(sa, msg, now)
        return True
