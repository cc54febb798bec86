"""ICMP echo between the gateways themselves (underlay probes: not IKE, not in the tunnel),
and the gateway's own IP stack that answers them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..proto.onwire import Datagram
    from .node import PeerNode


@dataclass(frozen=True, slots=True)
class IcmpEcho:
    flow: str
    seq: int
    reply: bool
    size: int

    def fields(self) -> dict[str, Any]:
        return {"icmp": "echo-reply" if self.reply else "echo-request", "seq": self.seq}


class IcmpStack:
    """A gateway's IP stack for pings to and from itself: it answers echo requests unless it
    is hung or down, and remembers the latest reply of each probe flow (sim/nqa.py)."""

    def __init__(self, node: PeerNode):
        self.node = node
        self.replies: dict[str, int] = {}
        """The latest echo reply sequence number per probe flow."""

    def receive(self, dgram: Datagram) -> None:
        from ..proto.onwire import Datagram
        node = self.node
        if node.down:
            return
        msg: IcmpEcho = dgram.message
        if msg.reply:
            self.replies[msg.flow] = max(self.replies.get(msg.flow, -1), msg.seq)
        else:
            back = Datagram(dgram.dst, 0, dgram.src, 0, IcmpEcho(msg.flow, msg.seq, True, msg.size))
            node.link.transmit_quiet(back, node.name)

    def send(self, flow: str, seq: int, size: int, dst: str) -> None:
        from ..proto.onwire import Datagram
        node = self.node
        src = node.egress or node.settings.address
        node.link.transmit_quiet(Datagram(src, 0, dst, 0, IcmpEcho(flow, seq, False, size)), node.name)
