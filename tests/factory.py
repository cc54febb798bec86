"""Peer settings for core tests, built through the real configuration layer."""

from __future__ import annotations

from typing import Any

from ipsecsim.config.loader import deep_merge, load_scenario
from ipsecsim.proto.settings import PeerSettings

PSK = "west-east-secret"


def base_scenario() -> dict[str, Any]:
    return {
        "name": "test", "seed": 1, "duration": 60,
        "peers": {
            "A": {"profile": "strongswan", "address": "10.99.0.1", "local_subnets": ["10.101.0.0/24"],
                  "remote_subnets": ["10.102.0.0/24"], "start": "initiate",
                  "ike": {"version": 2, "proposals": ["aes128-sha256-modp2048"], "psk": PSK},
                  "child": {"proposals": ["aes128-sha256"]}},
            "B": {"profile": "strongswan", "address": "10.99.0.2", "local_subnets": ["10.102.0.0/24"],
                  "remote_subnets": ["10.101.0.0/24"], "start": "respond",
                  "ike": {"version": 2, "proposals": ["aes128-sha256-modp2048"], "psk": PSK},
                  "child": {"proposals": ["aes128-sha256"]}},
        },
    }


def scenario_dict(a: dict[str, Any] | None = None, b: dict[str, Any] | None = None,
                  **top: Any) -> dict[str, Any]:
    d = base_scenario()
    d["peers"]["A"] = deep_merge(d["peers"]["A"], a or {})
    d["peers"]["B"] = deep_merge(d["peers"]["B"], b or {})
    d.update(top)
    return d


def two_peers(a: dict[str, Any] | None = None, b: dict[str, Any] | None = None) -> tuple[PeerSettings, PeerSettings]:
    sc = load_scenario(scenario_dict(a, b))
    return sc.peers["A"], sc.peers["B"]
