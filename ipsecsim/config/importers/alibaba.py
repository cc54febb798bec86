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
from .base import Fields, ImportedPeer, ipv4_or_none, is_masked, other_vendor
from .bgp import alibaba_session
from .values import shown

ENCR = {"aes": "aes128", "aes192": "aes192", "aes256": "aes256", "des": "des", "3des": "3des", "sm4": "sm4"}
AUTH = {"md5": "md5", "sha1": "sha1", "sha256": "sha256", "sha384": "sha384", "sha512": "sha512", "sm3": "sm3"}
PFS = {"group1": "modp768", "group2": "modp1024", "group5": "modp1536", "group14": "modp2048",
       "group24": "modp2048s256"}

# The keys each object may carry, as the Alibaba Cloud API DescribeVpnConnection lists them: the request
# parameters (RegionId, VpnConnectionId) and the response elements. TunnelIkeConfig / TunnelIpsecConfig
# list the same keys as IkeConfig / IpsecConfig.
API = "Alibaba Cloud API DescribeVpnConnection"
ROOT_KEYS = ("RegionId", "VpnConnectionId", "Status", "RemoteCaCertificate", "EnableNatTraversal", "CreateTime",
             "EffectImmediately", "VpnGatewayId", "LocalSubnet", "RequestId", "RemoteSubnet", "CustomerGatewayId",
             "Name", "EnableDpd", "IkeConfig", "IpsecConfig", "VcoHealthCheck", "VpnBgpConfig", "AttachType",
             "NetworkType", "AttachInstanceId", "Spec", "State", "ZoneNo", "InternetIp", "TransitRouterId",
             "TransitRouterName", "CrossAccountAuthorized", "Tags", "TunnelOptionsSpecification", "EnableTunnelsBgp",
             "ResourceGroupId", "TunnelBandwidth")
IKE_KEYS = ("RemoteId", "IkeLifetime", "IkeEncAlg", "LocalId", "IkeMode", "IkeVersion", "IkePfs", "Psk", "IkeAuthAlg")
IPSEC_KEYS = ("IpsecAuthAlg", "IpsecLifetime", "IpsecEncAlg", "IpsecPfs")
HEALTH_CHECK_KEYS = ("Status", "Dip", "Interval", "Retry", "Sip", "Enable", "Policy")
SPEC_KEYS = ("TunnelOptions",)
TUNNEL_KEYS = ("TunnelId", "CustomerGatewayId", "EnableDpd", "EnableNatTraversal", "InternetIp", "RemoteCaCertificate",
               "Role", "TunnelIndex", "State", "Status", "TunnelBgpConfig", "TunnelIkeConfig", "TunnelIpsecConfig",
               "ZoneNo")
TUNNEL_CHOICE = "--tunnel N on the command line, import: {file, tunnel: N} in a scenario; N = TunnelIndex"
NQA_RETRIES_MAX = 100  # the simulator's nqa.retries limit, not an Alibaba one


def _ike(cfg: Fields, out: ImportedPeer, prefix: str, as_string: bool) -> None:
    cfg.only(IKE_KEYS, f"{API}, {cfg.path.rsplit('.', 1)[-1]}")
    ike: dict[str, Any] = {}
    version = cfg.string("IkeVersion", enum=("ikev1", "ikev2"))
    if version:
        ike["version"] = 1 if version == "ikev1" else 2
    mode = cfg.string("IkeMode", enum=("main", "aggressive"))
    if mode:
        ike["mode"] = mode
    enc = cfg.string("IkeEncAlg", enum=tuple(ENCR)) or "aes"
    auth = cfg.string("IkeAuthAlg", enum=tuple(AUTH)) or "md5"
    pfs = cfg.string("IkePfs", enum=tuple(PFS)) or "group2"
    ike["proposals"] = [f"{ENCR[enc]}-{AUTH[auth]}-{PFS[pfs]}"]
    life = cfg.integer("IkeLifetime", rng=(0, 86400), as_string=as_string)
    if life:
        ike["life_time"] = life
    elif life == 0:
        out.notes.append(f"{cfg.where('IkeLifetime')} is 0: no IKE SA lifetime is applied")
    for key, target in (("LocalId", "local_id"), ("RemoteId", "remote_id")):
        value = cfg.string(key)
        if value is None:
            continue
        if is_masked(value):
            out.mask(f"ike.{target}", cfg.where(key), value)
        else:
            ike[target] = value
    out.peer["ike"] = ike
    out.psk(cfg, "Psk")


def _ipsec(cfg: Fields, out: ImportedPeer, as_string: bool) -> None:
    cfg.only(IPSEC_KEYS, f"{API}, {cfg.path.rsplit('.', 1)[-1]}")
    enc = cfg.string("IpsecEncAlg", enum=tuple(ENCR)) or "aes"
    auth = cfg.string("IpsecAuthAlg", enum=tuple(AUTH)) or "md5"
    pfs = cfg.string("IpsecPfs", enum=(*PFS, "disabled")) or "group2"
    proposal = f"{ENCR[enc]}-{AUTH[auth]}" + (f"-{PFS[pfs]}" if pfs != "disabled" else "")
    child: dict[str, Any] = {"proposals": [proposal]}
    life = cfg.integer("IpsecLifetime", rng=(0, 86400), as_string=as_string)
    if life:
        child["life_time"] = life
    elif life == 0:
        out.notes.append(f"{cfg.where('IpsecLifetime')} is 0: no IPsec SA lifetime is applied")
    out.peer["child"] = child


def import_describe(data: Any, file: str, tunnel: int | None = None) -> ImportedPeer:
    root = Fields(data, file, "")
    why = other_vendor(data, "alibaba")
    if why or not (root.has("IkeConfig") or root.has("TunnelOptionsSpecification")):
        raise ConfigError(file, "", f"no IkeConfig nor TunnelOptionsSpecification object (an Alibaba Cloud "
                          f"DescribeVpnConnection response){why}")
    root.only(ROOT_KEYS, API)
    out = ImportedPeer("alibaba", file, {"profile": "alibaba-cloud"})
    out.meta.update(name=root.string("Name"), vpn_connection_id=root.string("VpnConnectionId"),
                    reported_status=root.string("Status", enum=("ike_sa_not_established", "ike_sa_established",
                                                                "ipsec_sa_not_established",
                                                                "ipsec_sa_established")))
    for key, target in (("LocalSubnet", "local_subnets"), ("RemoteSubnet", "remote_subnets")):
        nets = root.cidrs(key, sep=",")
        if nets:
            out.peer[target] = nets
    gateway = _chosen_tunnel(root, out, tunnel)
    if gateway is None:  # a single-tunnel connection: the settings are at the top level
        if tunnel is not None:
            raise ConfigError(file, "", f"this connection has no TunnelOptionsSpecification.TunnelOptions (a single "
                              f"tunnel): there is no tunnel to choose ({TUNNEL_CHOICE})")
        gateway, ike_key, ipsec_key, as_string = root, "IkeConfig", "IpsecConfig", False
    else:  # TunnelOptions spell numbers and booleans as strings ("86400", "true")
        ike_key, ipsec_key, as_string = "TunnelIkeConfig", "TunnelIpsecConfig", True
    ike_cfg, ipsec_cfg = gateway.obj(ike_key, required=True), gateway.obj(ipsec_key, required=True)
    assert ike_cfg is not None and ipsec_cfg is not None
    _ike(ike_cfg, out, "", as_string=as_string)
    _ipsec(ipsec_cfg, out, as_string=as_string)
    _gateway(gateway, out, as_string)
    hc = root.obj("VcoHealthCheck")
    if hc is not None:
        _health_check_config(hc, out)
    alibaba_session(root, gateway, out, dual=gateway is not root)
    return out


def _chosen_tunnel(root: Fields, out: ImportedPeer, tunnel: int | None) -> Fields | None:
    """The tunnel of TunnelOptionsSpecification.TunnelOptions to import: the one with TunnelIndex ``tunnel``,
    else the master (Role), else the first; None when the connection lists no tunnels."""
    spec = root.obj("TunnelOptionsSpecification")
    if spec is not None:
        spec.only(SPEC_KEYS, f"{API}, TunnelOptionsSpecification")
    options = spec.raw("TunnelOptions") if spec is not None else None
    if not options:
        return None
    file, where = out.file, "TunnelOptionsSpecification.TunnelOptions"
    if not isinstance(options, list):
        raise ConfigError(file, where, "expected a list")
    if len(options) > 2:
        raise ConfigError(file, where, f"{len(options)} tunnels; a dual-tunnel connection has two (Role master "
                          f"and slave)")
    tunnels = [Fields(t, file, f"{where}[{i}]") for i, t in enumerate(options)]
    described = []
    for t in tunnels:
        t.only(TUNNEL_KEYS, f"{API}, TunnelOptions")
        for key, keys in (("TunnelIkeConfig", IKE_KEYS), ("TunnelIpsecConfig", IPSEC_KEYS)):
            sub = t.obj(key)
            if sub is not None:
                sub.only(keys, f"{API}, {key}")
        described.append({"index": t.integer("TunnelIndex"), "role": t.string("Role", enum=("master", "slave")),
                          "state": t.string("State"), "internet_ip": t.string("InternetIp"),
                          "tunnel_id": t.string("TunnelId")})
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


def _gateway(gateway: Fields, out: ImportedPeer, as_string: bool) -> None:
    """InternetIp (the Alibaba gateway's address), EnableDpd and EnableNatTraversal of the connection or tunnel."""
    ip = gateway.string("InternetIp")
    if ip is None:
        out.missing["address"] = "the document has no InternetIp"
    elif is_masked(ip):
        out.mask("address", gateway.where("InternetIp"), ip)
    elif ipv4_or_none(ip):
        out.peer["address"] = ip
    else:
        raise ConfigError(out.file, gateway.where("InternetIp"), f"invalid IPv4 address {shown(ip)}")
    if "ike" in out.peer and "psk" not in out.peer["ike"] and "ike.psk" not in out.masked:
        out.missing["ike.psk"] = "the document carries no Psk"
    dpd_on = gateway.boolean("EnableDpd", as_string=as_string)
    if dpd_on is False:
        out.peer["dpd"] = {"delay": 0}
    elif dpd_on:
        out.missing["dpd.delay"] = ("EnableDpd is true, but Alibaba documents no DPD timers; choose them "
                                    "(e.g. dpd: {delay: 30s}) or turn DPD off with dpd: {delay: 0}")
    natt = gateway.boolean("EnableNatTraversal", as_string=as_string)
    out.meta["enable_nat_traversal"] = natt
    if natt is not None:
        out.peer["nat_traversal"] = natt  # EnableNatTraversal: NAT-D, UDP 4500 and ESP in UDP (RFC 3947 / 7296 2.23)


def _health_check_config(hc: Fields, out: ImportedPeer) -> None:
    """VcoHealthCheck, checked whether enabled or not; imported as ``nqa:`` when enabled."""
    hc.only(HEALTH_CHECK_KEYS, f"{API}, VcoHealthCheck")
    check = {
        "enable": hc.boolean("Enable", as_string=True), "sip": hc.string("Sip"), "dip": hc.string("Dip"),
        "interval": _at_least_one(hc, "Interval", "the time between health check retries in seconds"),
        "retry": _at_least_one(hc, "Retry", "the number of health check retries"),
        "policy": hc.string("Policy", enum=("revoke_route",)),
    }
    out.meta["health_check"] = check
    if check["enable"]:
        _health_check(check, hc, out)


def _at_least_one(hc: Fields, key: str, what: str) -> int | None:
    """VcoHealthCheck.Interval / Retry: integers (Alibaba Cloud API: Interval "the time between health check
    retries, unit: seconds", Retry "the number of retries of health check packets", example 3 each). The document
    states no range and no default, so the range is what those meanings allow: a whole number of seconds or of
    retries, at least 1 (and Retry at most the simulator's limit); absent stays absent, never a default."""
    value = hc.integer(key)
    if value is None:
        return None
    if value < 1:
        raise ConfigError(hc.file, hc.where(key), f"{value} is not allowed; allowed: 1 or more ({key} is {what}; "
                          f"the {API} states no other range)")
    if key == "Retry" and value > NQA_RETRIES_MAX:
        raise ConfigError(hc.file, hc.where(key), f"{value} is outside the range 1-{NQA_RETRIES_MAX} the simulator "
                          f"models (nqa.retries); the {API} documents no upper bound")
    return value


def _health_check(check: dict[str, Any], hc: Fields, out: ImportedPeer) -> None:
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
