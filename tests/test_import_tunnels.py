"""Redundant connections in: an Alibaba dual-tunnel DescribeVpnConnection (Alibaba Cloud API
TunnelOptionsSpecification, Role master / slave) and a Huawei pair of vpn_connections (Huawei Cloud API
ha_role: master = active, slave = standby; both master = active-active) become one runnable
scenario with both tunnels, one HA group per side in the documents' order."""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from conftest import SCENARIOS

from ipsecsim import load_scenario, simulate
from ipsecsim.cli import main

VENDOR = SCENARIOS / "vendor"
DUAL = VENDOR / "alibaba-dual-tunnel.json"
MASTER, SLAVE = VENDOR / "huawei-active-standby-master.json", VENDOR / "huawei-active-standby-slave.json"


def imported(capsys, *args: str) -> tuple[str, dict]:  # type: ignore[type-arg]
    assert main(["import", *map(str, args)]) == 0
    text = capsys.readouterr().out
    return text, yaml.safe_load(text)


def write(tmp_path, data, name="conn.json"):  # type: ignore[no-untyped-def]
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return p


def test_alibaba_dual_tunnel_becomes_two_tunnels_and_two_groups(tmp_path, capsys):
    text, doc = imported(capsys, "alibaba", DUAL)
    peers = doc["peers"]
    assert list(peers) == ["cloud-1", "cloud-2", "customer-1", "customer-2"]
    assert {n: p["remote_peer"] for n, p in peers.items()} == {
        "cloud-1": "customer-1", "cloud-2": "customer-2", "customer-1": "cloud-1", "customer-2": "cloud-2"}
    assert doc["ha"][0] == {"name": "cloud", "members": ["cloud-1", "cloud-2"], "mode": "active-standby",
                            "preempt": True, "watch": ["ipsec"]}
    assert doc["ha"][1]["members"] == ["customer-1", "customer-2"]
    # TunnelIkeConfig of each tunnel: ikev1 main, aes / sha1 / group2
    assert peers["cloud-2"]["ike"]["proposals"] == ["aes128-sha1-modp1024"]
    # masked values reported with their JSON path, per tunnel
    assert "TunnelOptions[1].InternetIp = 47.21.XX.XX): replace" in text
    assert "TunnelOptions[1].TunnelIkeConfig.Psk = 123456****): replace" in text
    # both tunnels have the same CustomerGatewayId: one customer address
    assert peers["customer-1"]["address"] == peers["customer-2"]["address"]
    p = tmp_path / "s.yaml"
    p.write_text(text)
    r = simulate(load_scenario(p))
    assert all(r.status(n) == "ipsec_sa_established" for n in peers)
    # TunnelBgpConfig on both tunnels (EnableTunnelsBgp true): the group is routed by BGP; the master's route
    # wins (first member of an active-standby group: LOCAL_PREF 200, docs/bgp.md)
    best = [e.fields["to"] for e in r.events if e.event == "bgp_best_path" and e.peer == "cloud"]
    assert best and best[-1] == "cloud-1"


def test_the_master_comes_first_whatever_the_order_in_the_document(tmp_path, capsys):
    data = json.loads(DUAL.read_text())
    opts = data["TunnelOptionsSpecification"]["TunnelOptions"]
    opts[0]["Role"], opts[1]["Role"] = "slave", "master"
    opts[1]["InternetIp"] = "47.21.0.2"
    _, doc = imported(capsys, "alibaba", write(tmp_path, data))
    assert doc["peers"]["cloud-1"]["address"] == "47.21.0.2"  # TunnelIndex 2 is the master now
    assert "TunnelIndex 2 (master) and TunnelIndex 1 (slave)" in doc["description"]


def test_different_customer_gateways_get_different_addresses(tmp_path, capsys):
    data = json.loads(DUAL.read_text())
    data["TunnelOptionsSpecification"]["TunnelOptions"][1]["CustomerGatewayId"] = "cgw-other"
    _, doc = imported(capsys, "alibaba", write(tmp_path, data))
    assert doc["peers"]["customer-1"]["address"] != doc["peers"]["customer-2"]["address"]


def test_one_tunnel_with_tunnel_option_is_the_single_import(capsys):
    _, doc = imported(capsys, "alibaba", DUAL, "--tunnel", "2")
    assert list(doc["peers"]) == ["cloud", "customer"] and "ha" not in doc


@pytest.mark.parametrize("mutate,path,fragment", [
    (lambda o: o[1].update(Role="master"), "TunnelOptions[1].Role",
     "both tunnels have Role master; a dual-tunnel connection has one master (active) and one slave"),
    (lambda o: o[1].update(TunnelIndex=1), "TunnelOptions[1].TunnelIndex", "both tunnels have TunnelIndex 1"),
    (lambda o: o[1].update(Role="backup"), "TunnelOptions[1].Role", "'backup' is not allowed; allowed: master, slave"),
    (lambda o: o.append(copy.deepcopy(o[0])), "TunnelOptions", "3 tunnels; a dual-tunnel connection has two"),
])
def test_alibaba_bad_dual_tunnel_documents(tmp_path, capsys, mutate, path, fragment):
    data = json.loads(DUAL.read_text())
    mutate(data["TunnelOptionsSpecification"]["TunnelOptions"])
    p = write(tmp_path, data)
    assert main(["import", "alibaba", str(p)]) == 2
    err = capsys.readouterr().err
    assert f"{p}: TunnelOptionsSpecification.{path}: " in err and fragment in err, err


def test_huawei_master_and_slave_in_any_order(tmp_path, capsys):
    text, doc = imported(capsys, "huawei", SLAVE, MASTER)
    assert doc["ha"][0]["mode"] == "active-standby"
    assert "connection vpn-799d (master) and connection vpn-799d-standby (slave)" in doc["description"]
    # the master's masked gateway address is the first cloud peer's
    assert "(vpn_connection.ikepolicy.local_id = 10.***.***.134): replace" in text.split("cloud-2:")[0]
    assert "(vpn_connection.ikepolicy.local_id = 10.***.***.135): replace" in text.split("cloud-2:")[1]
    assert "the vpn_connection response does not carry the pre-shared key" in text
    p = tmp_path / "s.yaml"
    p.write_text(text)
    r = simulate(load_scenario(p))
    assert r.status("cloud-1") == "ipsec_sa_established" and r.status("customer-2") == "ipsec_sa_established"


def test_huawei_two_masters_are_active_active(tmp_path, capsys):
    data = json.loads(SLAVE.read_text())
    data["vpn_connection"]["ha_role"] = "master"
    text, doc = imported(capsys, "huawei", MASTER, write(tmp_path, data))
    assert [g["mode"] for g in doc["ha"]] == ["active-active", "active-active"]
    assert "active-active gateway" in text


@pytest.mark.parametrize("change,where,fragment", [
    ({"ha_role": "slave"}, "vpn_connection.ha_role", "both connections have ha_role slave"),
    ({"vgw_id": "11111111-demo-a8df-va86-e907174eb11d"}, "vpn_connection.vgw_id",
     "is another VPN gateway than"),
    ({"ha_role": "standby"}, "vpn_connection.ha_role", "'standby' is not allowed; allowed: master, slave"),
])
def test_huawei_bad_pairs(tmp_path, capsys, change, where, fragment):
    first = json.loads(SLAVE.read_text()) if change.get("ha_role") == "slave" else json.loads(MASTER.read_text())
    first["vpn_connection"]["id"] = "0a6c2e51-demo-a8df-va86-7d1f3b9e6a02"  # another connection than the slave
    second = json.loads(SLAVE.read_text())
    second["vpn_connection"].update(change)
    a, b = write(tmp_path, first, "a.json"), write(tmp_path, second, "b.json")
    assert main(["import", "huawei", str(a), str(b)]) == 2
    err = capsys.readouterr().err
    assert f"{b}: {where}: " in err and fragment in err, err


@pytest.mark.parametrize("args,fragment", [
    (["alibaba", str(DUAL), str(DUAL)], "alibaba: give one DescribeVpnConnection document"),
    (["huawei", str(MASTER), str(SLAVE), str(MASTER)], "huawei: give one vpn_connection, or the two connections"),
    (["huawei", str(MASTER), str(SLAVE), "--tunnel", "1"], "--tunnel: applies to Alibaba dual-tunnel connections"),
])
def test_cli_file_counts(capsys, args, fragment):
    assert main(["import", *args]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1


def test_one_tunnel_option_is_not_called_a_dual_tunnel_connection(capsys):
    """The Alibaba Cloud API example response lists a single TunnelOptions entry (TunnelIndex 1, Role master)."""
    text, doc = imported(capsys, "alibaba", VENDOR / "alibaba-describe.json")
    assert "dual-tunnel" not in text
    assert "# note: TunnelOptions lists one tunnel (TunnelIndex 1, Role master): importing it" in text
    assert list(doc["peers"]) == ["cloud", "customer"]


def test_the_tunnel_choice_hint_names_the_option_and_the_scenario_key():
    from ipsecsim.config.importers import import_file
    imp = import_file(DUAL)  # as a scenario's import: FILE does, without a tunnel
    note = next(n for n in imp.notes if n.startswith("dual-tunnel connection"))
    assert "importing the master tunnel (TunnelIndex 1)" in note
    assert "--tunnel N on the command line" in note and "import: {file, tunnel: N} in a scenario" in note
    assert "'tunnel: N'" not in note


@pytest.mark.parametrize("args,fragment", [
    (["huawei", str(MASTER), "--tunnel", "1"], "a Huawei vpn_connection is one tunnel; the tunnel choice "
     "(--tunnel N on the command line, import: {file, tunnel: N} in a scenario)"),
    (["alibaba", "SINGLE", "--tunnel", "1"], "no TunnelOptionsSpecification.TunnelOptions (a single tunnel): there is "
     "no tunnel to choose (--tunnel N on the command line, import: {file, tunnel: N} in a scenario"),
])
def test_a_tunnel_choice_without_tunnels_names_both_forms(tmp_path, capsys, args, fragment):
    single = json.loads((VENDOR / "alibaba-describe.json").read_text())
    del single["TunnelOptionsSpecification"]
    args = [str(write(tmp_path, single)) if a == "SINGLE" else a for a in args]
    assert main(["import", *args]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1, err


def test_the_same_huawei_file_twice_is_not_a_pair(capsys, monkeypatch):
    assert main(["import", "huawei", str(MASTER), str(MASTER)]) == 2
    err = capsys.readouterr().err
    assert f"{MASTER}: the same file as {MASTER}: an HA pair is two connections of one VPN gateway" in err, err
    monkeypatch.chdir(MASTER.parent)  # the same file under another name
    assert main(["import", "huawei", MASTER.name, str(MASTER)]) == 2
    assert "the same file as" in capsys.readouterr().err


def test_the_same_huawei_connection_id_twice_is_not_a_pair(tmp_path, capsys):
    """Huawei Cloud API ResponseVpnConnection.id: the VPN connection's ID; two documents with one id are one
    connection, even as master and slave."""
    copy_ = json.loads(MASTER.read_text())
    copy_["vpn_connection"]["ha_role"] = "slave"
    p = write(tmp_path, copy_)
    assert main(["import", "huawei", str(MASTER), str(p)]) == 2
    err = capsys.readouterr().err
    assert f"{p}: vpn_connection.id: '98c5af8a-demo-a8df-va86-ae2280a6f4c3' is also the id of {MASTER}'s connection: " \
           "the same connection given twice" in err, err
