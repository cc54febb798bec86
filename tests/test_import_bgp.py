"""BGP of route-based connections in: Huawei Cloud vpn_connection style BGP (ResponseVpnConnection
tunnel_local_address / tunnel_peer_address, "valid only when style is STATIC or BGP", example
169.254.56.225/30 and 169.254.56.226/30) and Alibaba Cloud DescribeVpnConnection VpnBgpConfig /
TunnelBgpConfig (EnableBgp, LocalAsn, PeerAsn, LocalBgpIp, PeerBgpIp, TunnelCidr "a /30 in
169.254.0.0/16", AuthKey, Status / BgpStatus; EnableTunnelsBgp for dual-tunnel connections)."""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from conftest import SCENARIOS

from ipsecsim import ConfigError, load_scenario, simulate
from ipsecsim.cli import main

VENDOR = SCENARIOS / "vendor"
HUAWEI, DUAL = VENDOR / "huawei-bgp.json", VENDOR / "alibaba-dual-tunnel.json"


def imported(capsys, *args: str) -> tuple[str, dict]:  # type: ignore[type-arg]
    assert main(["import", *map(str, args)]) == 0
    text = capsys.readouterr().out
    return text, yaml.safe_load(text)


def run(tmp_path, text: str, duration: str = "20s"):  # type: ignore[no-untyped-def]
    doc = yaml.safe_load(text)
    doc["duration"] = duration
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(doc))
    return simulate(load_scenario(p))


def single_tunnel_alibaba() -> dict:  # type: ignore[type-arg]
    """The DescribeVpnConnection example as a single-tunnel connection: the top-level IkeConfig /
    IpsecConfig and VpnBgpConfig (EnableBgp "true", LocalBgpIp 169.254.11.2, PeerBgpIp 169.254.11.1,
    TunnelCidr 169.254.11.0/30, LocalAsn 65531, PeerAsn 65530, AuthKey "AuthKey****")."""
    data = json.loads(DUAL.read_text())
    for key in ("TunnelOptionsSpecification", "EnableTunnelsBgp"):
        del data[key]
    data["InternetIp"] = "47.100.0.162"
    return data


def test_huawei_style_bgp_becomes_a_session_that_establishes(tmp_path, capsys):
    text, doc = imported(capsys, "huawei", HUAWEI)
    cloud, customer = doc["peers"]["cloud"], doc["peers"]["customer"]
    # tunnel_local_address is the VPN gateway's end, tunnel_peer_address the customer device's
    assert cloud["bgp"]["local_address"] == "169.254.56.225" and cloud["bgp"]["peer_address"] == "169.254.56.226"
    assert cloud["bgp"]["tunnel_cidr"] == "169.254.56.224/30"
    # the gateway's ASN: the documented default bgp_asn 64512; the customer's: not in the document, flagged
    assert cloud["bgp"]["asn"] == 64512
    assert "peer_asn: 65000  # not in the document" in text
    assert customer["bgp"]["local_address"] == "169.254.56.226" and customer["bgp"]["peer_asn"] == 64512
    # the customer announces the connection's peer_subnets
    assert customer["bgp"]["advertise"] == ["192.168.44.0/24"]
    r = run(tmp_path, text)
    summary = r.summary()["peers"]
    for name in ("cloud", "customer"):
        assert summary[name]["bgp"]["state"] == "Established"
    assert [e.fields["to"] for e in r.events if e.event == "bgp_state" and e.peer == "cloud"][-1] == "Established"
    # the customer's route reached the cloud
    assert "192.168.44.0/24" in json.dumps(summary["cloud"]["bgp"]["routes"])


def test_alibaba_dual_tunnel_bgp_sessions_establish_on_both_tunnels(tmp_path, capsys):
    text, doc = imported(capsys, "alibaba", DUAL)
    peers = doc["peers"]
    # TunnelBgpConfig of each tunnel (EnableTunnelsBgp true): LocalAsn "65530", PeerAsn "65531"
    assert peers["cloud-1"]["bgp"] == {"local_address": "169.254.10.1", "peer_address": "169.254.10.2",
                                       "asn": 65530, "peer_asn": 65531, "tunnel_cidr": "169.254.10.0/30"}
    assert peers["cloud-2"]["bgp"]["local_address"] == "169.254.20.1"
    assert peers["customer-2"]["bgp"]["asn"] == 65531 and peers["customer-2"]["bgp"]["peer_asn"] == 65530
    assert "VpnBgpConfig is not imported" in text
    r = run(tmp_path, text)
    summary = r.summary()["peers"]
    for name in peers:
        assert summary[name]["bgp"]["state"] == "Established", name
        # Alibaba's word for it beside the IPsec status: BgpStatus success (the documented example value)
        assert summary[name]["bgp"]["vendor_status"]["alibaba"] == {"BgpStatus": "success"}
        assert summary[name]["status"] == "ipsec_sa_established"


def test_alibaba_vpn_bgp_config_and_its_masked_auth_key(tmp_path, capsys):
    p = tmp_path / "single.json"
    p.write_text(json.dumps(single_tunnel_alibaba()))
    text, doc = imported(capsys, "alibaba", p)
    bgp = doc["peers"]["cloud"]["bgp"]
    assert (bgp["local_address"], bgp["peer_address"], bgp["asn"], bgp["peer_asn"]) == (
        "169.254.11.2", "169.254.11.1", 65531, 65530)
    # AuthKey is masked like the PSK: a flagged placeholder, the same on both ends
    assert "auth_key: CHANGE-ME  # masked in the document (VpnBgpConfig.AuthKey = AuthKey****): replace" in text
    assert doc["peers"]["customer"]["bgp"]["auth_key"] == "CHANGE-ME"
    r = run(tmp_path, text)
    assert r.summary()["peers"]["cloud"]["bgp"]["state"] == "Established"


def test_a_scenario_importing_a_masked_auth_key_asks_for_it(tmp_path):
    p = tmp_path / "single.json"
    p.write_text(json.dumps(single_tunnel_alibaba()))
    s = tmp_path / "s.yaml"
    ike = {"psk": "k", "local_id": "47.100.0.162", "remote_id": "139.34.0.1"}
    customer = {"address": "139.34.0.1", "local_subnets": ["192.168.0.0/16"], "remote_subnets": ["10.0.0.0/8"],
                "ike": {"version": 1, "proposals": ["aes128-sha1-modp1024"], "psk": "k"},
                "child": {"proposals": ["aes128-sha1-modp1024"]}}
    s.write_text(yaml.safe_dump({"name": "x", "peers": {"cloud": {"import": {"file": str(p), "bgp": True},
                                                                  "ike": ike}, "customer": customer}}))
    with pytest.raises(ConfigError) as e:
        load_scenario(s)
    assert "VpnBgpConfig.AuthKey" in str(e.value) and "peers.cloud.bgp.auth_key" in str(e.value)
    # without bgp: true the session is not taken: a scenario written before BGP import loads as it did
    s.write_text(yaml.safe_dump({"name": "x", "duration": "10s", "peers": {"cloud": {
        "import": str(p), "ike": ike, "dpd": {"delay": 0}},
                                                        "customer": customer}}))
    cfg = load_scenario(s).config.peers["cloud"]
    assert cfg.bgp is None and cfg.local_subnets == ["10.0.0.0/8"]


def _huawei_bad(local: str, peer: str) -> dict:  # type: ignore[type-arg]
    data = json.loads(HUAWEI.read_text())
    data["vpn_connection"]["tunnel_local_address"] = local
    data["vpn_connection"]["tunnel_peer_address"] = peer
    return data


def _ali_single(**bgp: object) -> dict:  # type: ignore[type-arg]
    data = single_tunnel_alibaba()
    data["VpnBgpConfig"].update(bgp)
    return data


def _ali_tunnel(**bgp: object) -> dict:  # type: ignore[type-arg]
    data = json.loads(DUAL.read_text())
    data["TunnelOptionsSpecification"]["TunnelOptions"][0]["TunnelBgpConfig"].update(bgp)
    return data


@pytest.mark.parametrize("vendor,data,field,fragment", [
    ("alibaba", _ali_single(AuthKey=""), "VpnBgpConfig.AuthKey", "empty"),
    ("alibaba", _ali_single(TunnelCidr="169.254.11.0/29"), "VpnBgpConfig.TunnelCidr", "a /30 of 169.254.0.0/16"),
    ("alibaba", _ali_single(TunnelCidr="10.0.0.0/30"), "VpnBgpConfig.TunnelCidr", "a /30 of 169.254.0.0/16"),
    ("alibaba", _ali_single(PeerBgpIp="169.254.12.1"), "VpnBgpConfig.PeerBgpIp", "not a host address of TunnelCidr"),
    ("alibaba", _ali_single(LocalBgpIp="169.254.11.3"), "VpnBgpConfig.LocalBgpIp", "169.254.11.1, 169.254.11.2"),
    ("alibaba", _ali_single(PeerBgpIp="169.254.11.2"), "VpnBgpConfig.PeerBgpIp", "also LocalBgpIp"),
    ("alibaba", _ali_single(LocalAsn=0), "VpnBgpConfig.LocalAsn", "outside the range 1-4294967295"),
    ("alibaba", _ali_tunnel(PeerBgpIp="169.254.20.2"), "TunnelOptions[0].TunnelBgpConfig.PeerBgpIp",
     "not a host address"),
    ("alibaba", _ali_tunnel(PeerAsn="asn"), "TunnelOptions[0].TunnelBgpConfig.PeerAsn", "expected an integer"),
    ("alibaba", _ali_tunnel(Bgpstatus="success"), "TunnelOptions[0].TunnelBgpConfig.Bgpstatus", "BgpStatus"),
    ("huawei", _huawei_bad("169.254.56.225/29", "169.254.56.226/29"), "vpn_connection.tunnel_local_address",
     "a /30"),
    ("huawei", _huawei_bad("169.254.56.225/30", "169.254.57.226/30"), "vpn_connection.tunnel_peer_address",
     "not in tunnel_local_address's /30 169.254.56.224/30"),
    ("huawei", _huawei_bad("169.254.56.225/30", "169.254.56.225/30"), "vpn_connection.tunnel_peer_address",
     "also tunnel_local_address"),
    ("huawei", _huawei_bad("169.254.56.224/30", "169.254.56.225/30"), "vpn_connection.tunnel_local_address",
     "not a host address"),
])
def test_bad_bgp_values_are_refused_in_one_line(tmp_path, capsys, vendor, data, field, fragment):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(copy.deepcopy(data)))
    assert main(["import", vendor, str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert field in err and fragment in err, err
