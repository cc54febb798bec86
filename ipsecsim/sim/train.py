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
of all flows are put in the order the scheduler would run them (``_order``: time, then the
time their callback was scheduled, ...); then one lean loop applies them: the flow and SA
counters, ESP sequence numbers, volume checks and the dead peer detection hooks, exactly as
the packet-by-packet path does (proto/traffic.py), without Packet objects, the link or the
scheduler. The window stops early, before the first event whose outcome is not the steady one
(a request or reply lost on the link), or after the first event that made a peer do something
(an event, a datagram, a timer due before the next echo event: a volume limit reached, a DPD
decision). What is still on its way then is handed to the scheduler as the callbacks the
packet path would have pending, so the run goes on packet by packet from there.

A window is only tried where its assumptions hold (``_ready``): both gateways idle and up,
the flow's requests and replies routed on installed SAs, no NAT, no fragmentation, Bernoulli
loss (a Gilbert-Elliott channel's state is shared with IKE), no open drop intervals.
Elsewhere a flow steps packet by packet, as the packet path does. ESP records
(``Result.esp``, what a packet trace writes) are built only when the run keeps them.
tests/test_traffic_paths.py runs every scenario on both paths and compares them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..proto.traffic import EspPacket, Packet
from . import draws as draws_mod
from . import loss as lossmod
from . import mtu as mtu_mod
from .link import EspSent
from .log import EventLog
from .sched import Scheduler

if TYPE_CHECKING:
    from ..proto.sa import ChildSa
    from ..proto.traffic import TrafficPlane
    from .link import Link
    from .node import PeerNode

_S, _D1, _D2 = 0, 1, 2  # request sent / request arrives, reply sent / reply arrives
_MAX_WINDOW = 200_000  # echoes per flow and window (memory bound)


def exact_delay(now: float, target: float) -> float:
    """A delay ``d`` with ``now + d == target`` in floating point (the scheduler computes a
    callback's instant as ``now + delay``), so a callback scheduled from the window's start
    lands on the bit-identical instant the packet path computes."""
    d = target - now
    for _ in range(8):
        y = now + d
        if y == target:
            return d
        d = math.nextafter(d, math.inf if y < target else -math.inf)
    raise AssertionError(f"no delay from {now!r} reaches {target!r}")


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

    def _wake(self, gen: int) -> None:
        if gen != self.gen:
            return
        mgr = self.mgr
        if self.seq == 0:
            mgr.log.emit(mgr.sched.now, self.node.name, "traffic_started", **self.info, interval=self.interval,
                         size=self.size)
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
        self.mgr.log.emit(self.mgr.sched.now, self.node.name, "traffic_stopped", flow=self.name, sent=self.seq)


@dataclass(slots=True)
class _Path:
    """What one flow's requests and replies meet in a window (all fixed in it): the two
    gateways and data planes, the SAs (out / in at each end), the ESP packets' path and size,
    and per direction the loss probability, delay and jitter."""

    a: PeerNode
    b: PeerNode
    pa: TrafficPlane
    pb: TrafficPlane
    out_a: ChildSa
    in_b: ChildSa
    out_b: ChildSa
    in_a: ChildSa
    esp_a: EspPacket
    esp_b: EspPacket
    links: dict[str, tuple[float, float, float]]

    def esp(self, reply: bool, seq: int, pkt: Packet) -> EspPacket:
        """The ESP packet carrying ``pkt`` (a request from a, or a reply from b)."""
        model = self.esp_b if reply else self.esp_a
        return replace(model, esp_seq=seq, packet=pkt)


class Trains:
    """The ping flows of a run on the array path."""

    def __init__(self, sched: Scheduler, link: Link, log: EventLog, records: bool = True):
        self.sched, self.link, self.log, self.records = sched, link, log, records
        self.trains: list[PingTrain] = []
        self.windows = 0
        """Windows moved in one go (a benchmark figure)."""
        self.echoes = 0
        """Echo requests moved in windows."""

    def add(self, train: PingTrain) -> None:
        self.trains.append(train)
        self.sched.call_later(train.start, train._wake, train.gen)

    # --- the window ---------------------------------------------------------------------------
    def _horizon(self, movable: set[PingTrain]) -> float:
        """The earliest instant at which anything but the movable flows' wakes is scheduled."""
        def skip(fn: Callable[..., Any], args: tuple[Any, ...]) -> bool:
            owner = getattr(fn, "__self__", None)
            if not isinstance(owner, PingTrain):
                return False
            if fn.__func__ is not PingTrain._wake:  # type: ignore[attr-defined]
                return False
            return owner in movable or args[0] != owner.gen
        return min(self.sched.next_other(skip), self.sched.until)  # type: ignore[attr-defined]

    def window(self, first: PingTrain) -> bool:
        """Move the due flows over a window; False: ``first`` steps packet by packet instead."""
        sched = self.sched
        if not hasattr(sched, "next_other"):
            return False
        now = sched.now
        paths: dict[PingTrain, _Path] = {}
        for tr in self.trains:
            if tr.done or tr.seq == 0:
                continue
            p = self._ready(tr)
            if p is not None:
                paths[tr] = p
        if first not in paths:
            return False
        horizon = self._horizon(set(paths))
        if horizon <= now:
            return False
        # the flow whose wake runs goes first; the others in the order their wakes were
        # scheduled (for flows in lockstep: the order they were started in)
        rest = sorted((tr for tr in paths if tr is not first and tr.next_t < horizon),
                      key=lambda tr: (tr.next_t, tr.prev_t, self.trains.index(tr)))
        movable = [first, *rest]
        return self._move(movable, paths, now, horizon)

    def _ready(self, tr: PingTrain) -> _Path | None:
        link = self.link
        if link.nat is not None or tr.node.link is not link:
            return None
        a = tr.node
        pa = a.ep.traffic
        if not self._idle(a) or pa.queue or pa.route_check is not None or pa.route_revoked or pa.frozen:
            return None
        if not pa._in_policy(tr.src, tr.dst):
            return None
        out_a = pa._outbound_sa(tr.src, tr.dst)
        if out_a is None:
            return None
        path_a = pa._path(out_a)
        b = link.node_at(path_a[1], a.name)
        if b is None or b is a or not self._idle(b):
            return None
        pb = b.ep.traffic
        if pb.queue or pb.route_check is not None or pb.route_revoked or pb.frozen:
            return None
        src, dst, sport, dport = path_a
        req = EspPacket(out_a.spi_out, 0, Packet(tr.name, tr.src, tr.dst, tr.size, 0.0, tr.interval,
                                                 "echo-request", 0, tr.df), src, dst, sport, dport,
                        **pa._esp_fields(out_a, tr.size, tr.df))
        route = pb._route_in_esp(req)
        if route[0] != "sa" or not pb._in_policy(tr.dst, tr.src):
            return None
        out_b = pb._outbound_sa(tr.dst, tr.src)
        if out_b is None:
            return None
        path_b = pb._path(out_b)
        if link.node_at(path_b[1], b.name) is not a:
            return None
        src, dst, sport, dport = path_b
        rep = EspPacket(out_b.spi_out, 0, Packet(tr.reply_flow, tr.dst, tr.src, tr.size, 0.0, tr.interval,
                                                 "echo-reply", 0, tr.df), src, dst, sport, dport,
                        **pb._esp_fields(out_b, tr.size, tr.df))
        back = pa._route_in_esp(rep)
        if back[0] != "sa":
            return None
        for esp in (req, rep):
            if mtu_mod.too_big(esp, link.mtu) or mtu_mod.fragment_count(esp, link.mtu) != 1:
                return None
        for ledger in (pa.ledger, pb.ledger, link.ledger):
            if any(k[0] in (tr.name, tr.reply_flow) and v.rate == 0 for k, v in ledger.open.items()):
                return None
        links = {}
        for direction, (x, y) in (("ab", (a.name, b.name)), ("ba", (b.name, a.name))):
            if link.is_down(x, y, "esp"):
                return None
            model = link._loss_model(x, y, "esp")
            if type(model) is not lossmod.Bernoulli:
                return None
            delay = link._override("delay", x, y, "esp")
            jitter = link._override("jitter", x, y, "esp")
            links[direction] = (model.p, float(link.delay if delay is None else delay),
                                float(link.jitter if jitter is None else jitter))
        return _Path(a, b, pa, pb, out_a, route[1], out_b, back[1], req, rep, links)

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
        n = np.arange(link.esp_sent.get(k, 0), link.esp_sent.get(k, 0) + count, dtype=np.uint64)
        j = 0
        lost = np.zeros(count, dtype=bool)
        if p > 0:
            lost = draws_mod.uniforms(key, n, 0) < p
            j = 1
        d = np.full(count, delay)
        if jitter:
            d = delay + (0.0 + (jitter - 0.0) * draws_mod.uniforms(key, n, j))
        return lost, d

    def _move(self, movable: list[PingTrain], paths: dict[PingTrain, _Path], now: float, horizon: float) -> bool:
        # 1. every flow's echoes in the window: send, arrival and reply-arrival times
        cols: list[tuple[np.ndarray, ...]] = []
        plans = []
        for rank, tr in enumerate(movable):
            p = paths[tr]
            count = min(_MAX_WINDOW, int((horizon - tr.next_t) / tr.interval) + 2)
            steps = np.full(count, tr.interval)
            steps[0] = tr.next_t
            s = np.cumsum(steps)  # sequential additions: the source's ``now + interval``
            last = np.nonzero(s + tr.interval >= tr.stop - 1e-9)[0]
            if len(last):
                s = s[: last[0] + 1]
            s = s[s < horizon]
            if not len(s):
                continue
            lost_q, d1 = self._fates(p.a.name, tr.name, len(s), *p.links["ab"])
            lost_r, d2 = self._fates(p.b.name, tr.reply_flow, len(s), *p.links["ba"])
            a = s + d1
            r = a + d2
            n = len(s)
            hist = np.concatenate((tr.history, s))
            p1, p2, p3 = hist[2:2 + n], hist[1:1 + n], hist[:n]  # the three requests before each
            idx = np.arange(n)
            ones = np.ones(n)
            # An event's place among callbacks due at the same instant: the instants at which
            # its callback, its parent's, ... were scheduled (S <- the step at s <- the step
            # before; D1 <- S; D2 <- D1); then the flows' order. Kinds S, D1, D2; bad: a lost
            # request (at its S) or reply (at its D1) ends the window there.
            t = np.concatenate((s, a, r))
            k1 = np.concatenate((s, s, a))
            k2 = np.concatenate((p1, s, s))
            k3 = np.concatenate((p2, p1, s))
            k4 = np.concatenate((p3, p2, p1))
            kind = np.concatenate((0 * idx, 0 * idx + 1, 0 * idx + 2))
            bad = np.concatenate((lost_q, lost_r, np.zeros(n, dtype=bool)))
            cols.append((t, k1, k2, k3, k4, rank * np.concatenate((ones, ones, ones)), kind,
                         np.concatenate((idx, idx, idx)), bad))
            plans.append((tr, p, s, a, r, d1, d2))
        if not plans:
            return False
        t, k1, k2, k3, k4, rk, kind, idx, bad = (np.concatenate(c) for c in zip(*cols, strict=True))
        which = np.concatenate([np.full(3 * len(pl[2]), i) for i, pl in enumerate(plans)])
        order = np.lexsort((kind, rk, k4, k3, k2, k1, t))  # the scheduler's order
        t, kind, idx, bad, which = t[order], kind[order], idx[order], bad[order], which[order]
        stop_at = len(t)
        over = np.nonzero(bad | (t >= horizon))[0]
        if len(over):
            stop_at = int(over[0])
        if stop_at == 0 or (kind[0] != _S or which[0] != 0):
            return False
        done = self._apply(plans, t, kind, idx, which, stop_at)
        self._hand_over(plans, t, kind, idx, which, done, now)
        self.windows += 1
        return True

    def _apply(self, plans: list[Any], t: np.ndarray, kind: np.ndarray, idx: np.ndarray, which: np.ndarray,
               stop_at: int) -> int:
        """Apply the window's events in order up to ``stop_at`` or the first that made a peer
        act; the number applied."""
        link, records = self.link, self.records
        esp_log, forwarded, sent = link.esp, link.forwarded, link.esp_sent
        tl, kl, il, wl = t.tolist(), kind.tolist(), idx.tolist(), which.tolist()
        state: list[Any] = []
        for tr, p, _s, _a, _r, d1, d2 in plans:
            pa, pb = p.pa, p.pb
            hooks = tuple(getattr(x.ep.engine, h, None) for x in (p.a, p.b)
                          for h in ("on_esp_outbound", "on_esp_inbound"))
            state.append((tr, p, pa.counters(tr.name), pb.counters(tr.name), pb.counters(tr.reply_flow),
                          pa.counters(tr.reply_flow), hooks, d1.tolist(), d2.tolist(), {}, {}))
        armed: dict[PeerNode, float] = {}
        i = 0
        while i < stop_at:
            w, k, x, now = wl[i], kl[i], il[i], tl[i]
            tr, p, c_off, c_rx, c_roff, c_rrx, hooks, d1l, d2l, req_seq, rep_seq = state[w]
            size = tr.size
            if k == _S:
                node, plane, ep = p.a, p.pa, p.a.ep
                ep.now = now
                c_off.offered_bytes += size
                c_off.offered_packets += 1
                m = plane._meter(p.out_a, "out", now)
                m.bytes += size
                m.packets += 1
                m.settle(now)
                seq = req_seq[x] = int(m.packets)
                plane._check(m, now)
                plane.last_out = now
                if hooks[0] is not None:
                    hooks[0](p.out_a, now, None)
                self._wire(p.a.name, tr.name, size, forwarded, sent)
                if records:
                    pkt = Packet(tr.name, tr.src, tr.dst, size, now, tr.interval, "echo-request", tr.seq + x, tr.df)
                    esp = p.esp(False, seq, pkt)
                    esp_log.append(EspSent(now, p.a.name, esp, now + d1l[x]))
            elif k == _D1:
                node, plane, ep = p.b, p.pb, p.b.ep
                ep.now = now
                c_rx.received_bytes += size
                c_rx.received_packets += 1
                c_rx.delivered_bytes += size
                c_rx.delivered_packets += 1
                m = plane._meter(p.in_b, "in", now)
                m.bytes += size
                m.packets += 1
                m.settle(now)
                plane._check(m, now)
                if hooks[3] is not None:
                    hooks[3](p.in_b, now, None)
                c_roff.offered_bytes += size
                c_roff.offered_packets += 1
                m = plane._meter(p.out_b, "out", now)
                m.bytes += size
                m.packets += 1
                m.settle(now)
                seq = rep_seq[x] = int(m.packets)
                plane._check(m, now)
                plane.last_out = now
                if hooks[2] is not None:
                    hooks[2](p.out_b, now, None)
                self._wire(p.b.name, tr.reply_flow, size, forwarded, sent)
                if records:
                    pkt = Packet(tr.reply_flow, tr.dst, tr.src, size, now, tr.interval, "echo-reply", tr.seq + x,
                                 tr.df)
                    esp = p.esp(True, seq, pkt)
                    esp_log.append(EspSent(now, p.b.name, esp, now + d2l[x]))
            else:
                node, plane, ep = p.a, p.pa, p.a.ep
                ep.now = now
                c_rrx.received_bytes += size
                c_rrx.received_packets += 1
                c_rrx.delivered_bytes += size
                c_rrx.delivered_packets += 1
                m = plane._meter(p.in_a, "in", now)
                m.bytes += size
                m.packets += 1
                m.settle(now)
                plane._check(m, now)
                if hooks[1] is not None:
                    hooks[1](p.in_a, now, None)
                c_off.replies += 1
                c_off.last_reply_seq = max(c_off.last_reply_seq, tr.seq + x)
            i += 1
            # did the peer act? (an event, a datagram, a volume limit, a timer before what comes next)
            due = ep.get_timer()
            nxt = tl[i] if i < len(tl) else math.inf
            if ep._events or ep._out or plane._dirty or plane._out:
                armed[node] = now
                break
            if due is not None and (node._armed is None or due < node._armed):
                armed[node] = now
                if due <= nxt:
                    break
        self._armed = armed
        self._seqs = [(st[9], st[10]) for st in state]
        return i

    @staticmethod
    def _wire(sender: str, flow: str, size: int, forwarded: dict[str, list[float]],
              sent: dict[tuple[str, str], int]) -> None:
        fwd = forwarded.get(flow)
        if fwd is None:
            fwd = forwarded[flow] = [0.0, 0.0]
        fwd[0] += size
        fwd[1] += 1
        k = (sender, flow)
        sent[k] = sent.get(k, 0) + 1

    def _hand_over(self, plans: list[Any], t: np.ndarray, kind: np.ndarray, idx: np.ndarray, which: np.ndarray,
                   done: int, now: float) -> None:
        """What the packet path would have pending after the applied events: each flow's next
        wake, requests and replies on the wire, a peer's timer; scheduled in the order the
        packet path scheduled them (its parent event's order)."""
        sched = self.sched
        todo: list[tuple[int, float, Callable[..., None], tuple[Any, ...]]] = []
        for w, (tr, p, s, a, r, _d1, _d2) in enumerate(plans):
            pos = np.nonzero(which[:done] == w)[0]
            kinds, xs = kind[pos].tolist(), idx[pos].tolist()
            where = {(k, x): int(i) for k, x, i in zip(kinds, xs, pos.tolist(), strict=True)}
            req_seq, rep_seq = self._seqs[w]
            sent_n = sum(1 for k in kinds if k == _S)
            for x in sorted(x for k, x in where if k == _D1 and (_D2, x) not in where):  # replies on the wire
                esp = self._esp(tr, p, x, float(a[x]), rep_seq[x], reply=True)
                todo.append((where[(_D1, x)], float(r[x]), p.a.deliver_traffic, (esp,)))
            for x in sorted(x for k, x in where if k == _S and (_D1, x) not in where):  # requests on the wire
                esp = self._esp(tr, p, x, float(s[x]), req_seq[x], reply=False)
                todo.append((where[(_S, x)], float(a[x]), p.b.deliver_traffic, (esp,)))
            if sent_n:
                parent = where[(_S, sent_n - 1)]
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
        for node, at in self._armed.items():  # the peer's timer, armed when it acted
            due = node.ep.get_timer()
            if due is not None and (node._armed is None or due < node._armed):
                node._armed = due
                parent = done - 1
                todo.append((parent, at + (due - at), node._on_timer, (due,)))
            if node.ep._events or node.ep._out or node.ep.traffic._dirty or node.ep.traffic._out:
                todo.append((-1, at, self._acted, (node,)))  # at once, as the packet path's step
        todo.sort(key=lambda x: x[0])
        for _, at, fn, args in todo:
            sched.call_later(exact_delay(now, at), fn, *args)

    def _acted(self, node: PeerNode) -> None:
        """A peer acted on an echo of the window: what it does goes out now (``_after``)."""
        node.ep.traffic.refresh(self.sched.now)
        node._after()

    @staticmethod
    def _esp(tr: PingTrain, p: _Path, x: int, sent: float, seq: int, reply: bool) -> EspPacket:
        """The ESP packet of echo ``x`` of the window, rebuilt for its arrival (only for the
        few still on the wire when a window ends)."""
        if reply:
            return p.esp(True, seq, Packet(tr.reply_flow, tr.dst, tr.src, tr.size, sent, tr.interval, "echo-reply",
                                           tr.seq + x, tr.df))
        return p.esp(False, seq, Packet(tr.name, tr.src, tr.dst, tr.size, sent, tr.interval, "echo-request",
                                        tr.seq + x, tr.df))
