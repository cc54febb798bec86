"""Traffic selectors between ipsecsim's IKEv2 core and a real strongSwan 5.9.8 charon.

RFC 7296 2.9: the responder may narrow the initiator's TSi / TSr to a subset of what it is
configured for, and answers TS_UNACCEPTABLE when nothing is left (3.10.1); the IKE SA
established by IKE_AUTH stays up (1.2 / 2.21.2). Both roles against charon, whose lines come
from strongSwan's source: child_cfg.c / ike_cfg's selection (``config: 10.102.0.0/24,
received: 10.102.0.0/16 => match: 10.102.0.0/24``), child_create.c (``traffic selectors
%R === %R unacceptable``, ``received TS_UNACCEPTABLE notify, no CHILD_SA built``,
``failed to establish CHILD_SA, keeping IKE_SA``, ``CHILD_SA %s{%d} established with SPIs
%.8x_i %.8x_o and TS %#R === %#R``).
"""

from __future__ import annotations

from typing import Any

import pytest
from rig import Rig, swanctl_conf

pytestmark = pytest.mark.live

PSK = "west-east-secret"


def peer(start: str, **more: Any) -> dict[str, Any]:
    return {"start": start, "ike": {"version": 2, "proposals": ["aes128-sha256-modp2048"], "psk": PSK},
            "child": {"proposals": ["aes128-sha256"]}, **more}


def named(out: dict[str, Any], event: str, **fields: Any) -> list[dict[str, Any]]:
    return [e for e in out["events"] if e["event"] == event and all(e.get(k) == v for k, v in fields.items())]


def charon_ts(rig: Rig, local: str, remote: str) -> str:
    return swanctl_conf(rig).replace("local_ts = 10.102.0.0/24", f"local_ts = {local}") \
        .replace("remote_ts = 10.101.0.0/24", f"remote_ts = {remote}")


def test_charon_narrows_the_simulated_initiators_selectors(rig: Rig) -> None:
    # S proposes /16s around charon's /24s: charon answers with the /24s (RFC 7296 2.9)
    rig.start_charon(swanctl_conf(rig))
    sim = peer("initiate", local_subnets=["10.101.0.0/16"], remote_subnets=["10.102.0.0/16"])
    out = rig.run_live(rig.scenario(sim, peer("respond")), 1.0)
    child = named(out, "child_sa_established", peer="S")
    assert len(child) == 1, rig.log()[-3000:]
    assert (child[0]["local_ts"], child[0]["remote_ts"]) == (["10.101.0.0/24"], ["10.102.0.0/24"])
    log = rig.log()
    assert "config: 10.102.0.0/24, received: 10.102.0.0/16 => match: 10.102.0.0/24" in log
    assert "config: 10.101.0.0/24, received: 10.101.0.0/16 => match: 10.101.0.0/24" in log
    assert f"established with SPIs {child[0]['spi_out']}_i {child[0]['spi_in']}_o and TS " \
           "10.102.0.0/24 === 10.101.0.0/24" in log


def test_simulated_responder_narrows_charons_selectors(rig: Rig) -> None:
    # charon proposes /16s; S, configured for the /24s inside them, narrows (RFC 7296 2.9) and
    # charon installs what S chose
    rig.start_charon(charon_ts(rig, "10.102.0.0/16", "10.101.0.0/16"))
    proc = rig.start_live(rig.scenario(peer("respond"), peer("initiate")), 1.5)
    rig.wait_bound()
    ok = rig.initiate(5)
    sas = rig.list_sas()
    out = rig.finish(proc)
    assert ok, rig.log()[-3000:]
    child = named(out, "child_sa_established", peer="S")
    assert [(c["local_ts"], c["remote_ts"]) for c in child] == [(["10.101.0.0/24"], ["10.102.0.0/24"])]
    received = named(out, "message_received", peer="S", exchange="IKE_AUTH", response=False)
    assert received and not named(out, "negotiation_failed")
    log = rig.log()
    # charon, as initiator, checks S's answer against its own configuration (child_create.c)
    assert "config: 10.102.0.0/16, received: 10.102.0.0/24 => match: 10.102.0.0/24" in log
    assert "TS 10.102.0.0/24 === 10.101.0.0/24" in log
    assert "local  10.102.0.0/24" in sas and "remote 10.101.0.0/24" in sas


def test_disjoint_selectors_simulated_initiator(rig: Rig) -> None:
    rig.start_charon(swanctl_conf(rig))
    sim = peer("initiate", local_subnets=["10.201.0.0/24"])
    out = rig.run_live(rig.scenario(sim, peer("respond")), 1.0)
    failed = named(out, "negotiation_failed", peer="S")
    assert [(f["phase"], f["notify"]) for f in failed] == [("child", "TS_UNACCEPTABLE")], rig.log()[-3000:]
    # the IKE SA stays: established on both sides, deleted by S at the end
    assert len(named(out, "ike_sa_established", peer="S")) == 1 and not named(out, "child_sa_established")
    log = rig.log()
    assert "traffic selectors 10.102.0.0/24 === 10.201.0.0/24 unacceptable" in log
    assert "IKE_AUTH response 1 [ IDr AUTH N(TS_UNACCEPT) ]" in log
    assert "failed to establish CHILD_SA, keeping IKE_SA" in log
    assert "received DELETE for IKE_SA lab[1]" in log


def test_disjoint_selectors_simulated_responder(rig: Rig) -> None:
    rig.start_charon(charon_ts(rig, "10.202.0.0/24", "10.201.0.0/24"))
    proc = rig.start_live(rig.scenario(peer("respond"), peer("initiate")), 1.5)
    rig.wait_bound()
    ok = rig.initiate(5)
    sas = rig.list_sas()
    out = rig.finish(proc)
    assert not ok  # swanctl: the CHILD SA was not built
    failed = named(out, "negotiation_failed", peer="S")
    assert [(f["phase"], f["notify"]) for f in failed] == [("child", "TS_UNACCEPTABLE")]
    sent = named(out, "message_sent", peer="S", exchange="IKE_AUTH", response=True)
    assert sent and sent[0]["payloads"] == ["IDr", "AUTH", "N(TS_UNACCEPT)"]
    log = rig.log()
    assert "parsed IKE_AUTH response 1 [ IDr AUTH N(TS_UNACCEPT) ]" in log
    assert "received TS_UNACCEPTABLE notify, no CHILD_SA built" in log
    assert "failed to establish CHILD_SA, keeping IKE_SA" in log
    ike = named(out, "ike_sa_established", peer="S", initiator=False)
    assert len(ike) == 1 and f"{ike[0]['spi_i']}_i* {ike[0]['spi_r']}_r" in sas
