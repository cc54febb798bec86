"""The BGP session of a route-based connection, from the vendor document, as ``bgp:``.

* Huawei Cloud VPN API, ResponseVpnConnection (table 10): ``style`` ``BGP`` ("bgp路由模式");
  ``tunnel_local_address`` "the tunnel interface address configured on the VPN gateway in
  routing mode", ``tunnel_peer_address`` "the tunnel interface address on the customer
  device", both "valid only when style is STATIC or BGP" (example ``169.254.56.225/30`` /
  ``169.254.56.226/30``). The connection carries no AS number: the VPN gateway's is its
  ``bgp_asn`` (Huawei Cloud VPN gateway documentation: "BGP ASN 64512 ... you can use the
  default ASN"), the customer's is the customer gateway's ``bgp_asn`` ("BGP邻居ASN ... required
  when the routing mode is BGP"), which is not in the connection: a flagged placeholder.
* Alibaba Cloud API DescribeVpnConnection: ``VpnBgpConfig`` (EnableBgp "true", LocalAsn the
  Alibaba side's AS number, PeerAsn the peer's, LocalBgpIp the Alibaba side's BGP address,
  PeerBgpIp the peer's, TunnelCidr "a CIDR block with a /30 mask in 169.254.0.0/16", AuthKey
  the BGP authentication key, Status) and, for a dual-tunnel connection, ``EnableTunnelsBgp``
  with each tunnel's ``TunnelBgpConfig`` (BgpStatus, LocalAsn, LocalBgpIp, PeerAsn, PeerBgpIp,
  TunnelCidr; numbers spelt as strings). The key is masked in every document the API returns
  (``AuthKey****``): it is reported like the pre-shared key and replaced by a placeholder.

The two addresses must be two different host addresses of one /30 (TunnelCidr when given);
otherwise the import stops with one line naming the vendor field.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ...errors import ConfigError
from .base import ImportedPeer
from .schema import Doc, Field, Table
from .values import shown

HUAWEI_GATEWAY_ASN = 64512
"""The Huawei Cloud VPN gateway's default BGP ASN (Huawei Cloud VPN gateway documentation: "BGP ASN
64512 ... the ASN of the Huawei side of the BGP session; you can use the default ASN")."""
ASN_RANGE = (1, 4294967295)
"""4-octet AS numbers (RFC 6793); the range Huawei documents for bgp_asn (1-4294967295)."""
LINK_LOCAL = ipaddress.IPv4Network("169.254.0.0/16")
_BGP_FIELDS = {f.name: f for f in (
    Field("Status"), Field("BgpStatus"), Field("PeerBgpIp"), Field("TunnelCidr"),
    Field("EnableBgp", "bool", as_string=True), Field("LocalBgpIp"),
    Field("PeerAsn", "int", "bgp.peer_asn", range=ASN_RANGE, as_string=True),
    Field("LocalAsn", "int", "bgp.asn", range=ASN_RANGE, as_string=True),
    Field("AuthKey", maskable=True))}
ALIBABA_BGP = Table("Alibaba Cloud API DescribeVpnConnection, VpnBgpConfig", tuple(_BGP_FIELDS[k] for k in (
    "Status", "PeerBgpIp", "TunnelCidr", "EnableBgp", "LocalBgpIp", "PeerAsn", "LocalAsn", "AuthKey")))
"""VpnBgpConfig as DescribeVpnConnection lists it (numbers and EnableBgp spelt as strings)."""
ALIBABA_TUNNEL_BGP = Table("Alibaba Cloud API DescribeVpnConnection, TunnelBgpConfig", tuple(_BGP_FIELDS[k] for k in (
    "BgpStatus", "EnableBgp", "LocalAsn", "LocalBgpIp", "PeerAsn", "PeerBgpIp", "TunnelCidr", "AuthKey")))
"""TunnelBgpConfig as DescribeVpnConnection lists it (BgpStatus, LocalAsn, LocalBgpIp, PeerAsn, PeerBgpIp,
TunnelCidr, and "whether BGP is enabled for the tunnel"); AuthKey as in VpnBgpConfig."""


def _interface(conn: Doc, key: str) -> ipaddress.IPv4Interface:
    value = conn.require(key)
    try:
        itf = ipaddress.IPv4Interface(value if "/" in value else f"{value}/30")
    except ValueError:
        raise ConfigError(conn.file, conn.where(key), f"{shown(value)} is not an interface address; allowed: an "
                          f"IPv4 address of a /30 (e.g. 169.254.56.225/30)") from None
    if itf.network.prefixlen != 30:
        raise ConfigError(conn.file, conn.where(key), f"{shown(value)} is a /{itf.network.prefixlen}; allowed: "
                          f"an address of a /30 (e.g. 169.254.56.225/30)")
    if itf.ip not in set(itf.network.hosts()):
        raise ConfigError(conn.file, conn.where(key), f"{shown(value)} is not a host address of "
                          f"{itf.network}; allowed: {', '.join(str(h) for h in itf.network.hosts())}")
    return itf


def huawei_bgp(conn: Doc, out: ImportedPeer) -> None:
    """style BGP: tunnel_local_address / tunnel_peer_address as bgp local_address / peer_address."""
    local, peer = _interface(conn, "tunnel_local_address"), _interface(conn, "tunnel_peer_address")
    if peer.network != local.network:
        raise ConfigError(conn.file, conn.where("tunnel_peer_address"), f"{peer} is not in tunnel_local_address's "
                          f"/30 {local.network}; allowed: {', '.join(str(h) for h in local.network.hosts())} "
                          f"other than {local.ip}")
    if peer.ip == local.ip:
        raise ConfigError(conn.file, conn.where("tunnel_peer_address"), f"{peer.ip} is also tunnel_local_address; "
                          f"allowed: the other host address of {local.network}")
    out.peer["bgp"] = {"local_address": str(local.ip), "peer_address": str(peer.ip), "asn": HUAWEI_GATEWAY_ASN,
                       "tunnel_cidr": str(local.network)}
    out.missing["bgp.peer_asn"] = ("the customer gateway's BGP ASN is the customer gateway's bgp_asn, not a field "
                                   "of the vpn_connection")
    out.notes.append(f"style BGP: the VPN gateway's AS number is not in the vpn_connection; bgp.asn is the "
                     f"gateway's default bgp_asn {HUAWEI_GATEWAY_ASN} (Huawei Cloud VPN gateway documentation): "
                     f"change it if the gateway was created with another")


def _address(cfg: Doc, key: str) -> ipaddress.IPv4Address:
    value = cfg.require(key)
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise ConfigError(cfg.file, cfg.where(key), f"invalid IPv4 address {shown(value)}; allowed: a host "
                          f"address of TunnelCidr (e.g. 169.254.10.1)") from None


def alibaba_bgp(cfg: Doc, out: ImportedPeer) -> None:
    """VpnBgpConfig or one tunnel's TunnelBgpConfig as ``bgp:``; the reported state in meta."""
    local, peer = _address(cfg, "LocalBgpIp"), _address(cfg, "PeerBgpIp")
    cidr_text = cfg["TunnelCidr"]
    if cidr_text is not None:
        try:
            net = ipaddress.IPv4Network(cidr_text)
        except ValueError:
            raise ConfigError(cfg.file, cfg.where("TunnelCidr"), f"invalid CIDR {shown(cidr_text)}; allowed: a /30 "
                              f"of 169.254.0.0/16 (e.g. 169.254.10.0/30)") from None
        if net.prefixlen != 30 or not net.subnet_of(LINK_LOCAL):
            raise ConfigError(cfg.file, cfg.where("TunnelCidr"), f"{net} is not allowed; allowed: a /30 of "
                              f"169.254.0.0/16 (e.g. 169.254.10.0/30)")
    else:
        net = ipaddress.IPv4Network(f"{local}/30", strict=False)
    hosts = list(net.hosts())
    for key, addr in (("LocalBgpIp", local), ("PeerBgpIp", peer)):
        if addr not in hosts:
            raise ConfigError(cfg.file, cfg.where(key), f"{addr} is not a host address of "
                              f"{'TunnelCidr ' if cidr_text else 'the /30 '}{net}; allowed: "
                              f"{', '.join(map(str, hosts))}")
    if local == peer:
        raise ConfigError(cfg.file, cfg.where("PeerBgpIp"), f"{peer} is also LocalBgpIp; allowed: the other host "
                          f"address of {net}")
    bgp: dict[str, Any] = {"local_address": str(local), "peer_address": str(peer),
                           "asn": cfg.require("LocalAsn"), "peer_asn": cfg.require("PeerAsn"),
                           "tunnel_cidr": str(net)}
    auth_key = cfg["AuthKey"]
    if auth_key == "":
        raise ConfigError(cfg.file, cfg.where("AuthKey"), "empty; allowed: the BGP authentication key, 1 or more "
                          "characters (or leave the field out: no authentication)")
    if auth_key is not None:
        if cfg.masked("AuthKey"):
            out.mask("bgp.auth_key", cfg.where("AuthKey"), auth_key)
        else:
            bgp["auth_key"] = auth_key
    out.peer["bgp"] = bgp
    out.meta["bgp_status"] = cfg["Status" if "Status" in cfg.raw else "BgpStatus"]
    _cover(out, net)


def _cover(out: ImportedPeer, net: ipaddress.IPv4Network) -> None:
    """BGP runs inside the tunnel between the BGP addresses: the traffic selectors must cover them.
    LocalSubnet / RemoteSubnet that do not get the TunnelCidr added, with a note."""
    for key in ("local_subnets", "remote_subnets"):
        nets = out.peer.get(key)
        if nets is None or any(net.subnet_of(ipaddress.IPv4Network(n)) for n in nets):
            continue
        out.meta.setdefault("without_bgp", {})[key] = list(nets)
        out.peer[key] = [*nets, str(net)]
        out.notes.append(f"{key}: {net} (TunnelCidr) added: the BGP session runs inside the tunnel between the BGP "
                         f"addresses, so the negotiated selectors must cover them")


def alibaba_session(root: Doc, gateway: Doc, out: ImportedPeer, dual: bool) -> None:
    """The BGP configuration that applies to the imported tunnel: its TunnelBgpConfig when the connection
    is dual-tunnel and EnableTunnelsBgp is true, else VpnBgpConfig when EnableBgp is true."""
    vpn = root.obj("VpnBgpConfig")
    tunnels_bgp = root["EnableTunnelsBgp"]
    if dual:
        tcfg = gateway.obj("TunnelBgpConfig")
        if not tunnels_bgp:
            if tcfg is not None:
                out.notes.append("EnableTunnelsBgp is not true: the tunnel's TunnelBgpConfig is not imported")
            return
        if tcfg is None:
            raise ConfigError(root.file, gateway.where("TunnelBgpConfig"), "required when EnableTunnelsBgp is true, "
                              "but missing")
        if tcfg["EnableBgp"] is False:
            out.notes.append(f"{tcfg.where('EnableBgp')} is false: no BGP on this tunnel")
            return
        alibaba_bgp(tcfg, out)
        if vpn is not None:
            out.notes.append("VpnBgpConfig is not imported: EnableTunnelsBgp is true, each tunnel has its own "
                             "TunnelBgpConfig")
        return
    if vpn is None:
        return
    enabled = vpn["EnableBgp"]
    if not enabled:
        out.notes.append("VpnBgpConfig.EnableBgp is not true: BGP is not imported")
        return
    alibaba_bgp(vpn, out)
