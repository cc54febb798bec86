"""The DPD state machine table (proto/dpd.py), driven directly with explicit time."""

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ipsecsim.proto.dpd import TRANSITIONS, Act, DpdInput, DpdMachine, DpdSettings, DpdState
from ipsecsim.proto.fsm import TransitionError


def drive(m: DpdMachine, until: float, inbound=(), traffic=(), ack_after=None):
    """Run the machine to ``until``: fire its deadlines, feed inbound/traffic instants.
    Returns [(t, act)]."""
    feed = sorted([(t, DpdInput.INBOUND) for t in inbound] + [(t, DpdInput.TRAFFIC) for t in traffic])
    out = []
    while True:
        d = m.deadline()
        nxt = feed[0][0] if feed else None
        if d is not None and (nxt is None or d <= nxt) and d <= until:
            for a in m.handle(DpdInput.TIMER, d):
                out.append((d, a))
                if a is Act.PROBE and ack_after is not None:
                    feed.append((d + ack_after, DpdInput.ACK))
                    feed.sort()
        elif nxt is not None and nxt <= until:
            t, inp = feed.pop(0)
            out += [(t, a) for a in m.handle(inp, t)]
        else:
            return out


def test_table_is_complete_but_resume_only_once_dead():
    """Every state x input has a row, except RESUME (action none: watch again after the
    verdict), which only the DEAD state accepts."""
    missing = {(s, i) for s in DpdState for i in DpdInput} - set(TRANSITIONS)
    assert missing == {(DpdState.WATCHING, DpdInput.RESUME), (DpdState.PROBING, DpdInput.RESUME)}
    m = DpdMachine(DpdSettings(), 0)
    with pytest.raises(TransitionError, match="DPD: no transition for input resume in state watching"):
        m.handle(DpdInput.RESUME, 1)
    assert m.state is DpdState.WATCHING


def test_the_answer_to_a_probe_ends_the_round():
    """RFC 3706 5 / RFC 7296 2.4: the answer to the outstanding probe is proof of life; the
    machine reports it and watches again, idle clock restarted at the answer."""
    m = DpdMachine(DpdSettings(delay=30, style="retry", retry_interval=15, retries=3), 0)
    assert m.handle(DpdInput.TIMER, 30) == [Act.PROBE]
    assert m.handle(DpdInput.ACK, 30.5) == [Act.ACKED]
    assert (m.state, m.probes, m.last_inbound, m.deadline()) == (DpdState.WATCHING, 0, 30.5, 60.5)
    assert m.handle(DpdInput.ACK, 31) == []  # a duplicate answer: only proof of life
    assert m.last_inbound == 31


def test_every_row_moves_only_to_its_outcomes_states():
    """Every outcome of every row is consistent: a DEAD action leads to DEAD, a PROBE to
    PROBING (hypothesis below checks that handlers only pick outcomes of their row)."""
    for (state, inp), (_handler, outcomes) in TRANSITIONS.items():
        assert outcomes, (state, inp)
        for acts, nxt in outcomes.values():
            assert nxt in DpdState
            if Act.DEAD in acts:
                assert nxt is DpdState.DEAD
            if Act.PROBE in acts:
                assert nxt is DpdState.PROBING


def test_huawei_cloud_reading_three_probes_in_all_detects_at_75_s():
    """Huawei Cloud FAQ: idle 30 s, retransmit 15 s, peer abnormal after 3 failed
    probes: 30 + 3 x 15 = 75 s after the last inbound packet."""
    m = DpdMachine(DpdSettings(mode="periodic", delay=30, style="retry", retry_interval=15, retries=3,
                               count="probes"), last_inbound=0)
    acts = drive(m, 200)
    assert [t for t, a in acts if a is Act.PROBE] == [30, 45, 60]
    assert [t for t, a in acts if a is Act.DEAD] == [75]
    assert m.cfg.detection_time() == 75


def test_usg_reading_retry_limit_as_retransmissions_detects_at_90_s():
    """USG command reference: retry-limit = maximum retransmissions: 1 + 3 probes, 30 + 4 x 15 = 90 s."""
    m = DpdMachine(DpdSettings(delay=30, style="retry", retry_interval=15, retries=3, count="retransmissions"), 0)
    acts = drive(m, 200)
    assert [t for t, a in acts if a is Act.PROBE] == [30, 45, 60, 75]
    assert [t for t, a in acts if a is Act.DEAD] == [90]


def test_strongswan_ikev1_timeout_style():
    """strongSwan IKEv1: R-U-THERE every dpd_delay while idle, never retransmitted; the DPD action
    when dpd_timeout passes without anything received."""
    m = DpdMachine(DpdSettings(delay=10, style="timeout", timeout=30), last_inbound=25)
    acts = drive(m, 100)
    assert [t for t, a in acts if a is Act.PROBE] == [35, 45]
    assert [t for t, a in acts if a is Act.DEAD] == [55]


def test_liveness_style_leaves_retransmission_to_the_task_manager():
    m = DpdMachine(DpdSettings(delay=30, style="liveness"), 0)
    assert drive(m, 1000) == [(30, Act.PROBE)]
    assert m.deadline() is None and m.state is DpdState.PROBING
    assert m.handle(DpdInput.GAVE_UP, 30 + 165.06) == [Act.DEAD]


def test_each_answered_probe_restarts_the_idle_clock():
    m = DpdMachine(DpdSettings(delay=30, style="liveness"), 0)
    acts = drive(m, 100, ack_after=0.01)
    assert [round(t, 2) for t, a in acts if a is Act.PROBE] == [30, 60.01, 90.02]
    assert [a for _, a in acts].count(Act.ACKED) == 3


def test_periodic_probes_an_idle_tunnel_on_demand_does_not():
    periodic = DpdMachine(DpdSettings(mode="periodic", delay=30), 0)
    on_demand = DpdMachine(DpdSettings(mode="on-demand", delay=30), 0)
    assert drive(periodic, 100)[0] == (30, Act.PROBE)
    assert drive(on_demand, 1000) == [] and on_demand.deadline() is None


def test_on_demand_probes_when_traffic_meets_silence():
    """RFC 3706 5.3: worry only when there is traffic to send and nothing was received."""
    m = DpdMachine(DpdSettings(mode="on-demand", delay=30), 0)
    acts = drive(m, 100, traffic=[10, 20, 42])
    assert acts == [(42, Act.PROBE)]


def test_on_demand_with_a_continuous_flow_probes_at_the_idle_deadline():
    m = DpdMachine(DpdSettings(mode="on-demand", delay=30), 0)
    m.traffic_flowing = True
    assert m.deadline() == 30 and drive(m, 31) == [(30, Act.PROBE)]


def test_inbound_traffic_defers_probing():
    m = DpdMachine(DpdSettings(delay=30), 0)
    acts = drive(m, 100, inbound=[20, 45])
    assert acts[0] == (75, Act.PROBE)


def test_dead_is_final_until_resumed():
    """Only RESUME (action none: the SAs stay, RFC 3706 / RFC 7296 2.4 keep checking) leaves DEAD."""
    m = DpdMachine(DpdSettings(delay=1, style="retry", retry_interval=1, retries=1), 0)
    drive(m, 10)
    assert m.state is DpdState.DEAD
    for inp in DpdInput:
        if inp is not DpdInput.RESUME:
            assert m.handle(inp, 20) == [] and m.state is DpdState.DEAD
    assert m.handle(DpdInput.RESUME, 20) == [] and m.state is DpdState.WATCHING
    assert (m.probes, m.last_probe, m.deadline()) == (0, None, 21)


@pytest.mark.parametrize("bad", [{"mode": "sometimes"}, {"style": "guess"}, {"count": "some"}])
def test_settings_are_checked(bad):
    with pytest.raises(ValueError, match="allowed"):
        DpdSettings(**bad)


settings = st.builds(DpdSettings, mode=st.sampled_from(["periodic", "on-demand"]),
                     delay=st.floats(1, 100), style=st.sampled_from(["liveness", "retry", "timeout"]),
                     retry_interval=st.floats(1, 30), retries=st.integers(1, 10),
                     count=st.sampled_from(["probes", "retransmissions"]), timeout=st.floats(1, 300),
                     check=st.sampled_from(["idle", "strongswan"]))


@given(settings, st.lists(st.tuples(st.sampled_from(list(DpdInput)), st.floats(0, 50)), max_size=40))
def test_any_input_sequence_keeps_the_machine_consistent(cfg, steps):
    """h2-style property: a (state, input) pair in the table moves to one of its row's outcomes,
    a pair not in it raises the named error and leaves the state alone; probes only when
    probing; the peer is declared dead once per life (RESUME starts a new one) and only after a
    probe or a failed exchange."""
    m = DpdMachine(cfg, 0.0)
    now, deaths = 0.0, 0
    for inp, dt in steps:
        now += dt
        before = m.state
        if (before, inp) not in TRANSITIONS:
            with pytest.raises(TransitionError, match=f"DPD: .* input {inp.value} in state {before.value}"):
                m.handle(inp, now)
            assert m.state is before
            continue
        acts = m.handle(inp, now)
        assert (tuple(acts), m.state) in set(TRANSITIONS[(before, inp)][1].values())
        assert m.state in DpdState
        if Act.PROBE in acts:
            assert m.state is DpdState.PROBING and m.probes >= 1
        if Act.DEAD in acts:
            deaths += 1
            assert m.last_probe is not None or inp is DpdInput.FAILED
        if m.state is DpdState.DEAD:
            assert m.deadline() is None
        if inp is DpdInput.RESUME:
            deaths = 0
        assert deaths <= 1


def _snapshot(m: DpdMachine):
    return (m.state, m.last_inbound, m.traffic_waiting, m.probes, m.last_probe, m.deadline(),
            [(h.t, h.label, h.inbound, h.traffic, h.last) for h in m.history])


@given(st.sampled_from(["periodic", "on-demand"]), st.booleans(),
       st.lists(st.tuples(st.floats(0.0, 9.0), st.booleans()), min_size=1, max_size=40))
def test_a_row_of_steady_inputs_fed_as_one_is_the_same_as_one_by_one(mode, start_dead, row):
    """A window of ESP packets (the array traffic path) is fed as one input: it must leave the
    clocks, flags, deadline and history exactly as feeding each packet with ``handle`` does.
    The row is steady: every input comes less than ``delay`` (10 s) after the idle clock, so
    on-demand traffic never meets silence; the times only grow, as a window's do."""
    cfg = DpdSettings(mode=mode, delay=10.0, style="retry")
    one, rows = DpdMachine(cfg, 100.0), DpdMachine(cfg, 100.0)
    for m in (one, rows):
        m.handle(DpdInput.TIMER, 110.0)  # periodic: a probe; on-demand: nothing (no traffic)
        m.handle(DpdInput.INBOUND, 111.0)  # answered: watching again
        if start_dead:
            m.handle(DpdInput.FAILED, 112.0)
    assert _snapshot(one) == _snapshot(rows)
    kept = len(one.history)
    t, n_in, n_out, t_in, t_out, out_last, heard = 112.0, 0, 0, 0.0, 0.0, False, one.last_inbound
    for dt, inbound in row:
        t += dt
        heard = max(heard, t) if inbound else heard
        assume(start_dead or mode == "periodic" or t < heard + 10.0)
        one.handle(DpdInput.INBOUND if inbound else DpdInput.TRAFFIC, t)
        if inbound:
            n_in, t_in, out_last = n_in + 1, t, False
        else:
            n_out, t_out, out_last = n_out + 1, t, True
    assert rows.steady_gap() == (10.0 if mode == "on-demand" and not start_dead else float("inf"))
    rows.feed_steady(n_in, t_in, n_out, t_out, out_last)
    assert _snapshot(one) == _snapshot(rows)
    assert len(one.history) == kept  # the steady inputs are counted, not kept
    assert one.history[-1].inbound + one.history[-1].traffic >= len(row)


def test_a_row_is_not_fed_as_one_while_probing():
    """The first inbound packet ends a probe round (a state change): a row cannot be one input."""
    m = DpdMachine(DpdSettings(delay=10.0, style="retry"), 0.0)
    assert m.handle(DpdInput.TIMER, 10.0) == [Act.PROBE]
    assert m.steady_gap() is None
    with pytest.raises(RuntimeError, match="probing"):
        m.feed_steady(1, 11.0, 0, 0.0, False)


def test_check_job_verdict_due_with_a_check_comes_first_whatever_the_float_sums():
    """strongSwan IKEv1 (task_manager_v1.c queue_dpd): each R-U-THERE schedules its verdict
    dpd_timeout - dpd_delay later. With dpd_timeout = 3 x dpd_delay the verdict of the second
    probe falls on the check job's own instant; the machine runs the due verdicts before the
    check (``_check_job``), so a peer silent since the first probe is dead then, with no third
    probe. Established at 0.0654 s (ikev1-dpd-seq-reuse): checks at 30.0654, 60.0654, 90.0654,
    120.0654 s; (60.0654 + 90) - 30 is one ulp above 120.0654 in binary floating point, the
    verdict must not slip behind the check for that."""
    m = DpdMachine(DpdSettings(delay=30, style="timeout", timeout=90, check="strongswan"), last_inbound=0.0654)
    acts = drive(m, until=200, inbound=[30.0776])  # only the first probe is answered
    assert [(round(t, 6), a) for t, a in acts] == [(30.0654, Act.PROBE), (60.0654, Act.PROBE),
                                                   (90.0654, Act.PROBE), (120.0654, Act.DEAD)]


def _chain(m: DpdMachine, inbound: list[float], until: float) -> list[float]:
    """The instants of the stale re-arms ``rearm_step`` chains from the machine's deadline,
    each seeing the inbound instants strictly before it (as the array traffic path does)."""
    import bisect
    times, due, nc = [], m.deadline(), m.next_check
    while due is not None and due <= until:
        j = bisect.bisect_left(inbound, due)
        last_in = max(m.last_inbound, inbound[j - 1]) if j else m.last_inbound
        step = m.rearm_step(due, last_in, nc)
        if step is None:
            break
        times.append(due)
        due, nc = step
    return times


def test_stale_rearms_chain_by_the_idle_rule_and_by_strongswan_s_check_job():
    """The peer heard every second at k + 0.8 s, DPD 30 s from an SA established at 0.3 s.
    Idle rule (RFC 3706 5.3, Huawei idle time): each timer finds the peer heard, and re-arms
    at the last inbound before it + 30 s: 30.3, then 29.8 + 30 = 59.8, then 58.8 + 30 (the
    echo at 59.8 itself comes after the timer) = 88.8, ... strongSwan's check job (ike_sa.c
    send_dpd): the next check is dpd_delay - diff later, diff the whole seconds since the last
    inbound (30 - 29 = 1): 30.3, 59.3, 88.3, ..."""
    inbound = [k + 0.8 for k in range(200)]
    idle = DpdMachine(DpdSettings(delay=30.0), last_inbound=0.3)
    assert [round(t, 6) for t in _chain(idle, inbound, 150)] == [30.3, 59.8, 88.8, 117.8, 146.8]
    job = DpdMachine(DpdSettings(delay=30.0, check="strongswan"), last_inbound=0.3)
    assert [round(t, 6) for t in _chain(job, inbound, 150)] == [30.3, 59.3, 88.3, 117.3, 146.3]
    # silence: the timer would probe, so it ends the chain (the driver runs it)
    assert idle.rearm_step(40.0, 9.0, None) is None
    assert job.rearm_step(60.3, 29.8, 60.3) is None


@given(st.sampled_from(["idle", "strongswan"]), st.sampled_from(["periodic", "on-demand"]),
       st.lists(st.floats(0.05, 12.0), min_size=1, max_size=60))
def test_a_run_of_stale_rearms_fed_as_one_is_the_same_as_timer_by_timer(check, mode, gaps):
    """The array traffic path feeds a window's stale re-arms (a chain of ``rearm_step``) as one
    input, ``rearm_run``, around rows of steady inbound inputs: the machine must be left with
    the same clocks, next check, deadline and history (one entry for the run) as handling each
    timer and each packet in time order. The chain ends at a timer that would do more (a gap
    of 10 s or more: a probe) in both. On-demand DPD arms its timer while a flow goes out."""
    cfg = DpdSettings(mode=mode, delay=10.0, check=check)
    one, rows = (DpdMachine(cfg, 100.3, traffic_flowing=True) for _ in range(2))
    for m in (one, rows):  # the answer that established the SA (a history to start from)
        m.handle(DpdInput.ACK, 100.3)
    inbound, t = [], 100.3
    for g in gaps:
        t += g
        inbound.append(t)
    until = inbound[-1]
    times = _chain(rows, inbound, until)
    # one by one: the timer armed at the deadline (an inbound input moves the idle clock, not
    # the timer: it finds a stale hint), before an inbound input at its very instant
    timers, feed, d = [], list(inbound), one.deadline()
    while True:
        if d is not None and d <= until and (not feed or d <= feed[0]):
            if not one.stale_timer(d):
                break
            timers.append(d)
            one.handle(DpdInput.TIMER, d)
            d = one.deadline()
        elif feed:
            one.handle(DpdInput.INBOUND, feed.pop(0))
        else:
            break
    assert timers == times
    # as rows: inbound before the first timer, the run but the last, the rest up to the
    # last, the last timer, the rest of the row
    import bisect
    cut = [bisect.bisect_left(inbound, x) for x in times]
    end = len(inbound) - len(feed)
    if times:
        if cut[0]:
            rows.feed_steady(cut[0], inbound[cut[0] - 1], 0, 0.0, False)
        nc = rows.next_check
        for x in times[:-1]:
            j = bisect.bisect_left(inbound, x)
            step = rows.rearm_step(x, max(rows.last_inbound, inbound[j - 1]) if j else rows.last_inbound, nc)
            assert step is not None
            nc = step[1]
        rows.rearm_run(times[:-1], nc)
        if cut[-1] > cut[0]:
            rows.feed_steady(cut[-1] - cut[0], inbound[cut[-1] - 1], 0, 0.0, False)
        assert rows.handle(DpdInput.TIMER, times[-1]) == []
        start = cut[-1]
    else:
        start = 0
    if end > start:
        rows.feed_steady(end - start, inbound[end - 1], 0, 0.0, False)
    assert (*_snapshot(one), one.next_check) == (*_snapshot(rows), rows.next_check)
    assert [(h.rearms, h.until) for h in one.history] == [(h.rearms, h.until) for h in rows.history]
    assert sum(h.rearms for h in one.history) == len(times)
    assert len(one.history) == 1 + bool(times)  # the run is one entry
