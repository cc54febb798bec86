"""The IKEv2 core driven by explicit time (no SimPy): RFC 7296 exchanges, failures, timers.

Wire narration follows strongSwan's test style:
    IKE_SA_INIT { SA, KEi, Ni, N(NATD_S_IP), N(NATD_D_IP) } -->
                <-- { SA, KEr, Nr, N(NATD_S_IP), N(NATD_D_IP) }
    IKE_AUTH    SK{ IDi, N(INITIAL_CONTACT), AUTH, SA, TSi, TSr } -->
                <-- SK{ IDr, AUTH, SA, TSi, TSr }
"""


import pytest
from factory import PSK, STRONGSWAN_GIVE_UP, strongswan_sends, two_peers
from kdfref import hmac_sha256, prf_plus
from peerpair import PeerPair

from ipsecsim.proto import dh
from ipsecsim.proto.ikev2.message import AUTH, ID, SA, Exchange, Message, Nonce
from ipsecsim.proto.ikev2.wire import encode


def messages(pair, peer=None):
    return [(t, who, d.message) for t, who, d in pair.sent if peer is None or who == peer]


def labels(pair):
    return [(who, m.notation()) for _, who, m in messages(pair)]




def test_four_messages_establish_ike_and_child_sa():
    pair = PeerPair(*two_peers()).run(10)
    assert labels(pair) == [
        ("A", "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) ]"),
        ("B", "IKE_SA_INIT response 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) ]"),
        ("A", "IKE_AUTH request 1 [ IDi N(INIT_CONTACT) AUTH SA TSi TSr ]"),
        ("B", "IKE_AUTH response 1 [ IDr AUTH SA TSi TSr ]"),
    ]
    assert pair.status("A") == pair.status("B") == "ipsec_sa_established"
    # 2 round trips of 5 ms each
    assert pair.select("child_sa_established", "A")[0].t == pytest.approx(0.020)
    a, b = pair.select("child_sa_established", "A")[0], pair.select("child_sa_established", "B")[0]
    assert (a.get("spi_in"), a.get("spi_out")) == (b.get("spi_out"), b.get("spi_in"))
    assert a.get("local_ts") == b.get("remote_ts") == ["10.101.0.0/24"]


def test_auth_payload_is_rfc7296_psk_mac_over_the_real_first_message():
    """RFC 7296 2.14/2.15, recomputed here with hmac only:
    SKEYSEED = prf(Ni | Nr, g^ir); {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(...);
    AUTH = prf(prf(PSK, "Key Pad for IKEv2"), RealMessage1 | Nr | prf(SK_pi, IDi')), RealMessage1
    being the request's octets as they went on the wire."""
    pair = PeerPair(*two_peers()).run(10)
    (_, _, init_req), (_, _, init_resp), (_, _, auth_req), _ = messages(pair)
    sa_i = next(iter(pair["A"].engine.sas.values()))
    ni, nr = init_req.first(Nonce).data, init_resp.first(Nonce).data
    g_ir = dh.shared_secret(sa_i.dh, next(p for p in init_resp.payloads if p.__class__.__name__ == "KE").data)
    skeyseed = hmac_sha256(ni + nr, g_ir)
    # aes128-sha256: SK_d 32, SK_ai/ar 32, SK_ei/er 16, SK_pi/pr 32
    keymat = prf_plus(skeyseed, ni + nr + init_req.spi_i + init_resp.spi_r, 32 + 64 + 32 + 64)
    sk_pi = keymat[32 + 64 + 32: 32 + 64 + 32 + 32]
    idi = auth_req.first(ID)
    expected = hmac_sha256(hmac_sha256(PSK.encode(), b"Key Pad for IKEv2"),
                           init_req.wire_bytes() + nr + hmac_sha256(sk_pi, idi.body))
    assert auth_req.first(AUTH).data == expected


def test_psk_mismatch_fails_at_the_responders_auth_check():
    pair = PeerPair(*two_peers(b={"ike": {"psk": "other"}})).run(10)
    fb = pair.select("negotiation_failed", "B")[0]
    fa = pair.select("negotiation_failed", "A")[0]
    assert fb.get("notify") == fa.get("notify") == "AUTHENTICATION_FAILED"
    assert labels(pair)[-1] == ("B", "IKE_AUTH response 1 [ N(AUTH_FAILED) ]")
    assert pair.status("A") == pair.status("B") == "ike_sa_not_established"
    assert not pair["A"].engine.sas and not pair["B"].engine.sas


def test_proposal_mismatch_answers_no_proposal_chosen_without_state():
    pair = PeerPair(*two_peers(b={"ike": {"proposals": ["aes256-sha512-modp4096"]}})).run(10)
    assert labels(pair)[1] == ("B", "IKE_SA_INIT response 0 [ N(NO_PROP) ]")
    assert not pair["B"].engine.sas  # RFC 7296 2.6: no state for a refused IKE_SA_INIT
    assert pair.select("negotiation_failed", "A")[0].get("notify") == "NO_PROPOSAL_CHOSEN"


def test_invalid_ke_payload_makes_the_initiator_retry_with_the_requested_group():
    """RFC 7296 1.2: INVALID_KE_PAYLOAD carries the accepted group; the initiator retries."""
    pair = PeerPair(*two_peers(a={"ike": {"proposals": ["aes128-sha256-ecp256-modp2048"]}})).run(10)
    msgs = messages(pair)
    assert msgs[1][2].notation() == "IKE_SA_INIT response 0 [ N(INVAL_KE) ]"
    assert int.from_bytes(msgs[1][2].notifies()[0].data, "big") == 14
    assert [p.group for p in msgs[0][2].payloads if hasattr(p, "group")] == [19]
    assert [p.group for p in msgs[2][2].payloads if hasattr(p, "group")] == [14]
    assert msgs[2][2].msg_id == 0 and msgs[2][2].spi_i == msgs[0][2].spi_i
    assert pair.status("A") == "ipsec_sa_established"


def test_ts_unacceptable_keeps_the_ike_sa():
    pair = PeerPair(*two_peers(b={"remote_subnets": ["10.103.0.0/24"]})).run(10)
    assert labels(pair)[-1] == ("B", "IKE_AUTH response 1 [ IDr AUTH N(TS_UNACCEPT) ]")
    assert pair.status("A") == pair.status("B") == "ipsec_sa_not_established"
    assert len(pair["A"].engine.sas) == 1 and len(pair["B"].engine.sas) == 1


def test_exact_ts_policy_refuses_a_narrower_proposal():
    pair = PeerPair(*two_peers(a={"local_subnets": ["10.101.0.0/25"]},
                               b={"child": {"ts_policy": "exact"}})).run(10)
    assert pair.select("negotiation_failed", "B")[0].get("notify") == "TS_UNACCEPTABLE"
    pair = PeerPair(*two_peers(a={"local_subnets": ["10.101.0.0/25"]})).run(10)
    assert pair.select("child_sa_established", "B")[0].get("remote_ts") == ["10.101.0.0/25"]


def test_child_proposal_mismatch_is_no_proposal_chosen_in_ike_auth():
    pair = PeerPair(*two_peers(b={"child": {"proposals": ["aes256gcm16"]}})).run(10)
    assert pair.status("A") == "ipsec_sa_not_established"
    assert pair.select("negotiation_failed", "A")[0].get("notify") == "NO_PROPOSAL_CHOSEN"


def test_identity_mismatch_is_authentication_failed():
    pair = PeerPair(*two_peers(b={"ike": {"remote_id": "@branch.example.com"}})).run(10)
    assert "does not match configured remote_id" in pair.select("negotiation_failed", "B")[0].get("reason")
    pair = PeerPair(*two_peers(a={"ike": {"local_id": "@branch.example.com"}},
                               b={"ike": {"remote_id": "@branch.example.com"}})).run(10)
    assert pair.status("B") == "ipsec_sa_established"


def test_lost_response_is_answered_from_the_responders_cache():
    """RFC 7296 2.1: a retransmitted request gets the same response; the responder does not
    process it twice (one CHILD SA, not two)."""
    def drop(d, n):
        return isinstance(d.message, Message) and d.message.exchange is Exchange.IKE_AUTH and d.message.response \
            and n == 0
    pair = PeerPair(*two_peers(), drop=drop).run(30)
    resp = [(t, m) for t, who, m in messages(pair, "B") if m.exchange is Exchange.IKE_AUTH]
    assert len(resp) == 2 and resp[0][1] is resp[1][1]
    # the initiator retransmits 4 s after its request (strongSwan retransmit_timeout 4 s)
    req = [t for t, who, m in messages(pair, "A") if m.exchange is Exchange.IKE_AUTH]
    assert req[1] - req[0] == pytest.approx(4.0)
    assert len(pair.select("child_sa_established", "B")) == 1
    assert pair.status("A") == "ipsec_sa_established"


def test_unanswered_initiator_gives_up_on_the_schedule():
    pair = PeerPair(*two_peers(), drop=lambda d, n: d.message.exchange is Exchange.IKE_SA_INIT).run(300)
    times = [t for t, who, m in messages(pair, "A")]
    assert times == pytest.approx(strongswan_sends())  # whole-ms waits: ..., 89.478
    gave_up = pair.select("retransmit_gave_up", "A")[0]
    assert gave_up.t == pytest.approx(STRONGSWAN_GIVE_UP)
    assert gave_up.get("transmissions") == 6


def test_keyingtries_restart_the_negotiation_after_a_give_up():
    pair = PeerPair(*two_peers(a={"keyingtries": 2}),
                    drop=lambda d, n: d.message.exchange is Exchange.IKE_SA_INIT).run(400)
    firsts = [m for t, who, m in messages(pair, "A") if m.exchange is Exchange.IKE_SA_INIT]
    assert len(firsts) == 12 and len({m.spi_i for m in firsts}) == 2
    assert len(pair.select("retransmit_gave_up", "A")) == 2


def test_half_open_sa_expires_at_the_responder():
    """strongswan.conf charon.half_open_timeout: 30 s without IKE_AUTH."""
    pair = PeerPair(*two_peers(), drop=lambda d, n: d.message.exchange is Exchange.IKE_AUTH).run(40)
    f = [e for e in pair.select("negotiation_failed", "B") if "half-open" in e.get("reason")]
    assert f and f[0].t == pytest.approx(30.005)
    assert not pair["B"].engine.sas


def test_stale_retransmit_timers_are_harmless():
    """Retransmission timers of answered requests stay in the queue and fire as no-ops."""
    pair = PeerPair(*two_peers()).run(200)
    assert not pair.select("retransmit_gave_up")
    assert [who for _, who, _ in pair.sent] == ["A", "B", "A", "B"]


def test_initial_contact_replaces_stale_sas_of_the_same_peer():
    """RFC 7296 2.4: INITIAL_CONTACT tells the responder to delete other SAs with this peer."""
    a, b = two_peers()
    pair = PeerPair(a, b).run(1)
    old = set(pair["B"].engine.sas)
    pair["A"].engine.sas.clear()
    pair["A"].engine.by_spi.clear()  # A "reboots": it has no SA, B still has its old one
    pair["A"].engine.initiate(pair.now)
    pair._collect(pair["A"])
    pair.run(5)
    deleted = pair.select("ike_sa_deleted", "B")
    assert deleted and deleted[0].get("reason") == "initial_contact"
    assert not (old & set(pair["B"].engine.sas)) and pair.status("B") == "ipsec_sa_established"


def test_same_seed_same_conversation_other_seed_other_keys():
    one = [encode(m) for _, _, m in messages(PeerPair(*two_peers(), seed=5).run(5)) if not m.encrypted]
    two = [encode(m) for _, _, m in messages(PeerPair(*two_peers(), seed=5).run(5)) if not m.encrypted]
    three = [encode(m) for _, _, m in messages(PeerPair(*two_peers(), seed=6).run(5)) if not m.encrypted]
    assert one == two and one != three


def test_sa_payload_carries_the_chosen_proposal_only():
    pair = PeerPair(*two_peers(a={"ike": {"proposals": ["aes256-sha512-modp4096", "aes128-sha256-modp2048"]}})).run(5)
    # the KE was for group 16 (first proposal), so the responder asks for group 14 first
    resp = next(m for _, _, m in messages(pair, "B") if m.exchange is Exchange.IKE_SA_INIT and m.first(SA))
    sa = resp.first(SA)
    assert len(sa.proposals) == 1 and sa.proposals[0].num == 2  # RFC 7296 3.3.1: number of the accepted one


def _responder_answers(monkeypatch, tsi, tsr):
    """B, as responder, answers IKE_AUTH with these TSi / TSr whatever was proposed."""
    import ipsecsim.proto.ikev2.ike_auth as ike_auth
    from ipsecsim.proto.ts import selectors
    monkeypatch.setattr(ike_auth, "select", lambda *a: (selectors(tsi), selectors(tsr)))


def test_initiator_narrows_a_response_wider_than_its_proposal(monkeypatch):
    """RFC 7296 2.9: the responder's TSi / TSr are a subset of the proposal; an initiator
    narrows what it gets to its own configuration (strongSwan child_create.c
    select_and_install(): narrow_ts() on the received selectors), it does not install more."""
    _responder_answers(monkeypatch, ["10.101.0.0/16"], ["10.0.0.0/8"])
    pair = PeerPair(*two_peers()).run(10)
    a = pair.select("child_sa_established", "A")
    assert [(c.get("local_ts"), c.get("remote_ts")) for c in a] == [(["10.101.0.0/24"], ["10.102.0.0/24"])]


def test_initiator_refuses_a_response_outside_its_proposal_and_deletes_it(monkeypatch):
    """A response with nothing of the proposal left (strongSwan: "no acceptable traffic
    selectors found") is TS_UNACCEPTABLE at the initiator, and the CHILD SA the responder
    installed is deleted there: INFORMATIONAL { D(ESP, initiator's inbound SPI) }
    (child_create.c delete_failed_sa() / build_i_delete(); RFC 7296 1.4.1)."""
    _responder_answers(monkeypatch, ["10.201.0.0/24"], ["10.102.0.0/24"])
    pair = PeerPair(*two_peers()).run(10)
    failed = pair.select("negotiation_failed", "A")
    assert [(f.get("phase"), f.get("notify")) for f in failed] == [("child", "TS_UNACCEPTABLE")]
    assert not pair.select("child_sa_established", "A")
    assert ("A", "INFORMATIONAL request 2 [ D ]") in labels(pair)
    b = pair.select("child_sa_established", "B")[0]
    deleted = pair.select("child_sa_deleted", "B")
    assert [d.get("spi_in") for d in deleted] == [b.get("spi_in")]
    assert pair.status("A") == "ipsec_sa_not_established" and pair.status("B") != "ipsec_sa_established"


def test_rekey_response_outside_the_old_selectors_is_refused(monkeypatch):
    """The same check on a CREATE_CHILD_SA response (RFC 7296 1.3.3 / 2.9): the new CHILD SA
    must stay within the selectors of the one it replaces; the old SA stays in use."""
    import ipsecsim.proto.ikev2.create_child as create_child
    from ipsecsim.proto.ts import selectors
    monkeypatch.setattr(create_child, "select", lambda *a: (selectors(["10.201.0.0/24"]), selectors(["10.102.0.0/24"])))
    pair = PeerPair(*two_peers(a={"child": {"rekey_time": "20s", "rand_time": 0, "life_time": "100s"}})).run(25)
    failed = pair.select("negotiation_failed", "A")
    assert [(f.get("phase"), f.get("notify")) for f in failed][:1] == [("child_rekey", "TS_UNACCEPTABLE")]
    assert not pair.select("child_sa_rekeyed", "A")
    assert pair.status("A") == "ipsec_sa_established"


@pytest.mark.parametrize("kind", ["MessageSent", "MessageReceived"])
def test_a_message_events_record_is_the_one_its_typed_event_makes(kind: str) -> None:
    from ipsecsim.proto.events import ike as ike_events
    from ipsecsim.proto.events.record import layout

    cls = getattr(ike_events, kind)
    msg = Message(Exchange.CREATE_CHILD_SA, bytes(range(8)), bytes(range(8, 16)), 7, True, False,
                  (SA(()), Nonce(b"n" * 32)), encrypted=True)
    typed = cls(**msg.fields(), retransmit=2, src="10.0.0.1", dst="10.0.0.2").record(3.5, "left")
    # the engine writes the record out itself (``Ikev2Engine.emit_message``): the message's
    # fields first, in the kind's declaration order, then these three
    assert [key for _, key, _ in layout(cls)] == [*msg.fields(), "retransmit", "src", "dst"]
    fields = {**msg.fields(), "retransmit": 2, "src": "10.0.0.1", "dst": "10.0.0.2"}
    assert typed.fields == fields and list(typed.fields) == list(fields)
    assert typed.event == cls.NAME
