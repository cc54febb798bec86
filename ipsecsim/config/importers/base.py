"""Shared pieces of the vendor importers: the imported peer, vendor detection and masked values."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...errors import ConfigError
from .values import shown

if TYPE_CHECKING:
    from .schema import Doc

_MASK = re.compile(r"\*{2,}|(?<![0-9A-Za-z])XX(?![0-9A-Za-z])")


HUAWEI_MARKERS = ("vpn_connection", "vpn_connections", "ikepolicy", "ipsecpolicy")
"""Top-level keys of a Huawei Cloud document (the body, a list of connections, or a bare connection)."""
ALIBABA_MARKERS = ("IkeConfig", "IpsecConfig", "VpnConnectionId", "TunnelOptionsSpecification")
"""Top-level keys of an Alibaba Cloud DescribeVpnConnection response."""
VENDOR_NAMES = {"huawei": "a Huawei Cloud vpn_connection document", "alibaba": "an Alibaba Cloud DescribeVpnConnection "
                "response"}


def detect(data: Any) -> str | None:
    """The vendor whose document ``data`` looks like, or None."""
    if isinstance(data, dict):
        if any(k in data for k in HUAWEI_MARKERS):
            return "huawei"
        if any(k in data for k in ALIBABA_MARKERS):
            return "alibaba"
    return None


def other_vendor(data: Any, vendor: str) -> str:
    """'' or why ``data`` is the other vendor's document, with how to import it instead."""
    found = detect(data)
    if found is None or found == vendor:
        return ""
    return (f": this is {VENDOR_NAMES[found]}; import it as {found} (ipsecsim import {found} FILE, or "
            f"import: {{file: FILE, vendor: {found}}} in a scenario)")


def is_masked(value: Any) -> bool:
    """Example values in vendor documents hide digits: 10.***.***.134, 47.XX.XX.162, pgw6dy****."""
    return isinstance(value, str) and bool(_MASK.search(value))


@dataclass
class ImportedPeer:
    vendor: str
    file: str
    peer: dict[str, Any]
    """The peer as scenario keys (profile, address, ike, child, dpd ...)."""
    masked: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Scenario key path -> (JSON field path, masked value) for values the document hides."""
    missing: dict[str, str] = field(default_factory=dict)
    """Scenario key path -> why the document cannot provide it."""
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def mask(self, target: str, where: str, value: str, first: bool = False) -> None:
        """Report the masked ``value`` of the JSON field ``where`` for the scenario key ``target``
        (shown capped: it is only ever echoed). ``first``: keep an earlier report of ``target``."""
        if not (first and target in self.masked):
            self.masked[target] = (where, shown(value, quote=False))

    def psk(self, fields: Doc, key: str) -> None:
        """The pre-shared key of ``fields[key]`` as ``ike.psk``: masked, absent (missing) or taken.
        An empty key authenticates nothing (the scenario's ike.psk is 1 or more characters)."""
        psk = fields[key]
        if psk is None:
            return
        if psk == "":
            raise ConfigError(self.file, fields.where(key), "empty; allowed: the pre-shared key, 1 or more characters "
                              "(or leave the field out: the scenario then asks for the key)")
        if fields.masked(key):
            self.mask("ike.psk", fields.where(key), psk)
        else:
            self.peer.setdefault("ike", {})["psk"] = psk


def ipv4_or_none(value: Any) -> str | None:
    try:
        return str(ipaddress.IPv4Address(value))
    except (ValueError, TypeError):
        return None
