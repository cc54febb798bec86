"""Traffic accounting: every byte offered is delivered or dropped with a reason.

Expected values come from the rates and windows set in each test (bytes = rate x time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from factory import scenario_dict

from ipsecsim.cli import main
from ipsecsim.config.loader import load_scenario
from ipsecsim.errors import ConfigError
from ipsecsim.sim.runner import simulate
from ipsecsim.trace.traffic_summary import merge

MBPS8 = "8Mbit/s"  # 1e6 bytes per second


def sim(a: dict[str, Any] | None = None, b: dict[str, Any] | None = None, **top: Any):  # type: ignore[no-untyped-def]
    return simulate(load_scenario(scenario_dict(a, b, **top)))


def flow(r, name: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return r.summary()["traffic"]["flows"][name]


def balanced(f: dict[str, Any]) -> bool:
    return abs(f["offered_bytes"] - f["delivered_bytes"] - sum(f["dropped_bytes"].values())
               - f["in_flight_bytes"]) <= 2


def test_lossy_link_loses_that_fraction_of_a_fluid() -> None:
    r = sim(duration=120, link={"delay": "5ms", "loss": "1%"},
            traffic=[{"name": "f", "kind": "bulk", "from": "A", "to": "B", "rate": MBPS8, "start": 10, "stop": 110}])
    f = flow(r, "f")
    assert f["offered_bytes"] == 100_000_000
    assert f["dropped_bytes"] == {"loss": 1_000_000}
    assert f["delivered_bytes"] == 99_000_000
    assert f["outages"] == []  # a thinned flow is not an outage


def test_link_down_window_drops_exactly_its_length() -> None:
    r = sim(duration=70, link={"delay": "5ms", "down": [{"from": 30, "to": 40}]},
            traffic=[{"name": "f", "kind": "bulk", "from": "A", "to": "B", "rate": MBPS8, "start": 10, "stop": 60}])
    f = flow(r, "f")
    assert f["dropped_bytes"] == {"link_down": 10_000_000}
    assert f["outages"] == [{"start": 30.0, "end": 40.0, "duration": 10.0, "reasons": ["link_down"],
                             "reason": "link_down"}]
    assert f["delivered_bytes"] == 40_000_000 and balanced(f)


def test_a_ping_outage_ends_with_the_run() -> None:
    """A ping lost at 25 s stands for the 5 s until the next one; the run ends at 27 s, so the
    outage (link down from 12 s on: pings 15, 20, 25 lost) is 15 - 27 s, not beyond the run."""
    r = sim(duration=27, link={"delay": "5ms", "down": [{"from": 12, "to": 100}]},
            traffic=[{"name": "p", "kind": "ping", "from": "A", "to": "B", "interval": 5, "start": 5}])
    f = flow(r, "p")
    assert f["dropped_packets"] == {"link_down": 3}
    assert f["outages"] == [{"start": 15.0, "end": 27.0, "duration": 12.0, "reasons": ["link_down"],
                             "reason": "link_down"}]


def test_frozen_receiver_drops_as_peer_down() -> None:
    r = sim(duration=300, faults=[{"at": 100, "kind": "freeze", "peer": "B", "duration": 100}],
            traffic=[{"name": "f", "kind": "bulk", "from": "A", "to": "B", "rate": MBPS8, "start": 10, "stop": 250}])
    f = flow(r, "f")
    assert f["dropped_bytes"] == {"peer_down": 100_000_000}
    assert f["outages"][0]["duration"] == 100.0
    assert balanced(f)


def test_unilateral_sa_when_the_receivers_delete_is_lost() -> None:
    """B's CHILD SA hard-expires at 10 min (no rekey) while the link is down: its DELETE never
    arrives, B gives up (165 s, strongSwan) and drops its IKE SA. A keeps its SA and, once the
    link is back at 900 s, sends into SPIs B no longer has."""
    r = sim({}, {"child": {"rekey_time": 0, "life_time": "10m"}}, duration=1500,
            link={"delay": "5ms", "down": [{"from": 595, "to": 900}]},
            traffic=[{"name": "p", "kind": "ping", "from": "A", "to": "B", "interval": 1, "start": 1}])
    uni = [e for e in r.select("traffic_dropped") if e.get("reason") == "unilateral_sa"]
    assert uni and all(e.peer == "B" for e in uni)
    assert uni[0].get("start") == 900.0 and uni[0].get("end") == 1500.0
    f = flow(r, "p")
    assert f["dropped_packets"] == {"link_down": 305, "unilateral_sa": 600}
    assert r.status("A") == "ipsec_sa_established" and r.status("B") == "ike_sa_not_established"


def test_inbound_volume_limit_triggers_the_receiver() -> None:
    """Each direction is its own SA with its own counter (RFC 4301 4.4.2.1): B's inbound SA
    reaches rekey_bytes 1 GB after 1e9 / 125e6 = 8 s of 1 Gbit/s, 5 ms after A sent it."""
    r = sim({}, {"child": {"rekey_bytes": "1GB", "rand_bytes": 0, "life_bytes": "2GB"}}, duration=30,
            traffic=[{"kind": "bulk", "from": "A", "to": "B", "rate": "1Gbit/s", "start": 10, "stop": 20}])
    soft = r.select("sa_expired", peer="B", by="bytes")
    assert soft[0].get("kind") == "soft" and abs(soft[0].t - (10 + 0.005 + 8)) < 1e-6
    assert r.select("sa_expired", peer="A") == []


def test_hard_volume_limit_without_rekey_deletes() -> None:
    r = sim({"child": {"rekey_bytes": 0, "life_bytes": "500MB"}}, duration=30,
            traffic=[{"name": "f", "kind": "bulk", "from": "A", "to": "B", "rate": "1Gbit/s", "start": 10, "stop": 20}])
    hard = r.select("sa_expired", peer="A", kind="hard")
    assert hard[0].get("by") == "bytes" and abs(hard[0].t - 14.0) < 1e-6
    f = flow(r, "f")
    assert f["dropped_bytes"] == {"sa_expired": 6 * 125_000_000}
    assert f["outages"][0]["start"] == 14.0


def test_packet_limit_with_pings() -> None:
    """rekey_packets 100: the 100th echo request (at 100 s) crosses the soft limit."""
    r = sim({"child": {"rekey_packets": 100, "rand_packets": 0, "life_packets": 200}}, duration=130,
            traffic=[{"kind": "ping", "from": "A", "to": "B", "interval": 1, "start": 1}])
    soft = r.select("sa_expired", peer="A", by="packets")
    assert soft[0].get("kind") == "soft" and soft[0].t == 100.0
    assert len(r.select("child_sa_rekeyed", "A")) == 1


def test_burst_by_volume() -> None:
    r = sim(duration=60, traffic=[{"name": "b", "kind": "burst", "from": "B", "to": "A", "rate": "1Gbit/s",
                                   "bytes": "125MB", "every": 10, "start": 5}])
    f = flow(r, "b")
    assert f["offered_bytes"] == 6 * 125_000_000 and f["delivered_bytes"] == f["offered_bytes"]


def test_a_week_of_fluid_bulk_costs_events_per_rekey_not_per_packet() -> None:
    """7 days at 1 Gbit/s (6e13 packets of 1400 B if simulated one by one) with strongSwan's
    hourly CHILD and 4-hourly IKE rekeys: the event count stays bounded, and does not grow
    with the rate."""
    def week(rate: str) -> int:
        r = sim(duration="7d", traffic=[{"kind": "bulk", "from": "A", "to": "B", "rate": rate, "start": 1}])
        assert r.select("traffic_dropped") == []
        return len(r.events)
    n = week("1Gbit/s")
    assert n < 10_000
    assert week("10Mbit/s") == n


def test_merge_outages() -> None:
    assert merge([(0, 1, "a"), (1, 2, "b"), (5, 6, "a")]) == [
        {"start": 0, "end": 2, "duration": 2, "reasons": ["a", "b"], "reason": "a"},
        {"start": 5, "end": 6, "duration": 1, "reasons": ["a"], "reason": "a"}]


def test_same_seed_same_events() -> None:
    def once() -> list[dict[str, Any]]:
        r = sim(duration=400, link={"delay": "5ms", "loss": "5%", "jitter": "2ms"},
                traffic=[{"kind": "ping", "from": "A", "to": "B", "interval": 1},
                         {"kind": "bulk", "from": "B", "to": "A", "rate": MBPS8, "start": 3}])
        return [e.to_dict() for e in r.events]
    assert once() == once()


@pytest.mark.parametrize(("traffic", "words"), [
    ({"kind": "bulk", "from": "A", "to": "C", "rate": "1Mbit/s"}, "unknown peer 'C'"),
    ({"kind": "bulk", "from": "A", "to": "B"}, "needs 'rate'"),
    ({"kind": "ping", "from": "A", "to": "B", "src": "10.102.0.5"}, "between the protected subnets"),
    ({"kind": "burst", "from": "A", "to": "B", "rate": "1Mbit/s", "every": 10}, "exactly one of 'length' and 'bytes'"),
    ({"kind": "bulk", "from": "A", "to": "B", "rate": "fast"}, "1Gbit/s"),
    ({"kind": "flood", "from": "A", "to": "B"}, "allowed: ping, bulk, burst"),
])
def test_bad_traffic_is_one_clear_error(traffic: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_scenario(scenario_dict(traffic=[traffic]))
    assert "traffic" in err.value.path and words in str(err.value)


def test_cli_bad_lifetime_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(scenario_dict({"child": {"rekey_time": "2h", "life_time": "1h"}})))
    assert main(["run", str(f)]) == 2
    err = capsys.readouterr().err
    assert str(f) in err and "peers.A.child.rekey_time" in err and "Traceback" not in err


def test_a_restarted_receiver_accounts_the_flow_it_is_still_receiving() -> None:
    """B crashes at 100 s and boots again at 110 s while A keeps sending into its old SA (A has
    no DPD here). The rebooted B has no inbound SA for that SPI (RFC 4303 3.4.2: discard), so
    every byte from then on is dropped as unilateral_sa until A learns otherwise; no byte may go
    unaccounted across the reboot."""
    r = sim(duration=200, a={"dpd": {"delay": 0}}, b={"dpd": {"delay": 0}},
            faults=[{"at": 100, "kind": "crash", "peer": "B", "duration": 10}],
            traffic=[{"name": "f", "kind": "bulk", "from": "A", "to": "B", "rate": MBPS8, "start": 10, "stop": 190}])
    f = flow(r, "f")
    assert f["offered_bytes"] == 180_000_000
    # drops are accounted by offer time: bytes sent from 99.995 s reach B (5 ms link) once it
    # is down, bytes sent from 109.995 s reach the rebooted B
    assert f["dropped_bytes"] == {"peer_down": 10_000_000, "unilateral_sa": 80_005_000}
    assert f["delivered_bytes"] == 89_995_000 and balanced(f)


def test_a_ping_stops_at_its_stop_time() -> None:
    """start 1 s, every 7 s, stop 10 s: echo requests at 1 and 8 s (15 s is past the stop); the
    source stops at 10 s, not when the next request would have been due."""
    r = sim(duration=30, traffic=[{"name": "p", "kind": "ping", "from": "A", "to": "B", "interval": 7, "start": 1,
                                   "stop": 10}])
    (stopped,) = r.select("traffic_stopped")
    assert (stopped.t, stopped.get("sent")) == (10.0, 2)
    assert flow(r, "p")["echo_requests"] == 2
