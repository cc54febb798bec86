"""NAT traversal after a NAT was detected, shared by IKEv1 and IKEv2.

* Floating (RFC 7296 2.23, RFC 3947 4): the initiator moves the IKE SA to UDP 4500 on both
  ends (``float_ports``): IKEv2 from IKE_AUTH on, IKEv1 from main mode message 5 (aggressive
  mode message 3); the responder follows when a message reaches it on 4500 and answers
  where it came from (``on_authenticated``). On 4500 every IKE message carries the non-ESP
  marker (RFC 3948 2.2; the packet trace writes it).
* ESP in UDP (RFC 3948): the CHILD / IPsec SAs of a floated SA share its ``UdpEncap``: the
  data plane sends their ESP in UDP between the IKE addresses and ports.
* Dynamic address update (RFC 7296 2.23): "a host that is not behind a NAT SHOULD send all
  packets ... to the IP address and port in the validated packet ... A host behind a NAT
  SHOULD NOT do this". When an authenticated message arrives from a new address or port of
  a peer behind a NAT (its mapping expired and a new one was made), this side moves the
  IKE SA, and with it the ESP, there (``peer_address_updated``).
* Keepalives (RFC 3948 2.3): the side behind the NAT sends a one-octet 0xFF datagram from
  4500 when it has sent nothing (IKE or ESP) for ``nat_keepalive`` seconds, as strongSwan's
  ``send_keepalive`` does (``Keepalives``). The receiver ignores them (``Endpoint.receive``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .events import NatKeepaliveSent, NatTFloated, PeerAddressUpdated, SaEvent
from .onwire import NatKeepalive
from .sa import UdpEncap

if TYPE_CHECKING:
    from .endpoint import Endpoint
    from .onwire import Datagram

NAT_T_PORT = 4500  # RFC 3948 / RFC 7296 2.23
Emit = Callable[[SaEvent], None]
"""Reports an event of the SA (the engine fills in its SPIs)."""


class NatSa(Protocol):
    """What IKEv2's ``IkeSa`` and IKEv1's ``IsakmpSa`` share for NAT traversal."""

    local: tuple[str, int]
    remote: tuple[str, int]
    nat_local: bool
    nat_remote: bool
    encap: UdpEncap | None


def text(ep: tuple[str, int]) -> str:
    return f"{ep[0]}:{ep[1]}"


def float_ports(sa: NatSa, emit: Emit) -> None:
    """A NAT was detected: the initiator sends everything from now on from and to UDP 4500."""
    if sa.encap is not None:
        return
    sa.local = (sa.local[0], NAT_T_PORT)
    sa.remote = (sa.remote[0], NAT_T_PORT)
    sa.encap = UdpEncap(sa.local, sa.remote)
    emit(NatTFloated(local=text(sa.local), remote=text(sa.remote)))


def on_authenticated(sa: NatSa, dgram: Datagram, emit: Emit) -> None:
    """A message for ``sa`` that verified arrived in ``dgram``: follow the peer to 4500, or to
    the new address and port its NAT gave it."""
    if not (sa.nat_local or sa.nat_remote):
        return
    src = (dgram.src, dgram.sport)
    if sa.encap is None:
        if dgram.dport != NAT_T_PORT:
            return
        sa.local, sa.remote = (sa.local[0], NAT_T_PORT), src
        sa.encap = UdpEncap(sa.local, sa.remote)
        emit(NatTFloated(local=text(sa.local), remote=text(sa.remote)))
        return
    if src != sa.remote and sa.nat_remote and not sa.nat_local:
        old, sa.remote = sa.remote, src
        sa.encap.remote = src
        emit(PeerAddressUpdated(old=text(old), new=text(src)))


class Keepalives:
    """RFC 3948 2.3 keepalives of one peer. ``path()`` names where they go: the ``UdpEncap``
    of a live SA whose own side is behind a NAT, or None (then they stop until ``start``)."""

    def __init__(self, ep: Endpoint, path: Callable[[], UdpEncap | None]):
        self.ep = ep
        self.path = path
        self.armed = False

    def start(self, now: float) -> None:
        interval = self.ep.settings.nat_keepalive
        if interval > 0 and not self.armed and self.path() is not None:
            self.armed = True
            self.ep.schedule(now + interval, self.on_timer)

    def on_timer(self, now: float) -> None:
        self.armed = False
        interval = self.ep.settings.nat_keepalive
        enc = self.path()
        if enc is None or interval <= 0:
            return
        last = self.ep.last_out(enc.local, now)
        if last is None or now - last >= interval - 1e-9:
            from .onwire import Datagram
            self.ep.send(Datagram(enc.local[0], enc.local[1], enc.remote[0], enc.remote[1], NatKeepalive()))
            self.ep.emit(NatKeepaliveSent(src=text(enc.local), dst=text(enc.remote)))
            last = now
        self.armed = True
        self.ep.schedule(last + interval, self.on_timer)


def keepalive_path(sas: Any) -> UdpEncap | None:
    """The newest live SA behind a NAT that floated: where keepalives go."""
    best = None
    for sa in sas:
        if sa.alive and sa.nat_local and sa.encap is not None and (best is None or sa.uid > best.uid):
            best = sa
    return best.encap if best is not None else None
