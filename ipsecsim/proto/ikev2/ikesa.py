"""The IKEv2 IKE SA: identity, SPIs, negotiated transforms, key material, children, and its
lifecycle, the table ``IKE_SA`` (RFC 7296 1.3.2 rekeying, 1.4.1 deleting, 2.8 rekey of the
IKE SA).

Key derivation follows RFC 7296 2.14 (SKEYSEED, SK_*), AUTH for pre-shared keys 2.15,
NAT detection hashes 2.23.
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import kdf
from ..algorithms import Algorithm
from ..dh import DhKey
from ..dpd import DpdMachine
from ..fsm import Table
from ..proposals import Proposal
from ..sa import ChildSa, UdpEncap
from ..settings import Identity
from .wire import IkeKeys, SkKeys

if TYPE_CHECKING:
    from ..taskmgr import TaskManager
    from .message import Message

KEY_PAD = b"Key Pad for IKEv2"  # RFC 7296 2.15


class IkeState(enum.Enum):
    CONNECTING = "connecting"  # IKE_SA_INIT / IKE_AUTH in progress (or a rekey's new SA being set up)
    ESTABLISHED = "established"
    REKEYING = "rekeying"  # our CREATE_CHILD_SA rekeying it is in flight
    REKEYED = "rekeyed"  # replaced by a rekey; only its deletion exchange remains
    DELETING = "deleting"  # its DELETE is sent or about to be answered
    DESTROYED = "destroyed"  # forgotten; final


class IkeInput(enum.Enum):
    ESTABLISH = "establish"
    REKEY = "rekey"
    REKEY_ABORTED = "rekey_aborted"
    REPLACED = "replaced"
    DELETE = "delete"
    DESTROY = "destroy"


_K = IkeState
IKE_SA: Table[IkeState, IkeInput] = Table(
    "IKE SA", IkeState, IkeInput, _K.CONNECTING,
    {
        (_K.CONNECTING, IkeInput.ESTABLISH): _K.ESTABLISHED,
        (_K.CONNECTING, IkeInput.DELETE): _K.DELETING,
        (_K.CONNECTING, IkeInput.DESTROY): _K.DESTROYED,
        (_K.ESTABLISHED, IkeInput.REKEY): _K.REKEYING,
        (_K.ESTABLISHED, IkeInput.REPLACED): _K.REKEYED,
        (_K.ESTABLISHED, IkeInput.DELETE): _K.DELETING,
        (_K.ESTABLISHED, IkeInput.DESTROY): _K.DESTROYED,
        (_K.REKEYING, IkeInput.REKEY): _K.REKEYING,  # INVALID_KE_PAYLOAD: the request again with the asked group
        (_K.REKEYING, IkeInput.REKEY_ABORTED): _K.ESTABLISHED,
        (_K.REKEYING, IkeInput.REPLACED): _K.REKEYED,
        (_K.REKEYING, IkeInput.DELETE): _K.DELETING,
        (_K.REKEYING, IkeInput.DESTROY): _K.DESTROYED,
        (_K.REKEYED, IkeInput.DELETE): _K.DELETING,
        (_K.REKEYED, IkeInput.DESTROY): _K.DESTROYED,
        (_K.DELETING, IkeInput.DELETE): _K.DELETING,  # both ends delete at once
        (_K.DELETING, IkeInput.DESTROY): _K.DESTROYED,
    },
    {
        IkeInput.ESTABLISH: "IKE_AUTH completed, or a rekey created it (it takes over at once)",
        IkeInput.REKEY: "our CREATE_CHILD_SA request rekeying it is sent (soft lifetime)",
        IkeInput.REKEY_ABORTED: "that request failed: rekey again after a retry delay",
        IkeInput.REPLACED: "a rekey's new SA took over its CHILD SAs (ours or the peer's rekey)",
        IkeInput.DELETE: "a DELETE is sent or received, or it failed with a response still to send",
        IkeInput.DESTROY: "gone: deleted, expired, given up, dead peer, INITIAL_CONTACT",
    })
"""The IKEv2 IKE SA lifecycle. DESTROYED is final."""


@dataclass(slots=True, eq=False)
class IkeSa:
    uid: int
    initiator: bool
    """This side is the original initiator (the I flag it sends)."""
    spi_i: bytes
    spi_r: bytes
    local: tuple[str, int]
    remote: tuple[str, int]
    created_at: float
    state: IkeState = IkeState.CONNECTING
    established_at: float | None = None
    proposal: Proposal | None = None
    dh: DhKey | None = None
    nonce_i: bytes = b""
    nonce_r: bytes = b""
    keys: kdf.IkeSaKeys | None = None
    init_request: bytes = b""
    """The IKE_SA_INIT request exactly as sent or received (RFC 7296 2.15 RealMessage1)."""
    init_response: bytes = b""
    """The IKE_SA_INIT response exactly as sent or received (RealMessage2)."""
    children: list[ChildSa] = field(default_factory=list)
    peer_id: Identity | None = None
    nat_local: bool = False
    nat_remote: bool = False
    encap: UdpEncap | None = None
    """Set once NAT traversal floated the SA to UDP 4500: its CHILD SAs' ESP goes in UDP."""
    delete_reason: str | None = None
    """Set when the SA is to be destroyed after the response in progress is sent."""
    child_failed: str | None = None
    """Notify name when the CHILD SA of IKE_AUTH was refused."""
    dpd: DpdMachine | None = None
    """Dead peer detection of this IKE SA (None: DPD off on this side)."""
    dpd_cause: str | None = None
    """Why DPD gave up, when not because its own probes went unanswered."""
    dpd_armed: float | None = None
    """When the DPD timer hint is due (one pending hint at a time)."""
    tm: TaskManager[IkeSa, Message] = field(init=False)

    @property
    def my_spi(self) -> bytes:
        return self.spi_i if self.initiator else self.spi_r

    @property
    def alive(self) -> bool:
        return self.state is not IkeState.DESTROYED

    @property
    def usable(self) -> bool:
        """ESTABLISHED or REKEYING: it carries new exchanges (a rekeyed or deleting SA does not,
        RFC 7296 2.8 / 1.4.1)."""
        return self.state in (IkeState.ESTABLISHED, IkeState.REKEYING)

    def can(self, inp: IkeInput) -> bool:
        """``IKE_SA`` has a row for ``inp`` in the current state."""
        return IKE_SA.allows(self.state, inp)

    def move(self, inp: IkeInput) -> None:
        """The one way the state changes: ``IKE_SA``'s row, or ``TransitionError``."""
        self.state = IKE_SA.next(self.state, inp)

    @property
    def prf(self) -> Algorithm:
        assert self.proposal is not None
        return self.proposal.prf[0]

    def label(self) -> dict[str, str]:
        return {"spi_i": self.spi_i.hex(), "spi_r": self.spi_r.hex()}

    def derive_keys(self, g_ir: bytes) -> None:
        """RFC 7296 2.14 from the negotiated proposal, nonces, SPIs and the DH secret."""
        assert self.proposal is not None
        p = self.proposal
        seed = kdf.skeyseed(p.prf[0], self.nonce_i, self.nonce_r, g_ir)
        self.keys = kdf.ike_sa_keys(p.prf[0], p.encr[0], p.integ[0] if p.integ else None, seed,
                                    self.nonce_i, self.nonce_r, self.spi_i, self.spi_r)

    def sk(self, sender_is_initiator: bool) -> SkKeys:
        """Keys protecting messages sent by the original initiator (or responder)."""
        assert self.keys is not None and self.proposal is not None
        k, p = self.keys, self.proposal
        integ = p.integ[0] if p.integ else None
        if sender_is_initiator:
            return SkKeys(p.encr[0], integ, k.sk_ei, k.sk_ai)
        return SkKeys(p.encr[0], integ, k.sk_er, k.sk_ar)

    def wire_keys(self) -> IkeKeys:
        """Both directions' keys, for packet traces (``Datagram.keys``, the keys file)."""
        assert self.keys is not None and self.proposal is not None
        k, p = self.keys, self.proposal
        return IkeKeys(self.spi_i, self.spi_r, p.encr[0], p.integ[0] if p.integ else None,
                       k.sk_ei, k.sk_er, k.sk_ai, k.sk_ar)

    def auth_octets(self, of_initiator: bool, id_body: bytes, psk: bytes) -> bytes:
        """RFC 7296 2.15: AUTH = prf(prf(PSK, "Key Pad for IKEv2"), <SignedOctets>) where
        InitiatorSignedOctets = RealMessage1 | NonceRData | prf(SK_pi, IDi') and
        ResponderSignedOctets = RealMessage2 | NonceIData | prf(SK_pr, IDr').

        RealMessage1/2 are ``init_request`` / ``init_response``, the octets that went over
        the wire; ``id_body`` is the ID payload body as sent or received, RESERVED octets
        included (strongSwan 5.9.8 keymat_v2.c get_auth_octets)."""
        assert self.keys is not None
        prf = self.prf
        if of_initiator:
            signed = self.init_request + self.nonce_r + kdf.prf(prf, self.keys.sk_pi, id_body)
        else:
            signed = self.init_response + self.nonce_i + kdf.prf(prf, self.keys.sk_pr, id_body)
        return kdf.prf(prf, kdf.prf(prf, psk, KEY_PAD), signed)

    def active_children(self) -> list[ChildSa]:
        return [c for c in self.children if c.active]


def natd_hash(spi_i: bytes, spi_r: bytes, addr: str, port: int) -> bytes:
    """RFC 7296 2.23: SHA-1(SPIi | SPIr | IP | Port)."""
    return hashlib.sha1(spi_i + spi_r + ipaddress.ip_address(addr).packed + port.to_bytes(2, "big")).digest()
