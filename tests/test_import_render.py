"""The scenario ``ipsecsim import`` prints: every flag on the line of its own key, comments that say
what the HA scenario's example parts are, and values that the scenario loader (YAML 1.1) reads back
as the document gave them.

Expected values come from the vendor documents: the Alibaba Cloud API DescribeVpnConnection example
(dual-tunnel response with TunnelOptionsSpecification; LocalId / RemoteId / Psk / InternetIp masked as
``47.21.XX.XX``, ``123456****``) and the Huawei Cloud API example (local_id_type fqdn, local_id ``123***``).
YAML 1.1 (yaml.org/type/bool.html, int.html): ``yes``, ``on``, ``off`` are booleans, ``0x1A`` and
``1_000`` integers, so a string with one of those spellings must be quoted.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import yaml
from conftest import SCENARIOS
from ruamel.yaml import YAML

from ipsecsim.cli import main
from ipsecsim.config.importers import import_file

VENDOR = SCENARIOS / "vendor"


def imported(tmp_path: Any, capsys: Any, vendor: str, data: dict[str, Any]) -> str:
    p = tmp_path / "conn.json"
    p.write_text(json.dumps(data))
    assert main(["import", vendor, str(p)]) == 0
    return str(capsys.readouterr().out)


def comments(text: str) -> dict[str, str]:
    """Key path (``peers.cloud.ike.psk``) -> the end-of-line comment on that key's line, read back with a
    YAML parser that keeps comments."""
    out: dict[str, str] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                here = f"{path}.{key}" if path else str(key)
                token = node.ca.items.get(key)
                for part in token or []:
                    if part is not None and not isinstance(part, list) and part.value.strip().startswith("#"):
                        out[here] = part.value.strip().splitlines()[0]
                walk(value, here)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")
    walk(YAML(typ="rt").load(io.StringIO(text)), "")
    return out


def test_each_masked_value_is_flagged_on_its_own_key(tmp_path, capsys):
    """Huawei BGP example: local_id / peer_id of type fqdn masked (123***, 456***); the response never
    carries the pre-shared key; the customer's BGP AS number is not in the connection."""
    data = json.loads((VENDOR / "huawei-bgp.json").read_text())
    flags = comments(imported(tmp_path, capsys, "huawei", data))
    assert flags["peers.cloud.ike.local_id"] == \
        "# masked in the document (vpn_connection.ikepolicy.local_id = 123***): replace"
    assert flags["peers.cloud.ike.remote_id"] == \
        "# masked in the document (vpn_connection.ikepolicy.peer_id = 456***): replace"
    assert flags["peers.cloud.ike.psk"].startswith("# not in the document (the vpn_connection response does not "
                                                   "carry the pre-shared key)")
    assert flags["peers.cloud.bgp.peer_asn"].startswith("# not in the document (the customer gateway's BGP ASN")
    assert "peers.customer.ike.local_id" not in flags  # the customer mirrors; only its header line says so
    assert flags["peers.customer"] == "# mirrors the cloud peer, placeholders included"


def test_every_masked_field_of_a_dual_tunnel_document_is_flagged(tmp_path, capsys):
    """Each tunnel's masked LocalId, RemoteId, Psk and InternetIp is one flag on that tunnel's cloud peer."""
    path = VENDOR / "alibaba-dual-tunnel.json"
    text = imported(tmp_path, capsys, "alibaba", json.loads(path.read_text()))
    flags = comments(text)
    for n, tunnel in ((1, 1), (2, 2)):
        masked = import_file(path, tunnel=tunnel).masked
        assert masked, "the example masks values"
        for target, (where, value) in masked.items():
            assert flags[f"peers.cloud-{n}.{target}"] == f"# masked in the document ({where} " \
                f"= {value}): replace", target
    assert flags["ha[1].name"].startswith("# the customer gateway's own choice of tunnel")
    assert flags["traffic[0].name"].startswith("# example traffic")


@pytest.mark.parametrize("value", ["yes", "on", "off", "No", "0x1A", "1_000", "012", "1:20", "null", "~"])
def test_document_strings_stay_strings_for_the_scenario_loader(tmp_path, capsys, value):
    """A pre-shared key and identities are strings whatever they spell (Alibaba Psk, LocalId, RemoteId)."""
    data = json.loads((VENDOR / "alibaba-describe.json").read_text())
    del data["TunnelOptionsSpecification"]
    data["IkeConfig"].update(Psk=value, LocalId=value, RemoteId=f"{value}-peer")
    sc = yaml.safe_load(imported(tmp_path, capsys, "alibaba", data))
    ike = sc["peers"]["cloud"]["ike"]
    assert ike["psk"] == value and ike["local_id"] == value and ike["remote_id"] == f"{value}-peer"
    assert sc["peers"]["customer"]["ike"]["psk"] == value


def test_a_folded_description_leaves_no_trailing_blanks(tmp_path, capsys):
    """A long description is folded over several lines; the breaks carry no trailing blanks and the
    description reads back whole."""
    path = VENDOR / "alibaba-dual-tunnel.json"
    text = imported(tmp_path, capsys, "alibaba", json.loads(path.read_text()))
    assert all(not line.endswith(" ") for line in text.splitlines())
    description = yaml.safe_load(text)["description"]
    assert description.startswith("Imported from ") and "TunnelIndex 1 (master) and TunnelIndex 2 (slave)" in \
        description and description.endswith("(one device: both tunnels end at the same customer gateway).")


def _objects(table: Any, node: Any, path: tuple[Any, ...]) -> Any:
    """(path, table) of every object of ``table``'s tree that the example document ``node`` has."""
    yield path, table
    for f in table.fields:
        child = node.get(f.name)
        if f.kind == "object" and isinstance(child, dict):
            yield from _objects(f.table, child, (*path, f.name))
        elif f.kind == "objects" and isinstance(child, list) and child:
            yield from _objects(f.table, child[0], (*path, f.name, 0))


def _typed_fields() -> Any:
    from ipsecsim.config.importers import alibaba, huawei
    wrong = {"str": (5, "expected a string, got 5"), "bool": (5, "expected true or false, got 5"),
             "cidrs": (5, "expected a list of subnets, got 5"),
             "int": ("x", "expected an integer")}
    for vendor, table, name in (("huawei", huawei.BODY, "huawei-bgp.json"), ("huawei", huawei.BODY,
                                "huawei-policy.json"), ("alibaba", alibaba.ROOT, "alibaba-dual-tunnel.json")):
        data = json.loads((VENDOR / name).read_text())
        for path, t in _objects(table, data, ()):
            for f in t.fields:
                if f.kind in wrong:
                    yield pytest.param(vendor, name, (*path, f.name), *wrong[f.kind],
                                       id=f"{name}:{'.'.join(map(str, (*path, f.name)))}")


@pytest.mark.parametrize("vendor,name,path,value,fragment", list(_typed_fields()))
def test_every_documented_field_has_its_json_type(tmp_path, capsys, vendor, name, path, value, fragment):
    """The vendor API types each field (String, Integer, Boolean, Array of String): a value of another JSON
    type is refused in one line naming the field's JSON path."""
    data = json.loads((VENDOR / name).read_text())
    node = data
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    p = tmp_path / "conn.json"
    p.write_text(json.dumps(data))
    assert main(["import", vendor, str(p)]) == 2
    err = capsys.readouterr().err
    where = "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path).lstrip(".")
    assert err.startswith(f"ipsecsim: error: {p}: {where}: {fragment}") and err.count("\n") == 1, err
