"""``ipsecsim import VENDOR FILE``: the equivalent scenario as YAML, ready to run.

The imported peer is ``cloud``; a ``customer`` peer mirrors it (subnets swapped, same
proposals and key, strongSwan defaults, initiating) so the file runs as it is. Values the
document masks or does not carry are replaced by documentation addresses / placeholders and
flagged with a comment on that line.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from .base import ImportedPeer

PLACEHOLDER = {"address": "192.0.2.1", "remote_address": "198.51.100.1", "ike.psk": "CHANGE-ME",
               "local_subnets": ["10.0.0.0/24"], "dpd.delay": "30s"}


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


def cloud_peer(imp: ImportedPeer, placeholder: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The imported peer as scenario keys, masked or missing values replaced by
    ``placeholder`` values, and the flag text per key path for those lines."""
    ph = {**PLACEHOLDER, **(placeholder or {})}
    cloud = copy.deepcopy(imp.peer)
    flags: dict[str, str] = {}
    for target, (jpath, value) in imp.masked.items():
        if target in ph:
            _set(cloud, target, ph[target])
        flags[target] = f"masked in the document ({jpath} = {value}): replace"
    for target, why in imp.missing.items():
        if target in ph:
            _set(cloud, target, ph[target])
        flags[target] = f"not in the document ({why}): replace"
    for key in ("address", "remote_address", "local_subnets"):
        if key not in cloud:
            cloud[key] = ph[key]
            flags.setdefault(key, "not in the document: a placeholder, replace")
    cloud.setdefault("remote_subnets", ["192.168.0.0/24"])
    for key in ("local_id", "remote_id"):  # identities follow the addresses unless given
        if f"ike.{key}" in imp.masked and "ike" in cloud:
            cloud["ike"].pop(key, None)
    cloud["start"] = "respond"
    return cloud, flags


def customer_peer(cloud: dict[str, Any]) -> dict[str, Any]:
    """A strongSwan customer gateway mirroring ``cloud``: subnets swapped, same proposals and key."""
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
    return customer


def scenario_yaml(imp: ImportedPeer, vendor: str) -> str:
    cloud, flags = cloud_peer(imp)
    customer = customer_peer(cloud)
    name = str(imp.meta.get("name") or f"{vendor}-import")
    doc = {"name": name[:64], "description": f"Imported from {imp.file} ({vendor}). The customer peer mirrors "
           f"the cloud side; edit it to match the real customer gateway.", "seed": 1, "duration": "10m",
           "peers": {"cloud": cloud, "customer": customer}}
    text = dump(doc)
    out = [f"# ipsecsim import {vendor} {imp.file}"]
    out += [f"# note: {n}" for n in imp.notes]
    out += unplaced(imp, cloud, "cloud")
    if flags:
        out.append("# Values to check before trusting the results are flagged below.")
    section = ""
    for line in text.splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            section = line.strip().rstrip(":")
            if section == "customer":
                line += "  # mirrors the cloud peer, placeholders included"
        out.append(line + (flag(line, flags) if section == "cloud" else ""))
    return "\n".join(out) + "\n"


def unplaced(imp: ImportedPeer, cloud: dict[str, Any], name: str) -> list[str]:
    """Header lines for the values the document does not carry and no placeholder stands in for:
    they have no line to flag, and the scenario does not run until they are given."""
    return [f"# required before it runs: peers.{name}.{target}: {why}" for target, why in imp.missing.items()
            if _get(cloud, target) is None]


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(doc: dict[str, Any]) -> str:
    return yaml.dump(doc, Dumper=_NoAliases, sort_keys=False, allow_unicode=True, width=100)


def flag(line: str, flags: dict[str, str]) -> str:
    key = line.strip().split(":", 1)[0]
    for target, text in flags.items():
        if target.split(".")[-1] == key and key:
            return f"  # {text}"
    return ""
