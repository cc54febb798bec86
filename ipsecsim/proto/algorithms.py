"""Transform registry: every algorithm ipsecsim can negotiate, with its code points.

Names are strongSwan proposal keywords (docs.strongswan.org, "Algorithm Proposals"); the
numbers are the IANA registries "IKEv2 Transform Type 1-5 Transform IDs" (RFC 7296 3.3.2),
the IKEv1 phase-1 attribute values (RFC 2409 Appendix A, RFC 3602, RFC 4868) and the IPsec
DOI ESP transform / authentication algorithm values (RFC 2407 4.4.4, 4.5).

Algorithms without an IANA code point (the Chinese SM3 / SM4 used by Huawei and Alibaba
"GM" gateways) carry private-use values and ``iana=False``: they are negotiated like any
other, but a trace that has to be read by Wireshark must refuse or mark them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.IntEnum):
    """IKEv2 transform types (RFC 7296 3.3.2)."""

    ENCR = 1
    PRF = 2
    INTEG = 3
    DH = 4
    ESN = 5


@dataclass(frozen=True, slots=True)
class Algorithm:
    """One transform.

    ``key_bytes`` is the cipher / MAC key length; for AES-CTR and AES-GCM it excludes the
    salt (``salt_bytes``), which RFC 4106 / RFC 5282 take from the end of the keying
    material. ``icv_bytes`` is the (truncated) integrity check value length.
    """

    kind: Kind
    name: str
    ikev2_id: int
    key_bytes: int = 0
    key_length_attr: bool = False  # IKEv2/IKEv1 "Key Length" attribute is sent
    block_bytes: int = 0
    iv_bytes: int = 0
    salt_bytes: int = 0
    icv_bytes: int = 0
    aead: bool = False
    hash: str = ""  # underlying hash for PRF / INTEG: md5, sha1, sha256, sha384, sha512, sm3
    ikev1_id: int | None = None  # IKEv1 phase 1: encryption / hash algorithm / group attribute
    esp_v1_id: int | None = None  # IPsec DOI: ESP transform id (ENCR) or auth algorithm (INTEG)
    iana: bool = True
    wireshark: bool = True  # Wireshark 4.0 can decrypt / verify it
    cipher: str = ""  # primitive family: aes-cbc, aes-ctr, aes-gcm, 3des, des, sm4, chacha20, null
    description: str = ""

    @property
    def key_bits(self) -> int:
        return self.key_bytes * 8

    def __str__(self) -> str:
        return self.name


_PRIVATE = 1024  # IKEv2 private-use range starts at 1024 for transform IDs (RFC 7296 3.3.2)


def _encr() -> list[Algorithm]:
    out = [
        Algorithm(Kind.ENCR, "des", 2, key_bytes=8, block_bytes=8, iv_bytes=8, ikev1_id=1,
                  esp_v1_id=2, cipher="des", description="DES-CBC (RFC 2405)"),
        Algorithm(Kind.ENCR, "3des", 3, key_bytes=24, block_bytes=8, iv_bytes=8, ikev1_id=5,
                  esp_v1_id=3, cipher="3des", description="3DES-CBC (RFC 2451)"),
        Algorithm(Kind.ENCR, "null", 11, esp_v1_id=11, cipher="null", block_bytes=4,
                  description="NULL encryption (RFC 2410), ESP only"),
        Algorithm(Kind.ENCR, "sm4", _PRIVATE + 1, key_bytes=16, block_bytes=16, iv_bytes=16,
                  ikev1_id=65001, esp_v1_id=250, iana=False, wireshark=False, cipher="sm4",
                  description="SM4-CBC (GB/T 32907); no IANA code point, private-use value"),
        Algorithm(Kind.ENCR, "chacha20poly1305", 28, key_bytes=32, iv_bytes=8, salt_bytes=4,
                  icv_bytes=16, aead=True, block_bytes=1, wireshark=False, cipher="chacha20",
                  description="ChaCha20-Poly1305 (RFC 7634)"),
    ]
    for bits in (128, 192, 256):
        out.append(Algorithm(Kind.ENCR, f"aes{bits}", 12, key_bytes=bits // 8, key_length_attr=True,
                             block_bytes=16, iv_bytes=16, ikev1_id=7, esp_v1_id=12,
                             cipher="aes-cbc", description=f"AES-CBC-{bits} (RFC 3602)"))
        out.append(Algorithm(Kind.ENCR, f"aes{bits}ctr", 13, key_bytes=bits // 8,
                             key_length_attr=True, block_bytes=1, iv_bytes=8, salt_bytes=4,
                             esp_v1_id=13, cipher="aes-ctr",
                             description=f"AES-CTR-{bits} (RFC 3686 / RFC 5930)"))
        for icv, tid in ((8, 18), (12, 19), (16, 20)):
            out.append(Algorithm(Kind.ENCR, f"aes{bits}gcm{icv}", tid, key_bytes=bits // 8,
                                 key_length_attr=True, block_bytes=4, iv_bytes=8, salt_bytes=4,
                                 icv_bytes=icv, aead=True, esp_v1_id=tid, cipher="aes-gcm",
                                 description=f"AES-GCM-{bits} with {icv}-octet ICV (RFC 4106 / RFC 5282)"))
    return out


def _integ() -> list[Algorithm]:
    return [
        Algorithm(Kind.INTEG, "md5", 1, key_bytes=16, icv_bytes=12, hash="md5", esp_v1_id=1,
                  description="HMAC-MD5-96 (RFC 2403)"),
        Algorithm(Kind.INTEG, "sha1", 2, key_bytes=20, icv_bytes=12, hash="sha1", esp_v1_id=2,
                  description="HMAC-SHA1-96 (RFC 2404)"),
        Algorithm(Kind.INTEG, "sha256", 12, key_bytes=32, icv_bytes=16, hash="sha256", esp_v1_id=5,
                  description="HMAC-SHA2-256-128 (RFC 4868)"),
        Algorithm(Kind.INTEG, "sha384", 13, key_bytes=48, icv_bytes=24, hash="sha384", esp_v1_id=6,
                  description="HMAC-SHA2-384-192 (RFC 4868)"),
        Algorithm(Kind.INTEG, "sha512", 14, key_bytes=64, icv_bytes=32, hash="sha512", esp_v1_id=7,
                  description="HMAC-SHA2-512-256 (RFC 4868)"),
        # strongSwan keyword sha256_96: the pre-RFC 4868 Linux truncation to 96 bits. strongSwan
        # sends it as private-use ID 1026 (AUTH_HMAC_SHA2_256_96); a peer with it and a peer with
        # sha256 agree on nothing on the wire but compute different ICV lengths if forced together.
        Algorithm(Kind.INTEG, "sha256_96", _PRIVATE + 2, key_bytes=32, icv_bytes=12, hash="sha256",
                  iana=False, wireshark=False,
                  description="HMAC-SHA2-256-96 (draft truncation, strongSwan private-use ID)"),
        Algorithm(Kind.INTEG, "sm3", _PRIVATE + 6, key_bytes=32, icv_bytes=12, hash="sm3",
                  ikev1_id=65002, esp_v1_id=250, iana=False, wireshark=False,
                  description="HMAC-SM3 (GB/T 32905); no IANA code point, private-use value"),
    ]


def _prf() -> list[Algorithm]:
    return [
        Algorithm(Kind.PRF, "prfmd5", 1, hash="md5", key_bytes=16, ikev1_id=1,
                  description="PRF_HMAC_MD5 (RFC 2104)"),
        Algorithm(Kind.PRF, "prfsha1", 2, hash="sha1", key_bytes=20, ikev1_id=2,
                  description="PRF_HMAC_SHA1 (RFC 2104)"),
        Algorithm(Kind.PRF, "prfsha256", 5, hash="sha256", key_bytes=32, ikev1_id=4,
                  description="PRF_HMAC_SHA2_256 (RFC 4868)"),
        Algorithm(Kind.PRF, "prfsha384", 6, hash="sha384", key_bytes=48, ikev1_id=5,
                  description="PRF_HMAC_SHA2_384 (RFC 4868)"),
        Algorithm(Kind.PRF, "prfsha512", 7, hash="sha512", key_bytes=64, ikev1_id=6,
                  description="PRF_HMAC_SHA2_512 (RFC 4868)"),
        Algorithm(Kind.PRF, "prfsm3", _PRIVATE + 3, hash="sm3", key_bytes=32, ikev1_id=65002,
                  iana=False, wireshark=False,
                  description="PRF_HMAC_SM3; no IANA code point, private-use value"),
    ]


# (keyword, IANA group number, description). MODP primes: RFC 2409 6.1/6.2, RFC 3526,
# RFC 5114 (22-24); ECP: RFC 5903 (19-21), RFC 5114 (25-26); Brainpool: RFC 6954;
# Curve25519 / Curve448: RFC 8031.
_DH = [
    ("modp768", 1, "768-bit MODP (RFC 2409)"),
    ("modp1024", 2, "1024-bit MODP (RFC 2409)"),
    ("modp1536", 5, "1536-bit MODP (RFC 3526)"),
    ("modp2048", 14, "2048-bit MODP (RFC 3526)"),
    ("modp3072", 15, "3072-bit MODP (RFC 3526)"),
    ("modp4096", 16, "4096-bit MODP (RFC 3526)"),
    ("modp6144", 17, "6144-bit MODP (RFC 3526)"),
    ("modp8192", 18, "8192-bit MODP (RFC 3526)"),
    ("ecp256", 19, "256-bit random ECP (RFC 5903)"),
    ("ecp384", 20, "384-bit random ECP (RFC 5903)"),
    ("ecp521", 21, "521-bit random ECP (RFC 5903)"),
    ("modp1024s160", 22, "1024-bit MODP with 160-bit prime order subgroup (RFC 5114)"),
    ("modp2048s224", 23, "2048-bit MODP with 224-bit prime order subgroup (RFC 5114)"),
    ("modp2048s256", 24, "2048-bit MODP with 256-bit prime order subgroup (RFC 5114)"),
    ("ecp192", 25, "192-bit random ECP (RFC 5114)"),
    ("ecp224", 26, "224-bit random ECP (RFC 5114)"),
    ("ecp224bp", 27, "brainpoolP224r1 (RFC 6954)"),
    ("ecp256bp", 28, "brainpoolP256r1 (RFC 6954)"),
    ("ecp384bp", 29, "brainpoolP384r1 (RFC 6954)"),
    ("ecp512bp", 30, "brainpoolP512r1 (RFC 6954)"),
    ("curve25519", 31, "Curve25519 (RFC 8031)"),
    ("curve448", 32, "Curve448 (RFC 8031)"),
]

_ESN = [
    Algorithm(Kind.ESN, "noesn", 0, description="no extended sequence numbers"),
    Algorithm(Kind.ESN, "esn", 1, description="64-bit extended sequence numbers (RFC 4303)"),
]

ALGORITHMS: dict[str, Algorithm] = {}
for _a in (*_encr(), *_integ(), *_prf(), *_ESN,
           *(Algorithm(Kind.DH, n, g, ikev1_id=g, description=d) for n, g, d in _DH)):
    ALGORITHMS[_a.name] = _a

# strongSwan aliases (docs.strongswan.org "Algorithm Proposals") and common spellings.
ALIASES: dict[str, str] = {
    "aes": "aes128",
    "aes128gcm": "aes128gcm16", "aes192gcm": "aes192gcm16", "aes256gcm": "aes256gcm16",
    "aes128gcm64": "aes128gcm8", "aes128gcm96": "aes128gcm12", "aes128gcm128": "aes128gcm16",
    "aes192gcm64": "aes192gcm8", "aes192gcm96": "aes192gcm12", "aes192gcm128": "aes192gcm16",
    "aes256gcm64": "aes256gcm8", "aes256gcm96": "aes256gcm12", "aes256gcm128": "aes256gcm16",
    "sha": "sha1", "sha2_256": "sha256", "sha2_384": "sha384", "sha2_512": "sha512",
    "x25519": "curve25519", "x448": "curve448",
}

DH_BY_GROUP: dict[int, Algorithm] = {a.ikev2_id: a for a in ALGORITHMS.values() if a.kind is Kind.DH}

# PRF implied by an integrity algorithm when an IKE proposal names none (strongSwan rule).
PRF_FOR_INTEG = {"md5": "prfmd5", "sha1": "prfsha1", "sha256": "prfsha256",
                 "sha384": "prfsha384", "sha512": "prfsha512", "sm3": "prfsm3",
                 "sha256_96": "prfsha256"}


def lookup(token: str) -> Algorithm | None:
    """The algorithm for a proposal keyword (case-insensitive, aliases resolved)."""
    t = token.strip().lower()
    return ALGORITHMS.get(ALIASES.get(t, t))


def by_id(kind: Kind, ikev2_id: int, key_bytes: int = 0) -> Algorithm | None:
    """Reverse lookup from a wire transform (type, id, key length)."""
    for a in ALGORITHMS.values():
        if a.kind is kind and a.ikev2_id == ikev2_id and (not a.key_length_attr or a.key_bytes == key_bytes):
            return a
    return None


def keywords(kind: Kind) -> list[str]:
    return [a.name for a in ALGORITHMS.values() if a.kind is kind]
