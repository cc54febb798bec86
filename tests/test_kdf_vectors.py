"""Known-answer tests for ipsecsim.proto.kdf.

The vectors live in ``tests/data/ike-kdf-vectors.json`` (sources in tests/data/README.md): the
NIST ACVP / CAVP SP 800-135 KDF sample test cases for IKEv2 and IKEv1 with pre-shared keys
(HMAC-SHA-1). They exercise RFC 7296 2.13, 2.14, 2.17 and 2.18 and RFC 2409 section 5.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from ipsecsim.proto.algorithms import ALGORITHMS, Algorithm
from ipsecsim.proto.kdf import (
    child_keys,
    ike_sa_keys,
    prf,
    prf_plus,
    rekey_skeyseed,
    skeyseed,
    v1_enc_key,
    v1_hash,
    v1_keys,
    v1_phase1_iv,
    v1_phase2_iv,
    v1_quick_keymat,
    v1_skeyid_psk,
)

VECTORS_PATH = Path(__file__).resolve().parent / "data" / "ike-kdf-vectors.json"
PRF_BY_HASH = {"SHA-1": "prfsha1", "SHA-256": "prfsha256", "SHA-384": "prfsha384", "SHA-512": "prfsha512"}


def _load() -> dict[str, Any]:
    # No skip when the file is missing: test_vector_file_present must fail loudly in CI.
    data: dict[str, Any] = json.loads(VECTORS_PATH.read_text())
    return data


def _ikev2_cases() -> list[dict[str, Any]]:
    return _load()["ikev2"] if VECTORS_PATH.exists() else []


def _ikev1_cases() -> list[dict[str, Any]]:
    return _load()["ikev1_psk"] if VECTORS_PATH.exists() else []


def _h(case: dict[str, Any], key: str) -> bytes:
    return bytes.fromhex(case[key])


def _prf_alg(case: dict[str, Any]) -> Algorithm:
    return ALGORITHMS[PRF_BY_HASH[case["hash"]]]


def test_vector_file_present() -> None:
    data = _load()
    assert data["ikev2"] and data["ikev1_psk"]


@pytest.mark.parametrize("case", _ikev2_cases())
def test_ikev2_sp800_135(case: dict[str, Any]) -> None:
    """SP 800-135 IKEv2 KDF: SKEYSEED, DKM, DKM(Child SA), DKM(Child SA D-H), SKEYSEED(Rekey)."""
    alg = _prf_alg(case)
    ni, nr = _h(case, "Ni"), _h(case, "Nr")
    spi_i, spi_r = _h(case, "SPIi"), _h(case, "SPIr")
    dkm_len = case["dkm_length_bits"] // 8

    seed = skeyseed(alg, ni, nr, _h(case, "g_ir"))
    assert seed == _h(case, "SKEYSEED")

    dkm = prf_plus(alg, seed, ni + nr + spi_i + spi_r, dkm_len)
    assert dkm == _h(case, "DKM")

    sk_d = dkm[:20]  # the vectors define SK_d as the first 20 octets of DKM
    assert prf_plus(alg, sk_d, ni + nr, dkm_len) == _h(case, "DKM_child_sa")
    assert prf_plus(alg, sk_d, _h(case, "g_ir_new") + ni + nr, dkm_len) == _h(case, "DKM_child_sa_dh")
    assert rekey_skeyseed(alg, sk_d, _h(case, "g_ir_new"), ni, nr) == _h(case, "SKEYSEED_rekey")


@pytest.mark.parametrize("case", _ikev2_cases())
def test_ike_sa_keys_slice_the_dkm(case: dict[str, Any]) -> None:
    """ike_sa_keys / child_keys cut prf+ output in RFC 7296 2.14 / 2.17 order."""
    alg = _prf_alg(case)
    ni, nr = _h(case, "Ni"), _h(case, "Nr")
    encr, integ = ALGORITHMS["aes128"], ALGORITHMS["sha1"]
    keys = ike_sa_keys(alg, encr, integ, _h(case, "SKEYSEED"), ni, nr, _h(case, "SPIi"), _h(case, "SPIr"))
    dkm = _h(case, "DKM")
    # 20 + 20 + 20 + 16 + 16 + 20 + 20 = 132 octets = dkm_length_bits (1056) / 8
    assert keys.sk_d + keys.sk_ai + keys.sk_ar + keys.sk_ei + keys.sk_er + keys.sk_pi + keys.sk_pr == dkm
    assert [len(k) for k in (keys.sk_d, keys.sk_ai, keys.sk_ei, keys.sk_pr)] == [20, 20, 16, 20]

    ck = child_keys(alg, keys.sk_d, ni, nr, encr, integ)
    assert ck.encr_i + ck.integ_i + ck.encr_r + ck.integ_r == _h(case, "DKM_child_sa")[:72]
    ck_dh = child_keys(alg, keys.sk_d, ni, nr, encr, integ, g_ir_new=_h(case, "g_ir_new"))
    assert ck_dh.encr_i + ck_dh.integ_i + ck_dh.encr_r + ck_dh.integ_r == _h(case, "DKM_child_sa_dh")[:72]


def test_aead_keys_carry_salt_and_no_integrity_key() -> None:
    """RFC 5282 7.1: SK_e* = key | 4-octet salt, SK_a* empty with AEAD."""
    alg = ALGORITHMS["prfsha256"]
    gcm = ALGORITHMS["aes256gcm16"]
    keys = ike_sa_keys(alg, gcm, None, b"\x01" * 32, b"n" * 32, b"m" * 32, b"i" * 8, b"r" * 8)
    assert (len(keys.sk_d), len(keys.sk_ai), len(keys.sk_ei), len(keys.sk_pi)) == (32, 0, 36, 32)
    total = prf_plus(alg, b"\x01" * 32, b"n" * 32 + b"m" * 32 + b"i" * 8 + b"r" * 8, 32 + 36 + 36 + 64)
    assert keys.sk_ei == total[32:68] and keys.sk_er == total[68:104]
    ck = child_keys(alg, keys.sk_d, b"n" * 32, b"m" * 32, gcm, None)
    assert (len(ck.encr_i), len(ck.integ_i)) == (36, 0)


def test_prf_plus_definition_and_limit() -> None:
    """RFC 7296 2.13: T1 = prf(K, S|0x01), T2 = prf(K, T1|S|0x02); at most 255 blocks."""
    alg = ALGORITHMS["prfsha256"]
    t1 = prf(alg, b"K", b"S\x01")
    t2 = prf(alg, b"K", t1 + b"S\x02")
    assert prf_plus(alg, b"K", b"S", 40) == (t1 + t2)[:40]
    assert len(prf_plus(alg, b"K", b"S", 255 * 32)) == 255 * 32
    with pytest.raises(ValueError):
        prf_plus(alg, b"K", b"S", 255 * 32 + 1)


def test_prf_rfc4231_case2() -> None:
    """HMAC-SHA-256 test case 2 of RFC 4231 section 4.3."""
    out = prf(ALGORITHMS["prfsha256"], b"Jefe", b"what do ya want for nothing?")
    assert out.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_prf_rfc2202_case2() -> None:
    """HMAC-MD5 and HMAC-SHA-1 test case 2 of RFC 2202 sections 2 and 3 (prfmd5, prfsha1)."""
    data = b"what do ya want for nothing?"
    assert prf(ALGORITHMS["prfmd5"], b"Jefe", data).hex() == "750c783e6ab0b503eaa86e310a5db738"
    assert prf(ALGORITHMS["prfsha1"], b"Jefe", data).hex() == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"


def test_prf_sm3_available() -> None:
    assert len(prf(ALGORITHMS["prfsm3"], b"k", b"d")) == 32


@pytest.mark.parametrize("case", _ikev1_cases())
def test_ikev1_psk_sp800_135(case: dict[str, Any]) -> None:
    """SP 800-135 IKEv1 (pre-shared key) KDF: SKEYID and SKEYID_d / _a / _e (RFC 2409 5)."""
    alg = _prf_alg(case)
    skeyid = v1_skeyid_psk(alg, _h(case, "pre_shared_key"), _h(case, "Ni"), _h(case, "Nr"))
    assert skeyid == _h(case, "SKEYID")
    keys = v1_keys(alg, skeyid, _h(case, "g_xy"), _h(case, "CKY_I"), _h(case, "CKY_R"))
    assert keys.skeyid == _h(case, "SKEYID")
    assert keys.skeyid_d == _h(case, "SKEYID_d")
    assert keys.skeyid_a == _h(case, "SKEYID_a")
    assert keys.skeyid_e == _h(case, "SKEYID_e")


def test_v1_enc_key_expansion() -> None:
    """RFC 2409 Appendix B: truncate when long enough, else K1 = prf(SKEYID_e, 0), Kn = prf(SKEYID_e, K(n-1))."""
    alg = ALGORITHMS["prfsha1"]
    e = bytes(range(20))
    assert v1_enc_key(alg, e, 16) == e[:16]
    k1 = prf(alg, e, b"\x00")
    k2 = prf(alg, e, k1)
    assert v1_enc_key(alg, e, 24) == (k1 + k2)[:24]  # 3DES with SHA-1
    assert v1_enc_key(alg, e, 32) == (k1 + k2)[:32]  # AES-256 with SHA-1


def test_v1_ivs_hash_and_quick_mode_keymat() -> None:
    """RFC 2409 Appendix B IVs, 5.5 HASH(n) and KEYMAT expansion."""
    alg = ALGORITHMS["prfsha1"]
    assert v1_phase1_iv(alg, b"gxi", b"gxr", 16) == hashlib.sha1(b"gxigxr").digest()[:16]
    mid = b"\x00\x00\x00\x07"
    assert v1_phase2_iv(alg, b"L" * 16, mid, 8) == hashlib.sha1(b"L" * 16 + mid).digest()[:8]
    assert v1_hash(alg, b"a", b"m", b"sa", b"ni") == prf(alg, b"a", b"msani")

    d, spi, ni, nr = b"D" * 20, b"\x11\x22\x33\x44", b"n" * 16, b"r" * 16
    k1 = prf(alg, d, b"\x03" + spi + ni + nr)
    k2 = prf(alg, d, k1 + b"\x03" + spi + ni + nr)
    assert v1_quick_keymat(alg, d, 3, spi, ni, nr, 36) == (k1 + k2)[:36]
    g = b"G" * 128
    k1 = prf(alg, d, g + b"\x03" + spi + ni + nr)
    k2 = prf(alg, d, k1 + g + b"\x03" + spi + ni + nr)
    assert v1_quick_keymat(alg, d, 3, spi, ni, nr, 40, g_qm=g) == k1 + k2
