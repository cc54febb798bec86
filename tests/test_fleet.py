"""Fleets (config/fleet.py, fleet/run.py, fleet/summary.py): N varied copies of one tunnel,
their summary, one pair's timeline, sharding over the sweep executors, and bad fleet input."""

import copy
import json

import pytest
import yaml
from conftest import SCENARIOS

from ipsecsim import load_scenario
from ipsecsim.cli import main
from ipsecsim.config import topology
from ipsecsim.errors import ConfigError
from ipsecsim.fleet import build_fleet, pair_scenario, run_fleet
from ipsecsim.fleet.summary import describe, summarize_fleet
from ipsecsim.sim.runner import simulate

HUB = SCENARIOS / "fleet-hub-establishment.yaml"
FALSE_DPD = SCENARIOS / "fleet-false-dpd.yaml"


def _raw(path=HUB, **fleet):
    data = yaml.safe_load(path.read_text())
    data["fleet"] = {**data["fleet"], **fleet}
    return data


def _fleet(path=HUB, **fleet):
    return build_fleet(load_scenario(_raw(path, **fleet), file=str(path)))


# --- building the pairs ---------------------------------------------------------------------------

def test_pairs_are_named_and_their_draws_stay_inside_the_given_ranges():
    f = _fleet(pairs=50)
    assert f.names[0] == "branch-0001" and f.names[-1] == "branch-0050" and len(set(f.names)) == 50
    for p in f.plans:
        assert 0.005 <= p.link["delay"] <= 0.045
        assert 0.0 <= p.start <= 60.0
        assert p.variant in (-1, 0)


def test_a_pairs_draws_depend_only_on_the_seed_and_its_name():
    """The first ten pairs of a fleet of 10 and of 40 are the same pairs: a pair's numbers come
    from streams named after it, so adding pairs (or sharding) changes nothing for the others."""
    small, large = _fleet(pairs=10), _fleet(pairs=40)
    assert small.plans == large.plans[:10]
    other_seed = build_fleet(load_scenario(_raw(pairs=10), file=str(HUB)).with_seed(4))
    assert [p.link for p in other_seed.plans] != [p.link for p in small.plans]


def test_variant_share_is_a_binomial_draw():
    """share 10 % of 1,000 pairs: binomial(1000, 0.1), mean 100, standard deviation 9.5; four
    standard deviations either way."""
    f = _fleet(pairs=1000)
    n = sum(1 for p in f.plans if p.variant == 0)
    assert 62 <= n <= 138
    assert f.variants[0].peers["branch"].profile == "cisco-ios"


def test_link_faults_are_non_overlapping_windows_inside_the_run():
    """Outages as a Poisson process of rate 1/every: with every 10m over 2h minus the start,
    about 11 per pair; windows are ordered, disjoint and end by the end of the run."""
    raw = _raw(pairs=40, link_faults={"every": "10m", "duration": {"uniform": ["10s", "1m"]}})
    f = build_fleet(load_scenario({**raw, "duration": "2h"}, file="x.yaml"))
    total = 0
    for p in f.plans:
        prev = p.start
        for a, b in p.outages:
            assert prev <= a < b <= 7200 and (b - a <= 60 or b == 7200)
            prev = b
        total += len(p.outages)
    # mean outages per pair ~ (7200 - 30) / (600 + 35) = 11.3; 40 pairs: Poisson sd ~ 21
    assert 350 <= total <= 560


def test_a_pair_starts_late_with_its_flows_and_faults_shifted():
    raw = _raw(pairs=3, start={"uniform": ["10s", "20s"]})
    raw["faults"] = [{"at": "30s", "kind": "crash", "peer": "hub", "duration": "5s"}]
    f = build_fleet(load_scenario(raw, file="x.yaml"))
    plan = f.plans[1]
    sc = pair_scenario(f, plan)
    assert sc.config.faults[0].at == pytest.approx(30 + plan.start)
    r = simulate(sc)
    first = r.events[0]
    assert first.t == pytest.approx(plan.start) and first.event == "message_sent"


# --- what a run shows ------------------------------------------------------------------------------

def test_each_tunnel_is_up_two_round_trips_after_its_branch_starts():
    """RFC 7296 1.2: IKE_SA_INIT and IKE_AUTH, two round trips, the IKE_AUTH response gives the
    initiator its CHILD SA: up at both ends 4 x the one-way delay after the start."""
    f = _fleet(pairs=12)
    rows = run_fleet(f)
    for r in rows:
        assert r["established_s"] == pytest.approx(4 * r["delay"], abs=3e-6)  # both rounded to 1 us
        assert r["up"] and not r["unilateral"] and r["false_dpd"] == 0


def test_describe_uses_linear_interpolation_percentiles():
    """numpy's default percentile (linear, Hyndman-Fan type 7): [1, 2, 3, 4] has p50 2.5 and
    p90 = 3 + 0.7 x (4 - 3) = 3.7; None values are pairs without the number."""
    d = describe([1, 2, None, 3, 4])
    assert d["count"] == 4 and d["total"] == 10 and d["mean"] == 2.5
    assert d["p50"] == 2.5 and d["p90"] == pytest.approx(3.7) and d["min"] == 1 and d["max"] == 4
    assert describe([None])["count"] == 0


def test_sharded_runs_give_the_same_rows_as_one_process():
    distributed = pytest.importorskip("distributed")
    f = _fleet(FALSE_DPD, pairs=8)
    one = run_fleet(f)
    assert run_fleet(f, executor="local", jobs=2, shard=3) == one
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        assert run_fleet(f, executor="dask", client=client, shard=2) == one
    assert summarize_fleet(f, one)["fleet"]["pairs"] == 8


def test_any_shard_size_gives_the_rows_of_one_process():
    """A worker plans only the pairs of its shard (fleet/run.py ``run_fleet_task``): shards of
    one pair, of several and of the whole fleet, a shard whose pairs come out of order, and the
    plans drawn one pair at a time all give what the whole fleet planned in one process gives
    (a pair's draws depend only on the seed and its name, docs/fleet.md)."""
    from ipsecsim.fleet.run import FleetTask, plan_of, run_fleet_task
    f = _fleet(FALSE_DPD, pairs=7, link_faults={"every": "10m", "duration": "30s"})
    assert [plan_of(f.scenario, i) for i in range(7)] == list(f.plans)
    assert any(p.outages for p in f.plans)
    one = run_fleet(f)
    for size in (1, 3, 7):
        assert run_fleet(f, executor="local", jobs=2, shard=size) == one
    assert run_fleet_task(FleetTask(f.scenario.raw, f.scenario.file, None, None, (5, 2))) == [one[5], one[2]]


def test_run_prints_the_fleet_summary_and_json(capsys, tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(_raw(pairs=6), sort_keys=False))
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    assert "6 pairs (hub hub)" in out and "established_s" in out and "worst by established_s: branch-" in out
    assert main(["run", str(path), "--json", "--crypto", "model"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["crypto"] == "model" and s["fleet"]["pairs"] == 6 and s["fleet"]["counts"]["established"] == 6
    assert set(s["fleet"]["established_s"]) >= {"count", "mean", "p50", "p90", "p99", "max"}
    first = s["expectations"][0]  # the file expects 200 established pairs; this run has 6
    assert len(s["expectations"]) == 5 and not first["passed"] and "= 6" in first["observed"]


def test_pair_prints_one_pairs_timeline(capsys, tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(_raw(pairs=6), sort_keys=False))
    assert main(["run", str(path), "--pair", "branch-0004"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("branch-0004  seed ") and "IKE_SA_INIT" in out and "CHILD SA established" in out
    assert main(["run", str(path), "--pair", "branch-0009"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--pair: no pair 'branch-0009'" in err and "branch-0001" in err


def test_fleet_expectations_are_checked_on_the_fleet_summary(capsys):
    assert main(["check", str(HUB)]) == 0
    assert "5 expectations met" in capsys.readouterr().out


# --- bad input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("fleet, needle", [
    ({"pairs": 0}, "fleet.pairs: "),
    ({"hub": "nobody"}, "fleet.hub: unknown peer 'nobody'; allowed: hub, branch"),
    ({"link": {"delay": {"gauss": [1, 2]}}}, "fleet.link.delay: expected a fixed value, {uniform: [lo, hi]}"),
    ({"link": {"loss": "120%"}}, "fleet.link.loss: expected a probability between 0 and 1"),
    ({"link": {"loss": {"uniform": ["2%", "1%"]}}}, "uniform [lo, hi] needs lo <= hi"),
    ({"start": {"uniform": ["0s", "5m"]}}, "fleet.start: a pair starting at 300 s would start after the run ends"),
    ({"link_faults": {"every": "0.5s", "duration": "1s"}}, "every must be at least 1s"),
    ({"variants": [{"share": "70%", "peers": {"branch": {}}}, {"share": "40%", "peers": {"branch": {}}}]},
     "the shares add up to 1.1"),
    ({"variants": [{"share": "10%", "peers": {"bob": {}}}]}, "fleet.variants[0].peers: unknown peer 'bob'"),
    ({"variants": [{"share": "10%", "peers": {"branch": {"dpd": {"delay": "0.5s"}}}}]},
     "fleet.variants[0].peers.branch.dpd.delay"),
    ({"colour": "red"}, "fleet.colour: unknown key 'colour'; allowed: pairs, hub, prefix"),
])
def test_bad_fleet_input_is_one_line_naming_file_field_and_allowed_values(tmp_path, capsys, fleet, needle):
    raw = _raw()
    raw["fleet"] = {"pairs": 3, **{k: v for k, v in raw["fleet"].items() if k != "pairs"}, **fleet}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and needle in err, err


def test_a_fleet_template_has_two_peers_and_summary_expectations_only(tmp_path):
    raw = _raw()
    raw["expect"] = [{"event": "peer_dead", "never": True}]
    with pytest.raises(ConfigError, match=r"expect\[0\]: a fleet is checked on its summary"):
        load_scenario(raw, file="f.yaml")


@pytest.mark.parametrize("argv, needle", [
    (["--pair", "x"], "--pair: "),
    (["-j", "2"], "--jobs: shards the pairs of a fleet"),
])
def test_fleet_flags_on_a_plain_scenario_are_refused(capsys, argv, needle):
    assert main(["run", str(SCENARIOS / "ikev2-basic.yaml"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err


def test_fleet_refuses_per_pair_outputs_without_pair(capsys):
    assert main(["run", str(HUB), "--events", "-"]) == 2
    assert "add --pair NAME" in capsys.readouterr().err


# --- many tunnels in one scenario: validation is linear -------------------------------------------

def _multi(n):
    peers, traffic = {}, []
    for i in range(n):
        a, b = f"c{i}", f"b{i}"
        peers[a] = {"address": f"10.1.0.{i + 1}", "remote_peer": b, "local_subnets": [f"10.100.{i}.0/24"],
                    "remote_subnets": [f"10.200.{i}.0/24"], "start": "respond", "ike": {"psk": "k"}}
        peers[b] = {"address": f"10.2.0.{i + 1}", "remote_peer": a, "local_subnets": [f"10.200.{i}.0/24"],
                    "remote_subnets": [f"10.100.{i}.0/24"], "ike": {"psk": "k"}}
        traffic.append({"kind": "ping", "from": b, "to": a, "interval": "1s", "name": f"p{i}"})
    return {"name": "multi", "duration": "1m", "peers": peers, "traffic": traffic}


def test_validating_many_tunnels_pairs_the_peers_once(monkeypatch):
    """The partner map was rebuilt for every flow (each O(peers)): quadratic in tunnels. Now it
    is built a fixed number of times however many tunnels and flows there are."""
    calls = []
    real = topology.partners
    monkeypatch.setattr(topology, "partners", lambda peers: calls.append(1) or real(peers))
    for n in (5, 40):
        calls.clear()
        sc = load_scenario(copy.deepcopy(_multi(n)))
        assert len(sc.peers) == 2 * n
        assert len(calls) <= 4, (n, len(calls))


def test_run_with_jobs_prints_the_same_summary_as_one_process(capsys, tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(_raw(FALSE_DPD, pairs=4), sort_keys=False))
    assert main(["run", str(path), "--json", "--duration", "5m"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert main(["run", str(path), "--json", "--duration", "5m", "-j", "2"]) == 0
    assert json.loads(capsys.readouterr().out) == one
    assert one["duration"] == 300.0 and one["fleet"]["pairs"] == 4


def test_both_engines_give_a_fleet_the_same_rows():
    f = _fleet(FALSE_DPD, pairs=3)
    assert run_fleet(f, engine="simpy") == run_fleet(f)


def test_every_random_outage_of_a_live_tunnel_is_detected_once_and_in_time():
    """scenarios/fleet-dpd-detects-outage.yaml: action clear, so a pair's first outage is the
    one that counts. An outage of 2 min starting at F is detected at L + 33 s, L < F <= L + 30 s
    (RFC 7296 2.4, the retransmission schedule 1 s x 3): within (3 s, 33 s] of F; a pair whose
    first outage starts more than 33 s before the end always detects it, one without outage
    never does."""
    f = build_fleet(load_scenario(SCENARIOS / "fleet-dpd-detects-outage.yaml"))
    rows = run_fleet(f)
    for plan, row in zip(f.plans, rows, strict=True):
        assert row["false_dpd"] == 0
        if not plan.outages:
            assert row["dpd_detections"] == 0
        elif plan.outages[0][0] < 1200 - 33:
            assert row["dpd_detections"] == 1 and 3 < row["detection_delay"] <= 33


def test_health_checks_start_with_their_pair():
    """A pair starting late sends its first NQA probe at the template's nqa.start plus its offset,
    as its flows and faults (a probe before the gateway runs would report a dead path)."""
    raw = yaml.safe_load((SCENARIOS / "nqa-detects-broken-tunnel.yaml").read_text())
    raw.pop("expect", None)
    raw["fleet"] = {"pairs": 2, "start": {"uniform": ["5s", "9s"]}}
    f = build_fleet(load_scenario(raw, file="nqa-fleet.yaml"))
    base = load_scenario(SCENARIOS / "nqa-detects-broken-tunnel.yaml")
    probing = {n: p.nqa.start for n, p in base.config.peers.items() if p.nqa is not None}
    assert len(probing) == 2
    for plan in f.plans:
        r = simulate(pair_scenario(f, plan))
        for name, start in probing.items():
            first = r.events_named("nqa_probe_sent", name)[0]
            assert first.t == pytest.approx(start + plan.start)
