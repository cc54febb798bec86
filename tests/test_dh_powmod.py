"""MODP arithmetic by GMP and the fixed-base tables gives exactly what Python's ``pow`` gives.

ipsecsim.proto.dh computes g^x with a per-group table (``_FixedBase``) and y^x and the
RFC 5114 subgroup check y^q with ``gmpy2.powmod``. Keys must stay byte-identical for a seed
(pcaps are decrypted with them), so every result is checked against plain ``pow`` over random
exponents, and ``generate`` / ``shared_secret`` against digests recorded with the earlier,
``pow``-only implementation (which also pins how many random bits a key consumes).
"""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipsecsim.proto import dh
from ipsecsim.proto.dh import DhError, DhKey, generate, shared_secret

MODP_GROUPS = sorted(dh._MODP)
RFC5114_GROUPS = [g for g in MODP_GROUPS if dh._MODP[g].q is not None]

groups = st.sampled_from(MODP_GROUPS)
exponents = st.integers(min_value=0, max_value=2**256 - 1)


@settings(max_examples=80, deadline=None)
@given(group=groups, x=exponents)
def test_fixed_base_equals_pow(group: int, x: int) -> None:
    grp = dh._MODP[group]
    assert dh._modp_public(group, x) == pow(grp.g, x, grp.p)


@pytest.mark.parametrize("group", MODP_GROUPS)
def test_fixed_base_edge_exponents(group: int) -> None:
    grp = dh._MODP[group]
    edges = [0, 1, 2, 3, 2**255, 2**256 - 1, int("10" * 128, 2)]
    for w in (dh._FixedBase.WINDOW, dh._FixedBase.NARROW):  # up to 4096 bits, above
        edges += [(1 << w) - 1, 1 << w, (1 << w) + 1, sum(1 << (w * i) for i in range(256 // w + 1))]
    if grp.q is not None:
        edges += [grp.q - 1, grp.q, grp.q + 1]
    for x in edges:
        assert dh._modp_public(group, x) == pow(grp.g, x, grp.p), x


def test_fixed_base_range_and_fallback() -> None:
    grp = dh._MODP[2]
    table = dh._FixedBase(grp.g, grp.p, 64)
    assert table.pow(2**64 - 1) == pow(grp.g, 2**64 - 1, grp.p)
    for x in (-1, 2**64):
        with pytest.raises(ValueError):
            table.pow(x)
    # exponents longer than the table (never made by generate()) take the general path
    for x in (2**256, grp.p - 2, 3 * grp.p + 12345):
        assert dh._modp_public(2, x) == pow(grp.g, x, grp.p)
    assert dh._FIXED_BASE[2] is dh._FIXED_BASE[2]  # one table per group and process


def test_a_table_grown_by_threads_at_once_stays_exact() -> None:
    # Runs of a sweep in threads share the tables: a row is added by one thread at a time,
    # so threads growing the same table at once leave each row once, g^(d * 2^(w*i)) (HAC 14.6.3).
    import threading
    grp = dh._MODP[14]
    table = dh._FixedBase(grp.g, grp.p, 8)
    go = threading.Barrier(6)

    def grow() -> None:
        go.wait()
        table.grow(512)

    threads = [threading.Thread(target=grow) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(table.rows) == 512 // table.window
    rng = random.Random(7)
    for x in [2**512 - 1, *(rng.getrandbits(512) for _ in range(5))]:
        assert table.pow(x) == pow(grp.g, x, grp.p)


@settings(max_examples=80, deadline=None)
@given(group=groups, data=st.data())
def test_powmod_equals_pow(group: int, data: st.DataObject) -> None:
    p = dh._MODP[group].p
    y = data.draw(st.integers(min_value=0, max_value=p - 1), label="y")
    x = data.draw(st.integers(min_value=1, max_value=2**300), label="x")
    assert dh._powmod(y, x, p) == pow(y, x, p)


@settings(max_examples=25, deadline=None)
@given(group=groups, seed_a=st.integers(0, 2**64), seed_b=st.integers(0, 2**64))
def test_generate_and_shared_secret_equal_pow(group: int, seed_a: int, seed_b: int) -> None:
    grp = dh._MODP[group]
    a, b = generate(group, random.Random(seed_a)), generate(group, random.Random(seed_b))
    assert isinstance(a.private, int) and isinstance(b.private, int)
    assert a.public == pow(grp.g, a.private, grp.p).to_bytes(grp.size, "big")
    z = pow(int.from_bytes(b.public, "big"), a.private, grp.p).to_bytes(grp.size, "big")
    assert shared_secret(a, b.public) == z
    if a.public != b.public:
        assert shared_secret(b, a.public) == z


@settings(max_examples=40, deadline=None)
@given(group=st.sampled_from(RFC5114_GROUPS), k=exponents, y=st.integers(min_value=2))
def test_subgroup_check_agrees_with_pow(group: int, k: int, y: int) -> None:
    """RFC 6989 2.2 for groups 22-24: accepted exactly when pow(y, q, p) == 1."""
    grp = dh._MODP[group]
    assert grp.q is not None
    key = generate(group, random.Random(k))
    assert isinstance(key.private, int)
    inside = pow(grp.g, k % grp.q or 1, grp.p)  # a member of the order-q subgroup
    outside = y % (grp.p - 3) + 2  # 1 < y < p-1, almost never in the subgroup
    for value in (inside, outside):
        in_subgroup = pow(value, grp.q, grp.p) == 1
        assert (dh._powmod(value, grp.q, grp.p) == 1) == in_subgroup
        data = value.to_bytes(grp.size, "big")
        if in_subgroup:
            assert shared_secret(key, data) == pow(value, key.private, grp.p).to_bytes(grp.size, "big")
        else:
            with pytest.raises(DhError, match="subgroup"):
                shared_secret(key, data)


# sha256(public_a | public_b | g^ab)[:16] and the next 32 bits of A's random stream, for keys
# drawn from random.Random(f"golden-{group}-a") and ...-b: recorded with the pow()-only code.
GOLDEN = {
    1: ("8627aa83ba55e0476495cf86911ad9ef", 3604845257),
    2: ("ec0de643a3e1b5614658d9ce601772c7", 3853355862),
    5: ("e0d5bd218baca349ceae61e66a7dae77", 1429774112),
    14: ("c573feb271b6397573da30e033318941", 1063364807),
    15: ("80349cac495b650f8cf7be1fbc87f00c", 1009922754),
    16: ("e9e12d4395417a93d9137050a7dc0591", 1831428880),
    17: ("4457448c5069e02641910ad8c31678da", 2286042205),
    18: ("88d02e202c9d6379b5dc8634b63f51de", 2427799823),
    22: ("da6ce81c200977116bb12b539a38eda7", 2578577511),
    23: ("20ae5628c8447d148d8daa118fbb8ec2", 706802192),
    24: ("d395fda6f8cd88fb7a72d9988bac4469", 3380617178),
}


def test_golden_covers_every_modp_group() -> None:
    assert sorted(GOLDEN) == MODP_GROUPS


@pytest.mark.parametrize("group", MODP_GROUPS)
def test_keys_unchanged_for_a_seed(group: int) -> None:
    ra, rb = random.Random(f"golden-{group}-a"), random.Random(f"golden-{group}-b")
    a, b = generate(group, ra), generate(group, rb)
    z = shared_secret(a, b.public)
    assert z == shared_secret(b, a.public)
    assert (hashlib.sha256(a.public + b.public + z).hexdigest()[:32], ra.getrandbits(32)) == GOLDEN[group]


def test_hand_made_key_uses_its_own_exponent() -> None:
    """shared_secret trusts only the private exponent, never a table or cache of publics."""
    grp = dh._MODP[14]
    peer = generate(14, random.Random(11))
    key = DhKey(14, 12345, b"\x00" * grp.size)  # public value deliberately wrong
    expected = pow(int.from_bytes(peer.public, "big"), 12345, grp.p).to_bytes(grp.size, "big")
    assert shared_secret(key, peer.public) == expected


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Exponents passed to ``dh.<name>`` from now on."""
    calls: list[int] = []
    real = getattr(dh, name)

    def counted(*args: int) -> int:
        calls.append(args[1])
        return real(*args)  # type: ignore[no-any-return]

    monkeypatch.setattr(dh, name, counted)
    return calls


@pytest.mark.parametrize("group", [14, 15, 24])
def test_second_side_takes_the_first_sides_secret(group: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both peers run in one process: the first computes y^x as g^(x * x_peer) (y = g^x_peer),
    the second finds that secret (RFC 7296 2.14: one shared secret); both are exactly what
    plain pow gives for their own exponent."""
    grp = dh._MODP[group]
    a = generate(group, random.Random(f"memo-{group}-a"))
    b = generate(group, random.Random(f"memo-{group}-b"))
    assert isinstance(a.private, int) and isinstance(b.private, int)
    general, table = _counting(monkeypatch, "_powmod"), _counting(monkeypatch, "_modp_public")
    z_a = shared_secret(a, b.public)
    z_b = shared_secret(b, a.public)
    expected = pow(int.from_bytes(a.public, "big"), b.private, grp.p).to_bytes(grp.size, "big")
    assert z_a == z_b == expected == pow(int.from_bytes(b.public, "big"), a.private, grp.p).to_bytes(grp.size, "big")
    assert table == [a.private * b.private]  # one product, for the first side only
    assert a.private not in general and b.private not in general  # (groups 22-24: y^q checks only)
    # the secret is handed over once: a second look computes it again
    assert shared_secret(b, a.public) == expected and table == [a.private * b.private] * 2


def test_memo_never_serves_a_hand_made_key() -> None:
    """A key whose public value is another key's gets y^x of its own exponent."""
    grp = dh._MODP[14]
    a = generate(14, random.Random("memo-hand-a"))
    b = generate(14, random.Random("memo-hand-b"))
    shared_secret(a, b.public)  # a's secret with b waits for b
    impostor = DhKey(14, 12345, b.public)  # b's public value, another exponent
    assert shared_secret(impostor, a.public) == pow(int.from_bytes(a.public, "big"), 12345, grp.p).to_bytes(
        grp.size, "big")
    # and a hand-made key's own computation is kept for nobody
    lone = DhKey(14, 54321, a.public)
    shared_secret(lone, b.public)
    assert shared_secret(b, a.public) == pow(int.from_bytes(a.public, "big"), b.private, grp.p).to_bytes(
        grp.size, "big")


def test_peer_value_not_made_here_is_raised_to_the_exponent(monkeypatch: pytest.MonkeyPatch) -> None:
    """A peer public value generate() did not make (a real peer's, a test's) takes y^x."""
    grp = dh._MODP[15]
    a = generate(15, random.Random("memo-foreign-a"))
    assert isinstance(a.private, int)
    y = pow(grp.g, 987654321, grp.p)  # a public value made by hand
    general = _counting(monkeypatch, "_powmod")
    assert shared_secret(a, y.to_bytes(grp.size, "big")) == pow(y, a.private, grp.p).to_bytes(grp.size, "big")
    assert general == [a.private]


def test_table_grows_for_longer_exponents() -> None:
    grp = dh._MODP[2]
    table = dh._FixedBase(grp.g, grp.p, 64)
    table.grow(130)
    assert table.window == 8 and table.bits == 130 and len(table.rows) == 17  # ceil(130 / 8)
    big = dh._MODP[18]  # 8192 bits: the narrower window (a smaller table)
    assert dh._FixedBase(big.g, big.p, 13).window == 6 and len(dh._FixedBase(big.g, big.p, 13).rows) == 3
    for x in (2**64, 2**130 - 1, 3**80):
        assert table.pow(x) == pow(grp.g, x, grp.p)
    with pytest.raises(ValueError):
        table.pow(2**130)
    x = (2**256 - 1) * (2**256 - 3)  # the largest product of two exponents generate() draws
    assert dh._modp_public(2, x, 512) == pow(grp.g, x, grp.p)


def test_memo_is_bounded() -> None:
    rng = random.Random("memo-bound")
    for _ in range(dh._MEMO_SIZE + 50):
        a, b = generate(1, rng), generate(1, rng)
        shared_secret(a, b.public)
    assert len(dh._MINTED) <= dh._MEMO_SIZE and len(dh._SECRETS) <= dh._MEMO_SIZE
