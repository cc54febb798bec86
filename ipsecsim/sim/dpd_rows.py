"""Dead peer detection on the array traffic path (sim/train.py): a window's echo events fed
as one row of inputs per peer (``rows``, ``engine.on_esp_rows``) instead of one hook call per
ESP packet, and the peers' timers that only re-arm DPD run ahead inside a window (``cross``),
so a window does not end at each of them. Both give the same inputs, in the same order, as
the packet path (tests/test_traffic_paths.py compares the DPD machines' inputs)."""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .node import PeerNode
    from .train import Trains

_S, _D1, _D2 = 0, 1, 2  # as in sim/train.py


def rows(plans: list[Any], t: np.ndarray, kind: np.ndarray, which: np.ndarray,
          stop_at: int) -> tuple[int, Callable[[int, int], None]] | None:
    """The window's echo events as one row of inputs per peer for dead peer detection
    (``engine.on_esp_rows``) instead of one hook call per ESP packet, where every peer's
    engine says the row is steady (``engine.dpd_steady``: no input of it can act or arm a
    timer) and nothing is pending that the event-by-event loop would stop at. Returns the
    events to apply (cut before the first outbound packet that, on-demand, comes ``gap``
    after the latest inbound one: it would send a probe) and the feeds to run with that
    count; None: feed event by event."""
    nodes: dict[PeerNode, tuple[list[Any], list[np.ndarray], list[np.ndarray]]] = {}
    kd, wd = kind[:stop_at], which[:stop_at]
    for w, (_tr, p, *_rest) in enumerate(plans):
        mine = wd == w
        s_m, d1_m, d2_m = mine & (kd == _S), mine & (kd == _D1), mine & (kd == _D2)
        for node, children, inm, outm in ((p.a, (p.out_a, p.in_a), d2_m, s_m),
                                          (p.b, (p.in_b, p.out_b), d1_m, d1_m)):
            cs, ins, outs = nodes.setdefault(node, ([], [], []))
            cs.extend(children)
            ins.append(inm)
            outs.append(outm)
    tt = t[:stop_at]
    plan: list[tuple[PeerNode, Any, list[Any], np.ndarray, np.ndarray]] = []
    for node, (cs, ins, outs) in nodes.items():
        ep, plane = node.ep, node.ep.traffic
        if ep._events or ep._out or plane._dirty or plane._out:
            return None
        due = ep.get_timer()
        if due is not None and (node._armed is None or due < node._armed):
            return None
        eng = ep.engine
        steady = getattr(eng, "dpd_steady", None)
        inm = np.logical_or.reduce(ins) if len(ins) > 1 else ins[0]
        outm = np.logical_or.reduce(outs) if len(outs) > 1 else outs[0]
        if steady is None:
            if getattr(eng, "on_esp_inbound", None) or getattr(eng, "on_esp_outbound", None):
                return None
            plan.append((node, None, cs, inm, outm))
            continue
        st = steady(cs)
        if st is None:
            return None
        last_in, gap, counts = st
        if gap < math.inf:
            heard = np.maximum.accumulate(np.where(inm, tt, last_in)) if counts else np.full(len(tt), last_in)
            heard = np.maximum(heard, last_in)
            late = np.nonzero(outm & (tt >= heard + gap))[0]
            if len(late):
                stop_at = min(stop_at, int(late[0]))
        plan.append((node, eng, cs, inm, outm))

    where = [(node, eng, cs, np.nonzero(inm)[0], np.nonzero(outm)[0]) for node, eng, cs, inm, outm in plan]

    def feed(lo: int, hi: int) -> None:
        """Feed every peer the events ``lo`` to ``hi`` (excluded) as one row."""
        bounds = [lo, hi]
        for node, eng, cs, pos_in, pos_out in where:
            i0, i1 = pos_in.searchsorted(bounds).tolist()
            o0, o1 = pos_out.searchsorted(bounds).tolist()
            if i0 == i1 and o0 == o1:
                continue
            i_last = int(pos_in[i1 - 1]) if i1 > i0 else -1
            o_last = int(pos_out[o1 - 1]) if o1 > o0 else -1
            node.ep.now = float(tt[max(i_last, o_last)])
            if eng is not None:
                eng.on_esp_rows(cs, i1 - i0, float(tt[i_last]), o1 - o0, float(tt[o_last]), o_last >= i_last)
    return stop_at, feed

def cross(trains: Trains, t: np.ndarray, parents: np.ndarray, stop_at: int, crossings: list[tuple[float, PeerNode]],
           feed: Callable[[int, int], None]) -> int:
    """Feed the window's rows up to ``stop_at``, running on the way the peers' timers that
    fall inside it and only re-arm dead peer detection (each when the events before it
    are fed, the scheduler's clock set to its instant, as the loop would run it); the
    window ends before a timer that would do more. Events at a timer's very instant come
    after it where the loop has them so: their callbacks (scheduled at ``parents``) were
    scheduled after the timer's (pending at the window's start, or re-armed at the
    previous crossing); else the window ends there too. Returns the events applied."""
    sched = trains.sched
    start = sched.now
    pending = [(at, i, start, node) for i, (at, node) in enumerate(crossings)]
    heapq.heapify(pending)
    pos, n = 0, len(crossings)
    while pending:
        at, _, armed_at, node = heapq.heappop(pending)
        k = int(np.searchsorted(t[:stop_at], at))
        if k >= stop_at:
            break  # after the window's last event: the loop runs it
        tie = bool(t[k] == at)
        if tie:
            tied = int(np.searchsorted(t[:stop_at], at, side="right"))
            if not bool(np.all(parents[k:tied] >= armed_at)):
                stop_at = k
                break
        feed(pos, k)
        pos = k
        if not node.timer_idle(at, now=True):
            stop_at = k
            break
        saved = sched.now
        sched.now = at  # type: ignore[misc]
        try:
            node.run_ahead(at)
        finally:
            sched.now = saved  # type: ignore[misc]
        trains.crossed += 1
        trains.tied += tie
        if node._armed is not None and node._armed < math.inf:
            n += 1
            heapq.heappush(pending, (node._armed, n, at, node))
    feed(pos, stop_at)
    return stop_at
