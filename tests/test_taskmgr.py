"""The task management both IKE versions share (proto/taskmgr.py): a message on the
retransmission schedule, IKEv2's message-id window and IKEv1's random message ids.

Expected values: strongSwan's default schedule (strongswan.conf charon.retransmit_timeout 4 s,
retransmit_base 1.8, retransmit_tries 5; the wait after send n is timeout * base^(n-1), strongSwan
"Retransmission" docs: sends at 0, 4, 11.2, 24.16, 47.49, 89.48 s, gives up 165.06 s after the
first); RFC 7296 2.2 (message ids
count up, a retransmission carries the same id); RFC 2408 3.1 / RFC 2409 5.5 (IKEv1 message ids
are random and non-zero).
"""

import random

import pytest

from ipsecsim.proto.retransmit import RetransmitSchedule
from ipsecsim.proto.taskmgr import MessageIdWindow, RandomMessageIds, Retransmitter

STRONGSWAN = RetransmitSchedule(4.0, 1.8, 5)


class Clock:
    """Drives a Retransmitter as an engine would: each armed hint fires at its time."""

    def __init__(self):
        self.sent: list[tuple[str, int, float]] = []
        self.hints: list[tuple[float, int, int]] = []
        self.r: Retransmitter[str] = Retransmitter(
            lambda msg, copy, now: self.sent.append((msg, copy, now)),
            lambda at, generation, n: self.hints.append((at, generation, n)),
            lambda: STRONGSWAN, random.Random(1))

    def fire_all(self) -> list[float]:
        """Fire every hint in time order; the times at which the schedule gave up."""
        gave_up = []
        while self.hints:
            self.hints.sort()
            at, generation, n = self.hints.pop(0)
            if self.r.on_timer(at, generation, n):
                gave_up.append(at)
        return gave_up


def test_a_request_is_sent_on_the_schedule_then_given_up():
    c = Clock()
    c.r.send("req", 0.0)
    gave_up = c.fire_all()
    assert [m for m, _, _ in c.sent] == ["req"] * 6
    assert [copy for _, copy, _ in c.sent] == [0, 1, 2, 3, 4, 5]  # the retransmit field of each send
    assert [round(t, 2) for _, _, t in c.sent] == [0.0, 4.0, 11.2, 24.16, 47.49, 89.48]
    assert [round(t, 2) for t in gave_up] == [165.06]


def test_an_answer_stops_the_retransmissions():
    c = Clock()
    c.r.send("req", 0.0)
    c.r.stop()  # the response arrived before the first wait ended
    assert c.fire_all() == [] and len(c.sent) == 1


def test_a_new_message_makes_the_old_hints_stale():
    c = Clock()
    c.r.send("msg1", 0.0)
    old_hint = c.hints.pop()
    c.r.send("msg2", 1.0)
    assert not c.r.on_timer(old_hint[0], *old_hint[1:])
    assert [m for m, _, _ in c.sent] == ["msg1", "msg2"]


def test_a_resend_answers_a_repeated_request_off_the_schedule():
    c = Clock()
    c.r.send("resp", 0.0, armed=False)
    c.r.resend(2.0)
    assert c.hints == [] and c.sent == [("resp", 0, 0.0), ("resp", 1, 2.0)]


@pytest.mark.parametrize(("peers", "msg_id", "kind"), [(0, 0, "new"), (3, 3, "new"), (3, 2, "retransmit"),
                                                      (3, 1, "unexpected"), (3, 4, "unexpected"),
                                                      (0, 2**32 - 1, "unexpected")])
def test_ikev2_window_classifies_request_ids(peers, msg_id, kind):
    w = MessageIdWindow()
    w.peers = peers
    assert w.classify(msg_id) == kind


def test_ikev2_window_never_reuses_our_ids():
    w = MessageIdWindow()
    for _ in range(3):
        w.request_done()
    assert w.mine == 3


class Rigged(random.Random):
    def __init__(self, values):
        super().__init__(0)
        self.values = list(values)

    def randbytes(self, n):
        return self.values.pop(0).to_bytes(n, "big")


def test_ikev1_ids_are_random_non_zero_and_not_reused():
    ids = RandomMessageIds()
    ids.claim(7)  # the peer's quick mode
    assert ids.new(Rigged([0, 7, 0x1234])) == 0x1234
    assert ids.new(Rigged([0x1234, 99])) == 99
    assert ids.used == {7, 0x1234, 99}
