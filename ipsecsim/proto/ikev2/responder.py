"""IKEv2 responder: one handler per exchange type, each returning the response message.

IKE_SA_INIT refusals that need no state (NO_PROPOSAL_CHOSEN, INVALID_KE_PAYLOAD) are sent
by ``Ikev2Engine.on_init_request`` before an IKE SA exists (RFC 7296 1.2, 2.6); everything
here runs on an IKE SA through its task manager, which caches the response for
retransmitted requests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..proposals import Protocol, choose
from ..ts import select
from .ikesa import IkeState
from .message import AUTH, ID, SA, TS, AuthMethod, D, Exchange, Message, N, Notify, Payload, SaProposal
from .rekey import respond_child, respond_ike_rekey

if TYPE_CHECKING:
    from .engine import Ikev2Engine
    from .ikesa import IkeSa


def _reply(msg: Message, payloads: list[Payload] | tuple[Payload, ...], sa: IkeSa) -> Message:
    return Message(msg.exchange, msg.spi_i, msg.spi_r, msg.msg_id, True, sa.initiator, tuple(payloads),
                   msg.exchange is not Exchange.IKE_SA_INIT)


class Responder:
    def __init__(self, engine: Ikev2Engine):
        self.engine = engine
        self.handlers: dict[Exchange, Callable[[IkeSa, Message, float], Message | None]] = {
            Exchange.IKE_SA_INIT: self.ike_sa_init,
            Exchange.IKE_AUTH: self.ike_auth,
            Exchange.CREATE_CHILD_SA: self.create_child_sa,
            Exchange.INFORMATIONAL: self.informational,
        }

    def respond(self, sa: IkeSa, msg: Message, now: float) -> Message | None:
        critical = msg.unsupported_critical()
        if critical is not None and msg.exchange is not Exchange.IKE_SA_INIT:
            # RFC 7296 2.5, as strongSwan 5.9.8 task_manager_v2.c parse_message: the request is
            # not processed; the answer names the payload type.
            return _reply(msg, [N(Notify.UNSUPPORTED_CRITICAL_PAYLOAD, bytes([critical]))], sa)
        return self.handlers[msg.exchange](sa, msg, now)

    # --- IKE_SA_INIT: the SA was set up by the engine; answer with its prepared response --
    def ike_sa_init(self, sa: IkeSa, msg: Message, now: float) -> Message | None:
        return self.engine.pending_init_response.pop(sa.uid, None)

    # --- IKE_AUTH -------------------------------------------------------------------------
    def ike_auth(self, sa: IkeSa, msg: Message, now: float) -> Message | None:
        e = self.engine
        s = e.settings
        idi, auth = msg.first(ID), msg.first(AUTH)
        if sa.keys is None or sa.established_at is not None:
            return _reply(msg, [N(Notify.INVALID_SYNTAX)], sa)
        if not isinstance(idi, ID) or not isinstance(auth, AUTH):
            e.fail(sa, "ike", "INVALID_SYNTAX", "IKE_AUTH request without IDi/AUTH", defer=True)
            return _reply(msg, [N(Notify.INVALID_SYNTAX)], sa)
        reason = e.verify_peer(sa, idi, auth, of_initiator=True)
        if reason is not None:
            e.fail(sa, "ike", "AUTHENTICATION_FAILED", reason, defer=True)
            return _reply(msg, [N(Notify.AUTHENTICATION_FAILED)], sa)
        my_id = s.local_identity
        idr = ID(False, my_id.id_type, my_id.data)
        payloads: list[Payload] = [idr, AUTH(AuthMethod.SHARED_KEY_MIC, sa.auth_octets(False, idr.body, s.ike.psk))]
        e.ike_established(sa, now)
        if msg.notify(Notify.INITIAL_CONTACT):
            e.initial_contact(sa, now)
        payloads += self._first_child(sa, msg, now)
        return _reply(msg, payloads, sa)

    def _first_child(self, sa: IkeSa, msg: Message, now: float) -> list[Payload]:
        e = self.engine
        s = e.settings
        sa_p = msg.first(SA)
        ts = [p for p in msg.payloads if isinstance(p, TS)]
        if not isinstance(sa_p, SA) or len(ts) != 2:
            e.children.failed(sa, "INVALID_SYNTAX", "IKE_AUTH request lacks SA/TSi/TSr")
            return [N(Notify.INVALID_SYNTAX)]
        offered = tuple(p.proposal for p in sa_p.proposals)
        choice = choose(offered, s.child.proposals, ignore_dh=True)
        if choice is None:
            e.children.failed(sa, "NO_PROPOSAL_CHOSEN",
                           f"no configured ESP proposal ({', '.join(map(str, s.child.proposals))}) "
                           f"matches the offered ({', '.join(map(str, offered))})")
            return [N(Notify.NO_PROPOSAL_CHOSEN)]
        tsi, tsr = ts[0].selectors, ts[1].selectors
        answer = select(s.child.ts_policy, tsi, tsr, s.child.remote_ts, s.child.local_ts)
        if answer is None:
            e.children.failed(sa, "TS_UNACCEPTABLE",
                           f"proposed TSi {', '.join(map(str, tsi))} / TSr {', '.join(map(str, tsr))} do not "
                           f"match local {', '.join(map(str, s.child.local_ts))} / remote "
                           f"{', '.join(map(str, s.child.remote_ts))} ({s.child.ts_policy})")
            return [N(Notify.TS_UNACCEPTABLE)]
        index, chosen = choice
        num, peer_spi = sa_p.proposals[index - 1].num, sa_p.proposals[index - 1].spi
        spi_in = e.ep.random_spi(4)
        e.children.install(sa, chosen, spi_in, peer_spi, answer[1], answer[0], initiator=False, now=now,
                        ni=sa.nonce_i, nr=sa.nonce_r)
        return [SA((SaProposal(num, spi_in, chosen),)), TS(True, answer[0]), TS(False, answer[1])]

    # --- CREATE_CHILD_SA ------------------------------------------------------------------
    def create_child_sa(self, sa: IkeSa, msg: Message, now: float) -> Message | None:
        """A new or rekeyed CHILD SA, or a rekey of this IKE SA (proto/ikev2/rekey.py)."""
        sa_p = msg.first(SA)
        if not isinstance(sa_p, SA) or not sa_p.proposals:
            return _reply(msg, [N(Notify.INVALID_SYNTAX)], sa)
        if sa_p.proposals[0].protocol == Protocol.IKE:
            return _reply(msg, respond_ike_rekey(self.engine, sa, msg, sa_p, now), sa)
        return _reply(msg, respond_child(self.engine, sa, msg, sa_p, now), sa)

    # --- INFORMATIONAL --------------------------------------------------------------------
    def informational(self, sa: IkeSa, msg: Message, now: float) -> Message | None:
        e = self.engine
        out: list[Payload] = []
        for p in msg.payloads:
            if isinstance(p, D) and p.protocol == Protocol.IKE:
                e.mark_deleting(sa, "rekeyed" if sa.state is IkeState.REKEYED else "deleted_by_peer")
                return _reply(msg, [], sa)
            if isinstance(p, D) and p.protocol == Protocol.ESP:
                mine = e.children.deleted_by_peer(sa, p.spis, now)
                if mine:
                    out.append(D(Protocol.ESP, tuple(mine)))
        if msg.notify(Notify.AUTHENTICATION_FAILED):
            e.fail(sa, "ike", "AUTHENTICATION_FAILED", "peer could not verify our AUTH payload", defer=True)
        return _reply(msg, out, sa)
