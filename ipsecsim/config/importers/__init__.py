"""Vendor configuration in: Huawei Cloud ``vpn_connection`` and Alibaba Cloud
``DescribeVpnConnection`` JSON as a peer of a scenario.

Every field is checked against the enums and ranges the vendor API documents (Huawei Cloud vpn_connection and
Alibaba Cloud DescribeVpnConnection); masked example values (``10.***.***.134``, ``pgw6dy****``) are
recognised and reported, never used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from .base import ImportedPeer, detect

VENDORS = ("huawei", "alibaba")


def read_json(path: str | Path) -> Any:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "", "no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(str(path), "", f"cannot read: {e}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(str(path), f"line {e.lineno}, column {e.colno}", f"invalid JSON: {e.msg}") from None


def import_file(path: str | Path, vendor: str | None = None, tunnel: int | None = None) -> ImportedPeer:
    """Read a vendor JSON file and map it onto a scenario peer."""
    data = read_json(path)
    found = detect(data)
    vendor = vendor or found
    if vendor is None:
        raise ConfigError(str(path), "", "not a Huawei Cloud vpn_connection nor an Alibaba Cloud "
                          "DescribeVpnConnection document; give the vendor explicitly (huawei, alibaba)")
    if vendor not in VENDORS:
        raise ConfigError(str(path), "vendor", f"unknown vendor {vendor!r}; allowed: {', '.join(VENDORS)}")
    if vendor == "huawei":
        from .huawei import import_vpn_connection
        imported = import_vpn_connection(data, str(path))
        if tunnel is not None:
            raise ConfigError(str(path), "", "a Huawei vpn_connection is one tunnel; the tunnel choice "
                              "(--tunnel N on the command line, import: {file, tunnel: N} in a scenario) applies to "
                              "Alibaba dual-tunnel connections")
        return imported
    from .alibaba import import_describe
    return import_describe(data, str(path), tunnel)


__all__ = ["VENDORS", "ImportedPeer", "detect", "import_file", "read_json"]
