"""IKEv1 SA expiry and rekeying: what happens when an IPsec SA or ISAKMP SA reaches its soft or
hard limit; the data plane's view of the IPsec SAs.

Lifetimes are negotiated in IKEv1 (RFC 2409 Appendix A, RFC 2407 4.5: seconds and kilobytes
in the proposal; ``sa_life.py`` decides what a responder accepts). Each side applies its own
soft-point rule (``proto.lifetime``, the same styles and config keys as IKEv2) to the hard
limits both agreed on (``Limit.with_life``): a percentage follows the agreed value, an absolute
rekey time stays, a margin stays below it (its share of the limit when the agreed value is no
longer than the margin). Packet limits cannot be negotiated and stay local.

* IPsec SA soft limit (time, bytes, packets) -> ``sa_expired`` soft and a quick mode under the
  newest ISAKMP SA (a new phase 1 first when there is none). Make-before-break: both sides move
  their outbound traffic to the new SA as soon as they install it (the quick mode initiator
  after sending message 3, the responder on receiving it; the Linux kernel sends on the newest
  SA of a policy), ``child_sa_rekeyed`` at both. The replaced SA is not deleted: it keeps its
  inbound SA until its own hard lifetime ends it, then a Delete is sent (strongSwan
  ``charon.delete_rekeyed`` defaults to no: "rekeyed CHILD_SAs stay installed until they expire
  or are deleted by the other peer", quick_mode.c ``install``; quick_delete.c sends the Delete
  of an expired SA). A rekey that fails is retried after 10-30 s (strongSwan RETRY_INTERVAL /
  RETRY_JITTER) until the hard lifetime deletes the SA.
* IPsec SA hard limit without a replacement -> ``sa_expired`` hard, the SA is deleted and the
  peer told with INFORMATIONAL [ HASH D ].
* ISAKMP SA soft limit -> a new main / aggressive mode (strongSwan task_manager_v1
  ``queue_ike_rekey`` = ``queue_ike_reauth``: IKEv1 has no rekey exchange, the peer is
  authenticated again, with the pre-shared key). When it completes the old ISAKMP SA is
  replaced (``ike_sa_rekeyed``) and deleted with a Delete; the IPsec SAs are not touched (they
  never belonged to it). A failed re-authentication is not retried on its own (it is a new
  phase 1, governed by ``keyingtries``): the old ISAKMP SA serves until its hard lifetime.
* ISAKMP SA hard limit -> ``sa_expired`` hard, the ISAKMP SA is deleted with a Delete; the
  IPsec SAs stay.

The peer that started an exchange is its "initiator" for the role-dependent soft limits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..events import ChildSaRekeyed, IkeSaRekeyed, RekeyRetry, SaEvent, SaExpired
from ..lifetime import Lifetime, Limit, retry_delay
from ..sa import ChildInput, ChildSa, ChildState

if TYPE_CHECKING:
    from .engine import Ikev1Engine
    from .isakmpsa import IsakmpSa


def negotiated(limit: Limit, life: float | None) -> Limit:
    """This side's rule ``limit`` applied to the agreed hard limit ``life``. Without an agreed
    limit a soft point relative to the hard one (a percentage, a margin) follows nothing."""
    if life is None and limit.life is not None and limit.follows != "absolute":
        return Limit()
    return limit.with_life(life)


def child_fields(c: ChildSa) -> dict[str, Any]:
    return {"spi_in": c.spi_in.hex(), "spi_out": c.spi_out.hex()}


class SaExpiry:
    def __init__(self, engine: Ikev1Engine):
        self.e = engine
        self.by_uid: dict[int, ChildSa] = {}
        """IPsec SAs not yet deleted, by uid (timer hints carry the uid)."""
        self.waiting: list[int] = []
        """IPsec SAs whose rekey waits for a phase 1 to complete."""

    # --- IPsec SAs -------------------------------------------------------------------------
    def emit_child(self, child: ChildSa, event: SaEvent) -> None:
        """Report ``event`` as an event of the ISAKMP SA that created ``child`` (which may be gone)."""
        self.e.ep.emit(event, {"ike_version": 1, **self.e.child_label.get(child.uid, {})})

    def installed(self, child: ChildSa, rekey_of: ChildSa | None, now: float) -> list[ChildSa]:
        """A new IPsec SA pair is installed: it takes the outbound traffic of the SAs with the
        same selectors (returned), and its lifetime starts."""
        olds = [c for c in self.e.children if c is not child and c.active
                and c.local_ts == child.local_ts and c.remote_ts == child.remote_ts]
        if rekey_of is not None and rekey_of.active and rekey_of not in olds:
            olds.append(rekey_of)
        for old in olds:
            counters = self.e.ep.traffic.sa_counters(old, now)
            old.move(ChildInput.REPLACED, self.e.child_fx, now)
            old.outbound = False
            if old.uid in self.waiting:
                self.waiting.remove(old.uid)
            self.emit_child(child, ChildSaRekeyed(old_spi_in=old.spi_in.hex(), old_spi_out=old.spi_out.hex(),
                                                  **child_fields(child), initiator=child.initiator,
                                                  proposal=str(child.proposal),
                                                  pfs=child.proposal.dh[0].name if child.proposal.dh else None,
                                                  bytes_out=counters["bytes_out"], bytes_in=counters["bytes_in"]))
        if olds:
            child.replaces = olds[0].uid
        self.by_uid[child.uid] = child
        s = self.e.settings.child.lifetime
        life = Lifetime(negotiated(s.time, child.life_time), negotiated(s.bytes, child.life_bytes), s.packets)
        exp = child.expiry = life.draw(self.e.ep.rng, child.initiator, self.e.settings.timers, "child")
        if exp.soft_time is not None:
            self.e.ep.schedule(now + exp.soft_time, self.on_child_timer, child.uid, "soft")
        if exp.hard_time is not None:
            self.e.ep.schedule(now + exp.hard_time, self.on_child_timer, child.uid, "hard")
        return olds

    def gone(self, child: ChildSa) -> None:
        self.by_uid.pop(child.uid, None)
        if child.uid in self.waiting:
            self.waiting.remove(child.uid)

    def on_child_timer(self, now: float, uid: int, kind: str) -> None:
        child = self.by_uid.get(uid)
        if child is not None:
            (self.child_soft if kind == "soft" else self.child_hard)(child, "time", now)

    def on_volume(self, child: ChildSa, kind: str, by: str, now: float) -> None:
        if self.by_uid.get(child.uid) is child:
            (self.child_soft if kind == "soft" else self.child_hard)(child, by, now)

    def _expired(self, child: ChildSa, kind: str, by: str) -> None:
        exp = child.expiry
        limit = None
        if exp is not None:
            limit = {"time": (exp.soft_time, exp.hard_time), "bytes": (exp.soft_bytes, exp.hard_bytes),
                     "packets": (exp.soft_packets, exp.hard_packets)}[by][kind == "hard"]
        self.emit_child(child, SaExpired(sa_type="child", kind=kind, by=by, **child_fields(child),
                                         limit=round(limit, 6) if by == "time" and limit is not None else limit))

    def child_soft(self, child: ChildSa, by: str, now: float) -> None:
        if not child.can(ChildInput.REKEY):
            return  # already being rekeyed, or replaced by the peer's rekey
        self._expired(child, "soft", by)
        self.rekey(child, now)

    def child_hard(self, child: ChildSa, by: str, now: float) -> None:
        if child.state is ChildState.DELETED:
            return
        if child.state is ChildState.REKEYED:  # replaced: its kept inbound SA ends (as in IKEv2, no sa_expired)
            self.e.delete_child(child, "rekeyed", now)
            return
        self._expired(child, "hard", by)
        self.e.delete_child(child, "expired", now)

    def rekey(self, child: ChildSa, now: float) -> None:
        """Quick mode for the selectors of ``child`` under the newest ISAKMP SA, or a phase 1 first."""
        if not child.can(ChildInput.REKEY):
            return
        child.move(ChildInput.REKEY, self.e.child_fx, now)
        sa = self.e.usable_sa()
        if sa is not None:
            self.e.quick.queue(sa, child.local_ts[0], child.remote_ts[0], now, rekey_of=child)
            return
        self.waiting.append(child.uid)
        if not self.e.phase1_running():
            self.e.initiate(now)

    def rekey_failed(self, child: ChildSa, now: float) -> None:
        """The quick mode (or the phase 1 it needed) failed: try again in 10-30 s."""
        if not child.can(ChildInput.REKEY_ABORTED):
            return
        child.move(ChildInput.REKEY_ABORTED, self.e.child_fx, now)
        if child.uid in self.waiting:
            self.waiting.remove(child.uid)
        delay = retry_delay(self.e.ep.rng)
        self.emit_child(child, RekeyRetry(sa_type="child", **child_fields(child), retry_in=round(delay, 6)))
        self.e.ep.schedule(now + delay, self.on_rekey_retry, child.uid)

    def on_rekey_retry(self, now: float, uid: int) -> None:
        child = self.by_uid.get(uid)
        if child is not None and child.can(ChildInput.REKEY):
            self.rekey(child, now)

    def abandon(self, sa: IsakmpSa, reason: str, now: float) -> None:
        """``sa`` is going away with quick modes of rekeys in flight or queued: they fail
        (the peer did not answer) or move to another ISAKMP SA."""
        children = [q.rekey_of for q in sa.quick.values() if q.initiator and not q.done and q.rekey_of is not None]
        children += [c for *_, c in self.e.quick.pending.get(sa.uid, ()) if c is not None]
        for child in children:
            if not child.can(ChildInput.REKEY_ABORTED):
                continue
            if reason == "retransmit_timeout":
                self.rekey_failed(child, now)
            else:
                child.move(ChildInput.REKEY_ABORTED, self.e.child_fx, now)
                self.e.ep.schedule(now, self.on_rekey_retry, child.uid)  # after ``sa`` is gone

    def phase1_gone(self, now: float) -> None:
        """A phase 1 we started failed: rekeys waiting for one fail, unless another runs."""
        if not self.waiting or self.e.phase1_running() or self.e.usable_sa() is not None:
            return
        for uid in list(self.waiting):
            child = self.by_uid.get(uid)
            if child is not None:
                self.rekey_failed(child, now)
        self.waiting.clear()

    # --- ISAKMP SAs ------------------------------------------------------------------------
    def isakmp_up(self, sa: IsakmpSa, now: float, initial_contact: bool) -> None:
        """``sa`` is established: its lifetime starts; it replaces the SA it re-authenticates
        (ours), or the newest older one (the peer's re-authentication); DPD moves to it;
        rekeys waiting for a phase 1 run on it."""
        e = self.e
        limit = negotiated(e.settings.ike.lifetime.time, float(sa.life.seconds) if sa.life.seconds else None)
        soft, hard = limit.draw(e.ep.rng, sa.initiator, e.settings.timers, "isakmp")
        if soft is not None:
            e.ep.schedule(now + soft, self.on_isakmp_timer, sa.uid, "soft", soft)
        if hard is not None:
            e.ep.schedule(now + hard, self.on_isakmp_timer, sa.uid, "hard", hard)
        old = e.sas.get(sa.rekey_of) if sa.rekey_of is not None else None
        if old is None and not sa.initiator and not initial_contact:
            older = [o for o in e.sas.values() if o is not sa and o.established and not o.superseded
                     and o.remote[0] == sa.remote[0]]
            old = max(older, key=lambda o: (o.established_at or 0.0, o.uid)) if older else None
        if old is not None and old.established:
            old.superseded = True
            e.emit_sa(old, IkeSaRekeyed(new_spi_i=sa.cky_i.hex(), new_spi_r=sa.cky_r.hex(), initiator=sa.initiator,
                                        proposal=str(sa.proposal)))
            if sa.rekey_of == old.uid:  # after this step: aggressive mode message 3 goes first
                e.ep.schedule(now, self.on_retire, old.uid)
        e.liveness.start(sa, now)
        for uid in self.waiting:
            child = self.by_uid.get(uid)
            if child is not None and child.state is ChildState.REKEYING:
                e.quick.queue(sa, child.local_ts[0], child.remote_ts[0], now, rekey_of=child, run=False)
        self.waiting.clear()
        # after this step: the last phase 1 message must be out before a quick mode (its IV
        # starts from the last phase 1 CBC block, RFC 2409 Appendix B)
        e.ep.schedule(now, self.on_run, sa.uid)

    def on_retire(self, now: float, uid: int) -> None:
        old = self.e.sas.get(uid)
        if old is not None and old.established:
            self.e.delete_isakmp(old, "rekeyed", now)

    def on_run(self, now: float, uid: int) -> None:
        sa = self.e.sas.get(uid)
        if sa is not None and sa.established:
            self.e.quick.run(sa, now)

    def on_isakmp_timer(self, now: float, uid: int, kind: str, limit: float) -> None:
        e = self.e
        sa = e.sas.get(uid)
        if sa is None or not sa.established:
            return
        if kind == "hard":
            e.emit_sa(sa, SaExpired(sa_type="ike", kind="hard", by="time", limit=round(limit, 6)))
            e.delete_isakmp(sa, "expired", now)
            return
        if sa.superseded:
            return
        e.emit_sa(sa, SaExpired(sa_type="ike", kind="soft", by="time", limit=round(limit, 6)))
        running = e.phase1_running()
        if running is not None:
            running.rekey_of = sa.uid  # a phase 1 under way (for an IPsec SA rekey) replaces it
            return
        e.initiate(now, rekey_of=sa)
