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

import hashlib
import hmac
import random
import struct
from pathlib import Path

from factory import two_peers

from ipsecsim.proto import dh
from ipsecsim.proto.algorithms import ALGORITHMS
from ipsecsim.proto.endpoint import Datagram, Endpoint
from ipsecsim.proto.ikev2 import wire
from ipsecsim.proto.ikev2.message import AUTH, ID, KE, SA, TS, AuthMethod, Exchange, Message, N, Nonce, SaProposal
from ipsecsim.proto.proposals import Protocol, parse
from ipsecsim.proto.ts import TrafficSelector

DATA = Path(__file__).parent / "data" / "strongswan-5.9.8"
PSK = "lab-test-psk-0123456789"  # swanctl.conf secrets of the captured run
KEY_PAD = b"Key Pad for IKEv2"
ID_RFC822_ADDR = 3  # RFC 7296 3.5: charon's type for "a@lab.test"


def captured(name: str) -> bytes:
    return bytes.fromhex((DATA / f"{name}.hex").read_text().replace("\n", ""))


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def prf_plus(key: bytes, seed: bytes, n: int) -> bytes:
    """RFC 7296 2.13, written out independently of ipsecsim.proto.kdf."""
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac_sha256(key, t + seed + bytes([i]))
        out += t
        i += 1
    return out[:n]


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
    for name, notation in [
        ("s1_ike_sa_init_request", "IKE_SA_INIT request 0"),
        ("s1_ike_sa_init_response", "IKE_SA_INIT response 0"),
    ]:
        octets = captured(name)
        msg = wire.decode(octets)
        assert msg.notation().startswith(notation)
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
        N(16396), N(16418), N(16404), N(16417), N(16424),  # MOBIKE_SUP NO_ADD_ADDR MULT_AUTH EAP_ONLY MSG_ID_SYN_SUP
    ), True)
    aes, sha = ALGORITHMS["aes128"], ALGORITHMS["sha256"]
    sent = wire.encode(auth_req, wire.SkKeys(aes, sha, sk_ei, sk_ai), bytes(16))
    b.receive(Datagram("10.99.0.1", 500, "10.99.0.2", 500, wire.decode(sent, sa_b.sk(True))), 0.01)
    (auth_resp_dgram,) = b.take_datagrams()
    events = [e.event for e in b.take_events()]
    assert "ike_sa_established" in events and "child_sa_established" in events

    octets = auth_resp_dgram.message.wire_bytes(auth_resp_dgram.keys, lambda n: bytes(n))
    resp = wire.decode(octets, wire.SkKeys(aes, sha, sk_er, sk_ar))
    idr, auth_r = resp.first(ID), resp.first(AUTH)
    # ResponderSignedOctets = RealMessage2 | NonceIData | prf(SK_pr, IDr'): the core's response as sent
    assert auth_r.data == hmac_sha256(hmac_sha256(PSK.encode(), KEY_PAD),
                                      init_resp_octets + ni + hmac_sha256(sk_pr, idr.body))
