"""The path MTU of the simulated link (``link.mtu``) and what it does to ESP.

Each ESP packet (and each fluid flow state) carries its size on the wire and its DF bit
(``proto.esp_size``). On the path:

* larger than the MTU with DF set: dropped, reason ``too_big``. A router would answer with an
  ICMP "fragmentation needed" (RFC 1191); path MTU discovery is not modelled: the ICMP never
  reaches the sending host, which is the classic PMTU black hole (ICMP filtered on the way, or
  lost between the gateway and the host), so the host keeps sending packets that die;
* larger than 65535 octets, the most an IPv4 header's Total Length can say (RFC 791): no such
  packet exists, so it is dropped, reason ``too_big`` (reported at ``link``, where every
  size check is made), whatever DF says (an inner packet near that limit leaves no room for
  the ESP headers);
* larger without DF: cut into IPv4 fragments (RFC 791, ``esp_size.fragments``), all of which
  must arrive for the receiver to reassemble the ESP packet. A discrete packet draws the
  link's loss once per fragment; a fluid flow loses ``1 - survive(n)`` of its packets
  (``sim.loss``: exact for Bernoulli, the Gilbert-Elliott chain over n back-to-back datagrams).

``fragment_totals`` counts, per flow, the ESP packets its sender put on the wire larger than
the MTU without DF, and the fragments they became (whatever their fate), for the run summary.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..proto.esp_size import IPV4_MAX, fragments
from ..proto.traffic import EspFluid, EspPacket
from .loss import LossModel


def too_big(item: EspPacket | EspFluid, mtu: int) -> bool:
    return item.outer > IPV4_MAX or (item.df and item.outer > mtu)


def fragment_count(item: EspPacket | EspFluid, mtu: int) -> int:
    """IPv4 fragments one ESP packet of ``item`` becomes on the path (1: it fits)."""
    return fragments(item.outer, mtu) if item.outer else 1


def too_big_detail(item: EspPacket | EspFluid, inner: int, mtu: int) -> str:
    if item.outer > IPV4_MAX:
        return (f"its ESP packets would be {item.outer} octets ({inner} inside + {item.outer - inner} of ESP and "
                f"outer headers), more than the {IPV4_MAX} octets an IPv4 packet can hold: no such packet "
                f"can be sent, with DF or without")
    return (f"its ESP packets are {item.outer} octets ({inner} inside + {item.outer - inner} of ESP and outer "
            f"headers), above the path MTU {mtu}, with DF set: dropped on the path; the ICMP fragmentation-needed "
            f"never reaches the sending host (PMTU black hole)")


def loss_fraction(model: LossModel, n: int) -> float:
    """Share of packets of n fragments each that a loss model destroys."""
    return model.mean if n == 1 else 1.0 - model.survive(n)


def fragment_totals(esp: Iterable[Any], fluids: Iterable[tuple[float, str, EspFluid]], mtu: int,
                    end: float) -> dict[str, list[float]]:
    """flow -> [ESP packets fragmented, fragments], from ``Result.esp`` (``EspSent`` records)
    and ``Result.fluids`` (fluid states in time order) of a run that lasted until ``end``."""
    out: dict[str, list[float]] = {}
    for rec in esp:
        item: EspPacket = rec.packet
        n = fragment_count(item, mtu)
        if n > 1 and not too_big(item, mtu):
            tot = out.setdefault(item.packet.flow, [0.0, 0.0])
            tot[0] += 1
            tot[1] += n
    current: dict[tuple[str, str], tuple[float, EspFluid]] = {}

    def close(key: tuple[str, str], t: float) -> None:
        prev = current.pop(key, None)
        if prev is None:
            return
        t0, msg = prev
        n = fragment_count(msg, mtu)
        if n > 1 and not too_big(msg, mtu) and msg.pps > 0 and t > t0:
            tot = out.setdefault(msg.flow, [0.0, 0.0])
            tot[0] += msg.pps * (t - t0)
            tot[1] += msg.pps * (t - t0) * n

    for t, sender, msg in fluids:
        close((sender, msg.flow), t)
        current[(sender, msg.flow)] = (t, msg)
    for key in list(current):
        close(key, end)
    return out
