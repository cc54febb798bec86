"""Tests for ipsecsim.proto.dh: every DH group in the registry.

Known answers: the MODP primes are recomputed from their defining formula with pi
(RFC 2409 6.1/6.2, RFC 3526) and Fermat-tested; the RFC 5114 groups are checked for
q | p-1 and g^q = 1; group 19 uses the RFC 5903 section 8.1 test vector; groups 31 and 32
use RFC 7748 sections 6.1 and 6.2.
"""

from __future__ import annotations

import random

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519

from ipsecsim.proto import dh
from ipsecsim.proto.algorithms import DH_BY_GROUP
from ipsecsim.proto.dh import DhError, DhKey, generate, public_length, shared_secret

ALL_GROUPS = sorted(DH_BY_GROUP)
SUPPORTED = [g for g in ALL_GROUPS if dh.is_supported(g)]
MODP_GROUPS = [g for g in SUPPORTED if g in dh._MODP]
EC_GROUPS = [g for g in SUPPORTED if g in dh._ECP]


def _h(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


def test_registry_groups_all_known() -> None:
    assert set(ALL_GROUPS) == set(dh._MODP) | set(dh._ECP) | {31, 32}
    for g in ALL_GROUPS:
        assert public_length(g) > 0
    with pytest.raises(DhError):
        public_length(99)
    with pytest.raises(DhError):
        generate(99, random.Random(1))


def test_unsupported_curve_raises_dherror() -> None:
    for g in ALL_GROUPS:
        if g not in SUPPORTED:
            with pytest.raises(DhError, match="not supported"):
                generate(g, random.Random(1))


@pytest.mark.parametrize("group", SUPPORTED)
def test_agreement_lengths_determinism(group: int) -> None:
    a = generate(group, random.Random(1))
    b = generate(group, random.Random(2))
    assert a.group == b.group == group
    assert len(a.public) == len(b.public) == public_length(group)
    assert a.public != b.public
    z = shared_secret(a, b.public)
    assert z == shared_secret(b, a.public)
    assert any(z)
    assert generate(group, random.Random(1)).public == a.public
    assert "private" not in repr(a)


@pytest.mark.parametrize("group", MODP_GROUPS)
def test_modp_invalid_peer_values(group: int) -> None:
    key = generate(group, random.Random(3))
    p = dh._MODP[group].p
    size = public_length(group)
    for y in (0, 1, p - 1, p, p + 1):
        with pytest.raises(DhError):
            shared_secret(key, y.to_bytes(size, "big"))
    for bad in (bytes(size - 2) + b"\x02", bytes(size) + b"\x02", b""):
        with pytest.raises(DhError):
            shared_secret(key, bad)


@pytest.mark.parametrize("group", [22, 23, 24])
def test_rfc5114_subgroup_check(group: int) -> None:
    """RFC 6989 2.2: a value outside the order-q subgroup (here p-2 = -2) is refused."""
    key = generate(group, random.Random(4))
    grp = dh._MODP[group]
    assert 1 <= key.private < grp.q  # type: ignore[operator]
    with pytest.raises(DhError, match="subgroup"):
        shared_secret(key, (grp.p - 2).to_bytes(grp.size, "big"))


@pytest.mark.parametrize("group", [1, 2, 5, 14, 15, 16, 17, 18])
def test_modp_exponent_is_256_bits(group: int) -> None:
    key = generate(group, random.Random(5))
    assert isinstance(key.private, int) and 2 <= key.private < 2**256


@pytest.mark.parametrize("group", EC_GROUPS)
def test_ecp_invalid_peer_values(group: int) -> None:
    key = generate(group, random.Random(6))
    other = generate(group, random.Random(7)).public
    size = public_length(group)
    off_curve = other[:-1] + bytes([other[-1] ^ 1])
    p_minus_1 = (dh._ECP[group].n - 1).to_bytes(size, "big")  # not a point encoding
    for bad in (bytes(size), (1).to_bytes(size, "big"), off_curve, p_minus_1,
                b"\x04" + other, other[:-1], b""):
        with pytest.raises(DhError):
            shared_secret(key, bad)


@pytest.mark.parametrize("group", [31, 32])
def test_montgomery_invalid_peer_values(group: int) -> None:
    """RFC 8031 2.3: low-order points give an all-zero secret, which must be rejected."""
    key = generate(group, random.Random(8))
    size = public_length(group)
    for u in (0, 1):
        with pytest.raises(DhError):
            shared_secret(key, u.to_bytes(size, "little"))
    for bad in (bytes(size - 1), bytes(size + 1)):
        with pytest.raises(DhError):
            shared_secret(key, bad)


# --- known answers --------------------------------------------------------------------------


def _pi_fixed(bits: int) -> int:
    """floor(pi * 2^bits), by Machin's formula in integer arithmetic (64 guard bits)."""

    def arctan_inv(x: int, one: int) -> int:
        total = term = one // x
        n, sign = 1, -1
        while term:
            term //= x * x
            n += 2
            total += sign * (term // n)
            sign = -sign
        return total

    one = 1 << (bits + 64)
    return (4 * (4 * arctan_inv(5, one) - arctan_inv(239, one))) >> 64


# RFC 2409 6.1 / 6.2, RFC 3526: p = 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) pi) + k)
MODP_FORMULA = {1: (768, 149686), 2: (1024, 129093), 5: (1536, 741804), 14: (2048, 124476),
                15: (3072, 1690314), 16: (4096, 240904), 17: (6144, 929484), 18: (8192, 4743158)}


@pytest.mark.parametrize("group", sorted(MODP_FORMULA))
def test_modp_primes(group: int) -> None:
    bits, k = MODP_FORMULA[group]
    p = dh._MODP[group].p
    assert p.bit_length() == bits
    assert p == 2**bits - 2**(bits - 64) - 1 + 2**64 * (_pi_fixed(bits - 130) + k)
    assert pow(2, p - 1, p) == 1
    assert dh._MODP[group].g == 2
    assert public_length(group) == bits // 8


def test_modp2048_prime_text() -> None:
    p = dh._MODP[14].p.to_bytes(256, "big")
    assert p[:16] == _h("FFFFFFFF FFFFFFFF C90FDAA2 2168C234")
    assert p[-16:] == _h("15728E5A 8AACAA68 FFFFFFFF FFFFFFFF")


@pytest.mark.parametrize("group,pbits,qbits", [(22, 1024, 160), (23, 2048, 224), (24, 2048, 256)])
def test_rfc5114_parameters(group: int, pbits: int, qbits: int) -> None:
    grp = dh._MODP[group]
    assert grp.q is not None
    assert (grp.p.bit_length(), grp.q.bit_length()) == (pbits, qbits)
    assert pow(2, grp.p - 1, grp.p) == 1 and pow(2, grp.q - 1, grp.q) == 1
    assert (grp.p - 1) % grp.q == 0
    assert grp.g != 1 and pow(grp.g, grp.q, grp.p) == 1


@pytest.mark.parametrize("group", EC_GROUPS)
def test_curve_orders(group: int) -> None:
    """(n-1)G = -G: same x as the generator; n itself is not a valid private key."""
    spec = dh._ECP[group]
    curve = spec.curve()
    assert curve is not None and curve.key_size == spec.n.bit_length()
    g = ec.derive_private_key(1, curve).public_key().public_numbers()
    m = ec.derive_private_key(spec.n - 1, curve).public_key().public_numbers()
    assert m.x == g.x and m.y != g.y
    with pytest.raises(ValueError):
        ec.derive_private_key(spec.n, curve)
    assert public_length(group) == 2 * ((curve.key_size + 7) // 8)


def test_brainpool224_order_is_prime() -> None:
    n = dh._ECP[27].n
    assert n.bit_length() == 224 and pow(2, n - 1, n) == 1
    assert public_length(27) == 56


def test_rfc5903_group19_vector() -> None:
    """RFC 5903 section 8.1: 256-bit random ECP group."""
    i = int("C88F01F5 10D9AC3F 70A292DA A2316DE5 44E9AAB8 AFE84049 C62A9C57 862D1433".replace(" ", ""), 16)
    r = int("C6EF9C5D 78AE012A 011164AC B397CE20 88685D8F 06BF9BE0 B283AB46 476BEE53".replace(" ", ""), 16)
    gi = _h("""DAD0B653 94221CF9 B051E1FE CA5787D0 98DFE637 FC90B9EF 945D0C37 72581180
               5271A046 1CDB8252 D61F1C45 6FA3E59A B1F45B33 ACCF5F58 389E0577 B8990BB3""")
    gr = _h("""D12DFB52 89C8D4F8 1208B702 70398C34 2296970A 0BCCB74C 736FC755 4494BF63
               56FBF3CA 366CC23E 8157854C 13C58D6A AC23F046 ADA30F83 53E74F33 039872AB""")
    gir = _h("D6840F6B 42F6EDAF D13116E0 E1256520 2FEF8E9E CE7DCE03 812464D0 4B9442DE")
    ki = DhKey(19, ec.derive_private_key(i, ec.SECP256R1()), gi)
    kr = DhKey(19, ec.derive_private_key(r, ec.SECP256R1()), gr)
    nums = ki.private.public_key().public_numbers()  # type: ignore[attr-defined]
    assert nums.x.to_bytes(32, "big") + nums.y.to_bytes(32, "big") == gi
    assert shared_secret(ki, gr) == gir
    assert shared_secret(kr, gi) == gir


def test_rfc7748_x25519_vector() -> None:
    """RFC 7748 section 6.1."""
    a = x25519.X25519PrivateKey.from_private_bytes(
        _h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
    b = x25519.X25519PrivateKey.from_private_bytes(
        _h("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
    a_pub = _h("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    b_pub = _h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    k = _h("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
    assert a.public_key().public_bytes_raw() == a_pub
    assert shared_secret(DhKey(31, a, a_pub), b_pub) == k
    assert shared_secret(DhKey(31, b, b_pub), a_pub) == k


def test_rfc7748_x448_vector() -> None:
    """RFC 7748 section 6.2."""
    a = x448.X448PrivateKey.from_private_bytes(_h(
        "9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28dd9c9baf5"
        "74a9419744897391006382a6f127ab1d9ac2d8c0a598726b"))
    b_pub = _h("3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b430"
               "27d8b972fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609")
    k = _h("07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282b"
           "b60c0b56fd2464c335543936521c24403085d59a449a5037514a879d")
    assert shared_secret(DhKey(32, a, a.public_key().public_bytes_raw()), b_pub) == k
