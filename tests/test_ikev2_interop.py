"""The IKEv2 core against a real strongSwan 5.9.8 charon's octets (tests/data/strongswan-5.9.8).

charon encodes a proposal's transforms ENCR, INTEG, PRF, DH, ESN (strongSwan 5.9.8
src/libcharon/encoding/payloads/proposal_substructure.c set_from_proposal_v2) and signs the
IKE_SA_INIT packet it sent or received (src/libcharon/sa/ikev2/tasks/ike_auth.c keeps
``message->get_packet()``; keymat_v2.c get_auth_octets builds ``message + nonce +
prf(SK_px, IDx')`` with the ID payload's RESERVED octets as received). RFC 7296 2.15 calls
those octets RealMessage1 / RealMessage2. A core that re-encodes the message signs other
octets and its AUTH "does not verify" at charon.

Here the test plays charon's part from its real IKE_SA_INIT request (same octets, only the KE
value replaced by one whose private exponent the test knows), derives the keys and AUTH with
hmac alone (RFC 7296 2.13-2.15) and runs IKE_AUTH against the core as responder.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

from factory import two_peers
from kdfref import hmac_sha256, prf_plus

from ipsecsim.proto import dh
from ipsecsim.proto.algorithms import ALGORITHMS
from ipsecsim.proto.endpoint import Datagram, Endpoint
from ipsecsim.proto.ikev2 import wire
from ipsecsim.proto.ikev2.message import (
    AUTH,
    ID,
    KE,
    SA,
    TS,
    AuthMethod,
    Exchange,
    Message,
    N,
    Nonce,
    Other,
    SaProposal,
)
from ipsecsim.proto.proposals import Protocol, parse
from ipsecsim.proto.ts import TrafficSelector

DATA = Path(__file__).parent / "data" / "strongswan-5.9.8"
PSK = "lab-test-psk-0123456789"  # swanctl.conf secrets of the captured run
KEY_PAD = b"Key Pad for IKEv2"
ID_RFC822_ADDR = 3  # RFC 7296 3.5: charon's type for "a@lab.test"


def captured(name: str) -> bytes:
    return bytes.fromhex((DATA / f"{name}.hex").read_text().replace("\n", ""))




def payload_offsets(msg: bytes) -> dict[int, tuple[int, int]]:
    """Payload type -> (offset of its body, body length), walking the generic headers."""
    out, nxt, off = {}, msg[16], 28
    while nxt:
        n, _, length = struct.unpack_from("!BBH", msg, off)
        out.setdefault(nxt, (off + 4, length - 4))
        nxt, off = n, off + length
    return out


def transform_types(sa_body: bytes) -> list[int]:
    """Transform types of the first proposal in the order they are on the wire (RFC 7296 3.3)."""
    spi_size, count = sa_body[6], sa_body[7]
    off, types = 8 + spi_size, []
    for _ in range(count):
        length, ttype = struct.unpack_from("!H", sa_body, off + 2)[0], sa_body[off + 4]
        types.append(ttype)
        off += length
    return types


def responder_b() -> Endpoint:
    """B of the captured run: the core as responder with B's swanctl.conf."""
    _, b = two_peers(a={"ike": {"psk": PSK}},
                     b={"ike": {"psk": PSK, "local_id": "b@lab.test", "remote_id": "a@lab.test"}})
    ep = Endpoint(b, random.Random(7))
    ep.start(0.0)
    return ep


def test_charon_init_messages_parse_and_keep_their_octets():
    for name, notation in [  # charon's own log lines for these packets (A.charon.log, B.charon.log)
        ("s1_ike_sa_init_request",
         "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(REDIR_SUP) ]"),
        ("s1_ike_sa_init_response",
         "IKE_SA_INIT response 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(CHDLESS_SUP) "
         "N(MULT_AUTH) ]"),
    ]:
        octets = captured(name)
        msg = wire.decode(octets)
        assert msg.notation() == notation
        assert msg.raw == octets and msg.wire_bytes() == octets
        sa = msg.first(SA)
        assert [p.proposal for p in sa.proposals] == [parse("aes128-sha256-modp2048", Protocol.IKE)]
        # charon's wire order ENCR(1), INTEG(3), PRF(2), DH(4): re-encoding is not the octets.
        body_off, body_len = payload_offsets(octets)[33]
        assert transform_types(octets[body_off: body_off + body_len]) == [1, 3, 2, 4]
        assert wire.encode(msg) != octets


def test_core_responder_signs_and_verifies_over_charons_real_octets():
    request = bytearray(captured("s1_ike_sa_init_request"))
    ke_off, ke_len = payload_offsets(bytes(request))[34]  # KE: group(2) reserved(2) data
    mine = dh.generate(14, random.Random(1))
    assert len(mine.public) == ke_len - 4 == 256
    request[ke_off + 4: ke_off + ke_len] = mine.public
    request = bytes(request)

    b = responder_b()
    b.receive(Datagram("10.99.0.1", 500, "10.99.0.2", 500, wire.decode(request)), 0.0)
    (init_resp_dgram,) = b.take_datagrams()
    init_resp_octets = init_resp_dgram.message.wire_bytes()
    init_resp = wire.decode(init_resp_octets)
    assert not init_resp.error_notify()
    (sa_b,) = b.engine.sas.values()
    assert sa_b.init_request == request  # RealMessage1 is charon's packet, octet for octet

    # RFC 7296 2.14 with hmac only: aes128-sha256 keys SK_d 32 | SK_ai, SK_ar 32 | SK_ei, SK_er 16 | SK_pi, SK_pr 32
    ni = wire.decode(request).first(Nonce).data
    nr = init_resp.first(Nonce).data
    g_ir = dh.shared_secret(mine, init_resp.first(KE).data)
    keymat = prf_plus(hmac_sha256(ni + nr, g_ir), ni + nr + init_resp.spi_i + init_resp.spi_r, 32 * 3 + 16 * 2 + 32 * 2)
    sk_ai, sk_ar = keymat[32:64], keymat[64:96]
    sk_ei, sk_er = keymat[96:112], keymat[112:128]
    sk_pi, sk_pr = keymat[128:160], keymat[160:192]

    # charon's IKE_AUTH request; IDi with non-zero RESERVED octets, which are part of IDi'
    # (ike_auth.c get_reserved_id_bytes): the core must take the body as received.
    idi = ID(True, ID_RFC822_ADDR, b"a@lab.test", b"\x00\x01\x02")
    auth_i = hmac_sha256(hmac_sha256(PSK.encode(), KEY_PAD), request + nr + hmac_sha256(sk_pi, idi.body))
    child = parse("aes128-sha256", Protocol.ESP)
    spi_i = bytes.fromhex("c1a2b3c4")
    auth_req = Message(Exchange.IKE_AUTH, init_resp.spi_i, init_resp.spi_r, 1, False, True, (
        idi, N(16384), ID(False, ID_RFC822_ADDR, b"b@lab.test"), AUTH(AuthMethod.SHARED_KEY_MIC, auth_i),
        SA((SaProposal(1, spi_i, child),)),
        TS(True, (TrafficSelector.from_network("10.101.0.0/24"),)),
        TS(False, (TrafficSelector.from_network("10.102.0.0/24"),)),
        # what charon 5.9.8 adds (capture S1: MOBIKE_SUP NO_ADD_ADDR MULT_AUTH EAP_ONLY MSG_ID_SYN_SUP),
        # and a CERTREQ and a CP(CFG_REQUEST) as a charon with certificates and virtual IPs sends
        N(16396), N(16399), N(16404), N(16417), N(16420),
        Other(38, b"\x04"), Other(47, bytes([1, 0, 0, 0]) + bytes.fromhex("00010000")),
    ), True)
    aes, sha = ALGORITHMS["aes128"], ALGORITHMS["sha256"]
    sent = wire.encode(auth_req, wire.SkKeys(aes, sha, sk_ei, sk_ai), bytes(16))
    b.receive(Datagram("10.99.0.1", 500, "10.99.0.2", 500, wire.decode(sent, sa_b.sk(True))), 0.01)
    (auth_resp_dgram,) = b.take_datagrams()
    events = [e.event for e in b.take_events()]
    assert "ike_sa_established" in events and "child_sa_established" in events
    assert wire.decode(sent, sa_b.sk(True)).labels()[-7:] == [
        "N(MOBIKE_SUP)", "N(NO_ADD_ADDR)", "N(MULT_AUTH)", "N(EAP_ONLY)", "N(MSG_ID_SYN_SUP)", "CERTREQ", "CP"]

    octets = auth_resp_dgram.message.wire_bytes(auth_resp_dgram.keys, lambda n: bytes(n))
    resp = wire.decode(octets, wire.SkKeys(aes, sha, sk_er, sk_ar))
    idr, auth_r = resp.first(ID), resp.first(AUTH)
    # ResponderSignedOctets = RealMessage2 | NonceIData | prf(SK_pr, IDr'): the core's response as sent
    assert auth_r.data == hmac_sha256(hmac_sha256(PSK.encode(), KEY_PAD),
                                      init_resp_octets + ni + hmac_sha256(sk_pr, idr.body))


# --- RFC 7296 2.5 / 3.2: what a real peer may send that the core does not interpret ----------------

def chain_with(octets: bytes, ptype: int, body: bytes, critical: bool) -> bytes:
    """``octets`` (an unencrypted message) with one more payload appended to its chain."""
    offs, nxt, off = [], octets[16], 28
    while nxt:
        offs.append(off)
        nxt, length = octets[off], struct.unpack_from("!H", octets, off + 2)[0]
        off += length
    last = offs[-1]
    out = bytearray(octets)
    out[last] = ptype  # the last payload's Next Payload now names the new one
    out += struct.pack("!BBH", 0, 0x80 if critical else 0, 4 + len(body)) + body
    struct.pack_into("!I", out, 24, len(out))
    return bytes(out)


def test_unknown_payload_is_skipped_unless_critical():
    request = captured("s1_ike_sa_init_request")
    quiet = wire.decode(chain_with(request, 200, b"private", critical=False))
    assert quiet.labels()[-1] == "UNKN(200)" and quiet.unsupported_critical() is None
    # a critical bit on a type the registry knows (CERTREQ) does not make it unsupported
    assert wire.decode(chain_with(request, 38, b"\x04", critical=True)).unsupported_critical() is None
    loud = wire.decode(chain_with(request, 200, b"private", critical=True))
    assert loud.unsupported_critical() == 200


def test_critical_unknown_payload_in_ike_sa_init_gets_unsupported_critical_payload():
    """RFC 7296 2.5: the response carries N(UNSUPPORTED_CRITICAL_PAYLOAD) (type 1) whose data is
    the one-octet payload type; no state is kept (strongSwan 5.9.8 task_manager_v2.c answers
    the same way)."""
    b = responder_b()
    request = chain_with(captured("s1_ike_sa_init_request"), 201, b"x", critical=True)
    b.receive(Datagram("10.99.0.1", 500, "10.99.0.2", 500, wire.decode(request)), 0.0)
    (answer,) = b.take_datagrams()
    resp = wire.decode(answer.message.wire_bytes())
    assert [(n.type, n.data) for n in resp.notifies()] == [(1, bytes([201]))]
    assert resp.labels() == ["N(CRIT)"] and not b.engine.sas
    # without the critical bit the same request is answered with SA KE No
    b = responder_b()
    request = chain_with(captured("s1_ike_sa_init_request"), 201, b"x", critical=False)
    b.receive(Datagram("10.99.0.1", 500, "10.99.0.2", 500, wire.decode(request)), 0.0)
    (answer,) = b.take_datagrams()
    assert answer.message.labels()[:3] == ["SA", "KE", "No"]


def test_proposal_with_a_transform_type_unknown_here_is_unacceptable_but_the_next_is_chosen():
    """RFC 7296 3.3.6: a proposal holding a transform type the responder does not understand
    is unacceptable; the responder answers with the number of the proposal it took (3.3.1)."""
    aes, sha, prf, modp = (ALGORITHMS[n] for n in ("aes128", "sha256", "prfsha256", "modp2048"))

    def transform(ttype: int, tid: int, keylen: int = 0, last: bool = False) -> bytes:
        attrs = struct.pack("!HH", 0x800E, keylen) if keylen else b""
        return struct.pack("!BBHBBH", 0 if last else 3, 0, 8 + len(attrs), ttype, 0, tid) + attrs

    def proposal(num: int, transforms: list[bytes], last: bool) -> bytes:
        body = b"".join(transforms)
        return struct.pack("!BBHBBBB", 0 if last else 2, 0, 8 + len(body), num, 1, 0, len(transforms)) + body

    good = [transform(1, aes.ikev2_id, 128), transform(3, sha.ikev2_id), transform(2, prf.ikev2_id),
            transform(4, modp.ikev2_id, last=True)]
    strange = [*good[:3], transform(4, modp.ikev2_id), transform(9, 1, last=True)]  # type 9: unknown here
    sa_body = proposal(1, strange, last=False) + proposal(2, good, last=True)
    request = captured("s1_ike_sa_init_request")
    sa_off, sa_len = payload_offsets(request)[33]
    rebuilt = bytearray(request[:sa_off] + sa_body + request[sa_off + sa_len:])
    struct.pack_into("!H", rebuilt, sa_off - 2, 4 + len(sa_body))
    struct.pack_into("!I", rebuilt, 24, len(rebuilt))
    msg = wire.decode(bytes(rebuilt))
    assert [p.num for p in msg.first(SA).proposals] == [1, 2]

    b = responder_b()
    b.receive(Datagram("10.99.0.1", 500, "10.99.0.2", 500, msg), 0.0)
    (answer,) = b.take_datagrams()
    (chosen,) = answer.message.first(SA).proposals
    assert chosen.num == 2 and chosen.proposal == parse("aes128-sha256-modp2048", Protocol.IKE)


def test_notify_types_named_as_iana_registers_them():
    """IANA "IKEv2 Notify Message Status Types": 16396 MOBIKE_SUPPORTED (RFC 4555), 16406
    REDIRECT_SUPPORTED (RFC 5685), 16418 CHILDLESS_IKEV2_SUPPORTED (RFC 6023), 16443
    SUPPORTED_AUTH_METHODS (RFC 9593); 40000 is unassigned."""
    assert N(16396).name == "MOBIKE_SUPPORTED" and N(16395).name == "NON_FIRST_FRAGMENTS_ALSO"
    assert N(16406).name == "REDIRECT_SUPPORTED" and N(16418).name == "CHILDLESS_IKEV2_SUPPORTED"
    labels = Message(Exchange.INFORMATIONAL, bytes(8), bytes(8), 0, False, True,
                     (N(16406), N(16443), N(40000))).labels()
    assert labels == ["N(REDIR_SUP)", "N(SUPPORTED_AUTH_METHODS)", "N(40000)"]


def test_every_payload_labelled_as_charon_logs_it():
    """charon's message notation (strongSwan 5.9.8 src/libcharon/encoding/payloads/payload.c
    ``payload_type_short_names``): SA, KE, IDi, IDr, AUTH, No, N(...), D, V, TSi, TSr, and
    UNKN for a type it does not know; the same label for a message's every payload of a kind."""
    from ipsecsim.proto.ikev2.message import D, V
    payloads = (SA(()), KE(15, b""), ID(True, 1, b""), ID(False, 1, b""), AUTH(2, b""), Nonce(b""), N(16393),
                N(16393), D(3), V(b""), TS(True, ()), TS(False, ()), Other(200, b""), N(40000))
    assert Message(Exchange.CREATE_CHILD_SA, bytes(8), bytes(8), 1, False, True, payloads).labels() == [
        "SA", "KE", "IDi", "IDr", "AUTH", "No", "N(REKEY_SA)", "N(REKEY_SA)", "D", "V", "TSi", "TSr", "UNKN(200)",
        "N(40000)"]


def test_malformed_octets_raise_wire_error_only():
    """Truncations and corrupted length fields of real charon messages: the parser reports a
    WireError (the responder's INVALID_SYNTAX), never an internal error."""
    rng = random.Random(2026)
    for name in ("s1_ike_sa_init_request", "s1_ike_sa_init_response"):
        octets = captured(name)
        cases = [octets[:n] for n in range(0, len(octets), 7)]
        for _ in range(300):
            b = bytearray(octets)
            b[rng.randrange(28, len(b))] = rng.randrange(256)
            cases.append(bytes(b))
        for case in cases:
            fixed = bytearray(case)
            if len(fixed) >= 28:
                struct.pack_into("!I", fixed, 24, len(fixed))
            try:
                wire.decode(bytes(fixed))
            except wire.WireError:
                pass
