"""The IKEv2 engine of one peer: its IKE SAs and the dispatch of inbound messages.

Inbound messages are matched to an IKE SA by this side's SPI; a new IKE_SA_INIT request
is checked statelessly first (proposal, KE group) and only then creates state. Everything
that happens is reported as an event (docs/events.md).

The engine owns its parts (composition): ``children`` (``ChildSas``: the CHILD SAs, their
limits, rekeys and deletion), ``ike_expiry`` (``IkeSaExpiry``: the IKE SAs' soft and hard
limits) and ``liveness`` (dead peer detection); each IKE SA has its task manager (``sa.tm``),
which runs the exchanges as tasks, one class per exchange type holding both roles
(``exchanges.py``). For the data plane (``proto.traffic``) it offers ``child_sas()``,
``negotiating()``, ``acquire(now)`` and ``on_child_volume(...)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import natt
from ..events import (
    IkeSaDeleted,
    IkeSaEstablished,
    MessageEvent,
    MessageIgnored,
    MessageReceived,
    MessageSent,
    NegotiationFailed,
    NegotiationRetry,
    SaEvent,
)
from ..fsm import Handlers
from ..onwire import Datagram
from ..sa import ChildSa, ChildState
from ..settings import Identity
from ..taskmgr import TaskManager
from . import ike_init
from .children import ChildSas
from .create_child import ChildCreate
from .exchanges import responder_task
from .ike_auth import IkeAuth
from .ike_expiry import IkeSaExpiry
from .ike_init import IkeInit
from .ikesa import IKE_SA, IkeAction, IkeInput, IkeSa, IkeState
from .informational import Informational, delete_ike_payload
from .liveness import Liveness
from .message import AUTH, ID, AuthMethod, Exchange, Message, N, Notify

if TYPE_CHECKING:
    import random

    from ..endpoint import Endpoint
    from ..events import EventKind
    from ..retransmit import RetransmitSchedule

ID_KINDS = {v: k for k, v in Identity.ID_TYPES.items()}


class Ikev2Engine:
    version = 2

    nonce_hook: Any = None
    """Tests may set a callable(purpose) -> bytes to fix the nonces of CREATE_CHILD_SA
    exchanges (``child_ni``, ``child_nr``, ``ike_ni``, ``ike_nr``), as strongSwan's collision
    tests do; otherwise nonces come from the peer's seeded stream."""

    def __init__(self, ep: Endpoint):
        self.ep = ep
        self.settings = ep.settings
        self.sas: dict[int, IkeSa] = {}
        self.by_spi: dict[bytes, IkeSa] = {}
        self.half_open: dict[tuple[bytes, str], IkeSa] = {}
        self.liveness = Liveness(self)
        self.trap_armed = False
        """A dead peer's SAs were deleted with action trap/hold: traffic renegotiates them."""
        self.attempts = 0
        self.rx: Datagram | None = None
        """The datagram being processed (NAT detection compares its addresses)."""
        self.children = ChildSas(self)
        self.ike_expiry = IkeSaExpiry(self)
        self.keepalives = natt.Keepalives(ep, lambda: natt.keepalive_path(self.sas.values()))
        self.ike_fx: Handlers[IkeAction, IkeSa] = IKE_SA.handlers({
            IkeAction.MARK_ESTABLISHED: _mark_established,
            IkeAction.START_DPD: self.liveness.start,
            IkeAction.ARM_EXPIRY: self.ike_expiry.arm,
            IkeAction.SCHEDULE_REKEY_RETRY: self.ike_expiry.retry_rekey_later,
            IkeAction.DROP_QUEUED: _drop_queued,
            IkeAction.REMOVE_CHILDREN: self._remove_children,
            IkeAction.REPORT_DELETED: self._report_deleted,
            IkeAction.ABORT_EXCHANGES: _abort_exchanges,
            IkeAction.FORGET: self._forget,
        })
        """What the rows of ``IKE_SA`` do to this engine's IKE SAs (``IkeSa.move``)."""

    # --- entry points ----------------------------------------------------------------------
    def start(self, now: float) -> None:
        if self.settings.start == "initiate":
            self.initiate(now)

    def initiate(self, now: float) -> IkeSa:
        s = self.settings
        sa = self.new_sa(True, self.ep.random_spi(8), bytes(8), (s.remote_address, s.remote_port), now)
        sa.tm.queue.extend([IkeInit(self), IkeAuth(self)])
        sa.tm.initiate(now)
        return sa

    def receive(self, dgram: Datagram, now: float) -> None:
        msg = dgram.message
        if not isinstance(msg, Message):
            self.ep.emit(MessageIgnored(reason="not an IKEv2 message", message={"src": dgram.src}))
            return
        self.rx = dgram
        if msg.exchange is Exchange.IKE_SA_INIT and not msg.response:
            ike_init.receive_request(self, dgram, msg, now)
            return
        sa = self.by_spi.get(msg.spi_r if msg.initiator else msg.spi_i)
        if sa is None or not sa.alive:
            self.ep.emit(MessageIgnored(reason="unknown IKE SA", message={
                "exchange": msg.exchange.name, "response": msg.response, "msg_id": msg.msg_id,
                "spi_i": msg.spi_i.hex(), "spi_r": msg.spi_r.hex()}))
            return
        self.emit_message(MessageReceived, msg, dgram.retransmit, src=dgram.src, dst=dgram.dst)
        if msg.response and msg.unsupported_critical() is not None:
            # RFC 7296 2.5: the message is rejected; a request would be answered (exchanges.py)
            self.ep.emit(MessageIgnored(
                reason=f"critical payload of unknown type {msg.unsupported_critical()} in a response",
                message={"ike_version": 2, **sa.label(), "exchange": msg.exchange.name, "response": True,
                         "msg_id": msg.msg_id}))
            return
        if msg.encrypted:  # integrity-protected: follow the peer to 4500 / its new NAT port (RFC 7296 2.23)
            natt.on_authenticated(sa, dgram, lambda event: self.emit_sa(sa, event))
            self.keepalives.start(now)
        self.liveness.inbound(sa, msg, now)
        if msg.response:
            sa.tm.on_response(msg, now)
        else:
            sa.tm.on_request(msg, now, responder_task(self, msg))

    # --- timers ----------------------------------------------------------------------------
    def on_retransmit_timer(self, now: float, uid: int, msg_id: int, n: int, generation: int) -> None:
        sa = self.sas.get(uid)
        if sa is not None and sa.alive:
            sa.tm.on_retransmit_timer(now, msg_id, n, generation)

    def on_half_open_timer(self, now: float, uid: int) -> None:
        sa = self.sas.get(uid)
        if sa is not None and sa.alive and sa.established_at is None:
            self.emit_sa(sa, NegotiationFailed(phase="ike", notify=None,
                                               reason="half-open IKE SA expired: no IKE_AUTH within "
                                                      f"{self.settings.ike.half_open_timeout:g} s"))
            self.destroy(sa, "half_open_timeout", now)

    # --- services for the exchanges (tasks) ------------------------------------------------
    def new_sa(self, initiator: bool, spi_i: bytes, spi_r: bytes, remote: tuple[str, int], now: float) -> IkeSa:
        s = self.settings
        return self.add_sa(IkeSa(self.ep.next_uid(), initiator, spi_i, spi_r, (s.address, s.port), remote, now))

    def add_sa(self, sa: IkeSa) -> IkeSa:
        """Register a new IKE SA (by uid and by our SPI) with its own task manager."""
        sa.tm = TaskManager(self, sa)
        self.sas[sa.uid] = sa
        self.by_spi[sa.my_spi] = sa
        return sa

    def make_nonce(self, purpose: str) -> bytes:
        """A nonce of a CREATE_CHILD_SA exchange (``nonce_hook`` in tests)."""
        if self.nonce_hook is not None:
            return bytes(self.nonce_hook(purpose))
        return self.ep.rng.randbytes(self.settings.ike.nonce_bytes)

    def emit_message(self, event: type[MessageEvent], msg: Message, retransmit: int, src: str, dst: str) -> None:
        # the record of ``event(**msg.fields(), retransmit=..., src=..., dst=...)``: the message's
        # fields come first in MessageEvent's order, every field is present
        fields = msg.fields()
        fields["retransmit"] = retransmit
        fields["src"] = src
        fields["dst"] = dst
        self.ep.emit_fields(event, fields)

    # the task managers' host (proto.taskmgr.Host)
    @property
    def rng(self) -> random.Random:
        return self.ep.rng

    def emit(self, event: EventKind) -> None:
        self.ep.emit(event)

    def retransmit_schedule(self) -> RetransmitSchedule:
        return self.settings.retransmit

    def arm_retransmit(self, sa: IkeSa, at: float, msg_id: int, n: int, generation: int) -> None:
        self.ep.schedule(at, self.on_retransmit_timer, sa.uid, msg_id, n, generation)

    def send_message(self, sa: IkeSa, msg: Message, retransmit: int) -> None:
        self.emit_message(MessageSent, msg, retransmit, src=sa.local[0], dst=sa.remote[0])
        keys = sa.wire_keys() if msg.encrypted and sa.keys is not None else None
        self.ep.send(Datagram(sa.local[0], sa.local[1], sa.remote[0], sa.remote[1], msg, retransmit, keys))

    def emit_sa(self, sa: IkeSa, event: SaEvent) -> None:
        """Report ``event`` as an event of the IKE SA ``sa``."""
        self.ep.emit(event, {"ike_version": 2, **sa.label()})

    def verify_peer(self, sa: IkeSa, idp: ID, auth: AUTH, of_initiator: bool) -> str | None:
        """None if the peer's identity and AUTH verify, else the reason why not."""
        s = self.settings
        kind = ID_KINDS.get(idp.id_type, str(idp.id_type))
        shown = Identity(kind, _id_text(kind, idp.data))
        if s.ike.remote_id is not None and (s.ike.remote_id.id_type, s.ike.remote_id.data) != (idp.id_type, idp.data):
            return f"peer identity {shown.kind}:{shown} does not match configured remote_id " \
                   f"{s.ike.remote_id.kind}:{s.ike.remote_id}"
        if auth.method != AuthMethod.SHARED_KEY_MIC:
            return f"unsupported AUTH method {auth.method}"
        if sa.auth_octets(of_initiator, idp.body, s.ike.psk) != auth.data:
            return "AUTH payload does not verify: the pre-shared keys differ"
        sa.peer_id = shown
        return None

    def ike_established(self, sa: IkeSa, now: float) -> None:
        """IKE_AUTH completed: a new IKE SA with the peer."""
        self.half_open.pop((sa.spi_i, sa.remote[0]), None)
        self.attempts = 0
        assert sa.proposal is not None
        self.emit_sa(sa, IkeSaEstablished(initiator=sa.initiator, proposal=str(sa.proposal),
                                          local_id=str(self.settings.local_identity), remote_id=str(sa.peer_id)))
        self.trap_armed = False
        self.became_established(sa, now)

    def became_established(self, sa: IkeSa, now: float) -> None:
        """The one place where an IKE SA becomes established, whatever made it (IKE_AUTH, a
        rekey initiated by either side, the SA kept after a rekey collision, a new SA after a
        restart): it is usable, its lifetime starts and its dead peer detection is armed
        (strongSwan ike_sa.c ``set_state``: entering IKE_ESTABLISHED schedules the rekey /
        delete jobs and the first DPD check of the SA, ``send_dpd``)."""
        sa.move(IkeInput.ESTABLISH, self.ike_fx, now)  # established_at, DPD, lifetimes: the row's actions

    def on_handover_job(self, now: float, uid: int) -> None:
        """The exchanges an IKE rekey moved to the new SA start (``create_child.hand_over``, handover
        ``job``)."""
        sa = self.sas.get(uid)
        if sa is not None and sa.alive:
            sa.tm.initiate(now)

    def fail(self, sa: IkeSa, phase: str, notify: str, reason: str, defer: bool = False,
             notify_peer: bool = False) -> None:
        """The IKE SA cannot be set up. ``defer``: destroy after our response is sent;
        ``notify_peer``: tell the peer in an INFORMATIONAL first (RFC 7296 2.21.2)."""
        self.emit_sa(sa, NegotiationFailed(phase=phase, notify=notify, reason=reason))
        if defer:
            self.mark_deleting(sa, notify.lower())
        elif notify_peer and sa.keys is not None:
            sa.move(IkeInput.DELETE, self.ike_fx, self.ep.now)
            sa.tm.queue_task(Informational(self, "auth_failed_notify", (N(Notify.AUTHENTICATION_FAILED),),
                                               lambda s, r, t: self.destroy(s, notify.lower(), t)), self.ep.now)
        else:
            self.destroy(sa, notify.lower(), self.ep.now)

    def mark_deleting(self, sa: IkeSa, reason: str) -> None:
        """Destroy the SA once the response being built has been sent."""
        sa.delete_reason = reason
        sa.move(IkeInput.DELETE, self.ike_fx, self.ep.now)

    def after_response(self, sa: IkeSa, response: Message, now: float) -> None:
        if sa.state is IkeState.DELETING and sa.delete_reason is not None:
            self.destroy(sa, sa.delete_reason, now)

    def setup_timed_out(self, sa: IkeSa, now: float) -> None:
        self.destroy(sa, "retransmit_timeout", now)
        if not sa.initiator:
            return
        self.attempts += 1
        tries = self.settings.keyingtries
        if tries == 0 or self.attempts < tries:
            self.ep.emit(NegotiationRetry(attempt=self.attempts + 1, keyingtries="forever" if tries == 0 else tries))
            self.initiate(now)

    # --- data plane interface (proto.traffic) ----------------------------------------------
    def child_sas(self) -> list[ChildSa]:
        return self.children.all()

    def negotiating(self) -> bool:
        if self.children.creating:
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
        self.children.creating = True
        ike.tm.queue_task(ChildCreate(self), now)

    def on_child_volume(self, child: ChildSa, kind: str, by: str, now: float) -> None:
        self.children.limit_reached(child, kind, by, now)

    # --- the data plane reports traffic (proto.traffic): DPD's inputs ----------------------
    def trapped(self) -> bool:
        """A dead peer's SAs went with action trap/hold: traffic renegotiates them."""
        return self.trap_armed

    def _dpd_targets(self, child: ChildSa | None, flowing: bool | None) -> list[IkeSa]:
        if child is not None and flowing is not False:
            sa = self.sas.get(child.ike_uid)
            return [sa] if sa is not None and sa.alive else []
        return [sa for sa in self.sas.values() if sa.alive]

    def on_esp_outbound(self, child: ChildSa | None, now: float, flowing: bool | None) -> None:
        """A packet leaves on ``child`` (flowing None), or fluid outbound traffic starts or stops:
        the on-demand worry trigger (RFC 3706 5.3)."""
        if flowing is not None:
            self.liveness.out_flowing = flowing
        for sa in self._dpd_targets(child, flowing):
            self.liveness.traffic(sa, now, flowing)

    def on_esp_inbound(self, child: ChildSa | None, now: float, flowing: bool | None) -> None:
        """A packet arrived on ``child`` (flowing None), or fluid inbound traffic starts or stops:
        inbound ESP is a sign of life (swanctl.conf dpd_delay)."""
        if flowing is not None:
            self.liveness.in_flowing = flowing
        for sa in self._dpd_targets(child, flowing):
            if flowing is None:
                self.liveness.esp_inbound(sa, now)
            else:
                self.liveness.esp_flowing(sa, flowing, now)

    def dpd_steady(self, children: Sequence[ChildSa]) -> tuple[float, float, bool] | None:
        """Whether a row of ESP packets on ``children`` (each a packet for the hooks above)
        can be fed to dead peer detection as one (``on_esp_rows``): None if not (the
        packets feed different IKE SAs, or the machine's next input may act); else what
        ``Liveness.steady`` says of the one IKE SA they feed."""
        targets = [self._dpd_targets(c, None) for c in children]
        if any(x != targets[0] for x in targets[1:]):
            return None
        if not targets or not targets[0]:
            return (-math.inf, math.inf, False)
        return self.liveness.steady(targets[0][0])

    def on_esp_rows(self, children: Sequence[ChildSa], n_in: int, t_in: float, n_out: int, t_out: float,
                    out_last: bool, first_in: float | None = None, first_out: float | None = None) -> None:
        """``n_in`` packets arrived and ``n_out`` left on ``children`` (the latest at ``t_in`` /
        ``t_out``, the first at ``first_in`` / ``first_out``, the very last an outbound one if
        ``out_last``), a row ``dpd_steady`` allowed: the same as one ``on_esp_inbound`` /
        ``on_esp_outbound`` call each."""
        child = children[0]
        if child is None:
            for sa in self._dpd_targets(None, None):
                self.liveness.esp_rows(sa, n_in, t_in, n_out, t_out, out_last, first_in, first_out)
            return
        sa = self.sas.get(child.ike_uid)  # ``_dpd_targets`` of one packet on ``child``
        if sa is not None and sa.state is not IkeState.DESTROYED and sa.dpd is not None:
            self.liveness.esp_rows(sa, n_in, t_in, n_out, t_out, out_last, first_in, first_out)

    def dpd_timer_idle(self, fn: Any, args: tuple[Any, ...], now: float) -> bool | None:
        """Of a timer job ``(fn, args)`` due at ``now``: None if it is not dead peer
        detection's; True if running it would only re-arm it (a stale hint, or an SA gone);
        False otherwise."""
        if fn != self.liveness.on_timer:
            return None
        sa = self.sas.get(args[0])
        if sa is None or not sa.alive or sa.dpd is None:
            return True
        return sa.dpd.stale_timer(now)

    def timer_noop(self, fn: Any, args: tuple[Any, ...], now: float) -> bool:
        """Whether running the timer job ``(fn, args)`` at ``now`` would do nothing at all: a
        CHILD SA's lifetime job whose SA is gone (``ChildSas.on_limit_timer`` finds no SA), a
        retransmission hint whose request was answered, abandoned or superseded, or whose IKE
        SA is gone (``TaskManager.on_retransmit_timer`` finds it not current), or dead peer
        detection's job of an IKE SA gone (rekeyed or deleted: ``Liveness.on_timer`` finds
        none). Such a job stays a no-op (uids and hints' generations are never reused); the
        array traffic path runs a window across it (sim/node.py ``PeerNode.timer_idle``)."""
        if fn == self.liveness.on_timer:
            sa = self.sas.get(args[0])
            return sa is None or not sa.alive
        if fn == self.children.on_limit_timer:
            return args[0] not in self.children.by_uid
        if fn == self.on_retransmit_timer:
            sa = self.sas.get(args[0])
            if sa is None or not sa.alive:
                return True
            tm = sa.tm
            msg = tm.request.message
            return tm.active is None or msg is None or msg.msg_id != args[1] or not tm.request.current(args[3], args[2])
        return False

    def timer_removes(self, fn: Any, args: tuple[Any, ...], now: float) -> ChildSa | None:
        """The CHILD SA that running the timer job ``(fn, args)`` at ``now`` would only remove
        (event ``child_sa_deleted``, no message, no other change): a rekeyed SA whose inbound
        half was kept for delete_rekeyed_delay (``ChildSas.on_rekeyed_cleanup``); else None.
        The array traffic path runs a window across it where the window's flows do not use
        that SA (sim/node.py ``PeerNode.timer_idle``)."""
        if fn != self.children.on_rekeyed_cleanup:
            return None
        child = self.children.by_uid.get(args[0])
        if child is None or child.state is not ChildState.REKEYED or self.sas.get(child.ike_uid) is None:
            return None
        return child

    def exchange_gave_up(self, sa: IkeSa, now: float) -> None:
        """A request of an established IKE SA went unanswered through its whole retransmission
        schedule: the peer is unreachable. With DPD on this side its action applies (strongSwan
        re-establishes per dpd_action after a retransmit timeout); without, the SAs go."""
        if sa.dpd is not None:
            sa.dpd_cause = "exchange_gave_up"
            sa.dpd.fail(now)
            self.liveness.dead(sa, now)
        else:
            self.destroy(sa, "retransmit_timeout", now)

    def peer_dead(self, sa: IkeSa, action: str, now: float) -> None:
        """DPD gave up on the peer: drop its SAs without a DELETE, then apply ``action``."""
        self.destroy(sa, "dpd", now)
        if action == "restart":
            self.initiate(now)
        elif action in ("trap", "hold"):
            self.trap_armed = True

    def has_other_sa_with(self, sa: IkeSa) -> bool:
        return any(o is not sa and o.alive and o.established_at is not None and o.remote[0] == sa.remote[0]
                   for o in self.sas.values())

    def initial_contact(self, sa: IkeSa, now: float) -> None:
        """RFC 7296 2.4: INITIAL_CONTACT - the peer has no other SA with us; drop stale ones."""
        for other in list(self.sas.values()):
            if other is not sa and other.alive and other.remote[0] == sa.remote[0]:
                self.destroy(other, "initial_contact", now)

    def destroy(self, sa: IkeSa, reason: str, now: float) -> None:
        if not sa.alive:
            return
        sa.delete_reason = reason
        sa.move(IkeInput.DESTROY, self.ike_fx, now)  # children removed, ike_sa_deleted, aborted, forgotten

    def _remove_children(self, sa: IkeSa, now: float) -> None:
        """``IkeAction.REMOVE_CHILDREN``: the CHILD SAs go with their IKE SA (RFC 7296 1.4.1)."""
        assert sa.delete_reason is not None
        for c in list(sa.children):
            self.children.remove(sa, c, sa.delete_reason, now)

    def _report_deleted(self, sa: IkeSa, now: float) -> None:
        """``IkeAction.REPORT_DELETED``: only an SA that was established was announced."""
        if sa.established_at is not None:
            assert sa.delete_reason is not None
            self.emit_sa(sa, IkeSaDeleted(reason=sa.delete_reason))

    def _forget(self, sa: IkeSa, now: float) -> None:
        """``IkeAction.FORGET``: the destroyed SA leaves the engine's tables."""
        self.by_spi.pop(sa.my_spi, None)
        self.half_open.pop((sa.spi_i, sa.remote[0]), None)
        del self.sas[sa.uid]

    def delete_ike(self, sa: IkeSa, reason: str, now: float) -> None:
        """Delete an IKE SA and its children, telling the peer (INFORMATIONAL with D)."""
        if not sa.alive:
            return
        sa.move(IkeInput.DELETE, self.ike_fx, now)
        sa.tm.queue_task(Informational(self, "ike_delete", delete_ike_payload(),
                                           lambda s, r, t: self.destroy(s, reason, t)), now)

    def close_all(self, reason: str, now: float) -> None:
        """The connection is deleted: each established IKE SA is deleted with an INFORMATIONAL
        [ D ] (RFC 7296 1.4.1), queued behind an exchange in flight (window size 1, 2.3) and
        retransmitted like any request; it is gone when answered or when the retransmissions
        give up (``closing`` until then). SAs not yet established are dropped at once."""
        for sa in list(self.sas.values()):
            if sa.usable:
                self.delete_ike(sa, reason, now)
            elif sa.alive and sa.state is not IkeState.DELETING:
                self.destroy(sa, reason, now)

    def owns(self, message: Any) -> bool:
        if not isinstance(message, Message) or (message.exchange is Exchange.IKE_SA_INIT and not message.response):
            return False
        sa = self.by_spi.get(message.spi_r if message.initiator else message.spi_i)
        return sa is not None and sa.alive

    def closing(self) -> bool:
        return any(sa.alive for sa in self.sas.values())

    # --- status ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        ikes = [sa for sa in self.sas.values() if sa.alive]
        established = [sa for sa in ikes if sa.usable]
        children = [c for sa in established for c in sa.children if c.active]
        if children:
            status = "ipsec_sa_established"
        elif established:
            status = "ipsec_sa_not_established" if any(sa.child_failed for sa in established) else "ike_sa_established"
        else:
            status = "ike_sa_not_established"
        return {
            "status": status,
            "ike_sas": [{**sa.label(), "state": sa.state.value, "initiator": sa.initiator,
                         "proposal": str(sa.proposal) if sa.proposal else None,
                         "established_at": sa.established_at} for sa in ikes],
            "child_sas": [{**c.describe(), "established_at": c.established_at, **c.counters} for c in children],
        }

    def has_child_sas(self) -> bool:
        """Whether ``status()`` lists a CHILD SA, without describing them."""
        return any(c.active for sa in self.sas.values() if sa.alive and sa.usable for c in sa.children)


def _id_text(kind: str, data: bytes) -> str:
    if kind == "ipv4" and len(data) == 4:
        return ".".join(str(b) for b in data)
    try:
        return data.decode()
    except UnicodeDecodeError:
        return data.hex()


def _mark_established(sa: IkeSa, now: float) -> None:
    """``IkeAction.MARK_ESTABLISHED``."""
    sa.established_at = now


def _drop_queued(sa: IkeSa, now: float) -> None:
    """``IkeAction.DROP_QUEUED``: exchanges not yet started will not run on a deleting SA."""
    sa.tm.drop_queued()


def _abort_exchanges(sa: IkeSa, now: float) -> None:
    """``IkeAction.ABORT_EXCHANGES``: a destroyed SA sends nothing more."""
    sa.tm.abort()
