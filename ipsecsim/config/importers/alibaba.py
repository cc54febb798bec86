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
from .base import Fields, ImportedPeer, ipv4_or_none, is_masked

ENCR = {"aes": "aes128", "aes192": "aes192", "aes256": "aes256", "des": "des", "3des": "3des", "sm4": "sm4"}
AUTH = {"md5": "md5", "sha1": "sha1", "sha256": "sha256", "sha384": "sha384", "sha512": "sha512", "sm3": "sm3"}
PFS = {"group1": "modp768", "group2": "modp1024", "group5": "modp1536", "group14": "modp2048",
       "group24": "modp2048s256"}


def _ike(cfg: Fields, out: ImportedPeer, prefix: str, as_string: bool) -> None:
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
    psk = cfg.string("Psk")
    if psk is not None:
        if is_masked(psk):
            out.masked["ike.psk"] = (cfg.where("Psk"), psk)
        else:
            ike["psk"] = psk
    for key, target in (("LocalId", "local_id"), ("RemoteId", "remote_id")):
        value = cfg.string(key)
        if value is None:
            continue
        if is_masked(value):
            out.masked[f"ike.{target}"] = (cfg.where(key), value)
        else:
            ike[target] = value
    out.peer["ike"] = ike


def _ipsec(cfg: Fields, out: ImportedPeer, as_string: bool) -> None:
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
    out = ImportedPeer("alibaba", file, {"profile": "alibaba-cloud"})
    peer = out.peer
    out.meta.update(name=root.string("Name"), vpn_connection_id=root.string("VpnConnectionId"),
                    reported_status=root.string("Status", enum=("ike_sa_not_established", "ike_sa_established",
                                                                "ipsec_sa_not_established",
                                                                "ipsec_sa_established")))
    for key, target in (("LocalSubnet", "local_subnets"), ("RemoteSubnet", "remote_subnets")):
        nets = root.cidrs(key, sep=",")
        if nets:
            peer[target] = nets
    tunnels_spec = root.obj("TunnelOptionsSpecification")
    options = tunnels_spec.raw("TunnelOptions") if tunnels_spec is not None else None
    if options:
        if not isinstance(options, list):
            raise ConfigError(file, "TunnelOptionsSpecification.TunnelOptions", "expected a list")
        tunnels = [Fields(t, file, f"TunnelOptionsSpecification.TunnelOptions[{i}]") for i, t in enumerate(options)]
        described = []
        for t in tunnels:
            described.append({"index": t.integer("TunnelIndex"), "role": t.string("Role", enum=("master", "slave")),
                              "state": t.string("State"), "internet_ip": t.string("InternetIp"),
                              "tunnel_id": t.string("TunnelId")})
        out.meta["tunnels"] = described
        if tunnel is None:
            chosen = next((t for t, d in zip(tunnels, described, strict=True) if d["role"] == "master"), tunnels[0])
            out.notes.append("dual-tunnel connection: importing the master tunnel "
                             "(choose another with 'tunnel: N', N = TunnelIndex)")
        else:
            matches = [t for t, d in zip(tunnels, described, strict=True) if d["index"] == tunnel]
            if not matches:
                raise ConfigError(file, "TunnelOptionsSpecification.TunnelOptions",
                                  f"no tunnel with TunnelIndex {tunnel}; available: "
                                  f"{', '.join(str(d['index']) for d in described)}")
            chosen = matches[0]
        idx = tunnels.index(chosen)
        out.meta["tunnel"] = described[idx]
        ike_cfg = chosen.obj("TunnelIkeConfig", required=True)
        ipsec_cfg = chosen.obj("TunnelIpsecConfig", required=True)
        assert ike_cfg is not None and ipsec_cfg is not None
        _ike(ike_cfg, out, "", as_string=True)
        _ipsec(ipsec_cfg, out, as_string=True)
        ip = chosen.string("InternetIp")
        dpd_on = chosen.boolean("EnableDpd", as_string=True)
        natt = chosen.boolean("EnableNatTraversal", as_string=True)
        ip_where = chosen.where("InternetIp")
    else:
        if tunnel is not None:
            raise ConfigError(file, "tunnel", "this connection has no TunnelOptions (single tunnel)")
        ike_cfg, ipsec_cfg = root.obj("IkeConfig"), root.obj("IpsecConfig")
        if ike_cfg is not None:
            _ike(ike_cfg, out, "", as_string=False)
        if ipsec_cfg is not None:
            _ipsec(ipsec_cfg, out, as_string=False)
        ip = root.string("InternetIp")
        dpd_on = root.boolean("EnableDpd")
        natt = root.boolean("EnableNatTraversal")
        ip_where = "InternetIp"
    if ip is not None:
        if is_masked(ip):
            out.masked["address"] = (ip_where, ip)
        elif ipv4_or_none(ip):
            peer["address"] = ip
        else:
            raise ConfigError(file, ip_where, f"invalid IPv4 address {ip!r}")
    else:
        out.missing["address"] = "the document has no InternetIp"
    if "ike" in peer and "psk" not in peer["ike"] and "ike.psk" not in out.masked:
        out.missing["ike.psk"] = "the document carries no Psk"
    if dpd_on is False:
        peer["dpd"] = {"delay": 0}
    elif dpd_on:
        out.missing["dpd.delay"] = ("EnableDpd is true, but Alibaba documents no DPD timers; choose them "
                                    "(e.g. dpd: {delay: 30s}) or turn DPD off with dpd: {delay: 0}")
    out.meta["enable_nat_traversal"] = natt
    if natt is not None:
        peer["nat_traversal"] = natt  # EnableNatTraversal: NAT-D, UDP 4500 and ESP in UDP (RFC 3947 / 7296 2.23)
    hc = root.obj("VcoHealthCheck")
    if hc is not None:
        check = {
            "enable": hc.boolean("Enable", as_string=True), "sip": hc.string("Sip"), "dip": hc.string("Dip"),
            "interval": hc.integer("Interval"), "retry": hc.integer("Retry"),
            "policy": hc.string("Policy", enum=("revoke_route",)),
        }
        out.meta["health_check"] = check
        if check["enable"]:
            _health_check(check, hc, out)
    bgp = root.obj("VpnBgpConfig")
    if bgp is not None:
        out.meta["bgp"] = {"enable": bgp.boolean("EnableBgp", as_string=True), "tunnel_cidr": bgp.string("TunnelCidr"),
                           "local_asn": bgp.integer("LocalAsn"), "peer_asn": bgp.integer("PeerAsn")}
    return out


def _health_check(check: dict[str, Any], hc: Fields, out: ImportedPeer) -> None:
    """VcoHealthCheck as the peer's ``nqa:``: probes from Sip (a VPC address) to Dip (a data
    centre address) through the tunnel every Interval s, the path failed after Retry losses,
    Policy revoke_route (Alibaba Cloud API; defaults 3 s and 3 per reference/vendor-defaults.md)."""
    sip, dip = check["sip"], check["dip"]
    for key, value in (("Sip", sip), ("Dip", dip)):
        if value is not None and not is_masked(value) and ipv4_or_none(value) is None:
            raise ConfigError(out.file, hc.where(key), f"invalid IPv4 address {value!r}")
    local, remote = out.peer.get("local_subnets", []), out.peer.get("remote_subnets", [])
    covered = (sip is not None and dip is not None and not is_masked(sip) and not is_masked(dip)
               and any(ipaddress.IPv4Address(sip) in ipaddress.IPv4Network(n) for n in local)
               and any(ipaddress.IPv4Address(dip) in ipaddress.IPv4Network(n) for n in remote))
    if not covered:
        out.notes.append(f"VcoHealthCheck is enabled, but Sip {sip} / Dip {dip} are not a VPC address (LocalSubnet "
                         f"{', '.join(local) or '-'}) and a data centre address (RemoteSubnet "
                         f"{', '.join(remote) or '-'}): its probes could not cross the tunnel, so it is not "
                         "imported (set peers.NAME.nqa yourself)")
        return
    out.peer["nqa"] = {"source": sip, "destination": dip, "interval": check["interval"] or 3,
                       "retries": check["retry"] or 3, "path": "tunnel",
                       "policy": check["policy"] or "none"}
