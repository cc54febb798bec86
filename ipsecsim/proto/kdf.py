"""Pseudo-random functions and key derivation for IKEv2 and IKEv1.

IKEv2 (RFC 7296): prf and prf+ (2.13), SKEYSEED and the IKE SA keys SK_d, SK_ai, SK_ar,
SK_ei, SK_er, SK_pi, SK_pr (2.14), Child SA KEYMAT (2.17) and the SKEYSEED of a rekeyed IKE
SA (2.18). AEAD salts come from the end of each encryption key (RFC 5282 7.1, RFC 4106 8.1).

IKEv1 (RFC 2409 section 5 and Appendix B) with pre-shared-key authentication: SKEYID,
SKEYID_d / _a / _e, the expansion of SKEYID_e into the cipher key, the phase 1 and phase 2
IVs, the HASH(n) payloads and Quick Mode KEYMAT (5.5).

Every PRF here is HMAC (RFC 2104) over the algorithm's ``hash``; for IKEv1 the negotiated
hash maps to the HMAC PRF of the same hash (``ALGORITHMS["prfsha1"]`` etc.).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives import hashes, hmac

from .algorithms import Algorithm

_HASHES: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sm3": hashes.SM3,
}

# RFC 7296 2.13: prf+ counts its iterations in one octet, so at most 255 blocks.
_PRF_PLUS_MAX_BLOCKS: Final = 255


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    """The ``cryptography`` hash for a registry ``hash`` name (md5, sha1, ..., sm3)."""
    try:
        return _HASHES[name]()
    except KeyError:
        raise ValueError(f"no hash function {name!r}") from None


def prf_output_bytes(alg: Algorithm) -> int:
    """Output length of the HMAC PRF (= its "preferred key length", RFC 7296 2.14)."""
    return hash_algorithm(alg.hash).digest_size


def prf(alg: Algorithm, key: bytes, data: bytes) -> bytes:
    """prf(K, S): HMAC with ``alg.hash`` (RFC 2104; RFC 7296 2.13, RFC 2409 section 5)."""
    mac = hmac.HMAC(key, hash_algorithm(alg.hash))
    mac.update(data)
    return mac.finalize()


def prf_plus(alg: Algorithm, key: bytes, seed: bytes, length: int) -> bytes:
    """prf+(K, S) truncated to ``length`` octets (RFC 7296 2.13).

    T1 = prf(K, S | 0x01), Tn = prf(K, T(n-1) | S | n); more than 255 blocks is an error.
    """
    if length < 0:
        raise ValueError("negative prf+ length")
    out = bytearray()
    block = b""
    n = 0
    while len(out) < length:
        n += 1
        if n > _PRF_PLUS_MAX_BLOCKS:
            raise ValueError(f"prf+ cannot produce {length} octets: more than 255 iterations")
        block = prf(alg, key, block + seed + bytes([n]))
        out += block
    return bytes(out[:length])


# --- IKEv2 -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IkeSaKeys:
    """The seven IKE SA secrets of RFC 7296 2.14, in prf+ order."""

    sk_d: bytes
    sk_ai: bytes
    sk_ar: bytes
    sk_ei: bytes
    sk_er: bytes
    sk_pi: bytes
    sk_pr: bytes


def skeyseed(prf_alg: Algorithm, ni: bytes, nr: bytes, g_ir: bytes) -> bytes:
    """SKEYSEED = prf(Ni | Nr, g^ir) (RFC 7296 2.14)."""
    return prf(prf_alg, ni + nr, g_ir)


def rekey_skeyseed(prf_alg: Algorithm, sk_d_old: bytes, g_ir_new: bytes, ni: bytes, nr: bytes) -> bytes:
    """SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) for a rekeyed IKE SA (RFC 7296 2.18)."""
    return prf(prf_alg, sk_d_old, g_ir_new + ni + nr)


def encr_key_bytes(encr: Algorithm) -> int:
    """Keying material one encryption key takes: key plus salt (RFC 5282 7.1, RFC 4106 8.1)."""
    return encr.key_bytes + encr.salt_bytes


def ike_sa_keys(prf_alg: Algorithm, encr: Algorithm, integ: Algorithm | None, skeyseed: bytes,
                ni: bytes, nr: bytes, spi_i: bytes, spi_r: bytes) -> IkeSaKeys:
    """{SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni|Nr|SPIi|SPIr).

    RFC 7296 2.14: SK_d, SK_pi and SK_pr take the PRF's preferred key length (its output
    length for HMAC); SK_a* the integrity key length (none with an AEAD cipher, RFC 5282 7);
    SK_e* the cipher key plus, for AEAD / CTR, the salt at the end (RFC 5282 7.1).
    """
    prf_len = prf_output_bytes(prf_alg)
    a_len = integ.key_bytes if integ is not None else 0
    e_len = encr_key_bytes(encr)
    lengths = (prf_len, a_len, a_len, e_len, e_len, prf_len, prf_len)
    keymat = prf_plus(prf_alg, skeyseed, ni + nr + spi_i + spi_r, sum(lengths))
    parts = _split(keymat, lengths)
    return IkeSaKeys(*parts)


@dataclass(frozen=True, slots=True)
class ChildKeys:
    """Child SA keys (RFC 7296 2.17).

    ``encr_i`` / ``integ_i`` protect traffic from the initiator to the responder (the
    initiator's outbound and the responder's inbound SA); ``encr_r`` / ``integ_r`` the other
    direction. Encryption keys include the salt for GCM / CTR / ChaCha20 (RFC 4106 8.1).
    """

    encr_i: bytes
    integ_i: bytes
    encr_r: bytes
    integ_r: bytes


def child_keys(prf_alg: Algorithm, sk_d: bytes, ni: bytes, nr: bytes, encr: Algorithm,
               integ: Algorithm | None, g_ir_new: bytes | None = None) -> ChildKeys:
    """KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr), split into the Child SA keys (RFC 7296 2.17).

    "All keys for SAs carrying data from the initiator to the responder are taken before SAs
    going from the responder to the initiator"; within a direction the encryption key comes
    first, then the integrity key. ``g_ir_new`` is the PFS shared secret of a
    CREATE_CHILD_SA exchange with a KE payload.
    """
    e_len = encr_key_bytes(encr)
    a_len = integ.key_bytes if integ is not None else 0
    seed = (g_ir_new or b"") + ni + nr
    lengths = (e_len, a_len, e_len, a_len)
    return ChildKeys(*_split(prf_plus(prf_alg, sk_d, seed, sum(lengths)), lengths))


def _split(data: bytes, lengths: tuple[int, ...]) -> list[bytes]:
    out = []
    pos = 0
    for n in lengths:
        out.append(data[pos:pos + n])
        pos += n
    return out


# --- IKEv1 -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class V1Keys:
    """The IKEv1 phase 1 key hierarchy (RFC 2409 section 5)."""

    skeyid: bytes
    skeyid_d: bytes
    skeyid_a: bytes
    skeyid_e: bytes


def v1_skeyid_psk(prf_alg: Algorithm, psk: bytes, ni_b: bytes, nr_b: bytes) -> bytes:
    """SKEYID = prf(pre-shared-key, Ni_b | Nr_b) for pre-shared keys (RFC 2409 section 5)."""
    return prf(prf_alg, psk, ni_b + nr_b)


def v1_keys(prf_alg: Algorithm, skeyid: bytes, g_xy: bytes, cky_i: bytes, cky_r: bytes) -> V1Keys:
    """SKEYID_d, SKEYID_a and SKEYID_e (RFC 2409 section 5).

    SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)
    SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)
    SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)
    """
    tail = g_xy + cky_i + cky_r
    d = prf(prf_alg, skeyid, tail + b"\x00")
    a = prf(prf_alg, skeyid, d + tail + b"\x01")
    e = prf(prf_alg, skeyid, a + tail + b"\x02")
    return V1Keys(skeyid, d, a, e)


def v1_enc_key(prf_alg: Algorithm, skeyid_e: bytes, key_len: int) -> bytes:
    """The phase 1 cipher key from SKEYID_e (RFC 2409 Appendix B).

    The first ``key_len`` octets of SKEYID_e when it is long enough; otherwise
    Ka = K1 | K2 | ..., K1 = prf(SKEYID_e, 0), Kn = prf(SKEYID_e, K(n-1)), truncated.
    """
    if len(skeyid_e) >= key_len:
        return skeyid_e[:key_len]
    out = bytearray()
    block = b"\x00"  # "0" is a single zero octet (as strongSwan and Linux racoon do)
    while len(out) < key_len:
        block = prf(prf_alg, skeyid_e, block)
        out += block
    return bytes(out[:key_len])


def _hash(alg: Algorithm, data: bytes) -> bytes:
    h = hashes.Hash(hash_algorithm(alg.hash))
    h.update(data)
    return h.finalize()


def v1_phase1_iv(hash_alg: Algorithm, g_xi: bytes, g_xr: bytes, block_bytes: int) -> bytes:
    """Phase 1 IV = hash(g^xi | g^xr) truncated to the cipher block size (RFC 2409 App. B).

    ``hash_alg`` is any registry algorithm whose ``hash`` is the negotiated hash.
    """
    return _hash(hash_alg, g_xi + g_xr)[:block_bytes]


def v1_phase2_iv(hash_alg: Algorithm, last_phase1_cbc_block: bytes, message_id: bytes,
                 block_bytes: int) -> bytes:
    """Phase 2 / informational IV = hash(last phase 1 CBC output block | M-ID) (RFC 2409 App. B)."""
    return _hash(hash_alg, last_phase1_cbc_block + message_id)[:block_bytes]


def v1_hash(prf_alg: Algorithm, skeyid_a: bytes, *parts: bytes) -> bytes:
    """prf(SKEYID_a, parts...) -- Quick Mode HASH(1), HASH(2), HASH(3) (RFC 2409 5.5)."""
    return prf(prf_alg, skeyid_a, b"".join(parts))


def v1_quick_keymat(prf_alg: Algorithm, skeyid_d: bytes, protocol: int, spi: bytes, ni_b: bytes,
                    nr_b: bytes, length: int, g_qm: bytes | None = None) -> bytes:
    """Quick Mode KEYMAT for one SA (RFC 2409 5.5), truncated to ``length`` octets.

    KEYMAT = K1 | K2 | ..., K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b),
    Kn = prf(SKEYID_d, K(n-1) | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b). ``protocol`` is
    the one-octet protocol ID (3 = ESP) and ``spi`` the SPI of the SA being keyed (the one
    its receiver chose), so each direction gets its own KEYMAT.
    """
    if not 0 <= protocol <= 255:
        raise ValueError(f"protocol id {protocol} does not fit one octet")
    seed = (g_qm or b"") + bytes([protocol]) + spi + ni_b + nr_b
    out = bytearray()
    block = b""
    while len(out) < length:
        block = prf(prf_alg, skeyid_d, block + seed)
        out += block
    return bytes(out[:length])
