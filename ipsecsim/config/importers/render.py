"""``ipsecsim import VENDOR FILE``: the equivalent scenario as YAML, ready to run.

The imported peer is ``cloud``; a ``customer`` peer mirrors it (subnets swapped, same
proposals and key, strongSwan defaults, initiating) so the file runs as it is. Values the
document masks or does not carry are replaced by documentation addresses / placeholders and
flagged with a comment on that line. The comments are attached to the YAML nodes themselves
(ruamel.yaml keeps them through the dump), so each one lands on the line of its own key path.
"""

from __future__ import annotations

import copy
import io
import ipaddress
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tokens import CommentToken

from .base import ImportedPeer, is_masked
from .values import shown

PLACEHOLDER = {"address": "192.0.2.1", "remote_address": "198.51.100.1", "ike.psk": "CHANGE-ME",
               "local_subnets": ["10.0.0.0/24"], "dpd.delay": "30s", "nqa.interval": "3s", "nqa.retries": 3,
               "bgp.peer_asn": 65000, "bgp.auth_key": "CHANGE-ME"}
"""Stand-ins for what a document masks or lacks, each flagged on its line: documentation addresses
(RFC 5737) and subnet, and for the probe timers no vendor documents for the connection monitor the
Alibaba health check's example values (Alibaba Cloud API DescribeVpnConnection: VcoHealthCheck
Interval 3, Retry 3); for the customer's AS number a private one (RFC 6996: 64512-65534) other than
the Huawei gateway's default 64512, and for a masked BGP key the pre-shared key's placeholder."""


def _set(d: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for p in parents:
        d = d.setdefault(p, {})
    d[leaf] = value


def _get(d: dict[str, Any], dotted: str) -> Any:
    for p in dotted.split("."):
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def free_address(preferred: str, taken: set[str]) -> str:
    """``preferred``, or the next address of its /24 (documentation ranges, RFC 5737) that is not
    ``taken``: a placeholder never equals an address the document gives in clear."""
    net = ipaddress.IPv4Network(f"{preferred}/24", strict=False)
    first = int(ipaddress.IPv4Address(preferred)) - int(net.network_address)
    for step in range(254):
        candidate = str(net.network_address + 1 + (first - 1 + step) % 254)
        if candidate not in taken:
            return candidate
    return preferred  # a document gives at most a few addresses


def clear_addresses(imp: ImportedPeer) -> set[str]:
    """The gateway addresses ``imp`` gives in clear."""
    return {a for a in (imp.peer.get("address"), imp.peer.get("remote_address")) if isinstance(a, str)}


def _identity_placeholder(cloud: dict[str, Any], target: str, value: str) -> str:
    """A masked identity: an address-shaped one (``116.28.XX.XX``) stands for the gateway's address, any
    other (an FQDN, ``123***``) for a name, replaced by a reserved example name (RFC 2606)."""
    local = target == "ike.local_id"
    if _IP_SHAPED.fullmatch(value):
        return str(cloud["address" if local else "remote_address"])
    return "@vpn-gateway.example.com" if local else "@customer-gateway.example.com"


_IP_SHAPED = re.compile(r"[0-9X*]+(\.[0-9X*]+){3}")
_DERIVED = {"nqa.source": "address", "nqa.destination": "remote_address"}
"""Placeholders that are the peer's own (possibly placeholder) addresses: the Huawei connection monitor
probes from the VPN gateway's address to the customer gateway's."""


def cloud_peer(imp: ImportedPeer, placeholder: dict[str, Any] | None = None,
               taken: set[str] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The imported peer as scenario keys, masked or missing values replaced by ``placeholder``
    values (addresses: none of ``taken`` nor the document's), and the flag text per key path for
    those lines."""
    ph = {**PLACEHOLDER, **(placeholder or {})}
    avoid = clear_addresses(imp) | (taken or set())
    for key in ("address", "remote_address"):
        ph[key] = free_address(ph[key], avoid)
        avoid.add(ph[key])
    cloud = copy.deepcopy(imp.peer)
    flags: dict[str, str] = {}
    later: dict[str, str] = {}  # placeholders that follow the addresses
    for target, (jpath, value) in imp.masked.items():
        if target in ph:
            _set(cloud, target, ph[target])
        else:
            later[target] = value
        flags[target] = f"masked in the document ({jpath} = {value}): replace"
    for target, why in imp.missing.items():
        if target in ph:
            _set(cloud, target, ph[target])
        else:
            later[target] = ""
        flags[target] = f"not in the document ({why}): replace"
    for key in ("address", "remote_address", "local_subnets"):
        if key not in cloud:
            cloud[key] = ph[key]
            flags.setdefault(key, "not in the document: a placeholder, replace")
    cloud.setdefault("remote_subnets", ["192.168.0.0/24"])
    for target, value in later.items():
        if target in _DERIVED:
            _set(cloud, target, cloud[_DERIVED[target]])
        elif target in ("ike.local_id", "ike.remote_id"):
            _set(cloud, target, _identity_placeholder(cloud, target, value))
    cloud["start"] = "respond"
    return cloud, flags


def customer_peer(cloud: dict[str, Any], routes: list[str] | None = None) -> dict[str, Any]:
    """A strongSwan customer gateway mirroring ``cloud``: subnets swapped, same proposals and key, and the
    other end of its BGP session announcing ``routes`` (the customer subnets of a route-mode connection)."""
    ike = cloud.get("ike", {})
    customer: dict[str, Any] = {
        "profile": "strongswan",
        "address": cloud["remote_address"],
        "local_subnets": cloud["remote_subnets"],
        "remote_subnets": cloud["local_subnets"],
        "start": "initiate",
        "ike": {k: v for k, v in ike.items() if k in ("version", "mode", "proposals", "psk")},
        "child": {"proposals": cloud.get("child", {}).get("proposals", ["aes128-sha256"])},
    }
    if cloud.get("ike", {}).get("remote_id"):
        customer["ike"]["local_id"] = cloud["ike"]["remote_id"]
    bgp = cloud.get("bgp")
    if bgp:  # the other end of the session: addresses and AS numbers swapped, the same /30 and key
        mirrored: dict[str, Any] = {"local_address": bgp["peer_address"], "peer_address": bgp["local_address"],
                                    "asn": bgp.get("peer_asn"), "peer_asn": bgp.get("asn")}
        mirrored.update({k: bgp[k] for k in ("tunnel_cidr", "auth_key") if k in bgp})
        if routes:
            mirrored["advertise"] = list(routes)
        customer["bgp"] = mirrored
    return customer


def scenario_yaml(imp: ImportedPeer, vendor: str) -> str:
    cloud, flags = cloud_peer(imp)
    customer = customer_peer(cloud, imp.meta.get("routes"))
    name, renamed = scenario_name(imp, vendor)
    doc = commented({"name": name, "description": f"Imported from {imp.file} ({vendor}). The customer peer "
                     f"mirrors the cloud side; edit it to match the real customer gateway.", "seed": 1,
                     "duration": "10m", "peers": {"cloud": cloud, "customer": customer}})
    header = [f"# ipsecsim import {vendor} {imp.file}"]
    header += [f"# note: {n}" for n in [*imp.notes, *renamed]]
    header += unplaced(imp, cloud, "cloud")
    if flags:
        header.append("# Values to check before trusting the results are flagged below.")
    flag_all(doc["peers"]["cloud"], flags)
    comment(doc["peers"], "customer", "mirrors the cloud peer, placeholders included")
    return one_line_comments(header) + dump(doc)


def unplaced(imp: ImportedPeer, cloud: dict[str, Any], name: str) -> list[str]:
    """Header lines for the values the document does not carry and no placeholder stands in for:
    they have no line to flag, and the scenario does not run until they are given."""
    return [f"# required before it runs: peers.{name}.{target}: {why}" for target, why in imp.missing.items()
            if _get(cloud, target) is None]


_SCENARIO_NAME = re.compile(r"[\w.\- ]{1,64}")
"""The scenario's ``name``: 1-64 letters, digits, _ - . and spaces (config/model.py ScenarioConfig.name)."""


def scenario_name(imp: ImportedPeer, vendor: str) -> tuple[str, list[str]]:
    """The connection's name (Huawei ``name``, Alibaba ``Name``) as the scenario's name, and a note when it
    cannot be one (masked, or characters a scenario name does not allow): the scenario is then named after
    the vendor."""
    given = imp.meta.get("name")
    fallback = f"{vendor}-import"
    if not isinstance(given, str) or not given:
        return fallback, []
    if _SCENARIO_NAME.fullmatch(given[:64]) and not is_masked(given):
        return given[:64], []
    return fallback, [f"the connection's name {shown(given)} is not a scenario name (1-64 letters, digits, _ - . "
                      f"and spaces, unmasked): the scenario is named {fallback}"]


def one_line_comments(lines: list[str]) -> str:
    """The header lines as text; a comment line that would carry a line break (a file name, a value from
    the document) is escaped so every comment stays one line of YAML."""
    return "".join(_one_line(line) + "\n" for line in lines)


def _one_line(text: str) -> str:
    if "#" in text and not text.isprintable():
        head, sep, tail = text.partition("#")
        text = head + sep + "".join(c if c.isprintable() else repr(c)[1:-1] for c in tail)
    return text


class _Yaml11(VersionedResolver):
    """YAML 1.1's implicit types when deciding what to quote: the scenario loader reads YAML 1.1
    (PyYAML), where an unquoted yes, on, 0x1A or 1_000 is not a string."""

    @property
    def processing_version(self) -> Any:
        return (1, 1)


def _yaml() -> YAML:
    y = YAML(typ="rt", pure=True)
    y.Resolver = _Yaml11
    y.width = 100
    y.allow_unicode = True
    y.representer.add_representer(type(None), lambda r, _d: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return y


def commented(value: Any) -> Any:
    """``value`` (dicts, lists, scalars) as ruamel.yaml nodes that can carry comments; no node is shared,
    so nothing is written as an alias."""
    if isinstance(value, dict):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = commented(v)
        return out
    if isinstance(value, list | tuple):
        seq = CommentedSeq()
        seq.extend(commented(v) for v in value)
        return seq
    return value


def comment(node: CommentedMap, key: str, text: str) -> None:
    """``  # text`` at the end of ``key``'s line in ``node`` (after the key of a nested mapping or list)."""
    token = CommentToken(f" # {_one_line('#' + text)[1:]}", CommentMark(0), None)  # the dump puts one space before
    node._yaml_add_eol_comment([token, None], key=key)


def flag_all(peer: CommentedMap, flags: dict[str, str]) -> None:
    """Each flag on the line of its own key path in ``peer`` (``ike.psk``: the psk of ike)."""
    for target, text in flags.items():
        *parents, leaf = target.split(".")
        node: Any = peer
        for part in parents:
            node = node.get(part) if isinstance(node, CommentedMap) else None
        if isinstance(node, CommentedMap) and leaf in node:
            comment(node, leaf, text)


def dump(doc: Any) -> str:
    """The document as block YAML, keys in their order, lines at most 100 wide where a value allows."""
    buf = io.StringIO()
    _yaml().dump(doc, buf)
    # a folded long value ends its broken lines with a space, which YAML drops when reading
    return "".join(line.rstrip(" ") + "\n" for line in buf.getvalue().splitlines())
