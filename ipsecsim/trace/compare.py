"""A simulated run held against a real capture, message by message (``ipsecsim compare``).

Both sides are reduced to what a capture shows at one point of the network, the *capture
point* (a peer's network interface, as ``dumpcap -i`` inside that peer's namespace):

* the capture point's own IKE messages when they leave it (including the ones the network
  then loses), and
* the other peers' messages when they reach its interface (before it spends any time on them;
  a frozen or crashed capture point still has its interface up).

Messages are aligned on what travels in the clear: who sent it, the IKE version, the exchange
type, request or response, which transmission of the same octets it is (a retransmission is a
byte-identical copy, RFC 7296 2.1), and which IKE SA it belongs to (numbered in order of first
appearance, so a rekeyed IKE SA is a new one). The alignment is a longest-common-subsequence
match (difflib); what is left over on either side is a difference in sequence. Each matched
message is compared in time, both timelines starting at their first IKE message, and for IKEv2
in message id (IKEv1 message ids are random, RFC 2408 3.1).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .capture import Capture, CapturedMessage


@dataclass(frozen=True)
class WireMessage:
    """A message at the capture point, from either the capture or the simulation."""

    t: float
    sender: str
    receiver: str
    ike_version: int
    exchange: str
    response: bool
    msg_id: int
    ike_sa: int
    """1 for the first IKE SA (initiator SPI) seen, 2 for the next, ..."""
    retransmit: int

    def key(self) -> tuple[Any, ...]:
        return (self.sender, self.ike_version, self.exchange, self.response, self.retransmit, self.ike_sa)

    def label(self) -> str:
        kind = "response" if self.response else "request"
        again = f" (retransmission {self.retransmit})" if self.retransmit else ""
        sa = f" IKE SA #{self.ike_sa}" if self.ike_sa > 1 else ""
        return f"{self.sender} → {self.receiver}  {self.exchange} {kind} {self.msg_id}{again}{sa}"

    def to_dict(self) -> dict[str, Any]:
        return {"t": round(self.t, 6), "from": self.sender, "to": self.receiver, "ike_version": self.ike_version,
                "exchange": self.exchange, "response": self.response, "msg_id": self.msg_id,
                "ike_sa": self.ike_sa, "retransmit": self.retransmit}


@dataclass(frozen=True)
class Pair:
    captured: WireMessage
    simulated: WireMessage

    @property
    def dt(self) -> float:
        """Simulated minus captured time (negative: the simulation is early)."""
        return self.simulated.t - self.captured.t


@dataclass
class Comparison:
    capture_point: str
    tolerance: float
    rows: list[tuple[str, WireMessage | None, WireMessage | None]] = field(default_factory=list)
    """In order: ("match", c, s), ("capture_only", c, None), ("simulation_only", None, s)."""
    after_capture: int = 0
    """Simulated messages later than the end of the recording (not compared)."""
    capture_end: float | None = None
    """The end of the recording, seconds after the capture's first IKE message."""
    capture_end_source: str = "last record"
    after_run: int = 0
    """Captured messages later than the end of the simulated run (not compared)."""

    @property
    def pairs(self) -> list[Pair]:
        return [Pair(c, s) for kind, c, s in self.rows if kind == "match" and c and s]

    @property
    def sequence_differences(self) -> int:
        return sum(1 for kind, _, _ in self.rows if kind != "match")

    def id_differences(self) -> list[Pair]:
        return [p for p in self.pairs if p.captured.ike_version == 2 and p.captured.msg_id != p.simulated.msg_id]

    def late_or_early(self) -> list[Pair]:
        return [p for p in self.pairs if abs(p.dt) > self.tolerance + 1e-9]

    @property
    def largest(self) -> Pair | None:
        return max(self.pairs, key=lambda p: abs(p.dt), default=None)

    @property
    def passed(self) -> bool:
        return (bool(self.pairs) and not self.sequence_differences and not self.id_differences()
                and not self.late_or_early())

    def to_dict(self) -> dict[str, Any]:
        largest = self.largest
        return {
            "capture_point": self.capture_point,
            "tolerance": self.tolerance,
            "verdict": "pass" if self.passed else "fail",
            "matched": len(self.pairs),
            "sequence_differences": self.sequence_differences,
            "msg_id_differences": len(self.id_differences()),
            "outside_tolerance": len(self.late_or_early()),
            "largest_deviation": round(largest.dt, 6) if largest else None,
            "capture_end": self.capture_end,
            "capture_end_source": self.capture_end_source,
            "simulated_after_capture": self.after_capture,
            "captured_after_run": self.after_run,
            "rows": [{"kind": kind, "captured": c.to_dict() if c else None,
                      "simulated": s.to_dict() if s else None,
                      "dt": round(s.t - c.t, 6) if c and s else None} for kind, c, s in self.rows],
        }


class _Numbering:
    """IKE SAs numbered by first appearance; retransmissions counted per identical message."""

    def __init__(self) -> None:
        self.sas: dict[str, int] = {}

    def sa(self, spi_i: str) -> int:
        return self.sas.setdefault(spi_i, len(self.sas) + 1)


def from_capture(messages: Sequence[CapturedMessage], names: Mapping[str, str]) -> list[WireMessage]:
    """Captured messages with addresses turned into peer names (``names``: address -> peer)."""
    numbering = _Numbering()
    copies: dict[bytes, int] = {}
    out = []
    for m in messages:
        n = copies.get(m.digest, 0)
        copies[m.digest] = n + 1
        out.append(WireMessage(m.t, names[m.src], names[m.dst], m.ike_version, m.exchange, m.response, m.msg_id,
                               numbering.sa(m.spi_i), n))
    return out


def from_transmissions(transmissions: Sequence[Any], point: str, addresses: Mapping[str, str]) -> list[WireMessage]:
    """The simulated messages seen at ``point``: its own when they leave (lost or not), the
    others' when they reach its interface (``sim.link.Transmission``: a frozen or crashed
    peer's interface still receives)."""
    names = {a: p for p, a in addresses.items()}
    seen: list[tuple[float, int, str, str, dict[str, Any], int]] = []
    for n, tr in enumerate(transmissions):
        fields = getattr(tr.dgram.message, "fields", None)
        if not callable(fields):
            continue  # NAT-keepalives
        f = fields()
        receiver = names.get(tr.dgram.dst, tr.dgram.dst)
        if tr.sender == point:
            seen.append((tr.t, n, tr.sender, receiver, f, tr.dgram.retransmit))
        elif receiver == point and tr.arrival is not None:
            seen.append((tr.arrival, n, tr.sender, receiver, f, tr.dgram.retransmit))
    seen.sort(key=lambda r: (r[0], r[1]))
    numbering = _Numbering()
    return [WireMessage(t, sender, receiver, int(f["ike_version"]), str(f["exchange"]), bool(f["response"]),
                        int(f["msg_id"]), numbering.sa(str(f["spi_i"])), again)
            for t, _, sender, receiver, f, again in seen]


def align(captured: Sequence[WireMessage], simulated: Sequence[WireMessage], point: str,
          tolerance: float, run_end: float | None = None, capture_end: float | None = None,
          capture_end_source: str = "last record") -> Comparison:
    """Both timelines from their first message. Simulated messages after the end of the
    recording (``capture_end``, in the capture's time; default: its last message) and captured
    messages after the end of the run (``run_end``, simulated time) are counted, not compared:
    neither side can show what happened after it stopped looking."""
    result = Comparison(point, tolerance, capture_end_source=capture_end_source)
    if captured:
        c0 = captured[0].t
        captured = [_shift(m, c0) for m in captured]
        end = max(capture_end - c0, captured[-1].t) if capture_end is not None else captured[-1].t
        result.capture_end = round(end, 6)
    if simulated:
        s0 = simulated[0].t
        simulated = [_shift(m, s0) for m in simulated]
        if run_end is not None:
            kept_c = [m for m in captured if m.t <= run_end - s0 + tolerance]
            result.after_run = len(captured) - len(kept_c)
            captured = kept_c
    if result.capture_end is not None:
        end = result.capture_end + tolerance
        kept = [m for m in simulated if m.t <= end]
        result.after_capture = len(simulated) - len(kept)
        simulated = kept
    matcher = difflib.SequenceMatcher(None, [m.key() for m in captured], [m.key() for m in simulated],
                                      autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            result.rows += [("match", c, s) for c, s in zip(captured[i1:i2], simulated[j1:j2], strict=True)]
            continue
        merged = sorted([("capture_only", c.t, c) for c in captured[i1:i2]]
                        + [("simulation_only", s.t, s) for s in simulated[j1:j2]], key=lambda r: r[1])
        result.rows += [(kind, m, None) if kind == "capture_only" else (kind, None, m) for kind, _, m in merged]
    return result


def _shift(m: WireMessage, t0: float) -> WireMessage:
    return WireMessage(round(m.t - t0, 6), m.sender, m.receiver, m.ike_version, m.exchange, m.response, m.msg_id,
                       m.ike_sa, m.retransmit)


def render(c: Comparison, title: str) -> list[str]:
    """The comparison as text lines: one per message, then the verdict."""
    ms = 1000.0
    lines = [title, f"{'':>3}  {'capture':>9}  {'simulated':>9}  {'Δ':>9}  message"]
    for n, (kind, cap, sim) in enumerate(c.rows, 1):
        if kind == "match" and cap and sim:
            dt = (sim.t - cap.t) * ms
            mark = "  " if abs(dt) <= c.tolerance * ms + 1e-6 else " !"
            ids = "" if cap.ike_version == 1 or cap.msg_id == sim.msg_id else f"  (simulated message id {sim.msg_id})"
            lines.append(f"{n:>3}  {cap.t:9.3f}  {sim.t:9.3f}  {dt:+7.1f}ms{mark} {cap.label()}{ids}")
        elif cap:
            lines.append(f"{n:>3}  {cap.t:9.3f}  {'-':>9}  {'':>9}  only in the capture: {cap.label()}")
        elif sim:
            lines.append(f"{n:>3}  {'-':>9}  {sim.t:9.3f}  {'':>9}  only in the simulation: {sim.label()}")
    largest = c.largest
    parts = [f"{len(c.pairs)} messages matched"]
    if largest:
        parts.append(f"largest deviation {largest.dt * ms:+.1f} ms ({largest.captured.label()})")
    outside = c.late_or_early()
    if outside:
        parts.append(f"{len(outside)} outside ±{c.tolerance * ms:g} ms")
    if c.sequence_differences:
        parts.append(f"{c.sequence_differences} differences in sequence")
    if c.id_differences():
        parts.append(f"{len(c.id_differences())} different message ids")
    if c.after_capture:
        parts.append(f"{c.after_capture} simulated messages after the end of the recording "
                     f"({c.capture_end:.3f} s, {c.capture_end_source}) not compared")
    if c.after_run:
        parts.append(f"{c.after_run} captured messages after the end of the run not compared")
    lines.append(("PASS: " if c.passed else "FAIL: ") + ", ".join(parts))
    return lines


def compare_run(transmissions: Sequence[Any], capture: Sequence[CapturedMessage] | Capture,
                simulated: Mapping[str, str], captured: Mapping[str, str] | None = None, point: str | None = None,
                tolerance: float = 0.010, file: str | None = None, run_end: float | None = None) -> Comparison:
    """Compare a run's transmissions (``Result.transmissions``) with a capture (its messages, or
    a ``Capture`` with the end of its recording). ``simulated``: peer name -> address in the run;
    ``captured``: peer name -> address as the capture shows it (default: the same); ``point``:
    the peer where the capture was taken (default: the sender of the capture's first message,
    where ``dumpcap`` usually runs)."""
    end, end_source = None, "last record"
    if isinstance(capture, Capture):
        end, end_source, capture = capture.end, capture.end_source, capture.messages
    addresses = captured or simulated
    from ..errors import ConfigError
    names = {a: p for p, a in addresses.items()}
    unknown = sorted({a for m in capture for a in (m.src, m.dst)} - set(names))
    if unknown:
        known = ", ".join(f"{p}={a}" for p, a in addresses.items())
        raise ConfigError(file, "", f"the capture has IKE messages of {', '.join(unknown)}, which is no peer's "
                          f"address in the scenario ({known}); give --address PEER=ADDRESS")
    if point is None:
        point = names[capture[0].src] if capture else next(iter(addresses))
    elif point not in addresses:
        raise ConfigError(None, "--at", f"{point!r} is not a peer of the scenario; one of {', '.join(addresses)}")
    simulated_messages = from_transmissions(transmissions, point, simulated)
    return align(from_capture(capture, names), simulated_messages, point, tolerance, run_end, end, end_source)
