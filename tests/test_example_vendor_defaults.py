"""Example: pin vendor timer defaults with pytest (shown in docs/api.md).

Each test runs a scenario in simulated time (milliseconds of real time) and asserts what the
vendor's documents say. If a profile or the retransmission code changes a default, these
fail and say by how much.

Sources (reference/vendor-defaults.md):
- strongSwan, docs.strongswan.org "Retransmission": 4 s x 1.8^(n-1), 5 retransmissions,
  gives up 4 x (1.8^6 - 1) / 0.8 = 165.06 s after the first transmission, which leaves when the
  profile's measured MODP-2048 key generation is done (docs/cpu.md, strongswan-5.9.8: 7.1 ms).
- Huawei Cloud, Huawei Cloud search page (secondary source): IKEv2 retransmission
  exponential 1 -> 64 s, peer dead after 8 tries. The profile assumes the wait after the
  8th transmission is also 64 s (marked ``assumption: true`` there), so it gives up after
  1 + 2 + 4 + 8 + 16 + 32 + 64 + 64 = 191 s.
- FortiGate: IKEv2 retransmission 3 + 6 + 12 + 24 + 48 = 93 s, not configurable.
- Huawei Cloud DPD (Huawei Cloud API): idle 30 s, probes 15 s apart, the peer abnormal "after 3 failed
  probes": 30 + 3 x 15 = 75 s after the last packet from the peer (the FAQ's reading; the USG
  command reference's "retry-limit = retransmissions" gives 30 + 4 x 15 = 90 s).
"""

import pytest
from conftest import SCENARIOS

from ipsecsim import load_scenario, simulate

NO_RESPONDER = SCENARIOS / "ikev2-no-responder.yaml"  # B is frozen for the whole run


def unreachable_peer(profile: str):
    """The no-responder scenario with the initiator running ``profile``'s defaults."""
    return load_scenario(NO_RESPONDER, overrides={"peers.A.profile": profile, "duration": "10m"})


def test_strongswan_gives_up_on_an_unreachable_peer_after_165_s():
    result = simulate(unreachable_peer("strongswan"))
    assert result.times("retransmit_gave_up", "A") == [pytest.approx(0.0071 + 165.060)]
    assert len(result.events_named("message_sent", "A", exchange="IKE_SA_INIT")) == 6


def test_huawei_cloud_ikev2_retransmission_gives_up_after_191_s():
    result = simulate(unreachable_peer("huawei-cloud"))
    [gave_up] = result.events_named("retransmit_gave_up", "A")
    assert gave_up.t == pytest.approx(191.0)
    assert gave_up.get("transmissions") == 8


def test_fortigate_gives_up_after_93_s_written_as_expectations():
    """The same check written as ``expect:`` entries: a failure prints the readable diff."""
    result = simulate(unreachable_peer("fortigate"))
    result.assert_expectations([
        {"event": "retransmit_gave_up", "peer": "A", "between": ["92.9s", "93.1s"]},
        {"event": "message_sent", "peer": "A", "exchange": "IKE_SA_INIT", "count": 5},
        {"status": {"A": "ike_sa_not_established"}},
    ])


def test_fewer_tries_give_up_sooner():
    """Scenario.replace overrides any value; 3 retransmissions: 4 + 7.2 + 12.96 + 23.328 = 47.488 s after
    the first transmission at 7.1 ms (its key generation)."""
    scenario = unreachable_peer("strongswan").replace({"peers.A.retransmit.tries": 3})
    assert simulate(scenario).times("retransmit_gave_up", "A") == [pytest.approx(0.0071 + 47.488)]


def test_the_scenario_file_expectations_hold():
    """A scenario's own ``expect:`` block, evaluated from Python."""
    simulate(load_scenario(NO_RESPONDER)).assert_expectations()


CRASH = SCENARIOS / "huawei-dpd-detects-crash.yaml"  # the branch crashes at 60 s, traffic both ways


def test_huawei_cloud_detects_a_crashed_peer_within_75_s():
    """The issue's own example: pin the Huawei Cloud DPD default."""
    result = simulate(load_scenario(CRASH))
    [dead] = result.events_named("peer_dead", "cloud")
    assert dead.get("silent_for") == pytest.approx(75.0)
    # the last packet from the branch arrived one link delay (5 ms) after its crash at 60 s
    assert dead.get("last_inbound") == pytest.approx(60.005) and dead.t == pytest.approx(135.005)


def test_reading_retry_limit_as_retransmissions_takes_90_s():
    result = simulate(load_scenario(CRASH, overrides={"peers.cloud.dpd.count": "retransmissions"}))
    [dead] = result.events_named("peer_dead", "cloud")
    assert dead.get("silent_for") == pytest.approx(90.0)
