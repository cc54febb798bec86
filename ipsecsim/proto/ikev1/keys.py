"""IKEv1 keying with pre-shared keys: SKEYID and its children, the phase 1 HASHes, the
quick mode / informational HASHes, KEYMAT, and the CBC IV of every exchange.

RFC 2409 section 5 (SKEYID, SKEYID_d/_a/_e, HASH_I, HASH_R), 5.5 (HASH(1), HASH(2),
HASH(3), KEYMAT), 5.7 (informational HASH(1)), Appendix B (cipher key from SKEYID_e, phase 1
IV = hash(g^xi | g^xr), IV chaining by the last CBC block, phase 2 and informational IV =
hash(last phase 1 CBC block | M-ID)). The primitives are ``proto.kdf``, checked against the
NIST SP 800-135 vectors; this module only feeds them the right octets. The PRF is HMAC over
the negotiated hash algorithm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes

from .. import kdf
from ..algorithms import Algorithm
from ..proposals import Proposal


def digest(alg: Algorithm, data: bytes) -> bytes:
    """The negotiated hash function itself (not HMAC), e.g. for NAT-D (RFC 3947 3.2)."""
    h = hashes.Hash(kdf.hash_algorithm(alg.hash))
    h.update(data)
    return h.finalize()


@dataclass(frozen=True, slots=True)
class Phase1Keys:
    """The keys of one ISAKMP SA, derived once phase 1 has exchanged KE and nonces."""

    prf: Algorithm
    encr: Algorithm
    skeyid: bytes
    skeyid_d: bytes
    skeyid_a: bytes
    skeyid_e: bytes
    enc_key: bytes

    @classmethod
    def derive(cls, proposal: Proposal, psk: bytes, ni_b: bytes, nr_b: bytes, g_xy: bytes,
               cky_i: bytes, cky_r: bytes) -> Phase1Keys:
        """SKEYID = prf(pre-shared-key, Ni_b | Nr_b); SKEYID_d/_a/_e from g^xy and the
        cookies; the cipher key from SKEYID_e (RFC 2409 section 5, Appendix B)."""
        prf, encr = proposal.prf[0], proposal.encr[0]
        skeyid = kdf.v1_skeyid_psk(prf, psk, ni_b, nr_b)
        k = kdf.v1_keys(prf, skeyid, g_xy, cky_i, cky_r)
        return cls(prf, encr, k.skeyid, k.skeyid_d, k.skeyid_a, k.skeyid_e,
                   kdf.v1_enc_key(prf, k.skeyid_e, encr.key_bytes))

    def hash_i(self, g_xi: bytes, g_xr: bytes, cky_i: bytes, cky_r: bytes, sai_b: bytes, idii_b: bytes) -> bytes:
        """HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b)."""
        return kdf.prf(self.prf, self.skeyid, g_xi + g_xr + cky_i + cky_r + sai_b + idii_b)

    def hash_r(self, g_xi: bytes, g_xr: bytes, cky_i: bytes, cky_r: bytes, sai_b: bytes, idir_b: bytes) -> bytes:
        """HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)."""
        return kdf.prf(self.prf, self.skeyid, g_xr + g_xi + cky_r + cky_i + sai_b + idir_b)

    def hash1(self, mid: int, rest: bytes) -> bytes:
        """HASH(1) = prf(SKEYID_a, M-ID | everything after the HASH payload) (5.5, 5.7)."""
        return kdf.v1_hash(self.prf, self.skeyid_a, mid.to_bytes(4, "big"), rest)

    def hash2(self, mid: int, ni_b: bytes, rest: bytes) -> bytes:
        """HASH(2) = prf(SKEYID_a, M-ID | Ni_b | everything after the HASH payload) (5.5)."""
        return kdf.v1_hash(self.prf, self.skeyid_a, mid.to_bytes(4, "big"), ni_b, rest)

    def hash3(self, mid: int, ni_b: bytes, nr_b: bytes) -> bytes:
        """HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b) (5.5)."""
        return kdf.v1_hash(self.prf, self.skeyid_a, b"\x00", mid.to_bytes(4, "big"), ni_b, nr_b)

    def keymat(self, protocol: int, spi: bytes, ni_b: bytes, nr_b: bytes, length: int,
               g_qm: bytes | None = None) -> bytes:
        """KEYMAT of the IPsec SA whose receiver chose ``spi`` (5.5)."""
        return kdf.v1_quick_keymat(self.prf, self.skeyid_d, protocol, spi, ni_b, nr_b, length, g_qm)

    @property
    def hash_bytes(self) -> int:
        return kdf.prf_output_bytes(self.prf)


@dataclass(slots=True)
class IvState:
    """The CBC IVs of one ISAKMP SA (RFC 2409 Appendix B).

    Phase 1 (message id 0) chains through every encrypted phase 1 message. Each quick mode
    or informational exchange starts from hash(last phase 1 CBC block | M-ID) and chains
    within its own message id. An IV only moves on once a message was sent, or received and
    decrypted to valid payloads; a retransmission re-sends the same bytes."""

    keys: Phase1Keys
    phase1_iv: bytes
    last_p1_block: bytes | None = None
    phase2: dict[int, bytes] = field(default_factory=dict)

    @classmethod
    def start(cls, keys: Phase1Keys, g_xi: bytes, g_xr: bytes) -> IvState:
        return cls(keys, kdf.v1_phase1_iv(keys.prf, g_xi, g_xr, keys.encr.block_bytes))

    def iv(self, mid: int) -> bytes:
        if mid == 0:
            return self.phase1_iv
        if mid not in self.phase2:
            base = self.last_p1_block if self.last_p1_block is not None else self.phase1_iv
            return kdf.v1_phase2_iv(self.keys.prf, base, mid.to_bytes(4, "big"), self.keys.encr.block_bytes)
        return self.phase2[mid]

    def advance(self, mid: int, raw: bytes) -> None:
        """An encrypted message of exchange ``mid`` went out or was accepted: chain on."""
        block = raw[-self.keys.encr.block_bytes:]
        if mid == 0:
            self.phase1_iv = self.last_p1_block = block
        else:
            self.phase2[mid] = block

    def forget(self, mid: int) -> None:
        self.phase2.pop(mid, None)
