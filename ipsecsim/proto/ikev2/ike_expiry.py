"""The soft and hard limits of the IKEv2 IKE SAs: the soft limit rekeys the IKE SA
(``create_child.IkeRekey``, retried after a delay when it fails), the hard limit deletes it.

Each side draws the limits from its own configuration when the SA becomes established
(``proto.lifetime``; IKEv2 lifetimes are not negotiated, RFC 7296 2.8). Timers are hints
carrying the SA's uid; each handler re-checks the SA's state before acting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..events import RekeyRetry, SaExpired
from ..lifetime import retry_delay
from .create_child import IkeRekey
from .ikesa import IkeState

if TYPE_CHECKING:
    from .engine import Ikev2Engine
    from .ikesa import IkeSa


class IkeSaExpiry:
    def __init__(self, engine: Ikev2Engine):
        self.engine = engine

    def arm(self, sa: IkeSa, now: float) -> None:
        """Draw the limits of the newly established ``sa`` and schedule them."""
        e = self.engine
        exp = e.settings.ike.lifetime.draw(e.ep.rng, sa.initiator, e.settings.timers, "ike")
        if exp.soft_time is not None:
            e.ep.schedule(now + exp.soft_time, self.on_limit_timer, sa.uid, "soft", exp.soft_time)
        if exp.hard_time is not None:
            e.ep.schedule(now + exp.hard_time, self.on_limit_timer, sa.uid, "hard", exp.hard_time)

    def on_limit_timer(self, now: float, uid: int, kind: str, limit: float) -> None:
        e = self.engine
        sa = e.sas.get(uid)
        if sa is None or not sa.usable:
            return
        if kind == "soft":
            if sa.state is not IkeState.ESTABLISHED:
                return
            e.emit_sa(sa, SaExpired(sa_type="ike", kind="soft", by="time", limit=round(limit, 6)))
            sa.tm.queue_task(IkeRekey(e), now)
            return
        e.emit_sa(sa, SaExpired(sa_type="ike", kind="hard", by="time", limit=round(limit, 6)))
        # the SA is over: an exchange still in flight on it is abandoned and the Delete goes at once
        # (it is retransmitted on the schedule; the SA is gone when answered or given up)
        sa.tm.preempt()
        e.delete_ike(sa, "expired", now)

    def retry_rekey_later(self, sa: IkeSa, now: float) -> None:
        e = self.engine
        delay = retry_delay(e.ep.rng)
        e.emit_sa(sa, RekeyRetry(sa_type="ike", retry_in=round(delay, 6)))
        e.ep.schedule(now + delay, self.on_rekey_retry, sa.uid)

    def on_rekey_retry(self, now: float, uid: int) -> None:
        sa = self.engine.sas.get(uid)
        if sa is not None and sa.alive and sa.state is IkeState.ESTABLISHED:
            sa.tm.queue_task(IkeRekey(self.engine), now)
