"""Vendor timer arithmetic: how a real IKE daemon turns its configured times into instants.

A configuration says "rekey after 20 s, minus up to 2 s at random"; each daemon computes the
actual instant with its own integer arithmetic, and that arithmetic decides which instants can
occur at all. A peer's ``timers`` rule (``PeerSettings.timers``, set by its vendor profile)
selects one of:

``exact``
    The idealised rule, for vendors whose source is not available: a soft point drawn
    continuously, ``rekey - U(0, rand)``; retransmission waits as real numbers; DPD probes when
    ``delay`` has passed since the last inbound message (RFC 3706 5.3 "worry metric").

``strongswan`` (strongSwan 5.9.8 source, github.com/strongswan/strongswan, tag 5.9.8)
    * CHILD SA soft limits (time, bytes, packets): ``src/libcharon/config/child_cfg.c``
      ``apply_jitter()``: ``rekey - (jitter + 1) * (random() / (RAND_MAX + 1.0))`` returned as
      ``uint64_t``, i.e. truncated to whole seconds (bytes, packets). With rekey_time 20 s and
      rand_time 2 s the instants are 17, 18 or 19 s after installation, each with probability
      1/3 (20 s only when ``random()`` returns 0: probability 2^-31).
    * IKE SA rekey / reauthentication: ``src/libcharon/config/peer_cfg.c`` ``get_rekey_time()``
      / ``get_reauth_time()``: ``rekey_time - (random() % jitter_time)``, whole seconds in
      ``{rekey - jitter + 1 .. rekey}``; ``src/libcharon/sa/ike_sa.c`` ``set_state()`` then
      deletes the SA ``over_time`` after that drawn instant (STAT_DELETE = STAT_REKEY +
      over_time), not at a fixed life_time.
    * Retransmission: ``src/libcharon/sa/ikev2/task_manager_v2.c`` ``retransmit()``: the wait is
      ``(uint32_t)(retransmit_timeout * 1000.0 * pow(base, n))`` milliseconds, capped at
      ``retransmit_limit`` (whole seconds * 1000), then shortened by
      ``(timeout / 100.0) * retransmit_jitter * (random() / (RAND_MAX + 1.0))`` and truncated
      again to whole milliseconds; ``retransmit_jitter`` is a whole percentage capped at
      RETRANSMIT_JITTER_MAX 20 (``src/libcharon/sa/task_manager.h``).
    * DPD: ``src/libcharon/sa/ike_sa.c`` ``send_dpd()``: a check job, not an idle timer; see
      ``proto.dpd`` (``check="strongswan"``) and ``whole_seconds`` below.

``libreswan`` (Libreswan source, github.com/libreswan/libreswan, programs/pluto)
    * Soft point of a margin-style lifetime: ``rekeyfuzz.c`` ``fuzz_rekey_margin()``: the SA's
      initiator uses ``deltatime_scale(marg, 100 + fuzz, 100)`` with
      ``fuzz = get_rnd_uintmax() % (fuzz_percent + 1)`` (a whole percentage), the responder
      ``deltatime_scale(marg, 1, 2)``; ``lib/libswan/deltatime.c`` ``deltatime_scale()``
      computes ``(deltasecs(d) * num) / denom`` in whole seconds. ``ikev2_parent.c``
      ``schedule_v2_replace_event()`` rekeys at ``lifetime - marg`` when ``lifetime > marg``,
      and otherwise only replaces the SA at its lifetime.
    * Retransmission (``retransmit.c``) is expressed as data in the profile (explicit waits).

Nothing here draws a random number except through the caller's ``random.Random``; whole-second
clocks read the simulated time with ``whole_seconds``.
"""

from __future__ import annotations

import math
import random

RULES = ("exact", "strongswan", "libreswan")

#: strongSwan src/libcharon/sa/task_manager.h: RETRANSMIT_JITTER_MAX (percent)
STRONGSWAN_RETRANSMIT_JITTER_MAX = 20


def check_rule(rule: str) -> str:
    if rule not in RULES:
        raise ValueError(f"timer rule {rule!r}: allowed {', '.join(RULES)}")
    return rule


def whole_seconds(t: float, phase: float = 0.0) -> int:
    """What ``time_monotonic(NULL)`` returns at simulated time ``t``: the whole seconds of a
    monotonic clock (strongSwan ``src/libstrongswan/utils/utils/time.c``: ``ts.tv_sec``).
    ``phase`` is the clock's fractional second at simulated time 0; the simulator assumes 0
    (docs/timing.md)."""
    return math.floor(t + phase + 1e-9)


def strongswan_apply_jitter(rekey: float, jitter: float, rng: random.Random) -> float:
    """``child_cfg.c`` ``apply_jitter()`` for one CHILD SA limit (seconds, bytes or packets)."""
    r, j = int(rekey), int(jitter)
    if j == 0:
        return float(r)
    return float(int(r - (j + 1) * rng.random()))


def strongswan_ike_rekey(rekey: float, jitter: float, rng: random.Random) -> float:
    """``peer_cfg.c`` ``get_rekey_time()`` / ``get_reauth_time()``: ``rekey - random() % jitter``.
    ``random() % jitter`` is drawn as a uniform whole number below ``jitter`` (the modulo bias
    of a 31-bit ``random()`` is below 2^-20 for any jitter under an hour)."""
    r, j = int(rekey), int(jitter)
    if j == 0:
        return float(r)
    return float(r - rng.randrange(j))


def libreswan_margin(margin: float, fuzz_percent: int, initiator: bool, rng: random.Random) -> float:
    """``rekeyfuzz.c`` ``fuzz_rekey_margin()`` in whole seconds (``deltatime_scale``)."""
    m = int(margin)
    if not initiator:
        return float((m * 1) // 2)
    fuzz = rng.randrange(fuzz_percent + 1)
    return float((m * (100 + fuzz)) // 100)


def strongswan_retransmit_ms(timeout: float, base: float, n: int, limit: float | None) -> int:
    """``task_manager_v2.c`` ``retransmit()``: the wait after transmission ``n`` (1-based) in whole
    milliseconds, before jitter (``retransmitted`` counts from 0 at the first transmission)."""
    ms = int(timeout * 1000.0 * math.pow(base, n - 1))
    if limit:
        ms = min(ms, int(limit) * 1000)
    return ms


def strongswan_retransmit_jitter(ms: int, jitter_percent: float, rng: random.Random) -> int:
    """``task_manager_v2.c`` ``retransmit()``: ``timeout -= max_jitter * (random() / (RAND_MAX +
    1.0))`` with ``max_jitter = (timeout / 100.0) * retransmit_jitter``, stored back in the
    ``uint32_t`` (truncated to whole milliseconds)."""
    pct = min(int(jitter_percent), STRONGSWAN_RETRANSMIT_JITTER_MAX)
    if pct <= 0:
        return ms
    max_jitter = (ms / 100.0) * pct
    return int(ms - max_jitter * rng.random())
