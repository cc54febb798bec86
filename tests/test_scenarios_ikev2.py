"""The shipped IKEv2 scenarios, each checked against the documents it teaches."""

import pytest
from conftest import SCENARIOS, shipped_result
from factory import STRONGSWAN_GIVE_UP, strongswan_sends

from ipsecsim import load_scenario, simulate


def run(name, **kw):
    return simulate(load_scenario(SCENARIOS / f"{name}.yaml"), **kw)


def test_basic_two_round_trips():
    r = run("ikev2-basic")
    sent = r.select("message_sent")
    assert [(e.peer, e.get("exchange"), e.get("response")) for e in sent] == [
        ("A", "IKE_SA_INIT", False), ("B", "IKE_SA_INIT", True), ("A", "IKE_AUTH", False), ("B", "IKE_AUTH", True)]
    # link delay 5 ms: two round trips = 20 ms, plus what the strongSwan profile's cost table
    # charges on the way (docs/cpu.md, strongswan-5.9.8): A's key 7.1 ms; B's message and key 8.2
    # (strongSwan 5.9.8 computes the shared secret when IKE_AUTH arrives, ike_init.c build_r); A's
    # message, secret and keys 8.4; B's message, secret and keys 8.4 (AUTH, CHILD SA, policies 0);
    # A's message 1.1: 20 + 33.2 = 53.2 ms
    assert r.first("child_sa_established", "A").t == pytest.approx(0.0532)
    assert r.status("A") == r.status("B") == "ipsec_sa_established"


def test_psk_mismatch():
    r = run("ikev2-psk-mismatch")
    assert r.first("negotiation_failed", "B", notify="AUTHENTICATION_FAILED") is not None
    assert r.first("negotiation_failed", "A", notify="AUTHENTICATION_FAILED") is not None
    assert r.status("A") == r.status("B") == "ike_sa_not_established"


def test_proposal_mismatch():
    r = run("ikev2-proposal-mismatch")
    assert r.first("negotiation_failed", "A").get("notify") == "NO_PROPOSAL_CHOSEN"
    assert len(r.select("message_sent")) == 2  # refused in the first round trip


def test_dh_group_retry_costs_one_round_trip():
    r = run("ikev2-dh-group-retry")
    retry = r.first("ke_group_retry", "A")
    assert (retry.get("rejected"), retry.get("requested")) == (19, 14)
    # six legs of 5 ms (30 ms) plus the strongswan-5.9.8 costs (docs/cpu.md): A's ECP-256 key 0.05 x
    # 7.1 = 0.355, B's refusal (one message) 1.1, A reads it 1.1, A's MODP-2048 key 7.1, then the
    # 8.2 + 8.4 + 8.4 + 1.1 of test_basic_two_round_trips: 30 + 9.655 + 26.1 = 65.755 ms
    assert r.first("child_sa_established", "A").t == pytest.approx(0.065755)


def test_ts_not_mirrored_keeps_ike_sa():
    r = run("ikev2-ts-not-mirrored")
    assert r.first("negotiation_failed", "B").get("notify") == "TS_UNACCEPTABLE"
    assert r.first("ike_sa_established", "A") is not None and r.first("child_sa_established") is None
    assert r.status("A") == r.status("B") == "ipsec_sa_not_established"


def test_no_responder_gives_up_at_165_seconds():
    """strongSwan retransmission doc: 4 s x 1.8^n, 5 tries -> give up after 165 s."""
    r = run("ikev2-no-responder")
    # the first transmission leaves when A's MODP-2048 key is made (docs/cpu.md: 7.1 ms)
    sends = [e.t for e in r.select("message_sent", "A")]
    assert sends == pytest.approx([0.0071 + t for t in strongswan_sends()])  # whole-ms waits: ..., 89.478
    assert r.first("retransmit_gave_up", "A").t == pytest.approx(0.0071 + STRONGSWAN_GIVE_UP)  # 165.060
    assert r.status("A") == "ike_sa_not_established"


def test_lossy_link_still_establishes_with_visible_retransmissions():
    r = run("ikev2-lossy-link")
    assert r.status("A") == r.status("B") == "ipsec_sa_established"
    assert r.select("message_lost", reason="loss")
    assert any(e.get("retransmit") for e in r.select("message_sent", "A"))
    assert any(e.get("retransmit") for e in r.select("message_sent", "B"))  # cached response re-sent
    assert len(r.select("child_sa_established", "B")) == 1


def test_id_mismatch():
    r = run("ikev2-id-mismatch")
    f = r.first("negotiation_failed", "B")
    assert f.get("notify") == "AUTHENTICATION_FAILED" and "remote_id" in f.get("reason")


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_scenario_runs_deterministically(path):
    """Same scenario, same seed: the same events, field for field."""
    a = [e.to_dict() for e in shipped_result(path).events]
    b = [e.to_dict() for e in simulate(load_scenario(path)).events]
    assert a == b


def test_a_progress_callback_does_not_change_the_run():
    """The CLI's progress bar runs the simulation in 1 % steps of simulated time: the events are
    the same, in the same order."""
    from ipsecsim.trace.jsonl import dumps
    sc = load_scenario(SCENARIOS / "teach-ikev1-informational.yaml")
    seen: list[float] = []
    with_bar = simulate(sc, progress=lambda now, until: seen.append(now))
    assert [dumps(e) for e in with_bar.events] == [dumps(e) for e in simulate(sc).events]
    assert len(seen) == 100 and seen == sorted(seen) and seen[-1] == sc.duration
