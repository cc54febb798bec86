"""ipsecsim's IKEv1 core against a real strongSwan 5.9.8 charon (Debian 12), in namespaces.

RFC 2409 main mode (six messages, PSK) and quick mode (three), RFC 3706 DPD (R-U-THERE /
R-U-THERE-ACK notifies in an INFORMATIONAL exchange, sequence numbers), with S (ipsecsim)
as initiator and as responder. Charon's log lines are those of strongSwan 5.9.8's IKEv1
tasks (src/libcharon/sa/ikev1/tasks/main_mode.c, quick_mode.c, isakmp_dpd.c) as seen in the
reference capture S3_ikev1_dpd_delay5_timeout20: ``IKE_SA lab[1] established between``,
``parsed AGGRESSIVE request 0 [ SA KE No ID V V ]`` (RFC 2409 5.4), quick mode with PFS
(RFC 2409 5.5: KE in the first two messages, the group in the SA), Deletes (RFC 2408 3.15,
isakmp_delete.c / quick_delete.c: ``received DELETE for ESP CHILD_SA with SPI``,
``CHILD_SA c{1} established with SPIs``, ``INFORMATIONAL_V1 request ... [ HASH N(DPD) ]``.
"""

from __future__ import annotations

from typing import Any

import pytest
from rig import Rig, swanctl_conf

pytestmark = pytest.mark.live

PSK = "west-east-secret"


def peer(start: str, mode: str = "main", esp: str = "aes128-sha256", **more: Any) -> dict[str, Any]:
    return {"start": start, "ike": {"version": 1, "mode": mode, "proposals": ["aes128-sha256-modp2048"], "psk": PSK},
            "child": {"proposals": [esp]}, **more}


AGGRESSIVE_PSK = "  i_dont_care_about_security_and_use_aggressive_mode_psk = yes\n"
"""strongSwan answers aggressive mode with a PSK only with this set (strongswan.conf(5): the
hash of the PSK in message 2 can be attacked offline)."""


def pfs_charon(rig: Rig, mode: str) -> None:
    rig.start_charon(swanctl_conf(rig, version=1, esp="aes128-sha256-modp2048",
                                  conn="    aggressive = yes" if mode == "aggressive" else ""),
                     settings=AGGRESSIVE_PSK if mode == "aggressive" else "")


def named(out: dict[str, Any], event: str, **fields: Any) -> list[dict[str, Any]]:
    return [e for e in out["events"] if e["event"] == event and all(e.get(k) == v for k, v in fields.items())]


def test_main_and_quick_mode_simulated_initiator(rig: Rig) -> None:
    rig.start_charon(swanctl_conf(rig, version=1))
    proc = rig.start_live(rig.scenario(peer("initiate"), peer("respond")), 2.0)
    assert rig.wait_log("CHILD_SA c{1} established", 10), rig.log()[-3000:]
    sas = rig.list_sas()
    out = rig.finish(proc)
    ike = named(out, "ike_sa_established", peer="S")
    assert len(ike) == 1 and ike[0]["mode"] == "main" and not named(out, "negotiation_failed")
    assert named(out, "child_sa_established", peer="S")
    assert "ESTABLISHED, IKEv1" in sas and "INSTALLED, TUNNEL-in-UDP" in sas
    # the cookies; swanctl stars the local side's: charon responded
    assert f"{ike[0]['spi_i']}_i {ike[0]['spi_r']}_r*" in sas


def test_main_and_quick_mode_simulated_responder(rig: Rig) -> None:
    rig.start_charon(swanctl_conf(rig, version=1))
    proc = rig.start_live(rig.scenario(peer("respond"), peer("initiate")), 2.0)
    rig.wait_bound()
    ok = rig.initiate()
    sas = rig.list_sas()
    out = rig.finish(proc)
    assert ok, rig.log()[-3000:]
    ike = named(out, "ike_sa_established", peer="S", initiator=False)
    assert len(ike) == 1 and named(out, "child_sa_established", peer="S")
    assert f"{ike[0]['spi_i']}_i* {ike[0]['spi_r']}_r" in sas  # charon initiated


def test_dpd_from_daemon(rig: Rig) -> None:
    # charon probes after 1 s without hearing from S (dpd_delay); S answers each R-U-THERE
    # with an R-U-THERE-ACK carrying the same sequence number (RFC 3706 5.3)
    rig.start_charon(swanctl_conf(rig, version=1, conn="    dpd_delay = 1s"))
    out = rig.run_live(rig.scenario(peer("initiate"), peer("respond")), 3.0)
    log = rig.log()
    probes, acks = log.count("[ HASH N(DPD) ]"), log.count("[ HASH N(DPD_ACK) ]")
    assert probes >= 1 and acks == probes
    got = named(out, "message_received", peer="S", exchange="INFORMATIONAL", payloads=["HASH", "N(DPD)"])
    answered = named(out, "message_sent", peer="S", exchange="INFORMATIONAL", payloads=["HASH", "N(DPD_ACK)"])
    assert len(got) == len(answered) == probes
    assert "DPD check timed out" not in log and named(out, "child_sa_established", peer="S")


def test_dpd_from_simulated_peer(rig: Rig) -> None:
    rig.start_charon(swanctl_conf(rig, version=1))
    out = rig.run_live(rig.scenario(peer("initiate", dpd={"delay": "1s"}), peer("respond")), 2.6)
    sent, acked = named(out, "dpd_probe_sent", peer="S"), named(out, "dpd_probe_acked", peer="S")
    assert sent and [a["seq"] for a in acked] == [p["seq"] for p in sent]
    log = rig.log()
    assert log.count("[ HASH N(DPD) ]") >= len(sent)  # charon parsed each R-U-THERE
    assert log.count("generating INFORMATIONAL_V1 request") >= len(acked)  # and acknowledged it
    assert not named(out, "peer_dead")


@pytest.mark.parametrize("mode", ["main", "aggressive"])
def test_pfs_quick_mode_and_delete_simulated_initiator(rig: Rig, mode: str) -> None:
    pfs_charon(rig, mode)
    # S sends quick mode 1 right after aggressive mode 3, as charon does; arriving together,
    # charon may read them out of order, ignore the quick mode ("ignoring QUICK_MODE request
    # while phase 1 is incomplete") and take it when it is retransmitted (here after 0.5 s)
    sim = peer("initiate", mode, "aes128-sha256-modp2048", retransmit={"timeout": "0.5s"})
    proc = rig.start_live(rig.scenario(sim, peer("respond")), 2.0)
    assert rig.wait_log("CHILD_SA c{1} established", 10), rig.log()[-3000:]
    sas = rig.list_sas()
    out = rig.finish(proc)
    ike = named(out, "ike_sa_established", peer="S", mode=mode)
    child = named(out, "child_sa_established", peer="S", proposal="aes128-sha256-modp2048")
    assert len(ike) == 1 and len(child) == 1 and not named(out, "negotiation_failed")
    # charon took S's DH group for the quick mode (PFS): KE in both quick mode messages
    assert "ESP:AES_CBC-128/HMAC_SHA2_256_128/MODP_2048" in sas
    log = rig.log()
    exchange = "AGGRESSIVE" if mode == "aggressive" else "ID_PROT"
    assert f"parsed {exchange} request 0 [ SA " in log
    assert "parsed QUICK_MODE request" in log and "[ HASH SA No KE ID ID ]" in log
    if "ignoring QUICK_MODE request while phase 1 is incomplete" in log:
        assert named(out, "message_sent", peer="S", exchange="QUICK_MODE", retransmit=1)
    # S deleted at the end, the IPsec SA (its inbound SPI) then the ISAKMP SA; the two
    # INFORMATIONALs leave together, and a loaded charon may take the ISAKMP SA's first, which
    # destroys the CHILD SA with it (then the other Delete finds no SA to name)
    assert "received DELETE for IKE_SA lab[1]" in log
    assert f"received DELETE for ESP CHILD_SA with SPI {child[0]['spi_in']}" in log or \
        "CHILD_SA c{1} state change: INSTALLED => DESTROYING" in log
    assert named(out, "child_sa_deleted", peer="S", reason="stopped")
    assert named(out, "ike_sa_deleted", peer="S", reason="stopped")


@pytest.mark.parametrize("mode", ["main", "aggressive"])
def test_pfs_quick_mode_and_delete_simulated_responder(rig: Rig, mode: str) -> None:
    pfs_charon(rig, mode)
    proc = rig.start_live(rig.scenario(peer("respond", mode, "aes128-sha256-modp2048"), peer("initiate")), 2.0)
    rig.wait_bound()
    ok = rig.initiate(5)
    sas = rig.list_sas()
    rig.swanctl("--terminate", "--ike", "lab", "--timeout", "5")
    out = rig.finish(proc)
    assert ok, rig.log()[-3000:]
    ike = named(out, "ike_sa_established", peer="S", initiator=False, mode=mode)
    child = named(out, "child_sa_established", peer="S", proposal="aes128-sha256-modp2048")
    assert len(ike) == 1 and len(child) == 1
    assert "ESP:AES_CBC-128/HMAC_SHA2_256_128/MODP_2048" in sas
    exchange = "AGGRESSIVE" if mode == "aggressive" else "ID_PROT"
    log = rig.log()
    assert f"generating {exchange} request 0 [ SA KE No ID" in log if mode == "aggressive" else \
        f"generating {exchange} request 0 [ SA" in log
    # charon deleted: its inbound SPI is S's outbound one; S removed both SAs
    assert f"sending DELETE for ESP CHILD_SA with SPI {child[0]['spi_out']}" in log
    assert "sending DELETE for IKE_SA lab[1]" in log
    assert named(out, "child_sa_deleted", peer="S", reason="deleted_by_peer", spi_in=child[0]["spi_in"])
    assert named(out, "ike_sa_deleted", peer="S", reason="deleted_by_peer")
    assert not named(out, "message_sent", peer="S", exchange="INFORMATIONAL")  # nothing left to delete
