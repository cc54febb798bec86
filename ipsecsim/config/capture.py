"""The scenario's ``trace:`` block: which packet trace ``ipsecsim run`` writes.

``ipsecsim run --pcap FILE --keys FILE`` override ``pcap`` and ``keys``. The packets
themselves are written by ``ipsecsim.trace`` (README "Packets", docs/packets.md).
"""

from __future__ import annotations

import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from ..errors import shown


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False, strict=True)


_EPOCH_MAX = 253402300799


def parse_epoch(value: object) -> float:
    """Unix seconds from an ISO 8601 date-time with a time zone, or from a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not 0 <= value <= _EPOCH_MAX:
            raise ValueError(f"epoch is Unix seconds from 0 (1970) to {_EPOCH_MAX} (9999-12-31), got {shown(value)}")
        return float(value)
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        raise ValueError(f"epoch {value.isoformat()} is a date; give a time and a zone, "
                         f"e.g. {value.isoformat()}T00:00:00Z")
    if isinstance(value, datetime.datetime):  # YAML reads unquoted timestamps itself
        when, text = value, value.isoformat()
    else:
        text = str(value).strip()
        try:
            when = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"invalid epoch {shown(text)}: expected ISO 8601 such as 2024-01-01T00:00:00Z, "
                             f"or Unix seconds") from None
    if when.tzinfo is None:
        raise ValueError(f"epoch {text} needs a time zone, e.g. {text}Z")
    seconds = when.timestamp()
    if seconds < 0:
        raise ValueError(f"epoch must not be before 1970, got {shown(value)}")
    return seconds


Epoch = Annotated[float, BeforeValidator(parse_epoch),
                  WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"},
                                            {"type": "number", "minimum": 0}]})]


class EspSampleConfig(_Strict):
    """Which ESP packets of a traffic flow a trace writes (bulk traffic is a fluid)."""

    first: int = Field(10, ge=0, description="the first N packets of each ESP SA (each direction)")
    last: int = Field(10, ge=0, description="the last N packets of each ESP SA: those just before it is "
                      "rekeyed or deleted, or the end of the run")
    all: bool = Field(False, description="write every ESP packet (also spelt esp: all)")


def _esp_sample(value: object) -> object:
    if isinstance(value, str):
        if value.strip().lower() == "all":
            return {"all": True}
        raise ValueError(f"expected {{first: N, last: N}} or all, got {shown(value)}")
    return value


_ESP_SCHEMA = {"anyOf": [
    {"type": "object", "additionalProperties": False,
     "properties": {"first": {"type": "integer", "minimum": 0}, "last": {"type": "integer", "minimum": 0},
                    "all": {"type": "boolean"}}},
    {"const": "all"}]}


class TraceConfig(_Strict):
    """Packet trace of the run: every IKE datagram as a real packet, ESP packets sampled.
    ``ipsecsim run --pcap/--keys`` override ``pcap`` and ``keys``."""

    pcap: str | None = Field(None, description="write the packets to this file (relative to the working "
                             "directory)")
    keys: str | None = Field(None, description="write the keys for Wireshark to this JSON file")
    format: Literal["pcapng", "pcap"] = Field(
        "pcapng", description="pcapng (one interface per peer, packet comments: lost, retransmitted, sampled) "
        "or classic pcap")
    link_type: Literal["ethernet", "raw"] = Field("ethernet", description="Ethernet frames or raw IPv4 packets")
    epoch: Epoch = Field(1704067200.0, description="wall-clock time of simulated t=0: ISO 8601 with a time "
                         "zone (2024-01-01T00:00:00Z, the default) or Unix seconds")
    lost: Literal["include", "omit"] = Field(
        "include", description="datagrams lost on the link: include them (captured as they leave the sender, "
        "commented) or omit them")
    esp: Annotated[EspSampleConfig, BeforeValidator(_esp_sample), WithJsonSchema(_ESP_SCHEMA)] = Field(
        default_factory=EspSampleConfig,
        description="ESP packets to write: {first: N, last: N} per SA and direction, or all")
    undecryptable: Literal["mark", "refuse"] = Field(
        "mark", description="an SA whose algorithms Wireshark cannot decrypt (sm4, sm3, chacha20poly1305, "
        "sha256_96 ...): write its packets with a comment and leave it out of the keys file, or refuse")
