"""ipsecsim's cores against Libreswan 4.10's pluto (Debian 12 package, unpacked), in namespaces.

Pluto's log lines are those of Libreswan 4.10 (programs/pluto/ikev2_ike_auth.c,
ikev2_child.c, ikev2_create_child_sa.c, ikev1_main.c, ikev1_quick.c, ikev1_dpd.c, state.c),
its counters those of ``whack --globalstatus`` (pluto_stats.c: ``total.ike.dpd.sent`` counts
the R_U_THEREs it sent, ``.recv`` the R_U_THERE_ACKs it received, ``.replied`` the R_U_THEREs
it answered). The kernel here has XFRM but no ESP: pluto's IPsec SA installs are answered by
the rig's xfrm shim (xfrmshim.c), so pluto negotiates and keeps CHILD SAs as it would on a
kernel with ESP (without it pluto answers every CHILD SA with TS_UNACCEPTABLE: install_ipsec_sa()
fails, ikev2_child.c).

Pluto's SA lines print ``{ESP=>0x<SPI it sends to> <0x<SPI it receives on>``: S's inbound
and outbound SPIs in that order.
"""

from __future__ import annotations

import re
import signal
import time
from typing import Any

import pytest
from rig import Rig

pytestmark = [pytest.mark.live, pytest.mark.libreswan]

PSK = "west-east-secret"
TUNNEL = "IPsec tunnel [10.102.0.0-10.102.0.255:0-65535 0] -> [10.101.0.0-10.101.0.255:0-65535 0]"
V2 = "    ikev2=yes\n    ike=aes128-sha2_256;modp2048\n    esp=aes128-sha2_256\n"
V1 = "    ikev2=no\n    ike=aes128-sha2_256;modp2048\n    esp=aes128-sha2_256;modp2048\n"


def peer(start: str, version: int, esp: str = "aes128-sha256-modp2048", **more: Any) -> dict[str, Any]:
    return {"start": start, "ike": {"version": version, "proposals": ["aes128-sha256-modp2048"], "psk": PSK,
                                    **more.pop("ike", {})},
            "child": {"proposals": [esp], **more.pop("child", {})}, **more}


def named(out: dict[str, Any], event: str, **fields: Any) -> list[dict[str, Any]]:
    return [e for e in out["events"] if e["event"] == event and all(e.get(k) == v for k, v in fields.items())]


def esp(child: dict[str, Any]) -> str:
    """Pluto's ``{ESP=>0x.. <0x..`` for the CHILD SA S reports."""
    return f"{{ESP=>0x{child['spi_in']} <0x{child['spi_out']}"


def dpd_counters(rig: Rig) -> dict[str, int]:
    status = rig.whack("--globalstatus")
    return {k: int(v) for k, v in re.findall(r"total\.ike\.dpd\.(\w+)=(\d+)", status)}


# --- IKEv2 ------------------------------------------------------------------------------------

def test_ikev2_simulated_initiator_establishes_rekeys_and_deletes(rig: Rig) -> None:
    rig.start_pluto(V2)
    # pluto's default pfs=yes: a CHILD SA rekey must carry KE (S proposes its IKE group)
    # DPD every second (the shortest delay a scenario allows), the CHILD SA rekeyed at 2.5 s, the
    # IKE SA at 3 s: liveness checks at 1 and 2 s before the first rekey
    sim = peer("initiate", 2, ike={"rekey_time": "3s", "rand_time": 0, "life_time": "20s"},
               child={"rekey_time": "2.5s", "rand_time": 0, "life_time": "10s"}, dpd={"delay": "1s"})
    out = rig.run_live(rig.scenario(sim, peer("respond", 2)), 3.8)
    log = rig.log()
    # S's liveness checks (RFC 7296 2.4, empty INFORMATIONAL) before the first rekey: pluto
    # answered each (its counter of liveness requests answered)
    checks, acked = named(out, "dpd_probe_sent", peer="S"), named(out, "dpd_probe_acked", peer="S")
    assert checks and len(acked) == len(checks) and dpd_counters(rig)["replied"] == len(checks)
    ike = named(out, "ike_sa_established", peer="S", proposal="aes128-sha256-prfsha256-modp2048")
    assert len(ike) == 1, log[-3000:]
    assert "responder established IKE SA; authenticated peer using authby=secret and ID_IPV4_ADDR " \
           f"'{rig.sim_addr}'" in log
    first = named(out, "child_sa_established", peer="S")
    assert len(first) == 1 and not named(out, "negotiation_failed")
    assert f"responder established Child SA using #1; {TUNNEL} {esp(first[0])} " \
           "xfrm=AES_CBC_128-HMAC_SHA2_256_128" in log
    # the CHILD SA rekeyed by S (CREATE_CHILD_SA with N(REKEY_SA), RFC 7296 1.3.3), PFS
    rekeyed = named(out, "child_sa_rekeyed", peer="S", initiator=True, pfs="modp2048")
    assert rekeyed and rekeyed[0]["old_spi_in"] == first[0]["spi_in"]
    new = {"spi_in": rekeyed[0]["spi_in"], "spi_out": rekeyed[0]["spi_out"]}
    assert f"responder rekeyed Child SA #2 using #1; {TUNNEL} {esp(new)} " \
           "xfrm=AES_CBC_128-HMAC_SHA2_256_128-MODP2048" in log
    # the IKE SA rekeyed by S (RFC 7296 1.3.2): pluto took S's new SPI and deleted the old SA
    ike_rekeyed = named(out, "ike_sa_rekeyed", peer="S", initiator=True)
    assert len(ike_rekeyed) == 1
    assert f"SPI={ike_rekeyed[0]['new_spi_i']} chosen from remote proposals 1:IKE:" in log
    assert "responder rekeyed IKE SA #1" in log
    assert named(out, "ike_sa_deleted", peer="S", reason="rekeyed", spi_i=ike[0]["spi_i"])
    # S deleted the new IKE SA at the end: pluto was told
    assert named(out, "ike_sa_deleted", peer="S", reason="stopped", spi_i=ike_rekeyed[0]["new_spi_i"])
    assert log.count("deleting state (STATE_V2_ESTABLISHED_IKE_SA)") == 2


def test_ikev2_simulated_responder_pluto_rekeys_and_deletes(rig: Rig) -> None:
    rig.start_pluto(V2 + "    dpddelay=1\n")
    proc = rig.start_live(rig.scenario(peer("respond", 2), peer("initiate", 2)), 8.0)
    rig.wait_bound()
    rig.whack("--initiate", "--name", "lab", "--asynchronous")
    assert rig.wait_log("initiator established Child SA using #1", 8), rig.log()[-3000:]
    # pluto's liveness check (dpddelay=1, RFC 7296 2.4) once S has been idle a second
    end = time.monotonic() + 5
    while not ((c := dpd_counters(rig)).get("sent", 0) >= 1 and c["recv"] == c["sent"]):
        assert time.monotonic() < end, (c, rig.log()[-3000:])
        time.sleep(0.05)
    rig.whack("--rekey-ipsec", "--name", "lab")
    assert rig.wait_log("initiator rekeyed Child SA #2 using #1", 5), rig.log()[-3000:]
    rig.whack("--rekey-ike", "--name", "lab")
    assert rig.wait_log("initiator rekeyed IKE SA #1", 5), rig.log()[-3000:]
    rig.whack("--terminate", "--name", "lab")
    time.sleep(0.3)  # S reads pluto's Delete; then Ctrl-C ends it (nothing left to delete)
    proc.send_signal(signal.SIGINT)
    out = rig.finish(proc)
    counters = dpd_counters(rig)
    checks = named(out, "message_received", peer="S", exchange="INFORMATIONAL", response=False, payloads=[])
    answers = [a for a in named(out, "message_sent", peer="S", exchange="INFORMATIONAL", response=True, payloads=[])
               if (a["spi_i"], a["msg_id"]) in {(c["spi_i"], c["msg_id"]) for c in checks}]
    assert (counters["sent"], counters["recv"]) == (len(checks), len(answers)) and len(checks) >= 1, counters
    log = rig.log()
    assert "initiator established IKE SA; authenticated peer using authby=secret and ID_IPV4_ADDR " \
           f"'{rig.sim_addr}'" in log
    first = named(out, "child_sa_established", peer="S")
    assert len(first) == 1 and f"initiator established Child SA using #1; {TUNNEL} {esp(first[0])}" in log
    rekeyed = named(out, "child_sa_rekeyed", peer="S", initiator=False, pfs="modp2048")
    assert len(rekeyed) == 1
    new = {"spi_in": rekeyed[0]["spi_in"], "spi_out": rekeyed[0]["spi_out"]}
    assert f"initiator rekeyed Child SA #2 using #1; {TUNNEL} {esp(new)}" in log
    ike_rekeyed = named(out, "ike_sa_rekeyed", peer="S", initiator=False)
    assert len(ike_rekeyed) == 1
    # pluto's terminate: S is told and deletes the IKE SA made by the rekey
    deleted = named(out, "ike_sa_deleted", peer="S", reason="deleted_by_peer")
    assert [(d["spi_i"], d["spi_r"]) for d in deleted][-1:] == \
        [(ike_rekeyed[0]["new_spi_i"], ike_rekeyed[0]["new_spi_r"])]
    assert "terminating SAs using this connection" in log


def test_ikev2_pfs_default_refuses_a_rekey_without_ke(rig: Rig) -> None:
    # strongSwan takes a CHILD SA rekey without KE when its esp_proposals have no group;
    # pluto's pfs=yes default refuses it (ikev2_create_child_sa.c)
    rig.start_pluto(V2)
    sim = peer("initiate", 2, esp="aes128-sha256", child={"rekey_time": "1s", "rand_time": 0, "life_time": "10s"})
    out = rig.run_live(rig.scenario(sim, peer("respond", 2)), 1.5)
    log = rig.log()
    assert named(out, "child_sa_established", peer="S"), log[-3000:]
    failed = named(out, "negotiation_failed", peer="S")
    assert [(f["phase"], f["notify"]) for f in failed] == [("child_rekey", "NO_PROPOSAL_CHOSEN")]
    assert "CREATE_CHILD_SA request failed, responder SA processing returned NO_PROPOSAL_CHOSEN" in log
    assert not named(out, "child_sa_rekeyed")


# --- IKEv1 ------------------------------------------------------------------------------------

def test_ikev1_simulated_initiator_main_quick_pfs_dpd_and_delete(rig: Rig) -> None:
    # pluto without DPD of its own (a probe from either side counts as traffic for the other,
    # RFC 3706: with both on, only the first to fire probes)
    rig.start_pluto(V1)
    out = rig.run_live(rig.scenario(peer("initiate", 1, dpd={"delay": "1s"}), peer("respond", 1)), 3.4)
    log = rig.log()
    ike = named(out, "ike_sa_established", peer="S", mode="main")
    assert len(ike) == 1, log[-3000:]
    assert "responding to Main Mode" in log
    assert "IKE SA established {auth=PRESHARED_KEY cipher=AES_CBC_128 integ=HMAC_SHA2_256 group=MODP2048}" in log
    # quick mode with PFS (pluto requires it): KE in S's request and in pluto's answer
    child = named(out, "child_sa_established", peer="S", proposal="aes128-sha256-modp2048")
    assert len(child) == 1 and not named(out, "negotiation_failed")
    answer = named(out, "message_received", peer="S", exchange="QUICK_MODE")
    assert answer and "KE" in answer[0]["payloads"]
    assert f"IPsec SA established tunnel mode {esp(child[0])} xfrm=AES_CBC_128-HMAC_SHA2_256_128 DPD=passive" in log
    # RFC 3706: S's R-U-THEREs, each acknowledged with its own sequence number
    sent, acked = named(out, "dpd_probe_sent", peer="S"), named(out, "dpd_probe_acked", peer="S")
    assert len(sent) >= 2 and [a["seq"] for a in acked] == [p["seq"] for p in sent]
    # S deleted at the end: the IPsec SA (its inbound SPI), then the ISAKMP SA
    assert f"received Delete SA(0x{child[0]['spi_in']}) payload: deleting IPsec State #2" in log
    assert "deleting state (STATE_MAIN_R3)" in log
    assert dpd_counters(rig)["replied"] == len(sent)


def test_ikev1_pluto_initiator_dpd_and_delete(rig: Rig) -> None:
    rig.start_pluto(V1 + "    dpddelay=1\n    dpdtimeout=10\n    dpdaction=clear\n")
    proc = rig.start_live(rig.scenario(peer("respond", 1), peer("initiate", 1)), 3.5)
    rig.wait_bound()
    rig.whack("--initiate", "--name", "lab", "--asynchronous")
    assert rig.wait_log("IPsec SA established tunnel mode", 8), rig.log()[-3000:]
    assert rig.wait_log("initiating Quick Mode", 1) and "pfsgroup=MODP2048" in rig.log()
    # pluto's DPD (dpddelay=1) probes S, which sends nothing of its own; terminate right after
    # an ACK came back (the next probe is a second away), so none is in flight
    end = time.monotonic() + 6
    while not ((c := dpd_counters(rig)).get("sent", 0) >= 2 and c["recv"] == c["sent"]):
        assert time.monotonic() < end, (c, rig.log()[-3000:])
        time.sleep(0.05)
    rig.whack("--terminate", "--name", "lab")
    out = rig.finish(proc)
    log = rig.log()
    counters = dpd_counters(rig)
    child = named(out, "child_sa_established", peer="S", proposal="aes128-sha256-modp2048")
    assert len(child) == 1 and f"IPsec SA established tunnel mode {esp(child[0])}" in log
    # pluto's R-U-THEREs (RFC 3706) reached S, and each of S's ACKs reached pluto
    probes = named(out, "message_received", peer="S", exchange="INFORMATIONAL", payloads=["HASH", "N(DPD)"])
    acks = named(out, "message_sent", peer="S", exchange="INFORMATIONAL", payloads=["HASH", "N(DPD_ACK)"])
    assert counters["sent"] == len(probes) == len(acks) == counters["recv"] >= 2
    # pluto's terminate: Deletes for the IPsec SA then the ISAKMP SA; S removes both
    assert "deleting state (STATE_QUICK_I2)" in log and "deleting state (STATE_MAIN_I4)" in log
    assert named(out, "child_sa_deleted", peer="S", reason="deleted_by_peer", spi_in=child[0]["spi_in"])
    assert named(out, "ike_sa_deleted", peer="S", reason="deleted_by_peer")


def test_ikev1_pfs_default_refuses_quick_mode_without_pfs(rig: Rig) -> None:
    rig.start_pluto("    ikev2=no\n    ike=aes128-sha2_256;modp2048\n    esp=aes128-sha2_256\n")
    out = rig.run_live(rig.scenario(peer("initiate", 1, esp="aes128-sha256"), peer("respond", 1)), 1.5)
    log = rig.log()
    assert len(named(out, "ike_sa_established", peer="S", mode="main")) == 1, log[-3000:]
    # Libreswan's default pfs=yes (ipsec.conf(5)) refuses a quick mode without a DH group:
    # S's ESP proposal aes128-sha256 (strongSwan style, no PFS) gets NO_PROPOSAL_CHOSEN
    assert "we require PFS but Quick I1 SA specifies no GROUP_DESCRIPTION" in log
    failed = named(out, "negotiation_failed", peer="S")
    assert [(f["phase"], f["notify"]) for f in failed] == [("child", "NO_PROPOSAL_CHOSEN")]
    assert "received Delete SA payload: self-deleting ISAKMP State" in log
