"""The IKEv2 task manager of one IKE SA (RFC 7296 2.1-2.3, strongSwan's task_manager_v2).

It owns message ids (ours and the peer's), the single request in flight (window size 1),
its retransmission on the configured schedule and giving up, and the cached last response
that answers a retransmitted request. Tasks build requests and process responses (initiator),
process requests and build responses (responder); this class never looks inside payloads.
"""

from __future__ import annotations

import enum
from collections import deque
from typing import TYPE_CHECKING, Protocol

from ..events import MessageIgnored, RetransmitGaveUp
from ..retransmit import RetransmitSchedule
from .message import Message

if TYPE_CHECKING:
    from .engine import Ikev2Engine
    from .ikesa import IkeSa


class Outcome(enum.Enum):
    DONE = "done"
    RESTART = "restart"  # send the rebuilt request again under the same message id (INVALID_KE)


class Task(Protocol):
    """An exchange this side initiates: build the request, process the response."""

    name: str

    def build_i(self, sa: IkeSa, msg_id: int, now: float) -> Message | None: ...
    def process_i(self, sa: IkeSa, response: Message, now: float) -> Outcome: ...
    def gave_up(self, sa: IkeSa, now: float) -> None: ...


class ResponderTask(Protocol):
    """An exchange the peer initiated: process the request, then build the response (None:
    nothing is sent)."""

    def process_r(self, sa: IkeSa, request: Message, now: float) -> None: ...
    def build_r(self, sa: IkeSa, request: Message, now: float) -> Message | None: ...


class TaskManager:
    def __init__(self, engine: Ikev2Engine, sa: IkeSa):
        self.engine = engine
        self.sa = sa
        self.queue: deque[Task] = deque()
        self.active: Task | None = None
        self.request: Message | None = None
        self.transmissions = 0
        self.my_mid = 0
        self.peer_mid = 0
        self.cached: Message | None = None
        self.cached_resends = 0
        self.generation = 0  # increments with every new request; timer hints carry it
        self._processing = False  # a response is being processed: new requests wait for its message id

    # --- initiator side --------------------------------------------------------------------
    def queue_task(self, task: Task, now: float, front: bool = False) -> None:
        (self.queue.appendleft if front else self.queue.append)(task)
        self.initiate(now)

    def initiate(self, now: float) -> None:
        while self.active is None and self.queue and self.sa.alive and not self._processing:
            task = self.queue.popleft()
            msg = task.build_i(self.sa, self.my_mid, now)
            if msg is None:
                continue
            self.active, self.request, self.transmissions = task, msg, 0
            self.generation += 1
            self._transmit(now)

    def schedule(self) -> RetransmitSchedule:
        """The active task's own schedule (e.g. a DPD-specific one) or the configured one."""
        return getattr(self.active, "schedule", None) or self.engine.settings.retransmit

    def _transmit(self, now: float) -> None:
        assert self.request is not None
        self.transmissions += 1
        self.engine.send_message(self.sa, self.request, self.transmissions - 1)
        hook = getattr(self.active, "transmitted", None)
        if hook is not None:
            hook(self.sa, self.transmissions - 1, self.request.msg_id, now)
        sched = self.schedule()
        self.engine.ep.schedule(now + sched.wait(self.transmissions, self.engine.ep.rng),
                                self.engine.on_retransmit_timer, self.sa.uid, self.request.msg_id,
                                self.transmissions, self.generation)

    def on_retransmit_timer(self, now: float, msg_id: int, n: int, generation: int) -> None:
        """Timer hint: act only if this very request is still in flight after ``n`` sends."""
        if self.request is None or self.generation != generation or self.request.msg_id != msg_id \
                or self.transmissions != n or not self.sa.alive:
            return
        if n < self.schedule().transmissions:
            self._transmit(now)
            return
        task, self.active, self.request = self.active, None, None
        self.my_mid += 1  # RFC 7296 2.2: an id is never reused for another request on this SA
        self.engine.emit_sa(self.sa, RetransmitGaveUp(exchange=task_exchange(task), msg_id=msg_id, transmissions=n,
                                                      task=task.name if task else None))
        if task is not None:
            task.gave_up(self.sa, now)
        self.initiate(now)  # exchanges queued behind it (a Delete) go now, if the SA is still there

    def preempt(self) -> None:
        """Abandon the request in flight without waiting for its answer or its schedule (the
        SA has reached its hard lifetime: nothing may be negotiated on it any more). Its
        retransmission hints find no request of theirs and do nothing; its message id is used
        up (RFC 7296 2.2), so the next request carries the next one."""
        if self.request is not None:
            task, self.active, self.request = self.active, None, None
            self.my_mid += 1
            _abandon(task)

    def expecting(self, msg: Message) -> Task | None:
        """The task whose request ``msg`` answers (None: it answers nothing in flight)."""
        if self.request is None or self.active is None or msg.msg_id != self.request.msg_id \
                or msg.exchange != self.request.exchange:
            return None
        return self.active

    def on_response(self, msg: Message, now: float) -> None:
        task = self.expecting(msg)
        if task is None:
            self.engine.ep.emit(MessageIgnored(reason="unexpected response",
                                               message={"msg_id": msg.msg_id, "exchange": msg.exchange.name}))
            return
        self.active, self.request = None, None
        self._processing = True
        try:
            outcome = task.process_i(self.sa, msg, now)
        finally:
            self._processing = False
        if outcome is Outcome.RESTART:
            self.queue.appendleft(task)
        else:
            self.my_mid += 1
        self.initiate(now)

    def drop_queued(self) -> None:
        """Forget the exchanges not yet started; each is told it will not run."""
        dropped = list(self.queue)
        self.queue.clear()
        for task in dropped:
            _abandon(task)

    def abort(self) -> None:
        """Forget everything in flight or queued (the IKE SA goes away): a deleted SA's task
        manager sends nothing more, and its pending timer hints find nothing to act on."""
        self.preempt()
        self.drop_queued()

    # --- responder side --------------------------------------------------------------------
    def on_request(self, msg: Message, now: float, task: ResponderTask | None) -> None:
        """A request from the peer: ``task`` answers it if it carries the expected message id
        (None: nothing new to answer); a retransmitted one gets the cached response."""
        if msg.msg_id == self.peer_mid:
            if task is None:
                return
            task.process_r(self.sa, msg, now)
            response = task.build_r(self.sa, msg, now)
            if response is None:
                return
            self.peer_mid += 1
            self.cached, self.cached_resends = response, 0
            self.engine.send_message(self.sa, response, 0)
            self.engine.after_response(self.sa, response, now)
        elif msg.msg_id == self.peer_mid - 1 and self.cached is not None:
            # RFC 7296 2.1: a retransmitted request is answered with the same response.
            self.cached_resends += 1
            self.engine.send_message(self.sa, self.cached, self.cached_resends)
        else:
            self.engine.ep.emit(MessageIgnored(reason="unexpected message id", message={
                "msg_id": msg.msg_id, "expected": self.peer_mid, "exchange": msg.exchange.name}))


def _abandon(task: Task | None) -> None:
    """Tell a task that it will not complete (optional ``abandon()``: e.g. a CHILD SA rekey
    returns its SA to the installed state)."""
    hook = getattr(task, "abandon", None)
    if hook is not None:
        hook()


def task_exchange(task: Task | None) -> str | None:
    return getattr(task, "exchange", None)
