"""The ISAKMP codec (proto/ikev1/wire.py): exact RFC 2408 section 3 layouts and round trips
of every payload type the IKEv1 core uses, plain and encrypted (RFC 2409 Appendix B)."""

from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ipsecsim.proto.algorithms import ALGORITHMS
from ipsecsim.proto.ikev1 import wire
from ipsecsim.proto.ikev1.message import (
    HASH,
    ID,
    KE,
    NATD,
    SA,
    VID_DPD,
    VID_NATT,
    D,
    Exchange,
    Message,
    N,
    Nonce,
    Notify,
    SaProposal,
    Transform,
    V,
)

CKY_I, CKY_R = bytes.fromhex("0102030405060708"), bytes.fromhex("1112131415161718")


def every_payload() -> tuple:
    """One of each payload type, with both attribute forms (RFC 2408 3.3 TV and TLV)."""
    p1 = Transform(1, 1, ((1, 7), (14, 128), (2, 4), (3, 1), (4, 14), (11, 1), (12, (86400).to_bytes(4, "big"))))
    esp = Transform(1, 12, ((1, 1), (2, 3600), (4, 1), (5, 5), (6, 256)))
    return (
        SA((SaProposal(1, 1, b"", (p1, Transform(2, 1, ((1, 5), (2, 2), (3, 1), (4, 2))))),)),
        SA((SaProposal(1, 3, b"\xde\xad\xbe\xef", (esp,)), SaProposal(2, 3, b"\xde\xad\xbe\xef", (esp,)))),
        KE(bytes(range(256))),
        Nonce(b"n" * 32),
        ID(1, bytes([10, 99, 0, 1])),
        ID(4, bytes([10, 101, 0, 0, 255, 255, 255, 0]), 6, 443),
        HASH(b"h" * 32),
        N(Notify.INITIAL_CONTACT, 1, CKY_I + CKY_R),
        N(Notify.RESPONDER_LIFETIME, 3, b"\x00\x00\x00\x01", wire.encode_attrs(((1, 1), (2, 3600)))),
        D(1, (CKY_I + CKY_R,)),
        D(3, (b"\x01\x02\x03\x04", b"\x05\x06\x07\x08")),
        V(VID_DPD),
        V(VID_NATT),
        NATD(b"d" * 32),
    )


def test_header_layout_rfc2408_3_1() -> None:
    """Cookies, next payload, version 1.0 (0x10), exchange type, flags, message id, length."""
    msg = wire.seal(Message(Exchange.QUICK_MODE, CKY_I, CKY_R, 0x01020304, False, (Nonce(b"x" * 8),)))
    raw = msg.raw
    assert raw[:16] == CKY_I + CKY_R
    assert raw[16] == 10  # first payload: Nonce
    assert raw[17] == 0x10
    assert raw[18] == 32  # QUICK_MODE (RFC 2409 section 5.5 / IANA)
    assert raw[19] == 0  # not encrypted
    assert struct.unpack("!II", raw[20:28]) == (0x01020304, len(raw))
    assert raw[28:32] == bytes([0, 0, 0, 12])  # generic header: last payload, reserved, length 4 + 8


def test_attribute_forms_rfc2408_3_3() -> None:
    """AF=1: type | value in 4 octets; AF=0: type | length | value."""
    assert wire.encode_attrs(((1, 7),)) == bytes.fromhex("80010007")
    assert wire.encode_attrs(((12, (86400).to_bytes(4, "big")),)) == bytes.fromhex("000c000400015180")
    assert wire.parse_attrs(bytes.fromhex("80010007000c000400015180")) == ((1, 7), (12, bytes.fromhex("00015180")))


def test_every_payload_round_trips_plain() -> None:
    payloads = every_payload()
    msg = wire.seal(Message(Exchange.INFORMATIONAL, CKY_I, CKY_R, 7, False, payloads))
    back = wire.decode(msg.raw)
    assert back.payloads == payloads
    assert (back.exchange, back.cky_i, back.cky_r, back.msg_id, back.encrypted) == \
        (Exchange.INFORMATIONAL, CKY_I, CKY_R, 7, False)
    # bodies are the exact octets after each generic header (SAi_b, IDii_b of RFC 2409 5)
    assert back.bodies == tuple(wire.payload_body(p) for p in payloads)
    assert back.bodies[4] == bytes([1, 0, 0, 0, 10, 99, 0, 1])


@pytest.mark.parametrize("cipher", ["aes128", "aes256", "3des"])
def test_every_payload_round_trips_encrypted(cipher: str) -> None:
    """E flag set, payload chain zero-padded to the block and CBC-encrypted (RFC 2409 App. B)."""
    encr = ALGORITHMS[cipher]
    key, iv = bytes(range(encr.key_bytes)), bytes(range(100, 100 + encr.block_bytes))
    payloads = every_payload()
    msg = wire.seal(Message(Exchange.QUICK_MODE, CKY_I, CKY_R, 9, False, payloads, True), encr, key, iv)
    assert msg.raw[19] & 0x01
    body = msg.raw[28:]
    assert len(body) % encr.block_bytes == 0
    # decrypting independently gives the plain chain followed by zero padding
    algo = algorithms.AES(key) if cipher.startswith("aes") else None
    if algo is not None:
        dec = Cipher(algo, modes.CBC(iv)).decryptor()
        plain = dec.update(body) + dec.finalize()
        assert plain[:len(msg.plain)] == msg.plain and set(plain[len(msg.plain):]) <= {0}
    back = wire.decode(msg.raw, encr, key, iv)
    assert back.payloads == payloads and back.encrypted
    assert wire.last_block(msg.raw, encr) == body[-encr.block_bytes:]


def test_wrong_key_does_not_parse() -> None:
    """What a PSK mismatch looks like to the receiver: garbage, not payloads."""
    encr = ALGORITHMS["aes128"]
    msg = wire.seal(Message(Exchange.IDENTITY_PROTECTION, CKY_I, CKY_R, 0, False,
                            (ID(1, bytes([10, 99, 0, 1])), HASH(b"h" * 32)), True), encr, b"k" * 16, b"i" * 16)
    with pytest.raises(wire.WireError):
        wire.decode(msg.raw, encr, b"K" * 16, b"i" * 16)
    with pytest.raises(wire.WireError):
        wire.decode(msg.raw)  # encrypted and no key


@pytest.mark.parametrize("mangle, why", [
    (lambda r: r[:20], "shorter than an ISAKMP header"),
    (lambda r: r[:17] + b"\x20" + r[18:], "not ISAKMP"),
    (lambda r: r + b"\x00", "length field"),
])
def test_malformed_messages_are_rejected(mangle, why: str) -> None:  # type: ignore[no-untyped-def]
    raw = wire.seal(Message(Exchange.INFORMATIONAL, CKY_I, CKY_R, 1, False, (N(14),))).raw
    with pytest.raises(wire.WireError, match=why):
        wire.decode(mangle(raw))
