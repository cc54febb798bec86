"""ipsecsim's cores against Libreswan 4.10's pluto (Debian 12 package, unpacked), in namespaces.

Pluto's log lines are those of Libreswan 4.10 (programs/pluto/ikev2_ike_auth.c,
ikev1_main.c, ikev1_quick.c). The kernel here has XFRM but no ESP, so pluto cannot install
the CHILD / IPsec SA it negotiated (netlink: "Protocol not supported"): the tests assert the
IKE SA on both sides and how pluto then answers for the CHILD SA.
"""

from __future__ import annotations

from typing import Any

import pytest
from rig import Rig

pytestmark = [pytest.mark.live, pytest.mark.libreswan]

PSK = "west-east-secret"
CONN = "    ike=aes128-sha2_256;modp2048\n    esp=aes128-sha2_256\n"


def peer(start: str, version: int, esp: str = "aes128-sha256") -> dict[str, Any]:
    return {"start": start, "ike": {"version": version, "proposals": ["aes128-sha256-modp2048"], "psk": PSK},
            "child": {"proposals": [esp]}}


def named(out: dict[str, Any], event: str, **fields: Any) -> list[dict[str, Any]]:
    return [e for e in out["events"] if e["event"] == event and all(e.get(k) == v for k, v in fields.items())]


def test_ikev2_establishment_simulated_initiator(rig: Rig) -> None:
    rig.start_pluto("    ikev2=yes\n" + CONN)
    out = rig.run_live(rig.scenario(peer("initiate", 2), peer("respond", 2)), 1.5)
    log = rig.log()
    ike = named(out, "ike_sa_established", peer="S", proposal="aes128-sha256-prfsha256-modp2048")
    assert len(ike) == 1, log[-3000:]
    # pluto authenticated S's PSK AUTH and S verified pluto's (RFC 7296 2.15)
    assert "responder established IKE SA; authenticated peer using authby=secret and ID_IPV4_ADDR " \
           f"'{rig.sim_addr}'" in log
    assert "chosen from remote proposals 1:ESP:ENCR=AES_CBC_128;INTEG=HMAC_SHA2_256_128" in log
    # pluto chose the CHILD SA but could not install it (no ESP in this kernel) and said so
    # with TS_UNACCEPTABLE in IKE_AUTH, keeping the IKE SA (RFC 7296 1.2 / 2.21.2)
    assert "netlink response for Add SA esp." in log
    failed = named(out, "negotiation_failed", peer="S")
    assert [(f["phase"], f["notify"]) for f in failed] == [("child", "TS_UNACCEPTABLE")]
    # S deleted the IKE SA at the end: pluto was told
    assert named(out, "ike_sa_deleted", peer="S", reason="stopped")
    assert "deleting state (STATE_V2_ESTABLISHED_IKE_SA)" in log


def test_ikev1_main_mode_and_pfs_default(rig: Rig) -> None:
    rig.start_pluto("    ikev2=no\n" + CONN)
    out = rig.run_live(rig.scenario(peer("initiate", 1), peer("respond", 1)), 1.5)
    log = rig.log()
    ike = named(out, "ike_sa_established", peer="S", mode="main")
    assert len(ike) == 1, log[-3000:]
    assert "responding to Main Mode" in log
    assert "IKE SA established {auth=PRESHARED_KEY cipher=AES_CBC_128 integ=HMAC_SHA2_256 group=MODP2048}" in log
    # Libreswan's default pfs=yes (ipsec.conf(5)) refuses a quick mode without a DH group:
    # S's ESP proposal aes128-sha256 (strongSwan style, no PFS) gets NO_PROPOSAL_CHOSEN
    assert "we require PFS but Quick I1 SA specifies no GROUP_DESCRIPTION" in log
    failed = named(out, "negotiation_failed", peer="S")
    assert [(f["phase"], f["notify"]) for f in failed] == [("child", "NO_PROPOSAL_CHOSEN")]
    assert "received Delete SA payload: self-deleting ISAKMP State" in log


def test_ikev2_establishment_simulated_responder(rig: Rig) -> None:
    rig.start_pluto("    ikev2=yes\n" + CONN)
    proc = rig.start_live(rig.scenario(peer("respond", 2), peer("initiate", 2)), 1.5)
    rig.wait_bound()
    rig.whack("--initiate", "--name", "lab", "--asynchronous")
    out = rig.finish(proc)
    log = rig.log()
    ike = named(out, "ike_sa_established", peer="S", initiator=False)
    assert ike, log[-3000:]
    assert "initiator established IKE SA; authenticated peer using authby=secret and ID_IPV4_ADDR " \
           f"'{rig.sim_addr}'" in log
    # S (responder) installed its CHILD SA; pluto could not (no ESP in this kernel), dropped
    # its IKE SA without telling S ("NOT sending notification") and, the connection being
    # meant to stay up, negotiated again: each IKE SA pluto established, S established too
    assert named(out, "child_sa_established", peer="S")
    assert "netlink response for Add SA esp." in log
    assert len(ike) >= log.count("initiator established IKE SA") >= 1  # S may answer the last one as it stops
