"""Retransmission and dead peer detection between ipsecsim's IKEv2 core and a real charon.

One side is frozen with SIGSTOP (the kernel keeps queueing the datagrams sent to its
sockets) so that the other's liveness check (RFC 7296 2.4: an empty INFORMATIONAL request)
goes unanswered, is retransmitted on its schedule (2.1: the same message, same Message ID)
and is given up, the IKE SA then deleted without a Delete ("If the IKE SA is deemed dead,
the SA is deleted", 2.4). Schedules are strongSwan's exponential one (docs.strongswan.org
"Retransmission", ipsecsim/proto/retransmit.py): after the n-th transmission the sender
waits ``timeout * base**(n-1)``; with timeout 0.5 s, base 1.5 and 2 retries the
transmissions are at +0, +0.5, +1.25 s and the sender gives up at +2.375 s.

Charon's lines are strongSwan 5.9.8's (src/libcharon/sa/ikev2/task_manager_v2.c):
``sending DPD request``, ``retransmit %d of request with message ID %d``, ``giving up after
%d retransmits``, ``received retransmit of request with ID %d, retransmitting response``, and
ike_sa_manager.c's ``ignoring request with ID %u, already processing``.
"""

from __future__ import annotations

import os
import re
import signal
import time
from datetime import datetime
from typing import Any

import pytest
from rig import Rig, swanctl_conf

from ipsecsim.proto.retransmit import RetransmitSchedule

pytestmark = pytest.mark.live

PSK = "west-east-secret"
SCHEDULE = RetransmitSchedule(timeout=0.5, base=1.5, tries=2)
TOLERANCE = 0.15
"""Seconds: a process on a loaded machine wakes up late; both daemons measured well within."""


def peer(start: str, **more: Any) -> dict[str, Any]:
    return {"start": start, "ike": {"version": 2, "proposals": ["aes128-sha256-modp2048"], "psk": PSK},
            "child": {"proposals": ["aes128-sha256"]}, **more}


def named(out: dict[str, Any], event: str, **fields: Any) -> list[dict[str, Any]]:
    return [e for e in out["events"] if e["event"] == event and all(e.get(k) == v for k, v in fields.items())]


def log_times(log: str, text: str) -> list[float]:
    """Seconds of day of charon's log lines containing ``text`` (time_format %H:%M:%S + ms)."""
    out = []
    for line in log.splitlines():
        m = re.match(r"(\d\d:\d\d:\d\d\.\d{3}) ", line)
        if m and text in line:
            t = datetime.strptime(m.group(1), "%H:%M:%S.%f")
            out.append(t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6)
    return out


def assert_on_schedule(times: list[float]) -> None:
    """``times``: every transmission and the give-up instant, against SCHEDULE."""
    expected = [*SCHEDULE.send_offsets(), SCHEDULE.give_up_after()]  # 0, 0.5, 1.25, 2.375
    offsets = [(t - times[0]) % 86400 for t in times]  # a run across midnight too
    assert len(offsets) == len(expected), offsets
    assert all(abs(o - e) <= TOLERANCE for o, e in zip(offsets, expected, strict=True)), (offsets, expected)


def test_simulated_peers_liveness_retransmitted_while_charon_is_stopped(rig: Rig) -> None:
    rig.start_charon(swanctl_conf(rig))
    sim = peer("initiate", dpd={"delay": "1s"},
               retransmit={"timeout": "0.5s", "base": SCHEDULE.base, "tries": SCHEDULE.tries})
    proc = rig.start_live(rig.scenario(sim, peer("respond")), 4.0)
    assert rig.wait_log("CHILD_SA c{1} established", 10), rig.log()[-3000:]
    os.killpg(rig.daemon.pid, signal.SIGSTOP)  # type: ignore[union-attr]
    try:
        out = rig.finish(proc)
    finally:
        os.killpg(rig.daemon.pid, signal.SIGCONT)  # type: ignore[union-attr]
    checks = named(out, "message_sent", peer="S", exchange="INFORMATIONAL", response=False, payloads=[])
    assert [c["retransmit"] for c in checks] == [0, 1, 2] and len({c["msg_id"] for c in checks}) == 1
    gave_up = named(out, "retransmit_gave_up", peer="S", exchange="INFORMATIONAL")
    assert len(gave_up) == 1 and gave_up[0]["transmissions"] == SCHEDULE.transmissions
    assert_on_schedule([c["t"] for c in checks] + [gave_up[0]["t"]])
    # dead: the IKE SA is deleted without a Delete (nothing sent after giving up)
    dead = named(out, "peer_dead", peer="S")
    assert len(dead) == 1 and dead[0]["t"] == gave_up[0]["t"]
    assert named(out, "ike_sa_deleted", peer="S", reason="dpd")
    assert not [m for m in named(out, "message_sent", peer="S") if m["t"] > gave_up[0]["t"]]
    # charon, resumed, reads the three queued datagrams: one request and two retransmissions
    # of it (same Message ID, RFC 7296 2.1), each answered again (task_manager_v2.c) or, when
    # the first is still being processed by another thread, dropped (ike_sa_manager.c)
    msg_id = checks[0]["msg_id"]
    seen = (f"received retransmit of request with ID {msg_id}, retransmitting response",
            f"ignoring request with ID {msg_id}, already processing")
    parsed = f"parsed INFORMATIONAL request {msg_id} [ ]"
    end = time.monotonic() + 5
    # charon's threads log on their own: the worker parsing the first copy may write its line
    # after another thread has already dropped a later copy
    while sum(rig.log().count(line) for line in seen) < 2 or parsed not in rig.log():
        assert time.monotonic() < end, rig.log()[-4000:]
        time.sleep(0.05)
    log = rig.log()
    assert log.count(parsed) == 1
    assert sum(log.count(line) for line in seen) == 2


def test_charon_declares_the_frozen_simulated_peer_dead(rig: Rig) -> None:
    # charon probes after 1 s of silence (dpd_delay) on the same schedule (strongswan.conf
    # retransmit_timeout / retransmit_base / retransmit_tries) and gives up
    rig.start_charon(swanctl_conf(rig, conn="    dpd_delay = 1s"),
                     settings=f"  retransmit_timeout = {SCHEDULE.timeout}\n  retransmit_base = {SCHEDULE.base}\n")
    # --keep: S sends no Delete at the end (charon, having given up, would not answer it)
    proc = rig.start_live(rig.scenario(peer("initiate"), peer("respond")), 10.0, "--keep")
    assert rig.wait_log("CHILD_SA c{1} established", 10), rig.log()[-3000:]
    os.kill(proc.pid, signal.SIGSTOP)  # `ip netns exec` execs python: this is the live peer
    try:
        assert rig.wait_log("giving up after 2 retransmits", 8), rig.log()[-3000:]
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    time.sleep(0.3)  # S reads what queued up while it was stopped; Ctrl-C then ends the run
    proc.send_signal(signal.SIGINT)
    out = rig.finish(proc)
    log = rig.log()
    sends = log_times(log, "generating INFORMATIONAL request 0 [ ]") + \
        log_times(log, "retransmit 1 of request with message ID 0") + \
        log_times(log, "retransmit 2 of request with message ID 0")
    assert_on_schedule(sends + log_times(log, "giving up after 2 retransmits"))
    assert "IKE_SA lab[1] state change: ESTABLISHED => DESTROYING" in log
    assert "sending DPD request" in log and rig.list_sas().strip() == ""
    # S, resumed, finds charon's three queued requests: one liveness check and its two
    # retransmissions (the same Message ID); it answers each, the answer repeated (RFC 7296 2.1)
    got = named(out, "message_received", peer="S", exchange="INFORMATIONAL", response=False, payloads=[])
    assert len(got) == SCHEDULE.transmissions and {g["msg_id"] for g in got} == {0}
    answers = named(out, "message_sent", peer="S", exchange="INFORMATIONAL", response=True)
    assert [a["retransmit"] for a in answers] == [0, 1, 2]
