"""The order of a window's events (ipsecsim/sim/winorder.py) is the full-key lexsort the array
path used before: the same permutation on inputs full of equal instants (lock-stepped flows),
and in the shipped scenarios whose windows have ties. ``Groups`` gives the positions a mask
over all events gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ipsecsim import load_scenario, simulate
from ipsecsim.sim import winorder

ROOT = Path(__file__).resolve().parents[1]


def _window(rng: np.random.Generator, flows: int, lockstep: bool) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A window's events laid out as ``Trains._move`` lays them out (flow by flow, kind by kind)
    with the keys it sorted them by before (``np.lexsort((kind, rank, k4, k3, k2, k1, t))``):
    instants on a coarse grid, so that many tie; ``lockstep``: flows sharing their request
    instants (some of them) and delays drawn from two values."""
    cols: list[list[np.ndarray]] = [[] for _ in range(9)]
    shared = np.concatenate(([-1.5, -1.0, -0.5], np.cumsum(rng.integers(1, 3, 40)) * 0.5))
    n_shared = int(rng.integers(1, 40))
    for w in range(flows):
        if lockstep and rng.random() < 0.7:  # the same requests (mostly the same count) as others
            n = n_shared if rng.random() < 0.8 else int(rng.integers(1, 40))
            hist = shared[:n + 3]
            s = hist[3:]
        else:
            n = int(rng.integers(1, 40))
            s = np.cumsum(rng.integers(1, 4, n)) * 0.5
            hist = np.concatenate((np.sort(rng.integers(-6, 0, 3)) * 0.5, s))
        p1, p2, p3 = hist[2:2 + n], hist[1:1 + n], hist[:n]
        lost_q, lost_r = rng.random(n) < 0.2, rng.random(n) < 0.2
        if lockstep:  # a link delay of the flow, sometimes a jitter
            a = s + int(rng.integers(0, 2)) * 0.25 + (rng.integers(0, 2, n) * 0.5 if rng.random() < 0.3 else 0.0)
            r = a + int(rng.integers(0, 2)) * 0.25
        else:
            a = s + rng.integers(0, 3, n) * 0.5
            r = a + rng.integers(0, 3, n) * 0.5
        q, b = ~lost_q, ~lost_q & ~lost_r
        idx = np.arange(n)
        m1, m2 = int(q.sum()), int(b.sum())
        for c, v in zip(cols, (np.concatenate((s, a[q], r[b])), np.concatenate((s, s[q], a[b])),
                               np.concatenate((p1, s[q], s[b])), np.concatenate((p2, p1[q], s[b])),
                               np.concatenate((p3, p2[q], p1[b])), np.full(n + m1 + m2, float(w)),
                               np.repeat([0, 1, 2], (n, m1, m2)), np.concatenate((idx, idx[q], idx[b])),
                               hist), strict=True):
            c.append(v)
    return [np.concatenate(c) for c in cols[:8]], cols[8]


@pytest.mark.parametrize("seed", range(60))
def test_order_is_the_full_lexsort_on_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    (t, k1, k2, k3, k4, rk, kind, idx), hists = _window(rng, int(rng.integers(1, 6)), lockstep=seed % 2 == 0)
    which = rk.astype(np.int64)
    first: dict[bytes, int] = {}
    twins = np.asarray([first.setdefault(h.tobytes(), w) for w, h in enumerate(hists)])
    asked: list[int] = []

    def ties(sub: np.ndarray) -> tuple[np.ndarray, ...]:
        asked.append(len(sub))
        return kind[sub], rk[sub], k4[sub], k3[sub], k2[sub], k1[sub]

    lost = rng.random(len(t)) < 0.5
    want = np.lexsort((kind, rk, k4, k3, k2, k1, t))
    got, cols = winorder.order(t, kind, idx, which, k1, twins, ties, lost)
    assert got.tolist() == want.tolist()
    for c, x in zip(cols, (t, kind, idx, which, k1, lost), strict=True):
        assert c.tolist() == x[want].tolist()
    assert sum(asked) <= len(t)


def test_lock_stepped_twins_need_no_other_key() -> None:
    """Flows started together with the same interval on a symmetric link: every event ties
    with the other flows' same event (same instant, same parents' instants), the rank
    decides; the other keys are not asked for."""
    n, flows = 50, 4
    s = np.arange(n) * 1.0
    t = np.concatenate([np.concatenate((s, s + 0.25, s + 0.5)) for _ in range(flows)])
    kind = np.concatenate([np.repeat([0, 1, 2], n) for _ in range(flows)])
    which = np.repeat(np.arange(flows), 3 * n)
    idx = np.tile(np.arange(n), 3 * flows)
    k1 = np.concatenate([np.concatenate((s, s, s + 0.25)) for _ in range(flows)])
    k2 = np.concatenate([np.concatenate((s - 1, s, s)) for _ in range(flows)])
    others = [kind, which.astype(np.float64), k2 - 2, k2 - 1, k2, k1]

    def ties(sub: np.ndarray) -> tuple[np.ndarray, ...]:
        raise AssertionError("asked")

    got, _cols = winorder.order(t, kind, idx, which, k1, np.zeros(flows, dtype=np.int64), ties)
    assert got.tolist() == np.lexsort((*others, t)).tolist()


def test_no_ties_asks_no_keys() -> None:
    t = np.array([3.0, 1.0, 2.0, 0.5])
    z = np.zeros(4, dtype=np.int64)

    def ties(sub: np.ndarray) -> tuple[np.ndarray, ...]:
        raise AssertionError("asked")

    assert winorder.order(t, z, z, z, t, z[:1], ties)[0].tolist() == [3, 1, 2, 0]


@pytest.mark.parametrize("seed", range(10))
def test_groups_are_the_masked_positions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    counts = [tuple(int(c) for c in rng.integers(0, 30, 3)) for _ in range(int(rng.integers(1, 5)))]
    which = np.concatenate([np.full(sum(c), w) for w, c in enumerate(counts)])
    kind = np.concatenate([np.repeat([0, 1, 2], c) for c in counts])
    o = rng.permutation(len(which))
    g = winorder.Groups(o, counts)
    wo, ko = which[o], kind[o]
    for w in range(len(counts)):
        for k in range(3):
            for hi in (0, len(o) // 2, len(o)):
                want = np.nonzero((wo[:hi] == w) & (ko[:hi] == k))[0]
                assert g.at(w, k, hi).tolist() == want.tolist()
    pairs = [(w, k) for w in range(len(counts)) for k in range(3) if rng.random() < 0.5]
    for hi in (len(o) // 3, len(o)):
        mask = np.zeros(hi, dtype=bool)
        for w, k in pairs:
            mask |= (wo[:hi] == w) & (ko[:hi] == k)
        assert g.union(pairs, hi).tolist() == np.flatnonzero(mask).tolist()
        assert g.union(pairs[::-1], hi).tolist() == np.flatnonzero(mask).tolist()


def test_shipped_windows_with_ties_keep_the_lexsort_order(monkeypatch: Any) -> None:
    """A scenario whose windows hold events at equal instants: each window's order is the
    full-key lexsort's."""
    real = winorder.order
    tied = []

    def checked(t: np.ndarray, *args: Any) -> Any:
        o, cols = real(t, *args)
        assert o.tolist() == np.lexsort((*args[5](np.arange(len(t))), t)).tolist()
        ts = t[o]
        tied.append(bool((ts[1:] == ts[:-1]).any()))
        return o, cols

    monkeypatch.setattr(winorder, "order", checked)
    for name in ("recreate-connection-recovery", "unilateral-tunnel-no-dpd"):
        path = next((ROOT / "scenarios").rglob(f"{name}.yaml"))
        simulate(load_scenario(path), engine="fast", traffic="array")
    assert any(tied)


class _Child:
    counters: dict[str, int]

    def __init__(self) -> None:
        self.counters = {}


@pytest.mark.parametrize("seed", range(30))
def test_a_meters_running_values_are_the_packet_paths_additions(seed: int) -> None:
    """``meterrun.running`` against a meter fed one packet at a time as the packet path feeds
    it (``_meter`` settles, then ``+= size``, ``+= 1``): with and without a rate, whole and
    fractional counts, one size and several, counts near 2**53."""
    from ipsecsim.proto.traffic import _Meter
    from ipsecsim.sim.meterrun import running
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 200))
    t0 = float(rng.uniform(0, 100))
    tau = t0 + np.cumsum(rng.integers(0, 3, n) * 0.37)  # some packets at the same instant
    start = [0.0, 1234.0, 1234.5, 2.0 ** 53 - 3000.0, 0.1][seed % 5]
    rate = [0.0, 0.0, 125.7, 0.0, 3.3][(seed // 5) % 5]
    size = int(rng.integers(40, 1500))
    sizes = rng.integers(40, 1500, n).astype(np.float64) if seed % 3 == 0 else None
    m = _Meter(_Child(), "out", t0, bytes=start, packets=start, rate=rate, pps=rate / 100)  # type: ignore[arg-type]
    want_b, want_p = [m.bytes], [m.packets]
    for i, at in enumerate(tau.tolist()):
        m.settle(at)
        m.bytes += size if sizes is None else float(sizes[i])
        m.packets += 1
        want_b.append(m.bytes)
        want_p.append(m.packets)
    m0 = _Meter(_Child(), "out", t0, bytes=start, packets=start, rate=rate, pps=rate / 100)  # type: ignore[arg-type]
    got_b, got_p = running(m0, lambda: tau, n, size, sizes)
    assert got_b.tolist() == want_b
    assert got_p.tolist() == want_p


def _rearm_chain(m: Any, a0: float, heard: np.ndarray, last_in: float, t_end: float) -> tuple[list[float], bool]:
    """The reference: ``DpdMachine.rearm_step`` chained one timer at a time from ``a0`` (the
    next check), the idle clock at the last inbound before each timer."""
    at, next_check, out = a0, a0, []
    while at <= t_end:
        j = int(heard.searchsorted(at))
        last = max(last_in, float(heard[j - 1])) if j else last_in
        step = m.rearm_step(at, last, next_check)
        if step is None:
            return out, True
        out.append(at)
        at, next_check = step
    return out, False


@pytest.mark.parametrize("seed", range(40))
def test_a_check_job_chain_found_ahead_is_the_rule_step_by_step(seed: int) -> None:
    """``dpd_rows.check_run`` (strongSwan's check job chained on arrays) against the machine's
    own rule one timer at a time: pings with a phase against the timers' (the diffs stay or
    change), gaps that make a timer do more (the peer quiet for ``delay``), a wrong guess."""
    from ipsecsim.proto.dpd import DpdMachine, DpdSettings
    from ipsecsim.sim.dpd_rows import check_run
    rng = np.random.default_rng(seed)
    delay = [30.0, 10.0, 5.0][seed % 3]
    m = DpdMachine(DpdSettings(delay=delay, check="strongswan"), 0.0)
    start = float(rng.uniform(0, 50))
    interval = [1.0, 0.37, 2.5, 7.0][seed % 4]
    heard = start + np.cumsum(np.full(int(rng.integers(50, 3000)), interval))
    if seed % 5 == 0:  # a silence longer than the delay
        cut = int(rng.integers(0, len(heard)))
        heard = heard[(heard < heard[cut]) | (heard > heard[cut] + delay + 3)]
    heard = heard + rng.integers(0, 2, len(heard)) * 0.013 * (seed % 2)
    heard.sort()
    last_in = start - float(rng.uniform(0, 2))
    a0 = start + float(rng.uniform(0, delay))
    t_end = float(heard[-1]) + float(rng.uniform(-100, 100))
    want, more = _rearm_chain(m, a0, heard, last_in, t_end)
    got, ok, known_more = check_run(m, a0, heard, last_in, t_end, float(seed % 3))
    assert got[:ok] == want[:ok]
    if ok < len(want):  # not found ahead: the next step is left to the rule
        assert not known_more
    else:
        assert ok == len(want) and known_more == more
        if not more and ok:
            assert got[ok] > t_end
