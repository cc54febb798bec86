"""IKEv2 wire format (RFC 7296 section 3): our encoder, decoded back by us and by scapy."""

import struct

import pytest
from factory import two_peers
from peerpair import PeerPair

from ipsecsim.proto.algorithms import ALGORITHMS
from ipsecsim.proto.ikev2.message import AUTH, ID, KE, SA, TS, D, Exchange, Message, N, Nonce, Notify, SaProposal, V
from ipsecsim.proto.ikev2.wire import SkKeys, WireError, decode, encode
from ipsecsim.proto.proposals import Protocol, parse
from ipsecsim.proto.ts import selectors


def sample_payloads():
    return (SA((SaProposal(1, b"", parse("aes128-aes256-sha256-modp2048", Protocol.IKE)),
                SaProposal(2, b"", parse("aes256gcm16-prfsha384-ecp384", Protocol.IKE)))),
            KE(14, bytes(range(256)) * 1), Nonce(b"n" * 32), N(Notify.NAT_DETECTION_SOURCE_IP, b"h" * 20),
            ID(True, 1, bytes([10, 0, 0, 1])), AUTH(2, b"a" * 32),
            SA((SaProposal(1, b"\x01\x02\x03\x04", parse("aes128-sha256", Protocol.ESP)),)),
            TS(True, selectors(["10.1.0.0/24", "10.5.0.0/16"])), TS(False, selectors(["10.2.0.0/24"])),
            D(3, (b"\x01\x02\x03\x04", b"\x05\x06\x07\x08")), D(1), V(b"vendor"),
            N(Notify.REKEY_SA, b"", 3, b"\x0a\x0b\x0c\x0d"))


def test_plaintext_round_trip_of_every_payload():
    msg = Message(Exchange.IKE_SA_INIT, b"i" * 8, bytes(8), 0, False, True, sample_payloads())
    data = encode(msg)
    assert decode(data) == msg
    # RFC 7296 3.1 header: SPIs, next payload SA(33), version 2.0, exchange 34, flags I, msg id, length
    _spi_i, _spi_r, nxt, ver, exch, flags, mid, length = struct.unpack("!8s8sBBBBII", data[:28])
    assert (nxt, ver, exch, flags, mid, length) == (33, 0x20, 34, 0x08, 0, len(data))


@pytest.mark.parametrize("encr,integ", [("aes128", "sha256"), ("aes256", "sha512"), ("aes256", "sha1"),
                                        ("aes128gcm16", None), ("aes256gcm8", None), ("3des", "md5")])
def test_encrypted_round_trip(encr, integ):
    enc, ia = ALGORITHMS[encr], ALGORITHMS[integ] if integ else None
    keys = SkKeys(enc, ia, b"k" * (enc.key_bytes + enc.salt_bytes), b"a" * (ia.key_bytes if ia else 0))
    msg = Message(Exchange.IKE_AUTH, b"i" * 8, b"r" * 8, 1, False, True, sample_payloads()[4:], True)
    data = encode(msg, keys, iv=b"\x07" * enc.iv_bytes)
    assert decode(data, keys) == msg
    tampered = bytearray(data)
    tampered[40] ^= 1
    with pytest.raises(WireError):
        decode(bytes(tampered), keys)
    wrong = SkKeys(enc, ia, b"x" * len(keys.sk_e), b"y" * len(keys.sk_a))
    with pytest.raises(WireError):
        decode(data, wrong)


def test_scapy_reads_our_ike_sa_init_independently():
    from scapy.contrib.ikev2 import IKEv2
    pair = PeerPair(*two_peers()).run(1)
    init = pair.sent[0][2].message
    pkt = IKEv2(encode(init))
    assert pkt.init_SPI == init.spi_i and pkt.exch_type == 34
    sa = pkt.payload
    assert sa.name.startswith("IKEv2 SA")
    prop = sa.prop
    transforms = []
    t = prop.trans
    while t is not None and t.name.startswith("IKEv2 Transform"):
        transforms.append((t.transform_type, t.transform_id))
        t = t.payload if t.payload.name.startswith("IKEv2 Transform") else None
    # ENCR_AES_CBC(12), PRF_HMAC_SHA2_256(5), AUTH_HMAC_SHA2_256_128(12), DH 14
    assert transforms == [(1, 12), (2, 5), (3, 12), (4, 14)]
    ke = sa.payload
    assert ke.group == 14 and len(ke.ke) == 256
    notifies = ke.payload.payload
    assert notifies.type == 16388 and notifies.payload.type == 16389  # NAT_DETECTION_*_IP
