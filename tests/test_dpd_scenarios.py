"""IKEv2 DPD scenarios beyond their expect: blocks: comparisons a scenario file cannot make."""

import pytest
from conftest import SCENARIOS

from ipsecsim import load_scenario, simulate
from ipsecsim.config.loader import read_yaml


def test_huawei_default_dpd_timers_ride_out_the_jitter_that_flaps_aggressive_ones():
    """Huawei Cloud FAQ: ISP jitter causes drops. 30 s idle and 3 probes 15 s apart (the Huawei
    defaults) need every probe of a round lost: 3 bursts in 45 s or one longer than 30 s
    (P = e^(-30/3) per burst), where 2 probes 2 s apart need one burst longer than 2 s
    (P = e^(-2/3)). Over 20 seeds the defaults declare a live peer dead at least 20 times
    less often."""
    sc = load_scenario(SCENARIOS / "isp-jitter-false-positive.yaml")
    defaults = sc.replace({"peers.cloud.dpd": {"delay": "30s", "retry_interval": "15s", "retries": 3,
                                               "mode": "periodic", "action": "restart"}})
    aggressive = sum(len(simulate(sc, seed=s).select("peer_dead")) for s in range(1, 21))
    calm = sum(len(simulate(defaults, seed=s).select("peer_dead")) for s in range(1, 21))
    assert aggressive >= 40 and calm * 20 <= aggressive


def test_unilateral_tunnel_heals_at_once_when_the_customer_runs_dpd():
    """The FAQ's advice for the unilateral tunnel: enable DPD on the customer side too. With
    strongSwan DPD (30 s, restart) the customer notices the outage itself and renegotiates
    when the link is back, instead of black-holing traffic until its next rekey."""
    sc = load_scenario(SCENARIOS / "unilateral-tunnel-no-dpd.yaml")
    before = sc and simulate(sc).summary()["traffic"]["directions"]["customer->cloud"]["outage_total"]
    fixed = sc.replace({"peers.customer.dpd": {"delay": "30s", "action": "restart"}})
    after = simulate(fixed).summary()["traffic"]["directions"]["customer->cloud"]["outage_total"]
    assert before > 3000 and after < 200


def test_recreating_the_connection_is_not_what_clears_the_customers_stale_sas():
    """recreate-connection-recovery: the customer's stale SAs go when the cloud's new IKE_AUTH
    carries INITIAL_CONTACT (RFC 7296 2.4). The same ping from the VPC at 7 min, with the
    connection neither recreated nor edited, recovers the tunnel at the same instants: the
    FAQ's first step (traffic from both sides) was enough."""
    path = SCENARIOS / "recreate-connection-recovery.yaml"
    sc = load_scenario(path)
    with_recreate = simulate(sc)
    without = simulate(sc.replace({"faults": read_yaml(path)["faults"][:1]}))  # the outage only
    assert [f.get("kind") for f in without.select("fault")] == ["link_down", "link_up"]
    for r in (with_recreate, without):
        stale = r.first("ike_sa_deleted", "customer", reason="initial_contact")
        # the strongSwan customer's costs (docs/cpu.md; the arithmetic is beside the scenario's
        # expectation): IKE_SA_INIT 1.1 + 20.59 = 21.69 ms (message, MODP-3072 key), IKE_AUTH 1.1 +
        # 20.59 + 0.2 = 21.89 ms (message, secret, keys) on top of three 5 ms legs
        assert stale is not None and stale.t == pytest.approx(420.015 + 0.02169 + 0.02189)
        assert r.status("customer") == r.status("cloud") == "ipsec_sa_established"
    # while the customer still used its stale SA, every one of its pings was lost in both runs
    lost = [sum(e.get("packets") for e in r.select("traffic_dropped", flow="branch-app")
                if e.get("reason") == "unilateral_sa") for r in (with_recreate, without)]
    assert lost[0] == lost[1] == 421 - 140
