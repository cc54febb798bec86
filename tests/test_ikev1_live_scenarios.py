"""The IKEv1 rekey and DPD scenarios, checked against the documents they cite.

Expected values are computed here from the vendor documents (Huawei Cloud FAQ and API in
Huawei Cloud API, Huawei USG command reference, strongSwan swanctl.conf / task_manager_v1) and the
5 ms link delay, not copied from a run. Each scenario's own ``expect:`` block must pass too.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from conftest import SCENARIOS, run_shipped
from factory import STRONGSWAN_GIVE_UP

from ipsecsim.cli import main
from ipsecsim.config.loader import load_scenario
from ipsecsim.sim.runner import simulate

FILES = ["huawei-dpd-detects-crash", "huawei-dpd-detects-crash-usg-reading", "strongswan-ikev1-dpd-timeout",
         "dpd-msg-order-mismatch", "ikev1-dpd-seq-reuse", "ikev1-rekey", "ikev1-psk-change-bites-at-rekey"]
LINK = 0.005
# strongSwan retransmission defaults: 4 s x 1.8^(n-1), 5 retransmissions (docs.strongswan.org), each
# wait in whole ms (tests/factory.py strongswan_waits): 165.060 s


run = run_shipped


@pytest.mark.parametrize("name", FILES)
def test_runs_from_the_cli_and_meets_its_expectations(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(SCENARIOS / f"{name}.yaml"), "--duration", "20s"]) == 0
    assert name in capsys.readouterr().out
    report = simulate(load_scenario(SCENARIOS / f"{name}.yaml")).check()
    assert report.passed, report


@pytest.mark.parametrize(("name", "probes", "detect"), [("huawei-dpd-detects-crash", 3, 30 + 3 * 15),
                                                        ("huawei-dpd-detects-crash-usg-reading", 4, 30 + 4 * 15)])
def test_huawei_crash_detection_readings(name: str, probes: int, detect: float) -> None:
    """FAQ: abnormal after 3 failed probes (75 s); USG: retry-limit = retransmissions (90 s)."""
    r = run(name)
    last_inbound = 60 + LINK  # the crashed branch's flow stops arriving one link delay later
    sent = [e.t for e in r.select("dpd_probe_sent", "cloud")]
    assert sent == pytest.approx([last_inbound + 30 + 15 * i for i in range(probes)])
    [dead] = r.select("peer_dead", "cloud")
    assert dead.t == pytest.approx(last_inbound + detect)
    assert dead.get("last_inbound") == pytest.approx(last_inbound)
    assert r.first("negotiation_triggered", "cloud").t == pytest.approx(dead.t)  # action trap


def test_strongswan_ikev1_dpd_timeout() -> None:
    """strongSwan 5.9.8's check job (ike_sa.c send_dpd, started by set_state(IKE_ESTABLISHED))
    runs every dpd_delay (10 s) from the end of main mode and sends an R-U-THERE when nothing came
    for 10 whole seconds; each R-U-THERE schedules a check dpd_timeout - dpd_delay later
    (task_manager_v1.c queue_dpd; dpd_timeout unset: the retransmission give-up time, 165.06 s)
    that enforces the action when nothing arrived since (dpd_timeout_job.c). Both peers compute
    with the strongSwan profile's costs (docs/cpu.md, strongswan-5.9.8): main mode ends at A at
    65.4 ms (the scenario file has the sum); each ACK back 5 ms + 1.1 ms (B's message) + 5 ms +
    1.1 ms (A's) = 12.2 ms after its probe."""
    r = run("strongswan-ikev1-dpd-timeout")
    acks = [e.t for e in r.select("dpd_probe_acked", "A")]
    assert acks == pytest.approx([10.0776, 20.0776, 30.0776])
    [dead] = r.select("peer_dead", "A")
    assert dead.t == pytest.approx(40.0654 + STRONGSWAN_GIVE_UP - 10)
    late = [e.t for e in r.select("dpd_probe_sent", "A") if e.t > 35]
    assert late == pytest.approx([40.0654 + 10 * k for k in range(16)])  # never retransmitted, one per 10 s


def test_seq_numbers_of_the_strongswan_probes() -> None:
    """RFC 3706 7: first random with the top bit clear, then +1 per R-U-THERE; ACKs echo them."""
    r = run("strongswan-ikev1-dpd-timeout")
    seqs = [e.get("seq") for e in r.select("dpd_probe_sent", "A")]
    assert 0 < seqs[0] < 2**31 and seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert [e.get("seq") for e in r.select("dpd_probe_acked", "A")] == seqs[:3]


def test_msg_order_mismatch_false_death_and_unilateral_tunnel() -> None:
    r = run("dpd-msg-order-mismatch")
    [dead] = r.select("peer_dead", "router")
    assert dead.t == pytest.approx(0.04 + 30 + 4 * 15)  # USG reading on the router
    assert r.select("dpd_probe_acked") == []
    drops = r.select("traffic_dropped", "router")
    assert [e.get("reason") for e in drops] == ["unilateral_sa"]
    assert drops[0].get("start") == 120.0  # every ping from the first one, until the cloud gives up
    [cloud_dead] = r.select("peer_dead", "cloud")
    assert cloud_dead.t == pytest.approx(120 + 3 * 15)  # on-demand: first probe with the first ping


def test_msg_order_matching_keeps_the_tunnel() -> None:
    """The fix: the same dpd.msg on both ends; every probe is answered."""
    r = run("dpd-msg-order-mismatch",
            lambda d: d["peers"]["cloud"].update(dpd={"msg_order": "seq-notify-hash"}))
    assert r.select("peer_dead") == [] and r.select("traffic_dropped") == []
    assert len(r.select("dpd_probe_acked", "router")) == len(r.select("dpd_probe_sent", "router")) >= 3


def test_seq_reuse_flaps_the_tunnel() -> None:
    r = run("ikev1-dpd-seq-reuse")
    acked = [e.t for e in r.select("dpd_probe_acked", "A")]
    dead = [e.t for e in r.select("peer_dead", "A")]
    # 5 ms each way and one message (1.1 ms, strongswan-5.9.8 in docs/cpu.md) at each end: each
    # valid ACK comes 12.2 ms after its probe; the next probe, dpd_delay (30 s) later, gets a
    # stale number, and the check it scheduled dpd_timeout - dpd_delay = 60 s later (strongSwan
    # task_manager_v1.c queue_dpd, dpd_timeout_job.c) finds no valid ACK since
    assert dead == pytest.approx([a - 0.0122 + 30 + 60 for a in acked[:2]])
    ignored = [e for e in r.select("message_ignored", "A") if e.get("exchange") == "INFORMATIONAL"]
    assert len(ignored) == 4 and all("R-U-THERE-ACK" in e.get("reason") for e in ignored)
    # the check job due at the instant of the verdict (dpd_delay after the second probe, which
    # came dpd_delay after the first) finds the ISAKMP SA gone: no probe then
    probes = [e.t for e in r.select("dpd_probe_sent", "A")]
    assert not any(t == pytest.approx(d) for t in probes for d in dead)


def test_seq_echo_keeps_the_tunnel() -> None:
    r = run("ikev1-dpd-seq-reuse", lambda d: d["peers"]["B"].update(dpd={"ack_seq": "echo"}))
    assert r.select("peer_dead") == [] and len(r.select("dpd_probe_acked", "A")) == 9  # 30.0776 ... every 30 s


@pytest.mark.parametrize("seed", [2, 5])
def test_ikev1_rekey_day_zero_outage(seed: int) -> None:
    """swanctl.conf defaults over a day: IPsec rekeys every 54-60 min (23-26), ISAKMP
    re-authentications every 3.6-4 h (5-6), make-before-break: nothing dropped."""
    r = run("ikev1-rekey", seed=seed)
    for peer in "AB":
        assert 23 <= len(r.select("child_sa_rekeyed", peer)) <= 26
        assert 5 <= len(r.select("ike_sa_rekeyed", peer)) <= 6
    born: dict[tuple[str, str], float] = {}
    for e in r.events:
        if e.event in ("child_sa_established", "child_sa_rekeyed"):
            born[(e.peer, e.get("spi_in"))] = e.t
        if e.event == "sa_expired" and e.get("sa_type") == "child":
            # strongSwan child_cfg.c apply_jitter(): (uint64_t)(3600 - (360 + 1) * U[0, 1)), so
            # 3239 s is the shortest (3600 only when random() returns 0)
            assert e.get("kind") == "soft"
            assert 3239 - 1e-6 <= e.t - born[(e.peer, e.get("spi_in"))] <= 3600 + 0.011
        if e.event == "child_sa_deleted":  # the replaced SA ends at its hard lifetime, 3960 s
            assert e.get("reason") == "rekeyed"  # (strongSwan delete_rekeyed = no), or the peer's Delete
            assert e.t - born[(e.peer, e.get("spi_in"))] == pytest.approx(3960, abs=0.011)
    t = r.summary()["traffic"]["directions"]
    assert t["A->B"]["dropped_bytes"] == {} and t["B->A"]["dropped_bytes"] == {}
    assert t["B->A"]["delivered_packets"] == t["B->A"]["offered_packets"] == 1440


def test_psk_change_bites_at_the_first_isakmp_rekey() -> None:
    r = run("ikev1-psk-change-bites-at-rekey")
    fails = r.select("negotiation_failed")
    first = min(e.t for e in fails)
    soft = min(e.t for e in r.select("sa_expired", sa_type="ike", kind="soft"))
    # main mode message 5 leaves 4 link delays and the strongswan-5.9.8 costs of messages 2-5
    # (docs/cpu.md: 1.1 + (1.1 + 7.1) + (1.1 + 7.1 + 7.1 + 0.2) + (1.1 + 7.1 + 0.2) = 33.2 ms) after
    # message 1 and fails when the responder has read it (1.1 + 2 x 0 ms); A's ISAKMP SA came up
    # at 65.4 ms
    assert 27 * 60 <= soft <= 30 * 60 + 0.0654 and first == pytest.approx(soft + 5 * LINK + 0.0343)
    # before it, the IPsec rekeys under the old ISAKMP SA were unaffected by the new key
    assert [e for e in r.select("child_sa_rekeyed", "A") if 300 < e.t < soft]
    assert r.select("ike_sa_rekeyed") == []
    # the ISAKMP SA ends at its hard lifetime (rekey 30 min + over_time 10 % = 1980 s) at B, up
    # at 59.3 ms; its Delete reaches A (one link delay, one message: 6.1 ms) at the instant of A's
    # own, up at 65.4 ms: A's ISAKMP SA ends once, then
    assert [round(e.t, 4) for e in r.select("ike_sa_deleted", reason="expired")] == [1980.0593]
    assert [round(e.t, 4) for e in r.select("ike_sa_deleted", "A")] == [1980.0654]
    d = r.summary()["traffic"]["directions"]["A->B"]
    assert "sa_expired" in d["dropped_bytes"] and d["outages"][-1]["end"] == 45 * 60  # until the end of the run


def test_the_same_psk_change_without_rekey_problems_in_ikev2() -> None:
    """IKEv2 contrast: the IKE SA rekey (CREATE_CHILD_SA, keyed from SK_d) ignores the PSK."""
    def v2(d: dict[str, Any]) -> None:
        for p in d["peers"].values():
            p["ike"]["version"] = 2
    r = run("ikev1-psk-change-bites-at-rekey", v2)
    assert r.select("negotiation_failed") == []
    assert len(r.select("ike_sa_rekeyed", "A")) == 1 and r.select("traffic_dropped") == []


def test_ack_seq_bad_value_is_a_config_error(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    data = yaml.safe_load((SCENARIOS / "ikev1-dpd-seq-reuse.yaml").read_text())
    data["peers"]["B"]["dpd"]["ack_seq"] = "random"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "peers.B.dpd.ack_seq" in err and "echo" in err and "stale" in err and "Traceback" not in err
