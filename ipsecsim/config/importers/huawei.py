"""Huawei Cloud VPN ``vpn_connection`` (request or response body) as the cloud-side peer.

Field names, enums and ranges follow the API tables in the Huawei Cloud VPN API (tables 10-14:
ResponseVpnConnection, PolicyRule, IkePolicy, Dpd, IpsecPolicy). The connection describes
the cloud gateway's side: ``vgw_ip`` / ``local_id`` is its address, ``peer_id`` the customer
gateway's, ``peer_subnets`` (or the policy rules' destinations) the customer's subnets.
"""

from __future__ import annotations

from typing import Any

from ...errors import ConfigError
from .base import Fields, ImportedPeer, ipv4_or_none, is_masked, other_vendor
from .bgp import huawei_bgp
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

# The keys each object may carry: the Huawei Cloud API tables of the response (table 9 body, table 10
# ResponseVpnConnection, 11 PolicyRule, 12 IkePolicy, 13 Dpd, 14 IpsecPolicy) and of the request
# (CreateVpnConnection: vpn_connection is a CreateVpnConnectionRequestBodyContent, which adds psk and
# enable_hub; its ikepolicy / ipsecpolicy / policy_rules are the same IkePolicy, IpsecPolicy, PolicyRule).
API = "Huawei Cloud API"
BODY_KEYS = ("vpn_connection", "request_id")
CONNECTION_KEYS = ("id", "name", "vgw_id", "vgw_ip", "style", "cgw_id", "peer_subnets", "peer_subnets_v6",
                   "tunnel_local_address", "tunnel_peer_address", "enable_nqa", "enable_hub", "psk", "policy_rules",
                   "policy_rules_v6", "ikepolicy", "ipsecpolicy", "created_at", "updated_at", "enterprise_project_id",
                   "ha_role", "tags")
POLICY_RULE_KEYS = ("rule_index", "source", "destination")
IKE_POLICY_KEYS = ("ike_version", "phase1_negotiation_mode", "authentication_algorithm", "encryption_algorithm",
                   "dh_group", "authentication_method", "lifetime_seconds", "local_id_type", "local_id",
                   "peer_id_type", "peer_id", "dpd")
DPD_KEYS = ("timeout", "interval", "msg")
IPSEC_POLICY_KEYS = ("authentication_algorithm", "encryption_algorithm", "pfs", "transform_protocol",
                     "lifetime_seconds", "encapsulation_mode")
UUID_PATTERN = r"[0-9A-Za-z]{8}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{12}"


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


def connection(data: Any, file: str) -> Fields:
    """The ``vpn_connection`` object of a request or response body; any other document is refused,
    saying what it is when it is recognisable."""
    root = Fields(data, file, "")
    conn = root.obj("vpn_connection")
    if conn is None:
        why = other_vendor(data, "huawei")
        if not why and root.has("vpn_connections"):
            why = ": this lists several connections (vpn_connections); give each in a file of its own as " \
                  '{"vpn_connection": {...}}'
        elif not why and any(k in root.data for k in CONNECTION_KEYS):
            why = ': the connection\'s fields are at the top level; wrap them as {"vpn_connection": {...}}'
        raise ConfigError(file, "", f"no vpn_connection object (a Huawei Cloud VPN connection request or "
                          f"response){why}")
    root.only(BODY_KEYS, f"{API}, request / response body")
    conn.only(CONNECTION_KEYS, f"{API}, ResponseVpnConnection and CreateVpnConnectionRequestBodyContent")
    return conn


def import_vpn_connection(data: Any, file: str) -> ImportedPeer:
    conn = connection(data, file)
    out = ImportedPeer("huawei", file, {"profile": "huawei-cloud"})
    name = conn.string("name", pattern=NAME_PATTERN,
                       pattern_help="1-64 characters: digits, letters, Chinese, _ and -")
    style = conn.string("style", enum=STYLES) or "POLICY"
    out.meta.update(name=name, style=style, ha_role=conn.string("ha_role", enum=("master", "slave")) or "master",
                    vgw_id=conn.string("vgw_id"), cgw_id=conn.string("cgw_id"), id=conn.string("id"))
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


def _ike_policy(ike: Fields, out: ImportedPeer) -> None:
    """IkePolicy (Huawei Cloud API table 12) as ``ike:`` and ``dpd:``; the identities as ``ike.local_id`` /
    ``remote_id`` and, for ip identities, the gateways' addresses."""
    ike.only(IKE_POLICY_KEYS, f"{API}, IkePolicy")
    ike_out: dict[str, Any] = {}
    version = ike.string("ike_version", enum=("v1", "v2"))
    if version:
        ike_out["version"] = int(version[1])
    mode = ike.string("phase1_negotiation_mode", enum=("main", "aggressive"))
    if mode:
        if version == "v2":
            raise ConfigError(ike.file, ike.where("phase1_negotiation_mode"),
                              "applies to ike_version v1 only (the API returns it only for v1)")
        ike_out["mode"] = mode
    auth = ike.string("authentication_algorithm", enum=AUTH) or "sha2-256"
    encr = ike.string("encryption_algorithm", enum=ENCR) or "aes-128"
    if version == "v1" and "gcm" in encr:
        # IKEv1 phase 1 encrypts with CBC ciphers only (RFC 2409 Appendix A, RFC 3602); GCM for an IKE SA
        # is IKEv2's (RFC 5282)
        raise ConfigError(ike.file, ike.where("encryption_algorithm"), f"{encr} is not available with ike_version "
                          f"v1 (IKEv1 phase 1 has CBC ciphers only, RFC 2409 Appendix A); allowed with v1: "
                          f"{', '.join(e for e in ENCR if 'gcm' not in e)}")
    dh = ike.string("dh_group", enum=DH) or "group15"
    ike_out["proposals"] = [ike_proposal(encr, auth, dh)]
    method = ike.string("authentication_method", enum=("pre-share", "digital-envelope-v2"))
    if method == "digital-envelope-v2":
        raise ConfigError(ike.file, ike.where("authentication_method"),
                          "digital-envelope-v2 (GM digital envelope) is not simulated; use pre-share")
    life = ike.integer("lifetime_seconds", rng=(60, 604800))
    if life is not None:
        ike_out["life_time"] = life
    for side, key in (("local", "local_id"), ("remote", "peer_id")):
        _identity(ike, out, ike_out, side, key)
    local, remote = out.peer.get("address"), out.peer.get("remote_address")
    if local is not None and local == remote:
        raise ConfigError(ike.file, ike.where("peer_id"), f"{remote} is also local_id: the VPN gateway and the "
                          f"customer gateway are the two ends of the tunnel; allowed: another address than local_id")
    dpd = ike.obj("dpd")
    if dpd is not None:
        _dpd(dpd, out)
    out.peer["ike"] = ike_out


def _identity(ike: Fields, out: ImportedPeer, ike_out: dict[str, Any], side: str, key: str) -> None:
    """local_id / peer_id with their _type (ip or fqdn). An ip identity is the gateway's address (a masked one
    leaves the address unknown; the identity then follows the address the scenario gives); an fqdn identity
    is the ID itself, a masked one a placeholder to replace."""
    id_type = ike.string(f"{key}_type", enum=("ip", "fqdn"))
    value = ike.string(key)
    if value is None:
        return
    if id_type == "ip":
        addr_key = "address" if side == "local" else "remote_address"
        if is_masked(value):
            out.mask(addr_key, ike.where(key), value, first=True)
        elif ipv4_or_none(value):
            out.peer[addr_key] = value
            ike_out[f"{side}_id"] = value
        else:
            raise ConfigError(ike.file, ike.where(key), f"{key}_type is ip but {shown(value)} is not an IPv4 "
                              f"address; allowed: a dotted-decimal IPv4 address (e.g. 192.168.45.7)")
    elif is_masked(value):
        out.mask(f"ike.{side}_id", ike.where(key), value)
    else:
        ike_out[f"{side}_id"] = f"@{value}"


def _dpd(dpd: Fields, out: ImportedPeer) -> None:
    """Dpd (table 13): interval is the idle time, timeout the retransmission interval."""
    dpd.only(DPD_KEYS, f"{API}, Dpd")
    d: dict[str, Any] = {}
    timeout = dpd.integer("timeout", rng=(2, 60))
    interval = dpd.integer("interval", rng=(10, 3600))
    msg = dpd.string("msg", enum=("seq-hash-notify", "seq-notify-hash"))
    if interval is not None:
        d["delay"] = interval
    if timeout is not None:
        d["retry_interval"] = timeout
    if msg is not None:
        d["msg_order"] = msg
    out.peer["dpd"] = d


def _ipsec_policy(ipsec: Fields, out: ImportedPeer) -> None:
    """IpsecPolicy (table 14) as ``child:``."""
    ipsec.only(IPSEC_POLICY_KEYS, f"{API}, IpsecPolicy")
    auth = ipsec.string("authentication_algorithm", enum=AUTH) or "sha2-256"
    encr = ipsec.string("encryption_algorithm", enum=ENCR) or "aes-128"
    pfs = ipsec.string("pfs", enum=(*DH, "disable"))
    ipsec.string("transform_protocol", enum=("esp",))
    ipsec.string("encapsulation_mode", enum=("tunnel",))
    child: dict[str, Any] = {"proposals": [esp_proposal(encr, auth, pfs if pfs is not None else "group15")]}
    life = ipsec.integer("lifetime_seconds", rng=(30, 604800))
    if life is not None:
        child["life_time"] = life
    out.peer["child"] = child


def _gateway_address(conn: Fields, out: ImportedPeer) -> None:
    """vgw_ip: the ID of the gateway's EIP (a UUID) or its private IPv4 address."""
    peer = out.peer
    vgw_ip = conn.string("vgw_ip")
    if vgw_ip is not None and "address" not in peer and "address" not in out.masked:
        if ipv4_or_none(vgw_ip):
            if vgw_ip == peer.get("remote_address"):
                raise ConfigError(out.file, conn.where("vgw_ip"), f"{vgw_ip} is also ikepolicy.peer_id: the VPN "
                                  f"gateway and the customer gateway are the two ends of the tunnel")
            peer["address"] = vgw_ip
        elif is_masked(vgw_ip):
            out.mask("address", conn.where("vgw_ip"), vgw_ip)
    if "address" not in peer and "address" not in out.masked:
        out.missing["address"] = "vgw_ip is the ID of an EIP, not an address"


def _subnets(conn: Fields, out: ImportedPeer, style: str) -> None:
    """The traffic selectors: the policy rules (POLICY), any-to-any (route mode: STATIC, BGP) or peer_subnets."""
    peer = out.peer
    peer_subnets = conn.cidrs("peer_subnets")
    rules = conn.raw("policy_rules")
    if style in ("POLICY", "POLICY-TEMPLATE") and rules:
        if not isinstance(rules, list):
            raise ConfigError(out.file, conn.where("policy_rules"), f"expected a list, got {shown(rules)}")
        sources: list[str] = []
        dests: list[str] = []
        for i, r in enumerate(rules):
            rule = Fields(r, out.file, f"{conn.where('policy_rules')}[{i}]")
            rule.only(POLICY_RULE_KEYS, f"{API}, PolicyRule")
            rule.integer("rule_index", rng=(0, 50))
            src = rule.cidrs("source", value=[rule.string("source", required=True)])
            dst_raw = rule.raw("destination")
            if isinstance(dst_raw, list) and len(dst_raw) > 50:
                raise ConfigError(out.file, rule.where("destination"), f"{len(dst_raw)} entries; at most 50")
            dst = rule.cidrs("destination")
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


def _nqa(conn: Fields, out: ImportedPeer, style: str) -> None:
    """enable_nqa (STATIC only): the connection monitor (Huawei Cloud API), an NQA test of type gateway,
    ICMP from the VPN gateway's address to the customer gateway's; its interval and retries are not
    documented."""
    nqa = conn.boolean("enable_nqa")
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
