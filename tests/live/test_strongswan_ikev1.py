"""ipsecsim's IKEv1 core against a real strongSwan 5.9.8 charon (Debian 12), in namespaces.

RFC 2409 main mode (six messages, PSK) and quick mode (three), RFC 3706 DPD (R-U-THERE /
R-U-THERE-ACK notifies in an INFORMATIONAL exchange, sequence numbers), with S (ipsecsim)
as initiator and as responder. Charon's log lines are those of strongSwan 5.9.8's IKEv1
tasks (src/libcharon/sa/ikev1/tasks/main_mode.c, quick_mode.c, isakmp_dpd.c) as seen in the
reference capture S3_ikev1_dpd_delay5_timeout20: ``IKE_SA lab[1] established between``,
``CHILD_SA c{1} established with SPIs``, ``INFORMATIONAL_V1 request ... [ HASH N(DPD) ]``.
"""

from __future__ import annotations

from typing import Any

import pytest
from rig import Rig, swanctl_conf

pytestmark = pytest.mark.live

PSK = "west-east-secret"


def peer(start: str, **more: Any) -> dict[str, Any]:
    return {"start": start, "ike": {"version": 1, "proposals": ["aes128-sha256-modp2048"], "psk": PSK},
            "child": {"proposals": ["aes128-sha256"]}, **more}


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
