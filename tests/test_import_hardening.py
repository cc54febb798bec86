"""Vendor documents the importers must refuse in one line, or import into a scenario that runs.

Expected values come from the vendor API texts: Huawei Cloud API (ResponseVpnConnection,
PolicyRule, IkePolicy: ``local_id_type`` ip | fqdn, ``local_id`` "when local_id_type is fqdn, the
local ID given when the connection was created"; the response example masks it as ``123***``),
Alibaba Cloud API DescribeVpnConnection (``LocalId`` / ``RemoteId`` examples ``116.28.XX.XX`` /
``139.34.XX.XX``, ``Psk`` ``pgw6dy****``, ``Name``, VcoHealthCheck ``Interval`` 3 / ``Retry`` 3),
RFC 8259 (UTF-8 JSON text; object names SHOULD be unique) and RFC 2409 Appendix A (IKEv1 phase
1 ciphers are CBC ciphers).
"""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import SCENARIOS

from ipsecsim import ConfigError, load_scenario, simulate
from ipsecsim.cli import main
from ipsecsim.config.importers import import_file

VENDOR = SCENARIOS / "vendor"


def doc(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((VENDOR / name).read_text())


def single_alibaba() -> dict:  # type: ignore[type-arg]
    data = doc("alibaba-describe.json")
    del data["TunnelOptionsSpecification"]
    return data


def refused(tmp_path, capsys, vendor: str, content: str | bytes) -> str:  # type: ignore[no-untyped-def]
    """The one error line ``ipsecsim import`` prints for ``content``, after the file name."""
    p = tmp_path / "conn.json"
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    assert main(["import", vendor, str(p)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1, captured.err
    prefix = f"ipsecsim: error: {p}: "
    assert captured.err.startswith(prefix), captured.err
    return captured.err[len(prefix):].rstrip("\n")


def imported(tmp_path, capsys, vendor: str, data: dict) -> tuple[str, dict]:  # type: ignore[type-arg,no-untyped-def]
    p = tmp_path / "conn.json"
    p.write_text(json.dumps(data))
    assert main(["import", vendor, str(p)]) == 0
    text = capsys.readouterr().out
    return text, yaml.safe_load(text)


def runs(tmp_path, text: str, duration: float = 60.0):  # type: ignore[no-untyped-def]
    p = tmp_path / "imported.yaml"
    p.write_text(text)
    return simulate(load_scenario(p), duration=duration)


def line_of(text: str, key: str, after: str = "  cloud:") -> str:
    lines = text.split(after, 1)[1].splitlines()
    return next(x for x in lines if x.strip().startswith(f"{key}:"))


# --- the file itself: UTF-8 JSON text (RFC 8259 8.1), bounded nesting, each key once (RFC 8259 4) ---

@pytest.mark.parametrize("content", [b"\xff\xfe{\x00}\x00", '{"vpn_connection": {"name": "vpn-é"}}'.encode("latin-1"),
                                     bytes(range(256))])
def test_a_file_that_is_not_utf8_text_is_refused(tmp_path, capsys, content):
    err = refused(tmp_path, capsys, "huawei", content)
    assert "not UTF-8 text" in err and "allowed: a JSON document in UTF-8" in err


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    p = tmp_path / "bom.json"
    p.write_bytes(b"\xef\xbb\xbf" + (VENDOR / "huawei-static.json").read_bytes())
    assert import_file(p).peer["ike"]["proposals"] == ["aes128-sha256-modp3072"]


@pytest.mark.parametrize("depth", [40, 100_000])
def test_deep_nesting_is_refused_with_its_path(tmp_path, capsys, depth):
    text = (VENDOR / "alibaba-describe.json").read_text().rstrip()[:-1]
    err = refused(tmp_path, capsys, "alibaba", text + ', "Tags": ' + "[" * depth + "]" * depth + "}")
    assert err.startswith("Tags[0][0]") and "nested more than 32 levels deep" in err and "allowed: at most 32" in err


def test_a_document_nested_as_deep_as_allowed_is_read():
    from ipsecsim.config.importers.jsondoc import MAX_DEPTH, _too_deep
    assert _too_deep("[" * MAX_DEPTH + "]" * MAX_DEPTH) is None
    assert _too_deep('{"a": "[[[[' + "[" * 100 + '"}') is None  # brackets inside a string do not nest


@pytest.mark.parametrize("text,path,key", [
    ('{"vpn_connection": {"psk": "first", "name": "vpn-1", "psk": "second"}}', "vpn_connection.psk", "psk"),
    ('{"vpn_connection": {"name": "a"}, "vpn_connection": {"name": "b"}}', "vpn_connection", "vpn_connection"),
    ('{"vpn_connection": {"policy_rules": [{"source": "10.0.0.0/24", "source": "10.9.0.0/24"}]}}',
     "vpn_connection.policy_rules[0].source", "source"),
])
def test_a_duplicate_key_is_refused_naming_it(tmp_path, capsys, text, path, key):
    err = refused(tmp_path, capsys, "huawei", text)
    assert err.startswith(f"{path}: the key '{key}' is given more than once") and "allowed: each key once" in err


def test_an_integer_too_long_to_convert_is_out_of_range(tmp_path, capsys):
    text = (VENDOR / "huawei-static.json").read_text().replace('"lifetime_seconds": 86400', '"lifetime_seconds": '
                                                                + "9" * 5000)
    err = refused(tmp_path, capsys, "huawei", text)
    assert err.startswith("vpn_connection.ikepolicy.lifetime_seconds: 999") and "outside the range 60-604800" in err
    assert len(err) < 200  # the 5000 digits are cut


@pytest.mark.parametrize("value", ["9" * 5000, "٣٠٠", "86400.0", " 86400", "+86400"])
def test_alibaba_tunnel_numbers_spelt_as_strings_must_be_ascii_digits(tmp_path, capsys, value):
    """TunnelIkeConfig.IkeLifetime is a string in the Alibaba Cloud API ("86400" in the example)."""
    data = doc("alibaba-describe.json")
    data["TunnelOptionsSpecification"]["TunnelOptions"][0]["TunnelIkeConfig"]["IkeLifetime"] = value
    err = refused(tmp_path, capsys, "alibaba", json.dumps(data))
    assert err.startswith("TunnelOptionsSpecification.TunnelOptions[0].TunnelIkeConfig.IkeLifetime: ")
    assert "0-86400" in err and len(err) < 300


def test_an_echoed_value_is_cut_at_80_characters(tmp_path, capsys):
    data = doc("huawei-static.json")
    data["vpn_connection"]["ikepolicy"]["dh_group"] = "group" + "7" * 10_000
    err = refused(tmp_path, capsys, "huawei", json.dumps(data))
    value = err.split(": ", 1)[1].split(" is not allowed")[0]
    assert value.startswith("'group777") and value.endswith("…") and len(value) == 80


def test_an_unknown_key_with_a_line_break_stays_on_one_line(tmp_path, capsys):
    data = doc("huawei-static.json")
    data["vpn_connection"]["ikepolicy"]["dh\ngroup"] = "group14"
    err = refused(tmp_path, capsys, "huawei", json.dumps(data))
    assert err.startswith("vpn_connection.ikepolicy['dh\\ngroup']: unknown key")


# --- documents that imported but did not run ---

@pytest.mark.parametrize("vendor,make,path", [
    ("huawei", lambda: {**doc("huawei-static.json"), "vpn_connection": {**doc("huawei-static.json")["vpn_connection"],
                                                                        "psk": ""}}, "vpn_connection.psk"),
    ("alibaba", lambda: {**single_alibaba(), "IkeConfig": {**single_alibaba()["IkeConfig"], "Psk": ""}},
     "IkeConfig.Psk"),
])
def test_an_empty_pre_shared_key_is_refused(tmp_path, capsys, vendor, make, path):
    err = refused(tmp_path, capsys, vendor, json.dumps(make()))
    assert err.startswith(f"{path}: empty; allowed: the pre-shared key, 1 or more characters")


def test_a_policy_rule_without_destinations_is_refused(tmp_path, capsys):
    """PolicyRule.destination: the rule's destination subnets (at most 50)."""
    data = doc("huawei-policy.json")
    data["vpn_connection"]["policy_rules"][0]["destination"] = []
    err = refused(tmp_path, capsys, "huawei", json.dumps(data))
    assert err.startswith("vpn_connection.policy_rules[0].destination: required, but missing or empty; allowed: "
                          "1-50 destination subnets")


def test_one_address_at_both_ends_is_refused(tmp_path, capsys):
    data = doc("huawei-static.json")
    data["vpn_connection"]["ikepolicy"].update(local_id="203.0.113.5", peer_id="203.0.113.5")
    err = refused(tmp_path, capsys, "huawei", json.dumps(data))
    assert err.startswith("vpn_connection.ikepolicy.peer_id: 203.0.113.5 is also local_id")


def test_gcm_with_ikev1_is_refused(tmp_path, capsys):
    data = doc("huawei-static.json")
    data["vpn_connection"]["ikepolicy"].update(ike_version="v1", encryption_algorithm="aes-256-gcm-16")
    err = refused(tmp_path, capsys, "huawei", json.dumps(data))
    assert err.startswith("vpn_connection.ikepolicy.encryption_algorithm: aes-256-gcm-16 is not available with "
                          "ike_version v1") and "allowed with v1: aes-256, aes-192, aes-128, 3des, sm4" in err


def test_huawei_masked_fqdn_identities_are_flagged_placeholders(tmp_path, capsys):
    """The Huawei Cloud API BGP example: local_id_type / peer_id_type fqdn, local_id 123***, peer_id 456***. The
    tunnel negotiates FQDN identities (ID_FQDN), not the gateways' addresses."""
    text, sc = imported(tmp_path, capsys, "huawei", doc("huawei-bgp.json"))
    ike = sc["peers"]["cloud"]["ike"]
    assert ike["local_id"] == "@vpn-gateway.example.com" and ike["remote_id"] == "@customer-gateway.example.com"
    assert "masked in the document (vpn_connection.ikepolicy.local_id = 123***): replace" in line_of(text, "local_id")
    assert "masked in the document (vpn_connection.ikepolicy.peer_id = 456***): replace" in line_of(text, "remote_id")
    assert sc["peers"]["customer"]["ike"]["local_id"] == "@customer-gateway.example.com"
    r = runs(tmp_path, text)
    e = r.first("ike_sa_established", peer="cloud")
    assert e is not None and e.fields["local_id"] == "vpn-gateway.example.com"
    assert e.fields["remote_id"] == "customer-gateway.example.com"


def test_alibaba_masked_identities_are_flagged_placeholders(tmp_path, capsys):
    """DescribeVpnConnection example: LocalId 116.28.XX.XX, RemoteId 139.34.XX.XX (addresses, masked)."""
    text, sc = imported(tmp_path, capsys, "alibaba", single_alibaba())
    cloud = sc["peers"]["cloud"]
    assert cloud["ike"]["local_id"] == cloud["address"] and cloud["ike"]["remote_id"] == cloud["remote_address"]
    assert "masked in the document (IkeConfig.LocalId = 116.28.XX.XX): replace" in line_of(text, "local_id")
    assert "masked in the document (IkeConfig.RemoteId = 139.34.XX.XX): replace" in line_of(text, "remote_id")
    assert runs(tmp_path, text).status("cloud") == "ipsec_sa_established"


def test_a_masked_identity_in_a_scenario_import_must_be_given(tmp_path):
    conn = tmp_path / "bgp.json"
    conn.write_text((VENDOR / "huawei-bgp.json").read_text())
    sc = {"name": "s", "duration": "1m", "peers": {
        "cloud": {"import": str(conn), "address": "192.0.2.1", "remote_address": "198.51.100.1",
                  "ike": {"psk": "k"}},
        "customer": {"address": "198.51.100.1", "local_subnets": ["0.0.0.0/0"], "remote_subnets": ["0.0.0.0/0"],
                     "ike": {"psk": "k"}}}}
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(sc))
    with pytest.raises(ConfigError) as e:
        load_scenario(p)
    assert e.value.path == "vpn_connection.ikepolicy.local_id" and "peers.cloud.ike.local_id" in e.value.message


@pytest.mark.parametrize("name", ["ipsec1****", "vpn/one", "a\nb"])
def test_a_name_that_cannot_name_a_scenario_is_noted_not_used(tmp_path, capsys, name):
    data = single_alibaba()
    data["Name"] = name
    text, sc = imported(tmp_path, capsys, "alibaba", data)
    assert sc["name"] == "alibaba-import"
    assert "# note: the connection's name " in text and "is not a scenario name" in text
    runs(tmp_path, text, 20.0)


def test_placeholders_never_take_an_address_the_document_gives(tmp_path, capsys):
    """InternetIp in clear is the placeholder customer address (198.51.100.1): the customer moves aside."""
    data = single_alibaba()
    data["InternetIp"] = "198.51.100.1"
    text, sc = imported(tmp_path, capsys, "alibaba", data)
    peers = sc["peers"]
    assert peers["cloud"]["address"] == "198.51.100.1" and peers["customer"]["address"] == "198.51.100.2"
    runs(tmp_path, text, 20.0)


def test_the_huawei_connection_monitor_gets_flagged_placeholders_and_runs(tmp_path, capsys):
    """enable_nqa (STATIC): the monitor probes from the gateway's address to the customer gateway's; Huawei
    Cloud documents no interval or retries."""
    data = doc("huawei-static.json")
    data["vpn_connection"]["enable_nqa"] = True
    text, sc = imported(tmp_path, capsys, "huawei", data)
    cloud = sc["peers"]["cloud"]
    assert cloud["nqa"]["source"] == cloud["address"] and cloud["nqa"]["destination"] == cloud["remote_address"]
    assert "documents no probe interval" in line_of(text, "interval", after="    nqa:")
    assert "documents no probe retries" in line_of(text, "retries", after="    nqa:")
    assert "# required before it runs" not in text
    assert runs(tmp_path, text).status("cloud") == "ipsec_sa_established"


def test_a_masked_value_with_a_line_break_stays_in_its_comment(tmp_path, capsys):
    data = single_alibaba()
    data["IkeConfig"]["Psk"] = "pgw6dy****\nname: injected"
    text, sc = imported(tmp_path, capsys, "alibaba", data)
    assert sc["name"] == "ipsec1" and "injected" in line_of(text, "psk")


@pytest.mark.parametrize("spec,path,fragment", [
    ({"tunnel": "1"}, "tunnel", "expected a TunnelIndex (a whole number), got '1'"),
    ({"vendor": "x" * 500}, "vendor", "unknown vendor 'xxx"),
])
def test_a_scenario_import_spec_is_checked(tmp_path, spec, path, fragment):
    sc = {"name": "s", "duration": "1m", "peers": {"cloud": {"import": {"file": str(VENDOR / "alibaba-describe.json"),
                                                                        **spec}}, "customer": {}}}
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(sc))
    with pytest.raises(ConfigError) as e:
        load_scenario(p)
    assert e.value.path == path and fragment in e.value.message and len(e.value.message) < 200


# --- a Huawei HA pair: two connections of one gateway carry the same traffic (Huawei Cloud API ha_role) ---

MASTER, SLAVE = VENDOR / "huawei-active-standby-master.json", VENDOR / "huawei-active-standby-slave.json"


def test_an_ha_connection_without_subnets_takes_the_others(tmp_path, capsys):
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"vpn_connection": {"ha_role": "master"}}))
    assert main(["import", "huawei", str(bare), str(SLAVE)]) == 0
    text = capsys.readouterr().out
    peers = yaml.safe_load(text)["peers"]
    assert peers["cloud-1"]["local_subnets"] == peers["cloud-2"]["local_subnets"] == ["10.0.0.0/24"]
    assert peers["cloud-1"]["remote_subnets"] == peers["cloud-2"]["remote_subnets"] == ["192.168.44.0/24"]
    assert f"# note: {bare} gives no local subnets: it takes {SLAVE}'s (10.0.0.0/24)" in text
    runs(tmp_path, text, 20.0)


def test_ha_connections_protecting_different_subnets_are_refused(tmp_path, capsys):
    data = json.loads(SLAVE.read_text())
    data["vpn_connection"]["policy_rules"][0]["destination"] = ["192.168.99.0/24"]
    other = tmp_path / "slave.json"
    other.write_text(json.dumps(data))
    assert main(["import", "huawei", str(MASTER), str(other)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ipsecsim: error: {other}: vpn_connection.policy_rules: protects remote subnets "
                          f"192.168.99.0/24, {MASTER}'s connection 192.168.44.0/24; allowed: the same subnets")


@pytest.mark.parametrize("special", ["/dev/zero", "DIR"])
def test_a_path_that_is_not_a_regular_file_is_refused_without_reading_it(tmp_path, capsys, special):
    path = str(tmp_path) if special == "DIR" else special
    assert main(["import", "huawei", path]) == 2
    assert capsys.readouterr().err == f"ipsecsim: error: {path}: not a regular file; allowed: a JSON file\n"
