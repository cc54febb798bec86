"""IKEv2 SA lifecycle: lifetimes, rekey scheduling, expiry and deletion (a mixin of the engine).

Each side draws the soft and hard limits of every SA it installs from its own configuration
(``proto.lifetime``): IKEv2 lifetimes are not negotiated (RFC 7296 2.8), so with different
settings the side with the shorter soft lifetime does every rekey. Timers are hints carrying
ids; each handler re-checks the SA's state before acting.

* soft limit (time, bytes or packets) of a CHILD SA -> ``sa_expired`` soft, a CHILD rekey
  (``rekey.ChildCreateTask``); of an IKE SA -> an IKE rekey (``rekey.IkeRekeyTask``);
* hard limit -> ``sa_expired`` hard; the SA is deleted and the peer told with an
  INFORMATIONAL { D } (RFC 7296 1.4.1) when the IKE SA can still carry it.

The data plane (``proto.traffic``) reads ``child_sas()``, ``negotiating()``, calls
``acquire()`` for traffic-triggered negotiation and ``on_child_volume()`` at volume limits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from ..events import ChildSaDeleted, ChildSaRekeyed, IkeSaRekeyed, RekeyRetry, SaEvent, SaExpired
from ..lifetime import retry_delay
from ..proposals import Protocol
from ..sa import ChildInput, ChildSa, ChildState
from .ikesa import IkeInput, IkeSa, IkeState
from .message import D
from .rekey import ChildCreateTask, IkeRekeyTask, child_fields, derive_rekeyed
from .taskmgr import TaskManager
from .tasks import InformationalTask

if TYPE_CHECKING:
    from ..endpoint import Endpoint
    from ..proposals import Proposal
    from ..settings import PeerSettings
    from .engine import Ikev2Engine



class LifecycleMixin:
    ep: Endpoint
    settings: PeerSettings
    sas: dict[int, IkeSa]
    by_spi: dict[bytes, IkeSa]
    children: dict[int, ChildSa]
    creating: bool

    if TYPE_CHECKING:  # provided by Ikev2Engine
        def emit_sa(self, sa: IkeSa, event: SaEvent) -> None: ...
        def initiate(self, now: float) -> IkeSa: ...
        def destroy(self, sa: IkeSa, reason: str, now: float) -> None: ...
        def delete_ike(self, sa: IkeSa, reason: str, now: float) -> None: ...

    def _engine(self) -> Ikev2Engine:
        return cast("Ikev2Engine", self)

    nonce_hook: Any = None
    """Tests may set a callable(purpose) -> bytes to fix the nonces of CREATE_CHILD_SA
    exchanges (``child_ni``, ``child_nr``, ``ike_ni``, ``ike_nr``), as strongSwan's collision
    tests do; otherwise nonces come from the peer's seeded stream."""

    def make_nonce(self, purpose: str) -> bytes:
        if self.nonce_hook is not None:
            return bytes(self.nonce_hook(purpose))
        return self.ep.rng.randbytes(self.settings.ike.nonce_bytes)

    # --- data plane interface --------------------------------------------------------------
    def child_sas(self) -> list[ChildSa]:
        return [c for sa in self.sas.values() for c in sa.children]

    def negotiating(self) -> bool:
        if self.creating:
            return True
        return any(sa.alive and sa.state is IkeState.CONNECTING and sa.initiator for sa in self.sas.values())

    def acquire(self, now: float) -> None:
        """Traffic needs an SA (a trap policy's ACQUIRE): create a CHILD SA, with a new IKE SA if
        there is none."""
        if self.negotiating():
            return
        ike = next((sa for sa in self.sas.values() if sa.state is IkeState.ESTABLISHED), None)
        if ike is None:
            self.initiate(now)
            return
        self.creating = True
        ike.tm.queue_task(ChildCreateTask(self._engine()), now)

    def on_child_volume(self, child: ChildSa, kind: str, by: str, now: float) -> None:
        if kind == "soft":
            self.child_soft(child, by, now)
        else:
            self.child_hard(child, by, now)

    # --- CHILD SA lifetimes ----------------------------------------------------------------
    def start_child_lifetime(self, child: ChildSa, now: float) -> None:
        exp = self.settings.child.lifetime.draw(self.ep.rng, child.initiator, self.settings.timers, "child")
        child.expiry = exp
        self.children[child.uid] = child
        if exp.soft_time is not None:
            self.ep.schedule(now + exp.soft_time, self.on_child_timer, child.uid, "soft")
        if exp.hard_time is not None:
            self.ep.schedule(now + exp.hard_time, self.on_child_timer, child.uid, "hard")

    def on_child_timer(self, now: float, uid: int, kind: str) -> None:
        child = self.children.get(uid)
        if child is None:
            return
        if kind == "soft":
            self.child_soft(child, "time", now)
        else:
            self.child_hard(child, "time", now)

    def _limit(self, child: ChildSa, kind: str, by: str) -> float | None:
        exp = child.expiry
        if exp is None:
            return None
        return {("soft", "time"): exp.soft_time, ("hard", "time"): exp.hard_time,
                ("soft", "bytes"): exp.soft_bytes, ("hard", "bytes"): exp.hard_bytes,
                ("soft", "packets"): exp.soft_packets, ("hard", "packets"): exp.hard_packets}[(kind, by)]

    def _expired(self, sa: IkeSa, child: ChildSa, kind: str, by: str) -> None:
        limit = self._limit(child, kind, by)
        self.emit_sa(sa, SaExpired(sa_type="child", kind=kind, by=by, **child_fields(child),
                                   limit=round(limit, 6) if by == "time" and limit is not None else limit))

    def child_soft(self, child: ChildSa, by: str, now: float) -> None:
        sa = self.sas.get(child.ike_uid)
        if not child.can(ChildInput.REKEY) or sa is None:
            return
        self._expired(sa, child, "soft", by)
        self.queue_child_rekey(child, now)

    def queue_child_rekey(self, child: ChildSa, now: float) -> None:
        sa = self.sas.get(child.ike_uid)
        if sa is None or not sa.alive or not child.can(ChildInput.REKEY):
            return
        if not sa.usable:
            self.ep.schedule(now + 1.0, self.on_child_rekey_retry, child.uid)
            return
        child.move(ChildInput.REKEY)
        sa.tm.queue_task(ChildCreateTask(self._engine(), rekey_of=child), now)

    def schedule_child_rekey_retry(self, child: ChildSa, now: float) -> None:
        delay = retry_delay(self.ep.rng)
        self.emit_sa(self.sas[child.ike_uid], RekeyRetry(sa_type="child", **child_fields(child),
                                                         retry_in=round(delay, 6)))
        self.ep.schedule(now + delay, self.on_child_rekey_retry, child.uid)

    def on_child_rekey_retry(self, now: float, uid: int) -> None:
        child = self.children.get(uid)
        if child is not None and child.can(ChildInput.REKEY):
            self.queue_child_rekey(child, now)

    def child_hard(self, child: ChildSa, by: str, now: float) -> None:
        sa = self.sas.get(child.ike_uid)
        if sa is None or child.state is ChildState.DELETED:
            return
        if child.state is ChildState.REKEYED:
            self.remove_child(sa, child, "expired", now)  # already replaced; its inbound SA ends
            return
        self._expired(sa, child, "hard", by)
        self.delete_child(sa, child, "expired", now)

    # --- deleting and switching CHILD SAs ----------------------------------------------------
    def remove_child(self, sa: IkeSa, child: ChildSa, reason: str, now: float) -> None:
        """The SA pair is gone from the kernel (no message)."""
        if not child.can(ChildInput.DELETE):
            return
        child.move(ChildInput.DELETE)
        child.removed, child.outbound = reason, False
        self.emit_sa(sa, ChildSaDeleted(**child_fields(child), reason=reason))
        if child in sa.children:
            sa.children.remove(child)
        self.children.pop(child.uid, None)

    def delete_child(self, sa: IkeSa, child: ChildSa, reason: str, now: float) -> None:
        """Remove the SA and tell the peer: INFORMATIONAL { D(ESP, our inbound SPI) }."""
        self.remove_child(sa, child, reason, now)
        if sa.usable and sa.keys is not None:
            def done(s: IkeSa, resp: Any, t: float) -> None:
                if resp is None:
                    self.destroy(s, "retransmit_timeout", t)
            task = InformationalTask(self._engine(), "child_delete", (D(Protocol.ESP, (child.spi_in,)),), done)
            sa.tm.queue_task(task, now)

    def switch_to(self, sa: IkeSa, old: ChildSa, new: ChildSa, initiator: bool, now: float) -> None:
        """Make-before-break: outbound traffic moves to ``new``; ``old`` keeps its inbound SA
        for delete_rekeyed_delay. The rekey initiator then deletes ``old`` at the peer."""
        counters = self.ep.traffic.sa_counters(old, now)
        new.outbound = True
        was_out = old.outbound
        old.outbound = False
        if old.can(ChildInput.REPLACED):
            old.move(ChildInput.REPLACED)
        self.emit_sa(sa, ChildSaRekeyed(old_spi_in=old.spi_in.hex(), old_spi_out=old.spi_out.hex(),
                                        **child_fields(new), initiator=initiator, proposal=str(new.proposal),
                                        pfs=new.proposal.dh[0].name if new.proposal.dh else None,
                                        bytes_out=counters["bytes_out"], bytes_in=counters["bytes_in"]))
        if not initiator or old.state is ChildState.DELETED:
            if not was_out:
                return
            self.ep.schedule(now + self.settings.child.delete_rekeyed_delay, self.on_rekeyed_cleanup, old.uid)
            return

        def done(s: IkeSa, resp: Any, t: float) -> None:
            if resp is None:
                self.destroy(s, "retransmit_timeout", t)
                return
            self.ep.schedule(t + self.settings.child.delete_rekeyed_delay, self.on_rekeyed_cleanup, old.uid)
        sa.tm.queue_task(InformationalTask(self._engine(), "child_delete", (D(Protocol.ESP, (old.spi_in,)),), done),
                         now)

    def on_rekeyed_cleanup(self, now: float, uid: int) -> None:
        child = self.children.get(uid)
        sa = self.sas.get(child.ike_uid) if child is not None else None
        if child is not None and sa is not None and child.state is ChildState.REKEYED:
            self.remove_child(sa, child, "rekeyed", now)

    def delete_children_by_peer(self, sa: IkeSa, peer_spis: tuple[bytes, ...], now: float) -> list[bytes]:
        """RFC 7296 1.4.1: the peer deletes SAs; answer with our inbound SPIs of the same pairs.
        A rekeyed SA switches our outbound traffic to its replacement and keeps its inbound SA
        for delete_rekeyed_delay."""
        mine = []
        for c in list(sa.children):
            if c.spi_out not in peer_spis or c.state is ChildState.DELETED:
                continue
            mine.append(c.spi_in)
            repl = [n for n in sa.children if n.replaces == c.uid and not n.initiator
                    and n.state is not ChildState.DELETED]
            if repl:
                self.switch_to(sa, c, repl[-1], initiator=False, now=now)
            elif c.state is ChildState.REKEYED:
                c.outbound = False
                self.ep.schedule(now + self.settings.child.delete_rekeyed_delay, self.on_rekeyed_cleanup, c.uid)
            else:
                # a rekey's new SA that never carried our traffic: the peer lost a collision
                lost = c.replaces is not None and not c.outbound and not c.initiator
                self.remove_child(sa, c, "rekey_collision" if lost else "deleted_by_peer", now)
        return mine

    # --- IKE SA lifetimes --------------------------------------------------------------------
    def start_ike_lifetime(self, sa: IkeSa, now: float) -> None:
        exp = self.settings.ike.lifetime.draw(self.ep.rng, sa.initiator, self.settings.timers, "ike")
        if exp.soft_time is not None:
            self.ep.schedule(now + exp.soft_time, self.on_ike_timer, sa.uid, "soft", exp.soft_time)
        if exp.hard_time is not None:
            self.ep.schedule(now + exp.hard_time, self.on_ike_timer, sa.uid, "hard", exp.hard_time)

    def on_ike_timer(self, now: float, uid: int, kind: str, limit: float) -> None:
        sa = self.sas.get(uid)
        if sa is None or not sa.usable:
            return
        if kind == "soft":
            if sa.state is not IkeState.ESTABLISHED:
                return
            self.emit_sa(sa, SaExpired(sa_type="ike", kind="soft", by="time", limit=round(limit, 6)))
            sa.tm.queue_task(IkeRekeyTask(self._engine()), now)
            return
        self.emit_sa(sa, SaExpired(sa_type="ike", kind="hard", by="time", limit=round(limit, 6)))
        # the SA is over: an exchange still in flight on it is abandoned and the Delete goes at once
        # (it is retransmitted on the schedule; the SA is gone when answered or given up)
        sa.tm.preempt()
        self.delete_ike(sa, "expired", now)

    def schedule_ike_rekey_retry(self, sa: IkeSa, now: float) -> None:
        delay = retry_delay(self.ep.rng)
        self.emit_sa(sa, RekeyRetry(sa_type="ike", retry_in=round(delay, 6)))
        self.ep.schedule(now + delay, self.on_ike_rekey_retry, sa.uid)

    def on_ike_rekey_retry(self, now: float, uid: int) -> None:
        sa = self.sas.get(uid)
        if sa is not None and sa.alive and sa.state is IkeState.ESTABLISHED:
            sa.tm.queue_task(IkeRekeyTask(self._engine()), now)

    def rekeyed_ike_sa(self, old: IkeSa, initiator: bool, spi_i: bytes, spi_r: bytes, proposal: Proposal,
                       ni: bytes, nr: bytes, g_ir: bytes, now: float) -> IkeSa:
        """The IKE SA created by a rekey of ``old`` (RFC 7296 2.18): fresh message ids."""
        new = IkeSa(self.ep.next_uid(), initiator, spi_i, spi_r, old.local, old.remote, now)
        new.tm = TaskManager(self, new)  # type: ignore[arg-type]
        new.proposal, new.nonce_i, new.nonce_r, new.peer_id = proposal, ni, nr, old.peer_id
        new.nat_local, new.nat_remote, new.encap = old.nat_local, old.nat_remote, old.encap
        derive_rekeyed(old, new, g_ir)
        self.sas[new.uid] = new
        self.by_spi[new.my_spi] = new
        self.emit_sa(old, IkeSaRekeyed(new_spi_i=spi_i.hex(), new_spi_r=spi_r.hex(), initiator=initiator,
                                       proposal=str(proposal)))
        self._engine().became_established(new, now)
        return new

    def adopt(self, old: IkeSa, new: IkeSa, now: float) -> None:
        """CHILD SAs and queued exchanges of ``old`` move to ``new``."""
        for c in old.children:
            c.ike_uid = new.uid
            new.children.append(c)
        old.children = []
        moved = [t for t in old.tm.queue if not isinstance(t, IkeRekeyTask)]
        old.tm.queue.clear()
        for t in moved:
            new.tm.queue.append(t)
        if moved and self.settings.ike.rekey_handover == "job":
            # strongSwan ike_rekey.c establish_new(): the new SA's queued tasks run as a job
            # (lib->processor->queue_job) on another thread, while this one goes on with the old
            # SA (the rekey response, or the initiator's Delete of the old SA) and sends first
            self.ep.schedule(now, self.on_handover_job, new.uid)
            return
        new.tm.initiate(now)

    def on_handover_job(self, now: float, uid: int) -> None:
        """The exchanges an IKE rekey moved to the new SA start (``adopt``, handover ``job``)."""
        sa = self.sas.get(uid)
        if sa is not None and sa.alive:
            sa.tm.initiate(now)

    def retire_ike(self, old: IkeSa, now: float) -> None:
        """The rekey initiator deletes the old IKE SA: INFORMATIONAL { D(IKE) } on it."""
        old.move(IkeInput.REPLACED)
        old.tm.queue_task(InformationalTask(self._engine(), "ike_delete", (D(Protocol.IKE),),
                                            lambda s, r, t: self.destroy(s, "rekeyed", t)), now)
