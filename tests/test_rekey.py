"""IKEv2 rekeying on two cores wired with explicit time (RFC 7296 1.3.2, 1.3.3, 2.8, 2.18).

Collision tests fix the four nonces per table row, as strongSwan's child_rekey tests do, so
every outcome of the lowest-nonce rule (RFC 7296 2.8.1 / 2.8.2) is exercised; random seeds
then check the invariant "exactly one new SA survives, the same on both sides".
"""

from __future__ import annotations

import pytest
from factory import two_peers
from peerpair import PeerPair, ping

from ipsecsim.proto import kdf
from ipsecsim.proto.sa import ChildState

DELAY = 0.05


def active(pair: PeerPair, name: str) -> list:
    return [c for c in pair[name].engine.child_sas() if c.state in (ChildState.INSTALLED, ChildState.REKEYING)]


def mirrored(pair: PeerPair) -> bool:
    a, b = active(pair, "A"), active(pair, "B")
    return len(a) == 1 and len(b) == 1 and a[0].spi_in == b[0].spi_out and a[0].spi_out == b[0].spi_in


def colliding_pair(seed: int = 1, nonces: dict[str, dict[str, bytes]] | None = None) -> PeerPair:
    """Both peers reach the CHILD soft lifetime within 10 ms, far less than the 50 ms one-way
    delay, so each sends CREATE_CHILD_SA { N(REKEY_SA) ... } before the other's arrives.
    B installs the first CHILD SA at 0.15 s (IKE_AUTH request), A at 0.20 s (response)."""
    # 599.96 s is not a swanctl.conf value (whole seconds): exact timer arithmetic keeps the offset
    a, b = two_peers({"child": {"rekey_time": 599.96, "rand_time": 0, "life_time": 700}, "timers": "exact"},
                     {"child": {"rekey_time": 600, "rand_time": 0, "life_time": 700}, "timers": "exact"})
    pair = PeerPair(a, b, seed=seed, delay=DELAY)
    if nonces:
        for name, table in nonces.items():
            pair[name].engine.nonce_hook = table.__getitem__
    return pair


def n(first: int, last: int = 0) -> bytes:
    return bytes([first]) + bytes(30) + bytes([last])


# A's exchange carries (NiA, NrB), B's exchange (NiB, NrA).
CASES = [
    # (NiA, NrA, NiB, NrB) lowest ...                   the SA that survives was made by
    ((n(1), n(9), n(8), n(7)), "A"),   # NiA lowest: A's exchange -> A deletes its SA   -> B's
    ((n(9), n(8), n(7), n(1)), "A"),   # NrB lowest: A's exchange                      -> B's
    ((n(9), n(8), n(1), n(7)), "B"),   # NiB lowest: B's exchange -> B deletes its SA   -> A's
    ((n(9), n(1), n(8), n(7)), "B"),   # NrA lowest: B's exchange                      -> A's
    ((n(5, 2), n(5, 9), n(5, 3), n(5, 4)), "A"),  # equal first octets: decided by the last
    ((n(5, 9), n(5, 4), n(5, 3), n(5, 8)), "B"),
]


@pytest.mark.parametrize(("nonces", "loser"), CASES)
def test_child_rekey_collision_lowest_nonce(nonces: tuple[bytes, ...], loser: str) -> None:
    nia, nra, nib, nrb = nonces
    pair = colliding_pair(nonces={"A": {"child_ni": nia, "child_nr": nra}, "B": {"child_ni": nib, "child_nr": nrb}})
    pair.run(650)
    coll = {e.peer: e.get("outcome") for e in pair.select("rekey_collision")}
    assert coll == {loser: "lost", "AB".replace(loser, ""): "won"}
    assert mirrored(pair)
    winner = "AB".replace(loser, "")
    survivor = active(pair, winner)[0]
    assert survivor.initiator, "the surviving SA is the one the winner's CREATE_CHILD_SA created"
    assert not active(pair, loser)[0].initiator
    # the old SA is gone at both ends, the loser's redundant SA too
    assert [e.get("reason") for e in pair.select("child_sa_deleted", loser)].count("rekey_collision") == 1
    for name in "AB":
        assert sum(1 for c in pair[name].engine.child_sas()) == 1


@pytest.mark.parametrize("seed", range(1, 13))
def test_child_rekey_collision_one_survivor_random_nonces(seed: int) -> None:
    pair = colliding_pair(seed)
    ping(pair, "A", "p", "10.101.0.1", "10.102.0.1", every=0.05, start=599.0, stop=615.0)
    pair.run(650)
    assert len(pair.select("rekey_collision")) == 2
    assert mirrored(pair)
    assert pair.select("traffic_dropped") == [], "make-before-break: no packet is lost in a collision"


def ike_colliding_pair(nonces: dict[str, dict[str, bytes]] | None = None, seed: int = 1) -> PeerPair:
    # 599.96 s is not a swanctl.conf value (whole seconds): exact timer arithmetic keeps the offset
    a, b = two_peers({"ike": {"rekey_time": 599.96, "rand_time": 0, "life_time": 700},
                      "child": {"rekey_time": 900, "rand_time": 0, "life_time": 1000}, "timers": "exact"},
                     {"ike": {"rekey_time": 600, "rand_time": 0, "life_time": 700},
                      "child": {"rekey_time": 2000, "rand_time": 0, "life_time": 2100}, "timers": "exact"})
    pair = PeerPair(a, b, seed=seed, delay=DELAY)
    for name, table in (nonces or {}).items():
        pair[name].engine.nonce_hook = table.__getitem__
    return pair


@pytest.mark.parametrize(("nonces", "loser"), CASES)
def test_ike_rekey_collision_lowest_nonce(nonces: tuple[bytes, ...], loser: str) -> None:
    """RFC 7296 2.8.2; afterwards the CHILD SA rekey at 900 s runs on the surviving IKE SA."""
    nia, nra, nib, nrb = nonces
    pair = ike_colliding_pair({"A": {"ike_ni": nia, "ike_nr": nra, "child_ni": n(200), "child_nr": n(201)},
                               "B": {"ike_ni": nib, "ike_nr": nrb, "child_ni": n(202), "child_nr": n(203)}})
    pair.run(1000)
    coll = {e.peer: e.get("outcome") for e in pair.select("rekey_collision")}
    assert coll == {loser: "lost", "AB".replace(loser, ""): "won"}
    sas = {name: [sa for sa in pair[name].engine.sas.values() if sa.alive] for name in "AB"}
    assert len(sas["A"]) == len(sas["B"]) == 1
    sa_a, sa_b = sas["A"][0], sas["B"][0]
    assert (sa_a.spi_i, sa_a.spi_r) == (sa_b.spi_i, sa_b.spi_r)
    winner = "AB".replace(loser, "")
    assert sas[winner][0].initiator, "the rekey initiator is the original initiator of the new IKE SA (2.18)"
    assert sa_a.keys == sa_b.keys
    assert mirrored(pair) and active(pair, "A")[0].ike_uid == sa_a.uid
    assert len(pair.select("child_sa_rekeyed", "A")) == 1


@pytest.mark.parametrize("seed", range(1, 7))
def test_ike_rekey_collision_random(seed: int) -> None:
    pair = ike_colliding_pair(seed=seed).run(1000)
    sas = {name: [sa for sa in pair[name].engine.sas.values() if sa.alive] for name in "AB"}
    assert len(sas["A"]) == len(sas["B"]) == 1
    assert sas["A"][0].keys == sas["B"][0].keys
    assert mirrored(pair)


def test_ike_rekey_keys_message_ids_and_children() -> None:
    """RFC 7296 2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) with the old SA's PRF;
    the new SA restarts message ids at 0 and adopts the CHILD SAs."""
    a, b = two_peers({"ike": {"rekey_time": 300, "rand_time": 0, "life_time": 400}},
                     {"ike": {"rekey_time": 1000, "rand_time": 0, "life_time": 1100}})
    pair = PeerPair(a, b, delay=0.01)
    pair.run(100)
    old = next(iter(pair["A"].engine.sas.values()))
    old_sk_d, child = old.keys.sk_d, active(pair, "A")[0]
    pair.run(320)
    rekeyed = pair.select("ike_sa_rekeyed")
    assert [e.peer for e in rekeyed] == ["B", "A"] and rekeyed[1].get("initiator") is True
    new = next(sa for sa in pair["A"].engine.sas.values() if sa.alive)
    assert new is not old and new.initiator and (new.spi_i, new.spi_r) != (old.spi_i, old.spi_r)
    assert new.tm.my_mid == 0 and new.tm.peer_mid == 0
    assert child.ike_uid == new.uid and child in new.children
    # recompute SKEYSEED from the old SK_d: needs g^ir, which both sides derived the same way
    peer_new = next(sa for sa in pair["B"].engine.sas.values() if sa.alive)
    assert new.keys == peer_new.keys and new.keys.sk_d != old_sk_d
    assert [e.get("reason") for e in pair.select("ike_sa_deleted")] == ["rekeyed", "rekeyed"]
    assert kdf.prf_output_bytes(old.prf) == len(new.keys.sk_d)


def test_pfs_rekey_derives_matching_keys_with_ke() -> None:
    """RFC 7296 1.3.3 / 2.17: with a DH group in the ESP proposal the rekey carries KE payloads
    and KEYMAT includes g^ir (new); both ends derive the same keys."""
    a, b = two_peers({"child": {"proposals": ["aes128-sha256-modp2048"], "rekey_time": 100, "rand_time": 0}},
                     {"child": {"proposals": ["aes128-sha256-modp2048"], "rekey_time": 500, "rand_time": 0}})
    pair = PeerPair(a, b, delay=0.01).run(150)
    sent = [d.message for _, who, d in pair.sent if who == "A" and d.message.exchange.name == "CREATE_CHILD_SA"]
    assert sent[0].labels() == ["N(REKEY_SA)", "SA", "No", "KE", "TSi", "TSr"]
    ca, cb = active(pair, "A")[0], active(pair, "B")[0]
    assert (ca.encr_key_out, ca.integ_key_out) == (cb.encr_key_in, cb.integ_key_in)
    assert (ca.encr_key_in, ca.integ_key_in) == (cb.encr_key_out, cb.integ_key_out)
    assert pair.select("child_sa_rekeyed", "A")[0].get("pfs") == "modp2048"


def test_pfs_group_preference_answered_with_invalid_ke() -> None:
    """RFC 7296 1.3: the initiator guesses the first group; the responder picks another group
    of the proposal and answers INVALID_KE_PAYLOAD; the initiator retries with it."""
    a, b = two_peers({"child": {"proposals": ["aes128-sha256-modp2048-ecp256"], "rekey_time": 100, "rand_time": 0}},
                     {"child": {"proposals": ["aes128-sha256-ecp256"], "rekey_time": 500, "rand_time": 0}})
    pair = PeerPair(a, b, delay=0.01).run(150)
    retry = pair.select("ke_group_retry", "A")
    assert retry and retry[0].get("requested") == 19
    assert pair.select("child_sa_rekeyed", "A")[0].get("pfs") == "ecp256"
    assert mirrored(pair)


def test_pfs_mismatch_fails_at_first_rekey_then_hard_expiry() -> None:
    """IKE_AUTH ignores DH groups (RFC 7296 1.2): the tunnel comes up; the first rekey offers
    KE for modp2048 to a peer without PFS -> NO_PROPOSAL_CHOSEN; retries every 10-30 s
    (strongSwan); at the hard lifetime (life_time 110 % of rekey_time) the SA is deleted."""
    a, b = two_peers({"child": {"proposals": ["aes128-sha256-modp2048"], "rekey_time": 300, "rand_time": 0}},
                     {"child": {"proposals": ["aes128-sha256"], "rekey_time": 3000, "rand_time": 0}})
    pair = PeerPair(a, b, delay=0.01).run(400)
    assert pair.select("child_sa_established", "A")
    fails = pair.select("negotiation_failed")
    assert fails[0].peer == "B" and fails[0].get("phase") == "child_rekey"
    assert fails[0].get("notify") == "NO_PROPOSAL_CHOSEN"
    installed = 4 * 0.01  # A installs the CHILD SA with the IKE_AUTH response: two round trips
    assert abs(fails[0].t - (installed + 300 + 0.01)) < 1e-6
    assert all(f.get("notify") == "NO_PROPOSAL_CHOSEN" for f in fails)
    retries = [e.get("retry_in") for e in pair.select("rekey_retry", "A")]
    assert retries and all(10 <= r <= 30 for r in retries)
    hard = pair.select("sa_expired", "A")[-1]
    assert hard.get("kind") == "hard" and abs(hard.t - (installed + 330)) < 1e-6
    assert active(pair, "A") == [] and active(pair, "B") == []
    assert pair.select("child_sa_deleted", "B")[-1].get("reason") == "deleted_by_peer"


def test_make_before_break_keeps_traffic_and_old_inbound_for_5s() -> None:
    """strongSwan charon.delete_rekeyed_delay = 5 s: the replaced inbound SA goes 5 s after the
    DELETE exchange; a ping every 100 ms through two rekeys loses nothing."""
    a, b = two_peers({"child": {"rekey_time": 200, "rand_time": 0}}, {"child": {"rekey_time": 2000}})
    pair = PeerPair(a, b, delay=0.01)
    ping(pair, "A", "p", "10.101.0.1", "10.102.0.1", every=0.1, start=1.0, stop=450.0)
    ping(pair, "B", "q", "10.102.0.1", "10.101.0.1", every=0.1, start=1.05, stop=450.0)
    pair.run(460)
    assert len(pair.select("child_sa_rekeyed", "A")) == 2
    assert pair.select("traffic_dropped") == []
    rekeyed = pair.select("child_sa_rekeyed", "A")[0]
    gone = next(e for e in pair.select("child_sa_deleted", "A") if e.get("spi_in") == rekeyed.get("old_spi_in"))
    # rekey response at t, DELETE sent at t, its response at t + 0.02, removal 5 s later
    assert abs(gone.t - (rekeyed.t + 0.02 + 5.0)) < 1e-6
    assert pair["B"].traffic.flows["p"].delivered_packets == pair["A"].traffic.flows["p"].offered_packets


def test_shorter_lifetime_side_does_every_rekey() -> None:
    """IKEv2 lifetimes are not negotiated (RFC 7296 2.8): the responder with the shorter
    rekey_time rekeys every time, although A initiated the tunnel."""
    a, b = two_peers({"child": {"rekey_time": "1h"}}, {"child": {"rekey_time": "20m"}})
    pair = PeerPair(a, b).run(3 * 3600)
    rekeys = pair.select("child_sa_rekeyed")
    assert len(rekeys) >= 2 * 8
    assert {(e.peer, e.get("initiator")) for e in rekeys} == {("B", True), ("A", False)}
