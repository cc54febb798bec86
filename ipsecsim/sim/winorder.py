"""The order of a window's echo events on the array traffic path (sim/train.py), and where
each flow's events of each kind are in it.

The scheduler runs callbacks by instant, then by the instants at which they, their parents,
... were scheduled, then by the flows' order and the event's kind (``Trains._move``): the
permutation ``np.lexsort((kind, rank, k4, k3, k2, k1, t))``. Almost no two events of a window
share an instant, so ``order`` sorts by the instant alone (a stable sort, as lexsort's) and
sorts only the groups of equal instants by the whole key, with the same lexsort: within such a
group the stable sort left the events in their original order, the tie-break lexsort uses
(tests/test_winorder.py compares both on inputs full of ties).

``Groups`` is the positions, in that order, of each flow's requests sent, requests arrived
and replies arrived: found once per window from the inverse permutation and shared by the
window's passes (meters, dead peer detection rows, counters, drops, hand-over) instead of a
mask over all events in each.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def order(t: np.ndarray, kind: np.ndarray, idx: np.ndarray, which: np.ndarray, k1: np.ndarray,
          twins: np.ndarray, ties: Callable[[np.ndarray], tuple[np.ndarray, ...]],
          *more: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The permutation ``np.lexsort((*ties(all), t))`` of the events with instants ``t``, and
    ``t``, ``kind``, ``idx``, ``which``, ``k1`` and ``more`` in it. ``ties(sub)`` gives the other
    keys (kind, rank, k4, k3, k2, k1: least significant first) of the events ``sub`` (original
    indices), asked for only where they can differ among events of equal instants: not where
    two such events are the same echo and kind of flows with the same request instants
    (``twins``: per flow, the first flow with the same; ``k1`` compared too), whose keys are
    all equal (lock-stepped flows on a symmetric link). The events are laid out flow by flow
    (in rank order), kind by kind, so that among equal keys the original order is the
    lexsort's too."""
    o = np.argsort(t, kind="stable")
    cols = [np.take(x, o) for x in (t, kind, idx, which, k1, *more)]
    ts = cols[0]
    tie = ts[1:] == ts[:-1]
    if not tie.any():
        return o, cols
    ko, xo, wo, k1o = cols[1:5]
    odd = tie & ((ko[1:] != ko[:-1]) | (xo[1:] != xo[:-1]) | (k1o[1:] != k1o[:-1]))
    if len(twins) > 1 and not bool((twins == twins[0]).all()):  # not all flows twins: whose are
        cl = wo if bool((twins == np.arange(len(twins))).all()) else twins[wo]
        odd |= tie & (cl[1:] != cl[:-1])
    if not odd.any():
        return o, cols
    group = np.cumsum(np.concatenate(([True], ~tie))) - 1  # each position's group of equal instants
    bad = np.zeros(int(group[-1]) + 1, dtype=bool)
    bad[group[1:][odd]] = True
    at = np.flatnonzero(bad[group])  # the positions of the groups to sort by the whole key
    sub = o[at]  # by instant, then by original index (the stable sort)
    perm = np.lexsort((*ties(sub), t[sub]))
    o[at] = sub[perm]
    for c in cols:
        c[at] = c[at][perm]
    return o, cols


class Groups:
    """The positions in the window's order of each flow's events of each kind (ascending)."""

    __slots__ = ("merged", "pos")

    def __init__(self, o: np.ndarray, counts: list[tuple[int, ...]]):
        """``o``: the order (``order``) of events laid out flow by flow, kind by kind, with
        ``counts[w][k]`` events of flow ``w`` and kind ``k``."""
        inv = np.empty(len(o), dtype=np.intp)
        inv[o] = np.arange(len(o))
        self.pos: list[list[np.ndarray]] = []
        self.merged: dict[tuple[tuple[tuple[int, int], ...], int], np.ndarray] = {}
        lo = 0
        for row in counts:
            got = []
            for c in row:
                p = inv[lo:lo + c]
                lo += c
                if c > 1 and not bool((p[1:] > p[:-1]).all()):
                    p = np.sort(p)
                got.append(p)
            self.pos.append(got)

    def at(self, w: int, k: int, hi: int) -> np.ndarray:
        """The positions below ``hi`` of flow ``w``'s events of kind ``k``."""
        p = self.pos[w][k]
        return p[:int(p.searchsorted(hi))]

    def union(self, which: list[tuple[int, int]], hi: int) -> np.ndarray:
        """The positions below ``hi`` of the events of the (flow, kind) pairs ``which``, in
        order (a peer's inbound or outbound events, an SA meter's: asked for by both)."""
        if len(which) < 2:
            return self.at(*which[0], hi) if which else np.zeros(0, dtype=np.intp)
        key = (tuple(sorted(which)), hi)
        got = self.merged.get(key)
        if got is None:
            got = self.merged[key] = np.sort(np.concatenate([self.at(w, k, hi) for w, k in key[0]]), kind="stable")
        return got
