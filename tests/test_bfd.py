"""BFD (proto/bgp/bfd.py) without SimPy: two sessions wired with explicit time.

Expected values come from RFC 5880: the Control packet format (4.1), the state machine (6.2,
6.8.6), the one-second rate while not Up (6.8.3), the transmit interval (6.8.7: the greater of
the own Desired Min TX and the remote's Required Min RX) and the asynchronous-mode Detection
Time (6.8.4: the remote's Detect Mult times the greater of the own Required Min RX and the
remote's Desired Min TX)."""

from __future__ import annotations

import itertools

import pytest

from ipsecsim.proto.bgp.bfd import BfdError, BfdSession, BfdSettings, BfdState, Control, decode, encode


def run(a, b, until, delay=0.01, cut=None):
    """Move packets both ways (``delay``) until ``until``; none arrives from ``cut`` on.
    Returns the events and, per session, the times it sent packets."""
    now, inflight, events, sent = 0.0, [], [], {"A": [], "B": []}
    a.start(now)
    b.start(now)
    names = {id(a): "A", id(b): "B"}
    while True:
        for s, o in ((a, b), (b, a)):
            for p in s.take_packets():
                sent[names[id(s)]].append(round(now, 6))
                if cut is None or now < cut:
                    inflight.append((now + delay, o, p))
            events.extend((round(now, 6), names[id(s)], e.fields()) for e in s.take_events())
        ts = [t for t in (a.get_timer(), b.get_timer()) if t is not None] + [x[0] for x in inflight]
        if not ts or min(ts) > until:
            return events, sent
        now = min(ts)
        for x in [x for x in inflight if x[0] <= now + 1e-9]:
            inflight.remove(x)
            x[1].receive(x[2], now)
        a.handle_timer(now)
        b.handle_timer(now)


def pair(a_interval=0.3, a_mult=3, b_interval=0.3, b_mult=3):
    return (BfdSession(BfdSettings(a_interval, a_mult, 1), "B"), BfdSession(BfdSettings(b_interval, b_mult, 2), "A"))


def test_control_packet_is_rfc_5880_section_4_1():
    raw = encode(Control(BfdState.UP, 1, 3, 0x11223344, 0x55667788, 0.3, 0.05, poll=True))
    # Vers 1 | Diag 1 ; Sta Up (3) | P ; Detect Mult 3 ; Length 24 ; discriminators ; intervals in us
    assert raw == bytes([0x21, 0xE0, 3, 24]) + bytes.fromhex("11223344 55667788") + (300000).to_bytes(4, "big") \
        + (50000).to_bytes(4, "big") + bytes(4)
    assert decode(raw) == Control(BfdState.UP, 1, 3, 0x11223344, 0x55667788, 0.3, 0.05, poll=True)
    with pytest.raises(BfdError):  # 6.8.6: Detect Mult zero is discarded
        decode(raw[:2] + b"\x00" + raw[3:])


def test_three_way_handshake_then_the_configured_rate():
    a, b = pair()
    events, sent = run(a, b, 4.0)
    # 6.8.3: not Up, packets at most once a second: 0, 1 s. Both receive Down at 0.01 s -> Init,
    # then Init at 1.01 s -> Up (6.8.6)
    assert [(t, who, f["from"], f["to"]) for t, who, f in events] == [
        (0.01, "A", "Down", "Init"), (0.01, "B", "Down", "Init"), (1.01, "A", "Init", "Up"),
        (1.01, "B", "Init", "Up")]
    # at Up the neighbor's last packet still said Desired Min TX 1 s: detection time 3 x 1 s (6.8.4)
    assert events[2][2]["detection_time"] == 3.0
    # Up: the interval drops to 0.3 s from the last packet (1 s): 1.3, 1.6, ... and the Poll the
    # neighbor sent is answered at once with a Final (1.31 s)
    assert sent["A"][:6] == [0.0, 1.0, 1.3, 1.31, 1.6, 1.9]
    assert a.detection_time == pytest.approx(0.9) and not a.polling


def test_detection_time_is_remote_multiplier_times_agreed_interval():
    # A: 300 ms x 3; B: 500 ms x 5. A detects with B's multiplier and the greater of its own
    # Required Min RX (0.3) and B's Desired Min TX (0.5): 5 x 0.5 = 2.5 s; B: 3 x max(0.5, 0.3) = 1.5 s
    a, b = pair(0.3, 3, 0.5, 5)
    events, sent = run(a, b, 20.0, cut=10.0)
    assert a.detection_time == 2.5 and b.detection_time == 1.5
    # 6.8.7: A sends every max(own Desired Min TX 0.3, B's Required Min RX 0.5) = 0.5 s
    up = [t for t in sent["A"] if 3 < t < 10]
    assert all(y - x == pytest.approx(0.5) for x, y in itertools.pairwise(up))
    down = {who: (t, f["diag"]) for t, who, f in events if f["from"] == "Up" and f["to"] == "Down"}
    last_from_b = max(t for t in sent["B"] if t < 10.0) + 0.01
    last_from_a = max(t for t in sent["A"] if t < 10.0) + 0.01
    assert down["A"] == (pytest.approx(last_from_b + 2.5), 1)   # Control Detection Time Expired
    assert down["B"] == (pytest.approx(last_from_a + 1.5), 1)


def test_neighbor_signalling_down_takes_the_session_down_with_diagnostic_3():
    a, b = pair()
    run(a, b, 3.0)
    assert a.state is b.state is BfdState.UP
    a.receive(encode(Control(BfdState.DOWN, 1, 3, 2, 1, 1.0, 0.3)), 3.0)
    (e,) = a.take_events()
    f = e.fields()
    assert (e.NAME, f["from"], f["to"], f["diag"]) == ("bfd_state", "Up", "Down", 3)


@pytest.mark.parametrize(("bfd", "message"), [
    ("{interval: 5ms, multiplier: 3}", "peers.cloud-bfd.bgp.bfd.interval: input should be greater than or equal "
     "to 0.01 (got 0.005)"),
    ("{interval: 300ms, multiplier: 0}", "peers.cloud-bfd.bgp.bfd.multiplier: input should be greater than or "
     "equal to 1 (got 0)"),
    ("{interval: 300ms, multipler: 3}", "peers.cloud-bfd.bgp.bfd.multipler: unknown key 'multipler'; allowed: "
     "interval, multiplier"),
])
def test_bad_bfd_settings_are_one_line_naming_file_and_field(tmp_path, capsys, bfd, message):
    from conftest import SCENARIOS

    from ipsecsim.cli import main
    text = (SCENARIOS / "bgp-bfd-vs-hold-timer-vs-dpd.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("bfd: {interval: 300ms, multiplier: 3}", "bfd: " + bfd, 1))
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(bad) in err and message in err and "Traceback" not in err
