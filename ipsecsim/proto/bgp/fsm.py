"""The BGP-4 session state machine of RFC 4271 section 8 as one table.

``transition(state, event)`` returns ``(actions, next state)``; a pair the table does not list
raises ``FsmError`` naming the machine, the state and the event (h11's rule: nothing is
silently ignored). Event names are RFC 4271 8.1's; the actions are names the session
(session.py) carries out in order:

* timers: ``start_connect_retry`` / ``stop_connect_retry``, ``hold_large`` (the 4-minute
  HoldTimer of OpenSent, 8.2.2), ``negotiate_hold`` (OPEN received: hold time = the smaller of
  the two, 4.2; start Hold and Keepalive timers), ``restart_hold``, ``restart_keepalive``;
* transport: ``connect`` (initiate the TCP connection), ``listen``, ``drop_tcp`` (close the
  connection, a reset to the peer when it still exists);
* messages: ``send_open``, ``send_keepalive``, ``send_routes`` (the initial UPDATE of an
  Established session), ``process_update``, ``notify_hold_expired`` (4/0),
  ``notify_open_error`` (2/x, the subcode chosen by the OPEN check), ``notify_cease`` (6/2),
  ``notify_fsm_error`` (5/0);
* ``release``: the session's routes are gone (Adj-RIB-In flushed, 8.2.2 "releases all BGP
  resources").

Simplifications (documented in docs/bgp.md): no DelayOpen, no collision detection (only one
side of a session connects, sim/bgp.py), no damping (DampPeerOscillations); "any other
event" of RFC 8.2.2 is listed explicitly for the events that can reach each state.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    IDLE = "Idle"
    CONNECT = "Connect"
    ACTIVE = "Active"
    OPEN_SENT = "OpenSent"
    OPEN_CONFIRM = "OpenConfirm"
    ESTABLISHED = "Established"


class Event(StrEnum):
    MANUAL_START = "ManualStart"                                    # 1
    MANUAL_STOP = "ManualStop"                                      # 2
    PASSIVE_START = "ManualStart_with_PassiveTcpEstablishment"       # 4
    CONNECT_RETRY_EXPIRES = "ConnectRetryTimer_Expires"             # 9
    HOLD_EXPIRES = "HoldTimer_Expires"                              # 10
    KEEPALIVE_EXPIRES = "KeepaliveTimer_Expires"                    # 11
    TCP_CR_ACKED = "Tcp_CR_Acked"                                   # 16
    TCP_CONFIRMED = "TcpConnectionConfirmed"                        # 17
    TCP_FAILS = "TcpConnectionFails"                                # 18
    BGP_OPEN = "BGPOpen"                                            # 19
    HEADER_ERR = "BGPHeaderErr"                                     # 21
    OPEN_ERR = "BGPOpenMsgErr"                                      # 22
    NOTIF_MSG = "NotifMsg"                                          # 25
    KEEPALIVE_MSG = "KeepAliveMsg"                                  # 26
    UPDATE_MSG = "UpdateMsg"                                        # 27


class FsmError(Exception):
    """An event the machine has no transition for in its state."""

    def __init__(self, machine: str, state: State, event: Event):
        super().__init__(f"{machine}: no transition for event {event.value} in state {state.value}")
        self.machine, self.state, self.event = machine, state, event


S, E = State, Event
Actions = tuple[str, ...]
_DOWN: Actions = ("drop_tcp", "release")
_FSM_ERR: Actions = ("notify_fsm_error", "stop_connect_retry", "drop_tcp", "release")

TABLE: dict[tuple[State, Event], tuple[Actions, State]] = {
    # Idle (8.2.2): starts; everything else leaves it in Idle
    (S.IDLE, E.MANUAL_START): (("start_connect_retry", "connect"), S.CONNECT),
    (S.IDLE, E.PASSIVE_START): (("listen",), S.ACTIVE),
    (S.IDLE, E.MANUAL_STOP): ((), S.IDLE),
    (S.IDLE, E.TCP_FAILS): ((), S.IDLE),
    **{(S.IDLE, e): (("drop_tcp",), S.IDLE) for e in (E.TCP_CR_ACKED, E.TCP_CONFIRMED, E.BGP_OPEN, E.HEADER_ERR,
                                                      E.OPEN_ERR, E.NOTIF_MSG, E.KEEPALIVE_MSG, E.UPDATE_MSG)},
    # Connect
    (S.CONNECT, E.MANUAL_STOP): (("stop_connect_retry", *_DOWN), S.IDLE),
    (S.CONNECT, E.CONNECT_RETRY_EXPIRES): (("drop_tcp", "start_connect_retry", "connect"), S.CONNECT),
    (S.CONNECT, E.TCP_CR_ACKED): (("stop_connect_retry", "send_open", "hold_large"), S.OPEN_SENT),
    (S.CONNECT, E.TCP_CONFIRMED): (("stop_connect_retry", "send_open", "hold_large"), S.OPEN_SENT),
    (S.CONNECT, E.TCP_FAILS): (("start_connect_retry", "listen"), S.ACTIVE),
    **{(S.CONNECT, e): (("stop_connect_retry", *_DOWN), S.IDLE)
       for e in (E.BGP_OPEN, E.HEADER_ERR, E.OPEN_ERR, E.NOTIF_MSG, E.KEEPALIVE_MSG, E.UPDATE_MSG)},
    # Active
    (S.ACTIVE, E.MANUAL_STOP): (("stop_connect_retry", *_DOWN), S.IDLE),
    (S.ACTIVE, E.CONNECT_RETRY_EXPIRES): (("start_connect_retry", "connect"), S.CONNECT),
    (S.ACTIVE, E.TCP_CR_ACKED): (("stop_connect_retry", "send_open", "hold_large"), S.OPEN_SENT),
    (S.ACTIVE, E.TCP_CONFIRMED): (("stop_connect_retry", "send_open", "hold_large"), S.OPEN_SENT),
    (S.ACTIVE, E.TCP_FAILS): (("start_connect_retry", *_DOWN), S.IDLE),
    **{(S.ACTIVE, e): (("stop_connect_retry", *_DOWN), S.IDLE)
       for e in (E.BGP_OPEN, E.HEADER_ERR, E.OPEN_ERR, E.NOTIF_MSG, E.KEEPALIVE_MSG, E.UPDATE_MSG)},
    # OpenSent
    (S.OPEN_SENT, E.MANUAL_STOP): (("notify_cease", "stop_connect_retry", *_DOWN), S.IDLE),
    (S.OPEN_SENT, E.HOLD_EXPIRES): (("notify_hold_expired", "stop_connect_retry", *_DOWN), S.IDLE),
    (S.OPEN_SENT, E.TCP_FAILS): (("drop_tcp", "start_connect_retry", "listen"), S.ACTIVE),
    (S.OPEN_SENT, E.BGP_OPEN): (("stop_connect_retry", "negotiate_hold", "send_keepalive", "restart_keepalive"),
                                S.OPEN_CONFIRM),
    (S.OPEN_SENT, E.HEADER_ERR): (("notify_header_error", "stop_connect_retry", *_DOWN), S.IDLE),
    (S.OPEN_SENT, E.OPEN_ERR): (("notify_open_error", "stop_connect_retry", *_DOWN), S.IDLE),
    (S.OPEN_SENT, E.NOTIF_MSG): (("stop_connect_retry", *_DOWN), S.IDLE),
    **{(S.OPEN_SENT, e): (_FSM_ERR, S.IDLE)
       for e in (E.CONNECT_RETRY_EXPIRES, E.KEEPALIVE_EXPIRES, E.TCP_CR_ACKED, E.TCP_CONFIRMED, E.KEEPALIVE_MSG,
                 E.UPDATE_MSG)},
    # OpenConfirm
    (S.OPEN_CONFIRM, E.MANUAL_STOP): (("notify_cease", "stop_connect_retry", *_DOWN), S.IDLE),
    (S.OPEN_CONFIRM, E.HOLD_EXPIRES): (("notify_hold_expired", "stop_connect_retry", *_DOWN), S.IDLE),
    (S.OPEN_CONFIRM, E.KEEPALIVE_EXPIRES): (("send_keepalive", "restart_keepalive"), S.OPEN_CONFIRM),
    (S.OPEN_CONFIRM, E.TCP_FAILS): (("stop_connect_retry", *_DOWN), S.IDLE),
    (S.OPEN_CONFIRM, E.NOTIF_MSG): (("stop_connect_retry", *_DOWN), S.IDLE),
    (S.OPEN_CONFIRM, E.HEADER_ERR): (("notify_header_error", "stop_connect_retry", *_DOWN), S.IDLE),
    (S.OPEN_CONFIRM, E.OPEN_ERR): (("notify_open_error", "stop_connect_retry", *_DOWN), S.IDLE),
    (S.OPEN_CONFIRM, E.KEEPALIVE_MSG): (("restart_hold", "send_routes"), S.ESTABLISHED),
    **{(S.OPEN_CONFIRM, e): (_FSM_ERR, S.IDLE)
       for e in (E.CONNECT_RETRY_EXPIRES, E.TCP_CR_ACKED, E.TCP_CONFIRMED, E.BGP_OPEN, E.UPDATE_MSG)},
    # Established
    (S.ESTABLISHED, E.MANUAL_STOP): (("notify_cease", "stop_connect_retry", *_DOWN), S.IDLE),
    (S.ESTABLISHED, E.HOLD_EXPIRES): (("notify_hold_expired", "stop_connect_retry", *_DOWN), S.IDLE),
    (S.ESTABLISHED, E.KEEPALIVE_EXPIRES): (("send_keepalive", "restart_keepalive"), S.ESTABLISHED),
    (S.ESTABLISHED, E.KEEPALIVE_MSG): (("restart_hold",), S.ESTABLISHED),
    (S.ESTABLISHED, E.UPDATE_MSG): (("process_update", "restart_hold"), S.ESTABLISHED),
    (S.ESTABLISHED, E.TCP_FAILS): (("stop_connect_retry", *_DOWN), S.IDLE),
    (S.ESTABLISHED, E.NOTIF_MSG): (("stop_connect_retry", *_DOWN), S.IDLE),
    (S.ESTABLISHED, E.HEADER_ERR): (("notify_header_error", "stop_connect_retry", *_DOWN), S.IDLE),
    **{(S.ESTABLISHED, e): (_FSM_ERR, S.IDLE)
       for e in (E.CONNECT_RETRY_EXPIRES, E.TCP_CR_ACKED, E.TCP_CONFIRMED, E.BGP_OPEN, E.OPEN_ERR)},
    # a start event in any state but Idle is ignored (8.2.2, each state)
    **{(st, e): ((), st) for st in (S.CONNECT, S.ACTIVE, S.OPEN_SENT, S.OPEN_CONFIRM, S.ESTABLISHED)
       for e in (E.MANUAL_START, E.PASSIVE_START)},
}
"""Timer events of timers that do not run in a state (Hold and Keepalive before OpenSent,
any timer in Idle) are missing on purpose: the session never feeds them, and if it did that
would be a bug to report, not an event to ignore."""


def transition(state: State, event: Event, machine: str = "BGP") -> tuple[Actions, State]:
    try:
        return TABLE[(state, event)]
    except KeyError:
        raise FsmError(machine, state, event) from None
