"""IKEv1 informational exchanges (RFC 2409 5.7, RFC 2408 3.14/3.15): protected deletes and
notifies; IPsec SAs outlive their ISAKMP SA; INITIAL-CONTACT (RFC 2407 4.6.3.3)."""

from __future__ import annotations

from test_ikev1_phase1 import only_sa
from v1util import v1_pair, v1_peers, wire_msgs

from ipsecsim.proto.endpoint import Endpoint
from ipsecsim.proto.ikev1.message import HASH, D, Exchange, Message
from ipsecsim.proto.rng import stream


def test_deleting_the_isakmp_sa_leaves_the_ipsec_sas() -> None:
    pair = v1_pair().run(10)
    a = pair["A"].engine
    a.delete_isakmp(only_sa(pair, "A"), "operator", 10)
    pair.collect("A")
    pair.run(20)
    assert wire_msgs(pair, "A", "INFORMATIONAL")[0].labels() == ["HASH", "D"]
    deleted = pair.select("ike_sa_deleted")
    assert [(e.peer, e.get("reason")) for e in deleted] == [("A", "operator"), ("B", "deleted_by_peer")]
    assert not pair.select("child_sa_deleted")
    for name in "AB":
        st = pair[name].status()
        assert st["status"] == "ipsec_sa_established" and st["ike_sas"] == []
        assert [c["ike_sa_alive"] for c in st["child_sas"]] == [False]


def test_deleting_an_ipsec_sa_tells_the_peer() -> None:
    """The Delete carries our inbound SPI; the peer removes the SA whose outbound SPI it is."""
    pair = v1_pair().run(10)
    child = pair["B"].engine.children[0]
    pair["B"].engine.delete_child(child, "operator", 10)
    pair.collect("B")
    pair.run(20)
    d = wire_msgs(pair, "B", "INFORMATIONAL")[0]
    assert d.labels() == ["HASH", "D"] and d.payloads[1].spis == (child.spi_in,)  # type: ignore[union-attr]
    gone = pair.select("child_sa_deleted")
    assert [(e.peer, e.get("reason"), e.get("spi_out")) for e in gone] == [
        ("B", "operator", child.spi_out.hex()), ("A", "deleted_by_peer", child.spi_in.hex())]
    assert pair.status("A") == pair.status("B") == "ike_sa_established"


def test_informational_with_a_wrong_hash_is_ignored() -> None:
    """HASH(1) = prf(SKEYID_a, M-ID | D) protects the delete; a forged one changes nothing."""
    pair = v1_pair().run(10)
    b = pair["B"].engine
    sa = only_sa(pair, "B")
    forged = Message(Exchange.INFORMATIONAL, sa.cky_i, sa.cky_r, b.new_mid(sa), False,
                     (HASH(bytes(32)), D(3, (b.children[0].spi_in,))), True)
    b.transmit(sa, b.seal(sa, forged, chain=False), 0)
    pair.collect("B")
    pair.run(20)
    ign = [e for e in pair.select("message_ignored", "A") if e.get("exchange") == "INFORMATIONAL"]
    assert ign and "HASH(1)" in ign[0].get("reason")
    assert pair.status("A") == "ipsec_sa_established" and not pair.select("child_sa_deleted")


def test_initial_contact_from_a_rebooted_peer_clears_old_sas() -> None:
    """A reboots: its new main mode carries INITIAL-CONTACT, B drops the old ISAKMP SA and
    the old IPsec SA, then has only the new ones."""
    a_settings, _ = v1_peers()
    pair = v1_pair().run(10)
    old_child = pair["B"].engine.children[0]
    fresh = Endpoint(a_settings, stream(2, "peer", "A"))
    pair.eps["A"] = pair.by_addr[a_settings.address] = fresh
    fresh.start(20)
    pair.now = 20
    pair.collect("A")
    pair.run(30)
    assert "N(INITIAL_CONTACT)" in wire_msgs(pair, "A", "IDENTITY_PROTECTION")[-1].labels()
    assert [e.get("reason") for e in pair.select("ike_sa_deleted", "B")] == ["initial_contact"]
    gone = pair.select("child_sa_deleted", "B")
    assert [(e.get("spi_in"), e.get("reason")) for e in gone] == [(old_child.spi_in.hex(), "initial_contact")]
    st = pair["B"].status()
    assert st["status"] == "ipsec_sa_established" and len(st["ike_sas"]) == 1 and len(st["child_sas"]) == 1


def test_no_initial_contact_while_sas_exist() -> None:
    pair = v1_pair().run(10)
    pair["A"].engine.initiate(10)
    pair.collect("A")
    pair.run(20)
    mm5 = [m for m in wire_msgs(pair, "A", "IDENTITY_PROTECTION") if m.encrypted]
    assert [m.labels() for m in mm5] == [["ID", "HASH", "N(INITIAL_CONTACT)"], ["ID", "HASH"]]
    assert not pair.select("ike_sa_deleted")


def test_simultaneous_initiation_keeps_both_negotiations() -> None:
    """Both ends initiate at once and both send INITIAL-CONTACT: only established SAs are
    dropped by it, so the two main modes and their quick modes all complete."""
    pair = v1_pair(b={"start": "initiate"}).run(30)
    assert not pair.select("ike_sa_deleted") and not pair.select("child_sa_deleted")
    assert len(pair.select("ike_sa_established")) == 4
    a, b = pair["A"].engine.children, pair["B"].engine.children
    assert len(a) == len(b) == 2
    for c in a:
        peer = next(x for x in b if x.spi_in == c.spi_out)
        assert (peer.encr_key_in, peer.integ_key_in) == (c.encr_key_out, c.integ_key_out)
