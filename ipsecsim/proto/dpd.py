"""Dead peer detection as one state machine table (RFC 3706, RFC 7296 2.4, vendor documents).

One machine watches one IKE SA. It knows when the peer was last heard from and decides when
to probe and when the peer is dead; the version engine sends the probes (IKEv2: an empty
INFORMATIONAL request; IKEv1: R-U-THERE) and reports what comes back.

Modes (RFC 3706 section 5.3 "worry metric"; Huawei Cloud DPD FAQ):
  * ``periodic``  - probe whenever nothing was received for ``delay`` seconds;
  * ``on-demand`` - probe only when there is outbound traffic to send and nothing was
    received for ``delay`` seconds.

Styles, i.e. what happens after the first probe:
  * ``liveness`` (IKEv2, RFC 7296 2.4): the probe is a normal request, retransmitted on the
    normal schedule (or a DPD-specific one); the peer is dead when that schedule gives up
    (strongSwan: dead at last inbound + dpd_delay + 165 s with the default schedule).
  * ``retry`` (IKEv1, Huawei ``ike dpd``): a new probe every ``retry_interval`` until
    ``retries`` have gone unanswered. ``count`` says how to read "retries": ``probes`` -
    that many probes in all (Huawei Cloud FAQ: "3 failed probes", detection 30 + 3 x 15 =
    75 s) or ``retransmissions`` - one probe plus that many retransmissions (USG command
    reference: retry-limit is the maximum number of retransmissions, 30 + 4 x 15 = 90 s).
  * ``timeout`` (strongSwan IKEv1): a probe every ``delay`` while idle, never retransmitted;
    dead when ``timeout`` passes without anything received.

The table ``TRANSITIONS`` maps (state, input) to a handler and its outcomes: the handler
updates the machine's clocks and counters and returns its verdict (nothing new, probe, dead);
the verdict picks the outcome, i.e. the actions the engine must carry out and the next state.
No handler sets the state. A missing (state, input) is a programming error, raised as
``fsm.TransitionError`` naming the machine, the state and the input (h11 style).
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from . import timers
from .fsm import TransitionError

HISTORY = 256


class DpdState(enum.Enum):
    WATCHING = "watching"  # heard from the peer recently enough, or waiting for traffic (on-demand)
    PROBING = "probing"  # a probe is outstanding
    DEAD = "dead"


class DpdInput(enum.Enum):
    TIMER = "timer"  # the machine's deadline has passed
    INBOUND = "inbound"  # an authenticated message (or counted ESP) arrived from the peer
    TRAFFIC = "traffic"  # this side has outbound traffic to send
    ACK = "ack"  # the probe was answered
    GAVE_UP = "gave_up"  # liveness style: the retransmission schedule of the probe gave up
    FAILED = "failed"  # an exchange of the IKE SA gave up: it cannot carry requests any more
    RESUME = "resume"  # action none: the verdict was reported, watch again


class Act(enum.Enum):
    PROBE = "probe"  # send a probe (the machine has counted it in ``probes``)
    DEAD = "dead"  # declare the peer dead and apply ``action``
    ACKED = "acked"  # report the acknowledgement


class Verdict(enum.Enum):
    """What a handler decided, where a row has more than one outcome."""

    NONE = "none"  # nothing new: the row's plain outcome
    PROBE = "probe"  # a probe is due (the handler counted it in ``probes``)
    DEAD = "dead"  # the peer is dead


@dataclass(frozen=True, slots=True)
class DpdSettings:
    mode: str = "periodic"  # periodic | on-demand
    delay: float = 30.0  # idle time before probing (strongSwan dpd_delay, Huawei interval/idle-time)
    style: str = "liveness"  # liveness | retry | timeout
    retry_interval: float = 15.0  # retry style: wait for an answer before the next probe
    retries: int = 3  # retry style
    count: str = "probes"  # retry style: probes | retransmissions
    timeout: float = 150.0  # timeout style (strongSwan IKEv1 dpd_timeout)
    action: str = "clear"  # clear | hold | trap | restart | none
    gave_up_deletes: bool = False  # a dead verdict deletes the IKE SA even with action none (strongSwan)
    esp_resets_idle: bool | str = True  # inbound ESP counts as proof of life; "udp-encap": only ESP-in-UDP
    schedule: tuple[float, ...] | None = None  # liveness: DPD-specific retransmission waits
    check: str = "idle"  # idle | strongswan: when a periodic check looks (see ``DpdMachine.deadline``)

    def __post_init__(self) -> None:
        if self.mode not in ("periodic", "on-demand"):
            raise ValueError(f"DPD mode {self.mode!r}: allowed periodic, on-demand")
        if self.style not in ("liveness", "retry", "timeout"):
            raise ValueError(f"DPD style {self.style!r}: allowed liveness, retry, timeout")
        if self.count not in ("probes", "retransmissions"):
            raise ValueError(f"DPD count {self.count!r}: allowed probes, retransmissions")
        if self.check not in ("idle", "strongswan"):
            raise ValueError(f"DPD check {self.check!r}: allowed idle, strongswan")

    @property
    def check_job(self) -> bool:
        """strongSwan's periodic check job applies (``check="strongswan"``, periodic mode,
        liveness or timeout style)."""
        return self.check == "strongswan" and self.mode == "periodic" and self.style in ("liveness", "timeout")

    @property
    def total_probes(self) -> int:
        """Retry style: probes sent before the peer is declared dead."""
        return self.retries if self.count == "probes" else self.retries + 1

    def detection_time(self) -> float | None:
        """Retry style: seconds from the last inbound packet to the verdict, on a dead link."""
        if self.style == "retry":
            return self.delay + self.total_probes * self.retry_interval
        if self.style == "timeout":
            return self.timeout
        return None


@dataclass(slots=True)
class HistoryEntry:
    """One input that moved the machine (a new state, an action, or any input but a steady
    INBOUND / TRAFFIC), then how many steady INBOUND and TRAFFIC inputs followed it (inputs
    that changed nothing but the idle clock) and the instant of the latest. Counting them
    keeps the history of a machine fed every ESP packet short, and the same whether the
    packets are fed one by one or a window at a time (``DpdMachine.feed_steady``).

    A run of stale re-arms (``TIMER`` inputs that find the peer heard from since the deadline
    was set: ``DpdMachine.stale_timer``, with only steady inputs between them) is one entry
    too: ``rearms`` of them, the first at ``t``, the latest at ``until``; fed one by one
    (``handle``) or as one input (``rearm_run``, the array traffic path)."""

    t: float
    label: str
    inbound: int = 0
    traffic: int = 0
    last: float = -math.inf
    rearms: int = 0
    until: float = -math.inf


@dataclass(slots=True)
class DpdMachine:
    cfg: DpdSettings
    last_inbound: float
    state: DpdState = DpdState.WATCHING
    probes: int = 0  # probes sent in the current round
    last_probe: float | None = None
    traffic_waiting: bool = False  # on-demand: outbound traffic since the peer went quiet
    traffic_flowing: bool = False  # on-demand: a continuous (fluid) flow is active
    inbound_flowing: bool = False  # a continuous (fluid) flow arrives from the peer: never idle
    history: deque[HistoryEntry] = field(default_factory=lambda: deque(maxlen=HISTORY))
    """The last inputs that moved the machine, each with the count of steady inputs after it
    (bounded: every inbound / outbound packet can be an input)."""
    busy: bool = False
    """Check job: the engine sets it before ``TIMER`` when an exchange is in flight on the SA."""
    next_check: float | None = None
    """Check job: when the next check runs (strongSwan ``send_dpd_job``)."""
    timeouts: deque[tuple[float, int]] = field(default_factory=deque)
    """Check job, timeout style: pending (due, whole second of the probe) verdicts, strongSwan
    IKEv1 ``dpd_timeout_job`` (one per probe)."""

    def __post_init__(self) -> None:
        if self.cfg.check_job:
            # ike_sa.c set_state(IKE_ESTABLISHED): STAT_INBOUND = STAT_ESTABLISHED, then send_dpd()
            # finds diff = 0 and schedules the next check dpd_delay later
            self.next_check = self.last_inbound + self.cfg.delay

    # --- the table --------------------------------------------------------------------------
    def handle(self, inp: DpdInput, now: float) -> list[Act]:
        """Feed one input: the row of (state, input) runs its handler, whose verdict picks the
        row's outcome: the actions to carry out and the next state."""
        try:
            handler, outcomes = TRANSITIONS[(self.state, inp)]
        except KeyError:
            raise TransitionError("DPD", self.state, inp) from None
        stale = inp is DpdInput.TIMER and self.state is DpdState.WATCHING and self.stale_timer(now)
        verdict = handler(self, now)
        if verdict not in outcomes:
            raise RuntimeError(f"DPD: the row ({self.state.value}, {inp.value}) has no outcome for verdict "
                               f"{verdict.value}")
        before = self.state
        acts, self.state = outcomes[verdict]
        if stale and not acts and self.state is before:
            self._rearmed(now, now, 1)
        elif acts or self.state is not before or inp not in _STEADY_INPUTS:
            self.history.append(HistoryEntry(now, f"{inp.value}->{self.state.value}"))
        else:
            self._count(inp is DpdInput.INBOUND, 1, inp is DpdInput.TRAFFIC, 1, now)
        return list(acts)

    def _rearmed(self, first: float, until: float, n: int) -> None:
        """``n`` stale re-arms, from ``first`` to ``until``: they join the run the history ends
        with, if it ends with one (only steady inputs came since), else start one."""
        h = self.history[-1] if self.history else None
        if h is None or not h.rearms:
            h = HistoryEntry(first, f"{DpdInput.TIMER.value}->{self.state.value}")
            self.history.append(h)
        h.rearms += n
        h.until = until

    def _count(self, inbound: bool, n_in: int, traffic: bool, n_out: int, now: float,
               first: float | None = None) -> None:
        """Steady inputs, the latest at ``now`` (the first at ``first``, where a run of them is
        fed as one): they join the history's last entry, or start it."""
        if not self.history:
            self.history.append(HistoryEntry(now if first is None else first, f"steady->{self.state.value}"))
        h = self.history[-1]
        if inbound:
            h.inbound += n_in
        if traffic:
            h.traffic += n_out
        h.last = now

    # --- a window of ESP packets as one input -----------------------------------------------
    def steady_gap(self) -> float | None:
        """Whether a row of INBOUND and TRAFFIC inputs can be fed as one (``feed_steady``):
        None if not (a probe is outstanding: the first INBOUND ends the round); ``inf`` if no
        such row can make the machine act; otherwise the idle time ``g`` such that the row is
        steady while each TRAFFIC comes less than ``g`` after the latest INBOUND before it
        (on-demand: traffic after ``delay`` of silence sends a probe). The caller checks that
        the timer of ``deadline`` is armed no later than it (a row only moves it later)."""
        if self.state is DpdState.DEAD:
            return math.inf
        if self.state is not DpdState.WATCHING:
            return None
        return self.cfg.delay if self.cfg.mode == "on-demand" else math.inf

    def stale_timer(self, now: float) -> bool:
        """Whether ``TIMER`` at ``now`` only finds a stale hint (the peer was heard from since
        the deadline was set): no action, no change but the history, and ``deadline`` later."""
        c = self.cfg
        if self.state is not DpdState.WATCHING:
            return False
        if c.check_job:  # strongSwan's check job: nothing due, and heard within dpd_delay (``_check_job``)
            if self.timeouts and self.timeouts[0][0] <= now:
                return False
            last = now if self.inbound_flowing else self.last_inbound
            return timers.whole_seconds(now) - timers.whole_seconds(last) < c.delay
        return self.inbound_flowing or now < self.last_inbound + c.delay

    def rearm_step(self, now: float, last_in: float, next_check: float | None
                   ) -> tuple[float | None, float | None] | None:
        """What ``TIMER`` at ``now`` would leave, computed without changing the machine, with the
        idle clock at ``last_in`` (the steady inputs before ``now`` fed) and, check job, the next
        check at ``next_check``: None if it would do more than re-arm (``stale_timer`` false, or
        an inbound flow feeds the clock); else (the ``deadline`` it leaves, ``next_check`` after
        it). Chained from one deadline to the next, it gives a run of stale re-arms
        (``rearm_run``): the idle rule's t(k+1) = last inbound before t(k) + ``delay``; the check
        job's t(k+1) = t(k) + ``delay`` - (whole seconds from the last inbound to t(k))."""
        c = self.cfg
        if self.state is not DpdState.WATCHING or self.inbound_flowing:
            return None
        if c.check_job:  # ``_check_job`` with nothing due, the task manager idle and diff < delay
            if self.timeouts and self.timeouts[0][0] <= now:
                return None
            diff = timers.whole_seconds(now) - timers.whole_seconds(last_in)
            if diff >= c.delay:
                return None
            if next_check is not None and now >= next_check:
                next_check = now + c.delay - diff
            if next_check is None:
                return None, None
            return (min(next_check, self.timeouts[0][0]) if self.timeouts else next_check), next_check
        if now >= last_in + c.delay:  # ``_idle_timer``: a stale hint only before the idle time
            return None
        return (last_in + c.delay if c.mode == "periodic" or self.traffic_flowing else None), next_check

    def rearm_run(self, times: Sequence[float], next_check: float | None) -> None:
        """``TIMER`` at each of ``times`` (in order), each a stale hint that only re-arms, as
        ``rearm_step`` chained them, with only steady inputs between them (fed with
        ``feed_steady`` around this call, in time order), the task manager idle (``busy``
        false, as the engine sets it before each): the history records them as one run (as
        ``handle`` does one by one) and, check job, the next check is ``next_check``, as the
        last of them left it. Nothing else changes: a stale ``TIMER`` moves no clock."""
        if not times:
            return
        if self.state is not DpdState.WATCHING:
            raise RuntimeError(f"DPD: a run of stale re-arms fed while {self.state.value}")
        self.busy = False
        self._rearmed(times[0], times[-1], len(times))
        if self.cfg.check_job:
            self.next_check = next_check

    def feed_steady(self, n_in: int, t_in: float, n_out: int, t_out: float, out_last: bool,
                    first_in: float | None = None, first_out: float | None = None) -> None:
        """``n_in`` INBOUND inputs (the latest at ``t_in``, the first at ``first_in``) and
        ``n_out`` TRAFFIC inputs (the latest at ``t_out``, the first at ``first_out``),
        interleaved in time order, the very last a TRAFFIC if ``out_last``; for a row that
        ``steady_gap`` allows. The same clocks, flags and history
        as feeding them one by one with ``handle``: INBOUND only moves the idle clock forward
        (and clears ``traffic_waiting``), TRAFFIC only sets ``traffic_waiting`` (on-demand)."""
        if not (n_in or n_out):
            return
        if self.steady_gap() is None:
            raise RuntimeError(f"DPD: a row of inputs fed as one while {self.state.value}")
        if self.state is DpdState.WATCHING:
            if n_in:
                self.last_inbound = max(self.last_inbound, t_in)
            if self.cfg.mode == "on-demand" and n_out:
                self.traffic_waiting = out_last or not n_in
            elif n_in:
                self.traffic_waiting = False
        last = max(t_in if n_in else -math.inf, t_out if n_out else -math.inf)
        f_in = (t_in if first_in is None else first_in) if n_in else math.inf
        f_out = (t_out if first_out is None else first_out) if n_out else math.inf
        first = min(f_in, f_out)
        self._count(n_in > 0, n_in, n_out > 0, n_out, last, first)

    def fail(self, now: float) -> list[Act]:
        """The liveness exchange itself failed (its retransmissions gave up): whatever the idle
        clock says, the IKE SA can no longer carry requests, so the peer is treated as dead
        (RFC 7296 2.4). Returns [DEAD] unless already dead."""
        return self.handle(DpdInput.FAILED, now)

    def resume(self, now: float) -> None:
        """Action ``none`` on a vendor that keeps the SAs: the verdict is reported and the
        machine watches again, its idle clock starting now, so it probes after ``delay`` of
        further silence (RFC 3706 / RFC 7296 2.4 checks liveness while the SA exists)."""
        self.handle(DpdInput.RESUME, now)

    def deadline(self) -> float | None:
        """When the machine wants ``TIMER``; None if only an input can move it."""
        c = self.cfg
        if c.check_job:
            if self.state is DpdState.DEAD or self.next_check is None:
                return None
            return min(self.next_check, self.timeouts[0][0]) if self.timeouts else self.next_check
        if self.state is DpdState.WATCHING:
            if self.inbound_flowing:
                return None
            if c.mode == "periodic" or self.traffic_flowing:
                return self.last_inbound + c.delay
            return None
        if self.state is DpdState.PROBING:
            assert self.last_probe is not None
            if c.style == "retry":
                return self.last_probe + c.retry_interval
            if c.style == "timeout":
                return min(self.last_probe + c.delay, self.last_inbound + c.timeout)
            return None  # liveness: the task manager's retransmission schedule decides
        return None

    # --- handlers: each returns its verdict, the row's outcome to apply ----------------------
    def _heard(self, now: float) -> Verdict:
        self.last_inbound = max(self.last_inbound, now)
        self.traffic_waiting = False
        return Verdict.NONE

    def _answered(self, now: float) -> Verdict:
        """Proof of life while probing: the round is over."""
        self._heard(now)
        self.probes, self.last_probe = 0, None
        return Verdict.NONE

    def _resume(self, now: float) -> Verdict:
        self.probes, self.last_probe = 0, None
        self.last_inbound = max(self.last_inbound, now)
        self.traffic_waiting = False
        self.timeouts.clear()
        if self.cfg.check_job:
            self.next_check = now + self.cfg.delay
        return Verdict.NONE

    def _check_job(self, now: float) -> Verdict:
        """strongSwan 5.9.8 ``src/libcharon/sa/ike_sa.c`` ``send_dpd()``, run as a job every
        ``dpd_delay``: if the task manager is busy, ``diff = 0``; otherwise ``diff = now -
        last_in`` in whole seconds of ``time_monotonic()``, and when ``diff >= dpd_delay`` a DPD
        is queued and ``diff = 0``; the next check runs ``dpd_delay - diff`` later. So the checks
        keep the cadence of the establishment, not of the last answer. IKEv1
        (``src/libcharon/sa/ikev1/task_manager_v1.c`` ``queue_dpd()``): each R-U-THERE schedules a
        verdict ``dpd_timeout - dpd_delay`` later that enforces the DPD action when nothing
        arrived since the whole second the probe was sent in
        (``processing/jobs/dpd_timeout_job.c``: ``use_time < this->check``)."""
        c = self.cfg
        while self.timeouts and self.timeouts[0][0] <= now:
            _, check = self.timeouts.popleft()
            if not self.inbound_flowing and timers.whole_seconds(self.last_inbound) < check:
                return Verdict.DEAD
        verdict = Verdict.NONE
        if self.next_check is not None and now >= self.next_check:
            diff = 0
            # task_manager_v2 busy(): an exchange (our liveness check among them) is in flight
            busy = self.busy or (self.state is DpdState.PROBING and c.style == "liveness")
            if not busy:
                last = now if self.inbound_flowing else self.last_inbound
                diff = timers.whole_seconds(now) - timers.whole_seconds(last)
                if diff >= c.delay:
                    verdict = self._probe(now)
                    diff = 0
                    if c.style == "timeout":
                        # now + (timeout - delay): the verdict that falls on a later check's
                        # instant must compare equal to it, not one float ulp later
                        self.timeouts.append((now + (c.timeout - c.delay), timers.whole_seconds(now)))
            self.next_check = now + c.delay - diff
        return verdict

    def _idle_timer(self, now: float) -> Verdict:
        if self.cfg.check_job:
            return self._check_job(now)
        if self.inbound_flowing or now < self.last_inbound + self.cfg.delay:
            return Verdict.NONE  # a stale hint: the peer was heard from since
        if self.cfg.mode == "on-demand" and not (self.traffic_waiting or self.traffic_flowing):
            return Verdict.NONE
        return self._probe(now)

    def _traffic(self, now: float) -> Verdict:
        if self.cfg.mode != "on-demand":
            return Verdict.NONE
        self.traffic_waiting = True
        if now >= self.last_inbound + self.cfg.delay:
            return self._probe(now)
        return Verdict.NONE

    def _probe(self, now: float) -> Verdict:
        self.probes += 1
        self.last_probe = now
        return Verdict.PROBE

    def _probing_timer(self, now: float) -> Verdict:
        c = self.cfg
        if c.check_job:
            return self._check_job(now)
        assert self.last_probe is not None
        if c.style == "retry":
            if now < self.last_probe + c.retry_interval:
                return Verdict.NONE
            if self.probes >= c.total_probes:
                return Verdict.DEAD
            return self._probe(now)
        if c.style == "timeout":
            if now >= self.last_inbound + c.timeout:
                return Verdict.DEAD
            if now >= self.last_probe + c.delay:
                return self._probe(now)
            return Verdict.NONE
        return Verdict.NONE

    def _nothing(self, now: float) -> Verdict:
        return Verdict.NONE


_STEADY_INPUTS = (DpdInput.INBOUND, DpdInput.TRAFFIC)

Handler = Callable[[DpdMachine, float], "Verdict"]
Outcomes = Mapping["Verdict", tuple[tuple[Act, ...], DpdState]]

_W, _P, _D = DpdState.WATCHING, DpdState.PROBING, DpdState.DEAD
_TO_W: Outcomes = {Verdict.NONE: ((), _W)}
_TO_P: Outcomes = {Verdict.NONE: ((), _P)}
_TO_D: Outcomes = {Verdict.NONE: ((), _D)}
_DIE: Outcomes = {Verdict.NONE: ((Act.DEAD,), _D)}

TRANSITIONS: dict[tuple[DpdState, DpdInput], tuple[Handler, Outcomes]] = {
    # (state, input): (handler, {its verdict: (actions, next state)})
    (_W, DpdInput.TIMER): (DpdMachine._idle_timer, {Verdict.NONE: ((), _W), Verdict.PROBE: ((Act.PROBE,), _P),
                                                    Verdict.DEAD: ((Act.DEAD,), _D)}),  # DEAD: a check-job verdict
    (_W, DpdInput.INBOUND): (DpdMachine._heard, _TO_W),
    (_W, DpdInput.TRAFFIC): (DpdMachine._traffic, {Verdict.NONE: ((), _W), Verdict.PROBE: ((Act.PROBE,), _P)}),
    (_W, DpdInput.ACK): (DpdMachine._heard, _TO_W),  # the round already ended (e.g. the peer's own probe came first)
    (_W, DpdInput.GAVE_UP): (DpdMachine._nothing, _TO_W),  # a stale retransmission verdict
    (_W, DpdInput.FAILED): (DpdMachine._nothing, _DIE),
    (_P, DpdInput.TIMER): (DpdMachine._probing_timer, {Verdict.NONE: ((), _P), Verdict.PROBE: ((Act.PROBE,), _P),
                                                       Verdict.DEAD: ((Act.DEAD,), _D)}),
    (_P, DpdInput.INBOUND): (DpdMachine._answered, _TO_W),
    (_P, DpdInput.TRAFFIC): (DpdMachine._nothing, _TO_P),
    (_P, DpdInput.ACK): (DpdMachine._answered, {Verdict.NONE: ((Act.ACKED,), _W)}),
    (_P, DpdInput.GAVE_UP): (DpdMachine._nothing, _DIE),
    (_P, DpdInput.FAILED): (DpdMachine._nothing, _DIE),
    (_D, DpdInput.TIMER): (DpdMachine._nothing, _TO_D),
    (_D, DpdInput.INBOUND): (DpdMachine._nothing, _TO_D),
    (_D, DpdInput.TRAFFIC): (DpdMachine._nothing, _TO_D),
    (_D, DpdInput.ACK): (DpdMachine._nothing, _TO_D),
    (_D, DpdInput.GAVE_UP): (DpdMachine._nothing, _TO_D),
    (_D, DpdInput.FAILED): (DpdMachine._nothing, _TO_D),
    (_D, DpdInput.RESUME): (DpdMachine._resume, _TO_W),
}
"""RESUME is only valid once dead (action ``none``): in any other state it raises ``TransitionError``."""
