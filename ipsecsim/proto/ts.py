"""Traffic selectors (RFC 7296 3.13.1) and the responder's narrowing (RFC 7296 2.9).

A selector is an address range with an IP protocol and a port range. The initiator proposes
TSi (its own side) and TSr (the responder's side); the responder answers with a subset of
each. Two policies are modelled:

* ``narrow`` (RFC 7296 2.9, strongSwan): the responder answers with the intersection of what
  was proposed and what it is configured for; an empty intersection is TS_UNACCEPTABLE.
* ``exact`` (Huawei Cloud FAQ: the interesting flows of both ends must be mirror
  images, "the same number of entries and the same masks"): the proposal must equal the
  mirror of the responder's own configuration, otherwise TS_UNACCEPTABLE.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

ANY_PROTO = 0
TS_IPV4_ADDR_RANGE = 7  # RFC 7296 3.13.1


@dataclass(frozen=True, slots=True, order=True)
class TrafficSelector:
    start: int
    end: int
    protocol: int = ANY_PROTO
    start_port: int = 0
    end_port: int = 65535

    @classmethod
    def from_network(cls, net: ipaddress.IPv4Network | str, protocol: int = ANY_PROTO) -> TrafficSelector:
        n = ipaddress.IPv4Network(net)
        return cls(int(n.network_address), int(n.broadcast_address), protocol)

    @classmethod
    def host(cls, addr: ipaddress.IPv4Address | str, protocol: int = ANY_PROTO) -> TrafficSelector:
        a = int(ipaddress.IPv4Address(addr))
        return cls(a, a, protocol)

    @property
    def start_address(self) -> ipaddress.IPv4Address:
        return ipaddress.IPv4Address(self.start)

    @property
    def end_address(self) -> ipaddress.IPv4Address:
        return ipaddress.IPv4Address(self.end)

    def contains_address(self, addr: int) -> bool:
        return self.start <= addr <= self.end

    def intersect(self, other: TrafficSelector) -> TrafficSelector | None:
        lo, hi = max(self.start, other.start), min(self.end, other.end)
        if lo > hi:
            return None
        if self.protocol and other.protocol and self.protocol != other.protocol:
            return None
        plo, phi = max(self.start_port, other.start_port), min(self.end_port, other.end_port)
        if plo > phi:
            return None
        return TrafficSelector(lo, hi, self.protocol or other.protocol, plo, phi)

    def __str__(self) -> str:
        nets = list(ipaddress.summarize_address_range(self.start_address, self.end_address))
        addr = str(nets[0]) if len(nets) == 1 else f"{self.start_address}-{self.end_address}"
        if self.protocol == ANY_PROTO and (self.start_port, self.end_port) == (0, 65535):
            return addr
        ports = "" if (self.start_port, self.end_port) == (0, 65535) else (
            f"{self.start_port}" if self.start_port == self.end_port else f"{self.start_port}-{self.end_port}")
        return f"{addr}[{self.protocol}/{ports}]" if ports else f"{addr}[{self.protocol}]"


def selectors(nets: list[str] | tuple[str, ...]) -> tuple[TrafficSelector, ...]:
    return tuple(TrafficSelector.from_network(n) for n in nets)


def narrow(proposed: tuple[TrafficSelector, ...],
           configured: tuple[TrafficSelector, ...]) -> tuple[TrafficSelector, ...]:
    """RFC 7296 2.9: the parts of ``proposed`` that ``configured`` allows, in proposal order."""
    out: list[TrafficSelector] = []
    for p in proposed:
        for c in configured:
            i = p.intersect(c)
            if i is not None and i not in out:
                out.append(i)
    return tuple(out)


def select(policy: str, tsi: tuple[TrafficSelector, ...], tsr: tuple[TrafficSelector, ...],
           my_remote: tuple[TrafficSelector, ...], my_local: tuple[TrafficSelector, ...],
           ) -> tuple[tuple[TrafficSelector, ...], tuple[TrafficSelector, ...]] | None:
    """The responder's answer (TSi, TSr) to a proposal, or None for TS_UNACCEPTABLE.

    ``tsi`` is the initiator's side, matched against the responder's remote subnets;
    ``tsr`` the responder's side, matched against its local subnets.
    """
    if policy == "exact":
        if sorted(tsi) == sorted(my_remote) and sorted(tsr) == sorted(my_local):
            return tsi, tsr
        return None
    ni, nr = narrow(tsi, my_remote), narrow(tsr, my_local)
    if not ni or not nr:
        return None
    return ni, nr


def accept_response(tsi: tuple[TrafficSelector, ...], tsr: tuple[TrafficSelector, ...],
                    my_local: tuple[TrafficSelector, ...], my_remote: tuple[TrafficSelector, ...],
                    ) -> tuple[tuple[TrafficSelector, ...], tuple[TrafficSelector, ...]] | None:
    """The initiator's (local, remote) selectors from a responder's answer, or None when
    nothing of it is acceptable.

    RFC 7296 2.9: the responder answers with a subset of what was proposed. The initiator does
    not take the answer on trust: it narrows TSi (its side) to its own ``my_local`` and TSr to
    ``my_remote``, as strongSwan's initiator does (child_create.c select_and_install():
    narrow_ts() on the received TSi / TSr; "no acceptable traffic selectors found" when either
    comes out empty, and the CHILD SA the responder installed is deleted).
    """
    local, remote = narrow(tsi, my_local), narrow(tsr, my_remote)
    if not local or not remote:
        return None
    return local, remote


def covers(sels: tuple[TrafficSelector, ...], addr: int) -> bool:
    return any(s.contains_address(addr) for s in sels)
