"""Helpers for the IKEv1 tests: two IKEv1 peers through the real config layer, and a
minimal, independent reader of ISAKMP payload chains (RFC 2408 3.2 generic headers)."""

from __future__ import annotations

import struct
from typing import Any

from factory import two_peers
from peerpair import PeerPair

from ipsecsim.config.loader import deep_merge
from ipsecsim.proto.settings import PeerSettings

V1 = {"ike": {"version": 1}}


def v1_peers(a: dict[str, Any] | None = None, b: dict[str, Any] | None = None) -> tuple[PeerSettings, PeerSettings]:
    return two_peers(deep_merge(V1, a or {}), deep_merge(V1, b or {}))


def v1_pair(a: dict[str, Any] | None = None, b: dict[str, Any] | None = None, **kw: Any) -> PeerPair:
    return PeerPair(*v1_peers(a, b), **kw)


def chain(first: int, data: bytes) -> list[tuple[int, bytes, bytes]]:
    """[(payload type, body, whole payload with header)] read with nothing but struct."""
    out, nxt, off = [], first, 0
    while nxt:
        n, _, length = struct.unpack_from("!BBH", data, off)
        out.append((nxt, data[off + 4: off + length], data[off: off + length]))
        nxt, off = n, off + length
    return out


def wire_msgs(pair: PeerPair, sender: str | None = None, exchange: str | None = None) -> list[Any]:
    return [d.message for _, who, d in pair.sent if (sender is None or who == sender)
            and (exchange is None or d.message.exchange.name == exchange)]


def notations(pair: PeerPair) -> list[str]:
    return [f"{who}: {d.message.notation()}" for _, who, d in pair.sent]
