"""Huawei Cloud VPN ``vpn_connection`` (request or response body) as the cloud-side peer.

Field names, enums and ranges follow the API tables in the Huawei Cloud VPN API (tables 10-14:
ResponseVpnConnection, PolicyRule, IkePolicy, Dpd, IpsecPolicy). The connection describes
the cloud gateway's side: ``vgw_ip`` / ``local_id`` is its address, ``peer_id`` the customer
gateway's, ``peer_subnets`` (or the policy rules' destinations) the customer's subnets.
"""

from __future__ import annotations

from typing import Any

from ...errors import ConfigError
from .base import ImportedPeer, ipv4_or_none, other_vendor
from .bgp import huawei_bgp
from .schema import Doc, Field, Table, subnets, take, validate
from .values import shown

AUTH = ("sha2-512", "sha2-384", "sha2-256", "sha1", "md5", "sm3")
ENCR = ("aes-256-gcm-16", "aes-128-gcm-16", "aes-256", "aes-192", "aes-128", "3des", "sm4")
DH = ("group1", "group2", "group5", "group14", "group15", "group16", "group19", "group20", "group21")
STYLES = ("POLICY", "STATIC", "BGP", "POLICY-TEMPLATE")

ENCR_KEYWORD = {"aes-256-gcm-16": "aes256gcm16", "aes-128-gcm-16": "aes128gcm16", "aes-256": "aes256",
                "aes-192": "aes192", "aes-128": "aes128", "3des": "3des", "sm4": "sm4"}
AUTH_KEYWORD = {"sha2-512": "sha512", "sha2-384": "sha384", "sha2-256": "sha256", "sha1": "sha1", "md5": "md5",
                "sm3": "sm3"}
DH_KEYWORD = {"group1": "modp768", "group2": "modp1024", "group5": "modp1536", "group14": "modp2048",
              "group15": "modp3072", "group16": "modp4096", "group19": "ecp256", "group20": "ecp384",
              "group21": "ecp521"}
NAME_PATTERN = r"[0-9A-Za-z\u4e00-\u9fa5_-]{1,64}"

# The objects of the Huawei Cloud API, field by field: the response (table 9 body, table 10
# ResponseVpnConnection, 11 PolicyRule, 12 IkePolicy, 13 Dpd, 14 IpsecPolicy) and the request
# (CreateVpnConnection: vpn_connection is a CreateVpnConnectionRequestBodyContent, which adds psk and
# enable_hub; its ikepolicy / ipsecpolicy / policy_rules are the same IkePolicy, IpsecPolicy, PolicyRule).
# ``any``: documented, not used by the import.
API = "Huawei Cloud API"
UUID_PATTERN = r"[0-9A-Za-z]{8}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{12}"
DPD = Table(f"{API}, Dpd", (
    Field("timeout", "int", "dpd.retry_interval", range=(2, 60)),
    Field("interval", "int", "dpd.delay", range=(10, 3600)),
    Field("msg", "str", "dpd.msg_order", enum=("seq-hash-notify", "seq-notify-hash")),
))
"""Dpd (table 13): interval is the idle time, timeout the retransmission interval."""
IKE_POLICY = Table(f"{API}, IkePolicy", (
    Field("ike_version", "str", "ike.version", lambda v: int(v[1]), enum=("v1", "v2")),
    Field("phase1_negotiation_mode", "str", "ike.mode", enum=("main", "aggressive")),
    Field("authentication_algorithm", enum=AUTH),
    Field("encryption_algorithm", enum=ENCR),
    Field("dh_group", enum=DH),
    Field("authentication_method", enum=("pre-share", "digital-envelope-v2")),
    Field("lifetime_seconds", "int", "ike.life_time", range=(60, 604800)),
    Field("local_id_type", enum=("ip", "fqdn")),
    Field("local_id", maskable=True),
    Field("peer_id_type", enum=("ip", "fqdn")),
    Field("peer_id", maskable=True),
    Field("dpd", "object", table=DPD),
))
IPSEC_POLICY = Table(f"{API}, IpsecPolicy", (
    Field("authentication_algorithm", enum=AUTH),
    Field("encryption_algorithm", enum=ENCR),
    Field("pfs", enum=(*DH, "disable")),
    Field("transform_protocol", enum=("esp",)),
    Field("lifetime_seconds", "int", "child.life_time", range=(30, 604800)),
    Field("encapsulation_mode", enum=("tunnel",)),
))
POLICY_RULE = Table(f"{API}, PolicyRule", (
    Field("rule_index", "int", range=(0, 50)),
    Field("source"),
    Field("destination", "any"),
))
CONNECTION = Table(f"{API}, ResponseVpnConnection and CreateVpnConnectionRequestBodyContent", (
    Field("id"), Field("name", pattern=NAME_PATTERN, pattern_help="1-64 characters: digits, letters, Chinese, _ and -"),
    Field("vgw_id"), Field("vgw_ip", maskable=True), Field("style", enum=STYLES), Field("cgw_id"),
    Field("peer_subnets", "cidrs"), Field("peer_subnets_v6", "any"),
    Field("tunnel_local_address"), Field("tunnel_peer_address"), Field("enable_nqa", "bool"),
    Field("enable_hub", "any"), Field("psk", maskable=True), Field("policy_rules", "objects", table=POLICY_RULE),
    Field("policy_rules_v6", "any"), Field("ikepolicy", "object", table=IKE_POLICY),
    Field("ipsecpolicy", "object", table=IPSEC_POLICY), Field("created_at", "any"), Field("updated_at", "any"),
    Field("enterprise_project_id", "any"), Field("ha_role", enum=("master", "slave")), Field("tags", "any"),
))
BODY = Table(f"{API}, request / response body", (
    Field("vpn_connection", "object", table=CONNECTION), Field("request_id", "any"),
))
CONNECTION_KEYS = CONNECTION.keys


def ike_proposal(encr: str, auth: str, dh: str) -> str:
    e, a = ENCR_KEYWORD[encr], AUTH_KEYWORD[auth]
    if "gcm" in e:  # AEAD: the authentication algorithm is the PRF
        return f"{e}-prf{a}-{DH_KEYWORD[dh]}"
    return f"{e}-{a}-{DH_KEYWORD[dh]}"


def esp_proposal(encr: str, auth: str, pfs: str | None) -> str:
    e = ENCR_KEYWORD[encr]
    parts = [e] if "gcm" in e else [e, AUTH_KEYWORD[auth]]
    if pfs and pfs != "disable":
        parts.append(DH_KEYWORD[pfs])
    return "-".join(parts)


def connection(data: Any, file: str) -> Doc:
    """The ``vpn_connection`` object of a request or response body, validated; any other document is
    refused, saying what it is when it is recognisable."""
    if isinstance(data, dict) and data.get("vpn_connection") is None:
        why = other_vendor(data, "huawei")
        if not why and data.get("vpn_connections") is not None:
            why = ": this lists several connections (vpn_connections); give each in a file of its own as " \
                  '{"vpn_connection": {...}}'
        elif not why and any(k in data for k in CONNECTION_KEYS):
            why = ': the connection\'s fields are at the top level; wrap them as {"vpn_connection": {...}}'
        raise ConfigError(file, "", f"no vpn_connection object (a Huawei Cloud VPN connection request or "
                          f"response){why}")
    return validate(BODY, data, file).require_obj("vpn_connection")


def import_vpn_connection(data: Any, file: str) -> ImportedPeer:
    conn = connection(data, file)
    out = ImportedPeer("huawei", file, {"profile": "huawei-cloud"})
    style = conn["style"] or "POLICY"
    out.meta.update(name=conn["name"], style=style, ha_role=conn["ha_role"] or "master",
                    vgw_id=conn["vgw_id"], cgw_id=conn["cgw_id"], id=conn["id"])
    ike = conn.obj("ikepolicy")
    if ike is not None:
        _ike_policy(ike, out)
    ipsec = conn.obj("ipsecpolicy")
    if ipsec is not None:
        _ipsec_policy(ipsec, out)
    out.psk(conn, "psk")
    if "ike.psk" not in out.masked and "psk" not in out.peer.get("ike", {}):
        out.missing["ike.psk"] = "the vpn_connection response does not carry the pre-shared key"
    _gateway_address(conn, out)
    _subnets(conn, out, style)
    if conn.has("enable_nqa"):
        _nqa(conn, out, style)
    if style == "BGP":
        huawei_bgp(conn, out)
    for key in ("tunnel_local_address", "tunnel_peer_address"):
        if conn.has(key) and style not in ("STATIC", "BGP"):
            out.notes.append(f"{key} is ignored: it applies to STATIC and BGP connections only")
    return out


def _ike_policy(ike: Doc, out: ImportedPeer) -> None:
    """IkePolicy (Huawei Cloud API table 12) as ``ike:`` and ``dpd:``; the identities as ``ike.local_id`` /
    ``remote_id`` and, for ip identities, the gateways' addresses."""
    ike_out: dict[str, Any] = take(ike, "ike_version", "phase1_negotiation_mode").get("ike", {})
    version = ike["ike_version"]
    if ike["phase1_negotiation_mode"] and version == "v2":
        raise ConfigError(ike.file, ike.where("phase1_negotiation_mode"),
                          "applies to ike_version v1 only (the API returns it only for v1)")
    auth = ike["authentication_algorithm"] or "sha2-256"
    encr = ike["encryption_algorithm"] or "aes-128"
    if version == "v1" and "gcm" in encr:
        # IKEv1 phase 1 encrypts with CBC ciphers only (RFC 2409 Appendix A, RFC 3602); GCM for an IKE SA
        # is IKEv2's (RFC 5282)
        raise ConfigError(ike.file, ike.where("encryption_algorithm"), f"{encr} is not available with ike_version "
                          f"v1 (IKEv1 phase 1 has CBC ciphers only, RFC 2409 Appendix A); allowed with v1: "
                          f"{', '.join(e for e in ENCR if 'gcm' not in e)}")
    dh = ike["dh_group"] or "group15"
    ike_out["proposals"] = [ike_proposal(encr, auth, dh)]
    if ike["authentication_method"] == "digital-envelope-v2":
        raise ConfigError(ike.file, ike.where("authentication_method"),
                          "digital-envelope-v2 (GM digital envelope) is not simulated; use pre-share")
    ike_out.update(take(ike, "lifetime_seconds").get("ike", {}))
    for side, key in (("local", "local_id"), ("remote", "peer_id")):
        _identity(ike, out, ike_out, side, key)
    local, remote = out.peer.get("address"), out.peer.get("remote_address")
    if local is not None and local == remote:
        raise ConfigError(ike.file, ike.where("peer_id"), f"{remote} is also local_id: the VPN gateway and the "
                          f"customer gateway are the two ends of the tunnel; allowed: another address than local_id")
    dpd = ike.obj("dpd")
    if dpd is not None:
        out.peer["dpd"] = take(dpd, "interval", "timeout", "msg").get("dpd", {})
    out.peer["ike"] = ike_out


def _identity(ike: Doc, out: ImportedPeer, ike_out: dict[str, Any], side: str, key: str) -> None:
    """local_id / peer_id with their _type (ip or fqdn). An ip identity is the gateway's address (a masked one
    leaves the address unknown; the identity then follows the address the scenario gives); an fqdn identity
    is the ID itself, a masked one a placeholder to replace."""
    id_type = ike[f"{key}_type"]
    value = ike[key]
    if value is None:
        return
    if id_type == "ip":
        addr_key = "address" if side == "local" else "remote_address"
        if ike.masked(key):
            out.mask(addr_key, ike.where(key), value, first=True)
        elif ipv4_or_none(value):
            out.peer[addr_key] = value
            ike_out[f"{side}_id"] = value
        else:
            raise ConfigError(ike.file, ike.where(key), f"{key}_type is ip but {shown(value)} is not an IPv4 "
                              f"address; allowed: a dotted-decimal IPv4 address (e.g. 192.168.45.7)")
    elif ike.masked(key):
        out.mask(f"ike.{side}_id", ike.where(key), value)
    else:
        ike_out[f"{side}_id"] = f"@{value}"


def _ipsec_policy(ipsec: Doc, out: ImportedPeer) -> None:
    """IpsecPolicy (table 14) as ``child:``."""
    auth = ipsec["authentication_algorithm"] or "sha2-256"
    encr = ipsec["encryption_algorithm"] or "aes-128"
    pfs = ipsec["pfs"]
    child: dict[str, Any] = {"proposals": [esp_proposal(encr, auth, pfs if pfs is not None else "group15")]}
    child.update(take(ipsec, "lifetime_seconds").get("child", {}))
    out.peer["child"] = child


def _gateway_address(conn: Doc, out: ImportedPeer) -> None:
    """vgw_ip: the ID of the gateway's EIP (a UUID) or its private IPv4 address."""
    peer = out.peer
    vgw_ip = conn["vgw_ip"]
    if vgw_ip is not None and "address" not in peer and "address" not in out.masked:
        if ipv4_or_none(vgw_ip):
            if vgw_ip == peer.get("remote_address"):
                raise ConfigError(out.file, conn.where("vgw_ip"), f"{vgw_ip} is also ikepolicy.peer_id: the VPN "
                                  f"gateway and the customer gateway are the two ends of the tunnel")
            peer["address"] = vgw_ip
        elif conn.masked("vgw_ip"):
            out.mask("address", conn.where("vgw_ip"), vgw_ip)
    if "address" not in peer and "address" not in out.masked:
        out.missing["address"] = "vgw_ip is the ID of an EIP, not an address"


def _subnets(conn: Doc, out: ImportedPeer, style: str) -> None:
    """The traffic selectors: the policy rules (POLICY), any-to-any (route mode: STATIC, BGP) or peer_subnets."""
    peer = out.peer
    peer_subnets = conn["peer_subnets"]
    rules = conn.objs("policy_rules")
    if style in ("POLICY", "POLICY-TEMPLATE") and rules:
        sources: list[str] = []
        dests: list[str] = []
        for rule in rules:
            src = subnets(rule, "source", [rule.require("source")])
            dst_raw = rule["destination"]
            if isinstance(dst_raw, list) and len(dst_raw) > 50:
                raise ConfigError(out.file, rule.where("destination"), f"{len(dst_raw)} entries; at most 50")
            dst = subnets(rule, "destination", dst_raw) if dst_raw is not None else None
            if not dst:  # PolicyRule.destination: the destination subnets of the rule; a rule protects some
                raise ConfigError(out.file, rule.where("destination"), "required, but missing or empty; allowed: "
                                  "1-50 destination subnets (e.g. [\"192.168.52.0/24\"])")
            sources += [s for s in src or [] if s not in sources]
            dests += [d for d in dst if d not in dests]
        peer["local_subnets"] = sources
        peer["remote_subnets"] = dests
        if len(rules) > 1:
            out.notes.append(f"{len(rules)} policy rules are negotiated as one CHILD SA with all their subnets")
    elif style in ("STATIC", "BGP"):
        # Route mode: a tunnel interface (tunnel_local_address / tunnel_peer_address) carries
        # whatever is routed into it; the negotiated interesting flow is any-to-any.
        peer["local_subnets"] = ["0.0.0.0/0"]
        peer["remote_subnets"] = ["0.0.0.0/0"]
        out.notes.append(f"{style} (route mode): traffic selectors 0.0.0.0/0 === 0.0.0.0/0; peer_subnets "
                         f"{', '.join(peer_subnets or [])} are routes into the tunnel")
        out.meta["routes"] = peer_subnets or []
    else:
        if peer_subnets:
            peer["remote_subnets"] = peer_subnets
        out.missing["local_subnets"] = "the cloud-side subnets belong to the VPN gateway, not to the connection"


def _nqa(conn: Doc, out: ImportedPeer, style: str) -> None:
    """enable_nqa (STATIC only): the connection monitor (Huawei Cloud API), an NQA test of type gateway,
    ICMP from the VPN gateway's address to the customer gateway's; its interval and retries are not
    documented."""
    nqa = conn["enable_nqa"]
    if style != "STATIC":
        raise ConfigError(out.file, conn.where("enable_nqa"), "applies to style STATIC only")
    out.meta["enable_nqa"] = nqa
    if not nqa:
        return
    out.peer["nqa"] = {"path": "underlay"}
    for key, target in (("address", "source"), ("remote_address", "destination")):
        if key in out.peer:
            out.peer["nqa"][target] = out.peer[key]
        else:
            out.missing[f"nqa.{target}"] = f"the monitor uses the gateway's {key.replace('_', ' ')}, which " \
                                           "the document does not give in clear"
    for target in ("interval", "retries"):
        out.missing[f"nqa.{target}"] = ("enable_nqa is true, but Huawei Cloud documents no probe "
                                        f"{target} for its connection monitor: choose one")
