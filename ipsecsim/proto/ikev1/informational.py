"""IKEv1 informational exchanges: notifications and deletes (RFC 2408 3.14, 3.15; RFC 2409 5.7).

    INFORMATIONAL, random message id, one message, never acknowledged
      E[ HASH(1) N ]   or   E[ HASH(1) D ]     HASH(1) = prf(SKEYID_a, M-ID | N/D)
      [ N ]                                    before the ISAKMP SA has keys (unprotected)

The IV is hash(last phase 1 CBC block | M-ID) (RFC 2409 Appendix B). Received: an error
notify during phase 1 aborts it (strongSwan informational.c: "only critical during main
mode"); INVALID_ID_INFORMATION / NO_PROPOSAL_CHOSEN cancel our quick mode; INITIAL-CONTACT
drops older SAs (RFC 2407 4.6.3.3); a Delete of the ISAKMP SA removes only that SA, a
Delete of IPsec SPIs removes those IPsec SAs. An R-U-THERE / R-U-THERE-ACK (RFC 3706) goes to
``liveness.py``, which checks its HASH in the configured DPD payload order. Other status
notifies go to handlers registered in ``Ikev1Engine.notify_handlers``.
A malformed or unverifiable INFORMATIONAL is ignored, never answered (no notify war).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..proposals import Protocol
from . import wire
from .liveness import dpd_notify
from .message import HASH, Exchange, Message, N, Notify, Payload
from .message import D as Delete

if TYPE_CHECKING:
    from ..onwire import Datagram
    from .engine import Ikev1Engine
    from .isakmpsa import IsakmpSa


class Informational:
    def __init__(self, engine: Ikev1Engine):
        self.e = engine

    # --- sending ----------------------------------------------------------------------------
    def send(self, sa: IsakmpSa, payloads: list[Payload], now: float) -> Message:
        """One INFORMATIONAL message, protected by HASH(1) and encrypted once keys exist."""
        e = self.e
        mid = e.new_mid(sa)
        if sa.keys is not None:
            rest = wire.encode_chain(payloads)[1]
            msg = Message(Exchange.INFORMATIONAL, sa.cky_i, sa.cky_r, mid, False,
                          (HASH(sa.keys.hash1(mid, rest)), *payloads), True)
        else:
            msg = Message(Exchange.INFORMATIONAL, sa.cky_i, sa.cky_r, mid, False, tuple(payloads))
        sealed = e.seal(sa, msg, chain=False)
        e.transmit(sa, sealed, 0)
        return sealed

    def notify(self, sa: IsakmpSa, ntype: int, now: float, protocol: int = Protocol.IKE,
               spi: bytes | None = None, data: bytes = b"") -> Message:
        """A notification; for the ISAKMP SA its SPI is CKY-I | CKY-R (as strongSwan sends)."""
        if spi is None:
            spi = sa.cky_i + sa.cky_r if protocol == Protocol.IKE else b""
        return self.send(sa, [N(ntype, protocol, spi, data)], now)

    def delete_isakmp(self, sa: IsakmpSa, now: float) -> Message:
        return self.send(sa, [Delete(Protocol.IKE, (sa.cky_i + sa.cky_r,))], now)

    def delete_esp(self, sa: IsakmpSa, spis: tuple[bytes, ...], now: float) -> Message:
        """Delete IPsec SAs; ``spis`` are our inbound SPIs (the peer's outbound ones)."""
        return self.send(sa, [Delete(Protocol.ESP, spis)], now)

    # --- receiving --------------------------------------------------------------------------
    def receive(self, sa: IsakmpSa, hdr: wire.Header, raw: bytes, dgram: Datagram, now: float) -> None:
        e = self.e
        if sa.keys is not None and not hdr.encrypted and sa.established:
            e.ignore(hdr, dgram, "unprotected INFORMATIONAL on an established ISAKMP SA (RFC 2409 5.7 needs HASH(1))")
            return
        try:
            msg = e.open(sa, hdr, raw, response=False)
        except wire.WireError as ex:
            e.undecryptable(sa, hdr, dgram, str(ex))
            return
        n = dpd_notify(msg) if msg.encrypted else None
        if n is not None:  # R-U-THERE / ACK: HASH where this side's DPD payload order puts it
            why = e.liveness.verify(sa, msg)
            if why is not None:
                e.ignore(hdr, dgram, why)
            else:
                e.liveness.receive(sa, msg, n, dgram, now)
            return
        if msg.encrypted:
            assert sa.keys is not None
            h = msg.payloads[0] if msg.payloads else None
            rest = msg.plain[4 + len(msg.bodies[0]):] if msg.payloads else b""
            if not isinstance(h, HASH) or h.data != sa.keys.hash1(msg.msg_id, rest):
                e.ignore(hdr, dgram, "INFORMATIONAL whose HASH(1) does not verify (RFC 2409 5.7)")
                return
        e.received(msg, dgram)
        if msg.encrypted:
            e.liveness.heard(now)
        for p in msg.payloads:
            if not sa.alive:
                return
            if isinstance(p, N):
                self._notify(sa, p, msg.encrypted, now)
            elif isinstance(p, Delete) and msg.encrypted:
                self._delete(sa, p, now)

    def _notify(self, sa: IsakmpSa, n: N, protected: bool, now: float) -> None:
        e = self.e
        handler = e.notify_handlers.get(n.type)
        if handler is not None:
            handler(sa, n, now)
        elif n.type == Notify.INITIAL_CONTACT and protected and sa.established:
            e.initial_contact(sa, now)
        elif n.type < 16384 and not sa.established:
            e.phase1_failed(sa, n.name, f"peer refused phase 1 with {n.name}")
            e.destroy(sa, n.name.lower(), now)
        elif n.type < 16384 and protected:
            e.quick.refused(sa, n, now)

    def _delete(self, sa: IsakmpSa, d: Delete, now: float) -> None:
        e = self.e
        if d.protocol == Protocol.IKE:
            for spi in d.spis:
                for other in list(e.sas.values()):
                    if other.alive and other.cky_i + other.cky_r == spi:
                        e.destroy(other, "rekeyed" if other.superseded else "deleted_by_peer", now)
        elif d.protocol == Protocol.ESP:
            e.delete_children_by_peer(d.spis)
