"""Bidirectional Forwarding Detection (RFC 5880) in asynchronous mode, single hop (RFC 5881),
for a BGP session over a tunnel: both ends send Control packets to each other's inner address
(UDP port 3784) and declare the path down when none arrives for the Detection Time.

* Packets (RFC 5880 4.1): the 24-octet mandatory section, version 1, no authentication;
  ``encode`` / ``decode`` give and read the octets.
* States (6.2, 6.8.6) as one table ``(local state, received state) -> new state``; the
  Detection Time expiring in Init or Up takes the session Down with diagnostic 1 (Control
  Detection Time Expired), a received Down in Up with diagnostic 3 (Neighbor Signaled Session
  Down).
* Intervals (6.8.2, 6.8.3, 6.8.7): while the session is not Up the Desired Min TX Interval
  sent is at least 1 s; the transmit interval is the greater of the own Desired Min TX and the
  remote's Required Min RX; going Up lowers it to the configured ``interval`` and starts a
  Poll Sequence (packets with P until one with F arrives; a received P is answered at once
  with F).
* Detection Time (6.8.4, asynchronous mode): the remote's Detect Mult times the greater of the
  own Required Min RX Interval and the remote's last received Desired Min TX Interval; the
  timer restarts with every valid packet received.

Simplifications (docs/bgp.md): no jitter (6.8.7 asks for 0-25 % less, 10-25 % with a Detect
Mult of 1): packets leave exactly every transmit interval, so a scenario's arithmetic is
exact; no Demand mode, Echo function, authentication or AdminDown; the Required Min RX
Interval is the configured ``interval`` in every state.

Sans-IO: ``take_packets()`` (octets to send to the peer), ``take_events()``, ``get_timer()``;
``start``, ``receive`` and ``handle_timer`` take ``now``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from ..events import ABSENT
from ..events import BfdState as BfdStateEvent

PORT = 3784          # RFC 5881 4: single-hop Control packets
LENGTH = 24          # the mandatory section, no authentication
SLOW = 1.0           # 6.8.3: Desired Min TX Interval of at least one second while not Up


class BfdState(IntEnum):
    """The State field's values (4.1)."""

    ADMIN_DOWN = 0
    DOWN = 1
    INIT = 2
    UP = 3

    @property
    def label(self) -> str:
        return {0: "AdminDown", 1: "Down", 2: "Init", 3: "Up"}[self.value]


DIAG_NAMES = {0: "No Diagnostic", 1: "Control Detection Time Expired", 2: "Echo Function Failed",
              3: "Neighbor Signaled Session Down", 7: "Administratively Down"}

S = BfdState
TABLE: dict[tuple[BfdState, BfdState], tuple[BfdState, int | None]] = {
    # 6.8.6: (bfd.SessionState, received State) -> (new state, diagnostic if it changes)
    (S.DOWN, S.ADMIN_DOWN): (S.DOWN, None),
    (S.DOWN, S.DOWN): (S.INIT, 0),
    (S.DOWN, S.INIT): (S.UP, 0),
    (S.DOWN, S.UP): (S.DOWN, None),
    (S.INIT, S.ADMIN_DOWN): (S.DOWN, 3),
    (S.INIT, S.DOWN): (S.INIT, None),
    (S.INIT, S.INIT): (S.UP, 0),
    (S.INIT, S.UP): (S.UP, 0),
    (S.UP, S.ADMIN_DOWN): (S.DOWN, 3),
    (S.UP, S.DOWN): (S.DOWN, 3),
    (S.UP, S.INIT): (S.UP, None),
    (S.UP, S.UP): (S.UP, None),
}


@dataclass(frozen=True, slots=True)
class Control:
    """A BFD Control packet's mandatory section (RFC 5880 4.1); intervals in seconds."""

    state: BfdState
    diag: int
    detect_mult: int
    my_discr: int
    your_discr: int
    desired_min_tx: float
    required_min_rx: float
    poll: bool = False
    final: bool = False
    version: int = 1


class BfdError(ValueError):
    """Octets that are not a valid Control packet (discarded, 6.8.6)."""


def _us(seconds: float) -> int:
    return round(seconds * 1_000_000)


def encode(c: Control) -> bytes:
    flags = (c.state << 6) | (0x20 if c.poll else 0) | (0x10 if c.final else 0)
    return struct.pack("!BBBBIIIII", (c.version << 5) | c.diag, flags, c.detect_mult, LENGTH, c.my_discr,
                       c.your_discr, _us(c.desired_min_tx), _us(c.required_min_rx), 0)


def decode(data: bytes) -> Control:
    """The packet's fields, after the reception checks of 6.8.6 that need no session state."""
    if len(data) < LENGTH:
        raise BfdError(f"{len(data)} octets, shorter than the 24-octet mandatory section")
    b0, b1, mult, length, mine, yours, tx, rx, _echo = struct.unpack("!BBBBIIIII", data[:LENGTH])
    if b0 >> 5 != 1:
        raise BfdError(f"version {b0 >> 5}, not 1")
    if length != LENGTH or length > len(data):
        raise BfdError(f"length {length}")
    if mult == 0 or mine == 0:
        raise BfdError("Detect Mult or My Discriminator zero")
    if b1 & 0x01 or b1 & 0x04:
        raise BfdError("Multipoint or Authentication Present set")
    return Control(BfdState(b1 >> 6), b0 & 0x1F, mult, mine, yours, tx / 1e6, rx / 1e6, bool(b1 & 0x20),
                   bool(b1 & 0x10))


@dataclass(frozen=True, slots=True)
class Datagram:
    """A Control packet in UDP between the tunnel's inner addresses (RFC 5881 4: destination port
    3784, a source port from 49152 to 65535 fixed for the session; 5: TTL 255)."""

    src: str
    dst: str
    sport: int
    data: bytes
    dport: int = PORT

    @property
    def size(self) -> int:
        return 20 + 8 + len(self.data)


@dataclass(frozen=True, slots=True)
class BfdSettings:
    interval: float
    """Desired Min TX Interval and Required Min RX Interval once Up, seconds."""
    multiplier: int
    """Detect Mult."""
    discriminator: int
    """My Discriminator: nonzero, unique per session (6.8.1)."""


class BfdSession:
    """One end of a single-hop BFD session (see the module docstring)."""

    def __init__(self, settings: BfdSettings, neighbor: str):
        self.settings, self.neighbor = settings, neighbor
        self.state = BfdState.DOWN
        self.diag = 0
        self.remote_discr = 0
        self.remote_state = BfdState.DOWN
        self.remote_min_rx = 1e-6   # 6.8.1: bfd.RemoteMinRxInterval starts at 1 (microsecond)
        self.remote_desired_tx = 0.0
        self.remote_mult = 0
        self.detection_time = 0.0
        """The current Detection Time (0 until a packet arrived)."""
        self.detect_at: float | None = None
        self.next_tx: float | None = None
        self.last_tx: float | None = None
        self.polling = False
        self.went_down = 0
        """Up -> Down transitions."""
        self.sent = self.received = 0
        self._out: list[bytes] = []
        self._events: list[BfdStateEvent] = []

    # --- driver side ---------------------------------------------------------------------
    def take_packets(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    def take_events(self) -> list[BfdStateEvent]:
        out, self._events = self._events, []
        return out

    def get_timer(self) -> float | None:
        ts = [t for t in (self.next_tx, self.detect_at) if t is not None]
        return min(ts) if ts else None

    # --- API ------------------------------------------------------------------------------
    def start(self, now: float) -> None:
        self.next_tx = now

    def desired_min_tx(self) -> float:
        """6.8.3: at least one second while the session is not Up."""
        i = self.settings.interval
        return i if self.state is BfdState.UP else max(SLOW, i)

    def tx_interval(self) -> float:
        """6.8.7: the greater of bfd.DesiredMinTxInterval and bfd.RemoteMinRxInterval."""
        return max(self.desired_min_tx(), self.remote_min_rx)

    def receive(self, data: bytes, now: float) -> None:
        try:
            c = decode(data)
        except BfdError:
            return
        if c.your_discr == 0 and self.state not in (BfdState.DOWN, BfdState.ADMIN_DOWN):
            return  # 6.8.6: Your Discriminator zero is only valid while Down
        if c.your_discr not in (0, self.settings.discriminator):
            return
        self.received += 1
        self.remote_discr, self.remote_state = c.my_discr, c.state
        self.remote_desired_tx, self.remote_min_rx = c.desired_min_tx, c.required_min_rx
        self.remote_mult = c.detect_mult
        if c.final:
            self.polling = False  # 6.5: the Poll Sequence ends
        # 6.8.4: remote Detect Mult x the greater of our Required Min RX and its Desired Min TX
        self.detection_time = round(c.detect_mult * max(self.settings.interval, c.desired_min_tx), 6)
        self.detect_at = now + self.detection_time
        new, diag = TABLE[(self.state, c.state)]
        if new is not self.state:
            self._change(new, diag if diag is not None else self.diag, now,
                         f"received State {c.state.label} from the neighbor")
        if c.poll:  # 6.8.7: answer a Poll at once with Final, outside the periodic schedule
            self._send(now, final=True)

    def handle_timer(self, now: float) -> None:
        eps = 1e-9
        if self.detect_at is not None and now >= self.detect_at - eps:
            self.detect_at = None
            if self.state in (BfdState.INIT, BfdState.UP):
                self.remote_discr = 0  # 6.8.1: reset when the Detection Time expires
                self._change(BfdState.DOWN, 1, now, f"no Control packet for the Detection Time "
                             f"({self.detection_time:g} s = {self.remote_mult} x "
                             f"{self.detection_time / max(self.remote_mult, 1):g} s)")
        if self.next_tx is not None and now >= self.next_tx - eps:
            self._send(now)
            self.next_tx = now + self.tx_interval()

    # --- internals ------------------------------------------------------------------------
    def _send(self, now: float, final: bool = False) -> None:
        s = self.settings
        c = Control(self.state, self.diag, s.multiplier, s.discriminator, self.remote_discr, self.desired_min_tx(),
                    s.interval, poll=self.polling and not final, final=final)
        self._out.append(encode(c))
        self.sent += 1
        if not final:
            self.last_tx = now

    def _change(self, new: BfdState, diag: int, now: float, reason: str) -> None:
        old = self.state
        self.state, self.diag = new, diag
        if old is BfdState.UP and new is BfdState.DOWN:
            self.went_down += 1
        # going Up lowers the Desired Min TX from the slow rate (6.8.3): a Poll Sequence tells the
        # neighbor; going Down raises it again, which needs no Poll while not Up
        self.polling = new is BfdState.UP
        if self.last_tx is not None and self.next_tx is not None:
            self.next_tx = max(now, min(self.next_tx, self.last_tx + self.tx_interval()))
        self._events.append(BfdStateEvent(
            neighbor=self.neighbor, from_=old.label, to=new.label, diag=diag,
            diag_name=DIAG_NAMES.get(diag, f"diagnostic {diag}"), reason=reason,
            detection_time=round(self.detection_time, 6) if new is BfdState.UP else ABSENT))


__all__ = ["PORT", "BfdError", "BfdSession", "BfdSettings", "BfdState", "Control", "Datagram", "decode", "encode"]
