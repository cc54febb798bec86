"""The IKEv1 core against a real strongSwan 5.9.8 charon's main mode octets
(tests/data/strongswan-5.9.8, run S3).

RFC 2409 section 5: HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b), HASH_R
likewise with IDir_b, where SAi_b is the body of the initiator's SA payload and IDii_b / IDir_b
the ID payload bodies, as they were on the wire. strongSwan keeps the SA payload's octets as
received for this (5.9.8 src/libcharon/sa/ikev1/phase1.c save_sa_payload cuts it out of
the packet data, keymat_v1.c get_hash concatenates it as ``sa_i``).

The test plays charon's part from its real messages 1 and 3 (message 3 with a KE value whose
private exponent the test knows, and B's cookie), computes SKEYID, the keys, HASH_I and the
CBC encryption with hmac and ``cryptography`` alone (RFC 2409 5, Appendix B), and runs main
mode against the core as responder.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from v1util import chain, v1_peers

from ipsecsim.proto import dh
from ipsecsim.proto.endpoint import Datagram, Endpoint
from ipsecsim.proto.ikev1 import vendor_ids, wire
from ipsecsim.proto.ikev1.message import NATD, SA, Exchange, Message, Other, V

DATA = Path(__file__).parent / "data" / "strongswan-5.9.8"
PSK = b"lab-test-psk-0123456789"  # swanctl.conf secrets of the captured run


def captured(name: str) -> bytes:
    return bytes.fromhex((DATA / f"{name}.hex").read_text().replace("\n", ""))


def prf(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()  # HASH_ALGORITHM 4 (SHA2-256) -> HMAC-SHA256


def cbc(key: bytes, iv: bytes, data: bytes, decrypt: bool = False) -> bytes:
    c = Cipher(algorithms.AES(key), modes.CBC(iv))
    op = c.decryptor() if decrypt else c.encryptor()
    return op.update(data) + op.finalize()


def test_charon_main_mode_messages_parse_with_its_vendor_ids():
    logged = {  # charon's log lines for these packets (A.charon.log "generating" / "parsed")
        1: ["SA", "V", "V", "V", "V", "V"], 2: ["SA", "V", "V", "V", "V"],
        3: ["KE", "No", "NAT-D", "NAT-D"], 4: ["KE", "No", "NAT-D", "NAT-D"],
    }
    for n, labels in logged.items():
        octets = captured(f"s3_main_mode_{n}")
        msg = wire.decode(octets)
        assert msg.labels() == labels and msg.raw == octets
    vids = [vendor_ids.describe(v.data) for v in wire.decode(captured("s3_main_mode_1")).all(V)]
    # B.charon.log: received XAuth / DPD / FRAGMENTATION / NAT-T (RFC 3947) / draft-...-02\n vendor ID
    assert vids == ["XAuth", "DPD", "FRAGMENTATION", "NAT-T (RFC 3947)", "draft-ietf-ipsec-nat-t-ike-02\\n"]
    assert vendor_ids.describe(b"some other vendor") is None


def with_payload(octets: bytes, ptype: int, body: bytes) -> bytes:
    """An unencrypted ISAKMP message with one payload more at the end of its chain."""
    out = bytearray(octets)
    last = chain(octets[16], octets[28:])
    off = 28 + sum(len(whole) for _, _, whole in last[:-1])
    out[off] = ptype
    out += struct.pack("!BBH", 0, 0, 4 + len(body)) + body
    struct.pack_into("!I", out, 24, len(out))
    return bytes(out)


def test_unknown_and_uninterpreted_payloads_are_carried_not_refused():
    """strongSwan parses payload types it does not handle as "unknown" and goes on; CERT, CR,
    draft NAT-D (130), NAT-OA and Cisco fragments are known types the PSK core ignores."""
    m3 = captured("s3_main_mode_3")
    msg = wire.decode(with_payload(with_payload(m3, 7, b"\x04"), 99, b"?"))
    assert msg.labels() == ["KE", "No", "NAT-D", "NAT-D", "CERTREQ", "UNKN(99)"]
    assert msg.all(Other)[1] == Other(99, b"?")
    draft = wire.decode(with_payload(m3, 130, b"h" * 32))
    assert draft.labels()[-1] == "NAT-D" and draft.all(NATD)[-1] == NATD(b"h" * 32, 130)


@pytest.mark.parametrize("reserved2", [0, 0x0101])
def test_core_responder_hashes_over_charons_sa_payload_as_sent(reserved2: int):
    """``reserved2``: the transform's RESERVED2 field (RFC 2408 3.6, "set to 0"); non-zero it
    makes a re-encoding differ from the octets sent, and HASH_I / HASH_R must still verify."""
    _, b_settings = v1_peers(a={"ike": {"psk": PSK.decode()}},
                             b={"ike": {"psk": PSK.decode(), "local_id": "b@lab.test", "remote_id": "a@lab.test"}})
    b = Endpoint(b_settings, random.Random(3))
    b.start(0.0)

    m1 = bytearray(captured("s3_main_mode_1"))
    struct.pack_into("!H", m1, 28 + 4 + 22, reserved2)  # SA body: DOI, situation, P hdr, P, T hdr, T#, id
    m1 = bytes(m1)
    assert (wire.seal(wire.decode(m1)).raw == m1) == (reserved2 == 0)
    sai_b = next(body for t, body, _ in chain(m1[16], m1[28:]) if t == 1)  # SA payload body as charon sent it
    b.receive(Datagram("10.99.0.1", 500, "10.99.0.2", 500, wire.decode(m1)), 0.0)
    (m2,) = b.take_datagrams()
    assert m2.message.first(SA) is not None
    (sa_b,) = b.engine.sas.values()
    assert sa_b.sai_b == sai_b
    cky_i, cky_r = m1[:8], m2.message.wire_bytes()[8:16]

    mine = dh.generate(14, random.Random(5))
    m3 = bytearray(captured("s3_main_mode_3"))
    m3[8:16] = cky_r
    (_, ke_body, _), (_, ni, _), *_ = chain(m3[16], bytes(m3[28:]))
    ke_off = bytes(m3).index(ke_body)
    m3[ke_off: ke_off + len(ke_body)] = mine.public
    b.receive(Datagram("10.99.0.1", 500, "10.99.0.2", 500, wire.decode(bytes(m3))), 0.01)
    (m4,) = b.take_datagrams()
    m4_raw = m4.message.wire_bytes()
    (_, g_xr, _), (_, nr, _), *_ = chain(m4_raw[16], m4_raw[28:])
    g_xi = mine.public

    # RFC 2409 5 and Appendix B, written out with hmac / AES only
    g_xy = dh.shared_secret(mine, g_xr)
    skeyid = prf(PSK, ni + nr)
    skeyid_d = prf(skeyid, g_xy + cky_i + cky_r + b"\x00")
    skeyid_a = prf(skeyid, skeyid_d + g_xy + cky_i + cky_r + b"\x01")
    skeyid_e = prf(skeyid, skeyid_a + g_xy + cky_i + cky_r + b"\x02")
    key, iv = skeyid_e[:16], hashlib.sha256(g_xi + g_xr).digest()[:16]

    # message 5 as charon builds it: [ ID HASH N(INITIAL_CONTACT) ]; IDii with protocol/port
    # 17/500 (RFC 2407 4.6.2), which are part of IDii_b
    idii_b = bytes([3, 17]) + (500).to_bytes(2, "big") + b"a@lab.test"
    hash_i = prf(skeyid, g_xi + g_xr + cky_i + cky_r + sai_b + idii_b)
    n_body = struct.pack("!IBBH", 1, 1, 16, 24578) + cky_i + cky_r
    plain = (struct.pack("!BBH", 8, 0, 4 + len(idii_b)) + idii_b
             + struct.pack("!BBH", 11, 0, 4 + len(hash_i)) + hash_i
             + struct.pack("!BBH", 0, 0, 4 + len(n_body)) + n_body)
    plain += bytes(-len(plain) % 16)
    body = cbc(key, iv, plain)
    m5 = struct.pack("!8s8sBBBBII", cky_i, cky_r, 5, 0x10, 2, 1, 0, 28 + len(body)) + body
    as_sent = Message(Exchange.IDENTITY_PROTECTION, cky_i, cky_r, 0, False, (), True, raw=m5)
    b.receive(Datagram("10.99.0.1", 4500, "10.99.0.2", 4500, as_sent), 0.02)
    (m6,) = b.take_datagrams()
    events = [e.event for e in b.take_events()]
    assert "ike_sa_established" in events, events

    m6_raw = m6.message.wire_bytes()
    inner = cbc(key, m5[-16:], m6_raw[28:], decrypt=True)
    (t_id, idir_b, _), (t_hash, hash_r, _) = chain(m6_raw[16], inner)[:2]
    assert (t_id, t_hash) == (5, 8)
    assert hash_r == prf(skeyid, g_xr + g_xi + cky_r + cky_i + sai_b + idir_b)
