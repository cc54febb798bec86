"""Proposals in strongSwan syntax and the responder's choice (RFC 7296 2.7, 3.3).

``aes128-sha256-modp2048`` is one proposal with one transform of each type;
``aes128-aes256-sha256-sha1-modp2048-ecp256`` is still one proposal, listing alternatives of
each type in order of preference (docs.strongswan.org "Algorithm Proposals"). A list of
strings is a list of proposals.

Choice: the responder walks the initiator's proposals in order and takes the first one it
accepts; for each transform type it takes the initiator's first transform that it has
configured too (RFC 7296 2.7). During IKE_AUTH the DH transforms of CHILD SA proposals are
ignored on both sides (no key exchange happens there; RFC 7296 1.2), which is why a PFS
mismatch only shows at the first CREATE_CHILD_SA rekey.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from .algorithms import ALGORITHMS, PRF_FOR_INTEG, Algorithm, Kind, keywords, lookup


class Protocol(enum.IntEnum):
    """Security protocol ID (RFC 7296 3.3.1)."""

    IKE = 1
    AH = 2
    ESP = 3


class ProposalError(ValueError):
    """A proposal string that cannot be parsed; the message says what is allowed."""


_FIELD = {Kind.ENCR: "encr", Kind.PRF: "prf", Kind.INTEG: "integ", Kind.DH: "dh", Kind.ESN: "esn"}
"""The field of a ``Proposal`` holding each kind of transform."""
_FIELDS = tuple(_FIELD.items())
"""In the order of the fields (``Kind``'s order)."""


@dataclass(frozen=True, slots=True)
class Proposal:
    protocol: Protocol
    encr: tuple[Algorithm, ...] = ()
    prf: tuple[Algorithm, ...] = ()
    integ: tuple[Algorithm, ...] = ()
    dh: tuple[Algorithm, ...] = ()
    esn: tuple[Algorithm, ...] = ()

    def of(self, kind: Kind) -> tuple[Algorithm, ...]:
        return getattr(self, _FIELD[kind])  # type: ignore[no-any-return]

    @property
    def aead(self) -> bool:
        return bool(self.encr) and self.encr[0].aead

    def without_dh(self) -> Proposal:
        return replace(self, dh=())

    def transforms(self) -> list[Algorithm]:
        """All transforms in wire order (ENCR, PRF, INTEG, DH, ESN)."""
        return [*self.encr, *self.prf, *self.integ, *self.dh, *self.esn]

    def __str__(self) -> str:
        parts = [a.name for a in (*self.encr, *self.integ, *self.prf, *self.dh)]
        if self.esn and self.esn != (ALGORITHMS["noesn"],):
            parts += [a.name for a in self.esn]
        return "-".join(parts)


def parse(text: str, protocol: Protocol) -> Proposal:
    """Parse one strongSwan proposal string for IKE or ESP."""
    tokens = [t for t in text.strip().lower().split("-") if t]
    if not tokens:
        raise ProposalError("empty proposal")
    by_kind: dict[Kind, list[Algorithm]] = {k: [] for k in Kind}
    for tok in tokens:
        alg = lookup(tok)
        if alg is None:
            raise ProposalError(
                f"unknown algorithm {tok!r} in proposal {text!r}; allowed: "
                f"encryption {', '.join(keywords(Kind.ENCR))}; integrity {', '.join(keywords(Kind.INTEG))}; "
                f"prf {', '.join(keywords(Kind.PRF))}; dh {', '.join(keywords(Kind.DH))}; esn, noesn")
        if alg not in by_kind[alg.kind]:
            by_kind[alg.kind].append(alg)
    encr, integ, prf, dh, esn = (by_kind[k] for k in (Kind.ENCR, Kind.INTEG, Kind.PRF, Kind.DH, Kind.ESN))
    if not encr:
        raise ProposalError(f"proposal {text!r} names no encryption algorithm")
    aead = [a for a in encr if a.aead]
    if aead and len(aead) != len(encr):
        raise ProposalError(f"proposal {text!r} mixes AEAD and non-AEAD ciphers; use two proposals")
    if aead and integ:
        raise ProposalError(f"proposal {text!r}: AEAD cipher {aead[0].name} takes no integrity algorithm")
    if not aead and not integ:
        raise ProposalError(f"proposal {text!r} names no integrity algorithm (e.g. {text}-sha256)")
    if protocol is Protocol.IKE:
        return _ike(text, encr, integ, prf, dh, esn, aead)
    if prf:
        raise ProposalError(f"ESP proposal {text!r}: PRF algorithms apply to IKE only")
    if not esn:
        esn = [ALGORITHMS["noesn"]]
    return Proposal(protocol, tuple(encr), (), tuple(integ), tuple(dh), tuple(esn))


def _ike(text: str, encr: list[Algorithm], integ: list[Algorithm], prf: list[Algorithm], dh: list[Algorithm],
         esn: list[Algorithm], aead: list[Algorithm]) -> Proposal:
    """An IKE proposal: encryption other than null, a DH group, no ESN, and a PRF (given, or the one of
    each integrity algorithm)."""
    if any(a.name == "null" for a in encr):
        raise ProposalError(f"proposal {text!r}: null encryption is not allowed for IKE")
    if not dh:
        raise ProposalError(f"IKE proposal {text!r} names no DH group (e.g. {text}-modp2048)")
    if esn:
        raise ProposalError(f"IKE proposal {text!r}: esn/noesn apply to ESP only")
    if not prf:
        if aead:
            raise ProposalError(
                f"IKE proposal {text!r} with AEAD cipher needs a PRF, e.g. {text}-prfsha256")
        prf = [ALGORITHMS[PRF_FOR_INTEG[a.name]] for a in integ]
        prf = list(dict.fromkeys(prf))
    return Proposal(Protocol.IKE, tuple(encr), tuple(prf), tuple(integ), tuple(dh), ())


def parse_list(texts: list[str] | tuple[str, ...], protocol: Protocol) -> tuple[Proposal, ...]:
    return tuple(parse(t, protocol) for t in texts)


def _pick(offered: tuple[Algorithm, ...], accepted: tuple[Algorithm, ...]) -> Algorithm | bool | None:
    """First offered transform the responder accepts; None if both lists are empty; False if no match."""
    if not offered and not accepted:
        return None
    for a in offered:
        if a in accepted:
            return a
    return False


def match(offered: Proposal, accepted: Proposal, ignore_dh: bool = False) -> Proposal | None:
    """The single-transform proposal both accept, or None."""
    if offered.protocol != accepted.protocol:
        return None
    chosen: list[tuple[Algorithm, ...]] = []
    for kind, name in _FIELDS:
        if kind is Kind.DH and ignore_dh:
            chosen.append(())
            continue
        a = _pick(getattr(offered, name), getattr(accepted, name))
        if a is False:
            return None
        chosen.append(() if a is None else (a,))  # type: ignore[arg-type]
    return Proposal(offered.protocol, *chosen)


def choose(offered: tuple[Proposal, ...], accepted: tuple[Proposal, ...],
           ignore_dh: bool = False) -> tuple[int, Proposal] | None:
    """RFC 7296 2.7: (1-based number of the initiator's proposal, chosen transforms) or None."""
    for i, off in enumerate(offered, 1):
        for acc in accepted:
            m = match(off, acc, ignore_dh)
            if m is not None:
                return i, m
    return None


def is_subset(chosen: Proposal, offered: tuple[Proposal, ...], ignore_dh: bool = False) -> bool:
    """Initiator's check that the responder's answer is one of its own proposals."""
    return any(match(chosen, o, ignore_dh) == (chosen.without_dh() if ignore_dh else chosen) for o in offered)
