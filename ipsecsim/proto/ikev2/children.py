"""The CHILD SAs of the IKEv2 engine: installing them, their soft and hard limits, rekey
triggers, deleting them and switching traffic to a rekeyed pair.

Each side draws the soft and hard limits of every CHILD SA it installs from its own
configuration (``proto.lifetime``): IKEv2 lifetimes are not negotiated (RFC 7296 2.8), so with
different settings the side with the shorter soft lifetime does every rekey. Timers are hints
carrying uids; each handler re-checks the SA's state before acting.

* soft limit (time, bytes or packets) -> ``sa_expired`` soft and a CHILD rekey
  (``create_child.ChildCreate``), retried after a delay when it fails;
* hard limit -> ``sa_expired`` hard; the SA is deleted and the peer told with an
  INFORMATIONAL { D } (RFC 7296 1.4.1) when the IKE SA can still carry it.

The engine owns one ``ChildSas``; the exchanges (tasks) call ``install``, ``delete``,
``switch_to``, ``deleted_by_peer`` and ``failed``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import kdf
from ..events import ChildSaDeleted, ChildSaEstablished, ChildSaRekeyed, NegotiationFailed, RekeyRetry, SaExpired
from ..keylog import child_records
from ..lifetime import retry_delay
from ..sa import ChildInput, ChildSa, ChildState
from .create_child import ChildCreate, child_fields
from .informational import Informational, delete_child_payload

if TYPE_CHECKING:
    from ..proposals import Proposal
    from ..ts import TrafficSelector
    from .engine import Ikev2Engine
    from .ikesa import IkeSa


class ChildSas:
    def __init__(self, engine: Ikev2Engine):
        self.engine = engine
        self.by_uid: dict[int, ChildSa] = {}
        """CHILD SAs by uid (timer hints carry the uid), until deleted."""
        self.creating = False
        """A traffic-triggered CREATE_CHILD_SA is under way."""

    def all(self) -> list[ChildSa]:
        """Every CHILD SA of every IKE SA, replaced ones whose inbound SA is kept included."""
        return [c for sa in self.engine.sas.values() for c in sa.children]

    def _ike_sa(self, child: ChildSa) -> IkeSa | None:
        return self.engine.sas.get(child.ike_uid)

    # --- installing ------------------------------------------------------------------------
    def install(self, sa: IkeSa, proposal: Proposal, spi_in: bytes, spi_out: bytes,
                local_ts: tuple[TrafficSelector, ...], remote_ts: tuple[TrafficSelector, ...],
                initiator: bool, now: float, ni: bytes, nr: bytes, g_ir: bytes | None = None,
                emit_established: bool = True, outbound: bool = True, replaces: int | None = None) -> ChildSa:
        """Derive KEYMAT (RFC 7296 2.17) and install the SA pair; ``initiator`` is who sent the
        request that created it: its outbound keys are the i->r keys. A rekeyed SA is installed
        with ``outbound`` False until traffic switches to it (``switch_to``)."""
        e = self.engine
        assert sa.keys is not None
        keys = kdf.child_keys(sa.prf, sa.keys.sk_d, ni, nr, proposal.encr[0],
                              proposal.integ[0] if proposal.integ else None, g_ir)
        i_keys, r_keys = (keys.encr_i, keys.integ_i), (keys.encr_r, keys.integ_r)
        out_k, in_k = (i_keys, r_keys) if initiator else (r_keys, i_keys)
        child = ChildSa(e.ep.next_uid(), sa.uid, spi_in, spi_out, proposal, local_ts, remote_ts, initiator, now,
                        encr_key_in=in_k[0], integ_key_in=in_k[1], encr_key_out=out_k[0], integ_key_out=out_k[1],
                        nonces=(ni, nr), outbound=outbound, replaces=replaces)
        sa.children.append(child)
        child.encap = sa.encap  # ESP in UDP when NAT traversal floated the IKE SA (RFC 3948)
        encap = (sa.local[1], sa.remote[1]) if sa.encap is not None else None
        e.ep.log_keys(*child_records(child, sa.local[0], sa.remote[0], now, encap, e.ep.settings.child.sha256_96))
        if emit_established:
            e.emit_sa(sa, ChildSaEstablished(**child.describe()))
        self._arm_limits(child, now)
        return child

    def failed(self, sa: IkeSa, notify: str, reason: str) -> None:
        """The CHILD SA of IKE_AUTH could not be set up (the IKE SA stands)."""
        sa.child_failed = notify
        self.engine.emit_sa(sa, NegotiationFailed(phase="child", notify=notify, reason=reason))

    def delete_refused(self, sa: IkeSa, spi_in: bytes, now: float) -> None:
        """The responder installed a CHILD SA this initiator refuses (its traffic selectors):
        delete it there, INFORMATIONAL { D(ESP, our inbound SPI) } (strongSwan child_create.c
        delete_failed_sa() / build_i_delete())."""
        sa.tm.queue_task(Informational(self.engine, "child_delete", delete_child_payload(spi_in)), now)

    # --- soft and hard limits ----------------------------------------------------------------
    def _arm_limits(self, child: ChildSa, now: float) -> None:
        e = self.engine
        exp = e.settings.child.lifetime.draw(e.ep.rng, child.initiator, e.settings.timers, "child")
        child.expiry = exp
        self.by_uid[child.uid] = child
        if exp.soft_time is not None:
            e.ep.schedule(now + exp.soft_time, self.on_limit_timer, child.uid, "soft")
        if exp.hard_time is not None:
            e.ep.schedule(now + exp.hard_time, self.on_limit_timer, child.uid, "hard")

    def on_limit_timer(self, now: float, uid: int, kind: str) -> None:
        child = self.by_uid.get(uid)
        if child is not None:
            self.limit_reached(child, kind, "time", now)

    def limit_reached(self, child: ChildSa, kind: str, by: str, now: float) -> None:
        """The ``kind`` (soft / hard) limit of ``child`` in ``by`` (time, bytes, packets)."""
        if kind == "soft":
            self._soft_limit(child, by, now)
        else:
            self._hard_limit(child, by, now)

    def _report_expiry(self, sa: IkeSa, child: ChildSa, kind: str, by: str) -> None:
        exp = child.expiry
        limit = None if exp is None else {
            ("soft", "time"): exp.soft_time, ("hard", "time"): exp.hard_time,
            ("soft", "bytes"): exp.soft_bytes, ("hard", "bytes"): exp.hard_bytes,
            ("soft", "packets"): exp.soft_packets, ("hard", "packets"): exp.hard_packets}[(kind, by)]
        self.engine.emit_sa(sa, SaExpired(sa_type="child", kind=kind, by=by, **child_fields(child),
                                          limit=round(limit, 6) if by == "time" and limit is not None else limit))

    def _soft_limit(self, child: ChildSa, by: str, now: float) -> None:
        sa = self._ike_sa(child)
        if not child.can(ChildInput.REKEY) or sa is None:
            return
        self._report_expiry(sa, child, "soft", by)
        self.queue_rekey(child, now)

    def _hard_limit(self, child: ChildSa, by: str, now: float) -> None:
        sa = self._ike_sa(child)
        if sa is None or child.state is ChildState.DELETED:
            return
        if child.state is ChildState.REKEYED:
            self.remove(sa, child, "expired", now)  # already replaced; its inbound SA ends
            return
        self._report_expiry(sa, child, "hard", by)
        self.delete(sa, child, "expired", now)

    # --- rekeying ----------------------------------------------------------------------------
    def queue_rekey(self, child: ChildSa, now: float) -> None:
        sa = self._ike_sa(child)
        if sa is None or not sa.alive or not child.can(ChildInput.REKEY):
            return
        if not sa.usable:
            self.engine.ep.schedule(now + 1.0, self.on_rekey_retry, child.uid)
            return
        child.move(ChildInput.REKEY)
        sa.tm.queue_task(ChildCreate(self.engine, rekey_of=child), now)

    def retry_rekey_later(self, child: ChildSa, now: float) -> None:
        e = self.engine
        delay = retry_delay(e.ep.rng)
        e.emit_sa(e.sas[child.ike_uid], RekeyRetry(sa_type="child", **child_fields(child), retry_in=round(delay, 6)))
        e.ep.schedule(now + delay, self.on_rekey_retry, child.uid)

    def on_rekey_retry(self, now: float, uid: int) -> None:
        child = self.by_uid.get(uid)
        if child is not None and child.can(ChildInput.REKEY):
            self.queue_rekey(child, now)

    # --- deleting and switching --------------------------------------------------------------
    def remove(self, sa: IkeSa, child: ChildSa, reason: str, now: float) -> None:
        """The SA pair is gone from the kernel (no message)."""
        if not child.can(ChildInput.DELETE):
            return
        child.move(ChildInput.DELETE)
        child.removed, child.outbound = reason, False
        self.engine.emit_sa(sa, ChildSaDeleted(**child_fields(child), reason=reason))
        if child in sa.children:
            sa.children.remove(child)
        self.by_uid.pop(child.uid, None)

    def delete(self, sa: IkeSa, child: ChildSa, reason: str, now: float) -> None:
        """Remove the SA and tell the peer: INFORMATIONAL { D(ESP, our inbound SPI) }."""
        e = self.engine
        self.remove(sa, child, reason, now)
        if sa.usable and sa.keys is not None:
            def done(s: IkeSa, resp: Any, t: float) -> None:
                if resp is None:
                    e.destroy(s, "retransmit_timeout", t)
            task = Informational(e, "child_delete", delete_child_payload(child.spi_in), done)
            sa.tm.queue_task(task, now)

    def switch_to(self, sa: IkeSa, old: ChildSa, new: ChildSa, initiator: bool, now: float) -> None:
        """Make-before-break: outbound traffic moves to ``new``; ``old`` keeps its inbound SA
        for delete_rekeyed_delay. The rekey initiator then deletes ``old`` at the peer."""
        e = self.engine
        counters = e.ep.traffic.sa_counters(old, now)
        new.outbound = True
        was_out = old.outbound
        old.outbound = False
        if old.can(ChildInput.REPLACED):
            old.move(ChildInput.REPLACED)
        e.emit_sa(sa, ChildSaRekeyed(old_spi_in=old.spi_in.hex(), old_spi_out=old.spi_out.hex(),
                                     **child_fields(new), initiator=initiator, proposal=str(new.proposal),
                                     pfs=new.proposal.dh[0].name if new.proposal.dh else None,
                                     bytes_out=counters["bytes_out"], bytes_in=counters["bytes_in"]))
        delay = e.settings.child.delete_rekeyed_delay
        if not initiator or old.state is ChildState.DELETED:
            if not was_out:
                return
            e.ep.schedule(now + delay, self.on_rekeyed_cleanup, old.uid)
            return

        def done(s: IkeSa, resp: Any, t: float) -> None:
            if resp is None:
                e.destroy(s, "retransmit_timeout", t)
                return
            e.ep.schedule(t + delay, self.on_rekeyed_cleanup, old.uid)
        sa.tm.queue_task(Informational(e, "child_delete", delete_child_payload(old.spi_in), done), now)

    def on_rekeyed_cleanup(self, now: float, uid: int) -> None:
        child = self.by_uid.get(uid)
        sa = self._ike_sa(child) if child is not None else None
        if child is not None and sa is not None and child.state is ChildState.REKEYED:
            self.remove(sa, child, "rekeyed", now)

    def deleted_by_peer(self, sa: IkeSa, peer_spis: tuple[bytes, ...], now: float) -> list[bytes]:
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
                self.engine.ep.schedule(now + self.engine.settings.child.delete_rekeyed_delay,
                                        self.on_rekeyed_cleanup, c.uid)
            else:
                # a rekey's new SA that never carried our traffic: the peer lost a collision
                lost = c.replaces is not None and not c.outbound and not c.initiator
                self.remove(sa, c, "rekey_collision" if lost else "deleted_by_peer", now)
        return mine
