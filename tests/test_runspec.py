"""The run description the simulator consumes (ipsecsim/spec, built by config/runspec.py):
plain frozen values with every default the scenario format documents already applied, so
the simulator, the trace and the checks never read the scenario's models."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from conftest import SCENARIOS
from factory import scenario_dict
from pydantic import BaseModel

from ipsecsim import load_scenario
from ipsecsim.spec import GilbertElliottSpec, RunSpec


def _values(x: Any) -> list[Any]:
    """Every value reachable from ``x`` through dataclass fields, mappings and sequences."""
    out = [x]
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        for f in dataclasses.fields(x):
            out += _values(getattr(x, f.name))
    elif isinstance(x, dict):
        for k, v in x.items():
            out += _values(k) + _values(v)
    elif isinstance(x, list | tuple | frozenset | set):
        for v in x:
            out += _values(v)
    return out


@pytest.mark.parametrize("name", ["bgp-dual-tunnel-dpd-first", "nat-mapping-expiry", "recreate-connection-recovery"])
def test_the_description_holds_no_scenario_model(name: str) -> None:
    spec = load_scenario(SCENARIOS / f"{name}.yaml").spec
    assert isinstance(spec, RunSpec)
    assert not [v for v in _values(spec) if isinstance(v, BaseModel)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.seed = 2  # type: ignore[misc]


def test_flow_names_and_hosts_are_resolved_as_the_format_documents() -> None:
    # docs (config/model.py TrafficConfig): name "default: kind-N"; src / dst "default: first
    # host of the sender's (receiver's) first local subnet"; df "true for bulk and burst ... false for ping"
    d = scenario_dict(traffic=[{"kind": "ping", "from": "A", "to": "B"},
                               {"name": "backup", "kind": "bulk", "from": "B", "to": "A", "rate": "1Mbit/s",
                                "dst": "10.101.0.9"}])
    spec = load_scenario(d).spec
    ping, bulk = spec.traffic
    assert (ping.name, ping.src, ping.dst, ping.dont_fragment) == ("ping-1", "10.101.0.1", "10.102.0.1", False)
    assert (bulk.name, bulk.src, bulk.dst, bulk.dont_fragment) == ("backup", "10.102.0.1", "10.101.0.9", True)
    assert bulk.rate == 1e6
    assert spec.partner == {"A": "B", "B": "A"}  # two peers: each the other's remote peer (config/topology.py)


def test_link_loss_and_seed_follow_the_scenario() -> None:
    ge = {"model": "gilbert-elliott", "p": 0.01, "r": 0.5}
    sc = load_scenario(scenario_dict(link={"delay": "20ms", "loss": ge, "down": [{"from": "5s", "to": "7s"}]}))
    link = sc.spec.link
    assert (link.delay, link.down, link.mtu) == (0.02, ((5.0, 7.0),), 1500)
    # the fields a loss fault's event repeats, in the scenario's order, defaults applied (loss_good 0, loss_bad 1)
    assert dataclasses.asdict(link.loss) == {"model": "gilbert-elliott", "p": 0.01, "r": 0.5, "mean_good": None,
                                             "mean_bad": None, "loss_good": 0.0, "loss_bad": 1.0}
    assert isinstance(link.loss, GilbertElliottSpec)
    assert sc.with_seed(7).spec.seed == 7 and sc.spec.seed == sc.seed


def test_expect_entries_are_plain_frozen_values_as_the_format_documents() -> None:
    # docs (config/expect.py Expectation): between is [from, to] in simulated time; "other keys
    # of the entry ... filter on the event's fields"; a summary's equals: null "is the exact
    # value required", so written as null it is a requirement, left out it is none
    d = scenario_dict(expect=[{"event": "peer_dead", "peer": "A", "between": ["26s", "28s"], "at_least": 1,
                               "label": "dead"},
                              {"summary": {"path": "peers.A.messages.retransmitted", "equals": None}},
                              {"summary": {"path": "peers.A.messages.retransmitted", "max": 3}},
                              {"status": {"A": "ike_sa_not_established"}}])
    event, equals_null, at_most, status = load_scenario(d).spec.expect
    assert (event.kind, event.peer, event.window, event.at_least, event.count, event.label) == \
        ("event", "A", (26.0, 28.0), 1, None, "dead")
    assert event.event == "peer_dead" and event.filters == {}
    assert equals_null.summary is not None and equals_null.summary.equals_given
    assert at_most.summary is not None and not at_most.summary.equals_given and at_most.summary.max == 3
    assert (status.kind, status.status) == ("status", {"A": "ike_sa_not_established"})
    assert not [v for e in (event, equals_null, at_most, status) for v in _values(e) if isinstance(v, BaseModel)]
    assert at_most.written() == {"summary": {"path": "peers.A.messages.retransmitted", "max": 3}}
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.count = 2  # type: ignore[misc]


def test_the_description_names_the_scenario_its_file_and_fleet() -> None:
    path = SCENARIOS / "strongswan-ikev2-dpd-clear.yaml"
    sc = load_scenario(path)
    assert (sc.spec.name, sc.spec.file) == ("strongswan-ikev2-dpd-clear", str(path))
    assert sc.spec.description.startswith("The responder freezes") and not sc.spec.fleet
    # the file's freeze at 12 s is not simulated in a 10 s run: the run says so
    assert sc.spec.notes == () and load_scenario(path, duration=10.0).spec.notes
    assert load_scenario(scenario_dict()).spec.file is None
    assert load_scenario(SCENARIOS / "fleet-false-dpd.yaml").spec.fleet  # its fleet: block
