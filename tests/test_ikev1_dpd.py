"""IKEv1 dead peer detection (RFC 3706) between two cores (PeerPair, explicit time).

The wire contents are read back from the encrypted bytes with nothing but the RFC 2409
Appendix B IV rule and an independent payload reader; each DPD outcome (answered probes, the
Huawei and strongSwan styles, a wrong sequence number, a payload order mismatch, every
action) is checked against the numbers of the documents cited in each test.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from factory import STRONGSWAN_GIVE_UP
from peerpair import PeerPair, ping
from test_ikev1_phase1 import aes_cbc
from test_ikev1_tshark import write_pcap
from v1util import chain, v1_pair, wire_msgs

from ipsecsim.proto.ikev1.message import VID_DPD, Notify
from ipsecsim.proto.sa import ChildState

A_ADDR, B_ADDR = "10.99.0.1", "10.99.0.2"
# Huawei Cloud vpn_connection dpd defaults (Huawei Cloud API): idle 30 s, retransmit 15 s, 3 retries
HUAWEI = {"delay": "30s", "retry_interval": "15s", "retries": 3, "ikev1_style": "retry", "mode": "periodic",
          "gave_up_deletes": False}  # action none keeps the SAs (unlike strongSwan, whose none is clear)


def silence(pair: PeerPair, name: str, after: float) -> None:
    """From ``after`` on, nothing ``name`` sends arrives (a frozen or crashed peer)."""
    addr = A_ADDR if name == "A" else B_ADDR
    pair.drop = lambda d, n: pair.now >= after and d.src == addr


def dpd_pair(a_dpd: dict[str, Any] | None = None, b_dpd: dict[str, Any] | None = None, **kw: Any) -> PeerPair:
    return v1_pair({"dpd": a_dpd or {}}, {"dpd": b_dpd or {}}, **kw)


def informational(pair: PeerPair, sender: str) -> list[Any]:
    return wire_msgs(pair, sender, "INFORMATIONAL")


def decrypt(pair: PeerPair, msg: Any) -> list[tuple[int, bytes, bytes]]:
    """The payload chain of an encrypted INFORMATIONAL, decrypted with the phase 1 key and
    IV = SHA-256(last phase 1 CBC block | M-ID)[:16] (RFC 2409 Appendix B)."""
    sa = next(iter(pair["A"].engine.sas.values()))
    p1 = [m for m in wire_msgs(pair, None, "IDENTITY_PROTECTION") if m.encrypted and m.cky_i == msg.cky_i]
    iv = hashlib.sha256(p1[-1].raw[-16:] + msg.msg_id.to_bytes(4, "big")).digest()[:16]
    plain = aes_cbc(sa.keys.enc_key, iv, msg.raw[28:])
    return chain(msg.raw[16], plain)


def notify_fields(body: bytes) -> tuple[int, int, int, bytes, bytes]:
    """(DOI, protocol, type, SPI, data) of a notification payload body (RFC 2408 3.14)."""
    doi, proto, spi_size, ntype = struct.unpack_from("!IBBH", body)
    return doi, proto, ntype, body[8:8 + spi_size], body[8 + spi_size:]


# --- the wire ---------------------------------------------------------------------------------

def test_r_u_there_and_ack_on_the_wire() -> None:
    """RFC 3706 5 and 7: INFORMATIONAL E[ HASH(1) N ]; N: DOI 1, protocol ISAKMP (1), SPI =
    CKY-I | CKY-R (16 octets), type 36136 / 36137, data = a 4-octet sequence number, the first
    random with the most significant bit clear, the ACK echoing it, the next probe + 1.
    HASH(1) = prf(SKEYID_a, M-ID | N) (RFC 2409 5.7)."""
    pair = dpd_pair(HUAWEI).run(70)
    probes, acks = informational(pair, "A"), informational(pair, "B")
    assert [m.labels() for m in probes] == [["HASH", "N(DPD)"]] * 2
    assert [m.labels() for m in acks] == [["HASH", "N(DPD_ACK)"]] * 2
    sa = next(iter(pair["A"].engine.sas.values()))
    seqs = []
    for msg, ntype in [(probes[0], 36136), (acks[0], 36137), (probes[1], 36136), (acks[1], 36137)]:
        assert msg.raw[19] & 0x01, "E flag: encrypted under the ISAKMP SA"
        (t_hash, h, _), (t_n, n_body, n_whole) = decrypt(pair, msg)
        assert (t_hash, t_n) == (8, 11)
        doi, proto, typ, spi, data = notify_fields(n_body)
        assert (doi, proto, typ) == (1, 1, ntype)
        assert spi == msg.cky_i + msg.cky_r and len(spi) == 16
        assert len(data) == 4
        seqs.append(int.from_bytes(data, "big"))
        assert h == hmac.new(sa.keys.skeyid_a, msg.msg_id.to_bytes(4, "big") + n_whole, "sha256").digest()
    first, ack1, second, ack2 = seqs
    assert first < 2**31 and first != 0
    assert ack1 == first and second == first + 1 and ack2 == second
    assert [e.get("seq") for e in pair.select("dpd_probe_sent", "A")] == [first, second]
    assert [e.get("seq") for e in pair.select("dpd_probe_acked", "A")] == [first, second]


@pytest.mark.parametrize("seed", range(1, 9))
def test_first_sequence_number_has_the_top_bit_clear(seed: int) -> None:
    """RFC 3706 7: the first sequence number is random and its most significant bit is 0."""
    pair = dpd_pair(HUAWEI, seed=seed).run(31)
    [e] = pair.select("dpd_probe_sent", "A")
    assert 0 < e.get("seq") < 2**31


def test_seq_notify_hash_order_on_the_wire() -> None:
    """Huawei dpd msg seq-notify-hash: N first, HASH last, covering the N payload before it.
    Both ends configured alike: the probes are answered."""
    order = {"msg_order": "seq-notify-hash"}
    pair = v1_pair({"dpd": {**HUAWEI, **order}}, {"dpd": order}).run(40)
    probe, ack = informational(pair, "A")[0], informational(pair, "B")[0]
    assert probe.labels() == ["N(DPD)", "HASH"] and ack.labels() == ["N(DPD_ACK)", "HASH"]
    sa = next(iter(pair["A"].engine.sas.values()))
    (t_n, _, n_whole), (t_hash, h, _) = decrypt(pair, probe)
    assert (t_n, t_hash, n_whole[0]) == (11, 8, 8), "N's next payload field names the HASH"
    assert h == hmac.new(sa.keys.skeyid_a, probe.msg_id.to_bytes(4, "big") + n_whole, "sha256").digest()
    assert len(pair.select("dpd_probe_acked", "A")) == 1 and not pair.select("peer_dead")


# --- outcomes ---------------------------------------------------------------------------------

def test_answered_probes_keep_the_tunnel() -> None:
    """Periodic DPD on an idle tunnel: a probe every 30 s of silence, each answered; an
    answered probe restarts the idle clock (RFC 3706 5.3)."""
    pair = dpd_pair(HUAWEI).run(200)
    sent = [e.t for e in pair.select("dpd_probe_sent", "A")]
    # last inbound 0.04 s (quick mode message 2); each ACK arrives 10 ms after its probe
    assert sent == pytest.approx([30.04, 60.05, 90.06, 120.07, 150.08, 180.09])
    assert len(pair.select("dpd_probe_acked", "A")) == 6
    assert not pair.select("peer_dead") and pair.status("A") == "ipsec_sa_established"


@pytest.mark.parametrize(("count", "probes", "dead_after"), [("probes", 3, 75.0), ("retransmissions", 4, 90.0)])
def test_retry_style_readings(count: str, probes: int, dead_after: float) -> None:
    """Huawei retry style: 30 s idle, then a probe every 15 s. Huawei Cloud FAQ:
    dead after 3 failed probes = 30 + 3 x 15 = 75 s; USG command reference: retry-limit 3 =
    retransmissions, 1 + 3 probes = 90 s after the last inbound packet."""
    pair = dpd_pair({**HUAWEI, "count": count})
    silence(pair, "B", 20)
    pair.run(200)
    [dead] = pair.select("peer_dead", "A")
    assert dead.get("last_inbound") == pytest.approx(0.04)
    assert dead.t == pytest.approx(0.04 + dead_after) and dead.get("probes") == probes
    retries = [e.get("retry") for e in pair.select("dpd_probe_sent", "A")]
    assert retries == list(range(probes))


def test_timeout_style_strongswan() -> None:
    """strongSwan IKEv1: charon's check job (ike_sa.c send_dpd) runs every dpd_delay from the
    establishment and sends an R-U-THERE when nothing came for dpd_delay whole seconds, never
    retransmitted; each R-U-THERE schedules a check dpd_timeout - dpd_delay later
    (task_manager_v1.c queue_dpd: "compensate for the already elapsed dpd delay") that enforces
    the action when nothing arrived since that R-U-THERE's second (dpd_timeout_job.c)."""
    pair = dpd_pair({"delay": "10s", "timeout": "60s"})  # strongswan profile: ikev1_style timeout
    silence(pair, "B", 25)
    pair.run(120)
    # main mode ends at A at 0.03 s (5 ms per message); answered at 10.04 and 20.04; then
    # unanswered at 30.03, 40.03, 50.03, 60.03, 70.03
    assert [e.t for e in pair.select("dpd_probe_sent", "A")] == pytest.approx(
        [10.03, 20.03, 30.03, 40.03, 50.03, 60.03, 70.03])
    [dead] = pair.select("peer_dead", "A")
    assert dead.t == pytest.approx(30.03 + 60 - 10)  # the check of the first unanswered probe


def test_timeout_defaults_to_the_retransmission_give_up_time() -> None:
    """dpd_timeout unset: strongSwan uses the time a retransmitted message takes to give up,
    165.060 s with the defaults (whole-ms waits, tests/factory.py strongswan_waits); the check
    comes that, less dpd_delay, after the first unanswered R-U-THERE (30.03 s)."""
    pair = dpd_pair({"delay": "30s"})
    silence(pair, "B", 10)
    pair.run(400)
    first = pair.select("dpd_probe_sent", "A")[0]
    assert first.t == pytest.approx(30.03)
    [dead] = pair.select("peer_dead", "A")
    assert dead.t == pytest.approx(first.t + STRONGSWAN_GIVE_UP - 30, abs=1e-6)


def test_ack_with_a_wrong_sequence_number_is_no_proof_of_life() -> None:
    """RFC 3706 7: the ACK must echo the R-U-THERE's number; strongSwan/racoon ignore another
    one. A peer answering with the first number it saw (ack_seq: stale) is declared dead."""
    pair = dpd_pair(HUAWEI, {"ack_seq": "stale"}).run(200)
    assert len(pair.select("dpd_probe_acked", "A")) == 1  # the first one (30.05 s)
    ignored = [e for e in pair.select("message_ignored", "A") if e.get("exchange") == "INFORMATIONAL"]
    assert len(ignored) == 3
    first = pair.select("dpd_probe_sent", "A")[0].get("seq")
    assert all(e.get("expected") in (first + 1, first + 2, first + 3) for e in ignored)
    [dead] = pair.select("peer_dead", "A")
    # last valid inbound 30.05 s; probes at 60.05, 75.05, 90.05 unanswered: dead at 105.05 s
    assert dead.t == pytest.approx(30.05 + 75)


def test_payload_order_mismatch_kills_a_live_peer() -> None:
    """Huawei dpd msg: seq-hash-notify on one end, seq-notify-hash on the other. The receiver
    finds no HASH where it expects one: the probe is dropped as an invalid HASH, unanswered,
    and the sender declares the live peer dead (30 + 3 x 15 s)."""
    pair = dpd_pair({**HUAWEI, "msg_order": "seq-notify-hash"}).run(120)
    ignored = [e for e in pair.select("message_ignored", "B") if e.get("exchange") == "INFORMATIONAL"]
    assert len(ignored) == 3 and all("seq-hash-notify" in e.get("reason") for e in ignored)
    assert not informational(pair, "B"), "no R-U-THERE-ACK"
    [dead] = pair.select("peer_dead", "A")
    assert dead.t == pytest.approx(0.04 + 75)
    assert pair.status("B") == "ipsec_sa_established"  # the live peer keeps a unilateral tunnel


def test_a_peer_without_dpd_still_answers() -> None:
    """RFC 3706: DPD is asymmetric; B has no DPD configured (strongSwan default) but answers."""
    pair = dpd_pair(HUAWEI, {}).run(100)
    assert pair["B"].settings.dpd is None
    assert len(pair.select("dpd_probe_acked", "A")) == 3 and not pair.select("dpd_probe_sent", "B")


def test_no_probes_to_a_peer_without_the_dpd_vendor_id() -> None:
    """RFC 3706 5.1: a peer that did not send the DPD vendor ID is not probed."""
    a, b = v1_peer_settings(HUAWEI)
    pair = PeerPair(a, b)
    b_phase1 = pair["B"].engine.phase1
    b_phase1.vendor_ids = lambda: [v for v in type(b_phase1).vendor_ids(b_phase1) if v.data != VID_DPD]
    pair.run(200)
    assert all(VID_DPD not in [p.data for p in m.payloads if hasattr(p, "data")]
               for m in wire_msgs(pair, "B", "IDENTITY_PROTECTION"))
    assert not pair.select("dpd_probe_sent")


def v1_peer_settings(a_dpd: dict[str, Any]) -> Any:
    from v1util import v1_peers
    return v1_peers({"dpd": a_dpd})


def test_on_demand_probes_only_with_outbound_traffic() -> None:
    """RFC 3706 5.3 worry metric / Huawei on-demand: an idle tunnel is never probed; outbound
    packets after the idle time trigger a probe; inbound ESP resets the idle clock."""
    idle = dpd_pair({**HUAWEI, "mode": "on-demand"}).run(200)
    assert not idle.select("dpd_probe_sent")
    # A pings B from 100 s, B answers: inbound ESP keeps A quiet ...
    busy = dpd_pair({**HUAWEI, "mode": "on-demand"})
    ping(busy, "A", "p", "10.101.0.1", "10.102.0.1", every=1.0, start=100.0, stop=200.0)
    busy.run(200)
    # ... except the first ping: it finds A idle since 0.04 s and triggers one (answered) probe
    assert [e.t for e in busy.select("dpd_probe_sent", "A")] == [100.0]
    assert not busy.select("peer_dead")


def test_inbound_esp_counts_only_with_esp_resets_idle() -> None:
    """Inbound ESP is proof of life unless the profile says otherwise: B pings A, whose own
    periodic DPD then only probes when ESP does not count."""
    counted = dpd_pair(HUAWEI)
    ping(counted, "B", "p", "10.102.0.1", "10.101.0.1", every=5.0, start=1.0, stop=100.0)
    counted.run(100)
    not_counted = dpd_pair({**HUAWEI, "esp_resets_idle": False})
    ping(not_counted, "B", "p", "10.102.0.1", "10.101.0.1", every=5.0, start=1.0, stop=100.0)
    not_counted.run(100)
    assert not counted.select("dpd_probe_sent", "A")
    assert [e.t for e in not_counted.select("dpd_probe_sent", "A")] == pytest.approx([30.04, 60.05, 90.06])


# --- actions ----------------------------------------------------------------------------------

def dead_pair(action: str) -> PeerPair:
    pair = dpd_pair({**HUAWEI, "action": action})
    silence(pair, "B", 20)
    pair.run(80)
    pair.drop = None  # B is reachable again after the verdict
    return pair


def test_action_clear_deletes_without_telling_the_peer() -> None:
    pair = dead_pair("clear")
    pair.run(200)
    assert [e.get("reason") for e in pair.select("child_sa_deleted", "A")] == ["dpd"]
    assert [e.get("reason") for e in pair.select("ike_sa_deleted", "A")] == ["dpd"]
    assert not [m for t, who, d in pair.sent if who == "A" and t >= 75 for m in [d.message]]
    assert pair.status("A") == "ike_sa_not_established"


def test_action_restart_renegotiates_at_once() -> None:
    """restart: a new main mode at once; with no SA left it carries INITIAL-CONTACT, so the
    peer drops its stale SAs (RFC 2407 4.6.3.3)."""
    pair = dead_pair("restart")
    pair.run(200)
    dead = pair.select("peer_dead", "A")[0].t
    restarted = [m for t, who, d in pair.sent if who == "A" and t == dead for m in [d.message]]
    assert restarted[0].exchange.name == "IDENTITY_PROTECTION"
    assert [e.get("reason") for e in pair.select("ike_sa_deleted", "B")] == ["initial_contact"]
    assert pair.status("A") == pair.status("B") == "ipsec_sa_established"


@pytest.mark.parametrize("action", ["trap", "hold"])
def test_action_trap_renegotiates_when_traffic_appears(action: str) -> None:
    """trap / hold: the SAs go; the next packet matching the policy negotiates them again
    (Huawei Cloud FAQ: "when there is user traffic, negotiation is triggered again")."""
    pair = dead_pair(action)
    pair.run(150)
    assert pair.status("A") == "ike_sa_not_established", "no traffic, no negotiation"
    ping(pair, "A", "p", "10.101.0.1", "10.102.0.1", every=1.0, start=150.0, stop=160.0)
    pair.run(170)
    assert [e.t for e in pair.select("negotiation_triggered", "A")] == [150.0]
    assert pair.status("A") == "ipsec_sa_established"
    assert pair["A"].traffic.counters("p").replies == 9  # the first packet was dropped meanwhile


def test_action_none_only_reports() -> None:
    pair = dead_pair("none")
    assert len(pair.select("peer_dead", "A")) == 1
    assert not pair.select("ike_sa_deleted") and pair.status("A") == "ipsec_sa_established"
    assert [c.state for c in pair["A"].engine.child_sas()] == [ChildState.INSTALLED]


def test_dpd_moves_to_the_new_isakmp_sa_after_a_phase1_rekey() -> None:
    """The machine watches the newest ISAKMP SA: probes after a re-authentication carry the
    new cookies, and a new sequence starts."""
    pair = v1_pair({"dpd": HUAWEI, "ike": {"rekey_time": "60s", "rand_time": 0, "life_time": "90s"}},
                   {"ike": {"rekey_time": "50m", "life_time": "1h"}}).run(100)
    new = [e for e in pair.select("ike_sa_rekeyed", "A")]
    assert len(new) == 1
    probes = [e for e in pair.select("dpd_probe_sent", "A") if e.t > new[0].t]
    assert probes and all(e.get("spi_i") == new[0].get("new_spi_i") for e in probes)
    assert not pair.select("peer_dead")


def test_notify_types_are_the_rfc_3706_code_points() -> None:
    assert (Notify.R_U_THERE, Notify.R_U_THERE_ACK) == (36136, 36137)
    assert VID_DPD == bytes.fromhex("afcad71368a1f1c96b8696fc77570100")


@pytest.mark.parametrize("order", ["seq-hash-notify", "seq-notify-hash"])
def test_wireshark_reads_r_u_there_and_ack(tmp_path: Path, order: str) -> None:
    """An independent dissector (tshark 4.0) decrypts both DPD messages in either payload order
    and reads the RFC 3706 fields: notify types 36136 / 36137, protocol ISAKMP, the sequence."""
    pair = dpd_pair({**HUAWEI, "msg_order": order}, {"msg_order": order}).run(40)
    sa = next(iter(pair["A"].engine.sas.values()))
    write_pcap(tmp_path / "t.pcap", pair)
    (tmp_path / "k.json").write_text(json.dumps({"ikev1": [{"icookie": sa.cky_i.hex(),
                                                             "enc_key_hex": sa.keys.enc_key.hex()}]}))
    check = subprocess.run([sys.executable, "-m", "ipsecsim", "verify", str(tmp_path / "t.pcap"), "--keys",
                            str(tmp_path / "k.json")], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0 and "IKEv1 encrypted  7/7 decrypted and verified" in check.stdout, \
        check.stdout + check.stderr
    fields = subprocess.run(
        ["tshark", "-r", str(tmp_path / "t.pcap"), "-o", f"uat:ikev1_decryption_table:{sa.cky_i.hex()},"
         f"{sa.keys.enc_key.hex()}", "-T", "fields", "-e", "isakmp.notify.msgtype", "-e", "isakmp.notify.protoid",
         "-e", "isakmp.notify.data.dpd.are_you_there", "-e", "isakmp.notify.data.dpd.are_you_there_ack"],
        capture_output=True, text=True, timeout=120).stdout.splitlines()
    seq = str(pair.select("dpd_probe_sent", "A")[0].get("seq"))
    assert fields[-2:] == [f"36136\t1\t{seq}\t", f"36137\t1\t\t{seq}"]
