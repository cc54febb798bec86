"""ipsecsim's IKEv2 core against a real strongSwan 5.9.8 charon (Debian 12), in namespaces.

Each test runs ``ipsecsim live`` for peer S against charon and checks both sides: S's events
and charon's own state (``swanctl --list-sas``) and log lines. What charon logs and sends is
taken from strongSwan's source (src/libcharon/sa/ikev2/tasks/*.c, ike_sa.c) and from the
captures of reference runs (strongSwan 5.9.8, swanctl.conf / strongswan.conf as in rig.py):
``IKE_SA lab[1] established between``, ``CHILD_SA c{1} established with SPIs``, notify
abbreviations as in charon's ``N(NO_PROP)`` / ``N(AUTH_FAILED)`` / ``N(INVAL_KE)``.

The RFC behaviour asserted: RFC 7296 1.2 (IKE_SA_INIT + IKE_AUTH with a CHILD SA), 2.15
(PSK AUTH), 3.10.1 (NO_PROPOSAL_CHOSEN, AUTHENTICATION_FAILED, INVALID_KE_PAYLOAD and the
retry with the requested group, 1.2), 1.4 / 2.4 (liveness: empty INFORMATIONAL; Delete),
1.3.2 / 1.3.3 (CREATE_CHILD_SA rekeys of IKE and CHILD SAs), 2.23 (UDP 4500 after NAT
detection: charon's ``encap = yes`` fakes its NAT_DETECTION_SOURCE_IP).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from rig import Rig, swanctl_conf

pytestmark = pytest.mark.live

PSK = "west-east-secret"
GROUPS = {"modp2048": "MODP_2048", "ecp256": "ECP_256", "curve25519": "CURVE_25519"}


def peer(start: str, proposals: str = "aes128-sha256-modp2048", psk: str = PSK, **more: Any) -> dict[str, Any]:
    return {"start": start, "ike": {"version": 2, "proposals": [proposals], "psk": psk, **more.pop("ike", {})},
            "child": {"proposals": ["aes128-sha256"], **more.pop("child", {})}, **more}


def scenario(rig: Rig, sim: dict[str, Any], gw_start: str = "respond") -> dict[str, Any]:
    return rig.scenario(sim, peer(gw_start))


def named(out: dict[str, Any], event: str, **fields: Any) -> list[dict[str, Any]]:
    return [e for e in out["events"] if e["event"] == event and all(e.get(k) == v for k, v in fields.items())]


def ike_spis(list_sas: str) -> list[tuple[str, str]]:
    """(SPIi, SPIr) of each IKE SA swanctl lists: ``lab: #1, ESTABLISHED, IKEv2, <spi>_i <spi>_r*``."""
    return re.findall(r"ESTABLISHED, IKEv2, ([0-9a-f]{16})_i\*? ([0-9a-f]{16})_r", list_sas)


def established(rig: Rig, child: str = "c{1}") -> str:
    assert rig.wait_log(f"CHILD_SA {child} established", 10), rig.log()[-3000:]
    return rig.list_sas()


@pytest.mark.parametrize("group", list(GROUPS))
def test_simulated_initiator_establishes_and_deletes(rig: Rig, group: str) -> None:
    proposal = f"aes128-sha256-{group}"
    rig.start_charon(swanctl_conf(rig, proposals=proposal))
    proc = rig.start_live(scenario(rig, peer("initiate", proposal)), 2.0)
    sas = established(rig)
    out = rig.finish(proc)
    ike = named(out, "ike_sa_established", peer="S")
    assert len(ike) == 1 and not named(out, "negotiation_failed")
    assert named(out, "child_sa_established", peer="S")
    # charon holds the same IKE SA (same SPIs), its CHILD SA in UDP (kernel-libipsec, encap)
    assert ike_spis(sas) == [(ike[0]["spi_i"], ike[0]["spi_r"])]
    assert f"AES_CBC-128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/{GROUPS[group]}" in sas
    assert "INSTALLED, TUNNEL-in-UDP" in sas
    assert "10.102.0.0/24 === 10.101.0.0/24" in rig.log()
    # IKE moved to 4500 after IKE_SA_INIT (RFC 7296 2.23)
    assert [e["src"] for e in named(out, "message_sent", peer="S", exchange="IKE_AUTH")] == [rig.sim_addr]
    assert named(out, "nat_t_floated", peer="S")
    # at the end S deletes its IKE SA: charon is told and holds nothing any more
    assert rig.wait_log("received DELETE for IKE_SA lab[1]", 5)
    assert named(out, "ike_sa_deleted", peer="S")
    assert ike_spis(rig.list_sas()) == []


@pytest.mark.parametrize("group", list(GROUPS))
def test_simulated_responder_establishes(rig: Rig, group: str) -> None:
    proposal = f"aes128-sha256-{group}"
    rig.start_charon(swanctl_conf(rig, proposals=proposal))
    proc = rig.start_live(scenario(rig, peer("respond", proposal), gw_start="initiate"), 2.0)
    rig.wait_bound()
    ok = rig.initiate()
    sas = rig.list_sas()
    out = rig.finish(proc)
    assert ok, rig.log()[-3000:]
    ike = named(out, "ike_sa_established", peer="S", initiator=False)
    assert len(ike) == 1 and named(out, "child_sa_established", peer="S")
    assert ike_spis(sas) == [(ike[0]["spi_i"], ike[0]["spi_r"])]
    assert f"/{GROUPS[group]}" in sas and "INSTALLED, TUNNEL-in-UDP" in sas


def test_psk_mismatch_simulated_initiator(rig: Rig) -> None:
    rig.start_charon(swanctl_conf(rig))
    out = rig.run_live(scenario(rig, peer("initiate", psk="not-the-secret")), 1.5)
    failed = named(out, "negotiation_failed", peer="S")
    assert [f["notify"] for f in failed] == ["AUTHENTICATION_FAILED"]
    assert not named(out, "ike_sa_established")
    # charon: its MAC check of S's AUTH failed, it answered N(AUTH_FAILED) (ike_auth.c)
    assert "but MAC mismatched" in rig.log()
    assert "IKE_AUTH response 1 [ N(AUTH_FAILED) ]" in rig.log()
    assert ike_spis(rig.list_sas()) == []


def test_psk_mismatch_simulated_responder(rig: Rig) -> None:
    rig.start_charon(swanctl_conf(rig))
    proc = rig.start_live(scenario(rig, peer("respond", psk="not-the-secret"), gw_start="initiate"), 1.5)
    rig.wait_bound()
    ok = rig.initiate(5)
    out = rig.finish(proc)
    assert not ok
    assert [f["notify"] for f in named(out, "negotiation_failed", peer="S")] == ["AUTHENTICATION_FAILED"]
    assert "received AUTHENTICATION_FAILED notify error" in rig.log()
    assert ike_spis(rig.list_sas()) == []


def test_proposal_mismatch_simulated_initiator(rig: Rig) -> None:
    rig.start_charon(swanctl_conf(rig, proposals="aes128-sha256-modp2048"))
    out = rig.run_live(scenario(rig, peer("initiate", "aes256-sha384-modp3072")), 1.0)
    assert [f["notify"] for f in named(out, "negotiation_failed", peer="S")] == ["NO_PROPOSAL_CHOSEN"]
    log = rig.log()
    assert "received proposals: IKE:AES_CBC_256/HMAC_SHA2_384_192/PRF_HMAC_SHA2_384/MODP_3072" in log
    assert "IKE_SA_INIT response 0 [ N(NO_PROP) ]" in log


def test_proposal_mismatch_simulated_responder(rig: Rig) -> None:
    rig.start_charon(swanctl_conf(rig, proposals="aes256-sha384-modp3072"))
    proc = rig.start_live(scenario(rig, peer("respond", "aes128-sha256-modp2048"), gw_start="initiate"), 1.5)
    rig.wait_bound()
    ok = rig.initiate(5)
    out = rig.finish(proc)
    assert not ok
    assert [f["notify"] for f in named(out, "negotiation_failed", peer="S")] == ["NO_PROPOSAL_CHOSEN"]
    assert "received NO_PROPOSAL_CHOSEN notify error" in rig.log()


def test_invalid_ke_retry_simulated_initiator(rig: Rig) -> None:
    # S guesses ECP-256 (its first proposal); charon accepts only MODP-2048 and asks for it
    rig.start_charon(swanctl_conf(rig, proposals="aes128-sha256-modp2048"))
    sim = peer("initiate")
    sim["ike"]["proposals"] = ["aes128-sha256-ecp256", "aes128-sha256-modp2048"]
    proc = rig.start_live(scenario(rig, sim), 1.5)
    established(rig)
    out = rig.finish(proc)
    retry = named(out, "ke_group_retry", peer="S")
    assert len(retry) == 1 and named(out, "ike_sa_established", peer="S")
    assert "DH group ECP_256 unacceptable, requesting MODP_2048" in rig.log()


def test_invalid_ke_retry_simulated_responder(rig: Rig) -> None:
    # charon proposes ECP-256 first (its KE), S accepts only MODP-2048: INVALID_KE_PAYLOAD(14)
    rig.start_charon(swanctl_conf(rig, proposals="aes128-sha256-ecp256-modp2048"))
    proc = rig.start_live(scenario(rig, peer("respond", "aes128-sha256-modp2048"), gw_start="initiate"), 2.0)
    rig.wait_bound()
    ok = rig.initiate()
    out = rig.finish(proc)
    assert ok, rig.log()[-3000:]
    assert "peer didn't accept DH group ECP_256, it requested MODP_2048" in rig.log()
    sent = [e["payloads"] for e in named(out, "message_sent", peer="S", exchange="IKE_SA_INIT")]
    assert sent[0] == ["N(INVAL_KE)"] and named(out, "ike_sa_established", peer="S")


def test_liveness_from_simulated_peer(rig: Rig) -> None:
    rig.start_charon(swanctl_conf(rig))
    out = rig.run_live(scenario(rig, peer("initiate", dpd={"delay": "1s"})), 2.6)
    probes, acks = named(out, "dpd_probe_sent", peer="S"), named(out, "dpd_probe_acked", peer="S")
    assert len(probes) >= 1 and len(acks) == len(probes)
    # charon answered each empty INFORMATIONAL request with an empty response
    assert rig.log().count("generating INFORMATIONAL response") >= len(probes)


def test_liveness_from_daemon(rig: Rig) -> None:
    rig.start_charon(swanctl_conf(rig, conn="    dpd_delay = 1s"))
    out = rig.run_live(scenario(rig, peer("initiate")), 2.8)
    requests = named(out, "message_received", peer="S", exchange="INFORMATIONAL", response=False, payloads=[])
    assert len(requests) >= 1
    assert rig.log().count("sending DPD request") >= len(requests)
    assert rig.log().count("parsed INFORMATIONAL response") >= len(requests)


def test_delete_from_daemon(rig: Rig) -> None:
    rig.start_charon(swanctl_conf(rig))
    proc = rig.start_live(scenario(rig, peer("initiate")), 2.0)
    established(rig)
    rig.swanctl("--terminate", "--ike", "lab", "--timeout", "5")
    out = rig.finish(proc)
    deleted = named(out, "ike_sa_deleted", peer="S")
    assert len(deleted) == 1
    assert ike_spis(rig.list_sas()) == []
    assert "IKE_SA deleted" in rig.log()


def test_rekeys_by_simulated_peer(rig: Rig) -> None:
    rig.start_charon(swanctl_conf(rig))
    sim = peer("initiate", ike={"rekey_time": "2s", "rand_time": 0},
               child={"rekey_time": "1s", "rand_time": 0})
    proc = rig.start_live(scenario(rig, sim), 3.0)
    established(rig, "c{2}")
    assert rig.wait_log("IKE_SA lab[2] rekeyed between", 5)
    sas = rig.list_sas()
    out = rig.finish(proc)
    assert named(out, "child_sa_rekeyed", peer="S", initiator=True)
    ike = named(out, "ike_sa_rekeyed", peer="S", initiator=True)
    assert ike and (ike[-1]["new_spi_i"], ike[-1]["new_spi_r"]) in ike_spis(sas)


def test_rekeys_by_daemon(rig: Rig) -> None:
    rig.start_charon(swanctl_conf(rig))
    proc = rig.start_live(scenario(rig, peer("initiate")), 2.5)
    established(rig)
    rig.swanctl("--rekey", "--child", "c")
    assert rig.wait_log("CHILD_SA c{2} established", 5)
    rig.swanctl("--rekey", "--ike", "lab")
    assert rig.wait_log("IKE_SA lab[2] rekeyed between", 5)
    sas = rig.list_sas()
    out = rig.finish(proc)
    assert named(out, "child_sa_rekeyed", peer="S", initiator=False)
    ike = named(out, "ike_sa_rekeyed", peer="S", initiator=False)
    assert ike and (ike[-1]["new_spi_i"], ike[-1]["new_spi_r"]) in ike_spis(sas)


def test_ctrl_c_ends_cleanly_and_the_capture_decrypts(rig: Rig) -> None:
    import signal

    from tracehelp import tshark_fields
    rig.start_charon(swanctl_conf(rig))
    pcap, keys = rig.dir / "live.pcapng", rig.dir / "live.keys.json"
    proc = rig.start_live(scenario(rig, peer("initiate")), 30.0, "--pcap", str(pcap), "--keys", str(keys))
    established(rig)
    proc.send_signal(signal.SIGINT)  # `ip netns exec` execs python: the signal reaches ipsecsim
    out = rig.finish(proc, timeout=10)
    assert out["summary"]["duration"] < 10 and out["summary"]["peers"]["S"]["status"] == "ike_sa_not_established"
    assert named(out, "ike_sa_deleted", peer="S", reason="stopped")
    assert rig.wait_log("received DELETE for IKE_SA lab[1]", 5)
    # the capture holds both directions, charon's exactly as received, and Wireshark decrypts
    # charon's IKE_AUTH response with the keys file: its TSr is charon's subnet
    rows = tshark_fields(pcap, keys, ["ip.src", "isakmp.exchangetype", "isakmp.ts.start_ipv4"])
    from_charon = [r for r in rows if r[0] == rig.gw_addr]
    assert len(rows) == len(named(out, "message_sent")) + len(from_charon)
    auth = [r for r in from_charon if r[1] == "35"]
    assert auth and "10.102.0.0" in auth[0][2]
