"""BGP-4 (RFC 4271) over a modelled TCP connection inside the tunnel: the session state machine
(``fsm``), the messages as octets (``message``), the TCP connection (``tcp``), one session
with its timers (``session``) and best-path selection (``rib``). Sans-IO: every entry point
takes ``now``; a driver (sim/bgp.py) moves the segments and re-arms one timer per session."""

from .fsm import Event, FsmError, State, transition
from .message import Keepalive, Notification, Open, Update, decode, encode
from .rib import Path, best_paths
from .session import BgpSession, SessionSettings
from .tcp import Segment, TcpConnection

__all__ = ["BgpSession", "Event", "FsmError", "Keepalive", "Notification", "Open", "Path", "Segment",
           "SessionSettings", "State", "TcpConnection", "Update", "best_paths", "decode", "encode", "transition"]
