"""Every byte offered is accounted exactly once: per flow, in bytes and in packets,
offered = delivered + sum(dropped) + in_flight, at the end of every shipped scenario, and in the
cases that used to break it (a restarted sender, a receiver whose SA hard-expired, a
policy-based peer with only a hard volume lifetime)."""

import pytest
from conftest import SCENARIOS, run_shipped, shipped_result

from ipsecsim import load_scenario, simulate
from ipsecsim.trace.traffic_summary import apportion

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))


def _check_conservation(result):
    t = result.summary()["traffic"]
    for name, f in t["flows"].items():
        for unit in ("bytes", "packets"):
            assert f"unaccounted_{unit}" not in f, (name, unit)
            parts = f[f"delivered_{unit}"] + sum(f[f"dropped_{unit}"].values()) + f[f"in_flight_{unit}"]
            assert f[f"offered_{unit}"] == parts, (name, unit)
    return t


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_scenario_accounts_every_byte_and_packet(path):
    _check_conservation(shipped_result(path))


def _pair(faults=(), b_child=None, a=None, duration="2m", traffic=None):
    # instant answers (cpu: none): the expected counts follow the traffic's own arithmetic
    peer = {"profile": "strongswan", "cpu": "none",
            "ike": {"version": 2, "proposals": ["aes128-sha256-modp2048"], "psk": "k"},
            "child": {"proposals": ["aes128-sha256"]}}
    a_cfg = {**peer, "address": "10.99.0.1", "local_subnets": ["10.101.0.0/24"],
             "remote_subnets": ["10.102.0.0/24"], "start": "initiate", **(a or {})}
    b_cfg = {**peer, "address": "10.99.0.2", "local_subnets": ["10.102.0.0/24"],
             "remote_subnets": ["10.101.0.0/24"], "start": "respond"}
    if b_child:
        b_cfg["child"] = {**peer["child"], **b_child}
    return load_scenario({
        "name": "t", "seed": 3, "duration": duration, "peers": {"A": a_cfg, "B": b_cfg}, "link": {"delay": "5ms"},
        "traffic": traffic or [{"name": "bulk", "kind": "bulk", "from": "A", "to": "B", "rate": "4Mbit/s",
                                "packet_size": "1000B", "start": "2s"}],
        "faults": list(faults)})


@pytest.mark.parametrize("kind", ["restart", "recreate"])
def test_a_restarted_or_recreated_sender_sends_nothing_on_its_old_sa(kind):
    # 4 Mbit/s = 500000 B/s from 2 s to 120 s: 59e6 B offered. The new connection needs two
    # 10 ms round trips (IKE_SA_INIT, IKE_AUTH): 0.02 s x 500000 = 10000 B have no SA.
    r = simulate(_pair([{"at": "30s", "kind": kind, "peer": "A"}]))
    f = _check_conservation(r)["flows"]["bulk"]
    assert f["offered_bytes"] == 59_000_000
    assert sum(f["dropped_bytes"].values()) == 10_000
    assert f["delivered_bytes"] == 59_000_000 - 10_000 - 2_500  # 5 ms still on the wire
    # nothing leaves on the SA A had before the fault (RFC 4301: no SA, no ESP)
    old_spi = next(m.spi for t, s, m in r.fluids if s == "A" and m.rate > 0)
    assert [m.rate for t, s, m in r.fluids if s == "A" and m.spi == old_spi and t >= 30] == [0.0]


def test_a_sender_restart_after_a_freeze_does_not_revive_the_old_flow():
    r = simulate(_pair([{"at": "20s", "kind": "freeze", "peer": "A", "duration": "5s"},
                        {"at": "30s", "kind": "restart", "peer": "A"}]))
    _check_conservation(r)
    live = [t for t, s, m in r.fluids if s == "A" and m.rate > 0]
    assert not [t for t in live if 20 <= t < 25]  # frozen: nothing sent
    after = [m.spi for t, s, m in r.fluids if s == "A" and m.rate > 0 and t >= 30]
    before = {m.spi for t, s, m in r.fluids if s == "A" and m.rate > 0 and t < 30}
    assert after and not before & set(after)  # rebooted: only on the new SA


def test_esp_on_an_sa_the_receiver_hard_expired_is_dropped_not_delivered():
    # B's CHILD SA hard-expires at 60.015 s (life 60 s, no rekey) and its Delete is lost (IKE
    # blocked from 50 s): A goes on sending on it. RFC 4303 3.4.2: no SA for the SPI, dropped.
    r = simulate(_pair([{"at": "50s", "kind": "link_down", "protocol": "ike", "duration": "100s"}],
                       b_child={"rekey_time": 0, "life_time": "60s"}, duration="3m"))
    t = _check_conservation(r)
    f = t["flows"]["bulk"]
    # established at 0.015 s at B: hard expiry at 60.015 s, offered from 60.010 s (5 ms earlier);
    # drops run to 179.995 s (what arrived by the end): 119.985 s x 500000 B/s
    assert f["dropped_bytes"] == {"unilateral_sa": 59_992_500}
    assert f["delivered_bytes"] == round((60.010 - 2) * 500_000)
    assert f["in_flight_bytes"] == 2_500
    (down,) = t["down"]
    assert (down["flow"], down["since"], down["reasons"]) == ("bulk", 60.01, ["unilateral_sa"])


def test_a_policy_based_peer_with_only_a_hard_volume_limit_renegotiates_on_traffic():
    # Cisco IOS: "If no traffic has passed through when the lifetime expires, a new SA is not
    # negotiated [...] only when IPsec sees another packet that should be protected" - the crypto
    # map's traffic renegotiates. With the soft point switched off, 20 GB at 1 Gbit/s
    # (125e6 B/s) expire 160 s after the flow starts; the next packet triggers an ACQUIRE.
    def edit(d):
        d["peers"]["cisco"]["child"]["rekey_bytes"] = 0
        d["expect"] = []
    r = run_shipped("cisco-ios-20gb-volume-rekey", edit)
    _check_conservation(r)
    hard = r.times("sa_expired", peer="cisco", kind="hard")
    assert hard[0] == pytest.approx(170.0)
    assert r.times("negotiation_triggered", peer="cisco")[0] == pytest.approx(170.0)
    assert len(r.select("child_sa_established", peer="cisco")) == 1 + len(hard)
    assert r.summary()["traffic"]["down"] == []


def test_cisco_profile_rekeys_before_the_hard_volume_limit():
    r = shipped_result(SCENARIOS / "cisco-ios-20gb-volume-rekey.yaml")
    assert not r.select("sa_expired", kind="hard")
    assert not r.select("traffic_dropped")


def _no_trap(cpu):
    def edit(d):
        d["peers"]["cisco"]["child"]["rekey_bytes"] = 0
        d["peers"]["cisco"]["policy_trap"] = False
        d["peers"]["branch"]["cpu"] = cpu
        d["expect"] = []
    return edit


def test_without_policy_trap_the_tunnel_stays_down_and_the_summary_says_so():
    # the branch answers at once: see the test below for what its processing time does
    r = run_shipped("cisco-ios-20gb-volume-rekey", _no_trap("none"))
    t = _check_conservation(r)
    down = {d["flow"]: d for d in t["down"]}
    assert down["backup"]["since"] == pytest.approx(170.0) and down["backup"]["reasons"] == ["sa_expired"]
    # 1 Gbit/s from 170 s to the end of the 600 s run: 430 s x 125e6 B/s
    assert down["backup"]["dropped_bytes"] == 430 * 125_000_000


@pytest.mark.xfail(strict=True, reason="docs/cpu.md, not modelled yet: ESP waits for the IKE worker, so the flow's "
                   "end reaches the branch 1.1 ms late (behind the Delete, one message of strongswan-5.9.8) and "
                   "1.1 ms x 125e6 B/s = 137500 B count as delivered twice")
def test_a_flow_that_stops_while_the_receiver_computes_is_still_accounted_once():
    # the cisco's SA hard-expires at 170 s: it drops the flow from then and sends a Delete; the
    # flow's last bytes and the Delete reach the computing branch at 170.005 s together
    _check_conservation(run_shipped("cisco-ios-20gb-volume-rekey", _no_trap({"costs": "strongswan-5.9.8"})))


def test_apportion_keeps_the_whole_and_shows_what_is_missing():
    assert apportion(10.0, {"a": 3.4, "b": 3.3, "c": 3.3}) == (10, {"a": 4, "b": 3, "c": 3}, 0)
    # float noise around the whole is absorbed; parts far from the whole are shown, not hidden
    assert apportion(1e13, {"a": 5e12 + 0.3, "b": 5e12 - 0.3}) == (10**13, {"a": 5 * 10**12, "b": 5 * 10**12}, 0)
    assert apportion(10.0, {"a": 2.5, "b": 2.5}) == (10, {"a": 2, "b": 2}, 6)
