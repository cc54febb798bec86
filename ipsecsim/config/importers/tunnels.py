"""Redundant connections in: both tunnels of an Alibaba Cloud dual-tunnel connection, or the
master and slave connections of a Huawei Cloud active-standby VPN gateway, with their order.

* Alibaba (Alibaba Cloud API): ``TunnelOptionsSpecification.TunnelOptions`` lists the tunnels of a
  dual-tunnel connection, each with ``Role`` master or slave and its own ``TunnelIndex``,
  ``InternetIp``, ``CustomerGatewayId``, IKE and IPsec settings. Alibaba's "IPsec-VPN
  connections" guide: one active (master) and one standby tunnel; traffic fails over to the
  standby and returns when the active tunnel recovers.
* Huawei (Huawei Cloud API, ``ResponseVpnConnection.ha_role``): "for a connection of an active-standby
  VPN gateway, 'master' is the active connection and 'slave' the standby one; in active-active
  mode every connection's ha_role is 'master'; default master".

Both become ``Tunnels``: one ``ImportedPeer`` per tunnel in preference order (master first),
the HA mode, and whether the tunnels share one customer gateway (same ``CustomerGatewayId`` /
``cgw_id``: one customer device, hence one customer address, terminates both tunnels).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ...errors import ConfigError
from .base import ImportedPeer, is_masked
from .schema import validate
from .values import shown


@dataclass
class Tunnels:
    vendor: str
    files: list[str]
    tunnels: list[ImportedPeer]
    """One imported cloud-side peer per tunnel, the master first."""
    roles: list[str]
    mode: str
    """``active-standby`` or ``active-active``."""
    shared_customer: bool
    """Both tunnels end at one customer gateway (same customer gateway id)."""
    labels: list[str] = field(default_factory=list)
    """How each tunnel is named in the document (``TunnelIndex 1``, the file name)."""
    notes: list[str] = field(default_factory=list)


def alibaba_tunnels(data: Any, file: str) -> Tunnels | None:
    """Every tunnel of a dual-tunnel DescribeVpnConnection response, or None when it has
    fewer than two (a single-tunnel connection)."""
    from .alibaba import ROOT, import_describe
    spec = validate(ROOT, data, file).obj("TunnelOptionsSpecification")
    rows = spec.objs("TunnelOptions") if spec is not None else []
    if len(rows) < 2:
        return None
    where = "TunnelOptionsSpecification.TunnelOptions"
    if len(rows) > 2:
        raise ConfigError(file, where, f"{len(rows)} tunnels; a dual-tunnel connection has two (Role master and "
                          f"slave)")
    indexes = [r.require("TunnelIndex") for r in rows]
    roles = [r.require("Role") for r in rows]
    if indexes[0] == indexes[1]:
        raise ConfigError(file, f"{where}[1].TunnelIndex", f"both tunnels have TunnelIndex {indexes[0]}")
    if sorted(roles) != ["master", "slave"]:
        raise ConfigError(file, f"{where}[1].Role", f"both tunnels have Role {roles[0]}; a dual-tunnel connection "
                          f"has one master (active) and one slave (standby) tunnel; allowed: master, slave")
    order = sorted(range(2), key=lambda i: roles[i] != "master")
    peers = [import_describe(data, file, indexes[i]) for i in order]
    for p in peers:  # the per-tunnel import says which tunnel it took; here both are taken
        p.notes = [n for n in p.notes if not n.startswith("dual-tunnel connection")]
    cgw = [rows[i]["CustomerGatewayId"] for i in order]
    return Tunnels("alibaba", [file], peers, [roles[i] for i in order], "active-standby",
                   cgw[0] is not None and cgw[0] == cgw[1], [f"TunnelIndex {indexes[i]}" for i in order])


def huawei_pair(items: list[tuple[Any, str]]) -> Tunnels:
    """Two Huawei vpn_connection documents (request or response bodies) of one VPN gateway."""
    from .huawei import import_vpn_connection
    if len(items) != 2:
        raise ConfigError(items[-1][1] if items else None, "", f"give one vpn_connection, or the two connections "
                          f"of an active-standby or active-active gateway; got {len(items)} files")
    peers = [import_vpn_connection(data, file) for data, file in items]
    roles = [str(p.meta.get("ha_role")) for p in peers]
    files = [file for _, file in items]
    if _same_file(files[0], files[1]):
        raise ConfigError(files[1], "", f"the same file as {files[0]}: an HA pair is two connections of one VPN "
                          f"gateway; give the other connection's document")
    ids = [p.meta.get("id") for p in peers]
    if ids[0] is not None and ids[0] == ids[1] and not is_masked(ids[0]):
        raise ConfigError(files[1], _where(items[1][0], "id"), f"{shown(ids[1])} is also the id of {files[0]}'s "
                          f"connection: the same connection given twice; an HA pair is two connections of one VPN "
                          f"gateway")
    if roles == ["slave", "slave"]:
        raise ConfigError(files[1], _where(items[1][0], "ha_role"), "both connections have ha_role slave; an "
                          "active-standby gateway has one master (active) connection; allowed: master, slave")
    gateways = [p.meta.get("vgw_id") for p in peers]
    if gateways[0] is not None and gateways[1] is not None and gateways[0] != gateways[1]:
        raise ConfigError(files[1], _where(items[1][0], "vgw_id"), f"{shown(gateways[1])} is another VPN gateway than "
                          f"{files[0]}'s {shown(gateways[0])}: the connections of an HA pair belong to one gateway")
    notes = _same_subnets(items, peers)
    mode = "active-active" if roles == ["master", "master"] else "active-standby"
    order = [0, 1] if roles[0] == "master" else [1, 0]
    cgw = [peers[i].meta.get("cgw_id") for i in order]
    out = Tunnels("huawei", [files[i] for i in order], [peers[i] for i in order], [roles[i] for i in order], mode,
                  cgw[0] is not None and cgw[0] == cgw[1],
                  [f"connection {peers[i].meta.get('name') or files[i]}" for i in order])
    out.notes += notes
    if mode == "active-active":
        out.notes.append("both connections have ha_role master: an active-active gateway; flows are spread over "
                         "both tunnels")
    return out


def _same_subnets(items: list[tuple[Any, str]], peers: list[ImportedPeer]) -> list[str]:
    """The connections of an HA pair carry the same traffic (one HA group: Huawei Cloud API ha_role), so they
    protect the same subnets: a connection whose document gives none takes the other's; different ones are an
    error naming the second connection's field."""
    notes = []
    for key in ("local_subnets", "remote_subnets"):
        nets = [p.peer.get(key) for p in peers]
        if nets[0] is None and nets[1] is None:
            continue
        if nets[0] is None or nets[1] is None:
            have = 0 if nets[0] is not None else 1
            peers[1 - have].peer[key] = list(nets[have] or [])
            peers[1 - have].missing.pop(key, None)
            notes.append(f"{items[1 - have][1]} gives no {key.replace('_', ' ')}: it takes {items[have][1]}'s "
                         f"({', '.join(nets[have] or [])})")
        elif sorted(nets[0]) != sorted(nets[1]):
            styles = [p.meta.get("style") for p in peers]
            field = "style" if styles[0] != styles[1] else (
                "policy_rules" if styles[1] in ("POLICY", "POLICY-TEMPLATE") and isinstance(items[1][0], dict)
                and isinstance(items[1][0].get("vpn_connection"), dict)
                and items[1][0]["vpn_connection"].get("policy_rules") else "peer_subnets")
            theirs, ours = (shown(", ".join(n or []), quote=False) for n in nets)
            raise ConfigError(items[1][1], _where(items[1][0], field), f"protects {key.replace('_', ' ')} "
                              f"{ours}, {items[0][1]}'s connection {theirs}; allowed: the "
                              f"same subnets (the two connections of an HA pair carry the same traffic)")
    return notes


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _where(data: Any, key: str) -> str:
    return f"vpn_connection.{key}" if isinstance(data, dict) and "vpn_connection" in data else key
