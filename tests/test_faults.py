"""Declarative, seeded fault injection: each fault changes the story the way it should."""

import random

import pytest
from factory import scenario_dict

from ipsecsim import load_scenario, simulate
from ipsecsim.sim.loss import Bernoulli, GilbertElliott


def run(faults, a=None, b=None, **top):
    return simulate(load_scenario(scenario_dict(a, b, faults=faults, **top)))


def test_gilbert_elliott_long_run_loss_and_burst_length():
    """Two-state channel: stationary bad share p/(p+r), mean bad burst 1/r datagrams."""
    ge = GilbertElliott(p=0.02, r=0.25)
    rng = random.Random(1)
    lost = [ge.lost(rng) for _ in range(200_000)]
    assert sum(lost) / len(lost) == pytest.approx(0.02 / 0.27, rel=0.05)
    bursts, run_len = [], 0
    for x in lost:
        if x:
            run_len += 1
        elif run_len:
            bursts.append(run_len)
            run_len = 0
    assert sum(bursts) / len(bursts) == pytest.approx(1 / 0.25, rel=0.05)
    assert Bernoulli(0.1).mean == 0.1 and ge.mean == pytest.approx(0.02 / 0.27)


def test_one_way_loss_window_only_drops_that_direction():
    r = run([{"at": 0, "kind": "loss", "loss": 1.0, "direction": "A->B", "duration": "10s"}])
    lost = r.select("message_lost")
    assert lost and all(e.peer == "A" for e in lost)
    # A's sends at 0 and 4 s fall in the window; the retransmission at 11.2 s gets through
    assert [e.t for e in lost] == pytest.approx([0, 4])
    assert r.first("child_sa_established", "A").t == pytest.approx(11.2 + 0.02)


def test_delay_window():
    r = run([{"at": 0, "kind": "delay", "delay": "1500ms", "duration": "2s"}])
    # the first request and its response travel 1.5 s each; the rest 5 ms
    assert r.first("message_received", "B").t == pytest.approx(1.5)
    assert r.first("child_sa_established", "A").t == pytest.approx(3.0 + 0.010)


def test_link_down_window_from_the_link_section():
    r = run([], link={"delay": "5ms", "down": [{"from": 0, "to": "5s"}]})
    assert [e.get("reason") for e in r.select("message_lost")] == ["link_down", "link_down"]
    assert r.first("child_sa_established", "A").t == pytest.approx(11.2 + 0.02)


def test_crash_loses_state_silently_and_restart_boots_fresh():
    """The restarted initiator sends INITIAL_CONTACT (RFC 7296 2.4); the responder deletes
    the stale IKE SA it still had."""
    r = run([{"at": "10s", "kind": "crash", "peer": "A", "duration": "20s"}])
    assert [e.get("kind") for e in r.select("fault")] == ["crash", "restart"]
    assert not r.select("message_sent", "A", exchange="INFORMATIONAL")  # no DELETE from a crash
    inits = [e for e in r.select("message_sent", "A") if e.get("exchange") == "IKE_SA_INIT"]
    assert [e.t for e in inits] == pytest.approx([0, 30])
    assert inits[0].get("spi_i") != inits[1].get("spi_i")
    deleted = r.first("ike_sa_deleted", "B")
    assert deleted.get("reason") == "initial_contact" and deleted.get("spi_i") == inits[0].get("spi_i")
    assert r.status("A") == r.status("B") == "ipsec_sa_established"


def test_one_sided_psk_change_breaks_the_next_negotiation_only():
    """Huawei Cloud FAQ: 'parameters changed on one side while in use'. The running SA is not
    affected; the next negotiation fails authentication."""
    r = run([{"at": "5s", "kind": "reconfigure", "peer": "B", "set": {"ike": {"psk": "changed"}}},
             {"at": "10s", "kind": "crash", "peer": "A", "duration": "1s"}])
    assert r.select("child_sa_established", "A")[0].t < 5
    f = r.first("negotiation_failed", "B")
    assert f.t > 11 and f.get("notify") == "AUTHENTICATION_FAILED"
    assert r.status("A") == "ike_sa_not_established"


def test_multi_exit_switch_makes_negotiation_leave_from_the_wrong_address():
    """Huawei Cloud FAQ: with several exits, traffic to the cloud gateway may leave through a port
    other than the negotiating one; the cloud has no connection for that address."""
    r = run([{"at": "5s", "kind": "address", "peer": "A", "address": "10.99.0.11"},
             {"at": "10s", "kind": "crash", "peer": "A", "duration": "1s"}], duration="5m")
    ignored = r.select("message_ignored", "B")
    assert ignored and "no connection configured for 10.99.0.11" in ignored[0].get("reason")
    assert r.first("retransmit_gave_up", "A").t == pytest.approx(11 + 165.06, abs=0.01)
    assert r.status("A") == "ike_sa_not_established"


def test_faults_are_events():
    r = run([{"at": "1s", "kind": "freeze", "peer": "B", "duration": "2s"},
             {"at": "4s", "kind": "loss", "loss": {"model": "gilbert-elliott", "p": 0.1, "r": 0.5}}])
    kinds = [(e.t, e.peer, e.get("kind"), e.get("undo")) for e in r.select("fault")]
    assert kinds == [(1, "B", "freeze", None), (3, "B", "unfreeze", True), (4, "link", "loss", None)]


def test_reconfigured_start_policy_reaches_the_data_plane():
    """A reconfigure fault changes the whole side, data plane included: a gateway switched from
    responder-only to a trap policy (start: on-traffic) negotiates on the next packet that
    matches it (RFC 4301 5.2: an outbound packet with no SA makes IKE negotiate one)."""
    r = run([{"at": "10500ms", "kind": "reconfigure", "peer": "A", "set": {"start": "on-traffic"}}],
            a={"start": "respond"}, duration=30,
            traffic=[{"name": "p", "kind": "ping", "from": "A", "to": "B", "interval": 1, "start": 1}])
    # pings at 1..10 s hit no policy able to negotiate; the one at 11 s triggers A
    assert r.first("negotiation_triggered", "A").t == pytest.approx(11)
    assert r.first("message_sent", "A").t == pytest.approx(11)
    assert r.status("A") == "ipsec_sa_established"


def test_a_crashed_peer_reports_no_sa_a_frozen_one_keeps_them():
    """A crash loses all state (DESIGN: crash = state lost, silent): the final state of a peer
    that never restarts has no SA, whatever its IKE daemon held before. A frozen (hung) peer
    still holds its SAs; both say why they are down."""
    r = run([{"at": "10s", "kind": "crash", "peer": "A"}, {"at": "10s", "kind": "freeze", "peer": "B"}])
    peers = r.summary()["peers"]
    assert (peers["A"]["status"], peers["A"]["down"]) == ("ike_sa_not_established", "crashed")
    assert peers["A"]["ike_sas"] == [] and peers["A"]["child_sas"] == []
    assert (peers["B"]["status"], peers["B"]["down"]) == ("ipsec_sa_established", "frozen")
    assert run([]).summary()["peers"]["A"]["down"] is None


def test_recreating_a_connection_deletes_its_sas_tells_the_peer_and_starts_over():
    """Deleting a connection deletes its IKE SA with an INFORMATIONAL [ D ] (RFC 7296 1.4.1:
    deleting an IKE SA closes its CHILD SAs too); the new connection starts from fresh state as
    configured: an initiator negotiates again at once, with new SPIs."""
    r = run([{"at": "10s", "kind": "recreate", "peer": "A"}])
    sent = [e for e in r.select("message_sent", "A") if e.t == 10]
    assert [(e.get("exchange"), e.get("payloads")) for e in sent] == [("INFORMATIONAL", ["D"]),
                                                                         ("IKE_SA_INIT", sent[1].get("payloads"))]
    assert [(e.get("reason")) for e in r.select("ike_sa_deleted", "A")] == ["recreated"]
    assert r.first("ike_sa_deleted", "B").get("reason") == "deleted_by_peer"
    firsts = r.select("ike_sa_established", "A")
    assert len(firsts) == 2 and firsts[0].get("spi_i") != firsts[1].get("spi_i")
    assert r.status("A") == r.status("B") == "ipsec_sa_established"


def test_recreating_an_ikev1_connection_deletes_ipsec_and_isakmp_sas_with_notifications():
    """IKEv1 deletes each SA kind separately (RFC 2409 5.7, RFC 2408 3.15): first the IPsec SA
    (protocol ESP, its SPI) and then the ISAKMP SA, both protected by HASH(1)."""
    v1 = {"ike": {"version": 1}}
    r = run([{"at": "10s", "kind": "recreate", "peer": "B", "set": {"start": "respond"}}], a=v1, b=v1)
    infos = [e.get("payloads") for e in r.select("message_sent", "B") if e.get("exchange") == "INFORMATIONAL"]
    assert infos == [["HASH", "D"], ["HASH", "D"]]
    assert [e.get("reason") for e in r.select("child_sa_deleted", "A")][:1] == ["deleted_by_peer"]
    assert r.first("ike_sa_deleted", "A").get("reason") == "deleted_by_peer"


def test_set_only_changes_reconfigure_and_recreate_faults(tmp_path):
    from ipsecsim.errors import ConfigError
    with pytest.raises(ConfigError, match="'set' applies to reconfigure and recreate faults, not crash"):
        load_scenario(scenario_dict(faults=[{"at": 1, "kind": "crash", "peer": "A", "set": {"start": "respond"}}]))


def test_a_recreated_connection_is_checked_like_a_configured_one():
    """IKEv1 phase 1 knows CBC ciphers only (RFC 2409 Appendix A): switching a peer whose IKE
    proposal is AES-GCM to IKEv1 is refused at load time, naming the fault and the field."""
    from ipsecsim.errors import ConfigError
    gcm = {"ike": {"proposals": ["aes128gcm16-prfsha256-modp2048"]}}
    with pytest.raises(ConfigError) as e:
        load_scenario(scenario_dict(gcm, faults=[{"at": 10, "kind": "recreate", "peer": "A",
                                                  "set": {"ike": {"version": 1}}}]))
    assert e.value.path == "faults[0].set (with these changes, ike.proposals[0])"
    assert "not available in IKEv1 phase 1" in e.value.message


def test_a_running_connection_cannot_change_its_ike_version():
    from ipsecsim.errors import ConfigError
    with pytest.raises(ConfigError) as e:
        load_scenario(scenario_dict(faults=[{"at": 10, "kind": "reconfigure", "peer": "A",
                                             "set": {"ike": {"version": 1}}}]))
    assert e.value.path == "faults[0].set.ike.version" and "use kind: recreate" in e.value.message


def test_changes_accumulate_in_time_order():
    """A later reconfigure changes the settings the earlier recreate made, not the original
    ones: both peers recreated as IKEv1 stay IKEv1 after A's rekey time changes."""
    faults = [{"at": 20, "kind": "reconfigure", "peer": "A", "set": {"child": {"rekey_time": "30s"}}},
              {"at": 10, "kind": "recreate", "peer": "A", "set": {"ike": {"version": 1}}},
              {"at": 10, "kind": "recreate", "peer": "B", "set": {"ike": {"version": 1}}}]
    r = run(faults)
    assert [p.settings.ike.version for p in r.peers.values()] == [1, 1]
    assert r.status("A") == r.status("B") == "ipsec_sa_established"
    assert [e.get("mode") for e in r.select("ike_sa_established", "A") if e.t > 10] == ["main"]


@pytest.mark.parametrize("faults,message", [
    ([{"at": 10, "kind": "crash", "peer": "A", "duration": 30}, {"at": 20, "kind": "recreate", "peer": "A"}],
     "faults[1]: A is crashed at 20s (faults[0]): a gateway that does not run cannot delete and recreate its "
     "connection; restart it first"),
    # the end of a window is still inside it (the undo runs after faults due at that instant)
    ([{"at": 10, "kind": "freeze", "peer": "B", "duration": 10}, {"at": 20, "kind": "recreate", "peer": "B"}],
     "faults[1]: B is frozen at 20s (faults[0])"),
    ([{"at": 10, "kind": "crash", "peer": "A"}, {"at": 30, "kind": "recreate", "peer": "A"}],
     "A is crashed at 30s"),
    ([{"at": 10, "kind": "link_down", "direction": "A->B"}, {"at": 20, "kind": "link_up"}],
     "faults[1]: link_up at 20s ends no link_down in effect for the whole link"),
    ([{"at": 10, "kind": "link_down", "duration": 5}, {"at": 20, "kind": "link_up"}],
     "link_up at 20s ends no link_down in effect"),
])
def test_faults_that_would_do_nothing_are_refused(faults, message):
    from ipsecsim.errors import ConfigError
    with pytest.raises(ConfigError) as e:
        load_scenario(scenario_dict(faults=faults))
    assert message in f"{e.value.path}: {e.value.message}"


@pytest.mark.parametrize("faults", [
    [{"at": 10, "kind": "crash", "peer": "A"}, {"at": 15, "kind": "restart", "peer": "A"},
     {"at": 20, "kind": "recreate", "peer": "A"}],
    [{"at": 10, "kind": "freeze", "peer": "A", "duration": 5}, {"at": 20, "kind": "recreate", "peer": "A"}],
    [{"at": 10, "kind": "link_down", "between": ["A", "B"]}, {"at": 20, "kind": "link_up", "between": ["B", "A"]}],
])
def test_faults_in_a_sensible_order_are_accepted(faults):
    assert load_scenario(scenario_dict(faults=faults)).config.faults


def test_recreate_while_an_exchange_is_in_flight_sends_the_delete_after_it():
    """IKEv2 window size 1 (RFC 7296 2.3): B's liveness check leaves at 5.015 s (dpd_delay 5 s
    after the SA came up at 15 ms); B is recreated 2 ms later. Its Delete waits for the
    response (5.025 s), then goes out as the next request; A deletes its SAs when it arrives."""
    b = {"dpd": {"delay": "5s", "action": "clear"}}
    r = run([{"at": 5.017, "kind": "recreate", "peer": "B"}], b=b, link={"delay": "5ms"})
    infos = [(round(e.t, 3), e.get("msg_id"), e.get("payloads")) for e in r.select("message_sent", "B")
             if e.get("exchange") == "INFORMATIONAL" and not e.get("response")]
    assert infos == [(5.015, 0, []), (5.025, 1, ["D"])]
    assert [(round(e.t, 3), e.get("reason")) for e in r.select("ike_sa_deleted")] == [
        (5.03, "deleted_by_peer"), (5.035, "recreated")]


def test_a_fault_or_flow_after_the_end_of_the_run_is_refused():
    """The scenario file contradicts itself; a run made shorter with --duration is fine."""
    from ipsecsim.errors import ConfigError
    with pytest.raises(ConfigError) as e:
        load_scenario(scenario_dict(faults=[{"at": 60, "kind": "crash", "peer": "A"}]))  # duration 60 s
    assert e.value.path == "faults[0].at" and "would never happen" in e.value.message
    with pytest.raises(ConfigError) as e:
        load_scenario(scenario_dict(traffic=[{"kind": "ping", "from": "A", "to": "B", "start": "2m"}]))
    assert e.value.path == "traffic[0].start" and "would never start" in e.value.message
    sc = load_scenario(scenario_dict(faults=[{"at": 50, "kind": "crash", "peer": "A"}]))
    assert simulate(sc, duration=20).select("fault") == []


def test_a_link_up_may_end_a_timed_link_down_early():
    """link_down at 10 s for 100 s, link_up at 20 s: the link is back at 20 s, and the end of
    the window has nothing left to undo (no second event, no error)."""
    r = run([{"at": 10, "kind": "link_down", "duration": 100}, {"at": 20, "kind": "link_up"}], duration=200,
            traffic=[{"name": "p", "kind": "ping", "from": "A", "to": "B", "interval": 1, "start": 5}])
    assert [(e.t, e.get("kind")) for e in r.select("fault")] == [(10, "link_down"), (20, "link_up")]
    assert r.summary()["traffic"]["flows"]["p"]["dropped_packets"] == {"link_down": 10}


def test_a_link_up_may_end_a_window_of_the_link_section():
    r = run([{"at": 20, "kind": "link_up"}], duration=60, link={"down": [{"from": 10, "to": 50}]},
            traffic=[{"name": "p", "kind": "ping", "from": "A", "to": "B", "interval": 1, "start": 5}])
    assert r.summary()["traffic"]["flows"]["p"]["dropped_packets"] == {"link_down": 10}


def test_an_explicit_restart_ends_a_timed_crash():
    """crash at 10 s for 100 s, restart at 20 s: one boot; the end of the window does not reboot
    the running gateway again."""
    r = run([{"at": 10, "kind": "crash", "peer": "B", "duration": 100}, {"at": 20, "kind": "restart", "peer": "B"}],
            duration=200)
    assert [(e.t, e.get("kind")) for e in r.select("fault")] == [(10, "crash"), (20, "restart")]
    assert r.summary()["peers"]["B"]["down"] is None


def test_faults_at_zero_boot_the_gateway_once():
    for kind in ("restart", "recreate"):
        r = run([{"at": 0, "kind": kind, "peer": "A"}])
        inits = [e for e in r.select("message_sent", "A") if e.get("exchange") == "IKE_SA_INIT"]
        assert len(inits) == 1, kind


def test_a_reboot_forgets_the_deletes_a_recreated_connection_was_still_sending():
    """A's Delete after the recreate at 30 s is lost (A->B down) and retransmitted; the gateway
    reboots at 35 s: its state, the old connection's Delete included, is gone."""
    r = run([{"at": 29, "kind": "link_down", "direction": "A->B", "duration": 30},
             {"at": 30, "kind": "recreate", "peer": "A"}, {"at": 35, "kind": "restart", "peer": "A"}], duration=200)
    deletes = [e.t for e in r.select("message_sent", "A") if e.get("payloads") == ["D"]]
    assert deletes and max(deletes) < 35
    assert not [e for e in r.select("ike_sa_deleted", "A") if e.get("reason") == "recreated"]


@pytest.mark.parametrize("faults,words", [
    ([{"at": 10, "kind": "freeze", "peer": "A", "duration": 40}, {"at": 20, "kind": "crash", "peer": "A"},
      {"at": 30, "kind": "restart", "peer": "A"}, {"at": 40, "kind": "recreate", "peer": "A"}],
     "A is frozen at 40s (faults[0])"),
    ([{"at": 10, "kind": "crash", "peer": "A"}, {"at": 20, "kind": "freeze", "peer": "A"},
      {"at": 30, "kind": "unfreeze", "peer": "A"}, {"at": 40, "kind": "recreate", "peer": "A"}],
     "A is crashed at 40s (faults[0])"),
    ([{"at": 10, "kind": "recreate", "peer": "A", "set": {"address": "10.99.0.9"}}], "use a fault of kind address"),
])
def test_crashed_and_frozen_are_separate_states(faults, words):
    from ipsecsim.errors import ConfigError
    with pytest.raises(ConfigError) as e:
        load_scenario(scenario_dict(faults=faults, duration=100))
    assert words in str(e.value)


def test_a_stopped_process_answers_what_its_socket_queued_when_continued():
    """freeze with inbound: queue is a SIGSTOPped daemon: its kernel keeps the IKE_SA_INIT
    that arrives at 0 s and the thawed B answers it at 2 s; the default freeze (a hung box)
    loses it, and A gets its answer only after retransmitting (strongSwan: 4 s)."""
    queued = run([{"at": 0, "kind": "freeze", "peer": "B", "duration": "2s", "inbound": "queue"}])
    assert not queued.select("message_lost")
    assert queued.first("ike_sa_established", "B").t == pytest.approx(2.0, abs=0.05)
    dropped = run([{"at": 0, "kind": "freeze", "peer": "B", "duration": "2s"}])
    assert [e.get("reason") for e in dropped.select("message_lost")] == ["peer_frozen"]
    assert dropped.first("ike_sa_established", "B").t == pytest.approx(4.0, abs=0.05)
    fault = queued.first("fault", "B")
    assert fault.get("inbound") == "queue"


def test_what_a_full_socket_buffer_cannot_take_is_lost():
    """Each queued datagram is charged 1280 bytes (measured on Linux 6.18, veth: the default
    212992-byte buffer of an unread UDP socket held 166 datagrams of 464 octets, 212480 bytes;
    sim/sockq.py). A 2560-byte buffer holds A's IKE_SA_INIT and its first retransmission (4 s);
    the second (11.2 s) is lost with reason socket_buffer_full."""
    from ipsecsim.proto.endpoint import Datagram
    from ipsecsim.sim.sockq import RMEM_DEFAULT, SocketQueues
    q = SocketQueues()
    assert RMEM_DEFAULT == 212992
    fits = sum(q.offer(Datagram("10.99.0.1", 500, "10.99.0.2", 500, object())) for _ in range(300))
    assert fits == 166
    r = run([{"at": 0, "kind": "freeze", "peer": "B", "duration": "20s", "inbound": "queue",
              "receive_buffer": 2560}])
    lost = r.select("message_lost")
    assert [(round(e.t, 1), e.get("reason"), e.get("retransmit")) for e in lost] == [(11.2, "socket_buffer_full", 2)]
    # the thawed B reads the request and its copy: it answers once, the copy is ignored
    ignored = [e for e in r.select("message_ignored", "B") if e.get("reason") == "already processing"]
    assert [(e.t, e.get("retransmit")) for e in ignored] == [(20, 1)]


def test_the_thawed_daemon_reads_its_sockets_round_robin_port_500_first():
    """strongSwan socket_default_socket.c receiver(): a round-robin over its sockets, so a
    thawed charon reads port 500 and 4500 in turn, whatever order the datagrams arrived in."""
    from ipsecsim.proto.endpoint import Datagram
    from ipsecsim.sim.sockq import SocketQueues
    q = SocketQueues()
    a, b, c = object(), object(), object()
    for port, msg in ((4500, a), (4500, a), (500, b), (4500, c), (500, b)):
        assert q.offer(Datagram("10.99.0.1", port, "10.99.0.2", port, msg))
    order = [(d.dport, d.message, copy) for d, copy in q.drain()]
    assert order == [(500, b, False), (4500, a, False), (500, b, True), (4500, a, True), (4500, c, False)]


@pytest.mark.parametrize("fault, words", [
    ({"at": 1, "kind": "crash", "peer": "B", "inbound": "queue"}, "'inbound' applies to freeze faults"),
    ({"at": 1, "kind": "freeze", "peer": "B", "receive_buffer": 4096}, "'receive_buffer' applies to freeze"),
    ({"at": 1, "kind": "freeze", "peer": "B", "inbound": "keep"}, "inbound"),
])
def test_freeze_inbound_options_are_checked(fault, words):
    from ipsecsim.errors import ConfigError
    with pytest.raises(ConfigError) as e:
        load_scenario(scenario_dict(faults=[fault]))
    assert words in str(e.value)


def test_a_queueing_freeze_can_be_expected_by_its_fields():
    """The fault event names its inbound mode, and an expect: block can match on it."""
    from ipsecsim.check.evaluate import evaluate
    sc = scenario_dict(faults=[{"at": 0, "kind": "freeze", "peer": "B", "duration": "2s", "inbound": "queue"}],
                       expect=[{"event": "fault", "peer": "B", "kind": "freeze", "inbound": "queue", "count": 1}])
    r = simulate(load_scenario(sc))
    faults = [(e.get("kind"), e.get("inbound")) for e in r.select("fault", "B")]
    assert faults == [("freeze", "queue"), ("unfreeze", None)]
    assert evaluate(r).passed
