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

from ..proto.esp_size import IPV4_MAX, fragment_count, fragment_totals, too_big
from ..proto.traffic import EspFluid, EspPacket
from .loss import LossModel


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


__all__ = ["fragment_count", "fragment_totals", "loss_fraction", "too_big", "too_big_detail"]
