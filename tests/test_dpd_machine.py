"""The DPD state machine table (proto/dpd.py), driven directly with explicit time."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipsecsim.proto.dpd import TRANSITIONS, Act, DpdInput, DpdMachine, DpdSettings, DpdState


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


def test_table_is_complete():
    assert set(TRANSITIONS) == {(s, i) for s in DpdState for i in DpdInput}


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


def test_dead_is_final():
    m = DpdMachine(DpdSettings(delay=1, style="retry", retry_interval=1, retries=1), 0)
    drive(m, 10)
    assert m.state is DpdState.DEAD
    for inp in DpdInput:
        assert m.handle(inp, 20) == [] and m.state is DpdState.DEAD


@pytest.mark.parametrize("bad", [{"mode": "sometimes"}, {"style": "guess"}, {"count": "some"}])
def test_settings_are_checked(bad):
    with pytest.raises(ValueError, match="allowed"):
        DpdSettings(**bad)


settings = st.builds(DpdSettings, mode=st.sampled_from(["periodic", "on-demand"]),
                     delay=st.floats(1, 100), style=st.sampled_from(["liveness", "retry", "timeout"]),
                     retry_interval=st.floats(1, 30), retries=st.integers(1, 10),
                     count=st.sampled_from(["probes", "retransmissions"]), timeout=st.floats(1, 300))


@given(settings, st.lists(st.tuples(st.sampled_from(list(DpdInput)), st.floats(0, 50)), max_size=40))
def test_any_input_sequence_keeps_the_machine_consistent(cfg, steps):
    """h2-style property: every state x input is handled; probes only when probing; the peer is
    declared dead at most once and only after a probe; deadlines never go backwards past now."""
    m = DpdMachine(cfg, 0.0)
    now, deaths = 0.0, 0
    for inp, dt in steps:
        now += dt
        acts = m.handle(inp, now)
        assert m.state in DpdState
        if Act.PROBE in acts:
            assert m.state is DpdState.PROBING and m.probes >= 1
        if Act.DEAD in acts:
            deaths += 1
            assert m.last_probe is not None
        if m.state is DpdState.DEAD:
            assert m.deadline() is None
    assert deaths <= 1
