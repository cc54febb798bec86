"""Which IKEv2 task answers a request: one task class per exchange type, each holding both
roles of its exchange (strongSwan's task_t: ``build_i`` / ``process_i`` for the initiator,
``process_r`` / ``build_r`` for the responder).

    IKE_SA_INIT      ike_init.IkeInit          (the stateless checks: ike_init.receive_request)
    IKE_AUTH         ike_auth.IkeAuth          (with the first CHILD SA)
    CREATE_CHILD_SA  create_child.ChildCreate  (new or rekeyed CHILD SA)
                     create_child.IkeRekey     (SA payload of protocol IKE)
    INFORMATIONAL    informational.Informational  (Delete, notifications, liveness)

The task manager of the IKE SA runs the responder task on a request with the expected message
id (``TaskManager.on_request``) and caches its response for retransmitted requests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..proposals import Protocol
from ..taskmgr import ResponderTask
from .create_child import ChildCreate, IkeRekey
from .ike_auth import IkeAuth
from .informational import Informational
from .message import SA, Exchange, Message, N, Notify

if TYPE_CHECKING:
    from .engine import Ikev2Engine
    from .ikesa import IkeSa


class Refusal:
    """A request answered with one notification and nothing else processed."""

    def __init__(self, answer: N):
        self.answer = answer

    def process_r(self, sa: IkeSa, msg: Message, now: float) -> None:
        return None

    def build_r(self, sa: IkeSa, msg: Message, now: float) -> Message | None:
        return msg.answer([self.answer], sa.initiator)


def responder_task(e: Ikev2Engine, msg: Message) -> ResponderTask[IkeSa, Message] | None:
    """The task answering ``msg``, a request on an existing IKE SA (None: IKE_SA_INIT, which
    ``ike_init.receive_request`` answered when it created the SA)."""
    critical = msg.unsupported_critical()
    if critical is not None and msg.exchange is not Exchange.IKE_SA_INIT:
        # RFC 7296 2.5, as strongSwan 5.9.8 task_manager_v2.c parse_message: the request is
        # not processed; the answer names the payload type.
        return Refusal(N(Notify.UNSUPPORTED_CRITICAL_PAYLOAD, bytes([critical])))
    if msg.exchange is Exchange.IKE_AUTH:
        return IkeAuth(e)
    if msg.exchange is Exchange.CREATE_CHILD_SA:
        sa_p = msg.first(SA)
        if not isinstance(sa_p, SA) or not sa_p.proposals:
            return Refusal(N(Notify.INVALID_SYNTAX))
        return IkeRekey(e) if sa_p.proposals[0].protocol == Protocol.IKE else ChildCreate(e)
    if msg.exchange is Exchange.INFORMATIONAL:
        return Informational(e)
    return None
