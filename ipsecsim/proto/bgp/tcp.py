"""The TCP connection under a BGP session, modelled as far as session behaviour needs it.

* Connection setup (RFC 9293 3.5): SYN, SYN-ACK, ACK; a listener answers a SYN with a SYN-ACK
  and a segment for no connection with a reset (RST).
* Reliable delivery: each BGP message is one segment; sequence numbers count octets; the
  receiver accepts the next in-order segment only and acknowledges at once (no delayed ACK,
  no window); the sender retransmits every unacknowledged segment when its retransmission
  timer expires (go-back-N).
* Retransmission timer (RFC 6298): RTO starts at 1 s (2.1), is computed from RTT samples of
  segments not retransmitted (2.2-2.3, Karn's rule 3), never below 1 s (2.4), doubles on
  every expiry (5.5) up to ``rto_max`` (Linux TCP_RTO_MAX 120 s; RFC 6298 2.5 allows any
  maximum of at least 60 s). The connection is given up after ``syn_retries`` retransmitted
  SYNs (Linux tcp_syn_retries 6) or ``retries`` retransmissions of data (Linux
  tcp_retries2 15).
* ``abort``: the connection ends here; with ``rst`` the peer is told (a BGP speaker closing
  its connection), without it not (the tunnel interface went away: nothing can be sent).

Sans-IO: ``take_segments()`` and ``take_events()`` read what happened; ``get_timer()`` the
next deadline; every entry point takes ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

RTO_INITIAL = 1.0   # RFC 6298 2.1
RTO_MIN = 1.0       # RFC 6298 2.4
HEADER = 40         # IPv4 + TCP header octets, no options
MD5_OPTION = 20     # NOP, NOP, TCP MD5 signature option (RFC 2385 3.0)


@dataclass(frozen=True, slots=True)
class Segment:
    """One TCP segment between the tunnel's inner addresses (port 179 at the listener)."""

    src: str
    dst: str
    sport: int
    dport: int
    seq: int
    ack: int
    flags: str
    """``SYN``, ``SYN-ACK``, ``ACK`` (with or without data) or ``RST``."""
    data: bytes = b""
    retransmit: int = 0
    auth: bytes | None = None
    """TCP MD5 signature option (RFC 2385), reduced to a digest of the key: a receiver whose key
    differs (or who has none, or expects one) discards the segment silently."""

    @property
    def size(self) -> int:
        """Octets of the IPv4 packet; with ``auth`` the MD5 signature option (RFC 2385: kind 19,
        length 18) and the two NOPs that align it, as Linux writes it, add 20."""
        return HEADER + (MD5_OPTION if self.auth is not None else 0) + len(self.data)


class TcpState(StrEnum):
    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN-SENT"
    SYN_RECEIVED = "SYN-RECEIVED"
    ESTABLISHED = "ESTABLISHED"


@dataclass(slots=True)
class _Out:
    seg: Segment
    sent: float
    tries: int = 0


class TcpConnection:
    """One end of the connection (see the module docstring)."""

    def __init__(self, local: str, remote: str, local_port: int, remote_port: int, iss: int,
                 rto_max: float = 120.0, syn_retries: int = 6, retries: int = 15, auth: bytes | None = None):
        self.local, self.remote = local, remote
        self.lport, self.rport = local_port, remote_port
        self.iss = iss
        self.rto_max, self.syn_retries, self.retries = rto_max, syn_retries, retries
        self.auth = auth
        self.auth_failures = 0
        self.state = TcpState.CLOSED
        self.snd_nxt = iss
        self.rcv_nxt = 0
        self.unacked: list[_Out] = []
        self.rto = RTO_INITIAL
        self.srtt: float | None = None
        self.rttvar = 0.0
        self.deadline: float | None = None
        self.backoffs = 0
        self.retransmissions = 0
        self._segs: list[Segment] = []
        self._events: list[tuple[str, object]] = []

    # --- driver side ---------------------------------------------------------------------
    def take_segments(self) -> list[Segment]:
        out, self._segs = self._segs, []
        return out

    def take_events(self) -> list[tuple[str, object]]:
        """``("connected", None)``, ``("data", bytes)``, ``("failed", reason)``."""
        out, self._events = self._events, []
        return out

    def get_timer(self) -> float | None:
        return self.deadline if self.unacked else None

    # --- API ------------------------------------------------------------------------------
    def connect(self, now: float) -> None:
        self._reset_counters()
        self.state = TcpState.SYN_SENT
        self._send("SYN", b"", now, consume=1)

    def listen(self) -> None:
        self._reset_counters()
        self.state = TcpState.LISTEN

    def send(self, data: bytes, now: float) -> None:
        assert self.state is TcpState.ESTABLISHED, f"send in {self.state.value}"
        self._send("ACK", data, now, consume=len(data))

    def abort(self, now: float, rst: bool) -> None:
        if rst and self.state in (TcpState.ESTABLISHED, TcpState.SYN_RECEIVED, TcpState.SYN_SENT):
            self._segs.append(Segment(self.local, self.remote, self.lport, self.rport, self.snd_nxt, self.rcv_nxt,
                                      "RST", auth=self.auth))
        self.state = TcpState.CLOSED
        self.unacked.clear()
        self.deadline = None

    def receive(self, seg: Segment, now: float) -> None:
        if seg.auth != self.auth:  # RFC 2385 2.0: a segment that fails the MD5 check is dropped, unanswered
            self.auth_failures += 1
            return
        st = self.state
        if seg.flags == "RST":
            if st in (TcpState.SYN_SENT, TcpState.SYN_RECEIVED, TcpState.ESTABLISHED):
                self._fail("connection reset by the peer")
            return
        if st is TcpState.LISTEN:
            if seg.flags == "SYN":
                self.rport, self.remote = seg.sport, seg.src
                self.rcv_nxt = seg.seq + 1
                self.state = TcpState.SYN_RECEIVED
                self._send("SYN-ACK", b"", now, consume=1)
            else:
                self._rst_for(seg)
            return
        if st is TcpState.CLOSED:
            self._rst_for(seg)
            return
        if st is TcpState.SYN_SENT:
            if seg.flags == "SYN-ACK" and seg.ack == self.snd_nxt:
                self.rcv_nxt = seg.seq + 1
                self._acked(seg.ack, now)
                self.state = TcpState.ESTABLISHED
                self._segs.append(Segment(self.local, self.remote, self.lport, self.rport, self.snd_nxt,
                                          self.rcv_nxt, "ACK", auth=self.auth))
                self._events.append(("connected", None))
            return
        if st is TcpState.SYN_RECEIVED:
            if seg.flags == "SYN":  # our SYN-ACK was lost: the retransmission timer resends it
                return
            if seg.ack == self.snd_nxt:
                self._acked(seg.ack, now)
                self.state = TcpState.ESTABLISHED
                self._events.append(("connected", None))
            else:
                return
        # ESTABLISHED (or just became so with data on the ACK)
        if seg.flags == "SYN-ACK":  # our ACK of the SYN-ACK was lost: acknowledge again
            self._ack()
            return
        if seg.flags == "SYN":
            return
        self._acked(seg.ack, now)
        if seg.data:
            if seg.seq == self.rcv_nxt:
                self.rcv_nxt += len(seg.data)
                self._ack()
                self._events.append(("data", seg.data))
            else:
                self._ack()  # duplicate or out of order: acknowledge what we have

    def handle_timer(self, now: float) -> None:
        if not self.unacked or self.deadline is None or now < self.deadline - 1e-9:
            return
        limit = self.syn_retries if self.unacked[0].seg.flags in ("SYN", "SYN-ACK") else self.retries
        if self.unacked[0].tries >= limit:
            self._fail("retransmission gave up" if self.state is TcpState.ESTABLISHED else
                       "connection attempt timed out")
            return
        self.rto = min(self.rto * 2, self.rto_max)  # RFC 6298 5.5
        self.backoffs += 1
        for out in self.unacked:
            out.tries += 1
            out.sent = now
            self.retransmissions += 1
            s = out.seg
            self._segs.append(Segment(s.src, s.dst, s.sport, s.dport, s.seq, self.rcv_nxt, s.flags, s.data, out.tries,
                                      self.auth))
        self.deadline = now + self.rto

    # --- internals ------------------------------------------------------------------------
    def _reset_counters(self) -> None:
        """A new connection: nothing in flight, RTO back to its initial 1 s (RFC 6298 2.1)."""
        self.unacked.clear()
        self.deadline = None
        self.rto, self.srtt, self.rttvar, self.backoffs = RTO_INITIAL, None, 0.0, 0
        self.snd_nxt = self.iss = self.iss + 100000

    def _send(self, flags: str, data: bytes, now: float, consume: int) -> None:
        seg = Segment(self.local, self.remote, self.lport, self.rport, self.snd_nxt, self.rcv_nxt, flags, data,
                      auth=self.auth)
        self.snd_nxt += consume
        self.unacked.append(_Out(seg, now))
        self._segs.append(seg)
        if self.deadline is None:
            self.deadline = now + self.rto

    def _ack(self) -> None:
        self._segs.append(Segment(self.local, self.remote, self.lport, self.rport, self.snd_nxt, self.rcv_nxt, "ACK",
                                  auth=self.auth))

    def _rst_for(self, seg: Segment) -> None:
        if seg.flags != "RST":
            self._segs.append(Segment(seg.dst, seg.src, seg.dport, seg.sport, seg.ack, seg.seq + max(1, len(seg.data)),
                                      "RST", auth=self.auth))

    def _acked(self, ack: int, now: float) -> None:
        done = [o for o in self.unacked if o.seg.seq < ack]
        if not done:
            return
        first = done[0]
        if first.tries == 0:  # Karn: no sample from a retransmitted segment
            self._sample(now - first.sent)
        self.unacked = [o for o in self.unacked if o.seg.seq >= ack]
        self.backoffs = 0
        self.deadline = now + self.rto if self.unacked else None

    def _sample(self, r: float) -> None:
        if self.srtt is None:  # RFC 6298 2.2
            self.srtt, self.rttvar = r, r / 2
        else:                   # 2.3, alpha 1/8, beta 1/4
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - r)
            self.srtt = 0.875 * self.srtt + 0.125 * r
        self.rto = min(max(RTO_MIN, self.srtt + max(0.001, 4 * self.rttvar)), self.rto_max)

    def _fail(self, reason: str) -> None:
        self.state = TcpState.CLOSED
        self.unacked.clear()
        self.deadline = None
        self._events.append(("failed", reason))
