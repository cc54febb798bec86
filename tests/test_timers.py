"""Vendor timer arithmetic (proto/timers.py, docs/timing.md), each expected value derived from
the vendor source cited:

* strongSwan 5.9.8 (github.com/strongswan/strongswan, tag 5.9.8):
  src/libcharon/config/child_cfg.c apply_jitter(), config/peer_cfg.c get_rekey_time(),
  sa/ike_sa.c set_state() and send_dpd(), sa/ikev2/task_manager_v2.c retransmit();
* Libreswan (github.com/libreswan/libreswan): programs/pluto/rekeyfuzz.c fuzz_rekey_margin(),
  lib/libswan/deltatime.c deltatime_scale(), programs/pluto/retransmit.c.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from factory import scenario_dict

from ipsecsim import load_scenario
from ipsecsim.config import profiles
from ipsecsim.proto import timers
from ipsecsim.proto.dpd import Act, DpdInput, DpdMachine, DpdSettings
from ipsecsim.proto.lifetime import Limit
from ipsecsim.proto.retransmit import RetransmitSchedule
from ipsecsim.sim.runner import simulate


class FixedU(random.Random):
    """random() returns the given values in turn (random() / (RAND_MAX + 1.0) in the C code)."""

    def __init__(self, *values: float):
        super().__init__(0)
        self.values = list(values)

    def random(self) -> float:
        return self.values.pop(0)


# --- strongSwan CHILD SA jitter: child_cfg.c apply_jitter ----------------------------------

def test_strongswan_child_jitter_truncates_to_whole_seconds_at_the_boundaries() -> None:
    # apply_jitter(20, 2): jitter = 2 + 1 = 3; return (uint64_t)(20 - 3 * u)
    assert timers.strongswan_apply_jitter(20, 2, FixedU(0.0)) == 20         # random() == 0
    assert timers.strongswan_apply_jitter(20, 2, FixedU(1 / 3)) == 19       # 20 - 1 = 19 exactly
    assert timers.strongswan_apply_jitter(20, 2, FixedU(0.34)) == 18        # 18.98 -> 18
    assert timers.strongswan_apply_jitter(20, 2, FixedU(2 / 3 + 1e-9)) == 17  # 17.99.. -> 17
    assert timers.strongswan_apply_jitter(20, 2, FixedU(0.999999)) == 17    # 17.000003 -> 17
    assert timers.strongswan_apply_jitter(20, 0, FixedU()) == 20            # jitter 0: no draw


def test_strongswan_child_rekey_distribution_over_many_draws() -> None:
    """rekey 20 s, rand 2 s: floor(20 - 3u), u uniform in [0, 1): 19 for u in (0, 1/3], 18 for
    (1/3, 2/3], 17 for (2/3, 1); 20 only for u == 0 (probability 2^-31 in C). So the instants
    are {17, 18, 19} with probability 1/3 each - never the continuous 18..20 s."""
    limit = Limit(life=22.0, rekey=20.0, rand=2.0)
    rng = random.Random(7)
    n = 3000
    seen = Counter(limit.draw(rng, rule="strongswan", sa="child")[0] for _ in range(n))
    assert set(seen) == {17.0, 18.0, 19.0}
    for v in (17.0, 18.0, 19.0):  # binomial(3000, 1/3): sd 25.8; 5 sd
        assert abs(seen[v] - n / 3) < 130, seen
    # the exact rule draws continuously in [18, 20]
    rng = random.Random(7)
    exact = [limit.draw(rng, rule="exact")[0] for _ in range(200)]
    assert all(s is not None and 18.0 <= s <= 20.0 for s in exact)
    assert len({round(s, 3) for s in exact if s is not None}) > 100


def test_strongswan_volume_limits_use_the_same_jitter() -> None:
    """get_lifetime() applies APPLY_JITTER to time, bytes and packets alike."""
    limit = Limit(life=1_100_000.0, rekey=1_000_000.0, rand=100_000.0)
    rng = random.Random(3)
    for _ in range(200):
        soft, _ = limit.draw(rng, rule="strongswan", sa="child")
        assert soft is not None and soft == int(soft) and 900_000 <= soft <= 1_000_000


def test_scenario_child_rekey_instants_are_whole_seconds_from_the_source() -> None:
    """Through the whole simulator: strongSwan profile, CHILD rekey_time 20 s, rand_time 2 s.
    The soft limit reported with each rekey is a whole number in {17, 18, 19} (apply_jitter),
    and over many seeds all three occur."""
    seen: Counter[float] = Counter()
    for seed in range(1, 13):
        d = scenario_dict({"child": {"rekey_time": "20s", "rand_time": "2s", "life_time": "30s"}},
                          {"child": {"rekey_time": "1h"}}, duration=45, seed=seed)
        r = simulate(load_scenario(d))
        limits = [e.fields["limit"] for e in r.events
                  if e.event == "sa_expired" and e.peer == "A" and e.fields.get("sa_type") == "child"
                  and e.fields.get("kind") == "soft"]
        assert limits, "no CHILD rekey in 45 s"
        seen.update(limits)
    assert set(seen) <= {17.0, 18.0, 19.0}, seen
    assert len(seen) == 3, seen


# --- strongSwan IKE SA jitter: peer_cfg.c get_rekey_time, ike_sa.c set_state -------------------

def test_strongswan_ike_rekey_is_rekey_minus_random_mod_jitter() -> None:
    """rekey_time - (random() % jitter_time): whole seconds in {rekey - jitter + 1 .. rekey},
    uniform; the SA is deleted over_time after the drawn rekey (STAT_DELETE = STAT_REKEY +
    over_time), not at a fixed life_time."""
    limit = Limit(life=110.0, rekey=100.0, rand=10.0)  # rekey_time 100 s, over_time 10 s
    rng = random.Random(11)
    seen: Counter[float] = Counter()
    for _ in range(5000):
        soft, hard = limit.draw(rng, rule="strongswan", sa="ike")
        assert soft is not None and hard == soft + 10.0
        seen[soft] += 1
    assert set(seen) == {float(v) for v in range(91, 101)}  # 100 - {0..9}; never 90
    assert all(abs(c - 500) < 120 for c in seen.values()), seen  # binomial sd 21.2


# --- Libreswan: rekeyfuzz.c fuzz_rekey_margin --------------------------------------------------

def test_libreswan_margin_fuzz_is_a_whole_percentage_in_whole_seconds() -> None:
    """Initiator: marg * (100 + fuzz) / 100 with fuzz = rnd % (rekeyfuzz + 1), in whole seconds
    (deltatime_scale: (deltasecs(d) * num) / denom). salifetime 8 h, rekeymargin 9 min,
    rekeyfuzz 100 %: rekey at 28800 - (540 * (100 + k)) // 100, k in 0..100. Responder:
    28800 - 540 // 2 = 28530, no fuzz."""
    limit = Limit(life=28800.0, rekey=28800.0 - 540, rand=540.0, follows="margin")
    allowed = {28800.0 - (540 * (100 + k)) // 100 for k in range(101)}
    rng = random.Random(5)
    seen = {limit.draw(rng, True, rule="libreswan")[0] for _ in range(3000)}
    assert seen <= allowed and len(seen) > 90
    assert min(allowed) == 28800 - 1080 and max(allowed) == 28800 - 540
    assert limit.draw(rng, False, rule="libreswan") == (28530.0, 28800.0)


def test_libreswan_no_rekey_when_the_margin_reaches_the_lifetime() -> None:
    """schedule_v2_replace_event: rekey only when lifetime > marg, else replace at lifetime."""
    limit = Limit(life=100.0, rekey=40.0, rand=60.0, follows="margin")  # margin 60, fuzz 100 %
    rng = random.Random(1)
    draws = [limit.draw(rng, True, rule="libreswan") for _ in range(500)]
    # marg = 60 * (100 + k) // 100 in 60..120: k >= 67 gives marg >= 100, no rekey
    allowed = {100.0 - (60 * (100 + k)) // 100 for k in range(101) if (60 * (100 + k)) // 100 < 100}
    assert any(s is None for s, _ in draws) and any(s is not None for s, _ in draws)
    assert {s for s, _ in draws if s is not None} <= allowed
    assert all(h == 100.0 for _, h in draws)


def test_profiles_select_their_vendor_rule() -> None:
    assert profiles.load("strongswan").settings["timers"].value == "strongswan"
    assert profiles.load("libreswan").settings["timers"].value == "libreswan"
    for name in profiles.names():
        if name not in ("strongswan", "libreswan"):
            assert "timers" not in profiles.load(name).settings  # exact: no source to go by
    a = load_scenario(scenario_dict()).peers["A"]
    assert a.timers == "strongswan" and a.retransmit.rule == "strongswan"


# --- strongSwan retransmission: task_manager_v2.c retransmit ------------------------------------

def test_strongswan_retransmit_waits_are_whole_milliseconds() -> None:
    """(uint32_t)(4.0 * 1000.0 * pow(1.8, n)): 4000, 7200, 12960, 23328, 41990 (41990.4),
    75582 (75582.72) ms; giving up after the sum, 165.060 s (the real-valued sum is 165.06112)."""
    s = RetransmitSchedule(4.0, 1.8, 5, rule="strongswan")
    assert [round(s.nominal_wait(n) * 1000) for n in range(1, 7)] == [4000, 7200, 12960, 23328, 41990, 75582]
    assert s.give_up_after() == pytest.approx(165.060, abs=1e-9)
    assert RetransmitSchedule(4.0, 1.8, 5).give_up_after() == pytest.approx(165.06112)


def test_strongswan_retransmit_limit_and_jitter() -> None:
    """retransmit_limit is read with get_int (whole seconds) * 1000; retransmit_jitter is a
    whole percentage capped at RETRANSMIT_JITTER_MAX 20: timeout - (timeout / 100 * 20) * u,
    truncated to whole ms."""
    s = RetransmitSchedule(4.0, 1.8, 5, limit=10.0, jitter=50.0, rule="strongswan")
    assert [round(s.nominal_wait(n) * 1000) for n in range(1, 7)] == [4000, 7200, 10000, 10000, 10000, 10000]
    assert s.wait(2, FixedU(0.5)) == pytest.approx(6.480)     # 7200 - 1440 * 0.5 = 6480
    assert s.wait(3, FixedU(0.999)) == pytest.approx(8.002)   # 10000 - 2000 * 0.999 = 8002
    rng = random.Random(2)
    for n in range(1, 7):
        w = s.wait(n, rng)
        nominal = s.nominal_wait(n)
        assert 0.8 * nominal - 1e-9 <= w <= nominal and round(w * 1000, 6) == int(round(w * 1000, 6))


def test_libreswan_profile_retransmits_as_pluto_retransmit_c() -> None:
    """retransmit.c: start_retransmits waits retransmit_interval (500 ms); retransmit() does not
    double on the first retransmission (double_delay with nr_retransmits 0), then doubles while
    the doubled delay stays below retransmit_timeout (60 s), and gives up when the accumulated
    delays reach the timeout: delays 0.5, 0.5, 1, 2, 4, 8, 16, 32 -> sum 64 >= 60."""
    delays, delay, total, nr = [0.5], 0.5, 0.5, 0
    while not (nr >= 12 or total >= 60):  # MAXIMUM_RETRANSMITS_PER_EXCHANGE 12
        if nr > 0 and delay * 2 < 60:
            delay *= 2
        nr += 1
        total += delay
        delays.append(delay)
    sc = load_scenario(scenario_dict({"profile": "libreswan"}))
    sched = sc.peers["A"].retransmit
    assert [sched.nominal_wait(n) for n in range(1, sched.transmissions + 1)] == delays
    assert sched.give_up_after() == 64.0


# --- strongSwan DPD: ike_sa.c send_dpd ---------------------------------------------------------

def _ss(delay: float = 5.0, **kw: Any) -> DpdMachine:
    return DpdMachine(DpdSettings(delay=delay, check="strongswan", **kw), 0.3)


def test_check_job_keeps_the_establishment_cadence_on_a_slow_link() -> None:
    """Established at 0.3 s, dpd_delay 5 s, answers 0.5 s after each check. send_dpd: at 5.3 s
    diff = 5 - 0 = 5: a check (answer at 5.8 s). At 10.3 s diff = 10 - 5 = 5: a check at 10.3 s,
    not at 5.8 + 5 = 10.8 s as an idle timer would (which drifts by the round trip per probe)."""
    m = _ss()
    assert m.deadline() == pytest.approx(5.3)
    assert m.handle(DpdInput.TIMER, 5.3) == [Act.PROBE]
    m.handle(DpdInput.ACK, 5.8)
    assert m.deadline() == pytest.approx(10.3)
    assert m.handle(DpdInput.TIMER, 10.3) == [Act.PROBE]
    m.handle(DpdInput.ACK, 10.8)
    assert m.handle(DpdInput.TIMER, 15.3) == [Act.PROBE]
    idle = DpdMachine(DpdSettings(delay=5.0), 0.3)
    idle.handle(DpdInput.TIMER, 5.3)
    idle.handle(DpdInput.ACK, 5.8)
    assert idle.deadline() == pytest.approx(10.8)


def test_check_job_compares_whole_seconds() -> None:
    """Answers 0.8 s after each check: the 5.3 s check is answered at 6.1 s (whole second 6). At
    10.3 s diff = 10 - 6 = 4 < 5: no check, the job runs again delay - diff = 1 s later; at
    11.3 s diff = 11 - 6 = 5: a check. So checks come every 6 s: 5.3, 11.3, 17.3."""
    m = _ss()
    assert m.handle(DpdInput.TIMER, 5.3) == [Act.PROBE]
    m.handle(DpdInput.ACK, 6.1)
    assert m.handle(DpdInput.TIMER, 10.3) == []
    assert m.deadline() == pytest.approx(11.3)
    assert m.handle(DpdInput.TIMER, 11.3) == [Act.PROBE]
    m.handle(DpdInput.ACK, 12.1)
    assert m.handle(DpdInput.TIMER, 16.3) == []
    assert m.handle(DpdInput.TIMER, 17.3) == [Act.PROBE]


def test_check_job_skips_while_an_exchange_is_in_flight() -> None:
    """task_manager->busy(): diff = 0, no check, the next one dpd_delay later."""
    m = _ss()
    m.busy = True
    assert m.handle(DpdInput.TIMER, 5.3) == []
    assert m.deadline() == pytest.approx(10.3)
    m.busy = False
    assert m.handle(DpdInput.TIMER, 10.3) == [Act.PROBE]


def test_ikev1_check_job_verdict_per_probe() -> None:
    """task_manager_v1.c queue_dpd: each R-U-THERE schedules dpd_timeout_job (dpd_timeout -
    dpd_delay) later with check = the probe's whole second; it enforces the action when the
    last inbound whole second is below it. dpd_delay 5, dpd_timeout 20, last answer at 10.04 s:
    probes at 15.04, 20.04, 25.04 s; the 15.04 s probe's verdict at 30.04 s: 10 < 15, dead."""
    m = DpdMachine(DpdSettings(delay=5.0, style="timeout", timeout=20.0, check="strongswan"), 0.04)
    assert m.handle(DpdInput.TIMER, 5.04) == [Act.PROBE]
    m.handle(DpdInput.INBOUND, 5.05)
    assert m.handle(DpdInput.TIMER, 10.04) == [Act.PROBE]
    m.handle(DpdInput.INBOUND, 10.04)
    acts = []
    t = 15.04
    while not acts or acts[-1] is not Act.DEAD:
        due = m.deadline()
        assert due is not None
        t = due
        acts = m.handle(DpdInput.TIMER, t)
    assert t == pytest.approx(30.04) and m.probes == 3
    # an answer in the probe's own second keeps the verdict away (use_time < check is false)
    m = DpdMachine(DpdSettings(delay=5.0, style="timeout", timeout=20.0, check="strongswan"), 0.04)
    m.handle(DpdInput.TIMER, 5.04)
    m.handle(DpdInput.INBOUND, 5.9)
    assert Act.DEAD not in m.handle(DpdInput.TIMER, 20.04)  # the 5.04 s verdict: 5 < 5 is false


def test_ikev2_scenario_checks_every_six_seconds_on_a_slow_link() -> None:
    """Two strongSwan peers, 0.2 s one way: A is up at 0.8 s (four legs). dpd_delay 5 s. By
    send_dpd: check at 5.8 s (diff 5 - 0 = 5), answered at 6.2 s (second 6); at 10.8 s diff =
    10 - 6 = 4, again 1 s later: 11.8 s (diff 5); answered at 12.2; 16.8 s diff 4; 17.8 s ... So
    A's liveness checks leave at 5.8, 11.8, 17.8, 23.8 s."""
    d = scenario_dict({"dpd": {"delay": "5s"}}, duration=25, link={"delay": "200ms"})
    r = simulate(load_scenario(d))
    assert r.times("dpd_probe_sent", "A") == [pytest.approx(t) for t in (5.8, 11.8, 17.8, 23.8)]
    d = scenario_dict({"dpd": {"delay": "5s"}, "timers": "exact"}, duration=25, link={"delay": "200ms"})
    r = simulate(load_scenario(d))  # the idle rule: 5 s after each answer, 0.4 s drift per probe
    assert r.times("dpd_probe_sent", "A") == [pytest.approx(t) for t in (5.8, 11.2, 16.6, 22.0)]


# --- simultaneous events -----------------------------------------------------------------------

def test_a_timer_due_when_a_message_arrives_runs_first() -> None:
    """docs/timing.md: a timer job due at the instant a message arrives runs before the message
    is acted on (the zero-cost limit of the cpu: model, where a message is acted on only after
    its processing time). A: CHILD hard lifetime 60 s from its installation at 20 ms (IKE_AUTH
    response, 5 ms legs). B installed the same SA pair 5 ms earlier (IKE_AUTH request at 15 ms)
    with the same 60 s: B's Delete leaves at 60.015 s and reaches A at 60.02 s - the instant A's
    own hard timer fires. A's timer runs first: A expires the SA itself (sa_expired hard) and
    B's Delete then finds it gone, so A deletes nothing 'by peer'."""
    life = {"child": {"rekey_time": 0, "life_time": "60s"}}
    r = simulate(load_scenario(scenario_dict(life, life, duration=70, link={"delay": "5ms"})))
    [hard] = [e for e in r.events if e.event == "sa_expired" and e.peer == "A" and e.fields.get("kind") == "hard"
              and e.fields.get("sa_type") == "child"]
    assert hard.t == pytest.approx(60.02)
    deleted = [e for e in r.events if e.event == "child_sa_deleted" and e.peer == "A"]
    assert [e.get("reason") for e in deleted] == ["expired"]


def test_a_timer_due_when_traffic_arrives_runs_first() -> None:
    """The same rule for a packet offered at the instant a timer is due, in whichever order the
    event queue produced them: in scenarios/dpd-msg-order-mismatch.yaml the cloud's on-demand
    DPD (first probe with the ping of 120 s, 3 probes 15 s apart) declares the router dead at
    120 + 3 x 15 = 165 s, when a ping (every 1 s from 120 s) is offered too. The DPD verdict runs
    first (action trap deletes the SA), so that ping triggers the renegotiation at 165 s."""
    from conftest import SCENARIOS
    r = simulate(load_scenario(SCENARIOS / "dpd-msg-order-mismatch.yaml"))
    assert r.times("peer_dead", "cloud") == [pytest.approx(165.0)]
    assert r.times("negotiation_triggered", "cloud")[0] == pytest.approx(165.0)
