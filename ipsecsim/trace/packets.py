"""``ipsecsim run --pcap FILE --keys FILE``: the run as packets Wireshark decodes and decrypts.

Collects the frames of every source in ``frames.FRAME_SOURCES`` (IKE datagrams, and ESP
traffic once a traffic model registers one), orders them by simulated time, writes the
capture (``pcap``) and the keys (``keyfile``). Nothing is encoded unless a trace is asked
for, so runs without one never pay for the cryptography.
"""

from __future__ import annotations

import collections
import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..errors import ConfigError
from ..proto.algorithms import lookup
from . import keyfile, pcap, wireshark
from .dataplane import bulk_counts
from .frames import FRAME_SOURCES, Frame, FrameSource
from .options import TraceOptions

if TYPE_CHECKING:
    from ..result import Result


@dataclass
class TraceReport:
    """What was written, for the one-line notice of the CLI."""

    pcap: Path | None
    keys: Path | None
    frames: collections.Counter[str] = field(default_factory=collections.Counter)
    lost: int = 0
    sample: str = ""
    key_counts: dict[str, int] = field(default_factory=dict)
    undecryptable: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    wireshark: Path | None = None
    """The directory of Wireshark table files written beside the keys file."""

    def lines(self) -> list[str]:
        out = []
        if self.pcap is not None:
            total = sum(self.frames.values())
            kinds = ", ".join(f"{n} {k.upper() if k != 'keepalive' else 'NAT keepalive'}"
                              for k, n in sorted(self.frames.items()))
            lost = f"; {self.lost} lost on the way, captured at the sender" if self.lost else ""
            out.append(f"pcap: {total} packets ({kinds or 'none'}{lost}) -> {self.pcap}"
                       + (f"; {self.sample}" if self.frames.get("esp") else ""))
        if self.keys is not None:
            k = self.key_counts
            sas = ", ".join(f"{k[kind]} {label} SA{'s' if k[kind] != 1 else ''}"
                            for kind, label in (("ikev2", "IKEv2"), ("ikev1", "IKEv1"), ("esp", "ESP")) if k.get(kind))
            out.append(f"keys: {sas or 'no SA to decrypt'} -> {self.keys}")
            if self.wireshark is not None:
                out.append(f"wireshark: {self.wireshark}/ holds the keys as Wireshark tables"
                           + (f"; decrypted: {wireshark.tshark_line(self.pcap, self.keys)}" if self.pcap else ""))
        out += [f"warning: {u}" for u in self.undecryptable]
        out += [f"note: {u}" for u in self.notes]
        return out


def collect_frames(result: Result, opts: TraceOptions, sources: Sequence[FrameSource] | None = None) -> list[Frame]:
    """Every source's frames (default: ``FRAME_SOURCES``) in simulated-time order."""
    frames: list[Frame] = []
    for source in FRAME_SOURCES if sources is None else sources:
        frames.extend(source(result, opts))
    frames.sort(key=lambda f: pcap.usec(0.0, f.t))  # stable: equal times keep their source order
    return frames


def section_comment(result: Result, opts: TraceOptions, sample: str | None = None) -> str:
    epoch = datetime.datetime.fromtimestamp(opts.epoch, datetime.UTC).isoformat().replace("+00:00", "Z")
    return (f"ipsecsim {__version__}: scenario {result.scenario.spec.name}, seed {result.seed}, "
            f"{result.duration:g} s simulated from {epoch}. Every IKE datagram as it leaves its sender"
            f"{' (lost ones included, commented)' if opts.lost == 'include' else ' (lost ones omitted)'}; "
            f"{sample or opts.sample_text()}. Keys for Wireshark: ipsecsim run --keys FILE.")


def sample_text(result: Result, opts: TraceOptions) -> str:
    """How the traffic's ESP was written: every ping and discrete packet, bulk flows (a fluid
    in the simulation) sampled, and how many bulk packets were left out."""
    total, written = bulk_counts(result, opts)
    if not total:
        return "ESP: every packet written (no bulk traffic to sample)"
    if written == total:
        return f"ESP: every packet written, {total:,} of them bulk"
    return (f"ESP: {opts.sample_text()} written; bulk is sampled: {written:,} of {total:,} bulk packets written, "
            f"{total - written:,} left out")


def write_trace(result: Result, opts: TraceOptions, sources: Sequence[FrameSource] | None = None) -> TraceReport:
    """Write the trace files ``opts`` asks for; ConfigError if an SA must be refused.
    ``sources`` replaces ``FRAME_SOURCES`` (tests, tools writing extra packets)."""
    doc = keyfile.build(result)
    algorithms = [u for u in doc["undecryptable"] if u["reason"] != keyfile.SECOND_V1_KEY]
    if opts.undecryptable == "refuse" and algorithms:  # refuse algorithms, not a PSK mismatch
        raise _refusal(result, algorithms[0])
    report = TraceReport(opts.pcap, opts.keys, sample=opts.sample_text())
    if opts.pcap is not None:
        frames = collect_frames(result, opts, sources)
        names: dict[str, str] = {}
        for name, s in result.scenario.peers.items():  # one gateway, several tunnels: one interface
            names[s.address] = f"{names[s.address]}/{name}" if s.address in names else name
        report.sample = sample_text(result, opts)
        try:
            pcap.write(opts.pcap, frames, fmt=opts.format, link_type=opts.link_type, epoch=opts.epoch,
                       seed=result.seed, interfaces=names, comment=section_comment(result, opts, report.sample),
                       application=f"ipsecsim {__version__}")
        except OSError as e:
            raise ConfigError(None, str(opts.pcap), f"cannot write the packet trace: {e.strerror or e}") from None
        report.frames.update(f.kind for f in frames)
        report.lost = sum(1 for tx in result.transmissions if tx.lost is not None) if opts.lost == "include" else 0
    if opts.keys is not None:
        try:
            report.wireshark = keyfile.write(opts.keys, doc)
        except OSError as e:
            raise ConfigError(None, str(opts.keys), f"cannot write the keys file: {e.strerror or e}") from None
        report.key_counts = {k: len(v) for k, v in doc.items()}
    report.undecryptable = [f"{_describe_entry(u)} NOT decryptable in Wireshark: {u['reason']}"
                            for u in doc["undecryptable"] if "wireshark_auth_alg" not in u]
    report.notes = [f"{_describe_entry(u)}: {u['reason']}" for u in doc["undecryptable"] if "wireshark_auth_alg" in u]
    return report


def _describe_entry(u: dict[str, str]) -> str:
    if u["kind"] == "ikev2":
        return f"IKE SA {u['spi_i']}_i {u['spi_r']}_r"
    if u["kind"] == "esp":
        return f"ESP SA {u['spi']} ({u['src']} -> {u['dst']})"
    return f"IKEv1 SA {u['icookie']}"


def _refusal(result: Result, u: dict[str, str]) -> ConfigError:
    """Name the first proposal that brought the algorithm Wireshark cannot decrypt."""
    alg = lookup(u["algorithm"])
    section = "child" if u["kind"] == "esp" else "ike"
    path = "trace.undecryptable"
    spec = result.scenario.spec
    for name, peer in spec.peers.items():  # each peer's proposals, parsed in the order written
        found = [i for i, p in enumerate(getattr(peer, section).proposals) if alg in p.transforms()]
        if found:
            path = f"peers.{name}.{section}.proposals[{found[0]}]"
            break
    else:  # not negotiated: a side that truncates HMAC-SHA-256 to 96 bits on its own
        quirk = [n for n, p in spec.peers.items() if u["kind"] == "esp" and p.child.sha256_96]
        if quirk and u["algorithm"] == "sha256_96":
            path = f"peers.{quirk[0]}.child.sha256_96"
    return ConfigError(spec.file, path,
                       f"the {_describe_entry(u)} cannot be written decryptably ({u['reason']}) and "
                       f"trace.undecryptable is 'refuse': choose "
                       f"algorithms Wireshark decrypts (AES-CBC/CTR/GCM with HMAC-SHA1/SHA2), or set "
                       f"trace.undecryptable: mark to write its packets marked as not decryptable")
