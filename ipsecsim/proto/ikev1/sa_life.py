"""IKEv1 negotiated SA lives (``SaLife``): proposal attributes, and the responder's reaction to a
different one. (This side's own soft and hard limits are ``proto.lifetime``; what happens when
they are reached is ``expiry.py``.)

In IKEv1 a lifetime is an attribute of the proposed transform, in seconds and/or kilobytes
(RFC 2409 Appendix A class 11/12 for phase 1, RFC 2407 4.5 SA Life Type/Duration for IPsec
SAs; an IPsec SA without a seconds lifetime lives 28800 s, RFC 2407 4.5). The responder
cannot change the offered attributes (RFC 2408 4.2), so implementations differ in what they
do when its own configuration says otherwise. ipsecsim models the four policies of racoon's
``proposal_check`` (racoon.conf(5)), applied to phase 1 and phase 2 alike:

* ``obey``   - take the initiator's lifetime (strongSwan: quick_mode.c ``apply_lifetimes``);
* ``strict`` - accept a proposed lifetime that is not longer than our own, reject a longer one;
* ``claim``  - use the shorter of both; when ours is shorter, announce it to the initiator in
  a RESPONDER-LIFETIME notify (RFC 2407 4.6.3.1; racoon: phase 2 only);
* ``exact``  - reject unless the proposed lifetime equals ours.

A rejected lifetime makes the proposal unacceptable (NO_PROPOSAL_CHOSEN). Each dimension
(seconds, kilobytes) is judged on its own; a missing value means "no limit".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

POLICIES = ("obey", "claim", "strict", "exact")
DEFAULT_IPSEC_SECONDS = 28800  # RFC 2407 4.5: "If unspecified, the default ... 28800 seconds"


@dataclass(frozen=True, slots=True)
class SaLife:
    """The life of an SA as IKEv1 proposes it: seconds and / or kilobytes (None: no limit)."""

    seconds: int | None = None
    kilobytes: int | None = None

    @classmethod
    def from_settings(cls, seconds: float | None, life_bytes: int | None = None) -> SaLife:
        """Configured values: seconds rounded up to whole seconds, bytes to kilobytes of 1024
        octets (the unit strongSwan and Linux use for the IKEv1 kilobyte lifetime)."""
        secs = max(1, math.ceil(seconds)) if seconds is not None else None
        kb = max(1, life_bytes // 1024) if life_bytes is not None else None
        return cls(secs, kb)

    def with_ipsec_default(self) -> SaLife:
        return self if self.seconds is not None else SaLife(DEFAULT_IPSEC_SECONDS, self.kilobytes)

    @property
    def life_bytes(self) -> int | None:
        return self.kilobytes * 1024 if self.kilobytes is not None else None

    def __str__(self) -> str:
        parts = ([f"{self.seconds} s"] if self.seconds is not None else []) + (
            [f"{self.kilobytes} KB"] if self.kilobytes is not None else [])
        return ", ".join(parts) or "no lifetime"


@dataclass(frozen=True, slots=True)
class Decision:
    """The responder's answer to a proposed lifetime."""

    ok: bool
    life: SaLife
    """The lifetime the responder uses (when ``ok``)."""
    claimed: SaLife | None
    """Our own, shorter values announced in RESPONDER-LIFETIME (claim); None otherwise."""
    reason: str
    """Why the proposal was rejected, or what the responder did; empty when both agree."""


def _inf(v: int | None) -> float:
    return math.inf if v is None else float(v)


def _show(v: int | None, unit: str) -> str:
    return "no limit" if v is None else f"{v} {unit}"


def decide(policy: str, proposed: SaLife, own: SaLife) -> Decision:
    """Apply ``policy`` (racoon.conf(5) proposal_check) to each lifetime dimension."""
    if policy not in POLICIES:
        raise ValueError(f"unknown lifetime policy {policy!r}; allowed: {', '.join(POLICIES)}")
    used: dict[str, int | None] = {}
    claimed: dict[str, int | None] = {}
    notes: list[str] = []
    for dim, unit, label in (("seconds", "s", "lifetime"), ("kilobytes", "KB", "volume lifetime")):
        p, o = getattr(proposed, dim), getattr(own, dim)
        used[dim], claimed[dim] = p, None
        if p == o:
            continue
        what = f"proposed {label} {_show(p, unit)}, configured {_show(o, unit)}"
        if policy == "obey":
            notes.append(f"{what}: obeying the initiator")
        elif policy == "strict":
            if _inf(p) > _inf(o):
                return Decision(False, proposed, None, f"{what}: longer than ours (lifetime policy strict)")
            notes.append(f"{what}: shorter, accepted (strict)")
        elif policy == "exact":
            return Decision(False, proposed, None, f"{what}: not equal (lifetime policy exact)")
        elif _inf(p) > _inf(o):  # claim
            used[dim] = claimed[dim] = o
            notes.append(f"{what}: using ours (claim)")
        else:
            notes.append(f"{what}: shorter, accepted (claim)")
    life = SaLife(used["seconds"], used["kilobytes"])
    claim = SaLife(claimed["seconds"], claimed["kilobytes"])
    return Decision(True, life, claim if claim != SaLife() else None, "; ".join(notes))
