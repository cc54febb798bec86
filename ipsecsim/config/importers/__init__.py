"""Vendor configuration in: Huawei Cloud ``vpn_connection`` and Alibaba Cloud
``DescribeVpnConnection`` JSON as a peer of a scenario.

Every field is checked against the enums and ranges the vendor API documents (Huawei Cloud vpn_connection and
Alibaba Cloud DescribeVpnConnection); masked example values (``10.***.***.134``, ``pgw6dy****``) are
recognised and reported, never used.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import ConfigError
from .base import ImportedPeer, detect
from .jsondoc import read_json
from .values import shown

VENDORS = ("huawei", "alibaba")


def import_file(path: str | Path, vendor: str | None = None, tunnel: int | None = None) -> ImportedPeer:
    """Read a vendor JSON file and map it onto a scenario peer."""
    if tunnel is not None and (isinstance(tunnel, bool) or not isinstance(tunnel, int)):
        raise ConfigError(str(path), "tunnel", f"expected a TunnelIndex (a whole number), got {shown(tunnel)}")
    if vendor is not None and vendor not in VENDORS:
        raise ConfigError(str(path), "vendor", f"unknown vendor {shown(vendor)}; allowed: {', '.join(VENDORS)}")
    data = read_json(path)
    found = detect(data)
    vendor = vendor or found
    if vendor is None:
        raise ConfigError(str(path), "", "not a Huawei Cloud vpn_connection nor an Alibaba Cloud "
                          "DescribeVpnConnection document; give the vendor explicitly (huawei, alibaba)")
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
