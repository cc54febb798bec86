"""``ipsecsim compare`` against the timer captures S5-S9: real strongSwan 5.9.8 runs recorded by
``scripts/record-captures`` (scenarios/captures/strongswan-5.9.8/README.md: two charon daemons
in network namespaces, Debian 12 packages, dumpcap inside A's namespace). Expected values come
from the captures' packets and the daemons' logs kept beside them, and from strongSwan's source
(tag 5.9.8), never from the program's output.
"""

from __future__ import annotations

import itertools
import json
import random
import struct

import pytest
from conftest import SCENARIOS

from ipsecsim.cli import main
from ipsecsim.proto import timers
from ipsecsim.trace.capture import read_ike_messages

CAPTURES = SCENARIOS / "captures" / "strongswan-5.9.8"
S7 = CAPTURES / "S7_child_rekey_rand_A20_rand5.pcap"


@pytest.fixture
def compare(capsys):
    def run(*argv):
        code = main(["compare", *map(str, argv), "--json"])
        out, _ = capsys.readouterr()
        return code, json.loads(out)
    return run


# What is left once the sequences are identical is the processing time of the recording
# machine: these captures were recorded on lab 2, whose cost table strongswan-5.9.8-lab2
# (proto/cpu.py, docs/cpu.md) their scenarios use; and the recording machine's own scheduling.
TIMER_CAPTURES = [
    ("s5-ikev2-dpd-restart", "S5_ikev2_dpd_restart_rt1_1.8_3.pcap"),
    ("s6-ikev2-no-responder", "S6_ikev2_no_responder_rt1_1.8_5.pcap"),
    ("s8-child-rekey-equal", "S8_child_rekey_equal_A20_B20_rand0.pcap"),
    ("s9-ike-and-child-rekey", "S9_ike_and_child_rekey_A20_rand0.pcap"),
    ("s10-ikev2-silent-responder", "S10_ikev2_silent_responder_default_rt.pcapng"),
    ("s11-child-rekey-pfs", "S11_child_rekey_pfs_modp2048_A20_rand0.pcapng"),
]
WITHIN_10_MS = [
    ("s6-ikev2-no-responder", "S6_ikev2_no_responder_rt1_1.8_5.pcap"),
    ("s8-child-rekey-equal", "S8_child_rekey_equal_A20_B20_rand0.pcap"),
    ("s9-ike-and-child-rekey", "S9_ike_and_child_rekey_A20_rand0.pcap"),
    ("s10-ikev2-silent-responder", "S10_ikev2_silent_responder_default_rt.pcapng"),
]


@pytest.mark.parametrize("scenario, capture", TIMER_CAPTURES)
def test_every_timer_capture_has_the_captured_message_sequence(compare, scenario, capture):
    """Message for message the same sequence and IKEv2 message ids as the real daemons. The
    window of 50 ms covers S5's stalled last check (46 ms, below) and the end of S9, whose
    recording has no end but its last packet (the recorder was stopped before it wrote its end
    line): simulated messages up to 50 ms after it are compared."""
    _, report = compare(CAPTURES / f"{scenario}.yaml", CAPTURES / capture, "--tolerance", "50ms")
    assert report["sequence_differences"] == 0 and report["msg_id_differences"] == 0
    assert report["matched"] == len(read_ike_messages(CAPTURES / capture))


@pytest.mark.parametrize("scenario, capture", WITHIN_10_MS)
def test_every_timer_capture_is_reproduced_within_10_ms(compare, scenario, capture):
    """Identical message sequences and every message within 10 ms of the real daemons."""
    code, report = compare(CAPTURES / f"{scenario}.yaml", CAPTURES / capture)
    assert report["sequence_differences"] == 0 and report["msg_id_differences"] == 0
    assert abs(report["largest_deviation"]) <= 0.010
    assert code == 0


def _rows(report, exchange, sender, ike_sa=None):
    return [r for r in report["rows"] if r["kind"] == "match" and r["captured"]["exchange"] == exchange
            and r["captured"]["from"] == sender and not r["captured"]["response"]
            and (ike_sa is None or r["captured"]["ike_sa"] == ike_sa)]


def test_a_child_rekey_with_pfs_carries_ke_both_ways(compare):
    """S11: ESP proposals with PFS (aes128-sha256-modp2048). Each of A's CHILD rekeys is a
    CREATE_CHILD_SA of 480 octets both ways, the KE payload of MODP-2048 (256 octets of public
    value, RFC 7296 3.4) beside SA, Nonce and the traffic selectors, where S8's rekeys without
    PFS are 208 octets (RFC 7296 1.3.3). S11 was recorded on a heavily loaded machine: its
    instants are no timing reference (the rekey timer fired 16 ms late, A's shared secret took
    27 ms), so only the sequence is held against it (above)."""
    rekeys = [m for m in read_ike_messages(CAPTURES / "S11_child_rekey_pfs_modp2048_A20_rand0.pcapng")
              if m.exchange == "CREATE_CHILD_SA"]
    without = [m for m in read_ike_messages(CAPTURES / "S8_child_rekey_equal_A20_B20_rand0.pcap")
               if m.exchange == "CREATE_CHILD_SA"]
    assert len(rekeys) == 4 and {m.length for m in rekeys} == {480}
    assert {m.length for m in without} == {208}


def test_after_an_ike_rekey_the_old_sa_s_delete_leaves_before_the_moved_child_rekey(compare):
    """S9: A's IKE and CHILD rekey fall due together; the CHILD rekey waits behind the IKE
    rekey and moves to the new IKE SA. strongSwan 5.9.8 ike_rekey.c process_i() calls
    establish_new(), which queues the new SA's tasks as a job for another thread
    (lib->processor->queue_job), and then returns NEED_MORE so that this thread builds the
    Delete of the old SA (build_i_delete): the capture has the Delete first, the CHILD rekey on
    IKE SA #2 26 us later. The strongswan profile's rekey_handover: job does the same."""
    msgs = read_ike_messages(CAPTURES / "S9_ike_and_child_rekey_A20_rand0.pcap")
    first_rekey = [m for m in msgs if 20 < m.t < 21 and not m.response and m.src == "10.99.0.1"]
    assert [m.exchange for m in first_rekey] == ["CREATE_CHILD_SA", "INFORMATIONAL", "CREATE_CHILD_SA",
                                                 "INFORMATIONAL"]
    delete, moved = first_rekey[1], first_rekey[2]
    assert delete.spi_i == first_rekey[0].spi_i != moved.spi_i and moved.msg_id == 0
    assert 0 < moved.t - delete.t < 0.001
    _, report = compare(CAPTURES / "s9-ike-and-child-rekey.yaml", CAPTURES / "S9_ike_and_child_rekey_A20_rand0.pcap",
                        "--tolerance", "50ms")
    sim = [r["simulated"] for r in report["rows"] if r["simulated"] and not r["simulated"]["response"]
           and r["simulated"]["from"] == "A" and 20 < r["simulated"]["t"] < 21]
    assert [(m["exchange"], m["ike_sa"]) for m in sim] == [("CREATE_CHILD_SA", 1), ("INFORMATIONAL", 1),
                                                           ("CREATE_CHILD_SA", 2), ("INFORMATIONAL", 2)]


def test_a_profile_that_starts_moved_exchanges_inline_sends_the_child_rekey_first(compare, tmp_path):
    """rekey_handover: inline (the default of the other profiles, whose sources say nothing of
    it): the moved CHILD rekey starts while the IKE rekey's response is processed, before the
    old SA's Delete, so against S9 the two swap places."""
    ike = "rekey_time: 20s, rand_time: 0s}\n    child:"
    text = (CAPTURES / "s9-ike-and-child-rekey.yaml").read_text().replace(
        ike, ike.replace("}", ",\n          rekey_handover: inline}"), 1)
    assert "rekey_handover: inline" in text
    inline = tmp_path / "inline.yaml"
    inline.write_text(text)
    _, report = compare(inline, CAPTURES / "S9_ike_and_child_rekey_A20_rand0.pcap", "--tolerance", "50ms")
    assert report["sequence_differences"] > 0
    sim = [r["simulated"] for r in report["rows"] if r["simulated"] and not r["simulated"]["response"]
           and r["simulated"]["from"] == "A" and 20 < r["simulated"]["t"] < 21]
    assert [(m["exchange"], m["ike_sa"]) for m in sim][1:3] == [("CREATE_CHILD_SA", 2), ("INFORMATIONAL", 1)]


def test_the_delete_and_the_moved_child_rekey_race_on_a_loaded_machine():
    """S9b, S9 recorded again on a loaded machine (IKE_AUTH answered after 35 ms): the order is
    a race between the thread that sends the Delete and the job thread, so both occur: at
    20.110 s the moved CHILD rekey left 36 us before the Delete, at 40.134 s 48 us after it.
    The model takes the order of S9 (and of S9b's second rekey)."""
    msgs = read_ike_messages(CAPTURES / "S9b_ike_and_child_rekey_A20_rand0.pcapng")
    orders = []
    for second in (20, 40):
        burst = [m for m in msgs if second < m.t < second + 1 and not m.response and m.src == "10.99.0.1"]
        assert [m.exchange for m in burst].count("CREATE_CHILD_SA") == 2
        orders.append(tuple((m.exchange, m.msg_id) for m in burst[1:3]))
        assert abs(burst[2].t - burst[1].t) < 0.0001
    assert orders == [(("CREATE_CHILD_SA", 0), ("INFORMATIONAL", 3)), (("INFORMATIONAL", 3), ("CREATE_CHILD_SA", 0))]


def _epoch_lines(path):
    return [(float(stamp), what) for stamp, _, what in (line.partition(" ") for line in path.read_text().splitlines())]


def _first_record_epoch(pcap):
    """The classic pcap's first record header (ts_sec, ts_usec), read without the program."""
    data = pcap.read_bytes()
    assert data[:4] == bytes.fromhex("d4c3b2a1")  # little-endian, microseconds
    sec, usec = struct.unpack_from("<II", data, 24)
    return sec + usec / 1e6


def test_a_thawed_charon_answers_what_its_sockets_queued_once(compare):
    """S5: B is stopped (SIGSTOP) at 11.979 s and continued (SIGCONT) at 28.979 s (harness.log).
    Its kernel queued the liveness check (15.014 s) with its three retransmissions and the
    IKE_SA_INIT of A's restart with its retransmission; on SIGCONT charon reads them (B's log:
    port 500 first, socket_default_socket.c receiver()'s round robin) and answers the
    IKE_SA_INIT 3.5 ms after the thaw and the check once; the four copies are ignored (B's log:
    "ignoring request with ID 4, already processing" three times, "ID 0" once,
    ike_sa_manager.c checkout_by_message()). The scenario's freeze has inbound: queue."""
    run = CAPTURES / "S5_ikev2_dpd_restart_rt1_1.8_3"
    thaw = next(t for t, what in _epoch_lines(run / "harness.log") if what.startswith("thaw B"))
    thawed_at = thaw - _first_record_epoch(CAPTURES / "S5_ikev2_dpd_restart_rt1_1.8_3.pcap")
    assert abs(thawed_at - 28.979) < 0.001
    msgs = read_ike_messages(CAPTURES / "S5_ikev2_dpd_restart_rt1_1.8_3.pcap")
    after = [m for m in msgs if m.src == "10.99.0.2" and m.t > thawed_at]
    assert [(m.exchange, m.msg_id) for m in after[:2]] == [("IKE_SA_INIT", 0), ("INFORMATIONAL", 4)]
    assert after[0].t - thawed_at < 0.005
    log = (run / "B.charon.log").read_text()
    assert log.count("ignoring request with ID 4, already processing") == 3
    assert log.count("ignoring request with ID 0, already processing") == 1
    _, report = compare(CAPTURES / "s5-ikev2-dpd-restart.yaml", CAPTURES / "S5_ikev2_dpd_restart_rt1_1.8_3.pcap",
                        "--tolerance", "50ms")
    sim = [r["simulated"] for r in report["rows"] if r["simulated"] and r["simulated"]["from"] == "B"
           and r["simulated"]["t"] > 28.9]
    assert [(m["exchange"], m["msg_id"]) for m in sim[:2]] == [("IKE_SA_INIT", 0), ("INFORMATIONAL", 4)]
    assert report["sequence_differences"] == 0


def test_a_freeze_that_drops_what_arrives_does_not_reproduce_the_stopped_charon(compare, tmp_path):
    """The default freeze (inbound: drop, a hung box or a dead NIC) loses the queued
    IKE_SA_INIT: B answers only a later retransmission, and the stale answer to the check is
    missing."""
    text = (CAPTURES / "s5-ikev2-dpd-restart.yaml").read_text().replace(", inbound: queue}", "}")
    dropping = tmp_path / "drop.yaml"
    dropping.write_text(text)
    _, report = compare(dropping, CAPTURES / "S5_ikev2_dpd_restart_rt1_1.8_3.pcap", "--tolerance", "50ms")
    only = [(r["kind"], (r["captured"] or r["simulated"])["exchange"]) for r in report["rows"] if r["kind"] != "match"]
    assert ("capture_only", "INFORMATIONAL") in only and ("simulation_only", "IKE_SA_INIT") in only


def test_the_no_responder_capture_gives_up_after_five_retransmissions():
    """S6 (README, A's log): IKE_SA_INIT sent at 0 and retransmitted after 1000, 1800, 3240,
    5832 and 10497 ms (task_manager_v2.c retransmit(): (uint32_t)(1 s * 1000 * 1.8^n)); the
    captured waits after the first are those whole milliseconds within 1 ms."""
    msgs = [m for m in read_ike_messages(CAPTURES / "S6_ikev2_no_responder_rt1_1.8_5.pcap")
            if m.exchange == "IKE_SA_INIT"]
    assert len(msgs) == 6 and len({m.digest for m in msgs}) == 1
    waits = [b.t - a.t for a, b in itertools.pairwise(msgs)]
    rule = [timers.strongswan_retransmit_ms(1.0, 1.8, n, None) / 1000 for n in range(1, 6)]
    assert rule == [1.0, 1.8, 3.24, 5.832, 10.497]
    assert all(abs(w - r) < 0.005 for w, r in zip(waits, rule, strict=True))


def _allowed_child_soft_seconds(rekey: float, jitter: float) -> set[int]:
    """Every value ``timers.strongswan_apply_jitter`` can return, over a fine grid of draws."""
    class Fixed(random.Random):
        def __init__(self, u: float):
            super().__init__(0)
            self.u = u

        def random(self) -> float:
            return self.u
    return {int(timers.strongswan_apply_jitter(rekey, jitter, Fixed(k / 1000))) for k in range(1000)}


def test_captured_child_rekeys_with_rand_time_fall_on_the_whole_seconds_the_rule_allows():
    """S7: A's CHILD SA rekey_time 20 s, rand_time 5 s. strongSwan child_cfg.c apply_jitter():
    ``rekey - (jitter + 1) * (random() / (RAND_MAX + 1.0))`` truncated to uint64_t: 14..20 s
    (20 only when random() returns 0). Each captured CREATE_CHILD_SA request leaves a whole
    number of seconds (plus a few ms of job scheduling) after A installed the CHILD SA it
    rekeys, i.e. after the IKE_AUTH / CREATE_CHILD_SA response reached A."""
    allowed = _allowed_child_soft_seconds(20, 5)
    assert allowed == {14, 15, 16, 17, 18, 19, 20}
    msgs = read_ike_messages(S7)
    installs = [m.t for m in msgs if m.response and m.exchange in ("IKE_AUTH", "CREATE_CHILD_SA")]
    rekeys = [m.t for m in msgs if not m.response and m.exchange == "CREATE_CHILD_SA"]
    assert len(rekeys) >= 2
    for installed, rekey in zip(installs, rekeys, strict=False):
        whole = round(rekey - installed)
        assert whole in allowed - {20}
        assert 0 <= rekey - installed - whole < 0.010


def test_the_random_child_rekeys_have_the_captured_sequence_and_the_rule_s_instants(compare):
    """S7 against its scenario: a scenario cannot reproduce charon's draw, so the instants differ
    by whole seconds; what must hold is the sequence of every rekey the simulation reaches
    (CREATE_CHILD_SA request / response, then the INFORMATIONAL Delete of the old SA and its
    answer, message ids in step) and simulated gaps from the same set of whole seconds
    (14..19 s after the installation, plus the modelled processing time)."""
    _, report = compare(CAPTURES / "s7-child-rekey-rand.yaml", S7, "--tolerance", "10s")
    assert report["msg_id_differences"] == 0
    rows = report["rows"]
    matched = [r for r in rows if r["kind"] == "match"]
    last_simulated = max(r["simulated"]["t"] for r in rows if r["simulated"])
    # the only differences: rekeys the capture has after the simulation's last one
    assert all(r["kind"] == "capture_only" and r["captured"]["t"] > last_simulated
               for r in rows if r["kind"] != "match")
    sim = [r["simulated"] for r in matched]
    pattern = [(m["exchange"], m["response"]) for m in sim[4:8]]
    assert pattern == [("CREATE_CHILD_SA", False), ("CREATE_CHILD_SA", True), ("INFORMATIONAL", False),
                       ("INFORMATIONAL", True)]
    allowed = _allowed_child_soft_seconds(20, 5) - {20}
    installs = [m["t"] for m in sim if m["response"] and m["exchange"] in ("IKE_AUTH", "CREATE_CHILD_SA")]
    rekeys = [m["t"] for m in sim if not m["response"] and m["exchange"] == "CREATE_CHILD_SA"]
    assert len(rekeys) >= 2
    for installed, rekey in zip(installs, rekeys, strict=False):
        whole = round(rekey - installed)
        assert whole in allowed and abs(rekey - installed - whole) < 0.010


def test_equal_child_rekey_timers_do_not_collide_and_the_sides_take_turns(compare):
    """S8: rekey_time 20 s, rand_time 0 on both. No collision: B installed the CHILD SA when it
    sent the IKE_AUTH response, A when that response arrived, so B's timer fires first (20.016 s)
    and A's finds the SA already rekeyed; the responder of a rekey installs the new SA before
    its initiator, so at 40.017 s it is A's turn. The simulation has the same sequence and
    message ids (the instants: within 10 ms, above)."""
    msgs = read_ike_messages(CAPTURES / "S8_child_rekey_equal_A20_B20_rand0.pcap")
    rekeys = [(m.src, round(m.t)) for m in msgs if m.exchange == "CREATE_CHILD_SA" and not m.response]
    assert rekeys == [("10.99.0.2", 20), ("10.99.0.1", 40)]
    _, report = compare(CAPTURES / "s8-child-rekey-equal.yaml", CAPTURES / "S8_child_rekey_equal_A20_B20_rand0.pcap",
                        "--tolerance", "20ms")
    assert report["sequence_differences"] == 0 and report["msg_id_differences"] == 0
    assert report["matched"] == 12


S5_RUNS = ["S5_ikev2_dpd_restart_rt1_1.8_3.pcap"] + [f"S5{k}_ikev2_dpd_restart_rt1_1.8_3.pcapng" for k in "bcde"]


def _checks_of_the_restarted_sa(pcap):
    """(instant IKE SA #2 was up at A, A's liveness checks on it, B's answers): the capture's own
    packets."""
    msgs = read_ike_messages(CAPTURES / pcap)
    up = [m for m in msgs if m.exchange == "IKE_AUTH" and m.response][-1]
    mine = [m for m in msgs if m.exchange == "INFORMATIONAL" and m.spi_i == up.spi_i]
    return up.t, [m.t for m in mine if not m.response], [m.t for m in mine if m.response]


def test_s5_is_reproduced_within_10_ms_up_to_its_stalled_last_check(compare):
    """S5 against its scenario: every message within 10 ms but the last check and its answer,
    which left 25 and 45 ms after their instant on the recording machine (next test)."""
    _, report = compare(CAPTURES / "s5-ikev2-dpd-restart.yaml", CAPTURES / S5_RUNS[0], "--tolerance", "50ms")
    assert report["sequence_differences"] == 0 and report["msg_id_differences"] == 0
    rows = [r for r in report["rows"] if r["captured"]["t"] < 39.0]
    assert len(rows) == 20 and all(abs(r["dt"]) <= 0.010 for r in rows)
    late = [r["dt"] for r in report["rows"] if r["captured"]["t"] > 39.0]
    _, checks, _ = _checks_of_the_restarted_sa(S5_RUNS[0])
    # the simulated check keeps its 5 s: its deviation is the captured check's lateness
    assert late[0] == pytest.approx(-(checks[1] - checks[0] - 5.0), abs=0.003)


def test_s5_s_late_check_was_the_recording_machine_and_is_not_repeated():
    """The check at 39.017 s of S5 left 25 ms after its 5 s and its answer 20 ms after it. Not a
    thaw effect: A, whose job it is, was never stopped (B was), and that job had nothing queued
    (ike_sa.c send_dpd reschedules itself dpd_delay after it ran, scheduler.c runs a job when its
    time has come). The daemons' logs show the recording machine stalling every thread at once:
    A's job ran 17 ms late, then 9 ms passed between "generating" and "sending packet" in the same
    thread, and B's worker took the packet 19 ms after its receiver thread read it. Recorded four
    times more (S5b-S5e, scripts/record-captures S5, on a heavily loaded machine): the second check
    left 0.3-4.0 ms after its 5 s and was answered within 1 ms. The model's check job runs on time
    (no scheduling delay: 0 ms), at the floor of the measured spread, within 5 ms of every
    re-recorded run."""
    log_a = (CAPTURES / "S5_ikev2_dpd_restart_rt1_1.8_3" / "A.charon.log").read_text().splitlines()
    log_b = (CAPTURES / "S5_ikev2_dpd_restart_rt1_1.8_3" / "B.charon.log").read_text().splitlines()

    def at(lines, text, start=0):
        """(seconds of the day, index) of the first line from ``start`` on that holds ``text``."""
        i = next(k for k in range(start, len(lines)) if text in lines[k])
        h, m, sec = lines[i][:12].split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec), i + 1

    _, i = at(log_a, "IKE_SA lab[2] state change: CONNECTING => ESTABLISHED")
    first, i = at(log_a, "<lab|2> generating INFORMATIONAL request 2 [ ]", i)
    job, i = at(log_a, "<lab|2> sending DPD request", i)
    generated, i = at(log_a, "<lab|2> generating INFORMATIONAL request 3 [ ]", i)
    sent, _ = at(log_a, "sending packet: from 10.99.0.1[4500]", i)
    _, i = at(log_b, "<lab|2> parsed INFORMATIONAL request 2 [ ]")
    read, i = at(log_b, "02[NET] received packet: from 10.99.0.1[4500]", i)
    worker, _ = at(log_b, "<lab|2> parsed INFORMATIONAL request 3 [ ]", i)
    assert job - first - 5.0 == pytest.approx(0.017, abs=0.0015)
    assert sent - generated == pytest.approx(0.009, abs=0.0015)
    assert worker - read == pytest.approx(0.019, abs=0.0015)

    lateness, answered = [], []
    for pcap in S5_RUNS:
        _, checks, answers = _checks_of_the_restarted_sa(pcap)
        assert len(checks) == 2 and len(answers) == 2
        lateness.append(checks[1] - checks[0] - 5.0)
        answered.append(answers[1] - checks[1])
    assert lateness[0] > 0.020 and answered[0] > 0.015
    assert all(0 <= x < 0.005 for x in lateness[1:]) and all(x < 0.0015 for x in answered[1:])
    from conftest import run_shipped
    r = run_shipped("captures/strongswan-5.9.8/s5-ikev2-dpd-restart")
    sim = [e.t for e in r.select("dpd_probe_sent", peer="A") if e.t > 28 and not e.get("retry")]
    model = sim[1] - sim[0] - 5.0
    assert 0 <= model <= min(lateness) and all(abs(model - x) < 0.005 for x in lateness[1:])
