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

from .message import Message

if TYPE_CHECKING:
    from .engine import Ikev1Engine
    from .isakmpsa import IsakmpSa


class Flight:
    def __init__(self, engine: Ikev1Engine, sa: IsakmpSa, mid: int, initiator: bool, task: str,
                 on_give_up: Callable[[float, int], None]):
        self.engine = engine
        self.sa = sa
        self.mid = mid
        self.initiator = initiator
        """This side initiated the exchange."""
        self.task = task
        self.on_give_up = on_give_up
        self.last: Message | None = None
        self.armed = False
        self.reply = False
        """``last`` answers the last message received."""
        self.transmissions = 0
        self.copies = 0
        self.generation = 0
        self.seen: list[tuple[bytes, Message]] = []

    # --- sending ----------------------------------------------------------------------------
    def send(self, msg: Message, now: float, armed: bool, reply: bool) -> None:
        """Send a new message; ``armed``: retransmit it until the peer's next message."""
        self.last, self.armed, self.reply = msg, armed, reply
        self.transmissions = self.copies = 0
        self.generation += 1
        self._put(now)

    def _put(self, now: float) -> None:
        assert self.last is not None
        self.copies += 1
        self.engine.transmit(self.sa, self.last, self.copies - 1)
        if self.armed:
            self.transmissions += 1
            sched = self.engine.settings.retransmit
            self.engine.ep.schedule(now + sched.wait(self.transmissions, self.engine.ep.rng),
                                    self.engine.on_retransmit_timer, self.sa.uid, self.mid, self.generation,
                                    self.transmissions)

    def on_timer(self, now: float, generation: int, n: int) -> None:
        if not self.armed or generation != self.generation or n != self.transmissions or not self.sa.alive:
            return
        if n < self.engine.settings.retransmit.transmissions:
            self._put(now)
            return
        self.armed = False
        self.on_give_up(now, n)

    def stop(self) -> None:
        self.armed = False
        self.generation += 1

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

    def on_duplicate(self) -> bool:
        """Re-send our last message if it answers the repeated one (see module docstring)."""
        if self.last is None or not self.reply or (self.initiator and self.armed):
            return False
        self.copies += 1
        self.engine.transmit(self.sa, self.last, self.copies - 1)
        return True
