"""The receive queues the kernel keeps for a stopped IKE daemon (a ``freeze`` fault with
``inbound: queue``).

A process stopped with SIGSTOP keeps its UDP sockets: the kernel goes on accepting datagrams
for them into each socket's receive queue, and the daemon reads them when it is continued
(SIGCONT). A queue is bounded by the socket's receive buffer (``SO_RCVBUF``, by default
``net.core.rmem_default``: 212992 bytes, Linux net/core/sock.c ``SK_RMEM_MAX`` =
``SKB_TRUESIZE(256) * 256``), and each datagram is charged its socket buffer's true size, not its
length: measured on Linux 6.18 over a veth pair, an unread socket with the default buffer held
256 datagrams of 80 octets (832 bytes each: an IKEv2 liveness check is 80) and 166 of 464
(1280 bytes each: an IKE_SA_INIT). The simulator does not size its messages, so every datagram
is charged 1280 bytes; one that does not fit is dropped (``message_lost``,
``socket_buffer_full``). strongSwan 5.9.8 has one socket per port (500 and 4500, charon's
socket-default plugin), each with its own buffer.

On SIGCONT charon's receiver thread reads the queues round-robin over its sockets, port 500
first (src/libcharon/plugins/socket_default/socket_default_socket.c ``receiver()``: "To serve
all ports with equal priority, we use a round-robin scheme"), and hands each datagram to a
worker thread. Copies of a request read while the original is still being processed are
dropped (src/libcharon/sa/ike_sa_manager.c ``checkout_by_message()``: "ignoring request with ID
%d, already processing"), so a request queued with its retransmissions is answered once.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..proto.onwire import Datagram

RMEM_DEFAULT = 212992
"""Linux net.core.rmem_default (bytes): a socket's receive buffer unless it sets SO_RCVBUF."""
TRUESIZE = 1280
"""Bytes a queued IKE datagram is charged (measured for a 464-octet IKE_SA_INIT; see above)."""


class SocketQueues:
    """One receive queue per local UDP port, filled while the daemon is stopped."""

    def __init__(self, buffer: int | None = None):
        self.buffer = RMEM_DEFAULT if buffer is None else buffer
        self.queues: dict[int, list[Datagram]] = {}

    def offer(self, dgram: Datagram) -> bool:
        """Queue a datagram; False when its socket's buffer is full (the kernel drops it)."""
        queue = self.queues.setdefault(dgram.dport, [])
        if queue and (len(queue) + 1) * TRUESIZE > self.buffer:
            return False
        queue.append(dgram)
        return True

    def drain(self) -> Iterator[tuple[Datagram, bool]]:
        """Every queued datagram in the order the daemon reads them, each with True when it is
        a copy of one read before (a retransmission: ignored, the original is being processed)."""
        ports = sorted(self.queues, key=lambda p: (p != 500, p))
        queues = [list(self.queues[p]) for p in ports]
        self.queues.clear()
        read: set[tuple[str, int]] = set()
        while any(queues):
            for queue in queues:
                if queue:
                    dgram = queue.pop(0)
                    key = (dgram.src, id(dgram.message))
                    yield dgram, key in read
                    read.add(key)
