"""IKEv1 main mode with pre-shared keys, both roles (RFC 2409 5, 5.4): one handler per
message, each processing the peer's message and sending this side's next one; ``phase1.FLIGHTS``
says which handler takes which message. The steps both modes share (proposal choice, key
derivation, NAT-D, identities) are ``phase1.Phase1``'s.

    Main mode (IDENTITY_PROTECTION), message id 0
      1  I->R  [ SA V V ]
      2  R->I  [ SA V V ]
      3  I->R  [ KE No NAT-D NAT-D ]
      4  R->I  [ KE No NAT-D NAT-D ]          both sides derive SKEYID..., IV = hash(g^xi | g^xr)
      5  I->R  E[ ID HASH [N(INITIAL_CONTACT)] ]   HASH_I
      6  R->I  E[ ID HASH ]                         HASH_R
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..proposals import Protocol
from . import doi
from .message import HASH, ID, KE, SA, Nonce, Notify, Payload, SaProposal

if TYPE_CHECKING:
    from ..onwire import Datagram
    from .isakmpsa import IsakmpSa
    from .message import Message
    from .phase1 import Phase1


class MainMode:
    def __init__(self, phase1: Phase1):
        self.p = phase1
        self.e = phase1.e

    def first_payloads(self, sa: IsakmpSa) -> list[Payload]:
        """What message 1 carries besides the SA and vendor IDs: nothing."""
        return []

    def choose_offered_sa(self, sa: IsakmpSa, msg: Message, dgram: Datagram, now: float) -> bool:
        """Responder, message 1 [ SA V V ]: choose one offered transform; send it in message 2."""
        t = self.p.choose(sa, msg, now)
        if t is None:
            return False
        self.p.send(sa, [SA((SaProposal(1, Protocol.IKE, b"", (t,)),)), *self.p.vendor_ids()], now, armed=False)
        return True

    def send_key_exchange(self, sa: IsakmpSa, msg: Message, dgram: Datagram, now: float) -> bool:
        """Initiator, message 2 [ SA V V ]: accept the choice; send KE, Ni, NAT-D (message 3)."""
        if not self.p.accept_choice(sa, msg, now):
            return False
        sa.g_xi, sa.nonce_i = self.p.new_dh(sa), self.p.nonce()
        self.p.send(sa, [KE(sa.g_xi), Nonce(sa.nonce_i), *self.p.natd(sa)], now, armed=True)
        return True

    def answer_key_exchange(self, sa: IsakmpSa, msg: Message, dgram: Datagram, now: float) -> bool:
        """Responder, message 3 [ KE Ni NAT-D ]: derive the keys; send KE, Nr, NAT-D (message 4)."""
        kn = self.p.ke_and_nonce(sa, msg, now)
        if kn is None:
            return False
        sa.g_xi, sa.nonce_i = kn[0].data, kn[1].data
        sa.g_xr, sa.nonce_r = self.p.new_dh(sa), self.p.nonce()
        if not self.p.derive(sa, sa.g_xi, now):
            return False
        self.p.check_natd(sa, msg, dgram)
        self.p.send(sa, [KE(sa.g_xr), Nonce(sa.nonce_r), *self.p.natd(sa)], now, armed=False)
        return True

    def send_identity(self, sa: IsakmpSa, msg: Message, dgram: Datagram, now: float) -> bool:
        """Initiator, message 4 [ KE Nr NAT-D ]: derive the keys; send E[ IDii HASH_I ] (message 5)."""
        kn = self.p.ke_and_nonce(sa, msg, now)
        if kn is None:
            return False
        sa.g_xr, sa.nonce_r = kn[0].data, kn[1].data
        if not self.p.derive(sa, sa.g_xr, now):
            return False
        self.p.check_natd(sa, msg, dgram)
        self.e.nat_float(sa)  # RFC 3947 4: behind a NAT, message 5 on goes from and to UDP 4500
        assert sa.keys is not None
        idp = doi.id_from_identity(self.e.settings.local_identity)
        h = sa.keys.hash_i(sa.g_xi, sa.g_xr, sa.cky_i, sa.cky_r, sa.sai_b, idp.body)
        self.p.send(sa, [idp, HASH(h), *self.p.initial_contact(sa)], now, armed=True, encrypted=True)
        return True

    def authenticate_initiator(self, sa: IsakmpSa, msg: Message, dgram: Datagram, now: float) -> bool:
        """Responder, message 5 E[ IDii HASH_I ]: verify it, established; send E[ IDir HASH_R ]."""
        idp, h = msg.first(ID), msg.first(HASH)
        if not isinstance(idp, ID) or not isinstance(h, HASH):
            self.p.fail(sa, Notify.INVALID_PAYLOAD_TYPE, "message 5 lacks IDii or HASH_I", now)
            return False
        if not self.p.peer_id(sa, idp, now):
            return False
        assert sa.keys is not None
        if h.data != sa.keys.hash_i(sa.g_xi, sa.g_xr, sa.cky_i, sa.cky_r, sa.sai_b, msg.body_of(idp)):
            self.p.fail(sa, Notify.INVALID_HASH_INFORMATION, "HASH_I does not verify (RFC 2409 5): the pre-shared "
                      "keys differ", now)
            return False
        self.p.established(sa, msg, now)
        mine = doi.id_from_identity(self.e.settings.local_identity)
        hr = sa.keys.hash_r(sa.g_xi, sa.g_xr, sa.cky_i, sa.cky_r, sa.sai_b, mine.body)
        self.p.send(sa, [mine, HASH(hr)], now, armed=False, encrypted=True)
        return True

    def authenticate_responder(self, sa: IsakmpSa, msg: Message, dgram: Datagram, now: float) -> bool:
        """Initiator, message 6 E[ IDir HASH_R ]: verify it, established; quick mode follows."""
        idp, h = msg.first(ID), msg.first(HASH)
        if not isinstance(idp, ID) or not isinstance(h, HASH):
            self.p.reject_established_peer(sa, Notify.INVALID_PAYLOAD_TYPE, "message 6 lacks IDir or HASH_R", now)
            return False
        assert sa.keys is not None
        if not self.p.peer_id(sa, idp, now, self.p.reject_established_peer):
            return False
        if h.data != sa.keys.hash_r(sa.g_xi, sa.g_xr, sa.cky_i, sa.cky_r, sa.sai_b, msg.body_of(idp)):
            self.p.reject_established_peer(sa, Notify.INVALID_HASH_INFORMATION,
                                          "HASH_R does not verify (RFC 2409 5): the pre-shared keys differ", now)
            return False
        self.p.established(sa, msg, now)
        self.e.quick.start(sa, now)
        return True
