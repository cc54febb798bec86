"""The IKEv2 CREATE_CHILD_SA exchange, both roles (strongSwan's child_create, child_rekey and
ike_rekey tasks): new and rekeyed CHILD SAs, IKE SA rekeying, collisions.

Wire narration (RFC 7296 1.3.1 - 1.3.3):

    CREATE_CHILD_SA SK{ N(REKEY_SA), SA, Ni, [KEi], TSi, TSr }  -->     (CHILD SA rekey)
                    <--  SK{ SA, Nr, [KEr], TSi, TSr }  or SK{ N(NO_PROP) } / SK{ N(INVAL_KE) }
    CREATE_CHILD_SA SK{ SA, Ni, KEi }  -->   <--  SK{ SA, Nr, KEr }     (IKE SA rekey)
    INFORMATIONAL   SK{ D }  -->   <--  SK{ D }                          (old SA deleted)

* Make-before-break (RFC 7296 2.8): the initiator installs the new SA and switches its
  outbound traffic when the response arrives, then deletes the old SA; the responder
  installs the new inbound SA at once but switches outbound only when the DELETE of the old
  SA arrives (strongSwan child_rekey: the peer may not have the new inbound SA before). The
  inbound SA of the replaced pair stays for ``delete_rekeyed_delay`` (strongSwan
  charon.delete_rekeyed_delay, 5 s) for packets still in flight.
* PFS: a KE payload when the ESP proposal has a DH group; KEYMAT then includes g^ir (new)
  (RFC 7296 2.17). IKE_AUTH ignores DH groups (RFC 7296 1.2), so a PFS mismatch shows here
  first: NO_PROPOSAL_CHOSEN, or INVALID_KE_PAYLOAD naming the group wanted (RFC 7296 1.3).
* IKE SA rekey (RFC 7296 1.3.2, 2.18): SKEYSEED = prf_old(SK_d old, g^ir new | Ni | Nr), new
  SPIs from the SA payloads, message ids restart at 0, the CHILD SAs move to the new IKE SA,
  the initiator of the rekey becomes the original initiator of the new SA.
* Simultaneous rekeying (RFC 7296 2.8.1, 2.8.2): both exchanges complete; the SA created
  with the lowest of the four nonces (octet by octet) is deleted by the peer that created it,
  and the other peer deletes the old SA.
* A failed rekey is retried after 30 s minus up to 20 s (strongSwan ike_sa.h RETRY_INTERVAL
  / RETRY_JITTER) until the hard lifetime ends the SA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import dh, kdf
from ..events import IkeSaRekeyed, KeGroupRetry, NegotiationFailed, RekeyCollision
from ..proposals import Protocol, choose, is_subset
from ..sa import ChildInput, ChildSa, ChildState
from ..taskmgr import Outcome
from ..ts import accept_response, select
from .ikesa import IkeInput, IkeSa, IkeState
from .informational import Informational, delete_ike_payload
from .message import KE, SA, TS, Exchange, Message, N, Nonce, Notify, Payload, SaProposal

if TYPE_CHECKING:
    from ..proposals import Proposal
    from ..ts import TrafficSelector
    from .engine import Ikev2Engine


def _lowest_is_in(mine: tuple[bytes, bytes], theirs: tuple[bytes, bytes]) -> bool:
    """RFC 7296 2.8.1: is the lowest of the four nonces one of ``mine``?"""
    return min(mine) <= min(theirs)


def child_fields(c: ChildSa) -> dict[str, Any]:
    return {"spi_in": c.spi_in.hex(), "spi_out": c.spi_out.hex()}


def _groups(proposals: Any) -> list[int]:
    return [g.ikev2_id for p in proposals for g in p.dh]


class ChildCreate:
    """CREATE_CHILD_SA for a new CHILD SA (``rekey_of`` None) or to rekey ``rekey_of``."""

    exchange = "CREATE_CHILD_SA"

    def __init__(self, engine: Ikev2Engine, rekey_of: ChildSa | None = None):
        self.engine = engine
        self.rekey_of = rekey_of
        self.name = "child_rekey" if rekey_of is not None else "child_create"
        self.group: int | None = None
        self.dh: dh.DhKey | None = None
        self.nonce = b""
        self.spi_in = b""
        self.collision: ChildSa | None = None
        """The SA the peer created by rekeying the same SA while this task was in flight."""
        # responder: the refusal, or what was installed and answered
        self.refusal: N | None = None
        self.num = 0
        self.installed: ChildSa | None = None
        self.answer_ts: tuple[tuple[TrafficSelector, ...], tuple[TrafficSelector, ...]] | None = None

    @property
    def phase(self) -> str:
        return "child_rekey" if self.rekey_of is not None else "child"

    def build_i(self, sa: IkeSa, msg_id: int, now: float) -> Message | None:
        e, old = self.engine, self.rekey_of
        if sa.keys is None or not sa.usable:
            self.abandon()
            return None
        if old is not None and old.state is not ChildState.REKEYING:
            return None  # replaced or deleted meanwhile (e.g. the peer rekeyed it first)
        s = e.settings
        props = s.child.proposals
        if self.group is None:
            groups = _groups(props)
            self.group = groups[0] if groups else None
        if self.group is not None and (self.dh is None or self.dh.group != self.group):
            self.dh = dh.generate(self.group, e.ep.rng, e.ep.crypto_model)
        if not self.nonce:
            self.nonce = e.make_nonce("child_ni")
            self.spi_in = e.ep.random_spi(4)
        payloads: list[Payload] = []
        if old is not None:
            payloads.append(N(Notify.REKEY_SA, protocol=Protocol.ESP, spi=old.spi_in))
        payloads.append(SA(tuple(SaProposal(i, self.spi_in, p) for i, p in enumerate(props, 1))))
        payloads.append(Nonce(self.nonce))
        if self.dh is not None:
            payloads.append(KE(self.dh.group, self.dh.public))
        local_ts = old.local_ts if old is not None else s.child.local_ts
        remote_ts = old.remote_ts if old is not None else s.child.remote_ts
        payloads += [TS(True, local_ts), TS(False, remote_ts)]
        return Message(Exchange.CREATE_CHILD_SA, sa.spi_i, sa.spi_r, msg_id, False, sa.initiator,
                       tuple(payloads), True)

    def process_i(self, sa: IkeSa, resp: Message, now: float) -> Outcome:
        e, old = self.engine, self.rekey_of
        inval = resp.notify(Notify.INVALID_KE_PAYLOAD)
        if inval is not None:
            wanted = int.from_bytes(inval.data[:2], "big")
            if wanted in _groups(e.settings.child.proposals) and wanted != self.group:
                e.emit_sa(sa, KeGroupRetry(rejected=self.group, requested=wanted, exchange="CREATE_CHILD_SA"))
                self.group = wanted
                sa.tm.queue.appendleft(self)  # a new exchange: the next message id (the response completed this one)
                return Outcome.DONE
            self._failed(sa, "INVALID_KE_PAYLOAD", f"peer wants DH group {wanted} for the CHILD SA, which the ESP "
                         f"proposals here do not offer (PFS mismatch)", now)
            return Outcome.DONE
        err = resp.error_notify()
        if err is not None:
            self._failed(sa, err.name, "peer refused CREATE_CHILD_SA" + _hint(err.type), now)
            return Outcome.DONE
        sa_p, nonce, ke = resp.first(SA), resp.first(Nonce), resp.first(KE)
        ts = [p for p in resp.payloads if isinstance(p, TS)]
        if not isinstance(sa_p, SA) or not isinstance(nonce, Nonce) or len(ts) != 2 or len(sa_p.proposals) != 1:
            self._failed(sa, "INVALID_SYNTAX", "CREATE_CHILD_SA response lacks SA, Nr or TSi/TSr", now)
            return Outcome.DONE
        chosen = sa_p.proposals[0]
        if not is_subset(chosen.proposal, e.settings.child.proposals):
            self._failed(sa, "NO_PROPOSAL_CHOSEN", f"peer chose {chosen.proposal}, which was not offered", now)
            return Outcome.DONE
        pfs = self._pfs_secret(sa, chosen.proposal, ke, now)
        if pfs is False:
            return Outcome.DONE
        g_ir = pfs if isinstance(pfs, bytes) else None
        s = e.settings
        accepted = accept_response(ts[0].selectors, ts[1].selectors,
                                   old.local_ts if old is not None else s.child.local_ts,
                                   old.remote_ts if old is not None else s.child.remote_ts)
        if accepted is None:
            self._failed(sa, "TS_UNACCEPTABLE", "no acceptable traffic selectors in the response: TSi "
                         f"{', '.join(map(str, ts[0].selectors))} / TSr {', '.join(map(str, ts[1].selectors))}", now)
            e.children.delete_refused(sa, self.spi_in, now)
            return Outcome.DONE
        new = e.children.install(sa, chosen.proposal, self.spi_in, chosen.spi, accepted[0], accepted[1],
                                 initiator=True, now=now, ni=self.nonce, nr=nonce.data, g_ir=g_ir,
                                 emit_established=old is None, outbound=old is None,
                                 replaces=old.uid if old is not None else None)
        if old is None:
            e.children.creating = False
        else:
            self._replace(sa, old, new, nonce.data, now)
        return Outcome.DONE

    def _pfs_secret(self, sa: IkeSa, chosen: Proposal, ke: Payload | None, now: float) -> bytes | bool:
        """g^ir (new) when the chosen proposal has a DH group, True without one (no PFS), False
        when the response's KE is missing or unusable (then reported as failed)."""
        if not chosen.dh:
            return True
        if not isinstance(ke, KE) or self.dh is None or ke.group != self.dh.group:
            self._failed(sa, "INVALID_SYNTAX", "CREATE_CHILD_SA response without the KE payload of the chosen "
                         "DH group", now)
            return False
        try:
            return dh.shared_secret(self.dh, ke.data)
        except dh.DhError as ex:
            self._failed(sa, "INVALID_SYNTAX", f"bad KE payload: {ex}", now)
            return False

    def _replace(self, sa: IkeSa, old: ChildSa, new: ChildSa, nr: bytes, now: float) -> None:
        """Our rekey of ``old`` completed with ``new``: traffic moves to it, unless the peer
        rekeyed ``old`` at the same time and its SA wins (RFC 7296 2.8.1)."""
        e = self.engine
        if self.collision is not None and self.collision.state is not ChildState.DELETED:
            if _lowest_is_in((self.nonce, nr), self.collision.nonces):
                # We lost: our new SA goes, the peer deletes the old one and its SA survives.
                e.emit_sa(sa, RekeyCollision(sa_type="child", outcome="lost", deleting=child_fields(new),
                                             keeping=child_fields(self.collision)))
                if old.can(ChildInput.REPLACED):
                    old.move(ChildInput.REPLACED)
                e.children.delete(sa, new, "rekey_collision", now)
                return
            e.emit_sa(sa, RekeyCollision(sa_type="child", outcome="won", deleting=child_fields(self.collision),
                                         keeping=child_fields(new)))
        e.children.switch_to(sa, old, new, initiator=True, now=now)

    def _failed(self, sa: IkeSa, notify: str, reason: str, now: float) -> None:
        e, old = self.engine, self.rekey_of
        e.emit_sa(sa, NegotiationFailed(phase=self.phase, notify=notify, reason=reason))
        if old is None:
            e.children.creating = False
            return
        if old.can(ChildInput.REKEY_ABORTED):
            old.move(ChildInput.REKEY_ABORTED)
            e.children.retry_rekey_later(old, now)

    def abandon(self) -> None:
        """The exchange will not complete (given up, or preempted by the SA's hard expiry)."""
        if self.rekey_of is not None and self.rekey_of.can(ChildInput.REKEY_ABORTED):
            self.rekey_of.move(ChildInput.REKEY_ABORTED)
        if self.rekey_of is None:
            self.engine.children.creating = False

    def gave_up(self, sa: IkeSa, now: float) -> None:
        self.abandon()
        self.engine.exchange_gave_up(sa, now)

    # --- responder ---------------------------------------------------------------------------
    def process_r(self, sa: IkeSa, msg: Message, now: float) -> None:
        """A new or rekeyed CHILD SA asked for by the peer: choose, key and install it."""
        e = self.engine
        s = e.settings
        sa_p = msg.first(SA)
        assert isinstance(sa_p, SA)
        rk = msg.notify(Notify.REKEY_SA)
        old: ChildSa | None = None
        if sa.state is not IkeState.ESTABLISHED:
            self.refusal = N(Notify.TEMPORARY_FAILURE)  # RFC 7296 2.25.2: the IKE SA is being rekeyed or closed
            return
        if rk is not None:
            old = next((c for c in sa.children if c.spi_out == rk.spi and c.state is not ChildState.DELETED), None)
            if old is None:
                self.refusal = N(Notify.CHILD_SA_NOT_FOUND)  # RFC 7296 2.25.1
                return
            if old.state is ChildState.REKEYED:
                self.refusal = N(Notify.TEMPORARY_FAILURE)
                return
        self.rekey_of = old
        offered = tuple(p.proposal for p in sa_p.proposals)
        choice = choose(offered, s.child.proposals)
        if choice is None:
            e.emit_sa(sa, NegotiationFailed(
                phase=self.phase, notify="NO_PROPOSAL_CHOSEN",
                reason=f"no configured ESP proposal ({', '.join(map(str, s.child.proposals))}) matches the "
                       f"offered ({', '.join(map(str, offered))}); a DH group on one side only is a PFS mismatch"))
            self.refusal = N(Notify.NO_PROPOSAL_CHOSEN)
            return
        self.num, chosen = choice
        self.refusal = self._respond_with(sa, msg, sa_p, chosen, now)

    def _respond_with(self, sa: IkeSa, msg: Message, sa_p: SA, chosen: Proposal, now: float) -> N | None:
        e, old = self.engine, self.rekey_of
        s = e.settings
        ke, ni = msg.first(KE), msg.first(Nonce)
        ts = [p for p in msg.payloads if isinstance(p, TS)]
        if not isinstance(ni, Nonce) or len(ts) != 2:
            return N(Notify.INVALID_SYNTAX)
        g_ir = None
        if chosen.dh:
            group = chosen.dh[0].ikev2_id
            if not isinstance(ke, KE) or ke.group != group:
                return N(Notify.INVALID_KE_PAYLOAD, group.to_bytes(2, "big"))  # RFC 7296 1.3
            self.dh = dh.generate(group, e.ep.rng, e.ep.crypto_model)
            try:
                g_ir = dh.shared_secret(self.dh, ke.data)
            except dh.DhError:
                return N(Notify.INVALID_SYNTAX)
        tsi, tsr = ts[0].selectors, ts[1].selectors
        answer = select(s.child.ts_policy, tsi, tsr, s.child.remote_ts, s.child.local_ts)
        if answer is None:
            e.emit_sa(sa, NegotiationFailed(
                phase=self.phase, notify="TS_UNACCEPTABLE",
                reason=f"proposed TSi {', '.join(map(str, tsi))} / TSr {', '.join(map(str, tsr))} do not match"))
            return N(Notify.TS_UNACCEPTABLE)
        self.nonce = e.make_nonce("child_nr")
        self.spi_in = e.ep.random_spi(4)
        new = e.children.install(sa, chosen, self.spi_in, sa_p.proposals[self.num - 1].spi, answer[1], answer[0],
                                 initiator=False, now=now, ni=ni.data, nr=self.nonce, g_ir=g_ir,
                                 emit_established=old is None, outbound=old is None,
                                 replaces=old.uid if old is not None else None)
        self.installed, self.answer_ts = new, answer
        if old is not None:
            task = sa.tm.active
            if isinstance(task, ChildCreate) and task.rekey_of is old and old.state is ChildState.REKEYING:
                task.collision = new  # RFC 7296 2.8.1: resolved when our own exchange completes
            else:
                old.move(ChildInput.REPLACED)
        return None

    def build_r(self, sa: IkeSa, msg: Message, now: float) -> Message | None:
        if self.refusal is not None:
            return msg.answer([self.refusal], sa.initiator)
        assert self.installed is not None and self.answer_ts is not None
        out: list[Payload] = [SA((SaProposal(self.num, self.spi_in, self.installed.proposal),)), Nonce(self.nonce)]
        if self.dh is not None:
            out.append(KE(self.dh.group, self.dh.public))
        return msg.answer([*out, TS(True, self.answer_ts[0]), TS(False, self.answer_ts[1])], sa.initiator)


def _hint(ntype: int) -> str:
    if ntype == Notify.NO_PROPOSAL_CHOSEN:
        return (": no common proposal; PFS on one side only (a DH group in one side's ESP proposal) shows first "
                "here, at the first rekey")
    if ntype == Notify.TEMPORARY_FAILURE:
        return ": the peer is busy with another exchange on this SA (RFC 7296 2.25)"
    if ntype == Notify.CHILD_SA_NOT_FOUND:
        return ": the peer no longer has the CHILD SA"
    return ""


# --- IKE SA rekeying --------------------------------------------------------------------------

def derive_rekeyed(old: IkeSa, new: IkeSa, g_ir: bytes) -> None:
    """RFC 7296 2.18: SKEYSEED with the old SA's PRF and SK_d, then the new SA's prf+."""
    assert old.keys is not None and new.proposal is not None
    p = new.proposal
    seed = kdf.rekey_skeyseed(old.prf, old.keys.sk_d, g_ir, new.nonce_i, new.nonce_r)
    new.keys = kdf.ike_sa_keys(p.prf[0], p.encr[0], p.integ[0] if p.integ else None, seed,
                               new.nonce_i, new.nonce_r, new.spi_i, new.spi_r)


class IkeRekey:
    """CREATE_CHILD_SA { SA, Ni, KEi } rekeying the IKE SA it runs on."""

    name = "ike_rekey"
    exchange = "CREATE_CHILD_SA"

    def __init__(self, engine: Ikev2Engine):
        self.engine = engine
        self.group: int | None = None
        self.dh: dh.DhKey | None = None
        self.nonce = b""
        self.spi = b""
        self.collision: IkeSa | None = None
        # responder: the refusal, or the proposal chosen
        self.refusal: N | None = None
        self.num = 0
        self.chosen: Proposal | None = None

    def build_i(self, sa: IkeSa, msg_id: int, now: float) -> Message | None:
        e = self.engine
        if sa.keys is None or not sa.can(IkeInput.REKEY):
            return None
        sa.move(IkeInput.REKEY)
        props = e.settings.ike.proposals
        if self.group is None:
            self.group = props[0].dh[0].ikev2_id
        if self.dh is None or self.dh.group != self.group:
            self.dh = dh.generate(self.group, e.ep.rng, e.ep.crypto_model)
        if not self.nonce:
            self.nonce = e.make_nonce("ike_ni")
            self.spi = e.ep.random_spi(8)
        payloads: list[Payload] = [SA(tuple(SaProposal(i, self.spi, p) for i, p in enumerate(props, 1))),
                                   Nonce(self.nonce), KE(self.group, self.dh.public)]
        return Message(Exchange.CREATE_CHILD_SA, sa.spi_i, sa.spi_r, msg_id, False, sa.initiator,
                       tuple(payloads), True)

    def process_i(self, sa: IkeSa, resp: Message, now: float) -> Outcome:
        e = self.engine
        inval = resp.notify(Notify.INVALID_KE_PAYLOAD)
        if inval is not None:
            wanted = int.from_bytes(inval.data[:2], "big")
            if wanted in _groups(e.settings.ike.proposals) and wanted != self.group:
                e.emit_sa(sa, KeGroupRetry(rejected=self.group, requested=wanted, exchange="CREATE_CHILD_SA"))
                self.group = wanted
                sa.tm.queue.appendleft(self)  # a new exchange: the next message id (the response completed this one)
                return Outcome.DONE
            return self._failed(sa, "INVALID_KE_PAYLOAD", f"peer wants DH group {wanted}, not configured here", now)
        err = resp.error_notify()
        if err is not None:
            return self._failed(sa, err.name, "peer refused to rekey the IKE SA" + _hint(err.type), now)
        sa_p, nonce, ke = resp.first(SA), resp.first(Nonce), resp.first(KE)
        if not isinstance(sa_p, SA) or not isinstance(nonce, Nonce) or not isinstance(ke, KE) \
                or len(sa_p.proposals) != 1:
            return self._failed(sa, "INVALID_SYNTAX", "IKE rekey response lacks SA, Nr or KEr", now)
        chosen = sa_p.proposals[0]
        if not is_subset(chosen.proposal, e.settings.ike.proposals) or self.dh is None \
                or ke.group != self.dh.group:
            return self._failed(sa, "NO_PROPOSAL_CHOSEN", f"peer chose {chosen.proposal}, which was not offered", now)
        try:
            g_ir = dh.shared_secret(self.dh, ke.data)
        except dh.DhError as ex:
            return self._failed(sa, "INVALID_SYNTAX", f"bad KE payload: {ex}", now)
        new = rekeyed_ike_sa(e, sa, True, self.spi, chosen.spi, chosen.proposal, self.nonce, nonce.data, g_ir, now)
        if self.collision is not None and self.collision.alive:
            if _lowest_is_in((self.nonce, nonce.data), (self.collision.nonce_i, self.collision.nonce_r)):
                e.emit_sa(sa, RekeyCollision(sa_type="ike", outcome="lost", deleting=new.label(),
                                             keeping=self.collision.label()))
                e.delete_ike(new, "rekey_collision", now)
                return Outcome.DONE
            e.emit_sa(sa, RekeyCollision(sa_type="ike", outcome="won", deleting=self.collision.label(),
                                         keeping=new.label()))
            hand_over(e, self.collision, new, now)
        hand_over(e, sa, new, now)
        delete_old_ike_sa(e, sa, now)
        return Outcome.DONE

    def _failed(self, sa: IkeSa, notify: str, reason: str, now: float) -> Outcome:
        e = self.engine
        e.emit_sa(sa, NegotiationFailed(phase="ike_rekey", notify=notify, reason=reason))
        if sa.can(IkeInput.REKEY_ABORTED) and self.collision is None:
            sa.move(IkeInput.REKEY_ABORTED)
            e.ike_expiry.retry_rekey_later(sa, now)
        return Outcome.DONE

    def gave_up(self, sa: IkeSa, now: float) -> None:
        self.engine.exchange_gave_up(sa, now)



    # --- responder ---------------------------------------------------------------------------
    def process_r(self, sa: IkeSa, msg: Message, now: float) -> None:
        """The peer rekeys this IKE SA: choose, key and set up the new one, which takes over."""
        e = self.engine
        s = e.settings
        sa_p = msg.first(SA)
        assert isinstance(sa_p, SA)
        task = sa.tm.active
        colliding = isinstance(task, IkeRekey)
        if (sa.state is IkeState.REKEYING and not colliding) or not sa.usable:
            self.refusal = N(Notify.TEMPORARY_FAILURE)
            return
        if task is not None and not colliding:
            self.refusal = N(Notify.TEMPORARY_FAILURE)  # RFC 7296 2.25.2: another exchange is in progress
            return
        offered = tuple(p.proposal for p in sa_p.proposals)
        choice = choose(offered, s.ike.proposals)
        if choice is None:
            e.emit_sa(sa, NegotiationFailed(
                phase="ike_rekey", notify="NO_PROPOSAL_CHOSEN",
                reason=f"no configured IKE proposal matches the offered ({', '.join(map(str, offered))})"))
            self.refusal = N(Notify.NO_PROPOSAL_CHOSEN)
            return
        self.num, self.chosen = choice
        ke, ni = msg.first(KE), msg.first(Nonce)
        group = self.chosen.dh[0].ikev2_id
        if not isinstance(ke, KE) or ke.group != group:
            self.refusal = N(Notify.INVALID_KE_PAYLOAD, group.to_bytes(2, "big"))
            return
        if not isinstance(ni, Nonce):
            self.refusal = N(Notify.INVALID_SYNTAX)
            return
        self.dh = dh.generate(group, e.ep.rng, e.ep.crypto_model)
        try:
            g_ir = dh.shared_secret(self.dh, ke.data)
        except dh.DhError:
            self.refusal = N(Notify.INVALID_SYNTAX)
            return
        self.nonce = e.make_nonce("ike_nr")
        self.spi = e.ep.random_spi(8)
        new = rekeyed_ike_sa(e, sa, False, sa_p.proposals[self.num - 1].spi, self.spi, self.chosen, ni.data,
                             self.nonce, g_ir, now)
        if colliding:
            assert isinstance(task, IkeRekey)
            task.collision = new
        else:
            sa.move(IkeInput.REPLACED)
        hand_over(e, sa, new, now)

    def build_r(self, sa: IkeSa, msg: Message, now: float) -> Message | None:
        if self.refusal is not None:
            return msg.answer([self.refusal], sa.initiator)
        assert self.chosen is not None and self.dh is not None
        return msg.answer([SA((SaProposal(self.num, self.spi, self.chosen),)), Nonce(self.nonce),
                           KE(self.dh.group, self.dh.public)], sa.initiator)


def rekeyed_ike_sa(e: Ikev2Engine, old: IkeSa, initiator: bool, spi_i: bytes, spi_r: bytes, proposal: Proposal,
                   ni: bytes, nr: bytes, g_ir: bytes, now: float) -> IkeSa:
    """The IKE SA created by a rekey of ``old`` (RFC 7296 2.18): fresh message ids."""
    new = e.add_sa(IkeSa(e.ep.next_uid(), initiator, spi_i, spi_r, old.local, old.remote, now))
    new.proposal, new.nonce_i, new.nonce_r, new.peer_id = proposal, ni, nr, old.peer_id
    new.nat_local, new.nat_remote, new.encap = old.nat_local, old.nat_remote, old.encap
    derive_rekeyed(old, new, g_ir)
    e.emit_sa(old, IkeSaRekeyed(new_spi_i=spi_i.hex(), new_spi_r=spi_r.hex(), initiator=initiator,
                                proposal=str(proposal)))
    e.became_established(new, now)
    return new


def hand_over(e: Ikev2Engine, old: IkeSa, new: IkeSa, now: float) -> None:
    """CHILD SAs and queued exchanges of ``old`` move to ``new``."""
    for c in old.children:
        c.ike_uid = new.uid
        new.children.append(c)
    old.children = []
    moved = [t for t in old.tm.queue if not isinstance(t, IkeRekey)]
    old.tm.queue.clear()
    for t in moved:
        new.tm.queue.append(t)
    if moved and e.settings.ike.rekey_handover == "job":
        # strongSwan ike_rekey.c establish_new(): the new SA's queued tasks run as a job
        # (lib->processor->queue_job) on another thread, while this one goes on with the old
        # SA (the rekey response, or the initiator's Delete of the old SA) and sends first
        e.ep.schedule(now, e.on_handover_job, new.uid)
        return
    new.tm.initiate(now)


def delete_old_ike_sa(e: Ikev2Engine, old: IkeSa, now: float) -> None:
    """The rekey initiator deletes the old IKE SA: INFORMATIONAL { D(IKE) } on it."""
    old.move(IkeInput.REPLACED)
    old.tm.queue_task(Informational(e, "ike_delete", delete_ike_payload(),
                                    lambda s, r, t: e.destroy(s, "rekeyed", t)), now)
