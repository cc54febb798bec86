"""The IKEv2 IKE_AUTH exchange, both roles (strongSwan's ike_auth + child_create tasks):
pre-shared key authentication of both sides and the first CHILD SA (RFC 7296 1.2, 2.15).

    IKE_AUTH     SK{ IDi, [N(INITIAL_CONTACT)], [IDr], AUTH, SA, TSi, TSr }  -->
                 <--  SK{ IDr, AUTH, SA, TSi, TSr }  or SK{ IDr, AUTH, N(TS_UNACCEPTABLE) } ...

The IKE SA is established when AUTH verifies, whatever becomes of the CHILD SA; a CHILD SA
the initiator refuses (the responder's traffic selectors) is deleted at the responder with an
INFORMATIONAL { D } (strongSwan child_create.c delete_failed_sa()).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..proposals import choose, is_subset
from ..taskmgr import Outcome
from ..ts import accept_response, select
from .message import AUTH, ID, SA, TS, AuthMethod, Exchange, Message, N, Notify, Payload, SaProposal

if TYPE_CHECKING:
    from .engine import Ikev2Engine
    from .ikesa import IkeSa


class IkeAuth:
    name = "ike_auth"
    exchange = "IKE_AUTH"

    def __init__(self, engine: Ikev2Engine):
        self.engine = engine
        self.spi_in = b""
        # responder: the refusal of the whole exchange, or the answer about the CHILD SA
        self.refusal: N | None = None
        self.child_answer: list[Payload] = []

    # --- initiator ---------------------------------------------------------------------------
    def build_i(self, sa: IkeSa, msg_id: int, now: float) -> Message | None:
        e = self.engine
        if sa.keys is None:
            return None  # IKE_SA_INIT failed; nothing to authenticate
        s = e.settings
        my_id = s.local_identity
        idi = ID(True, my_id.id_type, my_id.data)
        payloads: list[Payload] = [idi]
        if s.ike.initial_contact and not e.has_other_sa_with(sa):
            payloads.append(N(Notify.INITIAL_CONTACT))
        if s.ike.remote_id is not None:
            payloads.append(ID(False, s.ike.remote_id.id_type, s.ike.remote_id.data))
        payloads.append(AUTH(AuthMethod.SHARED_KEY_MIC, sa.auth_octets(True, idi.body, s.ike.psk)))
        self.spi_in = e.ep.random_spi(4)
        payloads += [SA(tuple(SaProposal(i, self.spi_in, p.without_dh())
                              for i, p in enumerate(s.child.proposals, 1))),
                     TS(True, s.child.local_ts), TS(False, s.child.remote_ts)]
        return Message(Exchange.IKE_AUTH, sa.spi_i, sa.spi_r, msg_id, False, True, tuple(payloads), True)

    def process_i(self, sa: IkeSa, resp: Message, now: float) -> Outcome:
        e = self.engine
        if resp.notify(Notify.AUTHENTICATION_FAILED):
            e.fail(sa, "ike", "AUTHENTICATION_FAILED",
                   "responder could not verify our AUTH payload (pre-shared key or identity mismatch)")
            return Outcome.DONE
        idr, auth = resp.first(ID), resp.first(AUTH)
        if not isinstance(idr, ID) or not isinstance(auth, AUTH):
            err = resp.error_notify()
            e.fail(sa, "ike", err.name if err else "INVALID_SYNTAX", "IKE_AUTH response without IDr/AUTH")
            return Outcome.DONE
        reason = e.verify_peer(sa, idr, auth, of_initiator=False)
        if reason is not None:
            e.fail(sa, "ike", "AUTHENTICATION_FAILED", reason, notify_peer=True)
            return Outcome.DONE
        e.ike_established(sa, now)
        self._install_first_child(sa, resp, now)
        return Outcome.DONE

    def _install_first_child(self, sa: IkeSa, resp: Message, now: float) -> None:
        e = self.engine
        err = resp.error_notify()
        if err is not None:
            e.children.failed(sa, err.name, "responder refused the CHILD SA")
            return
        sa_p, tsi, tsr = resp.first(SA), resp.first(TS), [p for p in resp.payloads if isinstance(p, TS)]
        if not isinstance(sa_p, SA) or not isinstance(tsi, TS) or len(tsr) != 2 or len(sa_p.proposals) != 1:
            e.children.failed(sa, "INVALID_SYNTAX", "IKE_AUTH response lacks SA/TSi/TSr")
            return
        chosen = sa_p.proposals[0]
        if not is_subset(chosen.proposal, e.settings.child.proposals, ignore_dh=True):
            e.children.failed(sa, "NO_PROPOSAL_CHOSEN", f"responder chose {chosen.proposal}, which was not offered")
            return
        accepted = accept_response(tsr[0].selectors, tsr[1].selectors, e.settings.child.local_ts,
                                   e.settings.child.remote_ts)
        if accepted is None:
            e.children.failed(sa, "TS_UNACCEPTABLE", "no acceptable traffic selectors in the response: TSi "
                              f"{', '.join(map(str, tsr[0].selectors))} / TSr "
                              f"{', '.join(map(str, tsr[1].selectors))}")
            e.children.delete_refused(sa, self.spi_in, now)
            return
        e.children.install(sa, chosen.proposal, self.spi_in, chosen.spi, accepted[0], accepted[1],
                           initiator=True, now=now, ni=sa.nonce_i, nr=sa.nonce_r)

    def gave_up(self, sa: IkeSa, now: float) -> None:
        self.engine.setup_timed_out(sa, now)

    # --- responder ---------------------------------------------------------------------------
    def process_r(self, sa: IkeSa, msg: Message, now: float) -> None:
        e = self.engine
        idi, auth = msg.first(ID), msg.first(AUTH)
        if sa.keys is None or sa.established_at is not None:
            self.refusal = N(Notify.INVALID_SYNTAX)
            return
        if not isinstance(idi, ID) or not isinstance(auth, AUTH):
            e.fail(sa, "ike", "INVALID_SYNTAX", "IKE_AUTH request without IDi/AUTH", defer=True)
            self.refusal = N(Notify.INVALID_SYNTAX)
            return
        reason = e.verify_peer(sa, idi, auth, of_initiator=True)
        if reason is not None:
            e.fail(sa, "ike", "AUTHENTICATION_FAILED", reason, defer=True)
            self.refusal = N(Notify.AUTHENTICATION_FAILED)
            return
        e.ike_established(sa, now)
        if msg.notify(Notify.INITIAL_CONTACT):
            e.initial_contact(sa, now)
        self.child_answer = self._first_child(sa, msg, now)

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

    def build_r(self, sa: IkeSa, msg: Message, now: float) -> Message | None:
        if self.refusal is not None:
            return msg.answer([self.refusal], sa.initiator)
        s = self.engine.settings
        idr = ID(False, s.local_identity.id_type, s.local_identity.data)
        auth = AUTH(AuthMethod.SHARED_KEY_MIC, sa.auth_octets(False, idr.body, s.ike.psk))
        return msg.answer([idr, auth, *self.child_answer], sa.initiator)
