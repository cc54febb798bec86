"""Best-path selection among the routes a router learned over its tunnels (RFC 4271 9.1).

A ``Path`` is one route to a prefix learned on one tunnel's session. The decision process
(RFC 4271 9.1.2.2, in the order vendors apply it): highest LOCAL_PREF (9.1.1: here set by the
tunnel's role, the master / preferred tunnel higher), shortest AS_PATH (9.1.2.2 a), lowest
ORIGIN (b), lowest MULTI_EXIT_DISC among routes from the same neighbouring AS (c; a missing
MED counts as 0), then the lowest BGP Identifier of the advertising speaker (f) and the
lowest peer address (g). With ``multipath`` the routes equal up to (c) are all best (ECMP,
Cisco ``maximum-paths``): a flow is then placed on one of them by its caller.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Path:
    prefix: str
    via: str
    """The tunnel (the local peer whose session learned it)."""
    as_path: tuple[int, ...]
    local_pref: int = 100
    med: int | None = None
    origin: int = 0
    router_id: str = "0.0.0.0"
    peer_address: str = "0.0.0.0"


def _ecmp_key(p: Path) -> tuple[int, int, int]:
    return (-p.local_pref, len(p.as_path), p.origin)


def best_paths(paths: Iterable[Path], multipath: bool = False) -> list[Path]:
    """The best path (or, with ``multipath``, the equally good ones) among routes to one prefix."""
    cands = list(paths)
    if not cands:
        return []
    top = min(_ecmp_key(p) for p in cands)
    cands = [p for p in cands if _ecmp_key(p) == top]
    # MED: compared only between routes from the same neighbouring AS (9.1.2.2 c)
    survivors = []
    for p in cands:
        same_as = [q for q in cands if q.as_path[:1] == p.as_path[:1]]
        if (p.med or 0) == min(q.med or 0 for q in same_as):
            survivors.append(p)
    if multipath:
        return sorted(survivors, key=lambda p: p.via)
    return [min(survivors, key=lambda p: (int(ipaddress.IPv4Address(p.router_id)),
                                          int(ipaddress.IPv4Address(p.peer_address)), p.via))]


def longest_match(prefixes: Iterable[str], address: int) -> str | None:
    """The most specific prefix covering ``address``."""
    best: tuple[int, str] | None = None
    for p in prefixes:
        net = ipaddress.IPv4Network(p)
        if int(net.network_address) == address & int(net.netmask) and (best is None or net.prefixlen > best[0]):
            best = (net.prefixlen, p)
    return best[1] if best else None
