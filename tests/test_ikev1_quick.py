"""IKEv1 quick mode (RFC 2409 5.5) between two cores: HASH(1)/(2)/(3) and KEYMAT recomputed
from the wire, PFS, proposal and proxy-identity refusals, lifetimes, retransmission."""

from __future__ import annotations

import hashlib
import hmac

from test_ikev1_phase1 import aes_cbc, only_sa
from v1util import chain, v1_pair, wire_msgs

from ipsecsim.proto import dh, kdf
from ipsecsim.proto.algorithms import ALGORITHMS


def decrypt(key: bytes, iv: bytes, raw: bytes) -> list[tuple[int, bytes, bytes]]:
    return chain(raw[16], aes_cbc(key, iv, raw[28:]))


def test_quick_mode_hashes_and_keymat_match_the_wire() -> None:
    """IV of QM1 = hash(last phase 1 CBC block | M-ID), then chained; HASH(1) = prf(SKEYID_a,
    M-ID | rest of message 1), HASH(2) = prf(SKEYID_a, M-ID | Ni_b | rest of message 2),
    HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b); KEYMAT per direction from the SPI its
    receiver chose: prf(SKEYID_d, 3 | SPI | Ni_b | Nr_b), encryption key first."""
    pair = v1_pair().run(10)
    a, b = only_sa(pair, "A"), only_sa(pair, "B")
    assert a.keys is not None and b.keys is not None
    key, sk_a, sk_d = a.keys.enc_key, a.keys.skeyid_a, a.keys.skeyid_d
    mm6 = wire_msgs(pair, exchange="IDENTITY_PROTECTION")[5].raw
    qm = [m.raw for m in wire_msgs(pair, exchange="QUICK_MODE")]
    mid = qm[0][20:24]
    iv = hashlib.sha256(mm6[-16:] + mid).digest()[:16]
    p1 = decrypt(key, iv, qm[0])
    assert [t for t, _, _ in p1] == [8, 1, 10, 5, 5]
    rest1 = b"".join(whole for _, _, whole in p1[1:])
    assert p1[0][1] == hmac.new(sk_a, mid + rest1, hashlib.sha256).digest()
    p2 = decrypt(key, qm[0][-16:], qm[1])
    ni, nr = p1[2][1], p2[2][1]
    rest2 = b"".join(whole for _, _, whole in p2[1:])
    assert p2[0][1] == hmac.new(sk_a, mid + ni + rest2, hashlib.sha256).digest()
    p3 = decrypt(key, qm[1][-16:], qm[2])
    assert p3[0][1] == hmac.new(sk_a, b"\x00" + mid + ni + nr, hashlib.sha256).digest()
    # SPIs: the proposal SPI of message 1 is A's inbound, of message 2 B's inbound
    spi_a, spi_b = p1[1][1][8 + 4 + 4:8 + 4 + 4 + 4], p2[1][1][8 + 4 + 4:8 + 4 + 4 + 4]
    ca, cb = pair["A"].engine.children[0], pair["B"].engine.children[0]
    assert (ca.spi_in, ca.spi_out, cb.spi_in, cb.spi_out) == (spi_a, spi_b, spi_b, spi_a)
    prf = ALGORITHMS["prfsha256"]
    km_a = kdf.v1_quick_keymat(prf, sk_d, 3, spi_a, ni, nr, 16 + 32)
    km_b = kdf.v1_quick_keymat(prf, sk_d, 3, spi_b, ni, nr, 16 + 32)
    assert (ca.encr_key_in, ca.integ_key_in, ca.encr_key_out, ca.integ_key_out) == \
        (km_a[:16], km_a[16:], km_b[:16], km_b[16:])
    assert (cb.encr_key_in, cb.integ_key_in, cb.encr_key_out, cb.integ_key_out) == \
        (km_b[:16], km_b[16:], km_a[:16], km_a[16:])
    assert b.keys.skeyid_d == sk_d


def test_pfs_adds_ke_and_feeds_keymat() -> None:
    """PFS: KE in messages 1 and 2 (group from the ESP proposal), g(qm)^xy in KEYMAT."""
    esp = {"child": {"proposals": ["aes256-sha1-modp2048"]}}
    pair = v1_pair(esp, esp).run(10)
    labels = [m.labels() for m in wire_msgs(pair, exchange="QUICK_MODE")]
    assert labels[:2] == [["HASH", "SA", "No", "KE", "ID", "ID"]] * 2
    qa = next(iter(only_sa(pair, "A").quick.values()))
    qb = next(iter(only_sa(pair, "B").quick.values()))
    assert qa.dh is not None and qb.dh is not None
    g_qm = dh.shared_secret(qa.dh, qb.dh.public)
    sa = only_sa(pair, "A")
    assert sa.keys is not None
    ca = pair["A"].engine.children[0]
    km = kdf.v1_quick_keymat(ALGORITHMS["prfsha256"], sa.keys.skeyid_d, 3, ca.spi_in, qa.nonce_i, qa.nonce_r,
                             32 + 20, g_qm)
    assert (ca.encr_key_in, ca.integ_key_in) == (km[:32], km[32:])
    assert all(e.get("pfs") for e in pair.select("child_sa_established"))


def test_pfs_mismatch_fails_the_first_quick_mode() -> None:
    """Unlike IKEv2 (no KE in IKE_AUTH), IKEv1 negotiates the PFS group in every quick mode."""
    pair = v1_pair({"child": {"proposals": ["aes128-sha256-modp2048"]}}).run(10)
    assert [e.get("notify") for e in pair.select("negotiation_failed")] == ["NO_PROPOSAL_CHOSEN"] * 2
    assert wire_msgs(pair, "B", "INFORMATIONAL")[0].labels() == ["HASH", "N(NO_PROP)"]
    assert pair.status("A") == pair.status("B") == "ipsec_sa_not_established"


def test_esp_proposal_mismatch() -> None:
    pair = v1_pair(b={"child": {"proposals": ["3des-md5"]}}).run(10)
    f = pair.select("negotiation_failed", "B")[0]
    assert (f.get("phase"), f.get("notify")) == ("child", "NO_PROPOSAL_CHOSEN")
    assert "3des-md5" in f.get("reason")
    assert pair.select("negotiation_failed", "A")[0].get("notify") == "NO_PROPOSAL_CHOSEN"
    assert not pair.select("retransmit_gave_up")


def test_proxy_ids_not_mirror_images() -> None:
    """ts_policy exact (Huawei): IDcr 10.102.0.0/24 is not B's local 10.102.0.0/16."""
    pair = v1_pair(b={"local_subnets": ["10.102.0.0/16"], "child": {"ts_policy": "exact"}}).run(10)
    assert [e.get("notify") for e in pair.select("negotiation_failed")] == ["INVALID_ID_INFORMATION"] * 2
    assert wire_msgs(pair, "B", "INFORMATIONAL")[0].labels() == ["HASH", "N(INVAL_ID)"]
    assert pair.status("A") == pair.status("B") == "ipsec_sa_not_established"


def test_narrowing_responder_accepts_a_subset_and_refuses_disjoint_ids() -> None:
    """strongSwan (narrow) accepts 10.102.0.0/24 inside its 10.102.0.0/16, refuses 10.103.0.0/24."""
    ok = v1_pair(b={"local_subnets": ["10.102.0.0/16"]}).run(10)
    assert ok.status("A") == ok.status("B") == "ipsec_sa_established"
    assert ok["B"].engine.children[0].local_ts[0].__str__() == "10.102.0.0/24"
    bad = v1_pair(b={"local_subnets": ["10.103.0.0/24"]}).run(10)
    assert bad.select("negotiation_failed", "B")[0].get("notify") == "INVALID_ID_INFORMATION"


def test_one_quick_mode_per_subnet_pair() -> None:
    two = {"local_subnets": ["10.101.0.0/24", "10.111.0.0/24"]}
    pair = v1_pair(two, {"remote_subnets": ["10.101.0.0/24", "10.111.0.0/24"]}).run(10)
    mids = {m.msg_id for m in wire_msgs(pair, exchange="QUICK_MODE")}
    assert len(mids) == 2
    assert sorted(str(c.local_ts[0]) for c in pair["A"].engine.children) == ["10.101.0.0/24", "10.111.0.0/24"]
    assert len(pair["B"].engine.children) == 2


def test_lost_message_3_responder_retransmits_message_2() -> None:
    """Three-message exchange: the responder repeats message 2; the initiator answers the
    repeat with the same message 3 (strongSwan 'resending last request')."""
    pair = v1_pair(drop=lambda d, n: d.message.exchange.name == "QUICK_MODE" and not d.message.response
                   and len(d.message.payloads) == 1 and d.retransmit == 0).run(30)
    qm2 = [(t, d.retransmit) for t, w, d in pair.sent if w == "B" and d.message.exchange.name == "QUICK_MODE"]
    assert qm2 == [(0.035, 0), (4.035, 1)]
    qm3 = [d for _, w, d in pair.sent if w == "A" and d.message.labels() == ["HASH"]]
    assert [d.retransmit for d in qm3] == [0, 1] and qm3[0].message.raw == qm3[1].message.raw
    est = {e.peer: e.t for e in pair.select("child_sa_established")}
    assert est["A"] == 0.04 and abs(est["B"] - 4.045) < 1e-9


def test_responder_lifetime_claim_and_obey() -> None:
    """claim: RESPONDER-LIFETIME with B's 3600 s (RFC 2407 4.6.3.1); an RFC-style initiator adopts
    it, strongSwan's (the profile) ignores it; obey: B takes A's 28800 s (strongSwan)."""
    a = {"child": {"life_time": "8h", "rekey_time": "90%"}}
    b_claim = {"child": {"life_time": "1h", "rekey_time": "90%"}, "ike": {"lifetime_policy": "claim"}}
    claim = v1_pair({**a, "ike": {"accept_responder_lifetime": True}}, b_claim).run(10)
    qm2 = wire_msgs(claim, "B", "QUICK_MODE")[0]
    assert qm2.labels()[-1] == "N(RESPONDER_LIFETIME)"
    assert {e.peer: e.get("life_time") for e in claim.select("child_sa_established")} == {"A": 3600, "B": 3600}
    ignored = v1_pair(a, b_claim).run(10)
    assert {e.peer: e.get("life_time") for e in ignored.select("child_sa_established")} == {"A": 28800, "B": 3600}
    obey = v1_pair(a, {"child": {"life_time": "1h", "rekey_time": "90%"}, "ike": {"lifetime_policy": "obey"}}).run(10)
    assert {e.peer: e.get("life_time") for e in obey.select("child_sa_established")} == {"A": 28800, "B": 28800}
    assert [c.life_time for c in obey["B"].engine.children] == [28800.0]


def test_volume_lifetime_in_kilobytes() -> None:
    """20 GB = 20e9 bytes = 19531250 KB of 1024 octets on the wire."""
    pair = v1_pair({"child": {"life_bytes": "20GB"}}, {"child": {"life_bytes": "20GB"}}).run(10)
    assert {c.life_bytes for p in "AB" for c in pair[p].engine.children} == {19531250 * 1024}


def test_quick_mode_not_answered_gives_up_and_drops_the_isakmp_sa() -> None:
    pair = v1_pair(drop=lambda d, n: d.message.exchange.name == "QUICK_MODE" and d.dst == "10.99.0.2").run(300)
    g = pair.select("retransmit_gave_up", "A")
    assert [(e.get("exchange"), e.get("transmissions")) for e in g] == [("QUICK_MODE", 6)]
    assert pair.select("ike_sa_deleted", "A")[0].get("reason") == "retransmit_timeout"
    assert pair.status("A") == "ike_sa_not_established"


def test_keys_agree_between_peers_for_every_cipher() -> None:
    for esp in ("aes128gcm16", "aes256ctr-sha512", "3des-md5", "aes192-sha384"):
        pair = v1_pair({"child": {"proposals": [esp]}}, {"child": {"proposals": [esp]}}).run(10)
        ca, cb = pair["A"].engine.children[0], pair["B"].engine.children[0]
        assert (ca.encr_key_out, ca.integ_key_out) == (cb.encr_key_in, cb.integ_key_in), esp
        assert ca.encr_key_in != ca.encr_key_out
        assert len(ca.encr_key_in) == kdf.encr_key_bytes(ca.proposal.encr[0])

