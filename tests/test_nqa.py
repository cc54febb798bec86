"""Health probes (Huawei connection monitor, Alibaba VcoHealthCheck): path, timing, policy."""

import pytest
from factory import scenario_dict

from ipsecsim import ConfigError, load_scenario, simulate
from ipsecsim.sim.nqa import probe_path


def run(a_nqa, faults=(), **kw):
    d = scenario_dict({"nqa": a_nqa}, faults=list(faults), duration=kw.pop("duration", "2m"), **kw)
    return simulate(load_scenario(d))


TUNNEL = {"source": "10.101.0.1", "destination": "10.102.0.1", "interval": "3s", "retries": 3, "start": "1s"}
UNDERLAY = {**TUNNEL, "source": "10.99.0.1", "destination": "10.99.0.2"}


def test_auto_path_follows_the_protected_subnets():
    sc = load_scenario(scenario_dict({"nqa": TUNNEL}))
    assert probe_path(sc.config.peers["A"].nqa, sc.config.peers["A"]) == "tunnel"
    sc = load_scenario(scenario_dict({"nqa": UNDERLAY}))
    assert probe_path(sc.config.peers["A"].nqa, sc.config.peers["A"]) == "underlay"


def test_detection_takes_retries_times_interval():
    """Alibaba: Interval 3 s, Retry 3: the path is declared down 9 s after the first lost probe
    is sent (reference/vendor-defaults.md: health check 9 s = 3 x 3 s)."""
    r = run(TUNNEL, [{"at": "30s", "kind": "link_down"}])
    down = r.first("nqa_state", "A", state="down")
    first_lost = r.first("nqa_probe_lost", "A")
    sent = next(e.t for e in r.select("nqa_probe_sent", "A") if e.get("seq") == first_lost.get("seq"))
    assert sent == 31 and down.t == pytest.approx(sent + 3 * 3)


def test_tunnel_probes_see_an_esp_filter_underlay_probes_do_not():
    esp_block = [{"at": "30s", "kind": "loss", "loss": 1.0, "protocol": "esp"}]
    assert run(TUNNEL, esp_block).first("nqa_state", "A", state="down") is not None
    assert run(UNDERLAY, esp_block).first("nqa_state", "A", state="down") is None


def test_underlay_probes_see_a_hung_gateway():
    r = run(UNDERLAY, [{"at": "30s", "kind": "freeze", "peer": "B"}])
    assert r.first("nqa_state", "A", state="down").t == pytest.approx(31 + 9)


def test_revoked_route_drops_user_traffic_but_not_the_probes():
    nqa = {**TUNNEL, "policy": "revoke_route"}
    r = run(nqa, [{"at": "30s", "kind": "link_down", "duration": "20s"}],
            traffic=[{"name": "app", "kind": "ping", "from": "A", "to": "B", "src": "10.101.0.9",
                      "dst": "10.102.0.9", "interval": "1s", "start": "2s"}])
    revoked, restored = r.first("route_revoked", "A"), r.first("route_restored", "A")
    assert revoked.t == pytest.approx(40) and restored.t == pytest.approx(55)  # probe 52 s answered, seen 55 s
    dropped = r.first("traffic_dropped", flow="app", reason="route_revoked")
    # from the revoke on, the sender drops them itself (before the link, which is down until 50 s)
    assert dropped.get("start") == pytest.approx(40) and dropped.get("end") == pytest.approx(55)
    assert r.summary()["peers"]["A"]["health"]["routes_revoked"] == [40]


@pytest.mark.parametrize("bad,path,fragment", [
    ({**TUNNEL, "interval": 0}, "peers.A.nqa.interval", "greater than or equal to 0.1"),
    ({**TUNNEL, "retries": 0}, "peers.A.nqa.retries", "greater than or equal to 1"),
    ({**TUNNEL, "policy": "withdraw"}, "peers.A.nqa.policy", "allowed: none, revoke_route"),
    ({**TUNNEL, "source": "10.101.0.300"}, "peers.A.nqa.source", "invalid IPv4 address"),
    ({k: v for k, v in TUNNEL.items() if k != "retries"}, "peers.A.nqa.retries", "required"),
])
def test_bad_nqa_config(bad, path, fragment):
    with pytest.raises(ConfigError) as e:
        load_scenario(scenario_dict({"nqa": bad}))
    assert e.value.path == path and fragment in e.value.message
