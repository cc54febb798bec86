"""IKEv2 exchanges this side initiates, one task each (strongSwan's ike_init, ike_auth +
child_create, ike_delete / child_delete / ike_dpd as INFORMATIONAL).

Wire narration, as in strongSwan's unit tests:

    IKE_SA_INIT  { SA, KEi, Ni, N(NATD_S_IP), N(NATD_D_IP) }  -->
                 <--  { SA, KEr, Nr, N(NATD_S_IP), N(NATD_D_IP) }  or { N(INVALID_KE_PAYLOAD) }
    IKE_AUTH     SK{ IDi, [N(INITIAL_CONTACT)], [IDr], AUTH, SA, TSi, TSr }  -->
                 <--  SK{ IDr, AUTH, SA, TSi, TSr }  or SK{ IDr, AUTH, N(TS_UNACCEPTABLE) } ...
    INFORMATIONAL SK{ [D] [N] }  -->   <--  SK{ [D] }
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import dh
from ..events import KeGroupRetry
from ..proposals import Protocol, is_subset
from ..ts import accept_response
from .message import AUTH, ID, KE, SA, TS, AuthMethod, D, Exchange, Message, N, Nonce, Notify, Payload, SaProposal
from .taskmgr import Outcome
from .wire import real_message, sealed

if TYPE_CHECKING:
    from .engine import Ikev2Engine
    from .ikesa import IkeSa


class IkeInitTask:
    name = "ike_init"
    exchange = "IKE_SA_INIT"

    def __init__(self, engine: Ikev2Engine):
        self.engine = engine
        self.group: int | None = None

    def build(self, sa: IkeSa, msg_id: int, now: float) -> Message:
        e = self.engine
        props = e.settings.ike.proposals
        if self.group is None:
            self.group = props[0].dh[0].ikev2_id
        if sa.dh is None or sa.dh.group != self.group:
            sa.dh = dh.generate(self.group, e.ep.rng, e.ep.crypto_model)
        if not sa.nonce_i:
            sa.nonce_i = e.ep.rng.randbytes(e.settings.ike.nonce_bytes)
        payloads: list[Payload] = [
            SA(tuple(SaProposal(i, b"", p) for i, p in enumerate(props, 1))),
            KE(self.group, sa.dh.public),
            Nonce(sa.nonce_i),
            *e.natd_payloads(sa),
        ]
        msg = sealed(Message(Exchange.IKE_SA_INIT, sa.spi_i, bytes(8), msg_id, False, True, tuple(payloads)))
        sa.init_request = msg.raw  # RFC 7296 2.15 RealMessage1: the octets sent
        return msg

    def process(self, sa: IkeSa, resp: Message, now: float) -> Outcome:
        e = self.engine
        inval = resp.notify(Notify.INVALID_KE_PAYLOAD)
        if inval is not None:
            wanted = int.from_bytes(inval.data[:2], "big")
            mine = {g.ikev2_id for p in e.settings.ike.proposals for g in p.dh}
            if wanted in mine and wanted != self.group:
                e.emit_sa(sa, KeGroupRetry(rejected=self.group, requested=wanted))
                self.group = wanted
                return Outcome.RESTART
            e.fail(sa, "ike", "INVALID_KE_PAYLOAD", f"responder wants DH group {wanted}, not configured here")
            return Outcome.DONE
        err = resp.error_notify()
        if err is not None:
            e.fail(sa, "ike", err.name, "responder refused IKE_SA_INIT")
            return Outcome.DONE
        sa_p, ke, nonce = resp.first(SA), resp.first(KE), resp.first(Nonce)
        if not isinstance(sa_p, SA) or not isinstance(ke, KE) or not isinstance(nonce, Nonce) \
                or len(sa_p.proposals) != 1:
            e.fail(sa, "ike", "INVALID_SYNTAX", "IKE_SA_INIT response lacks SA, KE or Nr")
            return Outcome.DONE
        chosen = sa_p.proposals[0].proposal
        if not is_subset(chosen, e.settings.ike.proposals) or not chosen.dh or chosen.dh[0].ikev2_id != self.group:
            e.fail(sa, "ike", "NO_PROPOSAL_CHOSEN", f"responder chose {chosen}, which was not offered")
            return Outcome.DONE
        sa.spi_r = resp.spi_r
        sa.proposal = chosen
        sa.nonce_r = nonce.data
        sa.init_response = real_message(resp)  # RealMessage2: the octets received
        assert sa.dh is not None
        try:
            secret = dh.shared_secret(sa.dh, ke.data)
        except dh.DhError as ex:
            e.fail(sa, "ike", "INVALID_SYNTAX", f"bad KE payload: {ex}")
            return Outcome.DONE
        sa.derive_keys(secret)
        e.check_natd(sa, resp)
        return Outcome.DONE

    def gave_up(self, sa: IkeSa, now: float) -> None:
        self.engine.setup_timed_out(sa, now)


class IkeAuthTask:
    """IKE_AUTH with PSK authentication and the first CHILD SA (RFC 7296 1.2, 2.15)."""

    name = "ike_auth"
    exchange = "IKE_AUTH"

    def __init__(self, engine: Ikev2Engine):
        self.engine = engine
        self.spi_in = b""

    def build(self, sa: IkeSa, msg_id: int, now: float) -> Message | None:
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

    def process(self, sa: IkeSa, resp: Message, now: float) -> Outcome:
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
        err = resp.error_notify()
        if err is not None:
            e.children.failed(sa, err.name, "responder refused the CHILD SA")
            return Outcome.DONE
        sa_p, tsi, tsr = resp.first(SA), resp.first(TS), [p for p in resp.payloads if isinstance(p, TS)]
        if not isinstance(sa_p, SA) or not isinstance(tsi, TS) or len(tsr) != 2 or len(sa_p.proposals) != 1:
            e.children.failed(sa, "INVALID_SYNTAX", "IKE_AUTH response lacks SA/TSi/TSr")
            return Outcome.DONE
        chosen = sa_p.proposals[0]
        if not is_subset(chosen.proposal, e.settings.child.proposals, ignore_dh=True):
            e.children.failed(sa, "NO_PROPOSAL_CHOSEN", f"responder chose {chosen.proposal}, which was not offered")
            return Outcome.DONE
        accepted = accept_response(tsr[0].selectors, tsr[1].selectors, e.settings.child.local_ts,
                                   e.settings.child.remote_ts)
        if accepted is None:
            e.children.failed(sa, "TS_UNACCEPTABLE", "no acceptable traffic selectors in the response: TSi "
                           f"{', '.join(map(str, tsr[0].selectors))} / TSr {', '.join(map(str, tsr[1].selectors))}")
            e.children.delete_refused(sa, self.spi_in, now)
            return Outcome.DONE
        e.children.install(sa, chosen.proposal, self.spi_in, chosen.spi, accepted[0], accepted[1],
                        initiator=True, now=now, ni=sa.nonce_i, nr=sa.nonce_r)
        return Outcome.DONE

    def gave_up(self, sa: IkeSa, now: float) -> None:
        self.engine.setup_timed_out(sa, now)


class InformationalTask:
    """An INFORMATIONAL request carrying ``payloads`` (D, N or nothing for liveness)."""

    exchange = "INFORMATIONAL"

    def __init__(self, engine: Ikev2Engine, name: str, payloads: tuple[Payload, ...] = (),
                 on_done: Callable[[IkeSa, Message | None, float], None] | None = None):
        self.engine = engine
        self.name = name
        self.payloads = payloads
        self.on_done = on_done

    def build(self, sa: IkeSa, msg_id: int, now: float) -> Message | None:
        if sa.keys is None:
            return None
        return Message(Exchange.INFORMATIONAL, sa.spi_i, sa.spi_r, msg_id, False, sa.initiator,
                       self.payloads, True)

    def process(self, sa: IkeSa, resp: Message, now: float) -> Outcome:
        if self.on_done:
            self.on_done(sa, resp, now)
        return Outcome.DONE

    def gave_up(self, sa: IkeSa, now: float) -> None:
        if self.on_done:
            self.on_done(sa, None, now)
        else:
            self.engine.destroy(sa, "retransmit_timeout", now)


def delete_ike_payloads() -> tuple[Payload, ...]:
    return (D(Protocol.IKE),)
