"""Counter-based random draws for per-packet decisions (loss, jitter of an ESP packet).

A packet's draws depend only on (scenario seed, stream, packet number, draw index): draw ``j``
of packet ``n`` of a stream is ``splitmix64(key ^ (n * C1 + j * C2))`` scaled to [0, 1), with
``key`` derived from the seed and the stream's names (proto/rng.py ``derive_seed``). So the
numbers a packet sees do not depend on how many other packets were drawn before it, or
whether packets were computed one at a time (``Draws``) or as an array (``uniforms``): both
give the same bits (tests/test_draws.py).

splitmix64 is the output function of Steele, Lea and Flood, "Fast splittable pseudorandom
number generators" (OOPSLA 2014), as in Vigna's reference C code (prng.di.unimi.it/splitmix64.c).
"""

from __future__ import annotations

import math

import numpy as np

from ..proto.rng import derive_seed

M64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
_M1, _M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_C1, _C2 = 0xD1B54A32D192ED03, 0x8CB92BA72F3D8DD7
_SCALE = 2.0 ** -53


def key(seed: int, *names: str) -> int:
    """The 64-bit key of one stream of counter-based draws."""
    return derive_seed(seed, "counter", *names)


def mix(x: int) -> int:
    """splitmix64's output function on a 64-bit integer."""
    z = (x + GAMMA) & M64
    z = ((z ^ (z >> 30)) * _M1) & M64
    z = ((z ^ (z >> 27)) * _M2) & M64
    return z ^ (z >> 31)


def uniform(k: int, n: int, j: int) -> float:
    """Draw ``j`` of packet ``n`` of the stream with key ``k``, in [0, 1)."""
    return (mix(k ^ ((n * _C1 + j * _C2) & M64)) >> 11) * _SCALE


def mix_array(z: np.ndarray) -> np.ndarray:
    """splitmix64's output function after its increment (``mix(x)`` is ``mix_array(x +
    GAMMA)``) on uint64 arrays, wrapping."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
        out: np.ndarray = z ^ (z >> np.uint64(31))
    return out


def uniforms(k: int, n: np.ndarray, j: int | np.ndarray) -> np.ndarray:
    """``uniform(k, n, j)`` for arrays of packet numbers (and draw indices), vectorised."""
    with np.errstate(over="ignore"):
        x = np.uint64(k) ^ (np.asarray(n, dtype=np.uint64) * np.uint64(_C1)
                            + np.asarray(j, dtype=np.uint64) * np.uint64(_C2))
        z = mix_array(x + np.uint64(GAMMA))
    return (z >> np.uint64(11)).astype(np.float64) * _SCALE


def series(k: int, first: int, count: int, j: int) -> np.ndarray:
    """``uniform(k, n, j)`` for the packets ``n`` = ``first`` ... ``first + count - 1``: the
    same bits as ``uniforms``, in place on one array (integer arrays wrap without a warning)."""
    out = _bits(k, first, count, j).astype(np.float64)
    out *= _SCALE
    return out


def series_below(k: int, first: int, count: int, j: int, p: float) -> np.ndarray:
    """``series(k, first, count, j) < p`` without the floats: a draw is its 53 bits times
    2**-53 (exact), so it is below ``p`` exactly when its bits are below ``ceil(p * 2**53)``."""
    bound = min(math.ceil(p * 2.0 ** 53), 2 ** 53) if p > 0 else 0
    return _bits(k, first, count, j) < np.uint64(bound)


def _bits(k: int, first: int, count: int, j: int) -> np.ndarray:
    """The 53 bits of ``series``' draws."""
    x = np.arange(first, first + count, dtype=np.uint64)
    x *= np.uint64(_C1)
    x += np.uint64((j * _C2) & M64)
    x ^= np.uint64(k)
    x += np.uint64(GAMMA)
    x ^= x >> np.uint64(30)
    x *= np.uint64(_M1)
    x ^= x >> np.uint64(27)
    x *= np.uint64(_M2)
    x ^= x >> np.uint64(31)
    x >>= np.uint64(11)
    return x


class Draws:
    """The draws of one packet, in order: quacks like the part of ``random.Random`` the loss
    models and the link use (``random``, ``uniform``, ``expovariate``)."""

    __slots__ = ("j", "k", "n")

    def __init__(self, k: int, n: int) -> None:
        self.k, self.n, self.j = k, n, 0

    def random(self) -> float:
        u = uniform(self.k, self.n, self.j)
        self.j += 1
        return u

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.random()  # as random.Random.uniform

    def expovariate(self, lambd: float) -> float:
        return -math.log(1.0 - self.random()) / lambd  # as random.Random.expovariate
