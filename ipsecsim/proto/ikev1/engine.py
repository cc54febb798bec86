"""The IKEv1 engine of one peer: its ISAKMP SAs and IPsec SAs, dispatch of inbound
datagrams, timers, events and status (RFC 2408, RFC 2409, RFC 2407).

An inbound datagram is decoded from its bytes (``Message.raw``) with this peer's own keys:
the sender's payload objects are never trusted. It is matched to an ISAKMP SA by this
side's cookie (a first phase 1 message, with a zero responder cookie, creates a responder
SA) and handed to phase 1 (``phase1.py``), quick mode (``quickmode.py``) or informational
(``informational.py``) processing. IPsec SAs live in the engine, not in the ISAKMP SA that
negotiated them, so they outlive it. Lifetimes and rekeying: ``expiry.py``; dead peer
detection: ``liveness.py``. Every event carries ``ike_version: 1``.

For the data plane (``proto.traffic``) the engine offers ``child_sas()``, ``negotiating()``,
``acquire(now)``, ``on_child_volume(...)``, ``trapped()`` (traffic re-triggers negotiation
after a DPD action trap / hold) and the DPD hooks ``on_esp_inbound`` / ``on_esp_outbound``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .. import kdf, natt
from ..events import (
    ChildSaDeleted,
    ChildSaEstablished,
    IkeSaDeleted,
    IkeSaEstablished,
    MessageIgnored,
    MessageReceived,
    MessageSent,
    NegotiationFailed,
    NegotiationRetry,
    SaEvent,
)
from ..fsm import Handlers
from ..keylog import child_records
from ..proposals import Protocol
from ..sa import CHILD_SA, ChildAction, ChildInput, ChildSa, ChildState, stop_outbound
from . import doi, wire
from .expiry import SaExpiry
from .flight import Flight
from .informational import Informational
from .isakmpsa import ISAKMP_SA, IsakmpAction, IsakmpInput, IsakmpSa, IsakmpState
from .liveness import Liveness
from .message import PHASE1_EXCHANGES, Exchange, Message, N, Notify
from .phase1 import Phase1
from .quickmode import QuickMode, QuickModes

if TYPE_CHECKING:
    from ..endpoint import Endpoint
    from ..onwire import Datagram

NotifyHandler = Callable[[IsakmpSa, N, float], None]
MODE_OF = {Exchange.IDENTITY_PROTECTION: "main", Exchange.AGGRESSIVE: "aggressive"}


class Ikev1Engine:
    version = 1

    def __init__(self, ep: Endpoint):
        self.ep = ep
        self.settings = ep.settings
        self.sas: dict[int, IsakmpSa] = {}
        self.by_cookie: dict[bytes, IsakmpSa] = {}
        self.half_open: dict[tuple[bytes, str], IsakmpSa] = {}
        self.children: list[ChildSa] = []
        """Every IPsec SA pair this peer installed, independent of the ISAKMP SAs."""
        self.child_label: dict[int, dict[str, str]] = {}
        """Cookies of the ISAKMP SA that created each IPsec SA (by ChildSa uid), for events."""
        self.attempts = 0
        self.phase1 = Phase1(self)
        self.quick = QuickModes(self)
        self.info = Informational(self)
        self.notify_handlers: dict[int, NotifyHandler] = {}
        """Handlers for status notifies received in INFORMATIONAL exchanges."""
        self._rx_sa: IsakmpSa | None = None
        """The ISAKMP SA of the datagram being processed (``received`` follows its NAT port)."""
        self.keepalives = natt.Keepalives(ep, lambda: natt.keepalive_path(self.sas.values()))
        self.gone: OrderedDict[bytes, str] = OrderedDict()
        """Recently destroyed ISAKMP SAs by CKY-I: why a late message finds no SA."""
        self.expiry = SaExpiry(self)
        self.liveness = Liveness(self)
        self.trap_armed = False
        """A dead peer's SAs were deleted with action trap/hold: traffic renegotiates them."""
        self.isakmp_fx: Handlers[IsakmpAction, IsakmpSa] = ISAKMP_SA.handlers({
            IsakmpAction.MARK_ESTABLISHED: _mark_established,
            IsakmpAction.LEAVE_HALF_OPEN: self._leave_half_open,
            IsakmpAction.RESET_ATTEMPTS: self._reset_attempts,
            IsakmpAction.REPORT_ESTABLISHED: self._report_established,
            IsakmpAction.REPORT_DELETED: self._report_deleted,
            IsakmpAction.ABANDON_REKEYS: self._abandon_rekeys,
            IsakmpAction.HAND_OVER_DPD: self.liveness.handover,
            IsakmpAction.NOTE_PHASE1_GONE: self._note_phase1_gone,
            IsakmpAction.STOP_DPD: _stop_dpd,
            IsakmpAction.STOP_FLIGHTS: _stop_flights,
            IsakmpAction.FORGET: self._forget,
        })
        """What the rows of ``ISAKMP_SA`` do to this engine's ISAKMP SAs (``IsakmpSa.move``)."""
        self.child_fx: Handlers[ChildAction, ChildSa] = CHILD_SA.handlers({
            ChildAction.STOP_OUTBOUND: stop_outbound,
            ChildAction.REPORT_DELETED: self._report_child_deleted,
            ChildAction.FORGET: self._forget_child,
        })
        """What the rows of ``CHILD_SA`` do to this engine's IPsec SAs (``ChildSa.move``)."""

    # --- entry points ----------------------------------------------------------------------
    def start(self, now: float) -> None:
        if self.settings.start == "initiate":
            self.initiate(now)

    def initiate(self, now: float, rekey_of: IsakmpSa | None = None) -> IsakmpSa:
        """Start phase 1 (main or aggressive mode per ``ike.mode``) with the configured peer;
        ``rekey_of``: the ISAKMP SA it re-authenticates (replaces)."""
        s = self.settings
        sa = self._new_sa(True, s.ike.mode, self.ep.random_spi(8), bytes(8), (s.remote_address, s.remote_port), now)
        sa.rekey_of = rekey_of.uid if rekey_of is not None else None
        self.phase1.start(sa, now)
        return sa

    def usable_sa(self) -> IsakmpSa | None:
        """The newest established ISAKMP SA with the peer, for quick modes."""
        ok = [sa for sa in self.sas.values() if sa.established and not sa.superseded]
        return max(ok, key=lambda sa: (sa.established_at or 0.0, sa.uid)) if ok else None

    def phase1_running(self) -> IsakmpSa | None:
        """A phase 1 this side initiated that is still under way."""
        return next((sa for sa in self.sas.values() if sa.initiator and sa.state is IsakmpState.CONNECTING), None)

    def receive(self, dgram: Datagram, now: float) -> None:
        msg = dgram.message
        raw = getattr(msg, "raw", b"") if getattr(msg, "version", None) == 1 else b""
        if not raw:
            self.ep.emit(MessageIgnored(reason="not an IKEv1 message", message={"src": dgram.src}))
            return
        try:
            hdr = wire.decode_header(raw)
        except wire.WireError as e:
            self.ep.emit(MessageIgnored(reason=f"not a valid ISAKMP message: {e}", message={"src": dgram.src}))
            return
        sa = self._lookup(hdr)
        if sa is None and hdr.exchange in PHASE1_EXCHANGES and not any(hdr.cky_r) and hdr.msg_id == 0:
            sa = self.half_open.get((hdr.cky_i, dgram.src))
            if sa is None or not sa.alive:
                sa = self._new_responder(hdr, dgram, now)
        if sa is None:
            why = self.gone.get(hdr.cky_i)
            self.ignore(hdr, dgram, "unknown ISAKMP SA" + (f" ({why})" if why else ""))
            return
        self._rx_sa = sa
        if hdr.exchange in PHASE1_EXCHANGES and hdr.msg_id == 0:
            self.phase1.receive(sa, hdr, raw, dgram, now)
        elif hdr.exchange == Exchange.QUICK_MODE:
            self.quick.receive(sa, hdr, raw, dgram, now)
        elif hdr.exchange == Exchange.INFORMATIONAL:
            self.info.receive(sa, hdr, raw, dgram, now)
        else:
            self.ignore(hdr, dgram, f"unsupported exchange type {hdr.exchange}")

    def _lookup(self, hdr: wire.Header) -> IsakmpSa | None:
        sa = self.by_cookie.get(hdr.cky_i)
        if sa is not None and sa.initiator and (not any(sa.cky_r) or sa.cky_r == hdr.cky_r):
            return sa
        sa = self.by_cookie.get(hdr.cky_r)
        if sa is not None and not sa.initiator and sa.cky_i == hdr.cky_i:
            return sa
        return None

    def _new_sa(self, initiator: bool, mode: str, cky_i: bytes, cky_r: bytes, remote: tuple[str, int],
                now: float) -> IsakmpSa:
        s = self.settings
        sa = IsakmpSa(self.ep.next_uid(), initiator, mode, cky_i, cky_r, (s.address, s.port), remote, now)
        sa.p1 = Flight(self, sa, 0, initiator, f"{mode}_mode",
                       lambda t, n: self.phase1.gave_up(sa, t, n))
        self.sas[sa.uid] = sa
        self.by_cookie[sa.my_cookie] = sa
        return sa

    def _new_responder(self, hdr: wire.Header, dgram: Datagram, now: float) -> IsakmpSa:
        sa = self._new_sa(False, MODE_OF[Exchange(hdr.exchange)], hdr.cky_i, self.ep.random_spi(8),
                          (dgram.src, dgram.sport), now)
        self.half_open[(hdr.cky_i, dgram.src)] = sa
        self.ep.schedule(now + self.settings.ike.half_open_timeout, self.on_half_open_timer, sa.uid)
        return sa

    # --- timers ----------------------------------------------------------------------------
    def on_retransmit_timer(self, now: float, uid: int, mid: int, generation: int, n: int) -> None:
        sa = self.sas.get(uid)
        if sa is None or not sa.alive:
            return
        flight = sa.p1 if mid == 0 else (sa.quick[mid].flight if mid in sa.quick else None)
        if flight is not None:
            flight.on_timer(now, generation, n)

    def on_half_open_timer(self, now: float, uid: int) -> None:
        """strongSwan's half_open_timeout also guards IKEv1 responders (task_manager_v1)."""
        sa = self.sas.get(uid)
        if sa is None or not sa.alive or sa.established_at is not None:
            return
        if sa.failed is None:
            why = f"half-open ISAKMP SA expired: phase 1 not completed within {self.settings.ike.half_open_timeout:g} s"
            if sa.undecryptable:
                why += (f"; {sa.undecryptable} message(s) from the peer could not be decrypted: the pre-shared keys "
                        f"probably differ")
            self.phase1_failed(sa, None, why)
        self.destroy(sa, "half_open_timeout", now)

    # --- services for the exchange modules -------------------------------------------------
    def new_mid(self, sa: IsakmpSa) -> int:
        """A fresh random, non-zero message id for a quick mode or informational exchange."""
        return sa.mids.new(self.ep.rng)

    def seal(self, sa: IsakmpSa, msg: Message, chain: bool = True) -> Message:
        """Encode ``msg``; an encrypted one with the IV of its exchange, which then moves on
        to the last ciphertext block (not for one-message INFORMATIONAL exchanges)."""
        if not msg.encrypted:
            return wire.seal(msg)
        assert sa.keys is not None and sa.iv is not None
        sealed = wire.seal(msg, sa.keys.encr, sa.keys.enc_key, sa.iv.iv(msg.msg_id))
        if chain:
            sa.iv.advance(msg.msg_id, sealed.raw)
        return sealed

    def open(self, sa: IsakmpSa, hdr: wire.Header, raw: bytes, response: bool) -> Message:
        """Decode an inbound message with this side's keys and the IV of its exchange;
        WireError when it is malformed or does not decrypt to valid payloads."""
        if hdr.encrypted:
            if sa.keys is None or sa.iv is None:
                raise wire.WireError("encrypted message, but no keys available")
            msg = wire.decode(raw, sa.keys.encr, sa.keys.enc_key, sa.iv.iv(hdr.msg_id))
        else:
            msg = wire.decode(raw)
        return Message(msg.exchange, msg.cky_i, msg.cky_r, msg.msg_id, response, msg.payloads, msg.encrypted,
                       raw=msg.raw, plain=msg.plain, bodies=msg.bodies)

    def transmit(self, sa: IsakmpSa, msg: Message, retransmit: int) -> None:
        from ..onwire import Datagram
        self.ep.emit(MessageSent(**msg.fields(), retransmit=retransmit, src=sa.local[0], dst=sa.remote[0]))
        keys = sa.key_record() if msg.encrypted else None  # the sender's key, for packet traces
        self.ep.send(Datagram(sa.local[0], sa.local[1], sa.remote[0], sa.remote[1], msg, retransmit, keys))

    def received(self, msg: Message, dgram: Datagram) -> None:
        self.ep.emit(MessageReceived(**msg.fields(), retransmit=dgram.retransmit, src=dgram.src, dst=dgram.dst))
        sa = self._rx_sa
        if msg.encrypted and sa is not None:  # it decrypted: follow the peer to 4500 / its new NAT port
            natt.on_authenticated(sa, dgram, lambda event: self.emit_sa(sa, event))
            self.keepalives.start(self.ep.now)
        if msg.encrypted and msg.exchange != Exchange.INFORMATIONAL:
            self.liveness.heard(self.ep.now)  # it decrypted under an ISAKMP SA: the peer is alive

    def ignore_msg(self, msg: Message, dgram: Datagram, reason: str, **extra: Any) -> None:
        """A decoded message that is dropped (e.g. a DPD message this side does not accept)."""
        self.ep.emit(MessageIgnored(reason=reason, message={**extra, **msg.fields(), "retransmit": dgram.retransmit,
                                                            "src": dgram.src}))

    # --- NAT traversal (proto/natt.py, RFC 3947) ---------------------------------------------
    def nat_float(self, sa: IsakmpSa) -> None:
        """After the NAT-D check of the initiator: float to UDP 4500 if a NAT was found."""
        if sa.nat_local or sa.nat_remote:
            natt.float_ports(sa, lambda event: self.emit_sa(sa, event))
            self.keepalives.start(self.ep.now)

    def encap_mode(self, sa: IsakmpSa) -> int:
        """The quick mode Encapsulation Mode: tunnel, UDP-encapsulated after NAT traversal."""
        return doi.ENCAP_UDP_TUNNEL if sa.encap is not None else doi.ENCAP_TUNNEL

    def ignore(self, hdr: wire.Header, dgram: Datagram, reason: str) -> None:
        self.ep.emit(MessageIgnored(reason=reason, message={**hdr.fields(), "retransmit": dgram.retransmit,
                                                            "src": dgram.src}))

    def undecryptable(self, sa: IsakmpSa, hdr: wire.Header, dgram: Datagram, error: str,
                      failure: str | None = None) -> None:
        """A message for ``sa`` that is malformed or does not decrypt with our key.

        Like strongSwan (task_manager_v1 ``parse_message``), answer with a PAYLOAD_MALFORMED
        notify, except to an INFORMATIONAL (no notify war); ``failure`` is the reason of a
        phase 1 failure to report the first time."""
        sa.undecryptable += 1
        what = "does not decrypt to valid payloads with our key" if hdr.encrypted else "malformed"
        self.ignore(hdr, dgram, f"{what} ({error})")
        if hdr.exchange == Exchange.INFORMATIONAL:
            return
        if failure is not None and sa.failed is None:
            self.phase1_failed(sa, Notify.PAYLOAD_MALFORMED.name, failure)
        self.info.notify(sa, Notify.PAYLOAD_MALFORMED, self.ep.now)

    def emit_sa(self, sa: IsakmpSa, event: SaEvent) -> None:
        """Report ``event`` as an event of the ISAKMP SA ``sa``."""
        self.ep.emit(event, {"ike_version": 1, **sa.label()})

    def phase1_failed(self, sa: IsakmpSa, notify: str | None, reason: str) -> None:
        sa.failed = notify or "timeout"
        self.emit_sa(sa, NegotiationFailed(phase="ike", notify=notify, reason=reason))

    def child_failed(self, sa: IsakmpSa, notify: str | None, reason: str, rekey: bool = False) -> None:
        """A quick mode failed; ``rekey``: ours, replacing an IPsec SA (phase ``child_rekey``)."""
        sa.child_failed = notify or "timeout"
        self.emit_sa(sa, NegotiationFailed(phase="child_rekey" if rekey else "child", notify=notify, reason=reason))

    def established(self, sa: IsakmpSa, now: float, initial_contact: bool = False) -> None:
        """Phase 1 is complete; ``initial_contact``: the peer sent INITIAL-CONTACT."""
        sa.move(IsakmpInput.ESTABLISH, self.isakmp_fx, now)  # established_at, ike_sa_established ...
        if initial_contact:
            self.initial_contact(sa, now)
        self.trap_armed = False
        self.expiry.isakmp_up(sa, now, initial_contact)

    def _leave_half_open(self, sa: IsakmpSa, now: float) -> None:
        self.half_open.pop((sa.cky_i, sa.remote[0]), None)

    def _reset_attempts(self, sa: IsakmpSa, now: float) -> None:
        self.attempts = 0

    def _report_established(self, sa: IsakmpSa, now: float) -> None:
        assert sa.proposal is not None
        self.emit_sa(sa, IkeSaEstablished(initiator=sa.initiator, proposal=str(sa.proposal),
                                          local_id=str(self.settings.local_identity), remote_id=str(sa.peer_id),
                                          mode=sa.mode, life_time=sa.life.seconds))

    def has_contact(self, sa: IsakmpSa) -> bool:
        """Another established ISAKMP SA or a live IPsec SA with this peer exists."""
        return any(o is not sa and o.established for o in self.sas.values()) or any(
            c.active for c in self.children)

    def initial_contact(self, sa: IsakmpSa, now: float) -> None:
        """RFC 2407 4.6.3.3 INITIAL-CONTACT: the peer rebooted; drop the established SAs we
        still hold with it (negotiations in progress, e.g. our own simultaneous one, stay)."""
        for other in list(self.sas.values()):
            if other is not sa and other.established and other.remote[0] == sa.remote[0]:
                self.destroy(other, "initial_contact", now)
        for c in list(self.children):
            if c.state is not ChildState.DELETED and c.ike_uid != sa.uid:
                self._child_gone(c, "initial_contact")

    def install_child(self, sa: IsakmpSa, qm: QuickMode, now: float) -> ChildSa:
        """KEYMAT per SPI (RFC 2409 5.5): the inbound SA is keyed with our own SPI, the
        outbound one with the peer's; encryption key (with salt) first, then integrity."""
        assert sa.keys is not None and qm.proposal is not None
        p = qm.proposal
        encr, integ = p.encr[0], (p.integ[0] if p.integ else None)
        e_len, a_len = kdf.encr_key_bytes(encr), (integ.key_bytes if integ else 0)
        spi_in, spi_out = (qm.spi_i, qm.spi_r) if qm.initiator else (qm.spi_r, qm.spi_i)
        k_in = sa.keys.keymat(Protocol.ESP, spi_in, qm.nonce_i, qm.nonce_r, e_len + a_len, qm.g_qm)
        k_out = sa.keys.keymat(Protocol.ESP, spi_out, qm.nonce_i, qm.nonce_r, e_len + a_len, qm.g_qm)
        local, remote = (qm.tsi, qm.tsr) if qm.initiator else (qm.tsr, qm.tsi)
        child = ChildSa(self.ep.next_uid(), sa.uid, spi_in, spi_out, p, (local,), (remote,), qm.initiator, now,
                        encr_key_in=k_in[:e_len], integ_key_in=k_in[e_len:], encr_key_out=k_out[:e_len],
                        integ_key_out=k_out[e_len:], nonces=(qm.nonce_i, qm.nonce_r),
                        life_time=float(qm.life.seconds) if qm.life.seconds is not None else None,
                        life_bytes=qm.life.life_bytes, life_packets=self.settings.child.life_packets)
        self.children.append(child)
        self.child_label[child.uid] = sa.label()
        child.encap = sa.encap  # ESP in UDP after NAT traversal (RFC 3948)
        encap = (sa.local[1], sa.remote[1]) if sa.encap is not None else None
        self.ep.log_keys(*child_records(child, sa.local[0], sa.remote[0], now, encap,  # for --keys
                                        self.ep.settings.child.sha256_96))
        if not self.expiry.installed(child, qm.rekey_of, now):
            self.emit_sa(sa, ChildSaEstablished(**child.describe(), msg_id=qm.mid, life_time=child.life_time,
                                                life_bytes=child.life_bytes, pfs=qm.g_qm is not None))
        return child

    def _child_gone(self, c: ChildSa, reason: str) -> None:
        c.removed = reason
        c.move(ChildInput.DELETE, self.child_fx, self.ep.now)  # outbound off, child_sa_deleted, forgotten

    def _report_child_deleted(self, c: ChildSa, now: float) -> None:
        assert c.removed is not None
        self.ep.emit(ChildSaDeleted(ike_version=1, **self.child_label.get(c.uid, {}), spi_in=c.spi_in.hex(),
                                    spi_out=c.spi_out.hex(), reason=c.removed))

    def _forget_child(self, c: ChildSa, now: float) -> None:
        if c in self.children:
            self.children.remove(c)
        self.expiry.gone(c)
        self.child_label.pop(c.uid, None)  # bounded: only IPsec SAs not yet deleted keep their label

    def delete_children_by_peer(self, spis: tuple[bytes, ...]) -> None:
        """The peer deleted IPsec SAs: ``spis`` are its inbound SPIs, our outbound ones. A
        replaced SA goes as ``rekeyed``."""
        for c in list(self.children):
            if c.state is not ChildState.DELETED and c.spi_out in spis:
                self._child_gone(c, "rekeyed" if c.state is ChildState.REKEYED else "deleted_by_peer")

    # --- ending SAs ------------------------------------------------------------------------
    def destroy(self, sa: IsakmpSa, reason: str, now: float) -> None:
        """Forget an ISAKMP SA. Its IPsec SAs stay installed (see isakmpsa.py)."""
        if not sa.alive:
            return
        sa.delete_reason = reason
        sa.move(IsakmpInput.DESTROY, self.isakmp_fx, now)  # reported, rekeys and DPD moved on, forgotten

    def _report_deleted(self, sa: IsakmpSa, now: float) -> None:
        if sa.established_at is not None:
            assert sa.delete_reason is not None
            self.emit_sa(sa, IkeSaDeleted(reason=sa.delete_reason))

    def _abandon_rekeys(self, sa: IsakmpSa, now: float) -> None:
        assert sa.delete_reason is not None
        self.expiry.abandon(sa, sa.delete_reason, now)

    def _note_phase1_gone(self, sa: IsakmpSa, now: float) -> None:
        if sa.initiator and sa.established_at is None:
            self.ep.schedule(now, self.expiry.phase1_gone)  # unless a retry (keyingtries) follows

    def _forget(self, sa: IsakmpSa, now: float) -> None:
        """``IsakmpAction.FORGET``: the destroyed SA leaves the engine's tables."""
        if self.by_cookie.get(sa.my_cookie) is sa:
            del self.by_cookie[sa.my_cookie]
        self.half_open.pop((sa.cky_i, sa.remote[0]), None)
        self.quick.forget(sa)
        del self.sas[sa.uid]
        self.gone[sa.cky_i] = f"deleted at {now:g} s: {sa.delete_reason}"
        while len(self.gone) > 64:
            self.gone.popitem(last=False)
    def setup_timed_out(self, sa: IsakmpSa, now: float) -> None:
        self.destroy(sa, "retransmit_timeout", now)
        if not sa.initiator:
            return
        self.attempts += 1
        tries = self.settings.keyingtries
        if tries == 0 or self.attempts < tries:
            self.ep.emit(NegotiationRetry(attempt=self.attempts + 1, keyingtries="forever" if tries == 0 else tries))
            self.initiate(now)

    def delete_isakmp(self, sa: IsakmpSa, reason: str, now: float) -> None:
        """Delete an ISAKMP SA, telling the peer (INFORMATIONAL [ HASH D ], RFC 2409 5.7).
        The IPsec SAs it negotiated stay installed on both sides."""
        if not sa.alive:
            return
        if sa.keys is not None:
            self.info.delete_isakmp(sa, now)
        self.destroy(sa, reason, now)

    def delete_child(self, child: ChildSa, reason: str, now: float) -> None:
        """Delete an IPsec SA pair, telling the peer through a live ISAKMP SA if there is one
        (INFORMATIONAL [ HASH D ] with our inbound SPI, RFC 2408 3.15)."""
        if child.state is ChildState.DELETED:
            return
        via = self.sas.get(child.ike_uid)
        if via is None or not via.established:
            via = next((s for s in self.sas.values() if s.established), None)
        if via is not None:
            self.info.delete_esp(via, (child.spi_in,), now)
        self._child_gone(child, reason)

    def close_all(self, reason: str, now: float) -> None:
        """The connection is deleted: its IPsec SAs and then its ISAKMP SAs, each with a Delete
        notification while an ISAKMP SA can protect it (RFC 2409 5.7); nothing is retransmitted."""
        for child in list(self.child_sas()):
            self.delete_child(child, reason, now)
        for sa in list(self.sas.values()):
            if sa.established:
                self.delete_isakmp(sa, reason, now)
            else:
                self.destroy(sa, reason, now)

    def owns(self, message: Any) -> bool:
        """IKEv1 deletes are single messages (``close_all`` leaves nothing running)."""
        return False

    def closing(self) -> bool:
        return False

    def peer_dead(self, sa: IsakmpSa, action: str, now: float) -> None:
        """DPD gave up on the peer: drop every SA with it without a Delete, then apply ``action``."""
        for c in list(self.children):
            if c.state is not ChildState.DELETED:
                self._child_gone(c, "dpd")
        for other in list(self.sas.values()):
            if other.remote[0] == sa.remote[0]:
                self.destroy(other, "dpd", now)
        if action == "restart":
            self.initiate(now)
        elif action in ("trap", "hold"):
            self.trap_armed = True

    # --- data plane (proto.traffic) ----------------------------------------------------------
    def child_sas(self) -> list[ChildSa]:
        return list(self.children)

    def negotiating(self) -> bool:
        """An IPsec SA for the policy is being set up (not a rekey: the old SA carries traffic)."""
        if self.phase1_running() is not None:
            return True
        return any(sa.established and self.quick.negotiating(sa) for sa in self.sas.values())

    def acquire(self, now: float) -> None:
        """Traffic needs an IPsec SA: quick mode under the newest ISAKMP SA, or phase 1 first."""
        if self.negotiating():
            return
        sa = self.usable_sa()
        if sa is None:
            self.initiate(now)
        else:
            self.quick.start(sa, now)

    def trapped(self) -> bool:
        return self.trap_armed

    def on_child_volume(self, child: ChildSa, kind: str, by: str, now: float) -> None:
        self.expiry.on_volume(child, kind, by, now)

    def on_esp_inbound(self, child: ChildSa | None, now: float, flowing: bool | None = None) -> None:
        self.liveness.esp_inbound(now, flowing)

    def on_esp_outbound(self, child: ChildSa | None, now: float, flowing: bool | None = None) -> None:
        self.liveness.traffic(now, flowing)

    def dpd_steady(self, children: Sequence[ChildSa]) -> tuple[float, float, bool] | None:
        """Whether a row of ESP packets can be fed to dead peer detection as one
        (``on_esp_rows``); see ``Liveness.steady`` (every packet feeds every machine)."""
        return self.liveness.steady()

    def dpd_timer_idle(self, fn: Any, args: tuple[Any, ...], now: float) -> bool | None:
        """Of a timer job ``(fn, args)`` due at ``now``: None if it is not dead peer
        detection's; True if running it would only re-arm it; False otherwise."""
        if fn != self.liveness.on_timer:
            return None
        return self.liveness.timer_idle(args[0], now)

    def timer_noop(self, fn: Any, args: tuple[Any, ...], now: float) -> bool:
        """Whether running the timer job ``(fn, args)`` at ``now`` would do nothing at all: a
        CHILD SA's lifetime job whose SA is gone (``SaExpiry.on_child_timer`` finds no SA), a
        retransmission hint whose flight was answered, abandoned or superseded, or whose
        ISAKMP SA or exchange is gone (``Flight.on_timer`` finds it not current). Such a job
        stays a no-op (uids and hints' generations are never reused); the array traffic path
        runs a window across it (sim/node.py ``PeerNode.timer_idle``)."""
        if fn == self.expiry.on_child_timer:
            return args[0] not in self.expiry.by_uid
        if fn == self.on_retransmit_timer:
            uid, mid, generation, n = args
            sa = self.sas.get(uid)
            if sa is None or not sa.alive:
                return True
            flight = sa.p1 if mid == 0 else (sa.quick[mid].flight if mid in sa.quick else None)
            return flight is None or not flight.out.current(generation, n)
        return False

    def on_esp_rows(self, children: Sequence[ChildSa], n_in: int, t_in: float, n_out: int, t_out: float,
                    out_last: bool, first_in: float | None = None, first_out: float | None = None) -> None:
        """A row of packets ``dpd_steady`` allowed (the latest and first inbound and outbound
        instants): the same as one hook call each."""
        self.liveness.esp_rows(n_in, t_in, n_out, t_out, out_last, first_in, first_out)

    # --- status ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        ikes = [sa for sa in self.sas.values() if sa.alive]
        established = [sa for sa in ikes if sa.established]
        children = [c for c in self.children if c.active]
        if children:
            status = "ipsec_sa_established"
        elif established:
            status = "ipsec_sa_not_established" if any(sa.child_failed for sa in established) else "ike_sa_established"
        else:
            status = "ike_sa_not_established"
        return {
            "status": status,
            "ike_sas": [sa.describe() for sa in ikes],
            "child_sas": [{**c.describe(), "established_at": c.established_at, "life_time": c.life_time,
                           "life_bytes": c.life_bytes, "ike_sa_alive": c.ike_uid in self.sas}
                          for c in children],
        }

    def has_child_sas(self) -> bool:
        """Whether ``status()`` lists an IPsec SA, without describing them."""
        return any(c.active for c in self.children)


def _mark_established(sa: IsakmpSa, now: float) -> None:
    sa.established_at = now


def _stop_dpd(sa: IsakmpSa, now: float) -> None:
    sa.dpd = None


def _stop_flights(sa: IsakmpSa, now: float) -> None:
    """``IsakmpAction.STOP_FLIGHTS``: phase 1 and quick mode messages are not sent again."""
    sa.p1.stop()
    for qm in sa.quick.values():
        qm.flight.stop()
