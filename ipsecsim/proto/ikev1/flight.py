"""Retransmission of one IKEv1 exchange on one side (strongSwan's task_manager_v1).

IKEv1 has no request/response message-id window. Each side of an exchange keeps the last
message it sent and the messages it has received (their exact bytes):

* the initiator of an exchange retransmits a message that expects an answer (main mode 1,
  3, 5; aggressive mode 1; quick mode 1) on the configured schedule until the next message
  arrives, and gives up after the last wait;
* the responder relies on those retransmissions, except in the three-message exchanges:
  aggressive mode message 2 and quick mode message 2 are retransmitted until message 3
  arrives ("we rely on initiator retransmission, except for three-message exchanges");
* a duplicate of the message that triggered our last message makes the responder re-send
  it; the initiator re-sends only a final message that no timer covers (aggressive mode 3,
  quick mode 3) when the peer repeats message 2;
* a late copy of an older message is ignored.

Timers are hints carrying (SA uid, message id, generation, transmission number): a stale
one finds a different generation and does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..taskmgr import Retransmitter
from .message import Message

if TYPE_CHECKING:
    from .engine import Ikev1Engine
    from .isakmpsa import IsakmpSa


class Flight:
    """This side's part of one IKEv1 exchange (phase 1, or one quick mode): its last message
    on a ``proto.taskmgr.Retransmitter``, and the peer's messages received so far."""

    def __init__(self, engine: Ikev1Engine, sa: IsakmpSa, mid: int, initiator: bool, task: str,
                 on_give_up: Callable[[float, int], None]):
        self.engine = engine
        self.sa = sa
        self.mid = mid
        self.initiator = initiator
        """This side initiated the exchange."""
        self.task = task
        self.on_give_up = on_give_up
        self.out: Retransmitter[Message] = Retransmitter(
            lambda msg, copy, now: engine.transmit(sa, msg, copy),
            self._arm,
            lambda: engine.settings.retransmit, engine.ep.rng)
        self.reply = False
        """The last message sent answers the last message received."""
        self.seen: list[tuple[bytes, Message]] = []

    # --- sending ----------------------------------------------------------------------------
    def _arm(self, at: float, generation: int, n: int) -> None:
        self.engine.ep.schedule(at, self.engine.on_retransmit_timer, self.sa.uid, self.mid, generation, n)

    def send(self, msg: Message, now: float, armed: bool, reply: bool) -> None:
        """Send a new message; ``armed``: retransmit it until the peer's next message."""
        self.reply = reply
        self.out.send(msg, now, armed)

    def on_timer(self, now: float, generation: int, n: int) -> None:
        if self.sa.alive and self.out.on_timer(now, generation, n):
            self.on_give_up(now, n)

    def stop(self) -> None:
        self.out.stop()

    # --- receiving --------------------------------------------------------------------------
    def classify(self, raw: bytes) -> str:
        """``new``, ``duplicate`` (of the last message received) or ``old``."""
        if self.seen and self.seen[-1][0] == raw:
            return "duplicate"
        if any(r == raw for r, _ in self.seen):
            return "old"
        return "new"

    def accepted(self, raw: bytes, msg: Message) -> None:
        """A new message of this exchange was decoded: the peer got ours, stop retransmitting."""
        self.seen.append((raw, msg))
        self.reply = False
        self.stop()

    def last_received(self) -> Message:
        return self.seen[-1][1]

    def on_duplicate(self, now: float) -> bool:
        """Re-send our last message if it answers the repeated one (see module docstring)."""
        if self.out.message is None or not self.reply or (self.initiator and self.out.armed):
            return False
        self.out.resend(now)
        return True
