"""The ISAKMP SA (IKEv1 phase 1 SA) of one peer: cookies, negotiated proposal and lifetime,
the values phase 1 exchanged, its keys and IVs, and the exchanges running on it.

IKEv1 IPsec SAs are not owned by it: once created they live on in the engine until they
are deleted or expire, whatever happens to the ISAKMP SA (RFC 2408 2.4 treats the two as
separate SAs; a Delete of the ISAKMP SA does not delete the IPsec SAs it negotiated).
Its lifecycle is the table ``ISAKMP_SA``: a phase 1 rekey is a new ISAKMP SA (a
re-authentication), so the old one only waits for its Delete (``superseded``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..dh import DhKey
from ..dpd import DpdMachine
from ..fsm import Handlers, Table, row
from ..keylog import Ikev1Keys
from ..proposals import Proposal
from ..sa import UdpEncap
from ..settings import Identity
from ..taskmgr import RandomMessageIds
from .keys import IvState, Phase1Keys
from .message import VID_NATT
from .sa_life import SaLife

if TYPE_CHECKING:
    from .flight import Flight
    from .quickmode import QuickMode


class IsakmpState(enum.Enum):
    CONNECTING = "connecting"  # main / aggressive mode in progress
    ESTABLISHED = "established"
    DESTROYED = "destroyed"  # forgotten; final


class IsakmpInput(enum.Enum):
    ESTABLISH = "establish"
    DESTROY = "destroy"


class IsakmpAction(enum.Enum):
    MARK_ESTABLISHED = "mark_established"
    LEAVE_HALF_OPEN = "leave_half_open"
    RESET_ATTEMPTS = "reset_attempts"
    REPORT_ESTABLISHED = "report_established"
    REPORT_DELETED = "report_deleted"
    ABANDON_REKEYS = "abandon_rekeys"
    HAND_OVER_DPD = "hand_over_dpd"
    NOTE_PHASE1_GONE = "note_phase1_gone"
    STOP_DPD = "stop_dpd"
    STOP_FLIGHTS = "stop_flights"
    FORGET = "forget"


_S, _SA = IsakmpState, IsakmpAction
_GONE = (_SA.REPORT_DELETED, _SA.ABANDON_REKEYS, _SA.HAND_OVER_DPD, _SA.NOTE_PHASE1_GONE, _SA.STOP_DPD,
         _SA.STOP_FLIGHTS, _SA.FORGET)
ISAKMP_SA: Table[IsakmpState, IsakmpInput, IsakmpAction] = Table(
    "ISAKMP SA", IsakmpState, IsakmpInput, IsakmpAction, _S.CONNECTING,
    {
        (_S.CONNECTING, IsakmpInput.ESTABLISH): row(_S.ESTABLISHED, _SA.MARK_ESTABLISHED, _SA.LEAVE_HALF_OPEN,
                                                    _SA.RESET_ATTEMPTS, _SA.REPORT_ESTABLISHED),
        (_S.CONNECTING, IsakmpInput.DESTROY): row(_S.DESTROYED, *_GONE),
        (_S.ESTABLISHED, IsakmpInput.DESTROY): row(_S.DESTROYED, *_GONE),
    },
    {
        IsakmpInput.ESTABLISH: "the last phase 1 message is sent or verified",
        IsakmpInput.DESTROY: "gone: Delete sent or received, expired, phase 1 failed, dead peer, INITIAL-CONTACT",
    },
    {
        IsakmpAction.MARK_ESTABLISHED: "record when it was established",
        IsakmpAction.LEAVE_HALF_OPEN: "it no longer counts as a half-open SA",
        IsakmpAction.RESET_ATTEMPTS: "the keyingtries count starts again",
        IsakmpAction.REPORT_ESTABLISHED: "event ike_sa_established (mode, proposal, identities, lifetime)",
        IsakmpAction.REPORT_DELETED: "event ike_sa_deleted with the reason recorded in `delete_reason`, if it "
                                     "was ever established",
        IsakmpAction.ABANDON_REKEYS: "quick modes rekeying IPsec SAs on it fail (no answer) or move to another "
                                     "ISAKMP SA",
        IsakmpAction.HAND_OVER_DPD: "its dead peer detection moves to the newest other established ISAKMP SA "
                                    "with the peer, if any",
        IsakmpAction.NOTE_PHASE1_GONE: "a phase 1 this side started and never completed: rekeys waiting for it "
                                       "fail, unless another phase 1 runs",
        IsakmpAction.STOP_DPD: "its dead peer detection stops",
        IsakmpAction.STOP_FLIGHTS: "the retransmissions of its phase 1 and quick mode messages stop",
        IsakmpAction.FORGET: "the engine drops it from its SA, cookie and quick mode tables; late messages "
                             "are told why",
    })
"""The IKEv1 ISAKMP SA (phase 1 SA) lifecycle. DESTROYED is final."""


@dataclass(slots=True, eq=False)
class IsakmpSa:
    uid: int
    initiator: bool
    """This side initiated phase 1."""
    mode: str
    """main | aggressive"""
    cky_i: bytes
    cky_r: bytes
    local: tuple[str, int]
    remote: tuple[str, int]
    created_at: float
    state: IsakmpState = IsakmpState.CONNECTING
    established_at: float | None = None
    proposal: Proposal | None = None
    life: SaLife = field(default_factory=SaLife)
    sai_b: bytes = b""
    """Body of the initiator's SA payload (RFC 2409 section 5, SAi_b)."""
    dh: DhKey | None = None
    g_xi: bytes = b""
    g_xr: bytes = b""
    nonce_i: bytes = b""
    nonce_r: bytes = b""
    id_i: bytes = b""
    """IDii_b of an aggressive mode initiator (HASH_I is sent after the ID)."""
    keys: Phase1Keys | None = None
    iv: IvState | None = None
    peer_id: Identity | None = None
    peer_vids: tuple[bytes, ...] = ()
    next_msg: int = 1
    """Number of the phase 1 message this side expects next (1-6 main, 1-3 aggressive)."""
    p1: Flight = field(init=False)
    quick: dict[int, QuickMode] = field(default_factory=dict)
    """Quick mode exchanges in progress, by message id."""
    mids: RandomMessageIds = field(default_factory=RandomMessageIds)
    """The message ids of its quick mode and informational exchanges."""
    failed: str | None = None
    """Notify name of the phase 1 failure already reported."""
    child_failed: str | None = None
    """Notify name of the last failed quick mode (status ipsec_sa_not_established)."""
    undecryptable: int = 0
    """Messages for this SA that did not decrypt to valid payloads."""
    nat_local: bool = False
    nat_remote: bool = False
    rekey_of: int | None = None
    """uid of the ISAKMP SA this phase 1 replaces (a phase 1 rekey = re-authentication)."""
    superseded: bool = False
    """A newer ISAKMP SA with the peer replaced this one (it only waits for its Delete)."""
    dpd: DpdMachine | None = None
    """RFC 3706 machine watching the peer; only on the newest ISAKMP SA (``liveness.py``)."""
    dpd_armed: float | None = None
    dpd_next_seq: int | None = None
    """Sequence number of our next R-U-THERE (drawn at the first one, RFC 3706 7)."""
    dpd_pending: int | None = None
    """Sequence number of our last R-U-THERE, the only one an R-U-THERE-ACK may carry."""
    dpd_first_acked: int | None = None
    """Sequence number of the first R-U-THERE we acknowledged (``dpd.ack_seq: stale``)."""
    delete_reason: str | None = None
    """Why it is destroyed (``expired``, ``deleted_by_peer``, ``dpd`` ...)."""
    encap: UdpEncap | None = None
    """Set once NAT traversal floated the SA to UDP 4500 (RFC 3947 4): its IPsec SAs' ESP goes
    in UDP (RFC 3948)."""

    @property
    def my_cookie(self) -> bytes:
        return self.cky_i if self.initiator else self.cky_r

    @property
    def alive(self) -> bool:
        return self.state is not IsakmpState.DESTROYED

    def can(self, inp: IsakmpInput) -> bool:
        """``ISAKMP_SA`` has a row for ``inp`` in the current state."""
        return ISAKMP_SA.allows(self.state, inp)

    def move(self, inp: IsakmpInput, fx: Handlers[IsakmpAction, IsakmpSa], now: float) -> None:
        """The one way the state changes: ``ISAKMP_SA``'s row, or ``TransitionError``; then the
        row's actions run through the owner's handlers ``fx``."""
        r = ISAKMP_SA.row(self.state, inp)
        self.state = r.next
        ISAKMP_SA.dispatch(r, fx, self, now)

    @property
    def established(self) -> bool:
        return self.state is IsakmpState.ESTABLISHED

    @property
    def natt(self) -> bool:
        """Both sides announced RFC 3947 NAT traversal: NAT-D payloads are exchanged."""
        return VID_NATT in self.peer_vids

    def key_record(self) -> Ikev1Keys | None:
        """This SA as a row of Wireshark's IKEv1 decryption table (``proto.keylog``)."""
        if self.keys is None:
            return None
        return Ikev1Keys(self.cky_i, self.cky_r, self.keys.encr, self.keys.enc_key, self.keys.prf)

    def label(self) -> dict[str, str]:
        return {"spi_i": self.cky_i.hex(), "spi_r": self.cky_r.hex()}

    def describe(self) -> dict[str, Any]:
        return {**self.label(), "state": self.state.value, "initiator": self.initiator,
                "proposal": str(self.proposal) if self.proposal else None, "established_at": self.established_at,
                "mode": self.mode, "life_time": self.life.seconds}
