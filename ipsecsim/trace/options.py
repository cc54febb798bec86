"""What a packet trace writes: the scenario's ``trace:`` block with the CLI flags on top."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class EspSample(Protocol):
    """The ``trace.esp`` setting (config/capture.py ``EspSampleConfig``)."""

    @property
    def first(self) -> int: ...
    @property
    def last(self) -> int: ...
    @property
    def all(self) -> bool: ...


class TraceBlock(Protocol):
    """A scenario's ``trace:`` block as validated (config/capture.py ``TraceConfig``)."""

    @property
    def pcap(self) -> str | None: ...
    @property
    def keys(self) -> str | None: ...
    @property
    def format(self) -> str: ...
    @property
    def link_type(self) -> str: ...
    @property
    def epoch(self) -> float: ...
    @property
    def lost(self) -> str: ...
    @property
    def esp(self) -> EspSample: ...
    @property
    def undecryptable(self) -> str: ...


@dataclass(frozen=True, slots=True)
class TraceOptions:
    pcap: Path | None = None
    keys: Path | None = None
    format: str = "pcapng"
    """pcapng or pcap."""
    link_type: str = "ethernet"
    """ethernet or raw (IPv4 packets without a link layer)."""
    epoch: float = 1704067200.0
    """Unix seconds of simulated t = 0 (default 2024-01-01T00:00:00Z)."""
    lost: str = "include"
    esp_first: int | None = 10
    """First packets written of each ESP SA direction; None: every packet."""
    esp_last: int | None = 10
    undecryptable: str = "mark"
    """mark or refuse."""

    @property
    def wanted(self) -> bool:
        return self.pcap is not None or self.keys is not None

    @property
    def esp_all(self) -> bool:
        return self.esp_first is None

    @classmethod
    def build(cls, cfg: TraceBlock | None, pcap: str | Path | None = None,
              keys: str | Path | None = None) -> TraceOptions:
        """The scenario's ``trace:`` settings (without one: the defaults above, which are those
        of an empty ``trace:`` block); ``pcap`` / ``keys`` (CLI flags) win."""
        if cfg is None:
            return cls(Path(pcap) if pcap else None, Path(keys) if keys else None)
        c = cfg
        pcap = pcap if pcap is not None else c.pcap
        keys = keys if keys is not None else c.keys
        first, last = (None, None) if c.esp.all else (c.esp.first, c.esp.last)
        return cls(Path(pcap) if pcap else None, Path(keys) if keys else None, c.format, c.link_type, c.epoch,
                   c.lost, first, last, c.undecryptable)

    def sample_text(self) -> str:
        if self.esp_all:
            return "every ESP packet"
        return (f"every ping and the first {self.esp_first} and last {self.esp_last} bulk packets of each ESP SA "
                f"direction")
