"""Security association records shared by IKEv1 and IKEv2 (RFC 4301 SAD entries, as kept
by the IKE daemon): the CHILD / IPsec SA pair and its lifecycle, the table ``CHILD_SA``.

Both IKE versions install a CHILD SA (IKEv1: the IPsec SA pair of a quick mode) once its
exchange completed, so it starts INSTALLED; a rekey runs while it carries traffic (RFC 7296
2.8, RFC 2409 5.5 + lifetimes); the new SA replaces it make-before-break (its inbound SA
stays until the peer's DELETE or ``delete_rekeyed_delay``); then it is deleted."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from .fsm import Handlers, Table, row
from .lifetime import Expiry
from .proposals import Proposal
from .ts import TrafficSelector


class ChildState(enum.Enum):
    INSTALLED = "installed"  # carries traffic
    REKEYING = "rekeying"  # carries traffic; a rekey exchange for it runs or waits
    REKEYED = "rekeyed"  # replaced; inbound kept briefly (make-before-break)
    DELETED = "deleted"  # gone from the kernel


class ChildInput(enum.Enum):
    REKEY = "rekey"
    REKEY_ABORTED = "rekey_aborted"
    REPLACED = "replaced"
    DELETE = "delete"


class ChildAction(enum.Enum):
    STOP_OUTBOUND = "stop_outbound"
    REPORT_DELETED = "report_deleted"
    FORGET = "forget"


_C, _CA = ChildState, ChildAction
_GONE = (_CA.STOP_OUTBOUND, _CA.REPORT_DELETED, _CA.FORGET)
CHILD_SA: Table[ChildState, ChildInput, ChildAction] = Table(
    "CHILD SA", ChildState, ChildInput, ChildAction, _C.INSTALLED,
    {
        (_C.INSTALLED, ChildInput.REKEY): row(_C.REKEYING),
        (_C.INSTALLED, ChildInput.REPLACED): row(_C.REKEYED),
        (_C.INSTALLED, ChildInput.DELETE): row(_C.DELETED, *_GONE),
        (_C.REKEYING, ChildInput.REKEY_ABORTED): row(_C.INSTALLED),
        (_C.REKEYING, ChildInput.REPLACED): row(_C.REKEYED),
        (_C.REKEYING, ChildInput.DELETE): row(_C.DELETED, *_GONE),
        (_C.REKEYED, ChildInput.REPLACED): row(_C.REKEYED),  # the peer's DELETE completes a switch already made
        (_C.REKEYED, ChildInput.DELETE): row(_C.DELETED, *_GONE),
    },
    {
        ChildInput.REKEY: "a rekey starts (soft lifetime; IKEv1: or waits for a phase 1)",
        ChildInput.REKEY_ABORTED: "the rekey failed or was dropped without a new SA: the SA carries on",
        ChildInput.REPLACED: "a new SA with its selectors took over its outbound traffic",
        ChildInput.DELETE: "removed: hard lifetime, DELETE sent or received, IKE SA gone, dead peer",
    },
    {
        ChildAction.STOP_OUTBOUND: "its outbound SA carries no more traffic",
        ChildAction.REPORT_DELETED: "event child_sa_deleted, with the reason recorded in `removed`",
        ChildAction.FORGET: "the engine drops it from its SA lists and timers (gone from the kernel)",
    })
"""The CHILD SA lifecycle, shared by IKEv1 (IPsec SAs) and IKEv2 (CHILD SAs). DELETED is final."""


ROUTED = frozenset(("state", "outbound", "spi_in", "spi_out", "encap"))
"""The fields of a ``ChildSa`` that decide where ESP goes (which SA a packet leaves on, which
one takes it in, its UDP encapsulation)."""
route_epoch = 0
"""Bumped whenever an SA changes where ESP goes: a field of ``ROUTED`` written (an SA made,
switched outbound, moved to DELETED), a ``UdpEncap`` port followed, or a data plane's set of
installed SAs changed (``routes_changed``). The SA records push their changes here; a data
plane's cached look-ups (proto/traffic.py, sim/train.py) hold while it is unchanged."""


def routes_changed() -> None:
    """Something that decides where ESP goes changed: every cached look-up is stale."""
    global route_epoch
    route_epoch += 1


@dataclass(slots=True, eq=False)
class UdpEncap:
    """ESP in UDP (RFC 3948) after NAT traversal was negotiated: the two ends' IKE addresses
    and ports. Shared by an IKE SA and its CHILD SAs, so that when the peer's NAT mapping
    changes and the IKE SA learns the new port (RFC 7296 2.23), the ESP follows."""

    local: tuple[str, int]
    remote: tuple[str, int]

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        routes_changed()  # the ESP of its CHILD SAs follows


@dataclass(slots=True)
class ChildSa:
    uid: int
    ike_uid: int
    spi_in: bytes
    spi_out: bytes
    proposal: Proposal
    local_ts: tuple[TrafficSelector, ...]
    remote_ts: tuple[TrafficSelector, ...]
    initiator: bool
    """This side initiated the exchange that created the SA."""
    established_at: float
    encr_key_in: bytes = b""
    integ_key_in: bytes = b""
    encr_key_out: bytes = b""
    integ_key_out: bytes = b""
    state: ChildState = ChildState.INSTALLED
    nonces: tuple[bytes, bytes] = (b"", b"")  # (Ni, Nr) of the creating exchange
    counters: dict[str, int] = field(default_factory=lambda: {"bytes_in": 0, "bytes_out": 0,
                                                              "packets_in": 0, "packets_out": 0})
    life_time: float | None = None
    """Hard lifetime in seconds as negotiated (IKEv1 proposal attribute); None: not recorded."""
    life_bytes: int | None = None
    """Hard volume lifetime in bytes as negotiated (IKEv1 kilobytes x 1024); None: no limit."""
    life_packets: int | None = None
    """Hard packet-count lifetime (local only: IKEv1 cannot negotiate it); None: no limit."""
    outbound: bool = True
    """Its outbound SA is installed and carries traffic (a rekey responder waits for the DELETE
    of the old SA before switching; the data plane uses the newest SA with this set)."""
    expiry: Expiry | None = None
    """Soft / hard limits drawn when the SA was installed (proto.lifetime)."""
    replaces: int | None = None
    """uid of the CHILD SA this one rekeyed."""
    removed: str | None = None
    """Why the SA was deleted (``expired``, ``rekeyed``, ``deleted_by_peer`` ...)."""
    encap: UdpEncap | None = None
    """Set when its ESP travels in UDP (NAT traversal, RFC 3948); None: IP protocol 50."""

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in ROUTED:
            routes_changed()

    @property
    def active(self) -> bool:
        return self.state in (ChildState.INSTALLED, ChildState.REKEYING)

    def can(self, inp: ChildInput) -> bool:
        """``CHILD_SA`` has a row for ``inp`` in the current state."""
        return CHILD_SA.allows(self.state, inp)

    def move(self, inp: ChildInput, fx: Handlers[ChildAction, ChildSa], now: float) -> None:
        """The one way the state changes: ``CHILD_SA``'s row, or ``TransitionError``; then the
        row's actions run through the owner's handlers ``fx``."""
        r = CHILD_SA.row(self.state, inp)
        self.state = r.next
        CHILD_SA.dispatch(r, fx, self, now)

    def describe(self) -> dict[str, Any]:
        return {"spi_in": self.spi_in.hex(), "spi_out": self.spi_out.hex(), "proposal": str(self.proposal),
                "local_ts": [str(s) for s in self.local_ts], "remote_ts": [str(s) for s in self.remote_ts]}


def stop_outbound(child: ChildSa, now: float) -> None:
    """``ChildAction.STOP_OUTBOUND``, the same for both IKE versions."""
    child.outbound = False
