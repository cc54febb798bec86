"""Vendor JSON in (Huawei Cloud vpn_connection; Alibaba Cloud DescribeVpnConnection).

Enums and ranges are those the API documents state; the examples' masked values are reported
with their JSON path, never used.
"""

import copy
import json

import pytest
import yaml
from conftest import SCENARIOS

from ipsecsim import ConfigError, load_scenario, simulate
from ipsecsim.cli import main
from ipsecsim.config.importers import import_file
from ipsecsim.config.importers.base import is_masked

VENDOR = SCENARIOS / "vendor"


def huawei(name="static"):
    return json.loads((VENDOR / f"huawei-{name}.json").read_text())


def alibaba():
    return json.loads((VENDOR / "alibaba-describe.json").read_text())


def write(tmp_path, data, name="conn.json"):
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return p


@pytest.mark.parametrize("value,masked", [("10.***.***.134", True), ("47.XX.XX.162", True), ("pgw6dy****", True),
                                          ("123456****", True), ("10.0.0.1", False), ("vpn.example.com", False),
                                          ("XXL-gateway", False)])
def test_masked_values_are_recognised(value, masked):
    assert is_masked(value) is masked


def test_huawei_static_example_maps_ike_ipsec_dpd():
    imp = import_file(VENDOR / "huawei-static.json")
    p = imp.peer
    assert p["profile"] == "huawei-cloud"
    # sha2-256 / aes-128 / group15 (Huawei Cloud API example), PFS group15
    assert p["ike"] == {"version": 2, "proposals": ["aes128-sha256-modp3072"], "life_time": 86400}
    assert p["child"] == {"proposals": ["aes128-sha256-modp3072"], "life_time": 3600}
    assert p["dpd"] == {"delay": 30, "retry_interval": 15, "msg_order": "seq-hash-notify"}
    assert imp.masked["address"] == ("vpn_connection.ikepolicy.local_id", "10.***.***.134")
    assert imp.masked["remote_address"] == ("vpn_connection.ikepolicy.peer_id", "88.***.***.164")
    assert "ike.psk" in imp.missing


def test_huawei_policy_rules_become_the_subnets():
    imp = import_file(VENDOR / "huawei-policy.json")
    assert imp.peer["local_subnets"] == ["10.0.0.0/24"] and imp.peer["remote_subnets"] == ["192.168.44.0/24"]


def test_huawei_bgp_example_fqdn_ids_and_seq_notify_hash():
    imp = import_file(VENDOR / "huawei-bgp.json")
    assert imp.peer["ike"]["proposals"] == ["aes256-sha512-modp4096"]
    assert imp.peer["dpd"] == {"delay": 60, "retry_interval": 30, "msg_order": "seq-notify-hash"}
    assert imp.masked["ike.local_id"][1] == "123***"


@pytest.mark.parametrize("mutate,path,fragment", [
    (lambda c: c["ikepolicy"].update(dh_group="group3"), "vpn_connection.ikepolicy.dh_group",
     "allowed: group1, group2, group5, group14, group15, group16, group19, group20, group21"),
    (lambda c: c["ikepolicy"].update(encryption_algorithm="aes-512"), "vpn_connection.ikepolicy.encryption_algorithm",
     "allowed: aes-256-gcm-16, aes-128-gcm-16, aes-256, aes-192, aes-128, 3des, sm4"),
    (lambda c: c["ikepolicy"].update(lifetime_seconds=59), "vpn_connection.ikepolicy.lifetime_seconds",
     "outside the range 60-604800"),
    (lambda c: c["ipsecpolicy"].update(lifetime_seconds=29), "vpn_connection.ipsecpolicy.lifetime_seconds",
     "outside the range 30-604800"),
    (lambda c: c["ikepolicy"]["dpd"].update(interval=9), "vpn_connection.ikepolicy.dpd.interval",
     "outside the range 10-3600"),
    (lambda c: c["ikepolicy"]["dpd"].update(timeout=61), "vpn_connection.ikepolicy.dpd.timeout",
     "outside the range 2-60"),
    (lambda c: c["ikepolicy"]["dpd"].update(msg="hash-seq-notify"), "vpn_connection.ikepolicy.dpd.msg",
     "allowed: seq-hash-notify, seq-notify-hash"),
    (lambda c: c["ipsecpolicy"].update(pfs="group3"), "vpn_connection.ipsecpolicy.pfs", "disable"),
    (lambda c: c["ipsecpolicy"].update(transform_protocol="ah"), "vpn_connection.ipsecpolicy.transform_protocol",
     "allowed: esp"),
    (lambda c: c.update(style="ROUTE"), "vpn_connection.style", "allowed: POLICY, STATIC, BGP, POLICY-TEMPLATE"),
    (lambda c: c.update(name="vpn b2cb!"), "vpn_connection.name", "digits, letters, Chinese, _ and -"),
    (lambda c: c.update(ha_role="primary"), "vpn_connection.ha_role", "allowed: master, slave"),
    (lambda c: c["ikepolicy"].update(phase1_negotiation_mode="main"),
     "vpn_connection.ikepolicy.phase1_negotiation_mode", "v1 only"),
    (lambda c: c["ikepolicy"].update(authentication_method="digital-envelope-v2"),
     "vpn_connection.ikepolicy.authentication_method", "not simulated"),
    (lambda c: c.update(peer_subnets=["192.168.44.0/33"]), "vpn_connection.peer_subnets[0]", "invalid IPv4 CIDR"),
])
def test_huawei_enums_and_ranges_as_the_api_states(tmp_path, mutate, path, fragment):
    data = huawei()
    mutate(data["vpn_connection"])
    with pytest.raises(ConfigError) as e:
        import_file(write(tmp_path, data))
    assert e.value.path == path and fragment in e.value.message


def test_huawei_policy_rule_index_range(tmp_path):
    data = huawei("policy")
    data["vpn_connection"]["policy_rules"][0]["rule_index"] = 51
    with pytest.raises(ConfigError, match="outside the range 0-50"):
        import_file(write(tmp_path, data))


def test_huawei_nqa_only_for_static(tmp_path):
    data = huawei("policy")
    data["vpn_connection"]["enable_nqa"] = True
    with pytest.raises(ConfigError, match="STATIC only"):
        import_file(write(tmp_path, data))


def scenario_with(tmp_path, cloud, customer_extra=None):
    sc = {"name": "imported", "duration": "2m", "peers": {
        "cloud": cloud,
        "customer": {"profile": "strongswan", "address": "203.0.113.7", "local_subnets": ["192.168.44.0/24"],
                     "remote_subnets": ["10.0.0.0/24"], "start": "initiate",
                     "ike": {"version": 2, "proposals": ["aes128-sha256-modp3072"], "psk": "secret"},
                     "child": {"proposals": ["aes128-sha256-modp3072"]}, **(customer_extra or {})}}}
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(sc))
    return p


def test_a_scenario_peer_imported_from_huawei_json_negotiates(tmp_path):
    path = scenario_with(tmp_path, {"import": str(VENDOR / "huawei-policy.json"), "address": "198.51.100.10",
                                    "remote_address": "203.0.113.7", "ike": {"psk": "secret"}, "start": "respond"})
    sc = load_scenario(path)
    cloud = sc.peers["cloud"]
    assert cloud.profile == "huawei-cloud" and cloud.child.ts_policy == "exact"
    assert cloud.dpd is not None and cloud.dpd.delay == 30 and cloud.dpd.retry_interval == 15
    r = simulate(sc)
    assert r.status("cloud") == r.status("customer") == "ipsec_sa_established"


def test_a_masked_value_must_be_given_in_the_scenario(tmp_path):
    path = scenario_with(tmp_path, {"import": str(VENDOR / "huawei-policy.json"), "ike": {"psk": "secret"}})
    with pytest.raises(ConfigError) as e:
        load_scenario(path)
    assert e.value.file.endswith("huawei-policy.json") and e.value.path == "vpn_connection.ikepolicy.local_id"
    assert "'10.***.***.134' is masked" in e.value.message and "peers.cloud.address" in e.value.message


def test_missing_psk_is_asked_for(tmp_path):
    path = scenario_with(tmp_path, {"import": str(VENDOR / "huawei-policy.json"), "address": "198.51.100.10",
                                    "remote_address": "203.0.113.7"})
    with pytest.raises(ConfigError) as e:
        load_scenario(path)
    assert e.value.path == "peers.cloud.ike.psk" and "does not carry the pre-shared key" in e.value.message


def test_alibaba_example_master_tunnel_and_masks():
    imp = import_file(VENDOR / "alibaba-describe.json")
    p = imp.peer
    assert imp.meta["tunnel"]["role"] == "master" and imp.meta["tunnel"]["index"] == 1
    # TunnelIkeConfig: aes / sha1 / group2, IKEv1 main (Alibaba Cloud API example)
    assert p["ike"]["version"] == 1 and p["ike"]["mode"] == "main"
    assert p["ike"]["proposals"] == ["aes128-sha1-modp1024"] and p["ike"]["life_time"] == 86400
    assert p["child"] == {"proposals": ["aes128-sha1-modp1024"], "life_time": 86400}
    # LocalSubnet / RemoteSubnet, and the TunnelCidr of the tunnel's BGP session (TunnelBgpConfig, EnableTunnelsBgp
    # true): the session's packets cross the tunnel between 169.254.10.1 and 169.254.10.2
    assert p["local_subnets"] == ["10.0.0.0/8", "169.254.10.0/30"]
    assert p["remote_subnets"] == ["192.168.0.0/16", "169.254.10.0/30"]
    assert imp.masked["ike.psk"] == ("TunnelOptionsSpecification.TunnelOptions[0].TunnelIkeConfig.Psk", "123456****")
    assert imp.masked["address"][1] == "47.21.XX.XX"
    assert "dpd.delay" in imp.missing  # EnableDpd true, timers undocumented
    assert imp.meta["health_check"] == {"enable": True, "sip": "192.168.1.1", "dip": "10.0.0.1", "interval": 3,
                                        "retry": 3, "policy": "revoke_route"}


def test_alibaba_single_tunnel_document(tmp_path):
    data = alibaba()
    del data["TunnelOptionsSpecification"]
    imp = import_file(write(tmp_path, data))
    assert imp.peer["ike"]["proposals"] == ["aes128-sha1-modp1024"]
    assert imp.masked["ike.psk"] == ("IkeConfig.Psk", "pgw6dy****")


@pytest.mark.parametrize("mutate,path,fragment", [
    (lambda d: d["IkeConfig"].update(IkeLifetime=86401), "IkeConfig.IkeLifetime", "outside the range 0-86400"),
    (lambda d: d["IpsecConfig"].update(IpsecLifetime=-1), "IpsecConfig.IpsecLifetime", "outside the range 0-86400"),
    (lambda d: d["IkeConfig"].update(IkeVersion="ikev3"), "IkeConfig.IkeVersion", "allowed: ikev1, ikev2"),
    (lambda d: d["IkeConfig"].update(IkeMode="quick"), "IkeConfig.IkeMode", "allowed: main, aggressive"),
    (lambda d: d["IkeConfig"].update(IkeEncAlg="aes512"), "IkeConfig.IkeEncAlg", "allowed: aes, aes192, aes256"),
    (lambda d: d["IpsecConfig"].update(IpsecPfs="group3"), "IpsecConfig.IpsecPfs", "disabled"),
    (lambda d: d.update(LocalSubnet="10.0.0.0/8,300.1.0.0/16"), "LocalSubnet[1]", "invalid IPv4 CIDR"),
])
def test_alibaba_enums_and_ranges(tmp_path, mutate, path, fragment):
    data = alibaba()
    del data["TunnelOptionsSpecification"]
    mutate(data)
    with pytest.raises(ConfigError) as e:
        import_file(write(tmp_path, data))
    assert e.value.path == path and fragment in e.value.message


def test_alibaba_tunnel_choice(tmp_path):
    data = alibaba()
    second = copy.deepcopy(data["TunnelOptionsSpecification"]["TunnelOptions"][0])
    second.update(TunnelIndex=2, Role="slave", InternetIp="47.21.1.2")
    second["TunnelIkeConfig"]["IkeVersion"] = "ikev2"
    data["TunnelOptionsSpecification"]["TunnelOptions"].append(second)
    p = write(tmp_path, data)
    imp = import_file(p, tunnel=2)
    assert imp.peer["address"] == "47.21.1.2" and imp.peer["ike"]["version"] == 2
    with pytest.raises(ConfigError, match="no tunnel with TunnelIndex 3; available: 1, 2"):
        import_file(p, tunnel=3)


def test_not_a_vendor_document(tmp_path):
    with pytest.raises(ConfigError, match="not a Huawei Cloud vpn_connection nor an Alibaba"):
        import_file(write(tmp_path, {"hello": 1}))
    bad = tmp_path / "broken.json"
    bad.write_text("{")
    with pytest.raises(ConfigError, match="invalid JSON"):
        import_file(bad)


def test_cli_import_prints_a_runnable_scenario(tmp_path, capsys):
    assert main(["import", "huawei", str(VENDOR / "huawei-static.json")]) == 0
    text = capsys.readouterr().out
    assert "masked in the document (vpn_connection.ikepolicy.local_id = 10.***.***.134)" in text
    p = tmp_path / "imported.yaml"
    p.write_text(text)
    r = simulate(load_scenario(p))
    assert r.status("cloud") == r.status("customer") == "ipsec_sa_established"


def test_cli_import_flags_every_placeholder_address(capsys):
    """An Alibaba connection (DescribeVpnConnection) names the customer gateway only by its
    CustomerGatewayId: the address the cloud negotiates with is not in the document, so the
    scenario's placeholder for it is flagged like a masked value."""
    assert main(["import", "alibaba", str(VENDOR / "alibaba-describe.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    remote = next(x for x in lines if x.strip().startswith("remote_address:"))
    assert "198.51.100.1" in remote and "not in the document" in remote


def test_cli_import_bad_input_exits_2(tmp_path, capsys):
    assert main(["import", "huawei", str(tmp_path / "nope.json")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_alibaba_health_check_becomes_a_tunnel_probe(tmp_path):
    """VcoHealthCheck (Alibaba Cloud API): Sip in the VPC, Dip in the data centre, every Interval s, failed
    after Retry losses, Policy revoke_route."""
    data = alibaba()
    del data["TunnelOptionsSpecification"]
    data["VcoHealthCheck"].update(Sip="10.0.0.1", Dip="192.168.1.1")
    imp = import_file(write(tmp_path, data))
    assert imp.peer["nqa"] == {"source": "10.0.0.1", "destination": "192.168.1.1", "interval": 3, "retries": 3,
                               "path": "tunnel", "policy": "revoke_route"}


def test_alibaba_health_check_that_cannot_cross_the_tunnel_is_reported_not_imported():
    imp = import_file(VENDOR / "alibaba-describe.json")  # the seed example: Sip 192.168.1.1, Dip 10.0.0.1
    assert "nqa" not in imp.peer
    assert any("VcoHealthCheck is enabled" in n for n in imp.notes)


def test_huawei_enable_nqa_needs_the_undocumented_timers(tmp_path):
    data = huawei()
    data["vpn_connection"]["enable_nqa"] = True
    imp = import_file(write(tmp_path, data))
    assert imp.peer["nqa"] == {"path": "underlay"}
    assert {"nqa.interval", "nqa.retries", "nqa.source", "nqa.destination"} <= set(imp.missing)
    assert "documents no probe interval" in imp.missing["nqa.interval"]


# --- the document's shape: a vpn_connection object (Huawei), a DescribeVpnConnection response (Alibaba) ---

@pytest.mark.parametrize("vendor,make,fragment", [
    # Huawei Cloud API: the request and the response body carry the connection as a vpn_connection object
    ("huawei", alibaba, "no vpn_connection object (a Huawei Cloud VPN connection request or response): this is an "
     "Alibaba Cloud DescribeVpnConnection response; import it as alibaba"),
    ("huawei", lambda: {}, "no vpn_connection object (a Huawei Cloud VPN connection request or response)"),
    ("huawei", lambda: {"request_id": "f91082d4-6d49-479c-ad1d-4e552a9f5cae"}, "no vpn_connection object"),
    ("huawei", lambda: {"vpn_connection": None}, "no vpn_connection object"),
    ("huawei", lambda: huawei()["vpn_connection"], "fields are at the top level; wrap them as"),
    ("huawei", lambda: {"vpn_connections": [huawei()["vpn_connection"]]}, "lists several connections"),
    # Alibaba Cloud API: a DescribeVpnConnection response has IkeConfig (and TunnelOptionsSpecification when it
    # has tunnels of its own)
    ("alibaba", huawei, "no IkeConfig nor TunnelOptionsSpecification object (an Alibaba Cloud DescribeVpnConnection "
     "response): this is a Huawei Cloud vpn_connection document; import it as huawei"),
    ("alibaba", lambda: {}, "no IkeConfig nor TunnelOptionsSpecification object"),
    ("alibaba", lambda: {"RequestId": "F2310D45-BCF6-4E2E-9082-B4503844BA4C"}, "no IkeConfig nor"),
])
def test_a_document_of_another_shape_is_refused_not_imported_with_defaults(tmp_path, capsys, vendor, make, fragment):
    p = write(tmp_path, make())
    assert main(["import", vendor, str(p)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and fragment in captured.err and captured.err.count("\n") == 1, captured.err
    assert f"{p}: " in captured.err and "Traceback" not in captured.err
    with pytest.raises(ConfigError, match="no "):  # a scenario's import: {file, vendor} refuses it the same way
        import_file(p, vendor)


def test_a_vendor_mismatch_in_a_scenario_is_refused(tmp_path):
    path = scenario_with(tmp_path, {"import": {"file": str(VENDOR / "alibaba-describe.json"), "vendor": "huawei"}})
    with pytest.raises(ConfigError, match="this is an Alibaba Cloud DescribeVpnConnection response") as e:
        load_scenario(path)
    assert e.value.file.endswith("alibaba-describe.json")


def test_alibaba_single_tunnel_document_needs_its_ipsec_config(tmp_path):
    data = alibaba()
    del data["TunnelOptionsSpecification"], data["IpsecConfig"]
    with pytest.raises(ConfigError) as e:
        import_file(write(tmp_path, data))
    assert e.value.path == "IpsecConfig" and "required, but missing" in e.value.message


# --- keys: an unknown key inside an object the importer reads is an error listing the documented keys ---

# Huawei Cloud API, tables 12 IkePolicy, 13 Dpd, 14 IpsecPolicy, 11 PolicyRule, 9 response body
HW_IKEPOLICY = ("ike_version, phase1_negotiation_mode, authentication_algorithm, encryption_algorithm, dh_group, "
                "authentication_method, lifetime_seconds, local_id_type, local_id, peer_id_type, peer_id, dpd")
HW_DPD = "timeout, interval, msg"
HW_IPSECPOLICY = ("authentication_algorithm, encryption_algorithm, pfs, transform_protocol, lifetime_seconds, "
                  "encapsulation_mode")
HW_POLICY_RULE = "rule_index, source, destination"


@pytest.mark.parametrize("name,mutate,path,allowed", [
    ("static", lambda d: d["vpn_connection"]["ikepolicy"].update(encryption_algoritm="aes-256"),
     "vpn_connection.ikepolicy.encryption_algoritm", HW_IKEPOLICY),
    ("static", lambda d: d["vpn_connection"]["ikepolicy"]["dpd"].update(intervall=60),
     "vpn_connection.ikepolicy.dpd.intervall", HW_DPD),
    ("static", lambda d: d["vpn_connection"]["ipsecpolicy"].update(pfs_group="group14"),
     "vpn_connection.ipsecpolicy.pfs_group", HW_IPSECPOLICY),
    ("policy", lambda d: d["vpn_connection"]["policy_rules"][0].update(destinations=["192.168.45.0/24"]),
     "vpn_connection.policy_rules[0].destinations", HW_POLICY_RULE),
    ("static", lambda d: d["vpn_connection"].update(peer_subnet=["192.168.45.0/24"]),
     "vpn_connection.peer_subnet", "id, name, vgw_id, vgw_ip, style, cgw_id, peer_subnets, peer_subnets_v6"),
    ("static", lambda d: d.update(requestId="x"), "requestId", "vpn_connection, request_id"),
])
def test_huawei_unknown_keys_are_errors(tmp_path, capsys, name, mutate, path, allowed):
    data = huawei(name)
    mutate(data)
    _refused_unknown_key(tmp_path, capsys, "huawei", data, path, allowed)


def _refused_unknown_key(tmp_path, capsys, vendor, data, path, allowed):
    """The importer and the CLI both refuse ``data`` naming the unknown key at ``path``."""
    p = write(tmp_path, data)
    with pytest.raises(ConfigError) as e:
        import_file(p)
    assert e.value.path == path and "unknown key" in e.value.message and allowed in e.value.message
    assert main(["import", vendor, str(p)]) == 2
    assert f"{p}: {path}: unknown key" in capsys.readouterr().err


def test_a_misspelt_key_gets_a_suggestion(tmp_path):
    data = huawei()
    data["vpn_connection"]["ikepolicy"]["encryption_algoritm"] = "aes-256"
    with pytest.raises(ConfigError, match="did you mean 'encryption_algorithm'"):
        import_file(write(tmp_path, data))


def test_huawei_documented_keys_the_simulator_does_not_use_are_accepted(tmp_path):
    """Huawei Cloud API: ResponseVpnConnection lists peer_subnets_v6, policy_rules_v6, tags, created_at ...; the
    CreateVpnConnection request body adds psk and enable_hub."""
    data = huawei("policy")
    data["vpn_connection"].update(peer_subnets_v6=["16af:cacc:1097::/48"], policy_rules_v6=[], enable_hub=False,
                                  tags=[{"key": "env", "value": "test"}], psk="Secret-123")
    imp = import_file(write(tmp_path, data))
    assert imp.peer["ike"]["psk"] == "Secret-123"
    request = {"vpn_connection": {k: v for k, v in data["vpn_connection"].items()
                                  if k not in ("id", "created_at", "updated_at")}}  # a request body
    assert import_file(write(tmp_path, request, "request.json")).peer["ike"]["psk"] == "Secret-123"


# Alibaba Cloud API (DescribeVpnConnection response elements)
ALI_IKE = "RemoteId, IkeLifetime, IkeEncAlg, LocalId, IkeMode, IkeVersion, IkePfs, Psk, IkeAuthAlg"
ALI_IPSEC = "IpsecAuthAlg, IpsecLifetime, IpsecEncAlg, IpsecPfs"


@pytest.mark.parametrize("single,mutate,path,allowed", [
    (True, lambda d: d["IkeConfig"].update(IkeEncAlgorithm="aes256"), "IkeConfig.IkeEncAlgorithm", ALI_IKE),
    (True, lambda d: d["IkeConfig"].update(IkeEncalg="aes256"), "IkeConfig.IkeEncalg", ALI_IKE),
    (True, lambda d: d["IpsecConfig"].update(IpsecPFS="group14"), "IpsecConfig.IpsecPFS", ALI_IPSEC),
    (True, lambda d: d["VcoHealthCheck"].update(Intervall=5), "VcoHealthCheck.Intervall",
     "Status, Dip, Interval, Retry, Sip, Enable, Policy"),
    (True, lambda d: d["VpnBgpConfig"].update(LocalASN=65000), "VpnBgpConfig.LocalASN",
     "Status, PeerBgpIp, TunnelCidr, EnableBgp, LocalBgpIp, PeerAsn, LocalAsn, AuthKey"),
    (True, lambda d: d.update(RemoteSubnets="192.168.0.0/16"), "RemoteSubnets", "RegionId, VpnConnectionId, Status"),
    (False, lambda d: d["TunnelOptionsSpecification"]["TunnelOptions"][0]["TunnelIkeConfig"].update(IkeEncAlgo="aes"),
     "TunnelOptionsSpecification.TunnelOptions[0].TunnelIkeConfig.IkeEncAlgo", ALI_IKE),
    (False, lambda d: d["TunnelOptionsSpecification"]["TunnelOptions"][0]["TunnelIpsecConfig"].update(IpsecPsf="x"),
     "TunnelOptionsSpecification.TunnelOptions[0].TunnelIpsecConfig.IpsecPsf", ALI_IPSEC),
    (False, lambda d: d["TunnelOptionsSpecification"]["TunnelOptions"][0].update(Rol="slave"),
     "TunnelOptionsSpecification.TunnelOptions[0].Rol", "TunnelId, CustomerGatewayId, EnableDpd"),
    (False, lambda d: d["TunnelOptionsSpecification"].update(TunnelOption=[]),
     "TunnelOptionsSpecification.TunnelOption", "TunnelOptions"),
])
def test_alibaba_unknown_keys_are_errors(tmp_path, capsys, single, mutate, path, allowed):
    data = alibaba()
    if single:
        del data["TunnelOptionsSpecification"]
    mutate(data)
    _refused_unknown_key(tmp_path, capsys, "alibaba", data, path, allowed)


def test_alibaba_documented_keys_the_simulator_does_not_use_are_accepted(tmp_path):
    """Every key of the Alibaba Cloud API example response (ids, timestamps, status, BGP, tags, transit router) and
    the request's RegionId is accepted."""
    data = alibaba()
    data["RegionId"] = "cn-hangzhou"
    imp = import_file(write(tmp_path, data))
    assert imp.meta["vpn_connection_id"] == "vco-bp1bbi27hojx80nck****"


# --- VcoHealthCheck.Interval / Retry (Alibaba Cloud API: integers, seconds between retries / number of retries) ---

def _health_check_doc(**hc):
    data = alibaba()
    del data["TunnelOptionsSpecification"]
    data["VcoHealthCheck"].update(Sip="10.0.0.1", Dip="192.168.1.1", **hc)
    return data


@pytest.mark.parametrize("key,value,fragment", [
    ("Interval", 0, "0 is not allowed; allowed: 1 or more"),
    ("Interval", -1, "-1 is not allowed; allowed: 1 or more"),
    ("Retry", 0, "0 is not allowed; allowed: 1 or more"),
    ("Retry", -3, "-3 is not allowed; allowed: 1 or more"),
    ("Retry", 101, "outside the range 1-100 the simulator models"),
    ("Interval", "3", "expected an integer"),  # the API's type is integer
])
def test_alibaba_health_check_out_of_range_is_refused_at_import(tmp_path, capsys, key, value, fragment):
    p = write(tmp_path, _health_check_doc(**{key: value}))
    with pytest.raises(ConfigError) as e:
        import_file(p)
    assert e.value.path == f"VcoHealthCheck.{key}" and fragment in e.value.message
    assert main(["import", "alibaba", str(p)]) == 2
    assert f"{p}: VcoHealthCheck.{key}: " in capsys.readouterr().err


def test_alibaba_health_check_out_of_range_is_refused_even_when_disabled(tmp_path):
    with pytest.raises(ConfigError, match="-1 is not allowed; allowed: 1 or more") as e:
        import_file(write(tmp_path, _health_check_doc(Enable="false", Interval=-1)))
    assert e.value.path == "VcoHealthCheck.Interval"


def test_alibaba_health_check_values_are_taken_as_given(tmp_path):
    imp = import_file(write(tmp_path, _health_check_doc(Interval=1, Retry=10)))
    assert imp.peer["nqa"]["interval"] == 1 and imp.peer["nqa"]["retries"] == 10


@pytest.mark.parametrize("key,target", [("Interval", "interval"), ("Retry", "retries")])
@pytest.mark.parametrize("absent", [True, False])
def test_alibaba_health_check_without_interval_or_retry_is_asked_for_not_defaulted(tmp_path, capsys, key, target,
                                                                                    absent):
    """The Alibaba Cloud API states no default for Interval or Retry: null or absent is not 3."""
    data = _health_check_doc()
    if absent:
        del data["VcoHealthCheck"][key]
    else:
        data["VcoHealthCheck"][key] = None
    p = write(tmp_path, data)
    imp = import_file(p)
    assert target not in imp.peer["nqa"] and "documents no default" in imp.missing[f"nqa.{target}"]
    path = scenario_with(tmp_path, {"import": str(p), "address": "198.51.100.10", "remote_address": "203.0.113.7",
                                    "ike": {"psk": "secret", "local_id": "198.51.100.10", "remote_id": "203.0.113.7"},
                                    "dpd": {"delay": "30s"}, "bgp": {"auth_key": "secret"}})
    with pytest.raises(ConfigError) as e:
        load_scenario(path)
    assert e.value.path == f"peers.cloud.nqa.{target}"
    # the printed scenario runs as it is: a placeholder stands in, flagged on its line to be replaced
    assert main(["import", "alibaba", str(p)]) == 0
    text = capsys.readouterr().out
    line = next(x for x in text.splitlines() if x.strip().startswith(f"{target}:"))
    assert "not in the document (" in line and "documents no default: choose one): replace" in line
    out = tmp_path / "imported.yaml"
    out.write_text(text)
    assert simulate(load_scenario(out), duration=60.0).status("cloud") == "ipsec_sa_established"
