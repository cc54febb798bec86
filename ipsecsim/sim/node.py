"""A peer: the driver of its sans-IO ``Endpoint`` on a scheduler (sim/sched.py).

The driver is aioquic's pattern in three short functions: ``_flush`` sends what the core wants
sent and records its events, ``_arm`` re-arms one lazy timer from the core's ``get_timer()``,
and ``_step`` feeds the next inbound item (a datagram, or traffic) to the core. The core's
``handle_timer`` runs only when its deadline is due; a timer callback that an earlier deadline
superseded finds nothing due and does nothing (timers are never cancelled).

Processing time (``proto.cpu``, a peer's ``cpu`` setting): an IKE message waits for the peer's
one worker, which computes what the message costs before the core acts on it, so the core
answers, installs and arms its timers at the end of the computation; messages (and traffic)
arriving meanwhile queue behind it, and the core's timers wait for the worker too. A peer
frozen during a computation finishes it when thawed; one that crashes loses it.

Faults (sim/faults.py sets them): a frozen peer (a hung VM) processes nothing and drops what
arrives; its timers fire late, at once, when it is unfrozen. A freeze with ``inbound: queue``
is a stopped process instead: its kernel queues the IKE datagrams that arrive (sim/sockq.py)
and the peer reads them when thawed. A crashed peer loses all state
silently (no DELETE is sent) and drops what arrives until it is restarted, when it boots with
fresh state (``Endpoint.take_over`` hands the hosts' counters to the new core) and starts over
as configured. While a peer is frozen or crashed, its data plane only accounts the traffic
offered to it as dropped (``peer_down``). The gateway's own ICMP stack is sim/icmp.py; the
source address its packets leave with (a multi-exit link switch) is the link's business.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..proto import sa as sa_mod
from ..proto.cpu import Cpu
from ..proto.dpd import DpdMachine
from ..proto.endpoint import Endpoint
from ..proto.events import MessageIgnored, MessageLost
from ..proto.onwire import Datagram
from ..proto.rng import stream
from ..proto.settings import PeerSettings
from ..proto.traffic import EspFluid, EspPacket, FluidFlow, Packet
from .icmp import IcmpEcho, IcmpStack
from .log import EventLog
from .sched import Scheduler
from .sockq import SocketQueues
from .workers import WorkerPool

if TYPE_CHECKING:
    from .link import Link

_PACKET, _FLUID, _ESP = 0, 1, 2
_NOOP, _DPD, _QUIET, _OTHER = range(4)
"""What a core's timer job is to the array traffic path (``PeerNode._kind``)."""


def _due(timers: list[tuple[Any, ...]], t: float) -> list[tuple[Any, ...]]:
    """The jobs of the heap ``timers`` due by ``t`` (a walk of the heap's top, not of all of
    it: the jobs of later instants are below those; in no particular order)."""
    out: list[tuple[Any, ...]] = []
    stack = [0] if timers and timers[0][0] <= t else []
    n = len(timers)
    while stack:
        i = stack.pop()
        out.append(timers[i])
        for k in (2 * i + 1, 2 * i + 2):
            if k < n and timers[k][0] <= t:
                stack.append(k)
    return out


class PeerNode:
    def __init__(self, sched: Scheduler, settings: PeerSettings,
                 make_endpoint: Callable[[PeerSettings, int], Endpoint], link: Link, log: EventLog,
                 seed: int = 0):
        self.sched = sched
        self.name = settings.name
        self.make_endpoint = make_endpoint
        self.boots = 0
        self.ep = make_endpoint(settings, self.boots)
        self.link = link
        self.log = log
        self.inbox: deque[Datagram | tuple[int, Any]] = deque()
        """Items waiting for the worker (only while it computes: ``cpu``)."""
        self.frozen = False
        self.crashed = False
        self.sockets: SocketQueues | None = None
        """While frozen with ``inbound: queue``: what the kernel keeps for the stopped daemon."""
        self.icmp = IcmpStack(self)
        self.offered: dict[str, tuple[FluidFlow, float]] = {}
        """The rate each fluid flow currently offers to this peer (re-offered after a reboot)."""
        self.started = False
        """The endpoint has started (after the faults due at 0 s)."""
        self.retiring: list[Endpoint] = []
        """Endpoints of recreated connections still deleting their SAs (``recreate``)."""
        self.busy = False
        """The worker computes an inbound message (``cpu``); a callback ends it."""
        self._held: tuple[Datagram, int] | None = None
        """A computation that ended while the peer was frozen: it completes when thawed."""
        self._holding = 0
        """While the worker makes a key a request of this peer's own needs (``Cpu.outbound``):
        the token of that work; the core's output waits for it (0: none)."""
        self._tokens = 0
        self._held_out: int | None = None
        """Own work that ended while the peer was frozen: its output leaves when thawed."""
        self._armed: float | None = None
        """The deadline of the pending timer callback (None: none pending)."""
        self._cpu_rng = stream(seed, "cpu", settings.name)
        self._worker: tuple[Endpoint, Cpu] | None = None
        self.window_sas: tuple[Any, ...] | None = None
        """While the array traffic path moves a window whose flows may cross a job that only
        removes a CHILD SA (``quiet_job``): the SAs the window's flows use (sim/train.py);
        None: no such crossing."""
        self._noops: tuple[Endpoint | None, set[int]] = (None, set())
        """The sequence numbers of the core's timer jobs found to be no-ops (``timer_noop``): a
        no-op stays one, so each job is asked once (``_known_noops``)."""
        self.pool: WorkerPool | None = None
        """The gateway's worker threads, shared with the peers at the same address (runner)."""
        link.attach(settings.address, self)

    @property
    def settings(self) -> PeerSettings:
        return self.ep.settings

    @property
    def down(self) -> bool:
        return self.frozen or self.crashed

    @property
    def egress(self) -> str | None:
        """The source address this peer's packets leave from after a link switch (or None)."""
        return self.link.egress.get(self.name)

    def cpu(self) -> Cpu | None:
        """The worker of the current configuration and boot (None: instantaneous)."""
        s = self.ep.settings
        if s.cpu is None:
            return None
        if self._worker is None or self._worker[0] is not self.ep:
            groups = frozenset(a.ikev2_id for p in (*s.ike.proposals, *s.child.proposals) for a in p.dh)
            self._worker = (self.ep, Cpu(s.cpu, self._cpu_rng, groups))
        return self._worker[1]

    # --- what arrives -------------------------------------------------------------------------
    def start(self) -> None:
        """Start the endpoint (scheduled at 0 s after the faults due then)."""
        self.started = True
        self._charged(self.ep.start, self.sched.now)
        self._flush()
        self._step()
        self._arm()

    def deliver(self, dgram: Datagram, sender: str) -> None:
        if isinstance(dgram.message, IcmpEcho):
            self.icmp.receive(dgram)
            return
        if self.down:
            if self.sockets is not None and not self.crashed and self.sockets.offer(dgram):
                return
            from .link import message_fields
            reason = "peer_down" if self.crashed else "peer_frozen" if self.sockets is None else "socket_buffer_full"
            self.log.emit(self.sched.now, sender, MessageLost(
                reason=reason, message=message_fields(dgram.message),
                retransmit=dgram.retransmit, src=dgram.src, dst=dgram.dst))
            return
        self._put(dgram)

    # A host's traffic (a source, the HA controller, a probe) reaches the gateway just after
    # the step that sent it: that step's own events come first.
    def submit_packet(self, pkt: Packet) -> None:
        self.sched.call_later(0.0, self._traffic, _PACKET, pkt)

    def submit_fluid(self, flow: FluidFlow, rate: float) -> None:
        self.sched.call_later(0.0, self._traffic, _FLUID, (flow, rate))

    def deliver_traffic(self, item: EspPacket | EspFluid) -> None:
        self._traffic(_ESP, item)

    def _traffic(self, kind: int, payload: Any) -> None:
        if self.down:  # the data plane accounts it as dropped at once
            self._apply(kind, payload)
            self._flush()
        else:
            self._put((kind, payload))

    def _put(self, item: Datagram | tuple[int, Any]) -> None:
        if self.busy or self.inbox or not self.started:
            self.inbox.append(item)
            return
        if self._process(item):  # the hot path: an idle worker takes it at once
            self._after()

    def _apply(self, kind: int, payload: Any) -> None:
        now = self.sched.now
        if kind == _PACKET:
            self.ep.offer_packet(payload, now)
        elif kind == _FLUID:
            flow, rate = payload
            self.offered[flow.flow] = (flow, rate)
            self.ep.offer_fluid(flow, rate, now)
        else:
            self.ep.receive_traffic(payload, now)

    # --- the worker -------------------------------------------------------------------------
    def _process(self, item: Datagram | tuple[int, Any]) -> bool:
        """Hand one item to the core; False while the worker computes on it (``cpu``). Timer
        jobs due at this instant run first, whichever the event queue produced first
        (docs/timing.md, simultaneous events)."""
        self._due_timers()
        if self._holding:  # a timer job's own work came first: the item waits for it
            self.inbox.appendleft(item)
            return False
        if isinstance(item, tuple):  # traffic: a packet that finds no SA may start a negotiation,
            self._charged(self._apply, *item)  # whose IKE_SA_INIT waits for its key like any other
            return True
        cpu = self.cpu()
        if cpu is not None:
            self.busy = True
            self._compute(cpu.inbound(item.message, item.retransmit), self._computed, item, self.boots)
            return False
        self._receive(item)
        return True

    def _receive(self, dgram: Datagram) -> None:
        owner = next((ep for ep in self.retiring if ep.owns(dgram)), self.ep) if self.retiring else self.ep
        if owner is self.ep:
            self._charged(owner.receive, dgram, self.sched.now)
        else:
            owner.receive(dgram, self.sched.now)

    def _charged(self, step: Callable[..., None], *args: Any) -> None:
        """Run one step of the core; if a request it queued needs a key of this peer's own
        making (``Cpu.outbound``), the worker makes it first: that request and what the step did
        after it leave, start their timers and are stamped when the key is made. Messages the
        step sent before it leave now (strongSwan task_manager_v1.c ``initiate``: aggressive mode
        message 3 is sent, then quick mode is built and makes its PFS key)."""
        cpu = self.cpu()
        if cpu is None:
            step(*args)
            return
        ep = self.ep
        mark = ep.mark()
        step(*args)
        out = ep.since(mark)
        if not out:
            return  # nothing sent (most steps of the data plane)
        sent = [d.message if not d.retransmit else None for d in out]
        first = next((i for i, m in enumerate(sent) if m is not None and cpu.keys_to_make([m]) > 0.0), None)
        if first is None:
            return
        work = cpu.outbound([m for m in sent[first:] if m is not None])
        if work > 0.0:
            split = ep.mark_after(mark, first)
            ep.postpone(split, work)
            # what keeps its instant is logged now, before anything else happens meanwhile
            events, out = ep.release(split)
            self._log(ep, events)
            for d in out:
                self.link.transmit(d, self.name)
            self._tokens += 1
            self._holding = self._tokens
            self.busy = True
            self._compute(work, self._worked, self._tokens)

    def _compute(self, seconds: float, done: Callable[..., None], *args: Any) -> None:
        """Compute on one of the gateway's workers (waiting for a free one), then ``done``."""
        if self.pool is None:
            self.sched.call_later(seconds, done, *args)
        else:
            self.pool.run(seconds, done, *args)

    def _worked(self, token: int) -> None:
        if token != self._holding:
            return  # the gateway rebooted meanwhile: the work is lost
        if self.down:
            self._held_out = token  # a hung gateway finishes when thawed; a crashed one never
            return
        self._holding = 0
        self.busy = False
        self._after()
        self._step()

    def _computed(self, dgram: Datagram, boots: int) -> None:
        if self.down:
            self._held = (dgram, boots)  # a hung gateway finishes when thawed; a crashed one never
            return
        self.busy = False
        if boots == self.boots:  # else the gateway rebooted meanwhile: the work is lost
            self._receive(dgram)
        if self._holding:
            return  # the answer needs a key of its own first (_worked goes on)
        self._after()
        self._step()

    def _step(self) -> None:
        """The worker takes the queued items in order until one needs computing."""
        while self.inbox and not (self.busy or self.down) and self.started:
            if not self._process(self.inbox.popleft()):
                return
            self._after()

    def _resume(self) -> None:
        """Thawed or restarted: finish what the worker held, run the late timers, go on."""
        if self._held is not None:
            dgram, boots = self._held
            self._held = None
            self._computed(dgram, boots)
            return
        if self._held_out is not None:
            token, self._held_out = self._held_out, None
            self._worked(token)
            return
        if self.busy or not self.started:
            return
        self._step()
        self._after()

    # --- the three driver functions -------------------------------------------------------
    def _due_timers(self) -> None:
        now = self.sched.now
        for ep in self.retiring:
            t = ep.get_timer()
            if t is not None and t <= now:
                ep.handle_timer(now)
        t = self.ep.get_timer()
        if t is not None and t <= now:
            self._charged(self.ep.handle_timer, now)

    def _after(self) -> None:
        """After a step: run the core's timers that are due, send, re-arm."""
        if self._holding:
            return  # the worker makes a key first (_worked goes on)
        self._due_timers()
        if self._holding:
            return
        self._flush()
        self._arm()

    def _flush(self) -> None:
        """Send what the cores want sent and record their events (not while the worker makes a
        key the current core's output needs)."""
        if self._holding:
            return
        if self.retiring:  # rare: only after a recreate, until its deletes are done
            for ep in self.retiring:
                self._send(ep)
            self.retiring = [ep for ep in self.retiring if ep.closing()]
        self._send(self.ep)
        traffic = self.ep.take_traffic()
        if traffic:
            for t in traffic:
                self.link.transmit_traffic(t, self.name)

    def _send(self, ep: Endpoint) -> None:
        self._log(ep, ep.take_events())
        for d in ep.take_datagrams():
            self.link.transmit(d, self.name)

    def _log(self, ep: Endpoint, events: list[Any]) -> None:
        if events:
            add = self.log.add
            for ev in events:
                add(ev)
            if self._worker is not None and self._worker[0] is ep:
                self._forget_policies(ep, events)

    def _forget_policies(self, ep: Endpoint, events: list[Any]) -> None:
        """The last CHILD SA deleted takes its policies out of the kernel (strongSwan child_sa.c
        ``destroy`` -> ``del_policies``; the kernel interfaces refcount a policy and remove it with
        its last user): the next CHILD SA installs them again and pays for it (``Cpu``). A trap
        policy (``policy_trap``, ``start: on-traffic``, DPD action ``trap``) stays installed."""
        s = ep.settings
        if s.policy_trap or s.start == "on-traffic" or (s.dpd is not None and s.dpd.action == "trap"):
            return
        if any(ev.event == "child_sa_deleted" for ev in events) and not ep.engine.has_child_sas():
            assert self._worker is not None
            self._worker[1].policies.clear()

    def _arm(self) -> None:
        """One lazy timer: a callback at the core's earliest deadline unless one is pending at
        or before it. A hung or busy peer arms none (thawing or the worker resumes it)."""
        if self.busy or self.frozen or self.crashed:
            return
        jobs = self.ep._timers
        t = jobs[0][0] if jobs else None  # ``get_timer()``
        if self.retiring:
            timers = [x for ep in (self.ep, *self.retiring) if (x := ep.get_timer()) is not None]
            t = min(timers) if timers else None
        if t is None or (self._armed is not None and self._armed <= t):
            return
        self._armed = t
        self.sched.call_at(t, self._on_timer, t)

    def _on_timer(self, t: float) -> None:
        if self._armed != t:
            return  # superseded by an earlier deadline (which re-armed what is still due)
        self._armed = None
        if self.busy or self.down:
            return  # the worker or the thaw runs the timers
        self._after()

    def timer_superseded(self, t: float, listed: list[tuple[float, PeerNode]]) -> bool:
        """Whether the loop will find this peer's pending timer callback for ``t`` stale: an
        earlier deadline superseded it (``_armed`` < ``t``: the callback at ``_armed`` runs
        first, and only what it re-arms can make the one at ``t`` live again), or it is a
        second callback at the instant of one already ``listed`` (each run of ``_arm`` after a
        timer schedules one at the core's earliest job, whether or not one is pending there:
        the first runs the jobs, the others find the deadline moved on). The array traffic
        path plans a window across it (``Trains._horizon``): its crossings re-arm the peer's
        timer from the core's jobs as the loop would, so a job at ``t`` still ends the window
        or is crossed (sim/dpd_rows.py)."""
        return (self._armed is not None and self._armed < t) or (t, self) in listed

    def timer_idle(self, t: float, now: bool) -> bool:
        """Whether the live callback armed for ``t`` would only re-arm dead peer detection or do
        nothing: every job due then is a DPD timer that finds a stale hint (the peer was heard
        from since) or a job the engine declares a no-op at its instant (``timer_noop``: a
        deleted CHILD SA's lifetime, an answered request's retransmission), the earliest at
        ``t``; and the data plane's refresh after them cannot act either: no packets queued,
        every fluid flow on an SA (a trap policy's ACQUIRE retry, a re-route, need one off
        an SA). ``now``: ask DPD's machine as it is now; else only whether it is DPD's job (the
        array traffic path plans a window across it, sim/train.py). A no-op stays one: its
        SA or request does not come back. Inside a window that allows it (``window_sas``), a
        job that only removes a CHILD SA the window's flows do not use (``quiet_job``) counts
        as one of those too: its event is logged when it runs ahead (``run_ahead``)."""
        if self._armed != t or self.busy or self.down or self.retiring or self._holding or not self.started:
            return False
        timers = self.ep._timers
        if not timers or timers[0][0] != t:  # the heap's first job is the earliest
            return False
        due = _due(timers, t)
        check, noop = self._asks()
        seen = self._known_noops()
        dpd = 0
        for job in due:
            kind = self._kind(job, seen, check, noop)
            if kind == _OTHER:
                return False
            if kind == _DPD:
                if now and not check(job[2], job[3], t):  # type: ignore[misc]
                    return False
                dpd += 1
        if dpd == len(due) == 1:
            return True  # DPD's one job (the refresh after it: ``chain_jobs``, run_ahead checks)
        if dpd > 1:
            return False
        return self._refresh_inert()

    def _refresh_inert(self) -> bool:
        """Whether the data plane's refresh after a timer job cannot act: no packets queued,
        every fluid flow on an SA (a trap policy's ACQUIRE retry, a re-route, need one off an SA)."""
        plane = self.ep.traffic
        return not plane.queue and all(loc.rate <= 0 or (loc.route is not None and loc.route[0] == "sa")
                                       for loc in plane.local.values())

    def quiet_job(self, job: tuple[Any, ...]) -> bool:
        """Whether the core's timer job only removes a CHILD SA (``engine.timer_removes``: a
        rekeyed SA's inbound half at the end of delete_rekeyed_delay) that the array traffic
        path's window may cross (``window_sas`` set): none of the window's flows uses the SA,
        no fluid flow is routed on it, so nothing in the window changes; the refresh after it
        forgets the SA and its meters."""
        sas = self.window_sas
        removes = getattr(self.ep.engine, "timer_removes", None)
        if sas is None or removes is None:
            return False
        child = removes(job[2], job[3], job[0])
        if child is None or any(child is x for x in sas):
            return False
        plane = self.ep.traffic
        for flows in (plane.local, plane.arrivals):
            for x in flows.values():
                r = x.route
                if r is not None and r[1] is child:
                    return False
        return True

    def _chainable(self) -> bool:
        """Whether the live timer callback is one the array traffic path may chain ahead: armed,
        the peer up, started and idle."""
        return not (self._armed is None or self.busy or self.down or self.retiring or self._holding
                    or not self.started)

    def next_other_timer(self) -> float:
        """The earliest of the core's timer jobs that is neither dead peer detection's nor a
        no-op (``timer_noop``): a volume limit's crossing, a rekey, ...: the array traffic path
        plans no window past it."""
        check, noop = self._asks()
        seen = self._known_noops()
        out = float("inf")
        for job in self.ep._timers:
            if job[0] < out and self._kind(job, seen, check, noop) == _OTHER:
                out = job[0]
        return out

    def _asks(self) -> tuple[Callable[..., bool | None] | None, Callable[..., bool] | None]:
        """The engine's ``dpd_timer_idle`` and ``timer_noop`` (None where it has none)."""
        eng = self.ep.engine
        return getattr(eng, "dpd_timer_idle", None), getattr(eng, "timer_noop", None)

    def _kind(self, job: tuple[Any, ...], seen: set[int], check: Callable[..., bool | None] | None,
              noop: Callable[..., bool] | None) -> int:
        """What the core's timer job is to the array traffic path: a no-op (``timer_noop``,
        asked once per job: a no-op stays one; a gone IKE SA's DPD job among them), one of
        dead peer detection's (``dpd_timer_idle``), a removal a window may cross
        (``quiet_job``), or another (it ends a window). The one classification of
        ``timer_idle``, ``next_other_timer`` and ``chain_jobs``."""
        if job[1] in seen:
            return _NOOP
        if noop is not None and noop(job[2], job[3], job[0]):
            seen.add(job[1])
            return _NOOP
        if check is not None and check(job[2], job[3], job[0]) is not None:
            return _DPD
        return _QUIET if self.quiet_job(job) else _OTHER

    def run_ahead(self, t: float, arm: bool = True) -> None:
        """Run the timer callback of ``t`` now, ``timer_idle(t, now=True)`` having said it only
        re-arms (or removes a CHILD SA the window does not use, ``quiet_job``: its event is
        logged now, as ``_after`` would): the scheduler's clock is set to ``t`` by the caller.
        The callback left in the scheduler is stale from here on (``_armed`` moved). ``arm``
        false: the peer's next callback is not scheduled, ``_armed`` is left at the core's earliest
        job (a chain of sim/dpd_rows.py goes on from there and schedules it, ``rearm_ahead``)."""
        ep = self.ep
        seen = self._known_noops()
        quiet = self.window_sas is not None and any(job[1] not in seen and self.quiet_job(job)
                                                    for job in _due(ep._timers, t))
        self._armed = None
        plane = ep.traffic
        if quiet or ep.retired or plane.verify_cache or plane._dirty or plane._read_at != sa_mod.route_epoch \
                or not self._refresh_inert():
            self._due_timers()
        else:  # ``handle_timer`` without the data plane's refresh, which would find every route as it is
            self._jobs_ahead(ep, plane, self.sched.now)
        if ep._out or ep.traffic._out or self.busy or self._holding or (
                ep._events and not (quiet and all(ev.event == "child_sa_deleted" for ev in ep._events))):
            raise AssertionError(f"{self.name}: a timer run ahead at {t!r} did more than re-arm")
        if ep._events:
            self._flush()
        if arm:
            self._arm()
        else:
            self._armed = ep.get_timer()

    @staticmethod
    def _jobs_ahead(ep: Endpoint, plane: Any, now: float) -> None:
        """Run the core's jobs due at ``now`` (DPD's stale re-arms, no-ops) as ``handle_timer``
        does, where no SA changed since the data plane last read them (``sa.route_epoch``),
        nothing is queued and every fluid flow is on an SA: its refresh would re-route every
        flow where it is. If a job changed an SA after all, the refresh runs."""
        timers = ep._timers
        if not timers or timers[0][0] > now:
            return
        ep.now = now
        while timers and timers[0][0] <= now:
            _, _, fn, args = heapq.heappop(timers)
            fn(now, *args)
        if plane._dirty or plane._read_at != sa_mod.route_epoch:
            plane.refresh(now)

    def chain_jobs(self, until: float) -> tuple[tuple[Any, DpdMachine, tuple[Any, ...]] | None, list[tuple[Any, ...]],
                                                list[tuple[Any, ...]], float] | None:
        """Whether the live timer callback runs only jobs the array traffic path may chain
        ahead (sim/dpd_rows.py): dead peer detection's one live job, whose stale re-arms the
        chain runs (``rearm_ahead``); jobs that do nothing (``timer_noop``: a gone IKE SA's DPD
        job among them); jobs that only remove a CHILD SA (``quiet_job``); the earliest of them
        is the one armed, before any other job. Returns DPD's SA, machine and job (None: no DPD
        job pending), the no-op jobs and the removals due up to ``until``, by instant, and the
        instant of the earliest other job; None if not (several live DPD jobs, the engine says
        no: ``Liveness.rearm_target``, or a fluid flow not on an SA, which the data plane's
        refresh after a timer could re-route). One pass over the core's jobs."""
        if not self._chainable() or not self._refresh_inert():
            return None
        ep, eng = self.ep, self.ep.engine
        check, noop = self._asks()
        if check is None:
            return None
        seen = self._known_noops()
        noops: list[tuple[Any, ...]] = []
        quiets: list[tuple[Any, ...]] = []
        dpd: list[tuple[Any, ...]] = []
        first = other = float("inf")
        for job in ep._timers:
            t = job[0]
            kind = self._kind(job, seen, check, noop)
            if kind == _OTHER:
                other = min(other, t)
                continue
            if kind == _DPD:
                dpd.append(job)
            elif t <= until:
                (noops if kind == _NOOP else quiets).append(job)
            first = min(first, t)
        if len(dpd) > 1 or first != self._armed or other <= first:
            return None
        chain = None
        if dpd:
            target = getattr(getattr(eng, "liveness", None), "rearm_target", None)
            got = None if target is None else target(dpd[0][2], dpd[0][3])
            if got is None:
                return None
            chain = (got[0], got[1], dpd[0])
        noops.sort()
        quiets.sort()
        return chain, noops, quiets, other

    def _known_noops(self) -> set[int]:
        """The current core's timer jobs known to be no-ops, by sequence number (a job's
        ``(t, seq, fn, args)``: ``postpone`` moves ``t``, never ``seq``); those no longer pending
        are dropped now and then."""
        ep, seen = self._noops
        if ep is not self.ep:
            seen = set()
            self._noops = (self.ep, seen)
        elif len(seen) > 64 and len(seen) > 2 * len(self.ep._timers):
            seen.intersection_update(job[1] for job in self.ep._timers)
        return seen

    def rearm_ahead(self, chain: tuple[Any, DpdMachine, tuple[Any, ...]] | None, times: list[float],
                    next_check: float | None, due: float | None, noops: list[tuple[Any, ...]] | None = None,
                    arm: bool = True) -> tuple[Any, ...] | None:
        """Run dead peer detection's timers at ``times`` ahead as one input: each a stale hint
        that only re-arms, the next at the deadline the one before left (``chain_jobs``,
        ``DpdMachine.rearm_step``), the last leaving ``due`` (and, check job, ``next_check``).
        The machine records them as one run (``rearm_run``), its job moves to ``due`` as the
        engine would arm it, and this peer's timer is re-armed once, as after running the last
        (the caller sets the scheduler's clock to it). The callbacks of ``times`` are not
        scheduled (each would find itself stale). ``noops``: the jobs that do nothing run on
        the way (``chain_jobs``; ``times`` may then be empty): they leave the core's heap. What a
        timer job does besides, the data plane's refresh, changes nothing here: no SA changed,
        every fluid flow is on one. ``arm`` false: not re-armed (a chain that goes on from here).
        Returns DPD's job as it is left (None: none)."""
        ep = self.ep
        for x in noops or ():
            ep.cancel(x)
        left = None if chain is None else chain[2]
        if times:
            assert chain is not None
            sa, m, job = chain
            m.rearm_run(times, next_check)
            ep.now = times[-1]
            ep.cancel(job)
            sa.dpd_armed = left = None
            if due is not None:
                left = ep.schedule(due, job[2], *job[3])
                sa.dpd_armed = due
        if noops:
            ep.now = max(ep.now, noops[-1][0])
        if arm:
            self._armed = None
            self._arm()
        return left

    # --- faults (sim/faults.py) ----------------------------------------------------------------
    def freeze(self, queue: bool = False, buffer: int | None = None) -> None:
        """Stop the peer: a hung box (its datagrams are lost) or, with ``queue``, a stopped
        process whose kernel keeps what arrives, up to ``buffer`` bytes per socket."""
        self.frozen = True
        if queue and self.sockets is None:
            self.sockets = SocketQueues(buffer)
        self.ep.set_frozen(True, self.sched.now)
        self._flush()

    def unfreeze(self) -> None:
        if self.frozen:
            self.frozen = False
            self.ep.set_frozen(False, self.sched.now)
            self._flush()
            sockets, self.sockets = self.sockets, None
            if sockets is not None:
                self._read_queued(sockets)
            self._resume()

    def _read_queued(self, sockets: SocketQueues) -> None:
        """The thawed daemon reads what its sockets queued (sim/sockq.py): the worker takes it in
        that order; a copy of a request read with its original is ignored."""
        from .link import message_fields
        for dgram, copy in sockets.drain():
            if copy:
                self.log.emit(self.sched.now, self.name, MessageIgnored(reason="already processing", message={
                    **message_fields(dgram.message), "retransmit": dgram.retransmit, "src": dgram.src,
                    "dst": dgram.dst}))
            else:
                self.inbox.append(dgram)

    def crash(self) -> None:
        self.crashed = True
        self.sockets = None  # the process is gone, and its sockets with it
        self.retiring.clear()  # state lost: nothing finishes its deletes
        self.ep.set_frozen(True, self.sched.now, crashed=True)
        self._flush()

    def restart(self, settings: PeerSettings | None = None, reboot: bool = False) -> None:
        """Boot with fresh state: new SPIs, nonces and keys from a new random stream. A
        ``reboot`` (the gateway restarts) also loses what a recreated connection was still
        deleting; a recreate keeps it."""
        old, now = self.ep, self.sched.now
        if reboot:
            self.retiring.clear()
        self.boots += 1
        if self._holding:  # the key the old core waited for is lost with it
            self._holding, self._held_out, self.busy = 0, None, False
        new = self.make_endpoint(settings or old.settings, self.boots)
        new.take_over(old, now, "peer_down" if reboot else "no_sa")
        self._flush()
        self.ep = new
        self.crashed = False
        if self.started:  # before the first step the runner starts the endpoint itself
            self._charged(self.ep.start, now)
        for flow, rate in self.offered.values():
            self.ep.offer_fluid(flow, rate, now)
        self._flush()
        self._resume()

    def recreate(self, settings: PeerSettings | None = None) -> None:
        """The connection is deleted (its SAs deleted, the peer told) and created again, with
        ``settings`` if given: it starts over from fresh state, as after a restart. The gateway
        runs (config/topology.py refuses a recreate while it is crashed or frozen)."""
        assert not (self.crashed or self.frozen), f"{self.name}: recreate of a gateway that does not run"
        old = self.ep
        old.close(self.sched.now)
        self._flush()
        self.restart(settings)
        if old.closing():
            self.retiring.append(old)  # its Delete exchanges run on beside the new connection
            self._arm()  # its deadlines join the one timer

    def reconfigure(self, settings: PeerSettings) -> None:
        """A configuration change on this side only; it applies to the next negotiation."""
        self.ep.reconfigure(settings)

    def change_address(self, address: str) -> None:
        """Multi-exit link switch: from now on this peer's packets leave from ``address`` (the
        other uplink's source NAT); the peer itself is not told. Packets to either address
        still reach it."""
        self.link.set_egress(self.name, address)
        self.link.attach(address, self)

    def revoke_route(self, revoked: bool) -> None:
        """Withdraw (or restore) this peer's route to the remote subnets (health check policy)."""
        self.ep.advance(self.sched.now)
        self.ep.traffic.route_revoked = revoked
        self.ep.traffic.refresh(self.sched.now)
        self._flush()

    def finish(self) -> None:
        """End of the run: the data plane settles its counters and open drop intervals."""
        self.ep.finish(self.sched.now)
        for ep in [*self.retiring, self.ep]:
            for ev in ep.take_events():
                self.log.add(ev)
