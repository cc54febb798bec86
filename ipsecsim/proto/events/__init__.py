"""Events: what happened, when, at which peer. The vocabulary is documented in docs/events.md,
which is generated from the typed kinds here (``python -m ipsecsim.eventdocs``).

A core reports ``ep.emit(SomeEvent(...))``; the log keeps an ``Event`` record (``t``,
``peer``, ``event``, ``fields``) made from it.
"""

from __future__ import annotations

from .ike import *  # noqa: F403
from .ike import KINDS as _IKE
from .network import *  # noqa: F403
from .network import KINDS as _NETWORK
from .record import ABSENT, Event, EventKind, SaEvent

KINDS: dict[str, type[EventKind]] = {k.NAME: k for k in (*_IKE, *_NETWORK)}
"""Every event kind by its public name, in docs/events.md order."""

__all__ = ["ABSENT", "KINDS", "Event", "EventKind", "SaEvent", *(k.__name__ for k in KINDS.values())]
