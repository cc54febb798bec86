"""The IKEv2 INFORMATIONAL exchange, both roles (strongSwan's ike_delete, child_delete,
ike_dpd as one task): a request carrying Delete payloads, notifications or nothing (a
liveness check), and the response.

    INFORMATIONAL SK{ [D] [N] }  -->   <--  SK{ [D] }

* D(IKE): the responder answers with an empty INFORMATIONAL and then forgets the IKE SA and
  its CHILD SAs (RFC 7296 1.4.1);
* D(ESP, SPIs): the responder deletes those CHILD SAs and answers with the inbound SPIs of
  the same pairs (a rekeyed pair switches its outbound traffic first, ``children.switch_to``);
* N(AUTHENTICATION_FAILED): the initiator of IKE_AUTH tells the responder that its AUTH did
  not verify (RFC 7296 2.21.2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..proposals import Protocol
from ..taskmgr import Outcome
from .ikesa import IkeState
from .message import D, Exchange, Message, Notify, Payload

if TYPE_CHECKING:
    from .engine import Ikev2Engine
    from .ikesa import IkeSa


class Informational:
    """An INFORMATIONAL exchange: as initiator ``payloads`` (D, N or nothing for liveness) and
    ``on_done(sa, response or None when given up, now)``; as responder, what the request asks."""

    exchange = "INFORMATIONAL"

    def __init__(self, engine: Ikev2Engine, name: str = "informational", payloads: tuple[Payload, ...] = (),
                 on_done: Callable[[IkeSa, Message | None, float], None] | None = None):
        self.engine = engine
        self.name = name
        self.payloads = payloads
        self.on_done = on_done
        self.answer: list[Payload] = []

    # --- initiator ---------------------------------------------------------------------------
    def build_i(self, sa: IkeSa, msg_id: int, now: float) -> Message | None:
        if sa.keys is None:
            return None
        return Message(Exchange.INFORMATIONAL, sa.spi_i, sa.spi_r, msg_id, False, sa.initiator,
                       self.payloads, True)

    def process_i(self, sa: IkeSa, resp: Message, now: float) -> Outcome:
        if self.on_done:
            self.on_done(sa, resp, now)
        return Outcome.DONE

    def gave_up(self, sa: IkeSa, now: float) -> None:
        if self.on_done:
            self.on_done(sa, None, now)
        else:
            self.engine.destroy(sa, "retransmit_timeout", now)

    # --- responder ---------------------------------------------------------------------------
    def process_r(self, sa: IkeSa, msg: Message, now: float) -> None:
        e = self.engine
        for p in msg.payloads:
            if isinstance(p, D) and p.protocol == Protocol.IKE:
                e.mark_deleting(sa, "rekeyed" if sa.state is IkeState.REKEYED else "deleted_by_peer")
                self.answer = []
                return
            if isinstance(p, D) and p.protocol == Protocol.ESP:
                mine = e.children.deleted_by_peer(sa, p.spis, now)
                if mine:
                    self.answer.append(D(Protocol.ESP, tuple(mine)))
        if msg.notify(Notify.AUTHENTICATION_FAILED):
            e.fail(sa, "ike", "AUTHENTICATION_FAILED", "peer could not verify our AUTH payload", defer=True)

    def build_r(self, sa: IkeSa, msg: Message, now: float) -> Message | None:
        return msg.answer(self.answer, sa.initiator)


def delete_child_payload(spi_in: bytes) -> tuple[Payload, ...]:
    """D(ESP, our inbound SPI): the peer deletes the pair whose outbound SPI it is."""
    return (D(Protocol.ESP, (spi_in,)),)


def delete_ike_payload() -> tuple[Payload, ...]:
    return (D(Protocol.IKE),)
