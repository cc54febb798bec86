"""One BGP session over its TCP connection: the state machine (fsm.py) driven by timers,
segments and the tunnel interface, sans-IO.

Timers (RFC 4271 8 and 10): ConnectRetryTimer (``connect_retry``, RFC 4271 10 suggests
120 s); HoldTimer: 4 minutes from the TCP connection until the OPEN (8.2.2), then the
negotiated hold time, the smaller of the two OPENs' (4.2; 0 turns Hold and Keepalive off),
restarted by every KEEPALIVE or UPDATE received; KeepaliveTimer: the configured keepalive,
at most a third of the negotiated hold time (4.4, 10), restarted by every KEEPALIVE or UPDATE
sent (8.2.2), so a speaker that just sent an UPDATE sends its next KEEPALIVE a full keepalive
interval later. No jitter: the timers fire exactly
(RFC 4271 10 suggests 75-100 %), so the arithmetic of a scenario is exact.

After the session falls to Idle for any reason but a stop, it starts again by itself
(``AutomaticStart``, 8.1.1) ``idle_hold`` later, and only while the tunnel interface is up.
``interface(False)``: the tunnel interface went away (the IPsec SA was deleted and the
vendor takes the interface down with it): the TCP connection ends at once without a word to
the peer (nothing can be sent), which the session sees as TcpConnectionFails.

OPEN checks (RFC 4271 6.2): a version other than 4 (2/1), an AS other than the configured
peer AS (2/2 Bad Peer AS), a hold time of 1 or 2 s (2/6): the session sends the NOTIFICATION
and falls to Idle.

Read back through ``take_segments()``, ``take_events()`` (``(name, fields)`` pairs: the
``bgp_*`` events of docs/events.md), ``get_timer()``, ``routes`` (the Adj-RIB-In: prefix ->
UPDATE attributes) and ``routes_changed`` (set when it changed; the driver clears it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ..events import ABSENT, BgpNotification, BgpOpen, BgpState, BgpUpdate, EventKind
from .fsm import Event, FsmError, State, transition
from .message import Keepalive, Message, MessageError, Notification, Open, Update, decode, encode
from .tcp import Segment, TcpConnection, TcpState

BGP_PORT = 179
HOLD_LARGE = 240.0  # RFC 4271 8.2.2: "a large value ... 4 minutes"


@dataclass(frozen=True, slots=True)
class SessionSettings:
    name: str
    """The local peer (one tunnel end)."""
    local_ip: str
    peer_ip: str
    local_asn: int
    peer_asn: int
    router_id: str
    hold_time: int = 180
    keepalive: float = 60.0
    connect_retry: float = 120.0
    passive: bool = False
    advertise: tuple[str, ...] = ()
    as_path_prepend: int = 0
    med: int | None = None
    idle_hold: float = 0.0
    auth_key: str | None = None
    rto_max: float = 120.0
    syn_retries: int = 6
    retries: int = 15
    local_port: int = 49152


@dataclass(slots=True)
class Counters:
    sent: dict[str, int] = field(default_factory=lambda: {"OPEN": 0, "UPDATE": 0, "NOTIFICATION": 0, "KEEPALIVE": 0})
    received: dict[str, int] = field(default_factory=lambda: {"OPEN": 0, "UPDATE": 0, "NOTIFICATION": 0,
                                                              "KEEPALIVE": 0})
    established: int = 0
    dropped: int = 0


class BgpSession:
    def __init__(self, settings: SessionSettings, iss: int = 0):
        s = self.settings = settings
        self.state = State.IDLE
        auth = hashlib.sha256(s.auth_key.encode()).digest()[:8] if s.auth_key else None
        lport, rport = (BGP_PORT, 0) if s.passive else (s.local_port, BGP_PORT)
        self.tcp = TcpConnection(s.local_ip, s.peer_ip, lport, rport, iss, s.rto_max, s.syn_retries, s.retries, auth)
        self.connect_retry_at: float | None = None
        self.hold_at: float | None = None
        self.keepalive_at: float | None = None
        self.restart_at: float | None = None
        self.hold = 0.0
        """Negotiated hold time (0 until an OPEN is received)."""
        self.keepalive = 0.0
        self.interface_up = True
        self.routes: dict[str, Update] = {}
        self.routes_changed = False
        self.announced: tuple[str, ...] = s.advertise
        self.counters = Counters()
        self.established_at: float | None = None
        self.peer_open: Open | None = None
        self._events: list[EventKind] = []
        self._pending_update: Update | None = None
        self._open_error = 2
        self._reason = ""
        self._quiet = False
        self._started = False

    # --- driver side ---------------------------------------------------------------------
    def take_segments(self) -> list[Segment]:
        return self.tcp.take_segments()

    def take_events(self) -> list[EventKind]:
        out, self._events = self._events, []
        return out

    def get_timer(self) -> float | None:
        ts = [t for t in (self.connect_retry_at, self.hold_at, self.keepalive_at, self.restart_at,
                          self.tcp.get_timer()) if t is not None]
        return min(ts) if ts else None

    # --- API ------------------------------------------------------------------------------
    def start(self, now: float) -> None:
        """ManualStart (or the passive variant): the session is configured and enabled."""
        self._started = True
        if self.interface_up:
            self._start(now)

    def stop(self, now: float, reason: str = "stopped") -> None:
        self._started = False
        self.restart_at = None
        self._fire(Event.MANUAL_STOP, now, reason)

    def interface(self, up: bool, now: float, reason: str = "") -> None:
        """The tunnel interface came up or went away (see the module docstring)."""
        if up == self.interface_up:
            return
        self.interface_up = up
        if up:
            if self._started and self.state is State.IDLE:
                self.restart_at = now
            return
        self.restart_at = None
        if self.state is not State.IDLE:
            self.tcp.abort(now, rst=False)
            self._quiet = True
            self._fire(Event.TCP_FAILS, now, f"tunnel interface down ({reason})" if reason else "tunnel interface down")
            self._quiet = False

    def bfd_down(self, now: float, reason: str) -> None:
        """The session's BFD session went from Up to Down (RFC 5882 3.2, Cisco ``fall-over bfd``):
        the path is gone, so the session is torn down at once without a word to the peer, as
        TcpConnectionFails; it starts again by itself ``idle_hold`` later."""
        if self.state is State.IDLE:
            return
        self.tcp.abort(now, rst=False)
        self._quiet = True
        self._fire(Event.TCP_FAILS, now, f"BFD session down ({reason})")
        self._quiet = False

    def announce(self, prefixes: tuple[str, ...], now: float) -> None:
        """Advertise ``prefixes`` from now on instead of the current ones: an UPDATE with the
        difference when Established (withdrawn routes and new NLRI)."""
        gone = tuple(p for p in self.announced if p not in prefixes)
        new = tuple(p for p in prefixes if p not in self.announced)
        self.announced = prefixes
        if self.state is State.ESTABLISHED and (gone or new):
            self._send_update(gone, new, now)

    def receive(self, seg: Segment, now: float) -> None:
        self.tcp.receive(seg, now)
        self._tcp_events(now)

    def handle_timer(self, now: float) -> None:
        eps = 1e-9
        self.tcp.handle_timer(now)
        self._tcp_events(now)
        if self.restart_at is not None and now >= self.restart_at - eps:
            self.restart_at = None
            if self.state is State.IDLE and self._started and self.interface_up:
                self._start(now)
        if self.connect_retry_at is not None and now >= self.connect_retry_at - eps:
            self.connect_retry_at = None
            self._fire(Event.CONNECT_RETRY_EXPIRES, now, f"ConnectRetryTimer ({self.settings.connect_retry:g} s)")
        if self.hold_at is not None and now >= self.hold_at - eps:
            self.hold_at = None
            held = self.hold if self.state in (State.OPEN_CONFIRM, State.ESTABLISHED) else HOLD_LARGE
            self._fire(Event.HOLD_EXPIRES, now, f"nothing received for the hold time ({held:g} s)")
        if self.keepalive_at is not None and now >= self.keepalive_at - eps:
            self.keepalive_at = None
            self._fire(Event.KEEPALIVE_EXPIRES, now, "")

    # --- the machine ----------------------------------------------------------------------
    def _start(self, now: float) -> None:
        self._fire(Event.PASSIVE_START if self.settings.passive else Event.MANUAL_START, now, "start")

    def _fire(self, event: Event, now: float, reason: str) -> None:
        old = self.state
        actions, new = transition(old, event, f"BGP session {self.settings.name}")
        self._reason = reason
        for a in actions:
            getattr(self, "_a_" + a)(now)
        self.state = new
        if new is not old:
            fell = new is State.IDLE and old is State.ESTABLISHED
            self._events.append(BgpState(neighbor=self.settings.peer_ip, from_=old.value, to=new.value,
                                         trigger=event.value, reason=reason,
                                         up_for=round(now - (self.established_at or now), 6) if fell else ABSENT))
            if new is State.ESTABLISHED:
                self.counters.established += 1
                self.established_at = now
            if new is State.IDLE and self._started:
                if old is State.ESTABLISHED:
                    self.counters.dropped += 1
                if self.interface_up:
                    self.restart_at = now + self.settings.idle_hold
        if new is State.ESTABLISHED and old is State.OPEN_CONFIRM:
            self._send_initial(now)

    def _tcp_events(self, now: float) -> None:
        for kind, value in self.tcp.take_events():
            if kind == "connected":
                self._fire(Event.TCP_CONFIRMED if self.settings.passive else Event.TCP_CR_ACKED, now,
                           "TCP connection established")
            elif kind == "failed":
                self._fire(Event.TCP_FAILS, now, str(value))
            else:
                assert isinstance(value, bytes)
                self._message(value, now)

    def _message(self, data: bytes, now: float) -> None:
        try:
            msg = decode(data)
        except MessageError as e:
            self._fire(Event.HEADER_ERR, now, str(e))
            return
        kind = type(msg).__name__.upper()
        self.counters.received[kind] += 1
        if isinstance(msg, Open):
            self.peer_open = msg
            self._events.append(BgpOpen(neighbor=self.settings.peer_ip, direction="received", asn=msg.asn,
                                        hold_time=msg.hold_time, router_id=msg.router_id))
            problem = self._check_open(msg)
            if problem is not None:
                self._open_error, why = problem
                self._fire(Event.OPEN_ERR, now, why)
            else:
                self._fire(Event.BGP_OPEN, now, "OPEN received")
        elif isinstance(msg, Keepalive):
            self._fire(Event.KEEPALIVE_MSG, now, "KEEPALIVE received")
        elif isinstance(msg, Update):
            self._pending_update = msg
            self._fire(Event.UPDATE_MSG, now, "UPDATE received")
        else:
            assert isinstance(msg, Notification)
            self._events.append(BgpNotification(neighbor=self.settings.peer_ip, direction="received",
                                                code=msg.code, subcode=msg.subcode, name=msg.name))
            self._fire(Event.NOTIF_MSG, now, f"NOTIFICATION {msg.code}/{msg.subcode} received ({msg.name})")

    def _check_open(self, msg: Open) -> tuple[int, str] | None:
        if msg.version != 4:
            return 1, f"unsupported BGP version {msg.version}"
        if msg.asn != self.settings.peer_asn:
            return 2, f"Bad Peer AS: the OPEN says AS {msg.asn}, the configured peer AS is {self.settings.peer_asn}"
        if msg.hold_time in (1, 2):
            return 6, f"unacceptable hold time {msg.hold_time} s"
        return None

    # --- actions (fsm.py names them) ------------------------------------------------------
    def _send(self, msg: Message, now: float) -> bool:
        if self.tcp.state is not TcpState.ESTABLISHED:
            return False
        self.tcp.send(encode(msg), now)
        self.counters.sent[type(msg).__name__.upper()] += 1
        return True

    def _a_start_connect_retry(self, now: float) -> None:
        self.connect_retry_at = now + self.settings.connect_retry

    def _a_stop_connect_retry(self, now: float) -> None:
        self.connect_retry_at = None

    def _a_connect(self, now: float) -> None:
        self.tcp.connect(now)

    def _a_listen(self, now: float) -> None:
        if self.settings.passive:
            self.tcp.listen()
        else:
            self.tcp.abort(now, rst=False)

    def _a_drop_tcp(self, now: float) -> None:
        self.tcp.abort(now, rst=not self._quiet)
        self.hold_at = self.keepalive_at = None

    def _a_hold_large(self, now: float) -> None:
        self.hold_at = now + HOLD_LARGE

    def _a_send_open(self, now: float) -> None:
        s = self.settings
        self._send(Open(s.local_asn, s.hold_time, s.router_id), now)
        self._events.append(BgpOpen(neighbor=s.peer_ip, direction="sent", asn=s.local_asn, hold_time=s.hold_time,
                                    router_id=s.router_id))

    def _a_negotiate_hold(self, now: float) -> None:
        assert self.peer_open is not None
        self.hold = float(min(self.settings.hold_time, self.peer_open.hold_time))
        self.keepalive = min(self.settings.keepalive, self.hold / 3) if self.hold > 0 else 0.0
        self.hold_at = now + self.hold if self.hold > 0 else None

    def _a_restart_hold(self, now: float) -> None:
        self.hold_at = now + self.hold if self.hold > 0 else None

    def _a_send_keepalive(self, now: float) -> None:
        self._send(Keepalive(), now)

    def _a_restart_keepalive(self, now: float) -> None:
        self.keepalive_at = now + self.keepalive if self.keepalive > 0 else None

    def _a_send_routes(self, now: float) -> None:
        pass  # sent after the state change (``_send_initial``), so the UPDATE follows the event

    def _send_initial(self, now: float) -> None:
        if self.announced:
            self._send_update((), self.announced, now)

    def _send_update(self, withdrawn: tuple[str, ...], nlri: tuple[str, ...], now: float) -> None:
        s = self.settings
        upd = Update(withdrawn, nlri, (s.local_asn,) * (1 + s.as_path_prepend) if nlri else (),
                     s.local_ip if nlri else None, s.med if nlri else None)
        if self._send(upd, now) and self.state is State.ESTABLISHED:
            # RFC 4271 8.2.2 (Established): "Each time the local system sends a KEEPALIVE or
            # UPDATE message, it restarts its KeepaliveTimer, unless the negotiated HoldTime
            # value is zero" (a zero keepalive leaves the timer off)
            self._a_restart_keepalive(now)
        self._events.append(BgpUpdate(neighbor=s.peer_ip, direction="sent", advertised=list(nlri),
                                      withdrawn=list(withdrawn), as_path=list(upd.as_path), med=upd.med))

    def _a_process_update(self, now: float) -> None:
        upd = self._pending_update
        assert upd is not None
        self._pending_update = None
        for p in upd.withdrawn:
            if self.routes.pop(p, None) is not None:
                self.routes_changed = True
        for p in upd.nlri:
            self.routes[p] = upd
            self.routes_changed = True
        self._events.append(BgpUpdate(neighbor=self.settings.peer_ip, direction="received",
                                      advertised=list(upd.nlri), withdrawn=list(upd.withdrawn),
                                      as_path=list(upd.as_path), med=upd.med))

    def _notify(self, code: int, subcode: int, now: float) -> None:
        n = Notification(code, subcode)
        self._send(n, now)
        self._events.append(BgpNotification(neighbor=self.settings.peer_ip, direction="sent", code=code,
                                            subcode=subcode, name=n.name))

    def _a_notify_hold_expired(self, now: float) -> None:
        self._notify(4, 0, now)

    def _a_notify_open_error(self, now: float) -> None:
        self._notify(2, self._open_error, now)

    def _a_notify_header_error(self, now: float) -> None:
        self._notify(1, 0, now)

    def _a_notify_cease(self, now: float) -> None:
        self._notify(6, 2, now)

    def _a_notify_fsm_error(self, now: float) -> None:
        self._notify(5, 0, now)

    def _a_release(self, now: float) -> None:
        if self.routes:
            self.routes.clear()
            self.routes_changed = True
        self.hold = self.keepalive = 0.0
        self.hold_at = self.keepalive_at = None
        self.peer_open = None


__all__ = ["BgpSession", "Counters", "FsmError", "SessionSettings"]
