"""Dead peer detection on the array traffic path (sim/train.py): a window's echo events fed
as one row of inputs per peer (``rows``, ``engine.on_esp_rows``) instead of one hook call per
ESP packet, and the peers' timers that only re-arm DPD run ahead inside a window (``cross``),
so a window does not end at each of them. Both give the same inputs, in the same order, as
the packet path (tests/test_traffic_paths.py compares the DPD machines' inputs).

A timer that only re-arms (the peer was heard from since the deadline was set: a stale hint,
``DpdMachine.stale_timer``) leaves the next deadline from the inbound instants alone: the idle
rule's t(k+1) = the last inbound before t(k) + ``delay``; strongSwan's check job's t(k+1) =
t(k) + ``delay`` - the whole seconds from the last inbound to t(k). ``cross`` chains them from
the row's inbound instants (``DpdMachine.rearm_step``, a bisection per timer; the check job
with no timeout pending on arrays, ``check_run``, and where every peer's next timers are found
so, the loop runs them without the checks the others need, ``_batch``) in the order the
loop would run the timers: by instant, then by the order they were armed (a timer re-armed at
a crossing after those pending then); an event at a timer's very instant comes after it only
where the loop has it so (its callback was scheduled no earlier than the timer's: pending at
the window's start, or re-armed at the peer's previous crossing), else the window ends before
that event, as it does before a timer that would do more than re-arm. Then each peer is fed,
in time order, its row up to its first crossing, its run of stale re-arms as one input
(``PeerNode.rearm_ahead``, ``DpdMachine.rearm_run``: one history entry, counting the rest of
the row too), the engine's job moved to the chain's next deadline and the peer's lazy timer
scheduled once, at the chain's end, with the loop's clock at the last re-arm, and the rest of
its row. The peers' timers are scheduled in the order of their last crossings, as the loop
would. Where a peer's DPD does not fit the rule (another of its live DPD jobs pending, several
machines, an exchange in flight, an inbound fluid flow that feeds the machine at each timer,
a fluid flow not on an SA, which the data plane's refresh after a timer could re-route:
``PeerNode.chain_jobs``), every timer of the window runs ahead through the peer, one by one
(``_cross_each``), instead.

A peer's timer jobs that the engine declares a no-op (``engine.timer_noop``: a deleted CHILD
SA's lifetime, an answered request's retransmission hint, a gone IKE SA's DPD job) are crossed
the same way: in a chain they are callbacks of the peer's timer at their instants (DPD's job
and the no-op jobs: the earliest is the next callback, as ``_arm`` would set it), subject to
the same tie rule; applying the chain removes them from the core's heap
(``PeerNode.rearm_ahead``). A peer with no DPD job pending chains its no-op jobs alone
(``PeerNode.chain_jobs``). A job that only removes a CHILD SA the window's flows do not use
(``PeerNode.quiet_job``: a rekeyed SA's inbound half) is a callback of the chain too, run at
its instant as the loop would run it, its event logged then (``_quiet``): the peer's chain so
far is applied first and goes on from the peer's jobs after it."""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..proto.dpd import DpdState

if TYPE_CHECKING:
    from ..proto.dpd import DpdMachine
    from .node import PeerNode
    from .train import Trains
    from .winorder import Groups

_S, _D1, _D2 = 0, 1, 2  # as in sim/train.py


def rows(plans: list[Any], t: np.ndarray, stop_at: int,
         groups: Groups) -> tuple[int, Callable[[int, int], None]] | None:
    """The window's echo events as one row of inputs per peer for dead peer detection
    (``engine.on_esp_rows``) instead of one hook call per ESP packet, where every peer's
    engine says the row is steady (``engine.dpd_steady``: no input of it can act or arm a
    timer) and nothing is pending that the event-by-event loop would stop at. Returns the
    events to apply (cut before the first outbound packet that, on-demand, comes ``gap``
    after the latest inbound one: it would send a probe) and the feeds to run with that
    count; None: feed event by event."""
    nodes: dict[PeerNode, tuple[list[Any], list[tuple[int, int]], list[tuple[int, int]]]] = {}
    for w, (_tr, p, *_rest) in enumerate(plans):
        for node, children, inp, outp in ((p.a, (p.out_a, p.in_a), (w, _D2), (w, _S)),
                                          (p.b, (p.in_b, p.out_b), (w, _D1), (w, _D1))):
            cs, ins, outs = nodes.setdefault(node, ([], [], []))
            cs.extend(children)
            ins.append(inp)
            outs.append(outp)
    tt = t[:stop_at]
    plan: list[tuple[PeerNode, Any, list[Any], np.ndarray, np.ndarray, bool]] = []
    for node, (cs, ins, outs) in nodes.items():
        ep, plane = node.ep, node.ep.traffic
        if ep._events or ep._out or plane._dirty or plane._out:
            return None
        due = ep.get_timer()
        if due is not None and (node._armed is None or due < node._armed):
            return None
        eng = ep.engine
        steady = getattr(eng, "dpd_steady", None)
        pos_in, pos_out = groups.union(ins, stop_at), groups.union(outs, stop_at)
        if steady is None:
            if getattr(eng, "on_esp_inbound", None) or getattr(eng, "on_esp_outbound", None):
                return None
            plan.append((node, None, cs, pos_in, pos_out, False))
            continue
        st = steady(cs)
        if st is None:
            return None
        last_in, gap, counts = st
        if gap < math.inf and len(pos_out):
            heard = np.full(len(pos_out), last_in)
            if counts and len(pos_in):  # the latest inbound at or before each outbound (t ascends)
                j = pos_in.searchsorted(pos_out, "right") - 1
                heard = np.maximum(np.where(j >= 0, tt[pos_in[np.maximum(j, 0)]], last_in), last_in)
            late = np.nonzero(tt[pos_out] >= heard + gap)[0]
            if len(late):
                stop_at = min(stop_at, int(pos_out[late[0]]))
        plan.append((node, eng, cs, pos_in, pos_out, bool(counts)))

    return stop_at, Feed(tt, {node: (eng, cs, pos_in, pos_out, counts)
                              for node, eng, cs, pos_in, pos_out, counts in plan})


class Feed:
    """The window's rows of inputs to dead peer detection, per peer (``rows``)."""

    def __init__(self, tt: np.ndarray, where: dict[PeerNode, tuple[Any, list[Any], np.ndarray, np.ndarray, bool]]):
        self.tt = tt
        self.where = where
        """Per peer: its engine, the CHILD SAs, the positions of its inbound and of its outbound
        events, whether inbound ESP moves its idle clock."""

    def __call__(self, lo: int, hi: int) -> None:
        """Feed every peer the events ``lo`` to ``hi`` (excluded) as one row."""
        for node in self.where:
            self.one(node, lo, hi)

    def one(self, node: PeerNode, lo: int, hi: int) -> None:
        """Feed ``node`` its events ``lo`` to ``hi`` (excluded) as one row."""
        got = self.where.get(node)
        if got is None or lo >= hi:
            return
        eng, cs, pos_in, pos_out, _counts = got
        tt = self.tt
        i0, i1 = pos_in.searchsorted([lo, hi]).tolist()
        o0, o1 = pos_out.searchsorted([lo, hi]).tolist()
        if i0 == i1 and o0 == o1:
            return
        i_last = int(pos_in[i1 - 1]) if i1 > i0 else -1
        o_last = int(pos_out[o1 - 1]) if o1 > o0 else -1
        node.ep.now = float(tt[max(i_last, o_last)])
        if eng is not None:
            eng.on_esp_rows(cs, i1 - i0, float(tt[i_last]), o1 - o0, float(tt[o_last]), o_last >= i_last,
                            float(tt[pos_in[i0]]) if i1 > i0 else None, float(tt[pos_out[o0]]) if o1 > o0 else None)

    def inbound(self, node: PeerNode) -> np.ndarray:
        """The instants of the events that move ``node``'s idle clock, in order."""
        got = self.where.get(node)
        return self.tt[got[2]] if got is not None and got[4] else self.tt[:0]

def check_run(m: DpdMachine, a0: float, heard: np.ndarray, last_in: float, t_end: float,
              guess: float) -> tuple[list[float], int, bool]:
    """strongSwan's check job chained from a stale re-arm that left its timer at ``a0``, as
    ``DpdMachine.rearm_step`` chains it where the machine has no timeout pending and each timer
    runs at its next check: a(i+1) = a(i) + ``delay`` - diff(i), diff(i) the whole seconds from
    the last inbound before a(i) (``heard``, ascending; ``last_in`` before them) to a(i), a
    re-arm while diff(i) < ``delay``. The same float operations as the scalar rule, on arrays:
    the instants for a guess of the diffs (a running sum adds sequentially), the diffs they
    give, and again from the first wrong guess (diffs rarely change: a steady flow keeps
    them). Returns the instants a(0), a(1), ... (past ``t_end`` or as far as found), how many
    steps from a(0) are known to re-arm, and whether the next is known to do more."""
    delay = float(m.cfg.delay)
    n = max(2, int((t_end - a0) / max(delay - guess, 1.0)) + 2)
    d = np.full(n, guess)
    a, ok, more = np.asarray([a0]), 0, False
    for _ in range(8):
        seq = np.empty(2 * n + 1)
        seq[0], seq[1::2], seq[2::2] = a0, delay, -d
        a = np.cumsum(seq)[0::2]  # a(0) ... a(n): (a + delay) - diff, one step after the other
        at = a[:n]
        j = heard.searchsorted(at)  # heard before the timer (an echo at its instant comes after)
        last = np.maximum(heard[np.maximum(j - 1, 0)], last_in) if len(heard) else np.full(n, last_in)
        last = np.where(j > 0, last, last_in)
        diff = np.floor(at + 0.0 + 1e-9) - np.floor(last + 0.0 + 1e-9)  # ``timers.whole_seconds``
        stop = np.flatnonzero((diff >= delay) | (diff != d))
        if not len(stop):
            ok = n
            if a[n] > t_end:
                break
            d = np.concatenate((d, np.full(n, d[-1])))  # all right: further
            n *= 2
            continue
        ok = int(stop[0])  # a(0) ... a(ok) are right
        more = bool(diff[ok] >= delay)
        if more or a[ok] > t_end:
            break
        d[ok:] = diff[ok]
    inside = int(a[:ok + 1].searchsorted(t_end, "right"))  # no timer after the window's last event runs
    if inside <= ok:
        ok, more = inside, False
    return a[:ok + 1].tolist(), ok, more


class _Chain:
    """One peer's stale re-arms inside a window (``cross``)."""

    __slots__ = (
        "armed",
        "chain",
        "dpd_at",
        "due",
        "fed",
        "heard",
        "k_first",
        "last",
        "last_in",
        "next_check",
        "noops",
        "pre",
        "pre_i",
        "pre_k",
        "pre_more",
        "pre_ok",
        "pre_tie",
        "quiets",
        "ran_noops",
        "t",
        "t_end",
        "times",
    )

    def __init__(self, chain: tuple[Any, Any, tuple[Any, ...]] | None, heard: np.ndarray,
                 noops: list[tuple[Any, ...]], quiets: list[tuple[Any, ...]], t: np.ndarray, stop_at: int):
        self.t = t
        self.t_end = float(t[stop_at - 1]) if stop_at else -math.inf
        """The instant of the window's last event: no timer after it runs here."""
        self.pre_k: list[int] = []
        """Where each of ``pre`` falls among the window's events (``t.searchsorted``)."""
        self.pre_tie: list[bool] = []
        """... whether at the instant of one of them."""
        self.pre: list[float] | None = None
        """DPD's next instants found ahead (``check_run``): ``pre_ok`` steps from ``pre_i`` re-arm,
        ``pre_more``: the one after does more."""
        self.pre_i = self.pre_ok = 0
        self.pre_more = False
        self.chain = chain
        """DPD's SA, machine and job (``PeerNode.chain_jobs``); None: no DPD job pending."""
        self.heard = heard
        m = None if chain is None else chain[1]
        self.last_in: float = -math.inf if m is None else m.last_inbound
        self.next_check: float | None = None if m is None else m.next_check
        self.times: list[float] = []
        self.k_first = 0
        self.due: float | None = None
        self.dpd_at: float | None = None if chain is None else chain[2][0]
        """When DPD's job is due (its chain's next timer)."""
        self.noops = noops
        """The peer's pending no-op jobs not yet run, by instant (``PeerNode.chain_jobs``)."""
        self.ran_noops: list[tuple[Any, ...]] = []
        self.quiets = quiets
        """The peer's pending jobs that only remove a CHILD SA, by instant (``PeerNode.chain_jobs``):
        each is run at its instant (``_quiet``)."""
        self.fed = 0
        """The peer's row is fed up to this event (``_quiet`` feeds it before a removal)."""
        self.last = -math.inf
        """The instant of the peer's last timer run in the window."""
        self.armed: float | None = self._next()

    def rearm(self, at: float, k: int) -> bool:
        """DPD's timer at ``at`` (before the window's event ``k``) as a stale re-arm: False if
        it would do more."""
        pre = self.pre
        if pre is not None:
            i = self.pre_i
            if pre[i] == at and i < self.pre_ok:
                self.pre_i = i + 1
                self._stepped(at, k, pre[i + 1], pre[i + 1])
                return True
            if pre[i] == at and self.pre_more:
                return False
            self.pre = None  # past what was found ahead: one by one from here
        heard = self.heard
        j = int(heard.searchsorted(at))  # heard before the timer (an echo at its instant comes after)
        last_in = self.last_in
        if j and heard[j - 1] > last_in:
            last_in = float(heard[j - 1])
        assert self.chain is not None
        m = self.chain[1]
        step = m.rearm_step(at, last_in, self.next_check)
        if step is None:
            return False
        self._stepped(at, k, *step)
        due = step[0]
        if (due is not None and due == step[1] and due <= self.t_end and m.cfg.check_job and not m.timeouts
                and m.state is DpdState.WATCHING and not m.inbound_flowing and math.isfinite(self.last_in)):
            self.pre, self.pre_ok, self.pre_more = check_run(m, due, heard, self.last_in, self.t_end,
                                                             float(round(at + m.cfg.delay - due)))
            self.pre_i = 0
            where = self.t.searchsorted(self.pre)
            self.pre_k = where.tolist()
            self.pre_tie = (self.t[np.minimum(where, len(self.t) - 1)] == self.pre).tolist()
        return True

    def _stepped(self, at: float, k: int, due: float | None, next_check: float | None) -> None:
        if not self.times:
            self.k_first = k
        self.times.append(at)
        self.due, self.next_check = due, next_check
        self.dpd_at = due

    def ran(self, at: float) -> float | None:
        """The peer's timer ran at ``at`` (its no-op jobs due then too): its next callback."""
        noops = self.noops
        while noops and noops[0][0] <= at:  # jobs that do nothing, run by this callback too
            self.ran_noops.append(noops.pop(0))
        self.armed = nxt = self._next()
        self.last = at
        return nxt

    def _next(self) -> float | None:
        """The instant of the peer's next timer callback: its earliest job's."""
        nxt = [x for x in (self.dpd_at, self.noops[0][0] if self.noops else None,
                           self.quiets[0][0] if self.quiets else None) if x is not None]
        return min(nxt) if nxt else None


def cross(trains: Trains, t: np.ndarray, parents: np.ndarray, stop_at: int, crossings: list[tuple[float, PeerNode]],
          feed: Callable[[int, int], None]) -> int:
    """Feed the window's rows up to ``stop_at``, running on the way the peers' timers that
    fall inside it and only re-arm dead peer detection, chained (module docstring); the
    window ends before a timer that would do more, and before an event at a timer's very
    instant that the loop would run first. Returns the events applied."""
    chains: dict[PeerNode, _Chain] = {}
    if isinstance(feed, Feed):
        until = float(t[stop_at - 1]) if stop_at else -math.inf
        for _at, node in crossings:
            if node not in chains:
                got = node.chain_jobs(until)
                if got is None:
                    break
                chains[node] = _Chain(got[0], feed.inbound(node), got[1], got[2], t, stop_at)
        else:
            return _cross_chained(trains, t, parents, stop_at, crossings, feed, chains)
    return _cross_each(trains, t, parents, stop_at, crossings, feed)


def _cross_chained(trains: Trains, t: np.ndarray, parents: np.ndarray, stop_at: int,
                   crossings: list[tuple[float, PeerNode]], feed: Feed, chains: dict[PeerNode, _Chain]) -> int:
    sched = trains.sched
    pending = [(at, i, sched.now, node) for i, (at, node) in enumerate(crossings)]
    heapq.heapify(pending)
    n = len(crossings)
    ran: dict[PeerNode, _Chain] = {}  # in the order of their last crossings
    ties = 0
    pop, push = heapq.heappop, heapq.heappush
    while pending:
        if len(pending) == len(chains) > 0 and all(ch.pre is not None for ch in chains.values()):
            n, tied = _batch(pending, chains, t, parents, stop_at, n, ran)
            ties += tied
        at, _, armed_at, node = pop(pending)
        ch = chains[node]
        pre = ch.pre
        if pre is not None and pre[ch.pre_i] == at:  # where it falls among the events: found ahead
            k = ch.pre_k[ch.pre_i]
        else:
            k = int(t.searchsorted(at))
        if k >= stop_at:
            break  # after the window's last event: the loop runs it
        tie = bool(t[k] == at)
        if tie and float(parents[k:min(stop_at, int(t.searchsorted(at, "right")))].min()) < armed_at:
            stop_at = k  # an event at this instant that the loop runs before the timer
            break
        if at != ch.armed:
            stop_at = k  # a callback the peer's timer has moved from (``PeerNode.timer_idle``)
            break
        if ch.quiets and ch.quiets[0][0] == at:  # a CHILD SA's removal: run at its instant
            if at == ch.dpd_at:
                stop_at = k  # DPD's job due then too: the loop runs them
                break
            ch, going = _quiet(trains, feed, node, ch, at, k)
            chains[node] = ch
            nxt = ch.armed
        else:
            going = not (at == ch.dpd_at and ch.chain is not None and not ch.rearm(at, k))
            if not going:
                stop_at = k  # it would do more than re-arm: the loop runs it
                break
            nxt = ch.ran(at)
        ties += tie
        ran.pop(node, None)
        ran[node] = ch
        if not going:
            stop_at = k  # what the peer has pending after the removal does more: the loop runs it
            break
        if nxt is not None:
            n += 1
            push(pending, (nxt, n, at, node))
    _apply(trains, feed, ran, stop_at)
    trains.tied += ties
    return stop_at


def _apply(trains: Trains, feed: Feed, ran: dict[PeerNode, _Chain], stop_at: int) -> None:
    """Apply the peers' chains (``_cross_chained``) and feed their rows up to ``stop_at``."""
    sched = trains.sched
    for node, ch in ran.items():  # each peer in time order: its row before its first timer, the
        times = ch.times  # run (one history entry), the rest of its row (counted in that entry)
        if not times:  # only jobs that do nothing ran: DPD's machine saw no timer
            feed.one(node, ch.fed, stop_at)
        else:
            feed.one(node, ch.fed, ch.k_first)
        saved = sched.now
        sched.now = ch.last  # type: ignore[misc]
        try:
            node.rearm_ahead(ch.chain, times, ch.next_check, ch.due, ch.ran_noops)
        finally:
            sched.now = saved  # type: ignore[misc]
        if times:
            feed.one(node, ch.k_first, stop_at)
        node.ep.now = max(node.ep.now, ch.last)
        trains.crossed += len(times) + len(ch.ran_noops)
    for node in feed.where:
        if node not in ran:
            feed.one(node, 0, stop_at)


def _batch(pending: list[tuple[float, int, float, PeerNode]], chains: dict[PeerNode, _Chain], t: np.ndarray,
           parents: np.ndarray, stop_at: int, n: int, ran: dict[PeerNode, _Chain]) -> tuple[int, int]:
    """Where every peer's next timer is DPD's re-arm found ahead (``check_run``; one callback
    each), run them as the loop of ``_cross_chained`` does, with what was found ahead: up to
    the first that falls after the window's last event, at an event's instant that the loop
    runs first, with a no-op job or a removal due, or that is the last found ahead, or the
    first no-op job's or removal's callback; that one the loop runs. Returns the loop's
    callback count and the timers run at an event's instant."""
    seen = set()
    for at, _n, _armed_at, node in pending:
        ch = chains[node]
        if node in seen or ch.pre is None or ch.pre[ch.pre_i] != at or at != ch.armed:
            return n, 0
        seen.add(node)
    ties = 0
    pop, push = heapq.heappop, heapq.heappush
    while pending:
        at, _n, armed_at, node = pending[0]
        ch = chains[node]
        i = ch.pre_i
        k = ch.pre_k[i]
        if i >= ch.pre_ok or k >= stop_at or (ch.noops and ch.noops[0][0] <= at) or (ch.quiets and
                                                                                    ch.quiets[0][0] <= at):
            break
        if ch.pre_tie[i]:
            if float(parents[k:min(stop_at, int(t.searchsorted(at, "right")))].min()) < armed_at:
                break
            ties += 1
        pop(pending)
        if not ch.times:
            ch.k_first = k
        ch.times.append(at)
        ch.pre_i = i + 1
        ch.due = ch.next_check = ch.dpd_at = ch.pre[i + 1]  # type: ignore[index]
        nxt = ch._next()  # the peer's next callback: its earliest job's, a removal's too (``ran``)
        assert nxt is not None
        ch.armed = nxt
        ch.last = at
        ran.pop(node, None)
        ran[node] = ch
        n += 1
        push(pending, (nxt, n, at, node))
    return n, ties


def _quiet(trains: Trains, feed: Feed, node: PeerNode, ch: _Chain, at: float, k: int) -> tuple[_Chain, bool]:
    """The peer's timer at ``at`` removes a CHILD SA (``PeerNode.quiet_job``): its chain up to
    here applied (its row fed up to ``k``, the first event at or after ``at``, DPD's re-arms as
    one run around it, the no-op jobs run), the callback run ahead as the loop would run it
    (``PeerNode.run_ahead``: the removal's event logged now, in the order of the window's
    timers), and the peer's chain from there, with whether it goes on (not where what the peer
    has pending inside the window after it is not chainable: the window ends there, the peer's
    timer re-armed as after the callback). Where the callback scheduled or cancelled no job,
    the peer's jobs are those of the chain less the ones it ran (``PeerNode.chain_jobs``
    classified them)."""
    sched, ep = trains.sched, node.ep
    feed.one(node, ch.fed, ch.k_first if ch.times else k)
    job = node.rearm_ahead(ch.chain, ch.times, ch.next_check, ch.due, ch.ran_noops, arm=False)
    if ch.times:
        feed.one(node, ch.k_first, k)
    noops = [x for x in ch.noops if x[0] > at]
    quiets = [x for x in ch.quiets if x[0] > at]
    seq, left = ep._seq, len(ep._timers) - (len(ch.noops) - len(noops)) - (len(ch.quiets) - len(quiets))
    saved = sched.now
    sched.now = at  # type: ignore[misc]
    try:
        node.run_ahead(at, arm=False)
    finally:
        sched.now = saved  # type: ignore[misc]
    trains.crossed += len(ch.times) + len(ch.ran_noops) + 1
    got: tuple[Any, list[tuple[Any, ...]], list[tuple[Any, ...]], float] | None
    if _jobs_kept(node, seq, left):
        got = (None if ch.chain is None or job is None else (ch.chain[0], ch.chain[1], job), noops, quiets,
               math.inf)
    elif node._armed is None or node._armed > ch.t_end:
        got = (None, [], [], math.inf)  # nothing of the peer's is due inside the window
    else:
        got = node.chain_jobs(ch.t_end)
    nxt = None
    if got is not None and got[3] > ch.t_end:
        nxt = _Chain(got[0], ch.heard, got[1], got[2], ch.t, 0)
        nxt.t_end = ch.t_end
    if nxt is None:
        ch.times, ch.ran_noops, ch.chain, ch.fed, ch.last = [], [], None, k, at
        return ch, False
    nxt.fed, nxt.last = k, at
    return nxt, True


def _jobs_kept(node: PeerNode, seq: int, left: int) -> bool:
    """Whether a callback run ahead scheduled no job (the core's sequence is still ``seq``) and
    cancelled none but those it ran (``left`` are pending), the peer still chainable: its jobs
    are those classified before (``PeerNode.chain_jobs``) less the ones run. (A job that
    becomes a no-op then, the removed SA's lifetime, is due after the window.)"""
    ep = node.ep
    return ep._seq == seq and len(ep._timers) == left and node._chainable() and node._refresh_inert()


def _cross_each(trains: Trains, t: np.ndarray, parents: np.ndarray, stop_at: int,
                crossings: list[tuple[float, PeerNode]], feed: Callable[[int, int], None]) -> int:
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
