"""SA lifetimes: the hard limit and the soft (rekey) point, by time, bytes and packets.

Shared by IKEv1 and IKEv2 (RFC 4301 4.4.2.1: an SA has a soft and a hard lifetime, by time
and by byte count; at the soft limit a replacement is negotiated, at the hard limit the SA
is deleted). Every vendor style reduces to one rule per dimension and per role:

    soft = rekey - U(0, rand)        hard = life

* strongSwan swanctl.conf (children.<child>.rekey_time / life_time / rand_time, and the
  _bytes / _packets variants; connections.<conn>.rekey_time / over_time / rand_time for the
  IKE SA): ``rekey`` and ``rand`` are given directly; life defaults to rekey + 10 %, rand to
  life - rekey (strongSwan swanctl.opt).
* margin + fuzz (legacy ipsec.conf rekeymargin / rekeyfuzz, AWS RekeyMarginTimeSeconds /
  RekeyFuzzPercentage): rekey = life - margin, rand = margin * fuzz, i.e.
  soft = life - margin - U(0, margin * fuzz). Libreswan gives the responder margin / 2 and
  no fuzz (programs/pluto rekeyfuzz.c, fuzz_rekey_margin).
* percentage (Huawei: IKEv1 SA soft lifetime 90 % of hard, IKEv2 85 % +- random; Huawei
  Cloud rekeys a 3600 s IPsec SA at the 54th minute): rekey = p * life.
* role-dependent byte / packet soft limits (Libreswan fuzz_soft_limit: the initiator of the
  SA between 12.5 % and 25 % of the hard limit, the responder between 37.5 % and 50 %).

How a vendor's code turns ``rekey`` and ``rand`` into an instant (whole seconds for strongSwan
and Libreswan) is the peer's timer rule, ``proto.timers`` (docs/timing.md).

``role``: the initiator / responder of the exchange that created the SA (Libreswan's
``st_sa_role``). Nothing here draws a random number except ``Limit.draw`` with the
caller's ``random.Random``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from . import timers

DIMENSIONS = ("time", "bytes", "packets")


@dataclass(frozen=True, slots=True)
class Limit:
    """One dimension of an SA lifetime (seconds, bytes or packets)."""

    life: float | None = None
    """Hard limit; None: unlimited."""
    rekey: float | None = None
    """Nominal soft point for the SA's initiator; None: no soft point (no rekey by this)."""
    rand: float = 0.0
    """Random amount subtracted from ``rekey`` (uniform in [0, rand])."""
    rekey_responder: float | None = None
    """Soft point for the SA's responder when it differs; None: same as ``rekey``."""
    rand_responder: float | None = None
    """Random amount for the responder when it differs; None: same as ``rand``."""
    follows: str = "absolute"
    """How the soft point follows another hard limit (``with_life``, e.g. an IKEv1 lifetime
    the peer chose): ``absolute`` keeps it, ``fraction`` scales it with the limit, ``margin``
    keeps its distance below the limit."""

    def soft_range(self, initiator: bool = True) -> tuple[float, float] | None:
        """(earliest, latest) soft point for this role, or None when there is none."""
        rekey = self.rekey if initiator or self.rekey_responder is None else self.rekey_responder
        rand = self.rand if initiator or self.rand_responder is None else self.rand_responder
        if rekey is None or rekey <= 0:
            return None
        return max(0.0, rekey - rand), rekey

    def draw(self, rng: random.Random, initiator: bool = True, rule: str = "exact",
             sa: str = "child") -> tuple[float | None, float | None]:
        """(soft, hard) for a new SA. A soft point at or beyond the hard limit is dropped.

        ``rule`` is the peer's vendor arithmetic (``proto.timers``): ``exact`` draws
        ``rekey - U(0, rand)``; ``strongswan`` truncates to whole units as child_cfg.c
        ``apply_jitter`` (``sa="child"``) or peer_cfg.c ``get_rekey_time`` (``sa="ike"``, whose
        hard limit is the drawn soft point + over_time, ike_sa.c ``set_state``; ``sa="isakmp"``, an
        IKEv1 SA whose lifetime may be the peer's, keeps its hard limit); ``libreswan``
        fuzzes a margin-style soft point as rekeyfuzz.c ``fuzz_rekey_margin``."""
        rng_range = self.soft_range(initiator)
        soft = None
        hard = self.life
        if rng_range is not None:
            lo, hi = rng_range
            if rule == "strongswan":
                if sa in ("ike", "isakmp"):
                    soft = timers.strongswan_ike_rekey(hi, hi - lo, rng)
                    over = self.life - self.rekey if self.life is not None and self.rekey is not None else 0.0
                    if sa == "ike" and over > 0:
                        return soft, soft + over  # ike_sa.c set_state: deleted over_time after the rekey
                else:
                    soft = timers.strongswan_apply_jitter(hi, hi - lo, rng)
            elif rule == "libreswan" and self.follows == "margin" and self.life is not None \
                    and self.rekey is not None:
                margin = self.life - self.rekey
                fuzz = round(100 * self.rand / margin) if margin > 0 else 0
                marg = timers.libreswan_margin(margin, fuzz, initiator, rng)
                # ikev2_parent.c schedule_v2_replace_event: rekey only when lifetime > marg
                soft = self.life - marg if self.life > marg else None
            else:
                soft = hi - (hi - lo) * rng.random() if hi > lo else hi
            if soft is not None and self.life is not None and soft >= self.life:
                soft = None
        return soft, hard

    def with_life(self, life: float | None) -> Limit:
        """The same rule applied to another hard limit."""
        if life is None or self.life is None or life == self.life:
            return replace(self, life=life)
        old = self.life
        if self.follows == "fraction":
            k = life / old
            return Limit(life, _mul(self.rekey, k), self.rand * k, _mul(self.rekey_responder, k),
                         _mul(self.rand_responder, k), self.follows)
        if self.follows == "margin":
            # the margin stays below the new limit; a margin the new limit does not exceed
            # (e.g. AWS 270 s + fuzz against a peer's 90 s IPsec SA) would leave no soft point
            # at all: that role's soft point keeps its share of the limit instead
            k, d = life / old, life - old
            ri, di = _margin_or_share(self.rekey, self.rand, d, k)
            rr, dr = _margin_or_share(self.rekey if self.rekey_responder is None else self.rekey_responder,
                                      self.rand if self.rand_responder is None else self.rand_responder, d, k)
            return Limit(life, ri, di or 0.0, None if self.rekey_responder is None and rr == ri else rr,
                         None if self.rand_responder is None and dr == di else dr, self.follows)
        return replace(self, life=life)

    @property
    def enabled(self) -> bool:
        return self.life is not None or (self.rekey is not None and self.rekey > 0)


def _mul(v: float | None, k: float) -> float | None:
    return None if v is None else v * k


def _margin_or_share(rekey: float | None, rand: float | None, d: float,
                     k: float) -> tuple[float | None, float | None]:
    """(rekey, rand) of a margin-style soft point moved to a hard limit ``d`` longer (``k``
    times as long): the same margin when it fits, else the same share of the limit."""
    if rekey is None or rekey <= 0 or rekey + d > 0:
        return (None if rekey is None else max(0.0, rekey + d)), rand
    return rekey * k, _mul(rand, k)


@dataclass(frozen=True, slots=True)
class Lifetime:
    """Soft and hard limits of an SA in every dimension (an IKE SA uses ``time`` only)."""

    time: Limit = field(default_factory=Limit)
    bytes: Limit = field(default_factory=Limit)
    packets: Limit = field(default_factory=Limit)

    def draw(self, rng: random.Random, initiator: bool = True, rule: str = "exact", sa: str = "child") -> Expiry:
        """The expiry points of one new SA; time values are relative to its installation.
        ``rule`` and ``sa`` as ``Limit.draw``; volume limits always follow the CHILD rule."""
        st, ht = self.time.draw(rng, initiator, rule, sa)
        sb, hb = self.bytes.draw(rng, initiator, rule, "child")
        sp, hp = self.packets.draw(rng, initiator, rule, "child")
        return Expiry(st, ht, sb, hb, sp, hp)

    def with_life_time(self, seconds: float | None) -> Lifetime:
        return replace(self, time=self.time.with_life(seconds))


@dataclass(frozen=True, slots=True)
class Expiry:
    """Drawn expiry points of one SA: seconds after installation, bytes and packets counted
    per direction (each direction of a CHILD SA pair is its own kernel SA with its own
    counters, RFC 4301 4.4.2.1)."""

    soft_time: float | None = None
    hard_time: float | None = None
    soft_bytes: float | None = None
    hard_bytes: float | None = None
    soft_packets: float | None = None
    hard_packets: float | None = None

    def volume(self, by: str) -> tuple[float | None, float | None]:
        """(soft, hard) volume limit for ``by`` = bytes | packets."""
        return (self.soft_bytes, self.hard_bytes) if by == "bytes" else (self.soft_packets, self.hard_packets)


#: strongSwan's retry after a failed rekey: RETRY_INTERVAL 30 s minus up to RETRY_JITTER 20 s
#: (src/libcharon/sa/ike_sa.h), used by its child_rekey and ike_rekey tasks.
RETRY_INTERVAL = 30.0
RETRY_JITTER = 20.0


def retry_delay(rng: random.Random) -> float:
    """Seconds until a failed rekey is tried again (strongSwan: 10-30 s)."""
    return RETRY_INTERVAL - RETRY_JITTER * rng.random()
