"""Shared pieces of the vendor importers: checked field access and masked-value detection."""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...errors import ConfigError
from .jsondoc import MAX_DIGITS, LongInt, key_path
from .values import shown

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

    def psk(self, fields: Fields, key: str) -> None:
        """The pre-shared key of ``fields[key]`` as ``ike.psk``: masked, absent (missing) or taken.
        An empty key authenticates nothing (the scenario's ike.psk is 1 or more characters)."""
        psk = fields.string(key)
        if psk is None:
            return
        if psk == "":
            raise ConfigError(self.file, fields.where(key), "empty; allowed: the pre-shared key, 1 or more characters "
                              "(or leave the field out: the scenario then asks for the key)")
        if is_masked(psk):
            self.mask("ike.psk", fields.where(key), psk)
        else:
            self.peer.setdefault("ike", {})["psk"] = psk


class Fields:
    """Checked access to one JSON object; errors name the file and the JSON path."""

    def __init__(self, data: Any, file: str, path: str):
        if not isinstance(data, dict):
            raise ConfigError(file, path, f"expected an object, got {_json_type(data)} {shown(data)}")
        self.data, self.file, self.path = data, file, path

    def where(self, key: str) -> str:
        return key_path(self.path, key)

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
                raise ConfigError(self.file, self.where(key), f"unknown key {shown(key)}{hint}; allowed ({source}): "
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
            raise ConfigError(self.file, self.where(key), f"expected a string, got {shown(v)}")
        if enum is not None and v not in enum:
            raise ConfigError(self.file, self.where(key), f"{shown(v)} is not allowed; allowed: {', '.join(enum)}")
        if length is not None and not length[0] <= len(v) <= length[1]:
            raise ConfigError(self.file, self.where(key), f"{len(v)} characters; allowed {length[0]}-{length[1]}")
        if pattern is not None and not re.fullmatch(pattern, v):
            raise ConfigError(self.file, self.where(key), f"{shown(v)} is not allowed; {pattern_help}")
        return v

    def integer(self, key: str, required: bool = False, rng: tuple[int, int] | None = None,
                as_string: bool = False) -> int | None:
        v = self.data.get(key)
        if v is None:
            if required:
                raise ConfigError(self.file, self.where(key), "required, but missing")
            return None
        if as_string and isinstance(v, str) and re.fullmatch(r"-?[0-9]+", v):
            v = int(v) if len(v) <= MAX_DIGITS else LongInt(v)
        if isinstance(v, bool) or not isinstance(v, int):
            allowed = f"; allowed: {rng[0]}-{rng[1]}" if rng is not None else ""
            spelt = " (a number, or its digits as a string)" if as_string else ""
            raise ConfigError(self.file, self.where(key), f"expected an integer{spelt}, got {shown(v)}{allowed}")
        if rng is not None and not rng[0] <= v <= rng[1]:
            raise ConfigError(self.file, self.where(key), f"{shown(v)} is outside the range {rng[0]}-{rng[1]}")
        return v

    def boolean(self, key: str, as_string: bool = False) -> bool | None:
        v = self.data.get(key)
        if v is None:
            return None
        if as_string and isinstance(v, str) and v in ("true", "false"):
            return v == "true"
        if not isinstance(v, bool):
            raise ConfigError(self.file, self.where(key), f"expected true or false, got {shown(v)}")
        return v

    def cidrs(self, key: str, value: Any = None, sep: str | None = None) -> list[str] | None:
        v = self.data.get(key) if value is None else value
        if v is None:
            return None
        items = [x.strip() for x in v.split(sep)] if sep and isinstance(v, str) else v
        if not isinstance(items, list):
            raise ConfigError(self.file, self.where(key), f"expected a list of subnets, got {shown(v)}")
        out = []
        for i, item in enumerate(items):
            try:
                out.append(str(ipaddress.IPv4Network(str(item))))
            except ValueError as e:
                raise ConfigError(self.file, f"{self.where(key)}[{i}]", f"invalid IPv4 CIDR {shown(item)}: "
                                  f"{shown(str(e), quote=False)} (e.g. 192.168.44.0/24)") from None
        return out


def ipv4_or_none(value: Any) -> str | None:
    try:
        return str(ipaddress.IPv4Address(value))
    except (ValueError, TypeError):
        return None


def _json_type(value: Any) -> str:
    """The JSON name of ``value``'s type."""
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
             type(None): "null"}
    return next((n for t, n in names.items() if isinstance(value, t)), type(value).__name__)
