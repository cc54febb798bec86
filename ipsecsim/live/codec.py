"""Octets <-> the message objects the cores exchange, for a live peer.

Outbound: every message object implements ``proto.onwire.WireMessage``; an encrypted IKEv2
message is sealed with its IKE SA's keys and an IV from ``os.urandom`` (RFC 7296 3.14: the
IV must be unpredictable), and a retransmission repeats the octets of the first transmission
(RFC 7296 2.1). IKEv1 messages already carry the octets their core encrypted.

Inbound: IKEv2 messages are parsed here (RFC 7296 3), an SK payload verified and decrypted
with the keys of the IKE SA the receiving core holds for this side's SPI; IKEv1 messages go
to the core as their raw octets (the IKEv1 engine decodes with its own IV chain). A
``Received`` keeps the octets as they arrived, so a packet trace writes exactly them.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ..proto.ikev1 import message as v1msg
from ..proto.ikev1 import wire as v1wire
from ..proto.ikev2 import wire as v2wire
from ..proto.ikev2.message import Message as V2Message
from ..proto.onwire import IvSource

VERSION_OFFSET = 17  # RFC 7296 3.1 / RFC 2408 3.1: MjVer | MnVer octet after the exchange type


class DecodeError(ValueError):
    """Octets the cores cannot take (not IKE, an unknown SA, an SK payload that does not verify)."""


@dataclass(frozen=True, slots=True)
class Received:
    """A message as it arrived from the real gateway (``onwire.WireMessage`` for traces)."""

    raw: bytes
    message: Any
    """The parsed IKEv2 ``Message`` or the IKEv1 ``Message`` shell with ``raw``."""
    label: str

    def wire_bytes(self, keys: Any = None, iv: IvSource | None = None) -> bytes:
        return self.raw

    def notation(self) -> str:
        return self.label


class Encoder:
    """Outbound octets, remembered per message object so retransmissions repeat them."""

    def __init__(self, keep: int = 256):
        self._sent: OrderedDict[int, tuple[Any, bytes]] = OrderedDict()
        self._keep = keep

    def encode(self, message: Any, keys: Any) -> bytes:
        hit = self._sent.get(id(message))
        if hit is not None and hit[0] is message:
            return hit[1]
        data = bytes(message.wire_bytes(keys, os.urandom))
        self._sent[id(message)] = (message, data)  # holding the object keeps its id unique
        while len(self._sent) > self._keep:
            self._sent.popitem(last=False)
        return data


def ike_version(data: bytes) -> int:
    if len(data) < 28:
        raise DecodeError(f"{len(data)} octets: shorter than an IKE header")
    return data[VERSION_OFFSET] >> 4


def decode_v2(data: bytes, keys_for: Any) -> tuple[V2Message, Any]:
    """(message, the IKE SA's ``IkeKeys`` or None). ``keys_for(spi_i, spi_r, initiator)``
    returns the ``IkeKeys`` of the SA the message belongs to (None: unknown)."""
    hdr = v2wire.HEADER.unpack_from(data)
    spi_i, spi_r, first, flags = hdr[0], hdr[1], hdr[2], hdr[5]
    keys = None
    if first == 46:  # SK (RFC 7296 3.14)
        keys = keys_for(spi_i, spi_r)
        if keys is None:
            raise DecodeError(f"encrypted IKEv2 message for an unknown IKE SA {spi_i.hex()}_i {spi_r.hex()}_r")
    try:
        sender = None if keys is None else keys.sender(bool(flags & v2wire.FLAG_I))
        msg = v2wire.decode(data, sender)
    except (v2wire.WireError, ValueError, IndexError) as e:
        raise DecodeError(f"IKEv2 message not understood: {e}") from None
    return msg, keys


def decode_v1(data: bytes) -> v1msg.Message:
    """The IKEv1 shell the engine takes: header fields and ``raw``; it decrypts and parses."""
    try:
        hdr = v1wire.decode_header(data)
        exchange = v1msg.Exchange(hdr.exchange)
    except (v1wire.WireError, ValueError) as e:
        raise DecodeError(f"ISAKMP message not understood: {e}") from None
    return v1msg.Message(exchange, hdr.cky_i, hdr.cky_r, hdr.msg_id, False, (), hdr.encrypted, raw=data)


def v1_label(msg: v1msg.Message) -> str:
    return f"{msg.exchange.name} {msg.msg_id} [ {'encrypted' if msg.encrypted else 'plain'} ]"
