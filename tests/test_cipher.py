"""Tests for ipsecsim.proto.cipher: primitives, IKEv2 SK padding and whole ESP packets.

Known answers: AES-CBC RFC 3602 section 4 case 1, AES-CTR RFC 3686 section 6 vector 1,
AES-GCM test case 4 of the GCM specification (McGrew & Viega, also used by RFC 4106
implementations) cross-checked against cryptography's AESGCM, DES (FIPS 46 worked example),
SM4 (GB/T 32907 appendix A.1) and HMAC-SHA-256-128 (RFC 4868 2.7.2.1, AUTH256-1).
"""

from __future__ import annotations

import random
import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from ipsecsim.proto.algorithms import ALGORITHMS, Algorithm, Kind
from ipsecsim.proto.cipher import (
    CryptoError,
    aead_open,
    aead_seal,
    decrypt_block,
    encrypt_block,
    esp_decrypt,
    esp_encrypt,
    esp_overhead,
    ikev2_pad,
    ikev2_unpad,
    integ_icv,
)

A = ALGORITHMS
ENCRS = [a for a in A.values() if a.kind is Kind.ENCR]  # all usable for ESP (ChaCha20: IKEv2 only)
INTEGS = [a for a in A.values() if a.kind is Kind.INTEG]


def _suites() -> list[tuple[Algorithm, Algorithm | None]]:
    out: list[tuple[Algorithm, Algorithm | None]] = []
    for e in ENCRS:
        if e.aead:
            out.append((e, None))
            continue
        out.extend((e, i) for i in INTEGS)
        if e.cipher != "null":  # RFC 4303 3.2: NULL/NULL is not allowed
            out.append((e, None))
    return out


SUITES = _suites()
AUTHENTICATED = [(e, i) for e, i in SUITES if e.aead or i is not None]


def _ids(suite: tuple[Algorithm, Algorithm | None]) -> str:
    return f"{suite[0].name}-{suite[1].name if suite[1] else 'none'}"


def _keys(encr: Algorithm, integ: Algorithm | None, seed: int) -> tuple[bytes, bytes]:
    rng = random.Random(seed)
    return rng.randbytes(encr.key_bytes + encr.salt_bytes), rng.randbytes(integ.key_bytes if integ else 0)


def _h(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


# --- ESP round trips and tampering ------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES, ids=_ids)
def test_esp_round_trip(suite: tuple[Algorithm, Algorithm | None]) -> None:
    encr, integ = suite
    ek, ak = _keys(encr, integ, 1)
    iv = random.Random(2).randbytes(encr.iv_bytes)
    for payload in (b"", b"x", bytes(range(200)), b"\xff" * 1400):
        pkt = esp_encrypt(encr, integ, ek, ak, 0x1234ABCD, 77, iv, payload, 4)
        assert pkt[:8] == struct.pack("!II", 0x1234ABCD, 77)
        assert pkt[8:8 + encr.iv_bytes] == iv
        assert esp_decrypt(encr, integ, ek, ak, pkt) == (0x1234ABCD, 77, payload, 4)
        assert len(pkt) - len(payload) == esp_overhead(encr, integ, len(payload))


@pytest.mark.parametrize("suite", AUTHENTICATED, ids=_ids)
def test_esp_tampering_and_wrong_key(suite: tuple[Algorithm, Algorithm | None]) -> None:
    encr, integ = suite
    ek, ak = _keys(encr, integ, 3)
    iv = bytes(encr.iv_bytes)
    pkt = esp_encrypt(encr, integ, ek, ak, 1, 2, iv, b"secret payload", 17)
    for pos in {0, 5, 8, len(pkt) // 2, len(pkt) - 1}:  # SPI, seq, IV/ciphertext, middle, ICV
        bad = bytearray(pkt)
        bad[pos] ^= 0x01
        with pytest.raises(CryptoError):
            esp_decrypt(encr, integ, ek, ak, bytes(bad))
    wrong_ek, wrong_ak = _keys(encr, integ, 4)
    with pytest.raises(CryptoError):  # AEAD: wrong cipher key; otherwise wrong integrity key
        esp_decrypt(encr, integ, wrong_ek if encr.aead else ek, wrong_ak, pkt)
    with pytest.raises(CryptoError):
        esp_decrypt(encr, integ, ek, ak, pkt[:-1])
    with pytest.raises(CryptoError):
        esp_decrypt(encr, integ, ek, ak, pkt[:8])


@pytest.mark.parametrize("name", ["aes128gcm8", "aes192gcm12", "aes256gcm16"])
def test_gcm_truncated_tags(name: str) -> None:
    alg = A[name]
    key = bytes(range(alg.key_bytes + 4))
    iv = b"\x01" * 8
    sealed = aead_seal(alg, key, iv, b"hello world", b"aad")
    assert len(sealed) == len(b"hello world") + alg.icv_bytes
    full = AESGCM(key[:-4]).encrypt(key[-4:] + iv, b"hello world", b"aad")
    assert sealed == full[: len(sealed)]  # RFC 4106 3: the leftmost ICV octets
    assert aead_open(alg, key, iv, sealed, b"aad") == b"hello world"
    for bad_sealed, bad_aad in ((sealed[:-1] + bytes([sealed[-1] ^ 1]), b"aad"), (sealed, b"aaD")):
        with pytest.raises(CryptoError):
            aead_open(alg, key, iv, bad_sealed, bad_aad)
    with pytest.raises(CryptoError):
        aead_open(alg, bytes(len(key)), iv, sealed, b"aad")


def test_invalid_suites_rejected() -> None:
    with pytest.raises(ValueError):
        esp_encrypt(A["null"], None, b"", b"", 1, 1, b"", b"x", 4)
    with pytest.raises(ValueError):
        esp_encrypt(A["aes128gcm16"], A["sha1"], bytes(20), bytes(20), 1, 1, bytes(8), b"x", 4)
    with pytest.raises(ValueError):
        esp_encrypt(A["aes128"], A["sha1"], bytes(16), bytes(20), 1, 1, bytes(8), b"x", 4)  # short IV
    with pytest.raises(CryptoError):
        encrypt_block(A["aes128"], bytes(15), bytes(16), bytes(16))


# --- ESP padding and overhead ------------------------------------------------------------------


@pytest.mark.parametrize("encr_name", ["null", "aes128", "3des", "aes128ctr", "aes128gcm16",
                                       "chacha20poly1305"])
def test_esp_padding_rules(encr_name: str) -> None:
    """RFC 4303 2.4: payload | 1, 2, 3, ... | pad length | next header fills whole blocks,
    4-octet aligned; the smallest such padding is used."""
    encr = A[encr_name]
    integ = None if encr.aead else A["sha256"]
    ek, ak = _keys(encr, integ, 5)
    iv = bytes(encr.iv_bytes)
    align = max(encr.block_bytes, 4)
    icv = encr.icv_bytes if encr.aead else integ.icv_bytes  # type: ignore[union-attr]
    for n in range(40):
        payload = bytes([0xAA]) * n
        pkt = esp_encrypt(encr, integ, ek, ak, 9, 9, iv, payload, 41)
        ct = pkt[8 + len(iv): len(pkt) - icv]
        if encr.aead:
            plain = aead_open(encr, ek, iv, pkt[8 + len(iv):], pkt[:8])
        else:
            plain = decrypt_block(encr, ek, iv, ct)
        pad = plain[n:-2]
        assert plain[:n] == payload
        assert len(plain) % align == 0 and len(plain) == len(ct)
        assert len(pad) < align and pad == bytes(range(1, len(pad) + 1))
        assert plain[-2:] == bytes([len(pad), 41])


def test_esp_bad_padding_detected() -> None:
    encr, integ = A["null"], A["sha1"]
    ak = bytes(20)
    pkt = esp_encrypt(encr, integ, b"", ak, 1, 1, b"", b"ab", 4)  # 2 payload + 0 pad + 2
    body = pkt[:8] + b"a\x07\x01\x04"  # pad length 1 but pad byte 7
    with pytest.raises(CryptoError, match="padding"):
        esp_decrypt(encr, integ, b"", ak, body + integ_icv(integ, ak, body))
    body = pkt[:8] + b"a\x00\x09\x04"  # pad length larger than the plaintext
    with pytest.raises(CryptoError):
        esp_decrypt(encr, integ, b"", ak, body + integ_icv(integ, ak, body))


@pytest.mark.parametrize("suite", [(A["aes128"], A["sha1"]), (A["aes256"], A["sha256"]),
                                   (A["3des"], A["md5"]), (A["aes128gcm16"], None),
                                   (A["aes256ctr"], A["sha512"]), (A["chacha20poly1305"], None)], ids=_ids)
def test_esp_overhead_matches_packets(suite: tuple[Algorithm, Algorithm | None]) -> None:
    encr, integ = suite
    ek, ak = _keys(encr, integ, 6)
    for n in (0, 1, 20, 40, 63, 64, 1300, 1359, 1360, 1400):
        pkt = esp_encrypt(encr, integ, ek, ak, 1, 1, bytes(encr.iv_bytes), bytes(n), 4)
        assert esp_overhead(encr, integ, n) == len(pkt) - n


def test_esp_overhead_examples() -> None:
    # AES-CBC-128 + HMAC-SHA1-96 on a 1360-octet inner packet: 8 + 16 + 14 + 2 + 12 = 52
    assert esp_overhead(A["aes128"], A["sha1"], 1360) == 52
    # AES-GCM-16: 8 + 8 IV + (1360 + 2) padded to 4 -> 2 + 16 ICV
    assert esp_overhead(A["aes128gcm16"], None, 1360) == 8 + 8 + 2 + 2 + 16


@settings(max_examples=60, deadline=None)
@given(payload=st.binary(max_size=300), suite_index=st.integers(0, len(SUITES) - 1),
       seq=st.integers(0, 0xFFFFFFFF), next_header=st.integers(0, 255))
def test_esp_property_round_trip(payload: bytes, suite_index: int, seq: int, next_header: int) -> None:
    encr, integ = SUITES[suite_index]
    ek, ak = _keys(encr, integ, suite_index)
    iv = random.Random(seq).randbytes(encr.iv_bytes)
    pkt = esp_encrypt(encr, integ, ek, ak, 0xDEADBEEF, seq, iv, payload, next_header)
    assert esp_decrypt(encr, integ, ek, ak, pkt) == (0xDEADBEEF, seq, payload, next_header)


# --- IKEv2 SK padding -----------------------------------------------------------------------------


@pytest.mark.parametrize("block", [0, 1, 4, 8, 16])
def test_ikev2_pad_unpad(block: int) -> None:
    for n in range(40):
        plain = bytes([0x55]) * n
        padded = ikev2_pad(plain, block)
        assert len(padded) % max(block, 1) == 0
        assert padded[-1] == len(padded) - n - 1 < max(block, 1)
        assert padded[n:-1] == bytes(padded[-1])
        assert ikev2_unpad(padded) == plain
        rnd = ikev2_pad(plain, block, random.Random(n))
        assert len(rnd) == len(padded) and ikev2_unpad(rnd) == plain
    with pytest.raises(CryptoError):
        ikev2_unpad(b"\x05\x05")
    with pytest.raises(CryptoError):
        ikev2_unpad(b"")


# --- known answers ----------------------------------------------------------------------------------


def test_aes_cbc_rfc3602_case1() -> None:
    ct = encrypt_block(A["aes128"], _h("06a9214036b8a15b512e03d534120006"),
                       _h("3dafba429d9eb430b422da802c9fac41"), b"Single block msg")
    assert ct == _h("e353779c1079aeb82708942dbe77181a")
    assert decrypt_block(A["aes128"], _h("06a9214036b8a15b512e03d534120006"),
                         _h("3dafba429d9eb430b422da802c9fac41"), ct) == b"Single block msg"


def test_aes_ctr_rfc3686_vector1() -> None:
    key_with_nonce = _h("AE6852F8121067CC4BF7A5765577F39E") + _h("00000030")
    ct = encrypt_block(A["aes128ctr"], key_with_nonce, bytes(8), b"Single block msg")
    assert ct == _h("E4095D4FB7A7B3792D6175A3261311B8")
    assert decrypt_block(A["aes128ctr"], key_with_nonce, bytes(8), ct) == b"Single block msg"


def test_aes_gcm_spec_test_case_4() -> None:
    """GCM spec test case 4 as RFC 4106 inputs: salt = cafebabe, IV = facedbaddecaf888."""
    key = _h("feffe9928665731c6d6a8f9467308308") + _h("cafebabe")
    iv = _h("facedbaddecaf888")
    aad = _h("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    pt = _h("""d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
               1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39""")
    ct = _h("""42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e
               21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091""")
    tag = _h("5bc94fbc3221a5db94fae95ae7121a47")
    assert AESGCM(key[:16]).encrypt(key[16:] + iv, pt, aad) == ct + tag
    assert aead_seal(A["aes128gcm16"], key, iv, pt, aad) == ct + tag
    assert aead_seal(A["aes128gcm12"], key, iv, pt, aad) == ct + tag[:12]
    assert aead_seal(A["aes128gcm8"], key, iv, pt, aad) == ct + tag[:8]
    assert aead_open(A["aes128gcm8"], key, iv, ct + tag[:8], aad) == pt


def test_chacha20poly1305_round_trip() -> None:
    alg = A["chacha20poly1305"]
    key = bytes(range(36))
    sealed = aead_seal(alg, key, b"\x07" * 8, b"payload", b"hdr")
    assert aead_open(alg, key, b"\x07" * 8, sealed, b"hdr") == b"payload"
    with pytest.raises(CryptoError):
        aead_open(alg, key, b"\x07" * 8, sealed, b"hdX")


def test_des_and_sm4_known_answers() -> None:
    # DES: the classic FIPS 46 walk-through (one block, zero IV => ECB).
    assert encrypt_block(A["des"], _h("133457799BBCDFF1"), bytes(8), _h("0123456789ABCDEF")) == \
        _h("85E813540F0AB405")
    # SM4: GB/T 32907-2016 appendix A, example 1.
    k = _h("0123456789abcdeffedcba9876543210")
    assert encrypt_block(A["sm4"], k, bytes(16), k) == _h("681edf34d206965e86b3e94f536e4246")


def test_hmac_sha256_128_rfc4868() -> None:
    """RFC 4868 2.7.2.1, test case AUTH256-1: 32-octet key of 0x0b, data "Hi There"."""
    icv = integ_icv(A["sha256"], b"\x0b" * 32, b"Hi There")
    assert icv == _h("198a607eb44bfbc69903a0f1cf2bbdc5")
    assert len(integ_icv(A["sha256_96"], b"\x0b" * 32, b"Hi There")) == 12
    assert len(integ_icv(A["sm3"], bytes(32), b"x")) == 12
