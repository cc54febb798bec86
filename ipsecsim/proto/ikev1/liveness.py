"""IKEv1 dead peer detection (RFC 3706) driven by the version-independent table ``proto.dpd``.

Wire (RFC 3706 sections 5 and 7, RFC 2409 5.7), one protected message each way, each in its
own INFORMATIONAL exchange with a fresh M-ID:

    I->R  E[ HASH(1) N(R-U-THERE) ]        HASH(1) = prf(SKEYID_a, M-ID | N)
    R->I  E[ HASH(1) N(R-U-THERE-ACK) ]
    N: DOI 1, protocol ISAKMP (1), SPI size 16, SPI = CKY-I | CKY-R, type 36136 / 36137,
       notification data = a 4-octet sequence number

* Sequence numbers (RFC 3706 7): the first R-U-THERE of an ISAKMP SA carries a random number
  with the most significant bit clear, drawn from the peer's seeded stream; every further
  R-U-THERE (a retry included, as racoon does) carries the previous one plus 1. The ACK echoes
  the number. An ACK carrying another number than our last R-U-THERE's is ignored and is no
  proof of life (strongSwan task_manager_v1 ``process_dpd``: "received invalid DPD sequence
  number ... ignored"; racoon ``isakmp_info_recv_r_u_ack``: "Wrong DPD sequence number").
  ``dpd.ack_seq: stale`` models a faulty peer whose ACKs repeat the number of the first
  R-U-THERE it answered on the ISAKMP SA.
* Payload order (Huawei ``dpd msg`` / vpn_connection ``dpd.msg``, Huawei Cloud API): a DPD message is
  ``seq-hash-notify`` (HASH then N, the RFC 2409 5.7 layout) or ``seq-notify-hash`` (N then
  HASH; the HASH then covers the payloads before it). A receiver looks for the HASH where its
  own ``msg_order`` puts it; a message in the other order fails that check and is dropped
  as an invalid HASH, unanswered. Two ends configured differently therefore each declare a
  live peer dead. Other INFORMATIONAL messages always carry HASH(1) first.
* Vendor ID (RFC 3706 5.1): every peer announces DPD in phase 1 (``phase1.vendor_ids``; as
  strongSwan does whatever its DPD setting, and as the Huawei Cloud FAQ requires of a peer
  without DPD configured: it "must be able to answer DPD probes"); a peer probes only when the
  other side sent the vendor ID, and answers R-U-THERE whatever its own DPD setting.
* Styles (``proto.dpd``): ``retry`` (Huawei: a new R-U-THERE every retry_interval until
  ``retries`` probes, or 1 + ``retries``, went unanswered) and ``timeout`` (strongSwan IKEv1:
  an R-U-THERE every dpd_delay while idle, never retransmitted; dead when dpd_timeout passed
  without anything received; task_manager_v1 ``queue_dpd`` schedules the verdict dpd_timeout
  after the last inbound, dpd_timeout defaulting to the retransmission give-up time).
* What counts as inbound (the idle clock): every message from the peer that decrypted under an
  ISAKMP SA (and, for INFORMATIONAL, whose HASH verified) except an ACK with the wrong number;
  inbound ESP when ``esp_resets_idle`` (a continuous inbound flow keeps the peer heard at every
  instant); on-demand mode probes only while outbound ESP is sent. The machine runs on the
  newest established ISAKMP SA with the peer only.
* A dead peer: ``peer_dead``, then the action (``Ikev1Engine.peer_dead``): its SAs are deleted
  without telling it; ``restart`` starts a new phase 1 at once, ``trap``/``hold`` when traffic
  needs the tunnel, ``clear`` nothing more, ``none`` only reports.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..dpd import Act, DpdInput, DpdMachine, DpdState
from ..events import DpdProbeAcked, DpdProbeSent, PeerDead
from ..proposals import Protocol
from . import wire
from .message import HASH, VID_DPD, Exchange, Message, N, Notify

if TYPE_CHECKING:
    from ..onwire import Datagram
    from .engine import Ikev1Engine
    from .isakmpsa import IsakmpSa

DPD_TYPES = (Notify.R_U_THERE, Notify.R_U_THERE_ACK)
HASH_FIRST = "seq-hash-notify"


def dpd_notify(msg: Message) -> N | None:
    """The R-U-THERE / R-U-THERE-ACK notification of a message, if it is a DPD message."""
    for p in msg.payloads:
        if isinstance(p, N) and p.type in DPD_TYPES:
            return p
    return None


class Liveness:
    def __init__(self, engine: Ikev1Engine):
        self.e = engine
        self.in_flowing = False
        """An inbound fluid ESP flow arrives on an IPsec SA right now."""
        self.out_flowing = False
        """An outbound fluid flow is sent on an IPsec SA right now (on-demand worry trigger)."""

    # --- starting and handing over the machine ----------------------------------------------
    def start(self, sa: IsakmpSa, now: float) -> None:
        """The ISAKMP SA is up: watch the peer on it (and on no older SA) if DPD is configured
        here and the peer announced RFC 3706 support."""
        for other in self.e.sas.values():
            if other is not sa:
                other.dpd = None
        cfg = self.e.settings.dpd
        if cfg is None or VID_DPD not in sa.peer_vids:
            return
        sa.dpd = DpdMachine(cfg, now, traffic_flowing=self.out_flowing)
        self._arm(sa)

    def handover(self, gone: IsakmpSa, now: float) -> None:
        """The ISAKMP SA DPD watched is going (hard expiry, deletion) while another established
        ISAKMP SA with the peer remains, e.g. the one the peer initiated when both sides did:
        DPD moves to the newest of them (RFC 3706 runs over an ISAKMP SA; strongSwan checks
        liveness on the IKE SA the CHILD SAs now belong to). A new machine on it starts with
        the peer's idle clock (never more than ``delay`` in the past, so its first check is not
        before now) and the new SA's own R-U-THERE sequence (RFC 3706 7)."""
        old = gone.dpd
        if old is None or old.state is DpdState.DEAD:
            return
        left = [s for s in self.e.sas.values() if s is not gone and s.alive and s.established_at is not None
                and s.remote[0] == gone.remote[0] and VID_DPD in s.peer_vids]
        if not left or any(s.dpd is not None for s in left):
            return
        sa = max(left, key=lambda s: (s.established_at or 0.0, s.uid))
        gone.dpd = None
        sa.dpd = DpdMachine(old.cfg, max(old.last_inbound, now - old.cfg.delay),
                            traffic_flowing=self.out_flowing)
        sa.dpd_armed = None  # a timer of its earlier machine (before a newer SA took DPD) is void
        self._arm(sa)

    def _machines(self) -> list[IsakmpSa]:
        return [sa for sa in self.e.sas.values() if sa.dpd is not None and sa.alive]

    # --- inputs ----------------------------------------------------------------------------
    def heard(self, now: float, acked: IsakmpSa | None = None) -> None:
        """An authenticated message from the peer arrived; if it is the R-U-THERE-ACK our probe
        on ``acked`` waited for, that machine is fed the ACK (once), the others INBOUND."""
        for sa in self._machines():
            self._feed(sa, DpdInput.ACK if sa is acked else DpdInput.INBOUND, now)

    def esp_inbound(self, now: float, flowing: bool | None) -> None:
        """ESP from the peer: a packet (``flowing`` None) or a change of the inbound fluid flows."""
        if flowing is not None:
            self.in_flowing = flowing
        for sa in self._machines():
            if sa.dpd is not None and sa.dpd.cfg.esp_resets_idle:
                self._feed(sa, DpdInput.INBOUND, now)

    def traffic(self, now: float, flowing: bool | None) -> None:
        """Outbound ESP: a packet (``flowing`` None) or a change of the outbound fluid flows."""
        if flowing is not None:
            self.out_flowing = flowing
        for sa in self._machines():
            assert sa.dpd is not None
            sa.dpd.traffic_flowing = self.out_flowing
            if flowing is False:
                self._arm(sa)
                continue
            self._feed(sa, DpdInput.TRAFFIC, now)

    def steady(self) -> tuple[float, float, bool] | None:
        """Whether a row of ESP packets can be fed as one (``esp_rows``): None if not (more
        than one machine, or the next input may act or arm a timer); else (last inbound, idle
        gap, whether inbound ESP counts), see ``DpdMachine.steady_gap``."""
        machines = self._machines()
        if not machines:
            return (-math.inf, math.inf, False)
        if len(machines) > 1:
            return None
        sa = machines[0]
        m = sa.dpd
        assert m is not None
        gap = m.steady_gap()
        if gap is None:
            return None
        if not (self.in_flowing and m.cfg.esp_resets_idle and m.state is DpdState.WATCHING):
            due = m.deadline()
            if due is not None and (sa.dpd_armed is None or due < sa.dpd_armed):
                return None
        return (m.last_inbound, gap, bool(m.cfg.esp_resets_idle))

    def esp_rows(self, n_in: int, t_in: float, n_out: int, t_out: float, out_last: bool,
                 first_in: float | None = None, first_out: float | None = None) -> None:
        """``n_in`` inbound and ``n_out`` outbound ESP packets that ``steady`` allows, as one
        input (the latest at ``t_in`` / ``t_out``, the first at ``first_in`` / ``first_out``):
        the same as ``esp_inbound`` / ``traffic`` packet by packet."""
        for sa in self._machines():
            m = sa.dpd
            assert m is not None
            if n_out:
                m.traffic_flowing = self.out_flowing
            m.feed_steady(n_in if m.cfg.esp_resets_idle else 0, t_in, n_out, t_out, out_last, first_in, first_out)

    def timer_idle(self, uid: int, now: float) -> bool:
        """Whether ``on_timer`` for ``uid`` at ``now`` would only re-arm (see
        ``DpdMachine.stale_timer``; not while an inbound flow feeds it at the timer)."""
        sa = self.e.sas.get(uid)
        if sa is None or not sa.alive or sa.dpd is None:
            return True
        if self.in_flowing and sa.dpd.cfg.esp_resets_idle:
            return False
        return sa.dpd.stale_timer(now)

    def rearm_target(self, fn: object, args: tuple[int, ...]) -> tuple[IsakmpSa, DpdMachine] | None:
        """Of a timer job ``(fn, args)`` of the engine: if it is this machine's, the ISAKMP SA and
        its machine, whose stale re-arms the array traffic path may chain and feed as one run
        (``DpdMachine.rearm_step``, ``rearm_run``); None if not (another job, or more than one
        machine, or an inbound flow that feeds the machine at each timer: ``on_timer``)."""
        if fn != self.on_timer:
            return None
        sa = self.e.sas.get(args[0])
        if sa is None or not sa.alive or sa.dpd is None or len(self._machines()) != 1:
            return None
        if self.in_flowing and sa.dpd.cfg.esp_resets_idle:
            return None
        return sa, sa.dpd

    def on_timer(self, now: float, uid: int) -> None:
        sa = self.e.sas.get(uid)
        if sa is None or not sa.alive or sa.dpd is None:
            return
        sa.dpd_armed = None
        if self.in_flowing and sa.dpd.cfg.esp_resets_idle:
            sa.dpd.handle(DpdInput.INBOUND, now)  # a flow still arriving: heard at this very instant
        self._feed(sa, DpdInput.TIMER, now)

    def _feed(self, sa: IsakmpSa, inp: DpdInput, now: float) -> None:
        assert sa.dpd is not None
        self._act(sa, sa.dpd.handle(inp, now), now)
        self._arm(sa)

    def _arm(self, sa: IsakmpSa) -> None:
        if sa.dpd is None or not sa.alive:
            return
        if self.in_flowing and sa.dpd.cfg.esp_resets_idle and sa.dpd.state is DpdState.WATCHING:
            return  # heard at every instant until the flow stops (``esp_inbound`` re-arms then)
        due = sa.dpd.deadline()
        if due is not None and (sa.dpd_armed is None or due < sa.dpd_armed):
            sa.dpd_armed = due
            self.e.ep.schedule(due, self.on_timer, sa.uid)

    def _act(self, sa: IsakmpSa, acts: list[Act], now: float) -> None:
        for act in acts:
            if act is Act.PROBE:
                self.probe(sa, now)
            elif act is Act.DEAD:
                self.dead(sa, now)
                return

    # --- probing ---------------------------------------------------------------------------
    def probe(self, sa: IsakmpSa, now: float) -> None:
        if sa.dpd_next_seq is None:
            sa.dpd_next_seq = self._first_seq()
        seq = sa.dpd_next_seq
        sa.dpd_next_seq = (seq + 1) & 0xFFFFFFFF
        sa.dpd_pending = seq
        self.send(sa, Notify.R_U_THERE, seq, now)
        probes = sa.dpd.probes if sa.dpd is not None else 1
        self.e.emit_sa(sa, DpdProbeSent(seq=seq, retry=probes - 1))

    def _first_seq(self) -> int:
        """RFC 3706 7: random, most significant bit clear (strongSwan: ``dpd_send &= 0x7FFFFFFF``)."""
        while True:
            seq = self.e.ep.rng.getrandbits(31)
            if seq:
                return seq

    def dead(self, sa: IsakmpSa, now: float) -> None:
        m = sa.dpd
        assert m is not None
        action = m.cfg.action
        self.e.emit_sa(sa, PeerDead(action=action, last_inbound=round(m.last_inbound, 6),
                                    silent_for=round(now - m.last_inbound, 6), probes=m.probes))
        if action == "none" and not m.cfg.gave_up_deletes:
            m.resume(now)
            self._arm(sa)
            return
        self.e.peer_dead(sa, "clear" if action == "none" else action, now)

    # --- wire ------------------------------------------------------------------------------
    def send(self, sa: IsakmpSa, ntype: int, seq: int, now: float) -> Message:
        """One protected DPD message in this side's payload order."""
        keys = sa.keys
        assert keys is not None
        n = N(ntype, Protocol.IKE, sa.cky_i + sa.cky_r, seq.to_bytes(4, "big"))
        mid = self.e.new_mid(sa)
        if self.e.settings.dpd_msg_order == HASH_FIRST:
            payloads: tuple[N | HASH, ...] = (HASH(keys.hash1(mid, wire.encode_chain([n])[1])), n)
        else:
            chain = wire.encode_chain([n, HASH(bytes(keys.hash_bytes))])[1]
            covered = chain[:4 + len(wire.payload_body(n))]  # N with its header (next payload: HASH)
            payloads = (n, HASH(keys.hash1(mid, covered)))
        msg = Message(Exchange.INFORMATIONAL, sa.cky_i, sa.cky_r, mid, False, payloads, True)
        sealed = self.e.seal(sa, msg, chain=False)
        self.e.transmit(sa, sealed, 0)
        return sealed

    def verify(self, sa: IsakmpSa, msg: Message) -> str | None:
        """None if the DPD message's HASH(1) sits where our ``msg_order`` expects it and
        verifies; else why it is dropped."""
        assert sa.keys is not None
        order = self.e.settings.dpd_msg_order
        first = order == HASH_FIRST
        i = 0 if first else len(msg.payloads) - 1
        h = msg.payloads[i] if msg.payloads else None
        if first:
            covered = msg.plain[4 + len(msg.bodies[0]):] if msg.bodies else b""
        else:
            covered = msg.plain[:len(msg.plain) - 4 - len(msg.bodies[-1])] if msg.bodies else b""
        if isinstance(h, HASH) and h.data == sa.keys.hash1(msg.msg_id, covered):
            return None
        where = "HASH then N" if first else "N then HASH"
        return (f"INFORMATIONAL whose HASH(1) does not verify (RFC 2409 5.7): this side expects DPD messages "
                f"in the order {order} ({where}), the message carries [ {' '.join(msg.labels())} ]")

    # --- receiving -------------------------------------------------------------------------
    def receive(self, sa: IsakmpSa, msg: Message, n: N, dgram: Datagram, now: float) -> None:
        """A verified R-U-THERE or R-U-THERE-ACK."""
        e = self.e
        if len(n.data) != 4 or n.spi != sa.cky_i + sa.cky_r:
            e.ignore_msg(msg, dgram, f"{n.name} with {len(n.data)} octets of data and a {len(n.spi)}-octet SPI "
                         f"(RFC 3706 5: SPI = CKY-I | CKY-R, data = a 4-octet sequence number)")
            return
        seq = int.from_bytes(n.data, "big")
        if n.type == Notify.R_U_THERE:
            e.received(msg, dgram)
            self.heard(now)
            if sa.dpd_first_acked is None:
                sa.dpd_first_acked = seq
            ack = sa.dpd_first_acked if e.settings.dpd_ack_seq == "stale" else seq
            self.send(sa, Notify.R_U_THERE_ACK, ack, now)
            return
        if sa.dpd_pending is None or seq != sa.dpd_pending:
            expected = sa.dpd_pending
            e.ignore_msg(msg, dgram, f"R-U-THERE-ACK with sequence number {seq}, expected "
                         f"{'none outstanding' if expected is None else expected} (RFC 3706 7): ignored, no proof "
                         f"of life", expected=expected)
            return
        e.received(msg, dgram)
        sa.dpd_pending = None
        self.heard(now, acked=sa)
        e.emit_sa(sa, DpdProbeAcked(seq=seq))
