"""Peer settings for core tests, built through the real configuration layer."""

from __future__ import annotations

import math
from typing import Any

from ipsecsim.config.loader import deep_merge, load_scenario
from ipsecsim.proto.settings import PeerSettings

PSK = "west-east-secret"


def base_scenario() -> dict[str, Any]:
    """Two strongSwan peers answering at once (``cpu: none``): the core tests derive their
    instants from the protocol's rules alone; tests of processing time set ``cpu`` themselves."""
    return {
        "name": "test", "seed": 1, "duration": 60,
        "peers": {
            "A": {"profile": "strongswan", "address": "10.99.0.1", "local_subnets": ["10.101.0.0/24"],
                  "remote_subnets": ["10.102.0.0/24"], "start": "initiate", "cpu": "none",
                  "ike": {"version": 2, "proposals": ["aes128-sha256-modp2048"], "psk": PSK},
                  "child": {"proposals": ["aes128-sha256"]}},
            "B": {"profile": "strongswan", "address": "10.99.0.2", "local_subnets": ["10.102.0.0/24"],
                  "remote_subnets": ["10.101.0.0/24"], "start": "respond", "cpu": "none",
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


def strongswan_waits(timeout: float = 4.0, base: float = 1.8, tries: int = 5) -> list[float]:
    """strongSwan 5.9.8 sa/ikev2/task_manager_v2.c retransmit() (and ikev1/task_manager_v1.c
    retransmit_packet()): the wait after transmission n (n = 0 .. tries) is
    (uint32_t)(retransmit_timeout * 1000.0 * pow(retransmit_base, n)) milliseconds. Defaults:
    4000, 7200, 12960, 23328, 41990, 75582 ms."""
    return [int(timeout * 1000.0 * math.pow(base, n)) / 1000.0 for n in range(tries + 1)]


def strongswan_sends(timeout: float = 4.0, base: float = 1.8, tries: int = 5) -> list[float]:
    """Offsets of every transmission from the first: 0, 4, 11.2, 24.16, 47.488, 89.478 s."""
    waits = strongswan_waits(timeout, base, tries)
    return [round(sum(waits[:n]), 6) for n in range(tries + 1)]


#: give-up time with the defaults: 165.060 s (the real-valued 4 x (1.8^6 - 1) / 0.8 = 165.06112 s)
STRONGSWAN_GIVE_UP = round(sum(strongswan_waits()), 6)
