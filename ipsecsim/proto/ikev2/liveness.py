"""IKEv2 dead peer detection: the liveness check of RFC 7296 2.4 driven by ``proto.dpd``.

The probe is an empty INFORMATIONAL request. It is retransmitted like any request (on the
IKE schedule, or on a DPD-specific one such as Huawei's 15 s x 3), and the peer is dead when
that schedule gives up; any authenticated message from the peer proves it is alive. What
happens then is the configured action: ``clear`` deletes the SAs, ``trap``/``hold`` delete
them and renegotiate when traffic needs the tunnel, ``restart`` renegotiates at once, ``none``
only reports it. A dead peer is not sent a DELETE (it would not answer).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..dpd import Act, DpdInput, DpdMachine
from ..events import DpdProbeAcked, DpdProbeSent, PeerDead
from ..retransmit import RetransmitSchedule
from .informational import Informational
from .message import Message

if TYPE_CHECKING:
    from .engine import Ikev2Engine
    from .ikesa import IkeSa


class DpdTask(Informational):
    """One liveness check: an empty INFORMATIONAL request and its retransmissions."""

    def __init__(self, engine: Ikev2Engine, liveness: Liveness, schedule: RetransmitSchedule | None):
        super().__init__(engine, "ike_dpd", (), liveness.answered)
        self.schedule = schedule

    def transmitted(self, sa: IkeSa, n: int, msg_id: int, now: float) -> None:
        self.engine.emit_sa(sa, DpdProbeSent(msg_id=msg_id, retry=n))


class Liveness:
    def __init__(self, engine: Ikev2Engine):
        self.engine = engine
        self.in_flowing = False
        """A fluid ESP flow from the peer arrives on a CHILD SA right now."""
        self.out_flowing = False
        """A fluid flow is sent on a CHILD SA right now (on-demand worry trigger)."""

    def start(self, sa: IkeSa, now: float) -> None:
        """The IKE SA is up (``Ikev2Engine.became_established``, whatever established it): watch
        it if DPD is configured on this side. The idle clock starts now (the message that
        completed the SA came from the peer); flows already under way carry over (after an
        IKE rekey the CHILD SAs, and their traffic, move to the new SA)."""
        cfg = self.engine.settings.dpd
        if cfg is None or sa.dpd is not None:
            return
        sa.dpd = DpdMachine(cfg, now, traffic_flowing=self.out_flowing)
        if self.in_flowing and self._esp_counts(sa):
            sa.dpd.inbound_flowing = True
        self._arm(sa)

    def inbound(self, sa: IkeSa, msg: Message, now: float) -> None:
        """An authenticated message from the peer arrived. The answer to our probe is not fed
        here: ``answered`` feeds it once, as the probe's ACK."""
        if sa.dpd is not None and not (msg.response and isinstance(sa.tm.expecting(msg), DpdTask)):
            self._act(sa, sa.dpd.handle(DpdInput.INBOUND, now), now)

    def _esp_counts(self, sa: IkeSa) -> bool:
        assert sa.dpd is not None
        rule = sa.dpd.cfg.esp_resets_idle
        return (rule == "udp-encap" and (sa.nat_local or sa.nat_remote)) or rule is True

    def esp_inbound(self, sa: IkeSa, now: float) -> None:
        """An ESP packet from the peer arrived on a CHILD SA of this IKE SA."""
        if sa.dpd is not None and self._esp_counts(sa):
            self._act(sa, sa.dpd.handle(DpdInput.INBOUND, now), now)

    def esp_flowing(self, sa: IkeSa, flowing: bool, now: float) -> None:
        """A continuous flow from the peer started (or stopped) arriving on this IKE SA's CHILD SAs."""
        if sa.dpd is None or not self._esp_counts(sa) or sa.dpd.inbound_flowing == flowing:
            return
        sa.dpd.inbound_flowing = flowing
        self._act(sa, sa.dpd.handle(DpdInput.INBOUND, now), now)
        self._arm(sa)

    def traffic(self, sa: IkeSa, now: float, flowing: bool | None = None) -> None:
        """Outbound traffic wants this SA (the on-demand worry trigger)."""
        if sa.dpd is None:
            return
        if flowing is not None:
            sa.dpd.traffic_flowing = flowing
        self._act(sa, sa.dpd.handle(DpdInput.TRAFFIC, now), now)
        self._arm(sa)

    def steady(self, sa: IkeSa) -> tuple[float, float, bool] | None:
        """Whether a row of ESP packets on this SA's CHILD SAs can be fed as one
        (``esp_rows``): None if not; else (last inbound, idle gap, whether inbound ESP counts),
        see ``DpdMachine.steady_gap``. Not while a shorter deadline than the armed timer is
        pending (a packet would arm it)."""
        m = sa.dpd
        if m is None:
            return (-math.inf, math.inf, False)
        gap = m.steady_gap()
        if gap is None:
            return None
        due = m.deadline()
        if due is not None and (sa.dpd_armed is None or due < sa.dpd_armed):
            return None
        return (m.last_inbound, gap, self._esp_counts(sa))

    def esp_rows(self, sa: IkeSa, n_in: int, t_in: float, n_out: int, t_out: float, out_last: bool,
                 first_in: float | None = None, first_out: float | None = None) -> None:
        """``n_in`` inbound and ``n_out`` outbound ESP packets that ``steady`` allows, as one
        input (the latest at ``t_in`` / ``t_out``, the first at ``first_in`` / ``first_out``):
        the same as ``esp_inbound`` / ``traffic`` packet by packet (which arm nothing there)."""
        if sa.dpd is not None:
            sa.dpd.feed_steady(n_in if self._esp_counts(sa) else 0, t_in, n_out, t_out, out_last, first_in, first_out)

    def rearm_target(self, fn: object, args: tuple[int, ...]) -> tuple[IkeSa, DpdMachine] | None:
        """Of a timer job ``(fn, args)`` of the engine: if it is this machine's, the IKE SA and
        its machine, whose stale re-arms the array traffic path may chain and feed as one run
        (``DpdMachine.rearm_step``, ``rearm_run``); None if not (another job, the SA gone, an
        exchange in flight: strongSwan's check job then finds the task manager busy, or another
        IKE SA's machine, which the CHILD SAs' packets may feed instead)."""
        if fn != self.on_timer:
            return None
        sa = self.engine.sas.get(args[0])
        if sa is None or not sa.alive or sa.dpd is None or sa.tm.active is not None:
            return None
        if any(other is not sa and other.alive and other.dpd is not None for other in self.engine.sas.values()):
            return None
        return sa, sa.dpd

    # --- timers and answers -----------------------------------------------------------------
    def _arm(self, sa: IkeSa) -> None:
        if sa.dpd is None:
            return
        due = sa.dpd.deadline()
        if due is not None and (sa.dpd_armed is None or due < sa.dpd_armed):
            sa.dpd_armed = due
            self.engine.ep.schedule(due, self.on_timer, sa.uid)

    def on_timer(self, now: float, uid: int) -> None:
        sa = self.engine.sas.get(uid)
        if sa is None or not sa.alive or sa.dpd is None:
            return
        sa.dpd_armed = None
        sa.dpd.busy = sa.tm.active is not None  # strongSwan send_dpd(): task_manager->busy()
        self._act(sa, sa.dpd.handle(DpdInput.TIMER, now), now)
        self._arm(sa)

    def answered(self, sa: IkeSa, response: Message | None, now: float) -> None:
        if sa.dpd is None:
            return
        if response is None:
            acts = sa.dpd.handle(DpdInput.GAVE_UP, now)
            # ESP may have restarted the idle clock meanwhile; the failed exchange still leaves the
            # IKE SA unable to carry requests (strongSwan: giving up after N retransmits)
            if Act.DEAD not in acts:
                sa.dpd_cause = "exchange_gave_up"
                acts = sa.dpd.fail(now)
            self._act(sa, acts, now)
        else:
            # the answer is proof of life and ends the round (``inbound`` left it to us)
            self.engine.emit_sa(sa, DpdProbeAcked(msg_id=response.msg_id))
            self._act(sa, sa.dpd.handle(DpdInput.ACK, now), now)
            self._arm(sa)

    def _act(self, sa: IkeSa, acts: list[Act], now: float) -> None:
        for act in acts:
            if act is Act.PROBE:
                cfg = sa.dpd.cfg  # type: ignore[union-attr]
                schedule = RetransmitSchedule(waits=cfg.schedule) if cfg.schedule else None
                sa.tm.queue_task(DpdTask(self.engine, self, schedule), now)
            elif act is Act.ACKED:  # answered while still probing (``answered`` reported it)
                pass
            elif act is Act.DEAD:
                self.dead(sa, now)

    def dead(self, sa: IkeSa, now: float) -> None:
        assert sa.dpd is not None
        m = sa.dpd
        action = m.cfg.action
        self.engine.emit_sa(sa, PeerDead(action=action, last_inbound=round(m.last_inbound, 6),
                                         silent_for=round(now - m.last_inbound, 6), probes=m.probes,
                                         cause=sa.dpd_cause or "probes_unanswered"))
        if action == "none" and not m.cfg.gave_up_deletes:
            m.resume(now)
            self._arm(sa)
            return
        # strongSwan 5.9.8 sa/ike_sa.c retransmit(): a request that gives up returns DESTROY_ME
        # whatever dpd_action says (vici_config.c parse_action: none is clear)
        self.engine.peer_dead(sa, "clear" if action == "none" else action, now)
