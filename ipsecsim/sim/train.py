"""Ping flows as schedules: the array traffic path (``traffic_path="array"``).

A ping flow (sim/traffic.py) is periodic: between two observable changes its packets' send
times are an arithmetic series, and every packet's fate is decided by things that do not change
in between (the SAs, the link's state) and by its own counter-based draws (sim/draws.py). So
instead of four scheduler callbacks per echo (the source's step, the hand-over to the gateway,
the request's and the reply's arrival), the flows wake once per *window*: from the instant one
of them is due up to the next thing on the scheduler that is not one of them (a timer of a
peer, a fault, a fluid flow's volume crossing, the end of the run).

In a window the send times, the losses and jitters of all requests and replies are computed as
numpy arrays; the echo events (request sent, request arrives and is answered, reply arrives)
of all flows are put in the order the scheduler would run them (``winorder.order``: time, then the
time their callback was scheduled, ...); then one lean loop applies them: the flow and SA
counters, ESP sequence numbers, volume checks and the dead peer detection hooks, exactly as
the packet-by-packet path does (proto/traffic.py), without Packet objects, the link or the
scheduler. A request lost on the link has no arrival and no reply, a lost reply no arrival;
the link's drop ledger is replayed at those packets and at the next of their flow that passes
(which closes the drop interval: an event in the log at its instant, ``_drops``). The window
stops early, after the first event that made a peer do something (an event, a datagram, a
timer due before the next echo event: a volume limit reached, a DPD decision), or at a flow's
end (its ``traffic_stopped``). What is still on its way then is handed to the scheduler as the callbacks the
packet path would have pending, so the run goes on packet by packet from there.

Dead peer detection is fed a window's packets as one row of inputs per peer (``dpd_rows.rows``,
``engine.on_esp_rows``) where the engines say no input of the row can act or arm a timer
(``engine.dpd_steady``); elsewhere event by event, as above. On the fast engine a window also
runs across a peer's timer that only re-arms DPD (the pings keep the peer heard, so the idle
timer finds a stale hint; ``PeerNode.timer_idle``): the timer runs ahead at its instant, after
the events before it, with the loop's clock set to that instant (``dpd_rows.cross``). Without that, a
30 s DPD on both sides ends a window every 15 s. Timer jobs the engine declares a no-op at their
instant (``engine.timer_noop``: a deleted CHILD SA's lifetime jobs, an answered request's
retransmission hint) are crossed alike, where the data plane's refresh after them cannot act
(``PeerNode.timer_idle``, docs/engines.md).

A window is only tried where its assumptions hold (``_ready``): both gateways idle and up,
the flow's requests and replies routed on installed SAs, no NAT, no fragmentation, Bernoulli
loss (a Gilbert-Elliott channel's state is shared with IKE), no open drop intervals at the
peers (the link's are closed by the window's first packet of the flow that passes), and
where it would hold more than ``_FEW`` echoes (a shorter one costs more than stepping). What
of that depends only on the SAs, the selectors and the link is cached on the flow
(``flowpath.Cached``) and found again only after an SA pushed a change (``sa.route_epoch``) or the
link changed (``Link.generation``); the peers' idle states, queues and the drop intervals are
read at every attempt.
Elsewhere a flow steps packet by packet, as the packet path does. ESP records
(``Result.esp``, what a packet trace writes) are built only when the run keeps them.
tests/test_traffic_paths.py runs every scenario on both paths and compares them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..proto import sa as sa_mod
from ..proto.events import TrafficStarted, TrafficStopped
from ..proto.traffic import EspPacket, Packet, _Meter
from . import dpd_rows, winorder
from . import draws as draws_mod
from .flowpath import Cached, Path, plan, quiet_sas, same_plan
from .link import EspSent
from .log import EventLog
from .meterrun import MeterRun, running
from .sched import Scheduler

if TYPE_CHECKING:
    from ..proto.traffic import TrafficPlane
    from .link import Link
    from .node import PeerNode

_S, _D1, _D2 = 0, 1, 2  # request sent / request arrives, reply sent / reply arrives
_MAX_WINDOW = 200_000  # echoes per flow and window (memory bound)
_FEW = 2
"""A window expected to hold at most this many echoes (all flows) is not tried: its numpy
set-up costs more than the packet path's echoes (benchmarks/README.md, the fleet of (c))."""


class PingTrain:
    """One ping flow: the packet path's source (sim/traffic.py ``_source``) as a state
    machine, so the manager can move it over a window in one go."""

    def __init__(self, mgr: Trains, name: str, node: PeerNode, src: str, dst: str, s_int: int, d_int: int,
                 size: int, interval: float, df: bool, start: float, stop: float, info: dict[str, Any]):
        self.mgr, self.name, self.node = mgr, name, node
        self.src_text, self.dst_text = src, dst
        self.src, self.dst, self.size, self.interval, self.df = s_int, d_int, size, interval, df
        self.start, self.stop, self.info = start, stop, info
        self.seq = 0
        self.gen = 0
        """Generation of the pending wake callback: a window that moved the flow makes it stale."""
        self.next_t = start
        self.prev_t = start
        """The instant of the latest echo request (whose step scheduled the pending wake)."""
        self.history = (-1.0, -1.0, -1.0)
        """The instants of the latest three echo requests (the order of equal-time callbacks)."""
        self.done = False
        self.reply_flow = name + ":reply"
        self.cached: Cached | None = None
        """What ``Trains._ready`` found of the flow's path, while what it read is unchanged."""

    def _wake(self, gen: int) -> None:
        if gen != self.gen:
            return
        mgr = self.mgr
        if self.seq == 0:
            mgr.log.emit(mgr.sched.now, self.node.name, TrafficStarted(**self.info, interval=self.interval,
                                                                       size=self.size))
        elif mgr.window(self):
            return
        self.step()

    def step(self) -> None:
        """One echo request, packet by packet (the packet path's step)."""
        sched = self.mgr.sched
        now = sched.now
        self.node.submit_packet(Packet(self.name, self.src, self.dst, self.size, now, self.interval,
                                       "echo-request", self.seq, self.df))
        self.seq += 1
        self.gen += 1
        self.prev_t = now
        self.history = (self.history[1], self.history[2], now)
        if now + self.interval >= self.stop - 1e-9:
            self.done = True
            sched.call_later(self.stop - now, self._stopped)
            return
        self.next_t = now + self.interval
        sched.call_later(self.interval, self._wake, self.gen)

    def _stopped(self) -> None:
        self.mgr.log.emit(self.mgr.sched.now, self.node.name, TrafficStopped(flow=self.name, sent=self.seq))


class Trains:
    """The ping flows of a run on the array path."""

    def __init__(self, sched: Scheduler, link: Link, log: EventLog, records: bool = True):
        self.sched, self.link, self.log, self.records = sched, link, log, records
        self.trains: list[PingTrain] = []
        self.windows = 0
        """Windows moved in one go (a benchmark figure)."""
        self.echoes = 0
        """Echo requests moved in windows."""
        self.crossed = 0
        """Peer timers run ahead inside windows (``dpd_rows.cross``)."""
        self.tied = 0
        """... of which at the instant of one of the window's events."""
        self._held = -1
        self._step_until = -math.inf
        """The flows step packet by packet until then: a window would hold a few echoes."""
        """The window's last event, when it made its peer act and sent a packet (``_finish``)."""

    def add(self, train: PingTrain) -> None:
        self.trains.append(train)
        self.sched.call_later(train.start, train._wake, train.gen)

    # --- the window ---------------------------------------------------------------------------
    def _horizon(self, movable: set[PingTrain]) -> tuple[float, list[tuple[float, PeerNode]]]:
        """The earliest instant at which anything but the movable flows' wakes is scheduled,
        and before it the peers' timers a window may cross (``PeerNode.timer_idle``: dead peer
        detection re-arming its idle timer, which the inbound pings make a stale hint). Only
        on an engine that lets a callback run ahead (``FastLoop.others``)."""
        def skip(fn: Callable[..., Any], args: tuple[Any, ...]) -> bool:
            owner = getattr(fn, "__self__", None)
            if not isinstance(owner, PingTrain):
                return False
            if fn.__func__ is not PingTrain._wake:  # type: ignore[attr-defined]
                return False
            return owner in movable or args[0] != owner.gen
        sched = self.sched
        others = getattr(sched, "others", None)
        if others is None:
            return min(sched.next_other(skip), sched.until), []  # type: ignore[attr-defined]
        due: float = sched.until  # type: ignore[attr-defined]
        crossings: list[tuple[float, PeerNode]] = []
        superseded: list[tuple[float, PeerNode]] = []
        for t, fn, _args in others(skip):
            if t >= due:
                continue
            owner: Any = getattr(fn, "__self__", None)
            if getattr(owner, "_on_timer", None) != fn:
                due = t
            elif owner.timer_superseded(t, crossings):
                superseded.append((t, owner))
                continue  # the loop finds it stale: not an end, not a crossing
            elif owner.timer_idle(t, now=False):
                # a superseded callback of another peer at this instant, scheduled before this
                # one, runs first if a crossing re-arms its peer to exactly ``t``; a chain
                # would order the two the other way: the window ends here
                if any(s == t and o is not owner for s, o in superseded):
                    due = t
                else:
                    crossings.append((t, owner))
            else:
                due = t
        return due, sorted((c for c in crossings if c[0] < due), key=lambda c: c[0])

    def window(self, first: PingTrain) -> bool:
        """Move the due flows over a window; False: ``first`` steps packet by packet instead."""
        sched = self.sched
        if not hasattr(sched, "next_other"):
            return False
        now = sched.now
        if now < self._step_until:
            return False
        paths: dict[PingTrain, Path] = {}
        for tr in self.trains:
            if tr.done or tr.seq == 0:
                continue
            p = self._ready(tr)
            if p is not None:
                paths[tr] = p
        if first not in paths:
            return False
        nodes = {x for p in paths.values() for x in (p.a, p.b)}
        sas = quiet_sas(list(paths.values()), self.log, self.link)
        for node in nodes:
            node.window_sas = sas
        try:
            return self._plan(first, paths, nodes, now)
        finally:
            for node in nodes:
                node.window_sas = None

    def _plan(self, first: PingTrain, paths: dict[PingTrain, Path], nodes: set[PeerNode], now: float) -> bool:
        horizon, crossings = self._horizon(set(paths))
        if crossings:  # a window across timers ends at the first other timer of its peers
            for node in nodes:
                horizon = min(horizon, node.next_other_timer())
            crossings = [c for c in crossings if c[0] < horizon]
        if horizon <= now:
            return False
        # the flow whose wake runs goes first; the others in the order their wakes were
        # scheduled (for flows in lockstep: the order they were started in)
        rest = sorted((tr for tr in paths if tr is not first and tr.next_t < horizon),
                      key=lambda tr: (tr.next_t, tr.prev_t, self.trains.index(tr)))
        movable = [first, *rest]
        if sum(int((horizon - tr.next_t) / tr.interval) + 1 for tr in movable) <= _FEW:
            # the flows step until the horizon (what is scheduled meanwhile only brings it closer)
            self._step_until = horizon
            return False
        return self._move(movable, paths, horizon, crossings)

    verify_cache = False
    """Recompute every cached path on use and fail if it differs (tests: a missed invalidation
    would be a wrong result)."""

    def _ready(self, tr: PingTrain) -> Path | None:
        """The flow's path if a window can move it now, else None. What does not change
        between the SAs' and the link's changes comes from the flow's cache (``flowpath.Cached``);
        the peers' idle states, queues, route flags and the drop intervals are read live."""
        link = self.link
        if link.nat is not None or tr.node.link is not link:
            return None
        a = tr.node
        pa = a.ep.traffic
        if not self._live(a, pa):
            return None
        epoch, gen = sa_mod.route_epoch, link.generation
        c = tr.cached
        if c is None or not c.holds(epoch, gen, pa):
            c = plan(self.link, tr, a, pa, epoch, gen, self._live)
            if c is None:
                return None  # found while the far end was busy: not cached
            tr.cached = c
        elif self.verify_cache:
            fresh = plan(self.link, tr, a, pa, epoch, gen, self._live)
            if fresh is not None:
                same_plan(tr, c, fresh)
        p = c.path
        if p is None or not self._live(p.b, p.pb):
            return None
        for ledger in (pa.ledger, p.pb.ledger):  # the link's: closed by the window (``_drops``)
            if ledger.open and (ledger.holds_open(tr.name) or ledger.holds_open(tr.reply_flow)):
                return None
        return p

    def _live(self, node: PeerNode, plane: TrafficPlane) -> bool:
        return self._idle(node) and not (plane.queue or plane.route_check is not None or plane.route_revoked
                                         or plane.frozen)

    @staticmethod
    def _idle(node: PeerNode) -> bool:
        return node.started and not (node.down or node.busy or node.inbox or node.retiring)

    def _fates(self, sender: str, flow: str, count: int, p: float, delay: float,
               jitter: float) -> tuple[np.ndarray, np.ndarray]:
        """(lost, one-way delay) of the next ``count`` ESP packets of ``flow`` from ``sender``,
        from the same draws as ``Link.esp_draws``: one for the loss if p > 0, then the jitter."""
        link = self.link
        k = (sender, flow)
        key = link._esp_keys.get(k)
        if key is None:
            key = link._esp_keys[k] = draws_mod.key(link.seed, "esp", sender, flow)
        first = link.esp_sent.get(k, 0)
        j = 0
        lost = np.zeros(count, dtype=bool)
        if p > 0:
            lost = draws_mod.series_below(key, first, count, 0, p)
            j = 1
        d = np.full(count, delay)
        if jitter:
            d = delay + (0.0 + (jitter - 0.0) * draws_mod.series(key, first, count, j))
        return lost, d

    def _move(self, movable: list[PingTrain], paths: dict[PingTrain, Path], horizon: float,
              crossings: list[tuple[float, PeerNode]]) -> bool:
        # 1. every flow's echoes in the window: send, arrival and reply-arrival times
        cols: list[tuple[tuple[np.ndarray, ...], ...]] = []
        plans = []
        later: list[tuple[np.ndarray, ...]] = []
        counts: list[tuple[int, ...]] = []
        end = horizon
        for tr in movable:
            p = paths[tr]
            count = min(_MAX_WINDOW, int((horizon - tr.next_t) / tr.interval) + 2)
            steps = np.full(count, tr.interval)
            steps[0] = tr.next_t
            s = np.cumsum(steps)  # sequential additions: the source's ``now + interval``
            last = np.nonzero(s + tr.interval >= tr.stop - 1e-9)[0]
            if len(last):
                s = s[: last[0] + 1]
                if s[-1] < horizon:  # the flow's end (an event in the log) ends the window
                    end = min(end, float(s[-1]) + (tr.stop - float(s[-1])))
            s = s[s < horizon]
            if not len(s):
                continue
            n = len(s)
            lost_q, d1 = self._fates(p.a.name, tr.name, n, *p.links["ab"])
            a = s + d1
            # one reply per request that arrives, its draws numbered in the order the requests
            # arrive (time, then the order they were sent in)
            got = np.flatnonzero(~lost_q)
            a_got = a[got] if len(got) < n else a
            if len(got) > 1 and bool((a_got[1:] <= a_got[:-1]).any()):
                got = got[np.lexsort((s[got], a[got]))]
            lost_r = np.zeros(n, dtype=bool)
            d2 = np.zeros(n)
            lost_r[got], d2[got] = self._fates(p.b.name, tr.reply_flow, len(got), *p.links["ba"])
            r = a + d2
            hist = np.concatenate((tr.history, s))
            idx = np.arange(n)
            # An event's place among callbacks due at the same instant: the instants at which
            # its callback, its parent's, ... were scheduled (S <- the step at s <- the step
            # before; D1 <- S; D2 <- D1); then the flows' order (``winorder.order``). Kinds S, D1,
            # D2: a request lost on the link (at its S) has no D1 and no D2, a lost reply (at its
            # D1) no D2.
            q = ~lost_q  # D1: the requests that arrive
            b = q & ~lost_r  # D2: the replies that arrive
            m1, m2 = int(q.sum()), int(b.sum())
            cols.append(((s, a[q], r[b]), (s, s[q], a[b]), (idx, idx[q], idx[b]),
                         (lost_q, lost_r[q], np.zeros(m2, dtype=bool))))
            later.append((hist, q, b))
            counts.append((n, m1, m2))
            plans.append((tr, p, s, a, r, d1, d2, lost_q, lost_r))
        if not plans:
            return False
        t, k1, idx, lost = (np.concatenate([x for parts in c for x in parts]) for c in zip(*cols, strict=True))
        kind = np.repeat(np.tile(np.arange(3), len(counts)), [c for row in counts for c in row])
        which = np.repeat(np.arange(len(counts)), [sum(row) for row in counts])

        def ties(sub: np.ndarray) -> tuple[np.ndarray, ...]:
            def back(h: np.ndarray, d: int) -> np.ndarray:  # the request d before each (0: its own)
                return h[3 - d:len(h) - d]
            k2, k3, k4 = (np.concatenate([np.concatenate((back(h, j + 1), back(h, j)[q], back(h, max(j - 1, 0))[b]))
                                          for h, q, b in later])[sub] for j in (0, 1, 2))
            return kind[sub], which[sub], k4, k3, k2, k1[sub]
        first: dict[bytes, int] = {}  # per flow, the first with the same request instants
        twins = np.asarray([first.setdefault(h.tobytes(), w) for w, (h, *_q) in enumerate(later)])
        order, (t, kind, idx, which, k1, lost) = winorder.order(t, kind, idx, which, k1, twins, ties, lost)
        groups = winorder.Groups(order, counts)
        stop_at = int(np.searchsorted(t, end))
        if stop_at == 0 or (kind[0] != _S or which[0] != 0):
            return False
        done = self._apply(plans, t, kind, idx, which, stop_at, crossings, k1, groups)
        if not done:
            return False
        self._drops(plans, t, kind, which, lost, done if self._held < 0 else self._held, groups)
        self._hand_over(plans, t, kind, idx, which, done, groups)
        self.windows += 1
        return True

    def _drops(self, plans: list[Any], t: np.ndarray, kind: np.ndarray, which: np.ndarray, lost: np.ndarray,
               done: int, groups: winorder.Groups) -> None:
        """The link's drop ledger over the packets of the first ``done`` events, as the packet
        path keeps it (``Link.transmit_traffic``): a lost request or reply opens or extends a
        ``loss`` interval of its flow, the next one of the flow that passes closes the flow's
        intervals (an event in the log, at that packet's instant). Only those packets are
        replayed, in the window's order."""
        link = self.link
        ledger = link.ledger
        if not ledger.open and not lost[:done].any():
            return
        todo: list[int] = []
        kd, wd, ld = kind[:done], which[:done], lost[:done]
        for w, (tr, *_rest) in enumerate(plans):
            for k, flow in ((_S, tr.name), (_D1, tr.reply_flow)):
                pos = groups.at(w, k, done)
                if not len(pos):
                    continue
                gone = ld[pos]
                was_open = ledger.holds_open(flow)
                if not was_open and not gone.any():
                    continue
                before = np.concatenate(([was_open], gone[:-1]))  # an interval open before it
                todo.extend(pos[gone | before].tolist())
        if not todo:
            return
        todo.sort()
        try:
            for e in todo:
                tr = plans[int(wd[e])][0]
                flow = tr.name if kd[e] == _S else tr.reply_flow
                link.drop_at = float(t[e])
                if ld[e]:
                    ledger.packet(flow, "loss", float(t[e]), tr.interval, tr.size)
                else:
                    ledger.passed(flow)
        finally:
            link.drop_at = None

    def _meters(self, plans: list[Any], t: np.ndarray, which: np.ndarray, stop_at: int,
                groups: winorder.Groups) -> tuple[list[MeterRun], int]:
        """The SA meters the window's echoes count on, each as the running values the packet
        path computes one packet at a time (``_Meter.settle`` then ``+= size``, the same float
        additions in the same order: ``np.cumsum`` adds sequentially), and the window cut
        before the first packet that reaches a volume limit, or after the first that brings
        the limit's crossing (at the flow rates of the meter) due before the next event."""
        runs: dict[tuple[int, int, str], MeterRun] = {}
        now0 = self.sched.now
        for w, (_tr, p, *_rest) in enumerate(plans):
            for k, plane, child, direction in ((_S, p.pa, p.out_a, "out"), (_D1, p.pb, p.in_b, "in"),
                                               (_D1, p.pb, p.out_b, "out"), (_D2, p.pa, p.in_a, "in")):
                key = (id(plane), child.uid, direction)
                run = runs.get(key)
                if run is None:  # not settled here: the packet path settles only at its packets
                    run = runs[key] = MeterRun(plane, plane.meters.get((child.uid, direction)), [], child=child,
                                                direction=direction)
                run.parts.append((w, k))
        nxt_t = None
        size = plans[0][0].size
        mixed = any(pl[0].size != size for pl in plans)
        for run in runs.values():
            ev = groups.union(run.parts, stop_at)
            run.events = ev
            m = run.meter
            if m is None:  # the packet path makes it at the first packet
                m = run.meter = _Meter(run.child, run.direction, float(t[ev[0]]) if len(ev) else now0)
            n = len(ev)
            if not n:
                run.bytes = np.asarray([m.bytes])
                run.packets = np.asarray([m.packets])
                continue
            sizes = np.asarray([plans[w][0].size for w in which[ev].tolist()], dtype=np.float64) if mixed else None
            run.bytes, run.packets = running(m, lambda: t[ev], n, size, sizes)  # noqa: B023 - called at once
            limits = run.plane._limits(m)
            if not limits:  # nothing to reach, no crossing to come
                continue
            tau = t[ev]
            if nxt_t is None:
                nxt_t = np.append(t[1:], math.inf)
            bad = np.zeros(n, dtype=bool)
            due = np.full(n, math.inf)
            for _kind, by, lim in limits:
                value, rate = (run.bytes[1:], m.rate) if by == "bytes" else (run.packets[1:], m.pps)
                bad |= value >= lim * (1 - 1e-12) - 1e-9
                if rate > 0:
                    due = np.minimum(due, tau + (lim - value) / rate)
            fire = np.nonzero(bad)[0]
            if len(fire):
                stop_at = min(stop_at, int(ev[fire[0]]))  # that packet goes by the packet path
            early = np.nonzero(due <= nxt_t[ev])[0]
            if len(early):
                stop_at = min(stop_at, int(ev[early[0]]) + 1)  # the crossing comes first
        return list(runs.values()), stop_at

    def _apply(self, plans: list[Any], t: np.ndarray, kind: np.ndarray, idx: np.ndarray, which: np.ndarray,
               stop_at: int, crossings: list[tuple[float, PeerNode]], parents: np.ndarray,
               groups: winorder.Groups) -> int:
        """Apply the window's events in order up to ``stop_at`` or the first that made a peer
        act; the number applied. The hooks of dead peer detection run event by event; the
        counters, meters and ESP sequence numbers are then set from the arrays."""
        runs, stop_at = self._meters(plans, t, which, stop_at, groups)
        if stop_at == 0 or kind[0] != _S or which[0] != 0:
            return 0  # the first echo itself reaches a limit: it goes by the packet path
        rows = dpd_rows.rows(plans, t, stop_at, groups)
        if rows is not None:
            stop_at, feed = rows
            stop_at = dpd_rows.cross(self, t, parents, stop_at, crossings, feed)
            if stop_at == 0:
                return 0
            jobs: dict[PeerNode, tuple[float, float]] = {}  # volume timers armed by the window
            self._armed, self._acted_at = jobs, {}
            self._finish(plans, runs, t, kind, idx, which, stop_at, jobs, groups)
            return stop_at
        if crossings:  # event by event, no timer is crossed: the window ends at the first
            stop_at = min(stop_at, int(np.searchsorted(t[:stop_at], crossings[0][0])))
            if stop_at == 0 or kind[0] != _S or which[0] != 0:
                return 0
        tl, kl, wl = t[:stop_at].tolist(), kind[:stop_at].tolist(), which[:stop_at].tolist()
        calls = []
        for _tr, p, *_rest in plans:
            hooks = tuple(getattr(x.ep.engine, h, None) for x in (p.a, p.b)
                          for h in ("on_esp_outbound", "on_esp_inbound"))
            calls.append((p.a.ep, p.b.ep, p.pa, p.pb, p.a, p.b,
                          ((hooks[0], p.out_a),), ((hooks[3], p.in_b), (hooks[2], p.out_b)),
                          ((hooks[1], p.in_a),)))
        armed: dict[PeerNode, tuple[float, float]] = {}  # node -> (its earliest deadline, armed when)
        acted: dict[PeerNode, float] = {}
        first_due = math.inf  # the earliest timer armed in the window: no event at or after it
        i = 0
        while i < stop_at:
            now = tl[i]
            if now >= first_due:
                break
            ep_a, ep_b, pa, pb, na, nb, s_hooks, d1_hooks, d2_hooks = calls[wl[i]]
            k = kl[i]
            if k == _D1:
                ep, plane, node, hooks = ep_b, pb, nb, d1_hooks
            else:
                ep, plane, node, hooks = ep_a, pa, na, (s_hooks if k == _S else d2_hooks)
            ep.now = now
            for hook, child in hooks:
                if hook is not None:
                    hook(child, now, None)
            i += 1
            # did the peer act? (an event, a datagram, a timer due before what comes next)
            if ep._events or ep._out or plane._dirty or plane._out:
                acted[node] = now
                break
            due = ep.get_timer()
            if due is not None:
                known = armed[node][0] if node in armed else (node._armed if node._armed is not None else math.inf)
                if due < known:
                    armed[node] = (due, now)
                    first_due = min(first_due, due)
                    if due <= (tl[i] if i < stop_at else math.inf):
                        break
        self._armed, self._acted_at = armed, acted
        self._finish(plans, runs, t, kind, idx, which, i, armed, groups)
        return i

    def _finish(self, plans: list[Any], runs: list[MeterRun], t: np.ndarray, kind: np.ndarray, idx: np.ndarray,
                which: np.ndarray, done: int, armed: dict[PeerNode, tuple[float, float]],
                groups: winorder.Groups) -> None:
        """Set what the first ``done`` events did: meters (then their volume timers), ESP
        sequence numbers, flow and link counters, ESP records. Where the last event made its
        peer act, the packet it sent is ``_held``: it goes to the link after the peer's output
        (``_acted``), as on the packet path."""
        link = self.link
        self._held = done - 1 if self._acted_at and kind[done - 1] != _D2 else -1
        wire = done if self._held < 0 else self._held  # the events whose packets the window puts on the link
        outs: list[tuple[np.ndarray, np.ndarray]] = []  # per outbound meter: its events, packets after each
        for run in runs:
            ev = run.events
            n = int(np.searchsorted(ev, done))
            m = run.meter
            if not n:
                continue
            run.plane.meters.setdefault((m.child.uid, m.direction), m)
            last_t = float(t[ev[n - 1]])
            m.bytes, m.packets = float(run.bytes[n]), float(run.packets[n])
            m.t = max(m.t, last_t)
            m.settle(last_t)
            if m.direction == "out":
                outs.append((ev[:n], run.packets[1:n + 1]))
            run.plane._check(m, last_t)
            if m.job is not None:  # the packet path armed its peer for it at the meter's last packet
                node = self._node_of(plans, run.plane)
                known = armed[node][0] if node in armed else (node._armed if node._armed is not None else math.inf)
                if m.job[0] < known or (m.job[0] == known and node in armed and armed[node][1] < last_t):
                    armed[node] = (m.job[0], last_t)
        self._outs = outs
        records = self.records
        for w, (tr, p, s, a, _r, _d1, _d2, lost_q, lost_r) in enumerate(plans):
            ks, k1, k2 = (idx[groups.at(w, k, done)] for k in (_S, _D1, _D2))
            ws, w1 = ks, k1  # ... of them, the packets on the link
            if wire < done and which[wire] == w:
                ws, w1 = (ks[:-1], k1) if kind[wire] == _S else (ks, k1[:-1])
            size = tr.size
            for c, n in ((p.pa.counters(tr.name), len(ks)), (p.pb.counters(tr.reply_flow), len(k1))):
                c.offered_bytes += size * n
                c.offered_packets += n
            for c, n in ((p.pb.counters(tr.name), len(k1)), (p.pa.counters(tr.reply_flow), len(k2))):
                c.received_bytes += size * n
                c.received_packets += n
                c.delivered_bytes += size * n
                c.delivered_packets += n
            if len(k2):
                c = p.pa.counters(tr.name)
                c.replies += len(k2)
                c.last_reply_seq = max(c.last_reply_seq, tr.seq + int(k2.max()))
            for sender, flow, n, passed in ((p.a.name, tr.name, len(ws), len(ws) - int(lost_q[ws].sum())),
                                            (p.b.name, tr.reply_flow, len(w1), len(w1) - int(lost_r[w1].sum()))):
                if n:
                    link.esp_sent[(sender, flow)] = link.esp_sent.get((sender, flow), 0) + n
                if passed:  # what crossed the link (a packet lost on it did not)
                    fwd = link.forwarded.setdefault(flow, [0.0, 0.0])
                    fwd[0] += size * passed
                    fwd[1] += passed
            if len(ks):
                p.pa.last_out = max(p.pa.last_out or -math.inf, float(s[ks.max()]))
            if len(k1):
                p.pb.last_out = max(p.pb.last_out or -math.inf, float(a[k1.max()]))
        if records:
            self._records(plans, t, kind, idx, which, wire)

    @staticmethod
    def _node_of(plans: list[Any], plane: TrafficPlane) -> PeerNode:
        for _tr, p, *_rest in plans:
            if p.pa is plane:
                return p.a  # type: ignore[no-any-return]
            if p.pb is plane:
                return p.b  # type: ignore[no-any-return]
        raise AssertionError("a meter of no flow in the window")

    def _seq(self, event: int) -> int:
        """The ESP sequence number of the packet event ``event`` (an S or D1) sent."""
        for ev, packets in self._outs:
            i = int(np.searchsorted(ev, event))
            if i < len(ev) and ev[i] == event:
                return int(packets[i])
        raise AssertionError(f"event {event} sent nothing")

    def _records(self, plans: list[Any], t: np.ndarray, kind: np.ndarray, idx: np.ndarray, which: np.ndarray,
                 done: int) -> None:
        """The ESP records of the window's packets, in the order they were sent."""
        out = self.link.esp
        seqs = {(int(e), 0): int(v) for ev, packets in self._outs for e, v in zip(ev, packets, strict=True)}
        for e, (k, x, w) in enumerate(zip(kind[:done].tolist(), idx[:done].tolist(), which[:done].tolist(),
                                          strict=True)):
            if k == _D2:
                continue
            tr, p, _s, _a, _r, d1, d2, lost_q, lost_r = plans[w]
            now = float(t[e])
            if k == _S:
                pkt = Packet(tr.name, tr.src, tr.dst, tr.size, now, tr.interval, "echo-request", tr.seq + x, tr.df)
                esp = p.esp(False, seqs[(e, 0)], pkt)
                out.append(EspSent(now, p.a.name, esp, None, "loss") if lost_q[x]
                           else EspSent(now, p.a.name, esp, now + float(d1[x])))
            else:
                pkt = Packet(tr.reply_flow, tr.dst, tr.src, tr.size, now, tr.interval, "echo-reply", tr.seq + x,
                             tr.df)
                esp = p.esp(True, seqs[(e, 0)], pkt)
                out.append(EspSent(now, p.b.name, esp, None, "loss") if lost_r[x]
                           else EspSent(now, p.b.name, esp, now + float(d2[x])))

    def _hand_over(self, plans: list[Any], t: np.ndarray, kind: np.ndarray, idx: np.ndarray, which: np.ndarray,
                   done: int, groups: winorder.Groups) -> None:
        """What the packet path would have pending after the applied events: each flow's next
        wake, requests and replies on the wire, a peer's timer; scheduled in the order the
        packet path scheduled them (its parent event's order)."""
        sched = self.sched
        todo: list[tuple[int, float, Callable[..., None], tuple[Any, ...]]] = []
        kd, xd, wd = kind[:done], idx[:done], which[:done]
        held = self._held
        held_esp = None
        if held >= 0:  # the packet of the event that made its peer act: sent after its output
            tr, p, *_rest = plans[int(wd[held])]
            held_esp = self._esp(tr, p, int(xd[held]), float(t[held]), self._seq(held), reply=kd[held] == _D1)
        for w, (tr, p, s, a, r, _d1, _d2, lost_q, lost_r) in enumerate(plans):
            pos_s, pos_1, pos_2 = (groups.at(w, k, done) for k in (_S, _D1, _D2))
            sent_n = len(pos_s)
            # what is on the wire: the requests sent and not arrived, the replies sent (at
            # their request's arrival) and not arrived; not a lost one, not the held one
            n = len(s)
            at1 = np.full(n, -1, dtype=np.int64)
            at1[xd[pos_1]] = pos_1
            arrived = np.zeros(n, dtype=bool)
            arrived[xd[pos_2]] = True
            for x in np.nonzero((at1 >= 0) & ~arrived & ~lost_r & (at1 != held))[0].tolist():  # replies
                e = int(at1[x])
                esp = self._esp(tr, p, x, float(a[x]), self._seq(e), reply=True)
                todo.append((e, float(r[x]), p.a.deliver_traffic, (esp,)))
            for x in np.nonzero((at1[:sent_n] < 0) & ~lost_q[:sent_n] & (pos_s != held))[0].tolist():  # requests
                e = int(pos_s[x])
                esp = self._esp(tr, p, x, float(s[x]), self._seq(e), reply=False)
                todo.append((e, float(a[x]), p.b.deliver_traffic, (esp,)))
            if sent_n:
                parent = int(pos_s[-1])
                last = float(s[sent_n - 1])
                tr.seq += sent_n
                self.echoes += sent_n
                tr.gen += 1
                tr.prev_t = last
                tr.history = tuple(([*tr.history, *(float(v) for v in s[max(0, sent_n - 3):sent_n])])[-3:])
                if last + tr.interval >= tr.stop - 1e-9:
                    tr.done = True
                    todo.append((parent, last + (tr.stop - last), tr._stopped, ()))
                else:
                    tr.next_t = last + tr.interval
                    todo.append((parent, tr.next_t, tr._wake, (tr.gen,)))
        for node, (due, at) in self._armed.items():  # the peer's timer, as the packet path armed it
            if node.ep.get_timer() == due and (node._armed is None or due < node._armed):
                node._armed = due
                todo.append((done - 1, at + (due - at), node._on_timer, (due,)))
        for node, at in self._acted_at.items():  # at once, as the packet path's step
            todo.append((-1, at, self._acted, (node, held_esp)))
        todo.sort(key=lambda x: x[0])
        for _, at, fn, args in todo:
            sched.call_exact(at, fn, *args)

    def _acted(self, node: PeerNode, esp: EspPacket | None) -> None:
        """A peer acted on an echo of the window: what it does goes out now (``_after``); the
        ESP packet the echo made it send (``esp``) goes to the link after its events and
        datagrams, as on the packet path (the plane's output, ``_send_packet``)."""
        if esp is not None:
            node.ep.traffic._out.append(esp)
        node.ep.traffic.refresh(self.sched.now)
        node._after()

    @staticmethod
    def _esp(tr: PingTrain, p: Path, x: int, sent: float, seq: int, reply: bool) -> EspPacket:
        """The ESP packet of echo ``x`` of the window, rebuilt for its arrival (only for the
        few still on the wire when a window ends)."""
        if reply:
            return p.esp(True, seq, Packet(tr.reply_flow, tr.dst, tr.src, tr.size, sent, tr.interval, "echo-reply",
                                           tr.seq + x, tr.df))
        return p.esp(False, seq, Packet(tr.name, tr.src, tr.dst, tr.size, sent, tr.interval, "echo-request",
                                        tr.seq + x, tr.df))
