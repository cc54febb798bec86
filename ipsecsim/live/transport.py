"""UDP sockets of a live peer: IKE on port 500 and on 4500 with the non-ESP marker.

RFC 3948 2.2 / RFC 7296 2.23: on port 4500 an IKE message is preceded by four zero octets
(the non-ESP marker), a NAT-keepalive is the single octet 0xFF (RFC 3948 2.3), and anything
else is ESP in UDP (its first four octets, the SPI, are never zero). This module only frames
and unframes; what the octets mean is ``codec``'s business.
"""

from __future__ import annotations

import errno
import selectors
import socket
from dataclasses import dataclass

NAT_T_PORT = 4500
NON_ESP_MARKER = bytes(4)
NAT_KEEPALIVE = b"\xff"


class TransportError(OSError):
    """A socket could not be opened (address not on this host, port taken, no permission)."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """One datagram as it arrived, after unframing."""

    kind: str
    """``ike``, ``keepalive`` or ``esp``."""
    data: bytes
    """The IKE message without the non-ESP marker (``ike``), else the UDP payload."""
    src: str
    sport: int
    dst: str
    dport: int


def frame(port_local: int, port_remote: int, message: bytes) -> bytes:
    """The UDP payload for an IKE message (or a keepalive) sent between these ports."""
    if NAT_T_PORT in (port_local, port_remote) and message != NAT_KEEPALIVE:
        return NON_ESP_MARKER + message
    return message


def unframe(port_local: int, payload: bytes) -> tuple[str, bytes]:
    """(kind, octets) of a datagram received on ``port_local``."""
    if port_local != NAT_T_PORT:
        return "ike", payload
    if payload == NAT_KEEPALIVE:
        return "keepalive", payload
    if payload[:4] == NON_ESP_MARKER:
        return "ike", payload[4:]
    return "esp", payload


class UdpTransport:
    """Non-blocking UDP sockets bound to ``address`` on each of ``ports``."""

    def __init__(self, address: str, ports: tuple[int, ...]):
        self.address = address
        self.socks: dict[int, socket.socket] = {}
        self.sel = selectors.DefaultSelector()
        try:
            for port in dict.fromkeys(ports):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self.socks[port] = s
                s.bind((address, port))
                s.setblocking(False)
                self.sel.register(s, selectors.EVENT_READ, port)
        except OSError as e:
            self.close()
            hint = {errno.EADDRNOTAVAIL: " (the address is not configured on this host)",
                    errno.EACCES: " (ports below 1024 need root or CAP_NET_BIND_SERVICE)",
                    errno.EADDRINUSE: " (another IKE daemon listens there)"}.get(e.errno or 0, "")
            raise TransportError(e.errno, f"cannot bind UDP {address}:{port}: {e.strerror}{hint}") from None

    def send(self, sport: int, dst: str, dport: int, message: bytes) -> None:
        sock = self.socks.get(sport)
        if sock is None:
            raise TransportError(errno.EINVAL, f"no socket on local port {sport}")
        try:
            sock.sendto(frame(sport, dport, message), (dst, dport))
        except OSError:
            pass  # like a lost datagram: the core's retransmission schedule deals with it

    def receive(self, timeout: float | None) -> list[Inbound]:
        """Every datagram that arrives within ``timeout`` seconds (None: wait until one does)."""
        out = []
        for key, _ in self.sel.select(timeout):
            sock: socket.socket = key.fileobj  # type: ignore[assignment]
            port: int = key.data
            while True:
                try:
                    payload, (src, sport) = sock.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break  # e.g. ICMP port unreachable reported on the socket
                kind, data = unframe(port, payload)
                out.append(Inbound(kind, data, src, sport, self.address, port))
        return out

    def close(self) -> None:
        for s in self.socks.values():
            try:
                self.sel.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()
        self.socks.clear()
