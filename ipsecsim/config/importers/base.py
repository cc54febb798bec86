"""Shared pieces of the vendor importers: checked field access and masked-value detection."""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...errors import ConfigError

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


class Fields:
    """Checked access to one JSON object; errors name the file and the JSON path."""

    def __init__(self, data: Any, file: str, path: str):
        if not isinstance(data, dict):
            raise ConfigError(file, path, f"expected an object, got {type(data).__name__}")
        self.data, self.file, self.path = data, file, path

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def obj(self, key: str, required: bool = False) -> Fields | None:
        if not self.has(key):
            if required:
                raise ConfigError(self.file, self.where(key), "required, but missing")
            return None
        return Fields(self.data[key], self.file, self.where(key))

    def only(self, documented: Sequence[str], source: str) -> None:
        """Every key is one the vendor documents for this object (``source``: the API and the
        object's table); a misspelt key is an error, never silently replaced by a default."""
        for key in self.data:
            if key not in documented:
                close = difflib.get_close_matches(key, documented, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(self.file, self.where(key), f"unknown key {key!r}{hint}; allowed ({source}): "
                                  f"{', '.join(documented)}")

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def string(self, key: str, required: bool = False, enum: tuple[str, ...] | None = None,
               length: tuple[int, int] | None = None, pattern: str | None = None,
               pattern_help: str = "") -> str | None:
        v = self.data.get(key)
        if v is None:
            if required:
                raise ConfigError(self.file, self.where(key), "required, but missing")
            return None
        if not isinstance(v, str):
            raise ConfigError(self.file, self.where(key), f"expected a string, got {v!r}")
        if enum is not None and v not in enum:
            raise ConfigError(self.file, self.where(key), f"{v!r} is not allowed; allowed: {', '.join(enum)}")
        if length is not None and not length[0] <= len(v) <= length[1]:
            raise ConfigError(self.file, self.where(key), f"{len(v)} characters; allowed {length[0]}-{length[1]}")
        if pattern is not None and not re.fullmatch(pattern, v):
            raise ConfigError(self.file, self.where(key), f"{v!r} is not allowed; {pattern_help}")
        return v

    def integer(self, key: str, required: bool = False, rng: tuple[int, int] | None = None,
                as_string: bool = False) -> int | None:
        v = self.data.get(key)
        if v is None:
            if required:
                raise ConfigError(self.file, self.where(key), "required, but missing")
            return None
        if as_string and isinstance(v, str) and re.fullmatch(r"-?\d+", v):
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(self.file, self.where(key), f"expected an integer, got {v!r}")
        if rng is not None and not rng[0] <= v <= rng[1]:
            raise ConfigError(self.file, self.where(key), f"{v} is outside the range {rng[0]}-{rng[1]}")
        return v

    def boolean(self, key: str, as_string: bool = False) -> bool | None:
        v = self.data.get(key)
        if v is None:
            return None
        if as_string and v in ("true", "false"):
            return v == "true"
        if not isinstance(v, bool):
            raise ConfigError(self.file, self.where(key), f"expected true or false, got {v!r}")
        return v

    def cidrs(self, key: str, value: Any = None, sep: str | None = None) -> list[str] | None:
        v = self.data.get(key) if value is None else value
        if v is None:
            return None
        items = [x.strip() for x in v.split(sep)] if sep and isinstance(v, str) else v
        if not isinstance(items, list):
            raise ConfigError(self.file, self.where(key), f"expected a list of subnets, got {v!r}")
        out = []
        for i, item in enumerate(items):
            try:
                out.append(str(ipaddress.IPv4Network(str(item))))
            except ValueError as e:
                raise ConfigError(self.file, f"{self.where(key)}[{i}]",
                                  f"invalid IPv4 CIDR {item!r}: {e} (e.g. 192.168.44.0/24)") from None
        return out


def ipv4_or_none(value: Any) -> str | None:
    try:
        return str(ipaddress.IPv4Address(value))
    except (ValueError, TypeError):
        return None
