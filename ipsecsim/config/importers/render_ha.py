"""``ipsecsim import`` of redundant connections: a runnable scenario with both tunnels.

One cloud peer per tunnel (``cloud-1`` the master, ``cloud-2`` the standby), one customer
peer per tunnel mirroring it (``customer-1``, ``customer-2``; one address when the document
says both tunnels end at the same customer gateway), an HA group per side in the document's
order (``cloud`` and ``customer``), and a ping from the cloud side so the run shows which
tunnel carries traffic. Masked and missing values are replaced by documentation addresses /
placeholders and flagged on their line, as for a single connection (render.py).
"""

from __future__ import annotations

from typing import Any

from .render import (
    PLACEHOLDER,
    clear_addresses,
    cloud_peer,
    comment,
    commented,
    customer_peer,
    dump,
    flag_all,
    free_address,
    one_line_comments,
    scenario_name,
    unplaced,
)
from .tunnels import Tunnels


def tunnels_yaml(t: Tunnels) -> str:
    peers: dict[str, dict[str, Any]] = {}
    customers: dict[str, dict[str, Any]] = {}
    flags: dict[str, dict[str, str]] = {}
    required: list[str] = []
    taken = set().union(*(clear_addresses(imp) for imp in t.tunnels))  # placeholders avoid them all
    for i, imp in enumerate(t.tunnels):
        n = i + 1
        customer_addr = free_address("198.51.100.1" if t.shared_customer else f"198.51.100.{n}", taken)
        cloud_addr = free_address(f"192.0.2.{n}", taken | {customer_addr})
        cloud, f = cloud_peer(imp, {"address": cloud_addr, "remote_address": customer_addr}, taken)
        if "remote_address" not in imp.peer and "remote_address" not in f:
            f["remote_address"] = "not in the document (the customer gateway's address): replace"
        cloud["remote_peer"] = f"customer-{n}"
        required += unplaced(imp, cloud, f"cloud-{n}")
        customer = customer_peer(cloud, imp.meta.get("routes"))
        customer["remote_peer"] = f"cloud-{n}"
        peers[f"cloud-{n}"], flags[f"cloud-{n}"] = cloud, f
        customers[f"customer-{n}"] = customer
        if customer["address"] == customer_addr:
            whose = "shared by both tunnels" if t.shared_customer else f"tunnel {n}"
            flags[f"customer-{n}"] = {"address": f"placeholder for the customer gateway's address ({whose}): replace"}
    peers.update(customers)
    roles = " and ".join(f"{label} ({role})" for label, role in zip(t.labels, t.roles, strict=True))
    name, renamed = scenario_name(t.tunnels[0], t.vendor)
    ha = [{"name": side, "members": [f"{side}-1", f"{side}-2"], "mode": t.mode, "preempt": True,
           "watch": ["ipsec"]} for side in ("cloud", "customer")]
    doc = commented({
        "name": name,
        "description": f"Imported from {', '.join(t.files)} ({t.vendor}): {roles}. One cloud peer per tunnel, "
                       f"the master first; each customer peer mirrors its cloud peer, edit them to match the real "
                       f"customer gateway" + (" (one device: both tunnels end at the same customer gateway)."
                                              if t.shared_customer else "."),
        "seed": 1, "duration": "10m", "peers": peers, "ha": ha,
        "traffic": [{"name": "probe", "kind": "ping", "from": "cloud", "to": "customer", "interval": "1s",
                     "start": "1s"}],
    })
    header = [f"# ipsecsim import {t.vendor} {' '.join(t.files)}"]
    for n, imp in enumerate(t.tunnels, 1):
        header += [f"# note (cloud-{n}): {note}" for note in imp.notes]
    header += [f"# note: {note}" for note in [*t.notes, *renamed]]
    header += required
    if any(flags.values()):
        header.append("# Values to check before trusting the results are flagged below.")
    for peer, peer_flags in flags.items():
        flag_all(doc["peers"][peer], peer_flags)
    comment(doc["ha"][1], "name", "the customer gateway's own choice of tunnel: configure it as the real device routes")
    comment(doc["traffic"][0], "name", "example traffic: the run shows which tunnel carries it")
    return one_line_comments(header) + dump(doc)


__all__ = ["PLACEHOLDER", "tunnels_yaml"]
