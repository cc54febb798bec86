"""Task management of one IKE SA, shared by IKEv1 and IKEv2 (strongSwan's task_manager_v1 /
task_manager_v2): message ids, the message in flight and its retransmission, the answer to a
retransmitted request, and the exchange in flight that a colliding request may look at.

The two versions differ in how exchanges are numbered, and the parts here say so:

* IKEv2 (RFC 7296 2.1-2.3): message ids count up from 0 in each direction; one request is in
  flight at a time (window size 1); the last response is kept and answers a retransmitted
  request. ``TaskManager`` runs the exchanges as tasks over this ``MessageIdWindow``.
* IKEv1 (RFC 2408 3.1, RFC 2409 5.5): phase 1 uses message id 0; every quick mode and
  informational exchange has a random, non-zero id of its own (``RandomMessageIds``), and any
  number of them run at once. There is no window and no request/response pairing: each side of
  an exchange retransmits its own last message until the peer's next one arrives.

Both versions send and retransmit one message the same way (``Retransmitter``): on the
configured schedule (``proto.retransmit``), until stopped or given up. Timers are hints: a
retransmitter hands its owner a generation and a transmission number to schedule, and does
nothing when a hint no longer matches them.
"""

from __future__ import annotations

import enum
import random
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from .events import MessageIgnored, RetransmitGaveUp

if TYPE_CHECKING:
    from .events import EventKind, SaEvent
    from .retransmit import RetransmitSchedule


M = TypeVar("M")
"""A message of one IKE version."""


class Retransmitter(Generic[M]):
    """One message this side sent and its retransmissions.

    ``put(message, copy, now)`` sends it (``copy``: how many times it was sent before, the
    ``retransmit`` field of its event); ``arm(at, generation, n)`` schedules a timer hint that
    comes back as ``on_timer(now, generation, n)``; ``schedule()`` is the retransmission
    schedule in force. An armed message is retransmitted on that schedule until ``stop`` (the
    answer arrived), and ``on_timer`` returns True once the last wait has passed unanswered
    (given up). ``resend`` sends one more copy off the schedule (a peer repeated the message
    this one answers)."""

    def __init__(self, put: Callable[[M, int, float], None], arm: Callable[[float, int, int], None],
                 schedule: Callable[[], RetransmitSchedule], rng: random.Random):
        self._put, self._arm, self.schedule, self._rng = put, arm, schedule, rng
        self.message: M | None = None
        self.armed = False
        self.copies = 0
        """Times the message was sent (first transmission, retransmissions, resends)."""
        self.transmissions = 0
        """Sends on the schedule (first transmission and retransmissions of an armed message)."""
        self.generation = 0

    def send(self, message: M, now: float, armed: bool = True) -> None:
        """Send a new message; ``armed``: retransmit it until stopped or given up."""
        self.message, self.armed = message, armed
        self.copies = self.transmissions = 0
        self.generation += 1
        self._transmit(now)

    def _transmit(self, now: float) -> None:
        assert self.message is not None
        self.copies += 1
        self._put(self.message, self.copies - 1, now)
        if self.armed:
            self.transmissions += 1
            self._arm(now + self.schedule().wait(self.transmissions, self._rng), self.generation, self.transmissions)

    def resend(self, now: float) -> None:
        """One more copy of the message, off the schedule."""
        assert self.message is not None
        self.copies += 1
        self._put(self.message, self.copies - 1, now)

    def current(self, generation: int, n: int) -> bool:
        """Whether a timer hint is that of the message still in flight after ``n`` sends."""
        return self.armed and generation == self.generation and n == self.transmissions

    def on_timer(self, now: float, generation: int, n: int) -> bool:
        """A timer hint: retransmit, or True when the schedule is exhausted (then disarmed)."""
        if not self.current(generation, n):
            return False
        if n < self.schedule().transmissions:
            self._transmit(now)
            return False
        self.armed = False
        return True

    def stop(self) -> None:
        """No more retransmissions (answered, abandoned): pending hints find nothing to do."""
        self.armed = False
        self.generation += 1


class RandomMessageIds:
    """IKEv1 message ids of one ISAKMP SA: random, non-zero and never reused on it (RFC 2408
    3.1: "a randomly generated value"), one per quick mode or informational exchange; the
    exchanges run concurrently and independently."""

    def __init__(self) -> None:
        self.used: set[int] = set()

    def new(self, rng: random.Random) -> int:
        while True:
            mid = int.from_bytes(rng.randbytes(4), "big")
            if mid and mid not in self.used:
                self.used.add(mid)
                return mid

    def claim(self, mid: int) -> None:
        """The peer started an exchange with ``mid``."""
        self.used.add(mid)


class MessageIdWindow:
    """IKEv2 message ids of one IKE SA (RFC 7296 2.2, 2.3 with window size 1): ours for the
    next request we send, the peer's for the next request we expect."""

    def __init__(self) -> None:
        self.mine = 0
        self.peers = 0

    def request_done(self) -> None:
        """Our request was answered or given up: its id is never used again (RFC 7296 2.2)."""
        self.mine += 1

    def classify(self, msg_id: int) -> str:
        """A request's id: ``new`` (the one expected), ``retransmit`` (of the last one
        answered) or ``unexpected``."""
        if msg_id == self.peers:
            return "new"
        return "retransmit" if msg_id == self.peers - 1 else "unexpected"


# --- the IKEv2 task manager ---------------------------------------------------------------------

class Outcome(enum.Enum):
    DONE = "done"
    RESTART = "restart"  # send the rebuilt request again under the same message id (INVALID_KE)


class Exchanged(Protocol):
    """What the task manager reads of a message."""

    @property
    def msg_id(self) -> int: ...
    @property
    def exchange(self) -> enum.Enum: ...


class Sa(Protocol):
    @property
    def uid(self) -> int: ...
    @property
    def alive(self) -> bool: ...


S = TypeVar("S", bound=Sa)
X = TypeVar("X", bound=Exchanged)
S_in = TypeVar("S_in", bound=Sa, contravariant=True)
X_in = TypeVar("X_in", bound=Exchanged, contravariant=True)


class Task(Protocol[S_in, X]):
    """An exchange this side initiates: build the request, process the response. Optional:
    ``schedule`` (its own retransmission schedule), ``transmitted(sa, n, msg_id, now)`` (each
    send), ``abandon()`` (it will not complete)."""

    name: str

    def build_i(self, sa: S_in, msg_id: int, now: float) -> X | None: ...
    def process_i(self, sa: S_in, response: X, now: float) -> Outcome: ...
    def gave_up(self, sa: S_in, now: float) -> None: ...


class ResponderTask(Protocol[S_in, X]):
    """An exchange the peer initiated: process the request, then build the response (None:
    nothing is sent)."""

    def process_r(self, sa: S_in, request: X, now: float) -> None: ...
    def build_r(self, sa: S_in, request: X, now: float) -> X | None: ...


class Host(Protocol[S_in, X_in]):
    """What the task manager needs of its engine."""

    def send_message(self, sa: S_in, msg: X_in, retransmit: int) -> None: ...
    def emit(self, event: EventKind) -> None: ...
    def emit_sa(self, sa: S_in, event: SaEvent) -> None: ...
    def arm_retransmit(self, sa: S_in, at: float, msg_id: int, n: int, generation: int) -> None: ...
    def retransmit_schedule(self) -> RetransmitSchedule: ...
    def after_response(self, sa: S_in, response: X_in, now: float) -> None: ...
    @property
    def rng(self) -> random.Random: ...


class TaskManager(Generic[S, X]):
    """The exchanges of one IKEv2 SA: a queue of tasks this side initiates, one request in
    flight (``MessageIdWindow``) retransmitted by a ``Retransmitter``, and the last response,
    which answers a retransmitted request. Tasks build requests and process responses
    (initiator), process requests and build responses (responder); this class never looks
    inside payloads. ``active`` is the exchange in flight: a responder task that finds it
    colliding with the request it answers (a simultaneous rekey, RFC 7296 2.8.1) records the
    collision on it."""

    def __init__(self, host: Host[S, X], sa: S):
        self.host = host
        self.sa = sa
        self.queue: deque[Task[S, X]] = deque()
        self.active: Task[S, X] | None = None
        self.ids = MessageIdWindow()
        self.request: Retransmitter[X] = Retransmitter(
            self._put_request,
            lambda at, generation, n: host.arm_retransmit(sa, at, self._request_id(), n, generation),
            self.schedule, host.rng)
        self.response: Retransmitter[X] = Retransmitter(
            lambda msg, n, now: host.send_message(sa, msg, n), _never, host.retransmit_schedule, host.rng)
        self._processing = False  # a response is being processed: new requests wait for its message id

    @property
    def my_mid(self) -> int:
        return self.ids.mine

    @property
    def peer_mid(self) -> int:
        return self.ids.peers

    def in_flight(self) -> X | None:
        """Our request awaiting its response."""
        return self.request.message if self.active is not None else None

    def _request_id(self) -> int:
        msg = self.request.message
        assert msg is not None
        return msg.msg_id

    # --- initiator side --------------------------------------------------------------------
    def queue_task(self, task: Task[S, X], now: float, front: bool = False) -> None:
        (self.queue.appendleft if front else self.queue.append)(task)
        self.initiate(now)

    def initiate(self, now: float) -> None:
        while self.active is None and self.queue and self.sa.alive and not self._processing:
            task = self.queue.popleft()
            msg = task.build_i(self.sa, self.ids.mine, now)
            if msg is None:
                continue
            self.active = task
            self.request.send(msg, now)

    def schedule(self) -> RetransmitSchedule:
        """The active task's own schedule (e.g. a DPD-specific one) or the configured one."""
        own: RetransmitSchedule | None = getattr(self.active, "schedule", None)
        return own or self.host.retransmit_schedule()

    def _put_request(self, msg: X, n: int, now: float) -> None:
        self.host.send_message(self.sa, msg, n)
        hook = getattr(self.active, "transmitted", None)
        if hook is not None:
            hook(self.sa, n, msg.msg_id, now)

    def on_retransmit_timer(self, now: float, msg_id: int, n: int, generation: int) -> None:
        """Timer hint: act only if this very request is still in flight after ``n`` sends."""
        if self.active is None or not self.sa.alive or self.request.message is None \
                or self.request.message.msg_id != msg_id:
            return
        if not self.request.on_timer(now, generation, n):
            return
        task, self.active = self.active, None
        self.ids.request_done()
        self.host.emit_sa(self.sa, RetransmitGaveUp(exchange=task_exchange(task), msg_id=msg_id, transmissions=n,
                                                    task=task.name if task else None))
        task.gave_up(self.sa, now)
        self.initiate(now)  # exchanges queued behind it (a Delete) go now, if the SA is still there

    def preempt(self) -> None:
        """Abandon the request in flight without waiting for its answer or its schedule (the
        SA has reached its hard lifetime: nothing may be negotiated on it any more). Its
        retransmission hints find no request of theirs and do nothing; its message id is used
        up (RFC 7296 2.2), so the next request carries the next one."""
        if self.active is not None:
            task, self.active = self.active, None
            self.request.stop()
            self.ids.request_done()
            _abandon(task)

    def expecting(self, msg: X) -> Task[S, X] | None:
        """The task whose request ``msg`` answers (None: it answers nothing in flight)."""
        req = self.in_flight()
        if req is None or msg.msg_id != req.msg_id or msg.exchange != req.exchange:
            return None
        return self.active

    def on_response(self, msg: X, now: float) -> None:
        task = self.expecting(msg)
        if task is None:
            self.host.emit(MessageIgnored(reason="unexpected response",
                                          message={"msg_id": msg.msg_id, "exchange": msg.exchange.name}))
            return
        self.active = None
        self.request.stop()
        self._processing = True
        try:
            outcome = task.process_i(self.sa, msg, now)
        finally:
            self._processing = False
        if outcome is Outcome.RESTART:
            self.queue.appendleft(task)
        else:
            self.ids.request_done()
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
    def on_request(self, msg: X, now: float, task: ResponderTask[S, X] | None) -> None:
        """A request from the peer: ``task`` answers it if it carries the expected message id
        (None: nothing new to answer); a retransmitted one gets the cached response."""
        kind = self.ids.classify(msg.msg_id)
        if kind == "new":
            if task is None:
                return
            task.process_r(self.sa, msg, now)
            response = task.build_r(self.sa, msg, now)
            if response is None:
                return
            self.ids.peers += 1
            self.response.send(response, now, armed=False)
            self.host.after_response(self.sa, response, now)
        elif kind == "retransmit" and self.response.message is not None:
            # RFC 7296 2.1: a retransmitted request is answered with the same response.
            self.response.resend(now)
        else:
            self.host.emit(MessageIgnored(reason="unexpected message id", message={
                "msg_id": msg.msg_id, "expected": self.ids.peers, "exchange": msg.exchange.name}))


def _never(at: float, generation: int, n: int) -> None:
    raise AssertionError("a response is not retransmitted on a schedule")


def _abandon(task: object) -> None:
    """Tell a task that it will not complete (optional ``abandon()``: e.g. a CHILD SA rekey
    returns its SA to the installed state)."""
    hook = getattr(task, "abandon", None)
    if hook is not None:
        hook()


def task_exchange(task: object) -> str | None:
    exchange: str | None = getattr(task, "exchange", None)
    return exchange
