"""The scenario's NAT: ``link.nat``, a NAPT in front of one peer (RFC 3022, RFC 4787).

    link:
      nat: {peer: branch, public_address: 203.0.113.5, mapping_timeout: 30s}

The peer named by ``peer`` sits behind the NAT with its own (private) ``address``; every
packet it sends leaves from ``public_address`` with a port the NAT picked, and the other
peer reaches it at ``public_address`` (its ``remote_address`` defaults to it). A mapping
lives while the inside peer sends through it and expires ``mapping_timeout`` after its last
outbound packet (RFC 4787 REQ-6: only outbound packets refresh it); a packet arriving for
an expired mapping is dropped. RFC 4787 REQ-5 forbids expiring a UDP mapping in less than
2 minutes and recommends 5 minutes or more; many deployed NATs use 30 to 60 s, which is
what makes NAT keepalives necessary.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from ..errors import shown
from .units import Duration


def _ipv4(value: object) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value).strip()))
    except ValueError:
        raise ValueError(f"invalid IPv4 address {shown(value)} (e.g. 203.0.113.5)") from None


RFC4787_DEFAULT = 300.0  # RFC 4787 REQ-5c: a default of five minutes or more is RECOMMENDED


class NatConfig(BaseModel):
    """A NAPT in front of one peer: source address and port translation with
    endpoint-independent mappings (RFC 4787 REQ-1), refreshed by outbound packets only."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False, strict=True)

    peer: str = Field(description="the peer behind the NAT (its address is the private, inside one)")
    public_address: Annotated[str, BeforeValidator(_ipv4), WithJsonSchema({"type": "string", "format": "ipv4"})] = \
        Field(description="the NAT's outside address: the inside peer's packets leave from it")
    mapping_timeout: Duration = Field(
        RFC4787_DEFAULT, gt=0, description="a mapping expires this long after its last outbound packet; default "
        "5 min (RFC 4787 REQ-5c); many home and carrier NATs use 30-60 s")
    esp_passthrough: bool = Field(False, description="also map IP protocol 50 (plain ESP) by address, as NATs "
                                  "with 'IPsec passthrough' do; off: only UDP is translated, so ESP needs NAT "
                                  "traversal (RFC 3948)")


def nat_problems(nat: NatConfig | None, peers: dict[str, tuple[str, str | None]]) -> list[tuple[str, str]]:
    """(field path, message) for a NAT that does not fit the peers, given each peer's
    (address, remote_address)."""
    if nat is None:
        return []
    if nat.peer not in peers:
        return [("link.nat.peer", f"{shown(nat.peer)} is not a peer of this scenario (peers: {', '.join(peers)})")]
    for name, (address, _) in peers.items():
        if nat.public_address == address:
            return [("link.nat.public_address", f"{address} is peer {name}'s own address: the NAT's outside "
                     f"address must differ from both peers' addresses")]
    inside = peers[nat.peer][0]
    for name, (_, remote) in peers.items():
        if name != nat.peer and remote == inside:
            return [(f"peers.{name}.remote_address", f"{inside} is {nat.peer}'s address behind the NAT; from "
                     f"outside, {nat.peer} is reached at link.nat.public_address {nat.public_address} (leave "
                     f"remote_address out to use it)")]
    return []
