"""IKEv1 phase 1 between two cores (PeerPair, explicit time): main and aggressive mode with
pre-shared keys, the key hierarchy of RFC 2409 section 5 recomputed from the wire, failures
and retransmission (strongSwan task_manager_v1 semantics)."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from factory import STRONGSWAN_GIVE_UP
from v1util import chain, notations, v1_pair, wire_msgs

from ipsecsim.proto import dh, kdf
from ipsecsim.proto.algorithms import ALGORITHMS
from ipsecsim.proto.ikev1.isakmpsa import IsakmpSa
from ipsecsim.proto.retransmit import RetransmitSchedule

PSK = b"west-east-secret"
A_ID = bytes([1, 0, 0, 0, 10, 99, 0, 1])  # ID_IPV4_ADDR, protocol 0, port 0, 10.99.0.1
B_ID = bytes([1, 0, 0, 0, 10, 99, 0, 2])
STRONGSWAN = RetransmitSchedule(4.0, 1.8, 5)


def only_sa(pair, name: str) -> IsakmpSa:  # type: ignore[no-untyped-def]
    sas = list(pair[name].engine.sas.values())
    assert len(sas) == 1
    return sas[0]


def aes_cbc(key: bytes, iv: bytes, data: bytes) -> bytes:
    d = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return d.update(data) + d.finalize()


def body(raw: bytes, ptype: int) -> bytes:
    return next(b for t, b, _ in chain(raw[16], raw[28:]) if t == ptype)


def test_main_mode_six_messages_then_quick_mode() -> None:
    """RFC 2409 5 / 5.5 as strongSwan logs it; vendor IDs announce DPD and NAT-T, NAT-D
    follows in messages 3 and 4 because both announced RFC 3947."""
    pair = v1_pair().run(10)
    assert notations(pair) == [
        "A: IDENTITY_PROTECTION request 0 [ SA V V ]",
        "B: IDENTITY_PROTECTION response 0 [ SA V V ]",
        "A: IDENTITY_PROTECTION request 0 [ KE No NAT-D NAT-D ]",
        "B: IDENTITY_PROTECTION response 0 [ KE No NAT-D NAT-D ]",
        "A: IDENTITY_PROTECTION request 0 [ ID HASH N(INITIAL_CONTACT) ]",
        "B: IDENTITY_PROTECTION response 0 [ ID HASH ]",
        *[f"{w}: QUICK_MODE {k} {wire_msgs(pair, exchange='QUICK_MODE')[0].msg_id} [ {p} ]" for w, k, p in (
            ("A", "request", "HASH SA No ID ID"), ("B", "response", "HASH SA No ID ID"), ("A", "request", "HASH"))],
    ]
    mm1 = wire_msgs(pair, exchange="IDENTITY_PROTECTION")[0].raw
    vids = [b for t, b, _ in chain(mm1[16], mm1[28:]) if t == 13]
    assert vids == [bytes.fromhex("afcad71368a1f1c96b8696fc77570100"),  # RFC 3706 DPD
                    bytes.fromhex("4a131c81070358455c5728f20e95452f")]  # RFC 3947 NAT-T
    assert [m.raw[19] & 1 for m in wire_msgs(pair, exchange="IDENTITY_PROTECTION")] == [0, 0, 0, 0, 1, 1]
    assert pair.status("A") == pair.status("B") == "ipsec_sa_established"
    est = pair.select("ike_sa_established")
    assert [(e.peer, e.get("mode"), e.get("ike_version")) for e in est] == [("B", "main", 1), ("A", "main", 1)]
    assert est[0].get("spi_i") == mm1[:8].hex() and est[0].get("spi_r") != "00" * 8


def test_main_mode_keys_and_hashes_match_the_wire() -> None:
    """Recompute RFC 2409 section 5 from the exchanged values: SKEYID = prf(PSK, Ni_b | Nr_b),
    SKEYID_d/_a/_e, the AES key, IV = hash(g^xi | g^xr), then decrypt messages 5 and 6 and
    check HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b) and HASH_R."""
    pair = v1_pair().run(10)
    raws = [m.raw for m in wire_msgs(pair, exchange="IDENTITY_PROTECTION")]
    sai_b = body(raws[0], 1)
    g_xi, ni = body(raws[2], 4), body(raws[2], 10)
    g_xr, nr = body(raws[3], 4), body(raws[3], 10)
    cky_i, cky_r = raws[3][:8], raws[3][8:16]
    a, b = only_sa(pair, "A"), only_sa(pair, "B")
    assert a.dh is not None and b.dh is not None
    g_xy = dh.shared_secret(a.dh, g_xr)
    assert g_xy == dh.shared_secret(b.dh, g_xi)
    prf = ALGORITHMS["prfsha256"]
    skeyid = kdf.v1_skeyid_psk(prf, PSK, ni, nr)
    k = kdf.v1_keys(prf, skeyid, g_xy, cky_i, cky_r)
    enc_key = kdf.v1_enc_key(prf, k.skeyid_e, 16)
    for sa in (a, b):
        assert sa.keys is not None
        assert (sa.keys.skeyid, sa.keys.skeyid_d, sa.keys.skeyid_a, sa.keys.skeyid_e, sa.keys.enc_key) == \
            (skeyid, k.skeyid_d, k.skeyid_a, k.skeyid_e, enc_key)
    p5 = chain(raws[4][16], aes_cbc(enc_key, hashlib.sha256(g_xi + g_xr).digest()[:16], raws[4][28:]))
    assert [t for t, _, _ in p5] == [5, 8, 11]
    idii_b, hash_i = p5[0][1], p5[1][1]
    assert idii_b == A_ID
    assert hash_i == hmac.new(skeyid, g_xi + g_xr + cky_i + cky_r + sai_b + idii_b, hashlib.sha256).digest()
    p6 = chain(raws[5][16], aes_cbc(enc_key, raws[4][-16:], raws[5][28:]))  # IV: last block of message 5
    idir_b, hash_r = p6[0][1], p6[1][1]
    assert idir_b == B_ID
    assert hash_r == hmac.new(skeyid, g_xr + g_xi + cky_r + cky_i + sai_b + idir_b, hashlib.sha256).digest()


def test_aggressive_mode_three_messages() -> None:
    """RFC 2409 5.4: SA KE Ni IDii / SA KE Nr IDir HASH_R (clear) / HASH_I (encrypted)."""
    pair = v1_pair({"ike": {"mode": "aggressive"}}).run(10)
    assert notations(pair)[:3] == [
        "A: AGGRESSIVE request 0 [ SA KE No ID V V ]",
        "B: AGGRESSIVE response 0 [ SA KE No ID HASH V V NAT-D NAT-D ]",
        "A: AGGRESSIVE request 0 [ HASH NAT-D NAT-D N(INITIAL_CONTACT) ]",
    ]
    raws = [m.raw for m in wire_msgs(pair, exchange="AGGRESSIVE")]
    assert [r[19] & 1 for r in raws] == [0, 0, 1]
    # HASH_R travels in the clear: anyone holding the PSK can verify it (offline guessing)
    sai_b, g_xi, ni = body(raws[0], 1), body(raws[0], 4), body(raws[0], 10)
    g_xr, nr, idir_b, hash_r = body(raws[1], 4), body(raws[1], 10), body(raws[1], 5), body(raws[1], 8)
    cky_i, cky_r = raws[1][:8], raws[1][8:16]
    skeyid = hmac.new(PSK, ni + nr, hashlib.sha256).digest()
    assert hash_r == hmac.new(skeyid, g_xr + g_xi + cky_r + cky_i + sai_b + idir_b, hashlib.sha256).digest()
    assert pair.status("A") == pair.status("B") == "ipsec_sa_established"
    assert [e.get("mode") for e in pair.select("ike_sa_established")] == ["aggressive", "aggressive"]


def test_psk_mismatch_main_mode() -> None:
    """The responder's SKEYID_e differs: message 5 decrypts to garbage -> PAYLOAD_MALFORMED;
    its encrypted notify is garbage to the initiator, which retransmits message 5 on the
    strongSwan schedule and gives up 165.06 s after its first copy (sent at 0.02 s)."""
    pair = v1_pair(b={"ike": {"psk": "another-secret"}}).run(300)
    fail_b = pair.select("negotiation_failed", "B")
    assert fail_b[0].get("notify") == "PAYLOAD_MALFORMED" and fail_b[0].t == 0.025
    assert "pre-shared keys" in fail_b[0].get("reason")
    assert "N(PLD_MAL)" in wire_msgs(pair, "B", "INFORMATIONAL")[0].labels()
    ignored_a = [e for e in pair.select("message_ignored", "A") if e.get("exchange") == "INFORMATIONAL"]
    assert ignored_a and "does not decrypt" in ignored_a[0].get("reason")
    gave_up = pair.select("retransmit_gave_up", "A")
    assert len(gave_up) == 1 and gave_up[0].get("transmissions") == 6
    assert abs(gave_up[0].t - (0.02 + STRONGSWAN_GIVE_UP)) < 1e-9
    fail_a = pair.select("negotiation_failed", "A")
    assert fail_a[-1].get("notify") is None and "could not be decrypted" in fail_a[-1].get("reason")
    assert not pair.select("ike_sa_established")
    assert pair.status("A") == pair.status("B") == "ike_sa_not_established"


def test_psk_mismatch_aggressive_mode_is_found_by_the_initiator() -> None:
    """HASH_R arrives in message 2: the initiator cannot verify it (INVALID_HASH_INFORMATION)."""
    pair = v1_pair({"ike": {"mode": "aggressive"}}, {"ike": {"psk": "another-secret"}}).run(60)
    fail_a = pair.select("negotiation_failed", "A")
    assert [(e.get("notify"), e.t) for e in fail_a] == [("INVALID_HASH_INFORMATION", 0.01)]
    assert pair.status("A") == pair.status("B") == "ike_sa_not_established"
    # the responder retransmits message 2 (three-message exchange) until its half-open SA expires
    resent = [d for _, w, d in pair.sent if w == "B" and d.message.exchange.name == "AGGRESSIVE"]
    assert [d.retransmit for d in resent] == [0, 1, 2, 3]  # at 0.005 + 4, 11.2, 24.16 < 30 s


def test_remote_id_mismatch_is_authentication_failed() -> None:
    """strongSwan finds no peer config for IDii: AUTHENTICATION_FAILED in a protected notify
    the initiator can read (the keys agree)."""
    pair = v1_pair(b={"ike": {"remote_id": "@branch.example.com"}}).run(30)
    fb, fa = pair.select("negotiation_failed", "B"), pair.select("negotiation_failed", "A")
    assert fb[0].get("notify") == "AUTHENTICATION_FAILED" and "remote_id" in fb[0].get("reason")
    assert fa[0].get("notify") == "AUTHENTICATION_FAILED"
    assert wire_msgs(pair, "B", "INFORMATIONAL")[0].labels() == ["HASH", "N(AUTH_FAILED)"]
    assert pair.status("A") == pair.status("B") == "ike_sa_not_established"
    assert not pair.select("retransmit_gave_up")


def test_ike_proposal_mismatch() -> None:
    """No keys yet: the refusal is an unprotected INFORMATIONAL [ N(NO_PROP) ]."""
    pair = v1_pair(b={"ike": {"proposals": ["aes256-sha384-ecp384"]}}).run(30)
    assert pair.select("negotiation_failed", "B")[0].get("notify") == "NO_PROPOSAL_CHOSEN"
    assert wire_msgs(pair, "B", "INFORMATIONAL")[0].labels() == ["N(NO_PROP)"]
    assert pair.select("negotiation_failed", "A")[0].get("notify") == "NO_PROPOSAL_CHOSEN"
    assert len(wire_msgs(pair, "A")) == 1  # no retransmission, no retry


def test_phase1_lifetime_policy_strict_refuses_a_longer_lifetime() -> None:
    pair = v1_pair({"ike": {"life_time": "24h", "rekey_time": "90%"}},
                   {"ike": {"life_time": "8h", "rekey_time": "90%", "lifetime_policy": "strict"}}).run(10)
    f = pair.select("negotiation_failed", "B")[0]
    assert (f.get("phase"), f.get("notify")) == ("ike", "NO_PROPOSAL_CHOSEN")
    assert "86400 s" in f.get("reason") and "28800 s" in f.get("reason")


def test_phase1_lifetime_claim_uses_the_shorter_without_notify() -> None:
    """racoon.conf(5): RESPONDER-LIFETIME is sent in phase 2 only."""
    pair = v1_pair({"ike": {"life_time": "24h", "rekey_time": "90%"}},
                   {"ike": {"life_time": "8h", "rekey_time": "90%", "lifetime_policy": "claim"}}).run(10)
    est = {e.peer: e.get("life_time") for e in pair.select("ike_sa_established")}
    assert est == {"A": 86400, "B": 28800}


def test_lost_message_2_is_answered_again_on_the_retransmitted_message_1() -> None:
    """The main mode responder does not retransmit on its own; a repeated message 1 makes it
    re-send message 2 (strongSwan: 'received retransmit of request, retransmitting response')."""
    lost = {"n": 0}

    def drop(d, n):  # type: ignore[no-untyped-def]
        if d.message.exchange.name == "IDENTITY_PROTECTION" and d.message.response and lost["n"] == 0:
            lost["n"] += 1
            return True
        return False

    pair = v1_pair(drop=drop).run(30)
    b_sent = [(t, d.retransmit) for t, w, d in pair.sent if w == "B" and d.message.exchange.name ==
              "IDENTITY_PROTECTION"]
    assert b_sent[:2] == [(0.005, 0), (4.005, 1)]
    assert pair.sent[1][2].message.raw == pair.sent[3][2].message.raw
    assert pair.status("A") == pair.status("B") == "ipsec_sa_established"


def test_lost_message_6_is_resent_on_the_repeated_message_5() -> None:
    def drop(d, n):  # type: ignore[no-untyped-def]
        return d.message.exchange.name == "IDENTITY_PROTECTION" and d.message.response and n == 2

    pair = v1_pair(drop=drop).run(30)
    mm6 = [d for _, w, d in pair.sent if w == "B" and d.message.labels() == ["ID", "HASH"]]
    assert [d.retransmit for d in mm6] == [0, 1] and mm6[0].message.raw == mm6[1].message.raw
    assert abs(pair.select("ike_sa_established", "A")[0].t - (0.02 + 4 + 0.01)) < 1e-9
    assert pair.status("A") == pair.status("B") == "ipsec_sa_established"


def test_fixed_retransmission_schedule() -> None:
    """retransmit.waits [15, 15, 15]: three copies at 0, 15, 30 s, give up at 45 s."""
    pair = v1_pair({"retransmit": {"waits": [15, 15, 15]}}, drop=lambda d, n: d.dst == "10.99.0.2").run(100)
    assert [t for t, w, _ in pair.sent if w == "A"] == [0.0, 15.0, 30.0]
    g = pair.select("retransmit_gave_up", "A")
    assert [(e.t, e.get("transmissions")) for e in g] == [(45.0, 3)]


def test_keyingtries_retries_with_new_cookies() -> None:
    pair = v1_pair({"keyingtries": 2, "retransmit": {"waits": [5]}}, drop=lambda d, n: d.dst == "10.99.0.2").run(20)
    sent = wire_msgs(pair, "A")
    assert len(sent) == 2 and sent[0].cky_i != sent[1].cky_i
    assert [e.get("attempt") for e in pair.select("negotiation_retry", "A")] == [2]
