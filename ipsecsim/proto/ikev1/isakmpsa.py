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
from ..fsm import Table
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


_S = IsakmpState
ISAKMP_SA: Table[IsakmpState, IsakmpInput] = Table(
    "ISAKMP SA", IsakmpState, IsakmpInput, _S.CONNECTING,
    {
        (_S.CONNECTING, IsakmpInput.ESTABLISH): _S.ESTABLISHED,
        (_S.CONNECTING, IsakmpInput.DESTROY): _S.DESTROYED,
        (_S.ESTABLISHED, IsakmpInput.DESTROY): _S.DESTROYED,
    },
    {
        IsakmpInput.ESTABLISH: "the last phase 1 message is sent or verified",
        IsakmpInput.DESTROY: "gone: Delete sent or received, expired, phase 1 failed, dead peer, INITIAL-CONTACT",
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

    def move(self, inp: IsakmpInput) -> None:
        """The one way the state changes: ``ISAKMP_SA``'s row, or ``TransitionError``."""
        self.state = ISAKMP_SA.next(self.state, inp)

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
