"""Alibaba Cloud ``DescribeVpnConnection`` response as the Alibaba-side peer.

Fields of the Alibaba Cloud DescribeVpnConnection API (IkeConfig, IpsecConfig, EnableDpd, EnableNatTraversal,
VcoHealthCheck, VpnBgpConfig, TunnelOptionsSpecification for dual-tunnel connections).
Ranges: IkeLifetime / IpsecLifetime 0-86400 s, IkeVersion ikev1 | ikev2, IkeMode main |
aggressive (Alibaba VPC SDK CreateVpnConnection, reference/vendor-defaults.md). Algorithm
names are those of the API (aes, aes192, aes256, des, 3des; md5, sha1, sha256, sha384, sha512;
group1, group2, group5, group14, group24; the SM names sm4 / sm3 for ShangMi gateways).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ...errors import ConfigError
from .base import ImportedPeer, ipv4_or_none, is_masked, other_vendor
from .bgp import ALIBABA_BGP, ALIBABA_TUNNEL_BGP, alibaba_session
from .schema import Doc, Field, Table, take, validate
from .values import shown

ENCR = {"aes": "aes128", "aes192": "aes192", "aes256": "aes256", "des": "des", "3des": "3des", "sm4": "sm4"}
AUTH = {"md5": "md5", "sha1": "sha1", "sha256": "sha256", "sha384": "sha384", "sha512": "sha512", "sm3": "sm3"}
PFS = {"group1": "modp768", "group2": "modp1024", "group5": "modp1536", "group14": "modp2048",
       "group24": "modp2048s256"}

# The objects of the Alibaba Cloud API DescribeVpnConnection, field by field: the request parameters
# (RegionId, VpnConnectionId) and the response elements. TunnelIkeConfig / TunnelIpsecConfig have the
# fields of IkeConfig / IpsecConfig, and like every tunnel option spell numbers and booleans as strings
# ("86400", "true"). ``any``: documented, not used by the import.
API = "Alibaba Cloud API DescribeVpnConnection"
VERSION = {"ikev1": 1, "ikev2": 2}


def _ike_table(name: str, as_string: bool) -> Table:
    return Table(f"{API}, {name}", (
        Field("RemoteId", maskable=True), Field("IkeLifetime", "int", range=(0, 86400), as_string=as_string),
        Field("IkeEncAlg", enum=tuple(ENCR)), Field("LocalId", maskable=True),
        Field("IkeMode", "str", "ike.mode", enum=("main", "aggressive")),
        Field("IkeVersion", "str", "ike.version", VERSION.__getitem__, enum=tuple(VERSION)),
        Field("IkePfs", enum=tuple(PFS)), Field("Psk", maskable=True), Field("IkeAuthAlg", enum=tuple(AUTH)),
    ))


def _ipsec_table(name: str, as_string: bool) -> Table:
    return Table(f"{API}, {name}", (
        Field("IpsecAuthAlg", enum=tuple(AUTH)), Field("IpsecLifetime", "int", range=(0, 86400), as_string=as_string),
        Field("IpsecEncAlg", enum=tuple(ENCR)), Field("IpsecPfs", enum=(*PFS, "disabled")),
    ))


HEALTH_CHECK = Table(f"{API}, VcoHealthCheck", (
    Field("Status", "any"), Field("Dip", maskable=True), Field("Interval", "int"), Field("Retry", "int"),
    Field("Sip", maskable=True), Field("Enable", "bool", as_string=True), Field("Policy", enum=("revoke_route",)),
))
TUNNEL_OPTIONS = Table(f"{API}, TunnelOptions", (
    Field("TunnelId"), Field("CustomerGatewayId"), Field("EnableDpd", "bool", as_string=True),
    Field("EnableNatTraversal", "bool", "nat_traversal", as_string=True), Field("InternetIp", maskable=True),
    Field("RemoteCaCertificate", "any"), Field("Role", enum=("master", "slave")), Field("TunnelIndex", "int"),
    Field("State"), Field("Status", "any"), Field("TunnelBgpConfig", "object", table=ALIBABA_TUNNEL_BGP),
    Field("TunnelIkeConfig", "object", table=_ike_table("TunnelIkeConfig", True)),
    Field("TunnelIpsecConfig", "object", table=_ipsec_table("TunnelIpsecConfig", True)), Field("ZoneNo", "any"),
))
SPEC = Table(f"{API}, TunnelOptionsSpecification", (Field("TunnelOptions", "objects", table=TUNNEL_OPTIONS),))
ROOT = Table(API, (
    Field("RegionId", "any"), Field("VpnConnectionId"),
    Field("Status", enum=("ike_sa_not_established", "ike_sa_established", "ipsec_sa_not_established",
                          "ipsec_sa_established")),
    Field("RemoteCaCertificate", "any"), Field("EnableNatTraversal", "bool", "nat_traversal"),
    Field("CreateTime", "any"), Field("EffectImmediately", "any"), Field("VpnGatewayId", "any"),
    Field("LocalSubnet", "cidrs", "local_subnets", sep=","), Field("RequestId", "any"),
    Field("RemoteSubnet", "cidrs", "remote_subnets", sep=","), Field("CustomerGatewayId", "any"), Field("Name"),
    Field("EnableDpd", "bool"), Field("IkeConfig", "object", table=_ike_table("IkeConfig", False)),
    Field("IpsecConfig", "object", table=_ipsec_table("IpsecConfig", False)),
    Field("VcoHealthCheck", "object", table=HEALTH_CHECK), Field("VpnBgpConfig", "object", table=ALIBABA_BGP),
    Field("AttachType", "any"), Field("NetworkType", "any"), Field("AttachInstanceId", "any"), Field("Spec", "any"),
    Field("State", "any"), Field("ZoneNo", "any"), Field("InternetIp", maskable=True),
    Field("TransitRouterId", "any"), Field("TransitRouterName", "any"), Field("CrossAccountAuthorized", "any"),
    Field("Tags", "any"), Field("TunnelOptionsSpecification", "object", table=SPEC),
    Field("EnableTunnelsBgp", "bool"), Field("ResourceGroupId", "any"), Field("TunnelBandwidth", "any"),
))
TUNNEL_CHOICE = "--tunnel N on the command line, import: {file, tunnel: N} in a scenario; N = TunnelIndex"
NQA_RETRIES_MAX = 100  # the simulator's nqa.retries limit, not an Alibaba one


def _ike(cfg: Doc, out: ImportedPeer) -> None:
    ike: dict[str, Any] = take(cfg, "IkeVersion", "IkeMode").get("ike", {})
    enc = cfg["IkeEncAlg"] or "aes"
    auth = cfg["IkeAuthAlg"] or "md5"
    pfs = cfg["IkePfs"] or "group2"
    ike["proposals"] = [f"{ENCR[enc]}-{AUTH[auth]}-{PFS[pfs]}"]
    life = cfg["IkeLifetime"]
    if life:
        ike["life_time"] = life
    elif life == 0:
        out.notes.append(f"{cfg.where('IkeLifetime')} is 0: no IKE SA lifetime is applied")
    for key, target in (("LocalId", "local_id"), ("RemoteId", "remote_id")):
        value = cfg[key]
        if value is None:
            continue
        if cfg.masked(key):
            out.mask(f"ike.{target}", cfg.where(key), value)
        else:
            ike[target] = value
    out.peer["ike"] = ike
    out.psk(cfg, "Psk")


def _ipsec(cfg: Doc, out: ImportedPeer) -> None:
    enc = cfg["IpsecEncAlg"] or "aes"
    auth = cfg["IpsecAuthAlg"] or "md5"
    pfs = cfg["IpsecPfs"] or "group2"
    proposal = f"{ENCR[enc]}-{AUTH[auth]}" + (f"-{PFS[pfs]}" if pfs != "disabled" else "")
    child: dict[str, Any] = {"proposals": [proposal]}
    life = cfg["IpsecLifetime"]
    if life:
        child["life_time"] = life
    elif life == 0:
        out.notes.append(f"{cfg.where('IpsecLifetime')} is 0: no IPsec SA lifetime is applied")
    out.peer["child"] = child


def import_describe(data: Any, file: str, tunnel: int | None = None) -> ImportedPeer:
    why = other_vendor(data, "alibaba")
    if isinstance(data, dict) and (why or (data.get("IkeConfig") is None
                                           and data.get("TunnelOptionsSpecification") is None)):
        raise ConfigError(file, "", f"no IkeConfig nor TunnelOptionsSpecification object (an Alibaba Cloud "
                          f"DescribeVpnConnection response){why}")
    root = validate(ROOT, data, file)
    out = ImportedPeer("alibaba", file, {"profile": "alibaba-cloud"})
    out.meta.update(name=root["Name"], vpn_connection_id=root["VpnConnectionId"], reported_status=root["Status"])
    for key, target in (("LocalSubnet", "local_subnets"), ("RemoteSubnet", "remote_subnets")):
        if root[key]:
            out.peer[target] = root[key]
    gateway = _chosen_tunnel(root, out, tunnel)
    if gateway is None:  # a single-tunnel connection: the settings are at the top level
        if tunnel is not None:
            raise ConfigError(file, "", f"this connection has no TunnelOptionsSpecification.TunnelOptions (a single "
                              f"tunnel): there is no tunnel to choose ({TUNNEL_CHOICE})")
        gateway, ike_key, ipsec_key = root, "IkeConfig", "IpsecConfig"
    else:
        ike_key, ipsec_key = "TunnelIkeConfig", "TunnelIpsecConfig"
    ike_cfg, ipsec_cfg = gateway.require_obj(ike_key), gateway.require_obj(ipsec_key)
    _ike(ike_cfg, out)
    _ipsec(ipsec_cfg, out)
    _gateway(gateway, out)
    hc = root.obj("VcoHealthCheck")
    if hc is not None:
        _health_check_config(hc, out)
    alibaba_session(root, gateway, out, dual=gateway is not root)
    return out


def _chosen_tunnel(root: Doc, out: ImportedPeer, tunnel: int | None) -> Doc | None:
    """The tunnel of TunnelOptionsSpecification.TunnelOptions to import: the one with TunnelIndex ``tunnel``,
    else the master (Role), else the first; None when the connection lists no tunnels."""
    spec = root.obj("TunnelOptionsSpecification")
    tunnels = spec.objs("TunnelOptions") if spec is not None else []
    if not tunnels:
        return None
    file, where = out.file, "TunnelOptionsSpecification.TunnelOptions"
    if len(tunnels) > 2:
        raise ConfigError(file, where, f"{len(tunnels)} tunnels; a dual-tunnel connection has two (Role master "
                          f"and slave)")
    described = [{"index": t["TunnelIndex"], "role": t["Role"], "state": t["State"], "internet_ip": t["InternetIp"],
                  "tunnel_id": t["TunnelId"]} for t in tunnels]
    out.meta["tunnels"] = described
    if tunnel is None:
        idx = next((i for i, d in enumerate(described) if d["role"] == "master"), 0)
        d = described[idx]
        if len(tunnels) == 1:
            out.notes.append(f"TunnelOptions lists one tunnel (TunnelIndex {d['index']}, Role {d['role']}): "
                             f"importing it")
        else:
            out.notes.append(f"dual-tunnel connection: importing the {d['role'] or 'first'} tunnel (TunnelIndex "
                             f"{d['index']}); choose the other with {TUNNEL_CHOICE}")
    else:
        matches = [i for i, d in enumerate(described) if d["index"] == tunnel]
        if not matches:
            raise ConfigError(file, where, f"no tunnel with TunnelIndex {tunnel}; available: "
                              f"{', '.join(str(d['index']) for d in described)}")
        idx = matches[0]
    out.meta["tunnel"] = described[idx]
    return tunnels[idx]


def _gateway(gateway: Doc, out: ImportedPeer) -> None:
    """InternetIp (the Alibaba gateway's address), EnableDpd and EnableNatTraversal of the connection or tunnel."""
    ip = gateway["InternetIp"]
    if ip is None:
        out.missing["address"] = "the document has no InternetIp"
    elif gateway.masked("InternetIp"):
        out.mask("address", gateway.where("InternetIp"), ip)
    elif ipv4_or_none(ip):
        out.peer["address"] = ip
    else:
        raise ConfigError(out.file, gateway.where("InternetIp"), f"invalid IPv4 address {shown(ip)}")
    if "ike" in out.peer and "psk" not in out.peer["ike"] and "ike.psk" not in out.masked:
        out.missing["ike.psk"] = "the document carries no Psk"
    dpd_on = gateway["EnableDpd"]
    if dpd_on is False:
        out.peer["dpd"] = {"delay": 0}
    elif dpd_on:
        out.missing["dpd.delay"] = ("EnableDpd is true, but Alibaba documents no DPD timers; choose them "
                                    "(e.g. dpd: {delay: 30s}) or turn DPD off with dpd: {delay: 0}")
    out.meta["enable_nat_traversal"] = gateway["EnableNatTraversal"]
    # EnableNatTraversal: NAT-D, UDP 4500 and ESP in UDP (RFC 3947 / 7296 2.23)
    out.peer.update(take(gateway, "EnableNatTraversal"))


def _health_check_config(hc: Doc, out: ImportedPeer) -> None:
    """VcoHealthCheck, checked whether enabled or not; imported as ``nqa:`` when enabled."""
    check = {
        "enable": hc["Enable"], "sip": hc["Sip"], "dip": hc["Dip"],
        "interval": _at_least_one(hc, "Interval", "the time between health check retries in seconds"),
        "retry": _at_least_one(hc, "Retry", "the number of health check retries"),
        "policy": hc["Policy"],
    }
    out.meta["health_check"] = check
    if check["enable"]:
        _health_check(check, hc, out)


def _at_least_one(hc: Doc, key: str, what: str) -> int | None:
    """VcoHealthCheck.Interval / Retry: integers (Alibaba Cloud API: Interval "the time between health check
    retries, unit: seconds", Retry "the number of retries of health check packets", example 3 each). The document
    states no range and no default, so the range is what those meanings allow: a whole number of seconds or of
    retries, at least 1 (and Retry at most the simulator's limit); absent stays absent, never a default."""
    value: int | None = hc[key]
    if value is None:
        return None
    if value < 1:
        raise ConfigError(hc.file, hc.where(key), f"{value} is not allowed; allowed: 1 or more ({key} is {what}; "
                          f"the {API} states no other range)")
    if key == "Retry" and value > NQA_RETRIES_MAX:
        raise ConfigError(hc.file, hc.where(key), f"{value} is outside the range 1-{NQA_RETRIES_MAX} the simulator "
                          f"models (nqa.retries); the {API} documents no upper bound")
    return value


def _health_check(check: dict[str, Any], hc: Doc, out: ImportedPeer) -> None:
    """VcoHealthCheck as the peer's ``nqa:``: probes from Sip (a VPC address) to Dip (a data
    centre address) through the tunnel every Interval s, the path failed after Retry losses,
    Policy revoke_route (Alibaba Cloud API). The API states no default Interval or Retry: an absent one is
    asked for, like a masked value."""
    sip, dip = check["sip"], check["dip"]
    for key, value in (("Sip", sip), ("Dip", dip)):
        if value is not None and not is_masked(value) and ipv4_or_none(value) is None:
            raise ConfigError(out.file, hc.where(key), f"invalid IPv4 address {shown(value)}")
    local, remote = out.peer.get("local_subnets", []), out.peer.get("remote_subnets", [])
    covered = (sip is not None and dip is not None and not is_masked(sip) and not is_masked(dip)
               and any(ipaddress.IPv4Address(sip) in ipaddress.IPv4Network(n) for n in local)
               and any(ipaddress.IPv4Address(dip) in ipaddress.IPv4Network(n) for n in remote))
    if not covered:
        out.notes.append(f"VcoHealthCheck is enabled, but Sip {shown(sip, quote=False)} / Dip "
                         f"{shown(dip, quote=False)} are not a VPC address (LocalSubnet "
                         f"{', '.join(local) or '-'}) and a data centre address (RemoteSubnet "
                         f"{', '.join(remote) or '-'}): its probes could not cross the tunnel, so it is not "
                         "imported (set peers.NAME.nqa yourself)")
        return
    nqa: dict[str, Any] = {"source": sip, "destination": dip, "path": "tunnel", "policy": check["policy"] or "none"}
    for key, target in (("Interval", "interval"), ("Retry", "retries")):
        value = check[key.lower()]
        if value is None:  # the document gives no default for either
            out.missing[f"nqa.{target}"] = (f"VcoHealthCheck is enabled, but {hc.where(key)} is not given and the "
                                            f"{API} documents no default: choose one")
        else:
            nqa[target] = value
    out.peer["nqa"] = nqa
