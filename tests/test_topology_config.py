"""More than two peers (config/topology.py), HA groups (config/ha.py) and path faults: every
mistake is one clear error naming the file, the field path and what is allowed (exit 2)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from ipsecsim import ConfigError, load_scenario
from ipsecsim.cli import main
from ipsecsim.config.topology import partner_map


def peer(address: str, remote: str | None, local: str, far: str, start: str = "initiate") -> dict[str, Any]:
    out: dict[str, Any] = {"address": address, "local_subnets": [local], "remote_subnets": [far], "start": start,
                           "ike": {"version": 2, "psk": "s"}}
    if remote is not None:
        out["remote_peer"] = remote
    return out


def dual() -> dict[str, Any]:
    """Two tunnels from one site (cloud-1, cloud-2) to one customer device (one address)."""
    vpc, idc = "10.0.0.0/16", "192.168.0.0/16"
    return {
        "name": "dual", "duration": "20s",
        "peers": {
            "cloud-1": peer("47.21.0.1", "customer-1", vpc, idc, "respond"),
            "cloud-2": peer("47.21.0.2", "customer-2", vpc, idc, "respond"),
            "customer-1": peer("47.42.0.1", "cloud-1", idc, vpc),
            "customer-2": peer("47.42.0.1", "cloud-2", idc, vpc),
        },
        "ha": [{"name": "vpc", "members": ["cloud-1", "cloud-2"]},
               {"name": "idc", "members": ["customer-1", "customer-2"]}],
        "traffic": [{"kind": "ping", "from": "vpc", "to": "idc"}],
    }


def run_cli(tmp_path, capsys, data) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(data))
    code = main(["run", str(p)])
    err = capsys.readouterr().err
    return code, err.replace(f"ipsecsim: error: {p}: ", "")


def test_pairs_and_defaults():
    sc = load_scenario(dual())
    assert partner_map(sc.config.peers) == {"cloud-1": "customer-1", "cloud-2": "customer-2",
                                            "customer-1": "cloud-1", "customer-2": "cloud-2"}
    # remote_address defaults to the address of the remote peer
    assert sc.peers["cloud-2"].remote_address == "47.42.0.1"
    assert sc.peers["customer-2"].remote_address == "47.21.0.2"


def test_two_peers_pair_without_remote_peer_as_before():
    d = dual()
    d["peers"] = {k: v for k, v in d["peers"].items() if k in ("cloud-1", "customer-1")}
    for p in d["peers"].values():
        del p["remote_peer"]
    del d["ha"]
    d["traffic"] = [{"kind": "ping", "from": "cloud-1", "to": "customer-1"}]
    assert load_scenario(d).peers["cloud-1"].remote_address == "47.42.0.1"


def test_remote_address_of_a_remote_peer_behind_a_nat_is_the_public_one():
    """config/nat.py: from outside, the peer behind the NAT is reached at the public address."""
    d = dual()
    d["peers"]["customer-1"]["address"] = "10.9.9.9"
    d["link"] = {"nat": {"peer": "customer-1", "public_address": "203.0.113.5"}}
    assert load_scenario(d).peers["cloud-1"].remote_address == "203.0.113.5"


def mutate(d: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    d = copy.deepcopy(d)
    *parents, leaf = path.split("/")
    node: Any = d
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if value is _DELETE:
        del node[leaf]
    elif isinstance(node, list):
        node[int(leaf)] = value
    else:
        node[leaf] = value
    return d


_DELETE = object()


@pytest.mark.parametrize("path,value,where,fragment", [
    ("peers/cloud-1/remote_peer", _DELETE, "peers.cloud-1.remote_peer",
     "required when a scenario has more than two peers"),
    ("peers/cloud-1/remote_peer", "nobody", "peers.cloud-1.remote_peer", "unknown peer 'nobody'; allowed:"),
    ("peers/cloud-1/remote_peer", "cloud-1", "peers.cloud-1.remote_peer", "cannot be its own remote peer"),
    ("peers/cloud-1/remote_peer", "customer-2", "peers.cloud-1.remote_peer",
     "cloud-1 names customer-2, but customer-2's remote_peer is cloud-2: a tunnel is two peers naming each other"),
    ("peers/customer-1/address", "47.21.0.1", "peers.customer-1.address",
     "the two ends of a tunnel need different addresses"),
    ("ha/0/members", ["cloud-1", "ghost"], "ha[0].members[1]", "unknown peer 'ghost'; allowed: cloud-1"),
    ("ha/0/members", ["cloud-1", "cloud-1"], "ha[0].members", "cloud-1 is listed twice"),
    ("ha/0/members", ["cloud-1", "customer-1"], "ha[0].members[0]",
     "cloud-1 and customer-1 are the two ends of one tunnel"),
    ("ha/1/members", ["customer-1", "cloud-2"], "ha[1].members[1]", "cloud-2 is already a member of group vpc"),
    ("ha/0/name", "cloud-1", "ha[0].name", "already the name of a peer"),
    ("ha/1/name", "vpc", "ha[1].name", "two groups are named 'vpc'"),
    ("ha/0/mode", "hot-cold", "ha[0].mode", "allowed: active-standby, active-active"),
    ("ha/0/watch", ["ipsec", "bgp"], "ha[0].watch[1]", "allowed: ipsec, nqa"),
    ("ha/0/watch", ["nqa"], "ha[0].watch", "member cloud-1 has no health check (peers.cloud-1.nqa)"),
    ("ha/0/members", ["cloud-1"], "ha[0].members", "at least 2 items"),
    ("traffic/0/to", "customer-1", "traffic[0].to",
     "the members of group vpc reach customer-1, customer-2 through their tunnels; name a group listing them"),
    ("traffic/0/from", "cloud-1", "traffic[0].to",
     "the sending side picks the tunnel and cloud-1 has one, to customer-1"),
    ("traffic/0/to", "nowhere", "traffic[0].to", "unknown peer 'nowhere'; peers: cloud-1"),
    ("traffic/0/dst", "10.0.0.9", "traffic[0].dst", "10.0.0.9 is not in customer-1's local_subnets"),
])
def test_bad_topology_is_one_clear_error(tmp_path, capsys, path, value, where, fragment):
    code, err = run_cli(tmp_path, capsys, mutate(dual(), path, value))
    assert code == 2, err
    assert err.startswith(f"{where}: "), err
    assert fragment in err, err
    assert err.count("\n") == 1


def test_default_host_outside_a_second_member_subnets_is_named(tmp_path, capsys):
    d = dual()
    d["peers"]["cloud-2"]["local_subnets"] = ["10.1.0.0/16"]
    d["peers"]["customer-2"]["remote_subnets"] = ["10.1.0.0/16"]
    code, err = run_cli(tmp_path, capsys, d)
    assert code == 2 and err.startswith("traffic[0].src: 10.0.0.1 (the default: first host of cloud-1's first "
                                        "local subnet; give src) is not in cloud-2's local_subnets"), err


def test_a_peer_with_several_tunnels_behind_a_nat_is_refused(tmp_path, capsys):
    d = dual()
    d["link"] = {"nat": {"peer": "customer-1", "public_address": "203.0.113.5"}}
    code, err = run_cli(tmp_path, capsys, d)
    assert code == 2 and err.startswith("link.nat.peer: customer-1 shares its address 47.42.0.1 with customer-2")


@pytest.mark.parametrize("fault,fragment", [
    ({"at": 1, "kind": "link_down", "between": ["cloud-1", "nobody"]}, "faults[0].between: unknown peer 'nobody'"),
    # two peers that are not the ends of one tunnel: no packet travels between them
    ({"at": 1, "kind": "link_down", "between": ["cloud-1", "cloud-2"]},
     "faults[0].between: cloud-1 and cloud-2 are not the two ends of a tunnel, so no packet travels between them; "
     "tunnels: [cloud-1, customer-1], [cloud-2, customer-2]"),
    ({"at": 1, "kind": "loss", "loss": 1.0, "direction": "cloud-1->customer-2"},
     "faults[0].direction: cloud-1 and customer-2 are not the two ends of a tunnel"),
    ({"at": 1, "kind": "link_down", "between": ["cloud-1", "cloud-1"]}, "names two different peers"),
    ({"at": 1, "kind": "link_down", "between": ["cloud-1"]}, "at least 2 items"),
    ({"at": 1, "kind": "freeze", "peer": "cloud-1", "between": ["cloud-1", "customer-1"]},
     "'between' applies to loss, delay, link_down and link_up faults, not freeze"),
    ({"at": 1, "kind": "loss", "loss": 0.5, "direction": "cloud-1->customer-1", "between": ["cloud-1", "customer-1"]},
     "give either 'direction' (one way) or 'between' (both ways), not both"),
    ({"at": 1, "kind": "reconfigure", "peer": "cloud-1", "set": {"remote_peer": "customer-2"}},
     "cannot change remote_peer"),
])
def test_bad_path_faults(tmp_path, capsys, fault, fragment):
    d = dual()
    d["faults"] = [fault]
    code, err = run_cli(tmp_path, capsys, d)
    assert code == 2 and fragment in err, err


def test_expectations_may_name_a_group_but_not_a_stranger():
    d = dual()
    d["expect"] = [{"event": "ha_switch", "peer": "vpc", "to": "cloud-1"}]
    load_scenario(d)
    d["expect"] = [{"event": "ha_switch", "peer": "vpn"}]
    with pytest.raises(ConfigError, match=r"'vpn' is not a peer of this scenario \(peers: .*, an HA group or link\)"):
        load_scenario(d)
    d["expect"] = [{"status": {"vpc": "ipsec_sa_established"}}]
    with pytest.raises(ConfigError, match="'vpc' is not a peer"):
        load_scenario(d)
