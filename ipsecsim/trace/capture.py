"""Reading the IKE messages of a real capture (pcap or pcapng), as ``ipsecsim compare`` needs them.

Only the parts of a message that travel in the clear are read, so no keys are needed:

* the UDP ports 500 and 4500; on 4500 a message starts after the four zero octets of the
  non-ESP marker (RFC 3948 2.2), and datagrams without the marker (ESP in UDP) and one-octet
  NAT-keepalives (RFC 3948 2.3) are skipped;
* the 28-octet ISAKMP / IKE header (RFC 2408 3.1, RFC 7296 3.1): SPIs (cookies), the major
  version, the exchange type, the flags and the message id;
* for IKEv2, the chain of unencrypted payloads (IKE_SA_INIT): their types and, for Notify
  payloads, the notify type (RFC 7296 3.2, 3.10), named as strongSwan logs them.

IKEv1 headers carry no response flag (RFC 2408 3.1): a message is taken as a response when it
travels against the first message seen with the same cookies and message id, as the simulator
labels them (``docs/events.md``: main mode messages 2, 4, 6, aggressive mode 2, quick mode 2;
INFORMATIONAL messages are one-way and never responses). This module imports scapy's IP and
UDP layers only, to read the link layers of either file format.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError

IKE_PORTS = (500, 4500)
NON_ESP_MARKER = b"\x00\x00\x00\x00"

IKEV2_EXCHANGES = {34: "IKE_SA_INIT", 35: "IKE_AUTH", 36: "CREATE_CHILD_SA", 37: "INFORMATIONAL"}
IKEV1_EXCHANGES = {2: "IDENTITY_PROTECTION", 4: "AGGRESSIVE", 5: "INFORMATIONAL", 32: "QUICK_MODE"}
IKEV1_ONE_WAY = {"INFORMATIONAL"}

# RFC 7296 3.2 payload types, named as in RFC 7296 (and strongSwan's log lines).
IKEV2_PAYLOADS = {33: "SA", 34: "KE", 35: "IDi", 36: "IDr", 37: "CERT", 38: "CERTREQ", 39: "AUTH", 40: "No",
                  41: "N", 42: "D", 43: "V", 44: "TSi", 45: "TSr", 46: "SK", 47: "CP", 48: "EAP", 53: "SKF"}
# RFC 7296 3.10.1 and the IANA "IKEv2 Notify Message Types" registry, the short names strongSwan
# logs (src/libcharon/encoding/payloads/notify_payload.c, notify_type_short_names).
NOTIFY_SHORT = {
    7: "INVAL_SYN", 14: "NO_PROP", 17: "INVAL_KE", 24: "AUTH_FAILED", 16384: "INIT_CONTACT",
    16385: "SET_WINSIZE", 16388: "NATD_S_IP", 16389: "NATD_D_IP", 16390: "COOKIE", 16392: "HTTP_CERT_LOOK",
    16393: "REKEY_SA", 16394: "ESP_TFC_PAD_N", 16395: "NON_FIRST_FRAG", 16396: "MOBIKE_SUP",
    16404: "MULT_AUTH", 16406: "REDIR_SUP", 16417: "EAP_ONLY", 16418: "CHDLESS_SUP", 16420: "MSG_ID_SYN_SUP",
    16430: "FRAG_SUP", 16431: "HASH_ALG", 16397: "ADD_4_ADDR", 16399: "NO_ADD_ADDR",
}


@dataclass(frozen=True)
class CapturedMessage:
    """One IKE message as a capture shows it."""

    t: float
    """Seconds since the first IKE message of the capture."""
    src: str
    dst: str
    sport: int
    dport: int
    ike_version: int
    exchange: str
    response: bool
    msg_id: int
    spi_i: str
    spi_r: str
    length: int
    payloads: tuple[str, ...] = field(default=())
    """The unencrypted payloads (IKEv2 IKE_SA_INIT), empty when the message is encrypted."""
    digest: bytes = field(default=b"", repr=False)
    """A hash of the message's octets: a retransmission is a byte-identical copy."""


def _ike_payload(udp_payload: bytes, sport: int, dport: int) -> bytes | None:
    if 4500 in (sport, dport):
        if len(udp_payload) < 4 or udp_payload[:4] != NON_ESP_MARKER:
            return None  # ESP in UDP or a NAT-keepalive
        udp_payload = udp_payload[4:]
    return udp_payload if len(udp_payload) >= 28 else None


def _v2_payloads(first: int, body: bytes) -> tuple[str, ...]:
    """The cleartext payload chain (stops at an Encrypted payload, whose contents need keys)."""
    names: list[str] = []
    kind, pos = first, 0
    while kind and pos + 4 <= len(body):
        nxt, _, length = struct.unpack_from("!BBH", body, pos)
        if length < 4:
            break
        name = IKEV2_PAYLOADS.get(kind, str(kind))
        if kind == 41 and pos + 8 <= len(body):
            notify = struct.unpack_from("!H", body, pos + 6)[0]
            name = f"N({NOTIFY_SHORT.get(notify, notify)})"
        names.append(name)
        if kind in (46, 53):
            break
        kind, pos = nxt, pos + length
    return tuple(names)


@dataclass(frozen=True)
class Capture:
    """A capture's IKE messages and when its recording ended."""

    messages: list[CapturedMessage]
    end: float | None
    """The end of the recording, seconds after the first IKE message (None: no IKE message)."""
    end_source: str
    """Where ``end`` comes from: ``pcapng interface statistics`` (isb_endtime),
    ``recorder log <file>`` (an ``end of recording`` line of scripts/record-captures) or
    ``last record`` (the file says nothing later than its last packet)."""


def read_capture(path: str | Path) -> Capture:
    """The IKE messages of a capture file and the end of its recording: a pcapng Interface
    Statistics Block's isb_endtime (pcapng spec, draft-ietf-opsawg-pcapng 4.6: what dumpcap
    writes when it stops), else the ``end of recording`` line of the recorder's log beside the
    capture (``NAME/harness.log`` for ``NAME.pcap``, epoch seconds: scripts/record-captures),
    else the last record of the file, IKE or not."""
    path = Path(path)
    messages, t0, last = _read(path)
    if t0 is None or last is None:
        return Capture(messages, None, "last record")
    for end, source in ((_pcapng_end(path, last), "pcapng interface statistics"), _recorder_end(path)):
        if end is not None and end >= last:
            return Capture(messages, round(end - t0, 6), source)
    return Capture(messages, round(last - t0, 6), "last record")


def _recorder_end(path: Path) -> tuple[float | None, str]:
    log = path.with_suffix("") / "harness.log"
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return None, ""
    for line in lines:
        stamp, _, what = line.partition(" ")
        if what.strip() == "end of recording":
            try:
                return float(stamp), f"recorder log {log.parent.name}/{log.name}"
            except ValueError:
                return None, ""
    return None, ""


def _pcapng_end(path: Path, last: float) -> float | None:
    """The latest isb_endtime of a pcapng file's Interface Statistics Blocks (None: none, or
    not pcapng). The pcapng specification counts it in the interface's if_tsresol (default
    microseconds); dumpcap 4.0 writes microseconds also for a nanosecond interface (measured:
    its isb_endtime was 1000 times too small read in nanoseconds), so the first reading that
    is not before the file's ``last`` record is taken."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) < 12 or data[:4] != b"\x0a\x0d\x0d\x0a":
        return None
    ends: list[float] = []
    resolutions: list[float] = []
    order, pos = "<", 0
    while pos + 12 <= len(data):
        if data[pos:pos + 4] == b"\x0a\x0d\x0d\x0a":  # a section header: its own byte order and interfaces
            order = "<" if data[pos + 8:pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            resolutions = []
        kind, length = struct.unpack_from(order + "II", data, pos)
        if length < 12 or pos + length > len(data):
            break
        body = data[pos + 8:pos + length - 4]
        if kind == 1:  # Interface Description Block
            resolution = 1e-6
            for code, value in _options(body[8:], order):
                if code == 9 and value:  # if_tsresol
                    v = value[0]
                    resolution = 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -v
            resolutions.append(resolution)
        elif kind == 5 and len(body) >= 12:  # Interface Statistics Block
            interface = struct.unpack_from(order + "I", body)[0]
            for code, value in _options(body[12:], order):
                if code == 3 and len(value) == 8 and interface < len(resolutions):  # isb_endtime
                    high, low = struct.unpack(order + "II", value)
                    ticks = (high << 32) | low
                    ends += [t for t in (ticks * resolutions[interface], ticks * 1e-6) if last <= t < last + 1e6][:1]
        pos += length
    return max(ends) if ends else None


def _options(data: bytes, order: str) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos + 4 <= len(data):
        code, length = struct.unpack_from(order + "HH", data, pos)
        if code == 0:
            break
        out.append((code, data[pos + 4:pos + 4 + length]))
        pos += 4 + length + (-length % 4)
    return out


def read_ike_messages(path: str | Path) -> list[CapturedMessage]:
    """The IKE messages of a capture file in capture order, times relative to the first one."""
    return _read(Path(path))[0]


def _read(path: Path) -> tuple[list[CapturedMessage], float | None, float | None]:
    """The IKE messages, the absolute time of the first one and of the file's last record."""
    from scapy.error import Scapy_Exception
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import PcapReader

    if not path.is_file():
        raise ConfigError(str(path), "", "no such capture file")
    raw: list[tuple[float, str, str, int, int, bytes]] = []
    last: float | None = None
    try:
        with PcapReader(str(path)) as reader:
            for pkt in reader:
                last = float(pkt.time) if last is None else max(last, float(pkt.time))
                ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
                udp = pkt.getlayer(UDP)
                if ip is None or udp is None:
                    continue
                if udp.sport not in IKE_PORTS and udp.dport not in IKE_PORTS:
                    continue
                data = _ike_payload(bytes(udp.payload), udp.sport, udp.dport)
                if data is not None:
                    raw.append((float(pkt.time), ip.src, ip.dst, int(udp.sport), int(udp.dport), data))
    except (Scapy_Exception, struct.error, EOFError, ValueError) as e:
        raise ConfigError(str(path), "", f"not a pcap or pcapng capture ({e})") from None
    if not raw:
        return [], None, last
    t0 = raw[0][0]
    out: list[CapturedMessage] = []
    first_sender: dict[tuple[str, str, int], str] = {}
    for t, src, dst, sport, dport, data in raw:
        spi_i, spi_r, first, version, exch, flags, msg_id, length = struct.unpack_from("!8s8sBBBBII", data)
        major = version >> 4
        if major == 2:
            exchange = IKEV2_EXCHANGES.get(exch, str(exch))
            response = bool(flags & 0x20)
            payloads = _v2_payloads(first, data[28:length])
        elif major == 1:
            exchange = IKEV1_EXCHANGES.get(exch, str(exch))
            key = (spi_i.hex(), exchange, msg_id)
            opener = first_sender.setdefault(key, src)
            response = exchange not in IKEV1_ONE_WAY and src != opener
            payloads = ()
        else:
            continue
        out.append(CapturedMessage(round(t - t0, 6), src, dst, sport, dport, major, exchange, response, msg_id,
                                   spi_i.hex(), spi_r.hex(), length, payloads,
                                   hashlib.sha256(data[:length]).digest()))
    return out, t0, last
