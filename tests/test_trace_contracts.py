"""What other message producers (IKEv1, NAT-T keepalives, traffic) plug into: messages that
return their own bytes from ``wire_bytes`` (proto.onwire.WireMessage) are written verbatim,
``Ikev1Keys`` records become IKEv1 table rows, and ``FRAME_SOURCES`` takes extra packet sources."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import pytest
from factory import scenario_dict
from tracehelp import verify_trace

from ipsecsim.config.loader import load_scenario
from ipsecsim.proto.algorithms import ALGORITHMS
from ipsecsim.proto.endpoint import Datagram
from ipsecsim.proto.final import PeerFinal
from ipsecsim.proto.keylog import Ikev1Keys
from ipsecsim.result import Result
from ipsecsim.sim.link import Transmission
from ipsecsim.trace import dissect, frames, keyfile
from ipsecsim.trace.options import TraceOptions
from ipsecsim.trace.packets import write_trace

DPD_VID = bytes.fromhex("afcad71368a1f1c96b8696fc77570100")  # RFC 3706 section 7
ICOOKIE = bytes.fromhex("0102030405060708")


@dataclass(frozen=True)
class V1Message:
    """Stands in for an IKEv1 message: the producer owns the exact bytes."""

    wire: bytes

    def wire_bytes(self, keys: object, iv: object) -> bytes:
        return self.wire

    def notation(self) -> str:
        return "ID_PROT request 0 [ V ]"


def isakmp_with_vid() -> bytes:
    """RFC 2408 3.1 header (version 0x10, Identity Protection) + one Vendor ID payload (3.16)."""
    vid = struct.pack("!BBH", 0, 0, 4 + len(DPD_VID)) + DPD_VID
    return struct.pack("!8s8sBBBBII", ICOOKIE, bytes(8), 13, 0x10, 2, 0, 0, 28 + len(vid)) + vid


def result_with(transmissions: list[Transmission], keylog: list[object]) -> Result:
    sc = load_scenario(scenario_dict())
    final = PeerFinal("A", sc.peers["A"], {"status": "ike_sa_established", "ike_sas": [], "child_sas": []},
                      keylog=tuple(keylog))
    return Result(sc, 1, 60.0, [], {"A": final}, transmissions)


def test_message_with_wire_bytes_is_written_verbatim(tmp_path) -> None:
    data = isakmp_with_vid()
    tx = [Transmission(0.5, "A", Datagram("10.99.0.1", 500, "10.99.0.2", 500, V1Message(data)), 0.505),
          Transmission(1.0, "A", Datagram("10.99.0.1", 4500, "10.99.0.2", 4500, V1Message(data)), 1.005),
          Transmission(2.0, "A", Datagram("10.99.0.1", 4500, "10.99.0.2", 4500, V1Message(b"\xff")), 2.005)]
    pcap = tmp_path / "v1.pcapng"
    report = write_trace(result_with(tx, []), TraceOptions(pcap))
    assert report.frames == {"ike": 2, "keepalive": 1}
    caps = dissect.read(pcap)
    assert [c.kind for c in caps] == ["ike", "ike", "keepalive"]
    assert caps[0].data == caps[1].data == data and not caps[0].marker and caps[1].marker
    assert isinstance(dissect.ike(caps[0].data), dissect.ISAKMP)
    assert caps[0].comments == ("A → B: ID_PROT request 0 [ V ]",)
    check = verify_trace(pcap)
    assert check.rc == 0, check.out
    assert check.protocols().get("isakmp(IKEv1)") == 2


def test_ikev1_keys_become_ikev1_table_rows() -> None:
    aes = ALGORITHMS["aes128"]
    good = Ikev1Keys(ICOOKIE, bytes(8), aes, bytes(range(16)))
    gm = Ikev1Keys(bytes(8), bytes(8), ALGORITHMS["sm4"], bytes(16))
    doc = keyfile.build(result_with([], [good, gm, good]))
    assert doc["ikev1"] == [{"icookie": ICOOKIE.hex(), "enc_key_hex": bytes(range(16)).hex()}]
    assert [(u["kind"], u["algorithm"]) for u in doc["undecryptable"]] == [("ikev1", "sm4")]


def test_a_message_without_bytes_is_an_error_not_a_guess() -> None:
    @dataclass(frozen=True)
    class Opaque:
        name: str = "x"
    result = result_with([Transmission(0.0, "A", Datagram("10.99.0.1", 500, "10.99.0.2", 500, Opaque()), 0.1)], [])
    with pytest.raises(frames.TraceError, match=r"does not implement proto\.onwire\.WireMessage"):
        frames.ike_frames(result, TraceOptions())


def test_frame_sources_registry_is_the_default(tmp_path) -> None:
    extra = frames.Frame(3.0, "10.99.0.1", "10.99.0.2", 17, b"\xff", 4500, 4500, ("keepalive",), "keepalive")
    before = len(frames.FRAME_SOURCES)
    frames.FRAME_SOURCES.append(lambda result, opts: [extra])
    try:
        report = write_trace(result_with([], []), TraceOptions(tmp_path / "x.pcapng"))
    finally:
        frames.FRAME_SOURCES.pop()
    assert report.frames == {"keepalive": 1}
    assert len(frames.FRAME_SOURCES) == before
