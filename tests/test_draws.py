"""Counter-based per-packet draws (ipsecsim/sim/draws.py).

The mixing function is splitmix64's output function; its expected values are the reference
outputs of Vigna's splitmix64.c: seeded with 0 the first output is 0xE220A8397B1DCDAF, seeded
with 1234567 the first two outputs are 6457827717110365317 and 3203168211198807973 (the same
numbers as java.util.SplittableRandom's test vectors)."""

from __future__ import annotations

import numpy as np

from ipsecsim.sim import draws


def test_mix_is_splitmix64() -> None:
    assert draws.mix(0) == 0xE220A8397B1DCDAF
    assert draws.mix(1234567) == 6457827717110365317
    assert draws.mix((1234567 + 0x9E3779B97F4A7C15) % 2**64) == 3203168211198807973


def test_array_and_scalar_draws_are_the_same_bits() -> None:
    k = draws.key(7, "esp", "A", "ping-1")
    n = np.arange(0, 5000, dtype=np.uint64)
    for j in (0, 1, 3):
        vec = draws.uniforms(k, n, j)
        assert [float(x) for x in vec] == [draws.uniform(k, int(i), j) for i in n]
    assert np.all((vec >= 0.0) & (vec < 1.0))


def test_a_packets_draws_do_not_depend_on_others() -> None:
    k = draws.key(3, "esp", "B", "ping-2")
    late = draws.Draws(k, 1000)
    first = [late.random(), late.uniform(0.0, 0.01)]
    for i in range(1000):  # drawing for earlier packets changes nothing
        draws.Draws(k, i).random()
    again = draws.Draws(k, 1000)
    assert [again.random(), again.uniform(0.0, 0.01)] == first
    assert draws.key(3, "esp", "B", "ping-2") != draws.key(4, "esp", "B", "ping-2")


def test_draws_are_uniform_enough() -> None:
    u = draws.uniforms(draws.key(1, "esp", "A", "f"), np.arange(200_000, dtype=np.uint64), 0)
    hist, _ = np.histogram(u, bins=10, range=(0.0, 1.0))
    assert hist.min() > 19_000 and hist.max() < 21_000  # 20,000 expected per bin, sd ~134


def test_a_series_of_packets_draws_are_the_scalar_draws() -> None:
    """``series`` (the array path's draws for consecutive packets) against ``uniform``, near
    the ends of the 64-bit range too."""
    for seed, first in ((7, 0), (8, 123_456), (9, 2**64 - 3000)):
        k = draws.key(seed, "esp", "A", "ping-1")
        for j in (0, 1, 3):
            got = draws.series(k, first, 2500, j)
            assert got.tolist() == [draws.uniform(k, first + i, j) for i in range(2500)]
    assert draws.series(1, 5, 0, 0).tolist() == []


def test_a_series_below_a_probability_is_the_comparison_of_the_draws() -> None:
    k = draws.key(5, "esp", "A", "ping-1")
    u = draws.series(k, 77, 20_000, 0)
    for p in (0.0, 1e-9, 0.003, 0.25, 0.5, 1 - 2.0 ** -53, 1.0, 1.5, *u[:50].tolist()):
        assert draws.series_below(k, 77, 20_000, 0, p).tolist() == (u < p).tolist()
