"""Checks of a peer's proposals when it speaks IKEv1 (``ike.version: 1``).

The proposal syntax is strongSwan's for both versions, but IKEv1 can say less:

* one algorithm of each kind per proposal ("IKEv1 only supports one algorithm of each kind
  per proposal. Additional algorithms are implicitly stripped", docs.strongswan.org
  "Algorithm Proposals"): ipsecsim refuses instead of stripping silently;
* phase 1 ciphers are the CBC ciphers of RFC 2409 Appendix A / RFC 3602 (no AEAD, no CTR),
  the hash algorithm is the PRF (RFC 2409 section 5), so no separate PRF;
* ESP algorithms need an IPsec DOI code point (RFC 2407 4.4.4 / 4.5);
* aggressive mode cannot negotiate the DH group: KE is in the first message (RFC 2409 5.4).

Each problem is one ConfigError naming the field and what is allowed.
"""

from __future__ import annotations

import itertools

from ..errors import ConfigError, shown
from ..proto.algorithms import ALGORITHMS, PRF_FOR_INTEG, Kind
from ..proto.proposals import Proposal, Protocol, parse
from .model import PeerConfig

_P1_ENCR = [a.name for a in ALGORITHMS.values() if a.kind is Kind.ENCR and a.ikev1_id is not None]
_P1_HASH = [a.hash for a in ALGORITHMS.values() if a.kind is Kind.PRF and a.ikev1_id is not None]
_ESP_ENCR = [a.name for a in ALGORITHMS.values() if a.kind is Kind.ENCR and a.esp_v1_id is not None]
_ESP_INTEG = [a.name for a in ALGORITHMS.values() if a.kind is Kind.INTEG and a.esp_v1_id is not None]


def _split(p: Proposal, kinds: tuple[Kind, ...]) -> str:
    combos = itertools.product(*(p.of(k) or (None,) for k in kinds))
    out = ["-".join(a.name for a in combo if a is not None) for combo in itertools.islice(combos, 4)]
    return ", ".join(out[:3]) + (", ..." if len(out) > 3 else "")


def _one_each(text: str, p: Proposal, kinds: tuple[Kind, ...]) -> str | None:
    if all(len(p.of(k)) <= 1 for k in kinds):
        return None
    return (f"{shown(text)}: an IKEv1 proposal holds one algorithm of each kind (strongSwan strips the others); "
            f"list the alternatives as separate proposals, e.g. [{_split(p, kinds)}]")


def _ike_problem(text: str) -> str | None:
    p = parse(text, Protocol.IKE)
    problem = _one_each(text, p, (Kind.ENCR, Kind.INTEG, Kind.DH))
    if problem:
        return problem
    encr, integ = p.encr[0], (p.integ[0] if p.integ else None)
    if encr.ikev1_id is None:
        return (f"{encr.name} is not available in IKEv1 phase 1 (RFC 2409 Appendix A / RFC 3602 define CBC ciphers "
                f"only); use one of {', '.join(_P1_ENCR)}")
    if integ is None or integ.name not in _P1_HASH:
        shown = integ.name if integ else "no integrity algorithm"
        return f"{shown}: IKEv1 phase 1 needs a hash algorithm, one of {', '.join(_P1_HASH)}"
    implied = ALGORITHMS[PRF_FOR_INTEG[integ.name]]
    if p.prf != (implied,):
        return (f"{'-'.join(a.name for a in p.prf)}: IKEv1 has no separate PRF, it is HMAC with the hash algorithm "
                f"(RFC 2409 section 5); remove it (implied: {implied.name})")
    return None


def _esp_problem(text: str) -> str | None:
    p = parse(text, Protocol.ESP)
    problem = _one_each(text, p, (Kind.ENCR, Kind.INTEG, Kind.DH))
    if problem:
        return problem
    encr = p.encr[0]
    if encr.esp_v1_id is None:
        return (f"{encr.name} has no IPsec DOI ESP transform id for IKEv1 (RFC 2407 4.4.4); use one of "
                f"{', '.join(_ESP_ENCR)}")
    if p.integ and p.integ[0].esp_v1_id is None:
        return (f"{p.integ[0].name} has no IPsec DOI authentication algorithm for IKEv1 (RFC 2407 4.5); use one of "
                f"{', '.join(_ESP_INTEG)}")
    return None


def check_ikev1(file: str | None, name: str, peer: PeerConfig) -> None:
    """Raise ConfigError for the first proposal an IKEv1 peer cannot express."""
    if peer.ike.version != 1:
        return
    for i, text in enumerate(peer.ike.proposals):
        problem = _ike_problem(text)
        if problem:
            raise ConfigError(file, f"peers.{name}.ike.proposals[{i}]", problem)
    for i, text in enumerate(peer.child.proposals):
        problem = _esp_problem(text)
        if problem:
            raise ConfigError(file, f"peers.{name}.child.proposals[{i}]", problem)
    pfs = list(dict.fromkeys(g.name for t in peer.child.proposals for g in parse(t, Protocol.ESP).dh))
    if len(pfs) > 1:
        raise ConfigError(file, f"peers.{name}.child.proposals",
                          f"quick mode carries one KE payload, so all ESP proposals with PFS must use one DH group "
                          f"(RFC 2409 5.5), found {', '.join(pfs)}")
    if peer.ike.mode == "aggressive":
        groups = list(dict.fromkeys(parse(t, Protocol.IKE).dh[0].name for t in peer.ike.proposals))
        if len(groups) > 1:
            raise ConfigError(file, f"peers.{name}.ike.proposals",
                              f"aggressive mode sends KE in its first message, so the DH group cannot be negotiated "
                              f"(RFC 2409 5.4): all IKE proposals must use one group, found {', '.join(groups)}")
