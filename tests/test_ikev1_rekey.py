"""IKEv1 lifetimes and rekeying between two cores (PeerPair, explicit time, 5 ms per message).

Negotiated lifetimes (RFC 2409 Appendix A, RFC 2407 4.5 / 4.6.3.1) feed each side's soft-point
rule; an IPsec SA is rekeyed by a new quick mode (make-before-break, the replaced SA kept
until its hard lifetime as strongSwan does with charon.delete_rekeyed = no), an ISAKMP SA by a
new main / aggressive mode (strongSwan task_manager_v1: rekey = re-authentication); hard
limits without a replacement delete the SA and tell the peer (RFC 2409 5.7 [ HASH D ]).
"""

from __future__ import annotations

from typing import Any

import pytest
from factory import two_peers
from peerpair import PeerPair, ping
from v1util import v1_pair, v1_peers, wire_msgs

from ipsecsim.config.loader import deep_merge
from ipsecsim.proto.ikev1.message import D, Notify
from ipsecsim.proto.sa import ChildState
from ipsecsim.proto.traffic import FluidFlow

CHILD_2M = {"child": {"rekey_time": "2m"}}  # strongSwan: life_time 110 % = 132 s, rand_time 12 s


def installed_at(pair: PeerPair, name: str) -> dict[str, float]:
    out = {}
    for e in pair.events:
        if e.peer == name and e.event in ("child_sa_established", "child_sa_rekeyed"):
            out[e.get("spi_in")] = e.t
    return out


def live(pair: PeerPair, name: str) -> list[Any]:
    return [c for c in pair[name].engine.child_sas() if c.state in (ChildState.INSTALLED, ChildState.REKEYING)]


def test_quick_mode_rekey_is_make_before_break() -> None:
    """swanctl.conf rekey_time 2 min, life_time 132 s, rand_time 12 s: the soft point falls
    108-120 s after installation. The quick mode initiator moves its traffic when it sends
    message 3, the responder when it receives it (one link delay later); the replaced SA
    keeps its inbound SA until its hard lifetime, 132 s after it was made; no ping is lost."""
    pair = v1_pair(CHILD_2M, CHILD_2M)
    ping(pair, "A", "a", "10.101.0.1", "10.102.0.1", every=0.5, start=1.0, stop=290.0)
    ping(pair, "B", "b", "10.102.0.1", "10.101.0.1", every=0.5, start=1.25, stop=290.0)
    pair.run(300)
    for name in "AB":
        born = installed_at(pair, name)
        soft = pair.select("sa_expired", name)
        assert all(e.get("kind") == "soft" for e in soft)
        for e in soft:
            assert 108 - 1e-6 <= e.t - born[e.get("spi_in")] <= 120 + 0.011
        for e in pair.select("child_sa_deleted", name):  # the replaced SA, at its hard lifetime
            assert e.t - born[e.get("spi_in")] == pytest.approx(132, abs=1e-6)
    rekeys = pair.select("child_sa_rekeyed")
    assert len(rekeys) == 4  # two rekeys in 300 s, each seen at both ends
    for first, second in zip(rekeys[::2], rekeys[1::2], strict=True):
        assert first.get("initiator") and not second.get("initiator")
        assert second.t - first.t == pytest.approx(0.005)
        assert (first.get("spi_in"), first.get("old_spi_in")) == (second.get("spi_out"), second.get("old_spi_out"))
    assert not pair.select("child_sa_established", None)[2:], "a rekey is not a new CHILD SA"
    assert {e.get("reason") for e in pair.select("child_sa_deleted")} == {"rekeyed"}
    assert pair.select("traffic_dropped") == []
    assert pair["A"].traffic.counters("a").replies == pair["B"].traffic.counters("b").replies == 578
    [a], [b] = live(pair, "A"), live(pair, "B")
    assert (a.spi_in, a.spi_out, a.encr_key_out) == (b.spi_out, b.spi_in, b.encr_key_in)


def test_huawei_cloud_rekeys_at_the_54th_minute_of_the_agreed_lifetime() -> None:
    """strongSwan proposes 3960 s; the Huawei Cloud responder (lifetime policy claim) keeps its
    3600 s and says so in RESPONDER-LIFETIME (RFC 2407 4.6.3.1; strongSwan does not read it);
    the cloud's soft point is 90 % of its 3600 s,
    minute 54 (Huawei Cloud FAQ), before any strongSwan draw in [3240, 3600) s: the cloud rekeys."""
    branch, cloud = two_peers(
        {"ike": {"version": 1, "proposals": ["aes128-sha256-modp3072"]},
         "child": {"proposals": ["aes128-sha256-modp3072"]}},
        {"profile": "huawei-cloud", "ike": {"version": 1, "proposals": ["aes128-sha256-modp3072"]},
         "child": {"proposals": ["aes128-sha256-modp3072"]}})
    pair = PeerPair(branch, cloud).run(3300)
    assert [c.life_time for c in pair["B"].engine.child_sas()] == [3600.0] * 2
    # the strongSwan branch ignores RESPONDER-LIFETIME (quick_mode.c): its first SA keeps 3960 s;
    # the rekeyed one is the cloud's proposal, which the branch (responder, policy obey) takes
    assert [c.life_time for c in pair["A"].engine.child_sas()] == [3960.0, 3600.0]
    [soft] = pair.select("sa_expired", "B")
    born = pair.select("child_sa_established", "B")[0].t
    assert soft.t - born == pytest.approx(0.9 * 3600) and soft.get("limit") == pytest.approx(3240)
    assert [e.get("initiator") for e in pair.select("child_sa_rekeyed", "B")] == [True]
    assert not pair.select("sa_expired", "A")


def test_volume_rekey_uses_the_negotiated_kilobytes() -> None:
    """Huawei Cloud: 20 GB volume lifetime (Huawei Cloud API), proposed as 19531250 KB (x 1024 =
    20e9 B) and claimed over strongSwan's none; soft at 90 % = 18e9 B. A 1 Gbit/s flow from the
    cloud (125e6 B/s) crosses it 144 s after it starts; the cloud rekeys and the flow moves to
    the new SA without a gap."""
    branch, cloud = two_peers(
        {"ike": {"version": 1, "proposals": ["aes128-sha256-modp3072"]},
         "child": {"proposals": ["aes128-sha256-modp3072"]}},
        {"profile": "huawei-cloud", "ike": {"version": 1, "proposals": ["aes128-sha256-modp3072"]},
         "child": {"proposals": ["aes128-sha256-modp3072"]}})
    pair = PeerPair(branch, cloud)
    flow = FluidFlow("bulk", int.from_bytes(bytes([10, 102, 0, 1]), "big"),
                     int.from_bytes(bytes([10, 101, 0, 1]), "big"), 1400)
    pair.at(10.0, lambda p: p["B"].offer_fluid(flow, 125e6, 10.0))
    pair.run(200)
    # the cloud claims its volume lifetime in RESPONDER-LIFETIME; the strongSwan branch never reads
    # that notify (quick_mode.c) and keeps none
    assert {c.life_bytes for c in pair["B"].engine.child_sas()} == {19531250 * 1024}
    assert next(c.life_bytes for c in pair["A"].engine.child_sas()) is None
    [soft] = pair.select("sa_expired", "B")
    assert (soft.get("by"), soft.get("kind"), soft.get("limit")) == ("bytes", "soft", 18e9)
    assert soft.t == pytest.approx(10 + 18e9 / 125e6)
    [rk] = pair.select("child_sa_rekeyed", "B")
    assert rk.get("bytes_out") == pytest.approx(18e9, rel=1e-4)
    assert not pair.select("traffic_dropped") and not pair.select("sa_expired", "A")


def test_packet_limits_stay_local() -> None:
    """IKEv1 cannot negotiate a packet lifetime (RFC 2407 4.5 has seconds and kilobytes): A's
    rekey_packets 50 applies to A only, counted per direction."""
    pair = v1_pair({"child": {"rekey_packets": 50, "rand_packets": 0, "life_packets": 100}})
    ping(pair, "A", "p", "10.101.0.1", "10.102.0.1", every=1.0, start=1.0, stop=60.0)
    pair.run(60)
    soft = pair.select("sa_expired", "A")
    assert [(e.get("by"), e.get("limit")) for e in soft] == [("packets", 50)]
    assert soft[0].t == pytest.approx(50.0)  # the 50th echo request leaves at 50 s
    assert not pair.select("sa_expired", "B")


def test_hard_expiry_without_a_rekey_deletes_and_tells_the_peer() -> None:
    """B changes its ESP proposal while in use: every rekey quick mode is refused
    (NO_PROPOSAL_CHOSEN) and retried 10-30 s later; at the hard lifetime the SA is deleted
    and the peer told with INFORMATIONAL [ HASH D(our inbound SPI) ]."""
    a, b = v1_peers(CHILD_2M, CHILD_2M)
    _, b2 = v1_peers(CHILD_2M, deep_merge(CHILD_2M, {"child": {"proposals": ["aes256-sha256"]}}))
    pair = PeerPair(a, b)
    pair.at(10.0, lambda p: p["B"].reconfigure(b2))
    pair.run(200)
    failed = pair.select("negotiation_failed")
    assert failed and {e.get("notify") for e in failed} == {"NO_PROPOSAL_CHOSEN"}
    # the quick mode initiator knows it rekeys (phase child_rekey); IKEv1 does not tell the responder
    assert {e.get("phase") for e in failed} == {"child", "child_rekey"}
    assert pair.select("rekey_retry")
    hard = [e for e in pair.select("sa_expired") if e.get("kind") == "hard"]
    first = min(hard, key=lambda e: e.t)
    born = pair.select("child_sa_established", first.peer)[0].t
    assert first.t - born == pytest.approx(132)
    deleted = pair.select("child_sa_deleted", first.peer)
    assert [e.get("reason") for e in deleted] == ["expired"]
    [d] = [m for t, who, dg in pair.sent if who == first.peer and t == first.t for m in [dg.message]]
    assert d.labels() == ["HASH", "D"] and d.payloads[1].spis == (bytes.fromhex(first.get("spi_in")),)
    for name in "AB":  # the ISAKMP SA is up, the IPsec SA was refused
        assert pair.status(name) == "ipsec_sa_not_established"


def test_isakmp_hard_expiry_deletes_it_and_keeps_the_ipsec_sas() -> None:
    """No ISAKMP rekey (rekey_time 0), lifetime 100 s proposed in main mode: at the hard
    lifetime the ISAKMP SA is deleted with INFORMATIONAL [ HASH D ]; the IPsec SAs stay."""
    ike = {"ike": {"rekey_time": 0, "life_time": "100s"}}
    pair = v1_pair(ike, ike).run(150)
    # B's ISAKMP SA is up at 25 ms, A's at 30 ms: B's Delete reaches A as A's own expires
    [hard] = pair.select("sa_expired")
    assert (hard.peer, hard.get("sa_type"), hard.get("kind"), hard.get("limit")) == ("B", "ike", "hard", 100)
    assert hard.t == pytest.approx(100.025)
    assert [(e.peer, e.get("reason")) for e in pair.select("ike_sa_deleted")] == [
        ("B", "expired"), ("A", "deleted_by_peer")]
    deletes = wire_msgs(pair, None, "INFORMATIONAL")
    assert all(m.labels() == ["HASH", "D"] and isinstance(m.payloads[1], D) and m.payloads[1].protocol == 1
               for m in deletes)
    assert not pair.select("child_sa_deleted")
    for name in "AB":
        st = pair[name].status()
        assert st["status"] == "ipsec_sa_established" and st["ike_sas"] == []


def test_ipsec_rekey_without_an_isakmp_sa_runs_phase1_first() -> None:
    """The ISAKMP SA expires at 100 s; the IPsec SA's soft point (3 min rekey_time: 162-180 s)
    then needs a new main mode before the quick mode. No INITIAL-CONTACT: SAs with the peer
    still exist. No ping is lost."""
    cfg = {"ike": {"rekey_time": 0, "life_time": "100s"}, "child": {"rekey_time": "3m"}}
    pair = v1_pair(cfg, cfg)
    ping(pair, "A", "p", "10.101.0.1", "10.102.0.1", every=1.0, start=1.0, stop=230.0)
    pair.run(230)
    [soft] = [e for e in pair.select("sa_expired") if e.get("sa_type") == "child"][:1]
    starter = soft.peer
    mm1 = [t for t, who, d in pair.sent if who == starter and d.message.exchange.name == "IDENTITY_PROTECTION"
           and t > 150]
    assert mm1 and mm1[0] == soft.t
    assert len(pair.select("ike_sa_established", starter)) == 2
    assert all("N(INITIAL_CONTACT)" not in m.labels() for m in wire_msgs(pair, starter, "IDENTITY_PROTECTION")[3:])
    assert len(pair.select("child_sa_rekeyed")) == 2
    assert pair["A"].traffic.counters("p").replies == 229 and not pair.select("traffic_dropped")


@pytest.mark.parametrize("mode", ["main", "aggressive"])
def test_isakmp_rekey_is_a_new_phase1_that_replaces_the_old_sa(mode: str) -> None:
    """strongSwan queue_ike_rekey = queue_ike_reauth: a new main / aggressive mode; when it is up
    the old ISAKMP SA is deleted ([ HASH D ]); the IPsec SAs stay as they are, and later quick
    modes run under the new ISAKMP SA."""
    a = {"ike": {"mode": mode, "rekey_time": "2m"}, "child": {"rekey_time": "4m"}}
    # B's own soft point (3 min) lies beyond the agreed 132 s: only A re-authenticates
    b = {"ike": {"rekey_time": "3m"}, "child": {"rekey_time": "4m"}}
    pair = v1_pair(a, b)
    ping(pair, "A", "p", "10.101.0.1", "10.102.0.1", every=1.0, start=1.0, stop=300.0)
    pair.run(300)
    rekeyed = pair.select("ike_sa_rekeyed")
    assert len(rekeyed) >= 2 and {e.peer for e in rekeyed[:2]} == {"A", "B"}
    first, second = sorted(rekeyed[:2], key=lambda e: e.peer)  # at A, at B
    assert first.get("new_spi_i") == second.get("new_spi_i") and first.get("initiator") and not second.get("initiator")
    exchange = "IDENTITY_PROTECTION" if mode == "main" else "AGGRESSIVE"
    assert next(d.message.exchange.name for t, who, d in pair.sent if who == "A" and 100 < t < first.t) == exchange
    assert 108 <= first.t <= 120.05  # IKE rekey_time 2 min, rand_time = over_time 12 s
    assert [e.get("reason") for e in pair.select("ike_sa_deleted")][:2] == ["rekeyed", "rekeyed"]
    # the first rekey's new phase 1 carries no INITIAL-CONTACT and touches no IPsec SA
    assert not [e for e in pair.select("child_sa_deleted") if e.t < 200]
    later = [d.message for t, _, d in pair.sent if t > first.t and d.message.exchange.name == "QUICK_MODE"]
    assert later, "the IPsec rekey (216-240 s) ..."
    assert all(m.cky_i.hex() != first.get("spi_i") for m in later), "... runs under a new ISAKMP SA"
    assert pair["A"].traffic.counters("p").replies == 299 and not pair.select("traffic_dropped")


def test_on_traffic_start() -> None:
    """start: on-traffic (strongSwan start_action = trap): the first ping triggers main mode and
    quick mode and is dropped meanwhile (Linux xfrm_larval_drop); the next one gets through."""
    pair = v1_pair({"start": "on-traffic"})
    ping(pair, "A", "p", "10.101.0.1", "10.102.0.1", every=1.0, start=5.0, stop=10.0)
    pair.run(12)
    assert [e.t for e in pair.select("negotiation_triggered", "A")] == [5.0]
    assert pair.select("ike_sa_established", "A")[0].t == pytest.approx(5.03)
    assert pair["A"].traffic.counters("p").replies == 4
    [drop] = pair.select("traffic_dropped", "A")
    assert (drop.get("reason"), drop.get("packets")) == ("negotiating", 1)


def test_rekeyed_sa_deleted_by_the_peer_goes_as_rekeyed() -> None:
    """A Delete for an SA this side already replaced removes it with reason rekeyed."""
    pair = v1_pair(CHILD_2M, CHILD_2M).run(125)
    old = [c for c in pair["B"].engine.child_sas() if c.state is ChildState.REKEYED]
    assert len(old) == 1
    pair["A"].engine.info.delete_esp(next(iter(pair["A"].engine.sas.values())), (old[0].spi_out,), 125)
    pair.collect("A")
    pair.run(126)
    assert [e.get("reason") for e in pair.select("child_sa_deleted", "B")] == ["rekeyed"]
    assert Notify.R_U_THERE not in [getattr(p, "type", None) for m in wire_msgs(pair) for p in m.payloads]
