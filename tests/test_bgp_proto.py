"""The BGP core (proto/bgp) without SimPy: two sessions wired with explicit time.

Expected values come from RFC 4271 (state machine 8.2.2, hold time negotiation 4.2, OPEN checks
6.2, message formats 4.x), RFC 6793 (AS_TRANS 23456) and RFC 6298 (RTO 1 s, doubling)."""

from __future__ import annotations

import pytest

from ipsecsim.proto.bgp import BgpSession, SessionSettings, decode, encode
from ipsecsim.proto.bgp.fsm import Event, FsmError, State, transition
from ipsecsim.proto.bgp.message import Keepalive, Notification, Open, Update
from ipsecsim.proto.bgp.rib import Path, best_paths
from ipsecsim.proto.bgp.tcp import TcpConnection


def pair(a_hold=30, b_hold=180, b_peer_asn=65530, delay=0.005):
    a = BgpSession(SessionSettings("A", "169.254.10.1", "169.254.10.2", 65530, 65531, "1.1.1.1", a_hold, a_hold / 3,
                                   advertise=("10.1.0.0/16",)), 1000)
    b = BgpSession(SessionSettings("B", "169.254.10.2", "169.254.10.1", 65531, b_peer_asn, "2.2.2.2", b_hold,
                                   b_hold / 3, passive=True, advertise=("10.2.0.0/16",)), 5000)
    return a, b, delay


def run(a, b, delay, until, drop=lambda t: False, at=None, wire=None):
    """Move segments between ``a`` and ``b`` (``delay`` each way) until ``until``; ``at``:
    {time: callable(now)} run at those instants; ``wire``: a list collecting (t, sender, segment)."""
    now, inflight, log = 0.0, [], []
    todo = dict(at or {})
    a.start(now)
    b.start(now)

    def pump(now):
        for s, o in ((a, b), (b, a)):
            for seg in s.take_segments():
                if wire is not None:
                    wire.append((round(now, 6), s.settings.name, seg))
                if not drop(now):
                    inflight.append((now + delay, o, seg))
            log.extend((round(now, 6), s.settings.name, e.NAME, e.fields()) for e in s.take_events())
    pump(now)
    while True:
        ts = [t for t in (a.get_timer(), b.get_timer()) if t is not None] + [x[0] for x in inflight] + list(todo)
        if not ts or min(ts) > until:
            return log
        now = min(ts)
        for t in [t for t in todo if t <= now]:
            todo.pop(t)(now)
        for x in sorted([x for x in inflight if x[0] <= now], key=lambda x: x[0]):
            inflight.remove(x)
            x[1].receive(x[2], now)
        a.handle_timer(now)
        b.handle_timer(now)
        pump(now)


def test_messages_round_trip_in_rfc_4271_format():
    # KEEPALIVE is the 19-octet header alone (RFC 4271 4.4): 16 x 0xff, length 19, type 4
    assert encode(Keepalive()) == b"\xff" * 16 + b"\x00\x13\x04"
    # a 4-octet AS goes in My Autonomous System as AS_TRANS 23456 (RFC 6793 4.2.3), and back from the capability
    raw = encode(Open(1219001, 90, "169.254.10.1"))
    assert raw[20:22] == (23456).to_bytes(2, "big")
    assert decode(raw) == Open(1219001, 90, "169.254.10.1")
    upd = Update(("10.9.0.0/16",), ("10.1.0.0/16", "10.2.128.0/17"), (65530, 65530), "169.254.10.1", 50)
    assert decode(encode(upd)) == upd
    assert decode(encode(Notification(4, 0))).name == "Hold Timer Expired"


def test_a_missing_transition_names_machine_state_and_event():
    with pytest.raises(FsmError, match="BGP session X: no transition for event HoldTimer_Expires in state Idle"):
        transition(State.IDLE, Event.HOLD_EXPIRES, "BGP session X")


def test_every_transition_stays_within_the_six_states():
    from ipsecsim.proto.bgp.fsm import TABLE
    for (state, _event), (_actions, nxt) in TABLE.items():
        assert state in State and nxt in State
    # RFC 4271 8.2.2: an Established session receiving KEEPALIVE stays Established; a hold expiry goes to Idle
    assert transition(State.ESTABLISHED, Event.KEEPALIVE_MSG)[1] is State.ESTABLISHED
    assert transition(State.ESTABLISHED, Event.HOLD_EXPIRES) == (
        ("notify_hold_expired", "stop_connect_retry", "drop_tcp", "release"), State.IDLE)


def test_hold_time_is_the_smaller_and_keepalive_a_third():
    a, b, d = pair(a_hold=30, b_hold=180)
    run(a, b, d, 1.0)
    assert a.state is b.state is State.ESTABLISHED
    assert a.hold == b.hold == 30          # RFC 4271 4.2: the smaller of the two
    assert b.keepalive == 10               # at most a third of the hold time (4.4)
    assert a.routes.keys() == {"10.2.0.0/16"} and b.routes.keys() == {"10.1.0.0/16"}


def test_bad_peer_as_is_notification_2_2():
    a, b, d = pair(b_peer_asn=64999)
    log = run(a, b, d, 1.0)
    sent = [f for (_t, who, n, f) in log if who == "B" and n == "bgp_notification" and f["direction"] == "sent"]
    assert (sent[0]["code"], sent[0]["subcode"]) == (2, 2)
    assert not a.routes and a.state is not State.ESTABLISHED


def test_hold_timer_expires_hold_seconds_after_the_last_keepalive():
    a, b, d = pair(a_hold=30, b_hold=30)
    log = run(a, b, d, 100.0, drop=lambda t: t >= 40.0)
    expire = [t for (t, who, n, f) in log if who == "A" and n == "bgp_state" and f["trigger"] == "HoldTimer_Expires"]
    # B gets A's OPEN at 0.015 s (SYN 0, SYN-ACK 0.005, ACK + OPEN 0.01 arriving 0.015) and sends its
    # KEEPALIVE; A's KEEPALIVE arrives at 0.025 s: B is Established and sends its UPDATE, which
    # restarts its KeepaliveTimer (8.2.2): KEEPALIVEs every 10 s from 0.025 s: 10.025, 20.025,
    # 30.025 s (arrives 30.03 s); the one of 40.025 s is lost. A's hold timer runs 30 s from the last
    # arrival: 60.03 s (RFC 4271 6.5).
    assert expire == [pytest.approx(60.03)]


def test_syn_retransmissions_back_off_from_one_second():
    c = TcpConnection("169.254.10.2", "169.254.10.1", 49152, 179, 0)
    c.connect(0.0)
    sent = [0.0]
    c.take_segments()
    t = 0.0
    while c.get_timer() is not None:
        t = c.get_timer()
        c.handle_timer(t)
        if c.take_segments():
            sent.append(t)
    # RFC 6298 2.1 / 5.5: RTO 1 s doubling; Linux tcp_syn_retries 6: given up 64 s after the 6th retransmission
    assert sent == [0, 1, 3, 7, 15, 31, 63]
    assert t == 127 and c.take_events() == [("failed", "connection attempt timed out")]


def test_best_path_prefers_local_preference_then_as_path():
    p1 = Path("10.0.0.0/16", "t1", (65000, 65000), local_pref=200)
    p2 = Path("10.0.0.0/16", "t2", (65000,), local_pref=100)
    assert best_paths([p1, p2])[0].via == "t1"          # 9.1.1: LOCAL_PREF first
    p1b = Path("10.0.0.0/16", "t1", (65000, 65000))
    assert best_paths([p1b, p2])[0].via == "t2"         # 9.1.2.2 a: shorter AS_PATH
    assert [p.via for p in best_paths([Path("10.0.0.0/16", "t1", (65000,)), p2], multipath=True)] == ["t1", "t2"]


def sent_types(wire, who, until):
    """(time, message type) of each BGP message ``who`` sent first (not retransmitted)."""
    return [(t, type(decode(seg.data)).__name__) for (t, w, seg) in wire
            if w == who and seg.data and not seg.retransmit and t <= until]


def test_sending_an_update_restarts_the_keepalive_timer():
    # RFC 4271 8.2.2, Established: "Each time the local system sends a KEEPALIVE or UPDATE message,
    # it restarts its KeepaliveTimer, unless the negotiated HoldTime value is zero."
    # Hold 30 s on both ends: keepalive 10 s. A connects at 0; SYN-ACK back at 0.01 s, A sends its
    # OPEN then; B's OPEN and KEEPALIVE (sent at 0.015 s) arrive at 0.02 s: A sends its KEEPALIVE
    # (OpenConfirm) and its UPDATE (Established) at 0.02 s; KEEPALIVEs at 10.02 and 20.02 s. A new
    # prefix announced at 25 s is an UPDATE that restarts the timer: the next KEEPALIVE leaves at
    # 35 s (not 30.02 s), then 45 s.
    a, b, d = pair(a_hold=30, b_hold=30)
    wire = []
    run(a, b, d, 50.0, at={25.0: lambda now: a.announce(("10.1.0.0/16", "10.3.0.0/16"), now)}, wire=wire)
    assert sent_types(wire, "A", 50.0) == [
        (0.01, "Open"), (0.02, "Keepalive"), (0.02, "Update"), (10.02, "Keepalive"), (20.02, "Keepalive"),
        (25.0, "Update"), (35.0, "Keepalive"), (45.0, "Keepalive")]
    # B's KeepaliveTimer is untouched by the UPDATE it received (only its HoldTimer restarts, 6.5 / 8.2.2)
    b_keepalives = [t for (t, kind) in sent_types(wire, "B", 50.0) if kind == "Keepalive"]
    assert b_keepalives == [0.015, 10.025, 20.025, 30.025, 40.025]


def test_bfd_down_tears_an_established_session_down_at_once_without_a_notification():
    # RFC 5882 3.2 (Cisco fall-over bfd): the BGP session goes at once; nothing can reach the peer,
    # so no NOTIFICATION and no RST; it starts again by itself idle_hold later (RFC 4271 8.1.1)
    a, b, d = pair()
    wire = []
    log = run(a, b, d, 12.0, at={10.0: lambda now: a.bfd_down(now, "Control Detection Time Expired")}, wire=wire)
    falls = [(t, f["trigger"], f["reason"]) for (t, who, n, f) in log if who == "A" and n == "bgp_state"
             and f["from"] == "Established"]
    assert falls == [(10.0, "TcpConnectionFails", "BFD session down (Control Detection Time Expired)")]
    assert not a.routes
    # no NOTIFICATION, no RST; only the new connection's SYN (idle_hold 0 here)
    assert [seg.flags for (t, who, seg) in wire if who == "A" and t == 10.0] == ["SYN"]
