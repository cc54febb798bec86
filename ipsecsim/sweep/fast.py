"""The DPD verdict process in numpy: 10^5-10^6 trials at once instead of one engine run each.

What is modelled (proto/dpd.py, docs/dpd-ikev1.md, RFC 3706, RFC 7296 2.4): one peer probes
(``periodic`` DPD), the other only answers. A round starts ``delay`` after the last inbound
message; its transmissions leave at offsets ``o_0 = 0 < o_1 < ...`` and the peer is dead at
offset ``G`` when none was answered:

* IKEv1 ``retry`` (Huawei): ``N`` probes ``retry_interval`` apart, ``G = N x retry_interval``,
  where N = ``retries`` (``count: probes``, Huawei Cloud FAQ) or ``retries + 1``
  (``count: retransmissions``, USG ``ike dpd retry-limit``);
* IKEv1 ``timeout`` (strongSwan): a probe every ``delay`` while ``k x delay < timeout``, dead
  ``timeout`` after the last inbound (``G = timeout - delay``);
* IKEv2 liveness: the INFORMATIONAL request on the IKE retransmission schedule (or the DPD
  one, ``ikev2_schedule: dpd``): offsets are the schedule's send times, G its give-up time.

A transmission is answered when the request and its response both cross the link (the
responder answers every request, a retransmitted one too) and the partner is up when the
request arrives; the answer arrives one round trip later and is the new last inbound. Loss
per datagram: Bernoulli ``p`` (a round trip fails with ``q = 1 - (1 - p)^2``; all N
transmissions of a round fail with ``q^N``), or a per-datagram Gilbert-Elliott channel
stepped by every datagram, as sim/loss.py does.

``exact(scenario)`` says when this is the whole story, so ``--method auto`` may use it: two
peers, one probing (periodic, action not ``restart``), no traffic, NAT, HA, health checks or
processing time, no link jitter, a loss-free link until a ``loss`` fault (both ways, no end;
Bernoulli or per-datagram Gilbert-Elliott, one channel for both directions as a fault has)
starts before the first probe, optionally a crash or freeze of the answering peer, and - checked
on a loss-free pilot run of the cell - nothing but DPD on the link after the setup (no rekey).
Elsewhere ``--fast`` still applies the model with the scenario's link loss, taking the pilot's
first probe as the start (an approximation the output marks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError
from ..proto.rng import derive_seed
from .spec import apply
from .stats import numbers, wilson

if TYPE_CHECKING:
    from ..config.loader import Scenario
    from ..proto.dpd import DpdSettings
    from .core import Plan
    from .spec import Cell

FAST_METRICS = ("peer_dead_t", "detection_delay", "false_dead", "any_false_dead")


@dataclass(frozen=True)
class Loss:
    p: float = 0.0  # Bernoulli
    ge: tuple[float, float, float, float] | None = None  # (p, r, loss_good, loss_bad) per datagram
    shared: bool = True  # one channel for both directions (a fault) or one per direction (link.loss)


@dataclass(frozen=True)
class Model:
    prober: str
    delay: float
    offsets: tuple[float, ...]
    give_up: float
    rtt: float
    one_way: float
    start: float  # the first probe (from the pilot run)
    until: float
    down_at: float | None  # the answering peer crashes / freezes
    loss: Loss
    exact: bool
    why: str


def _offsets(scenario: Scenario, prober: str) -> tuple[tuple[float, ...], float] | str:
    s = scenario.peers[prober]
    d = s.dpd
    assert d is not None
    if d.style == "retry":
        n = d.total_probes
        return tuple(k * d.retry_interval for k in range(n)), n * d.retry_interval
    if d.style == "timeout":
        k_max = math.ceil(d.timeout / d.delay) - 1
        return tuple(k * d.delay for k in range(k_max)), d.timeout - d.delay
    from ..proto.retransmit import RetransmitSchedule
    sched = RetransmitSchedule(waits=d.schedule) if d.schedule else s.retransmit
    if sched.jitter and not d.schedule:
        return f"retransmit jitter of {prober} makes the waits random"
    return tuple(sched.send_offsets()), sched.give_up_after()


def _loss(spec: Any, shared: bool) -> Loss | str:
    if isinstance(spec, int | float):
        return Loss(p=float(spec), shared=shared)
    if spec.mean_good is not None:
        return "Gilbert-Elliott loss in time (mean_good / mean_bad) is not modelled"
    return Loss(ge=(spec.p, spec.r, spec.loss_good, spec.loss_bad), shared=shared)


def model(scenario: Scenario) -> Model | str:
    """The model of ``scenario``, or why there is none (a sentence)."""
    cfg = scenario.config
    chosen = _prober(scenario)
    if isinstance(chosen, str):
        return chosen
    prober, answerer, dpd = chosen
    offsets = _offsets(scenario, prober)
    if isinstance(offsets, str):
        return offsets
    downs = [f for f in cfg.faults if f.kind in ("crash", "freeze")]
    inexact = _unmodelled(scenario, answerer, downs)
    loss, loss_from = _loss_window(scenario, inexact)
    if isinstance(loss, str):
        return loss
    pilot = _pilot(scenario, prober, dpd, offsets, loss_from, inexact)
    if isinstance(pilot, str):
        return pilot
    start, rtt = pilot
    down_at = downs[0].at if downs else None
    why = "exact for this scenario" if not inexact else "approximate: " + "; ".join(inexact)
    return Model(prober, dpd.delay, offsets[0], offsets[1], rtt, cfg.link.delay, start, scenario.duration,
                 down_at, loss, not inexact, why)


def _prober(scenario: Scenario) -> tuple[str, str, DpdSettings] | str:
    """The peer that probes, the one that answers and the prober's DPD; or why the model does not apply."""
    cfg = scenario.config
    if len(cfg.peers) != 2:
        return "the model has two peers"
    on = [n for n, s in scenario.peers.items() if s.dpd is not None]
    if len(on) != 1:
        return "the model has exactly one peer with DPD on"
    prober = on[0]
    answerer = next(n for n in cfg.peers if n != prober)
    dpd = scenario.peers[prober].dpd
    assert dpd is not None
    if dpd.mode != "periodic" or dpd.action == "restart":
        return "the model needs periodic DPD whose action is not restart"
    return prober, answerer, dpd


def _unmodelled(scenario: Scenario, answerer: str, downs: list[Any]) -> list[str]:
    """What the scenario has that the model leaves out (the model is then approximate)."""
    cfg = scenario.config
    inexact: list[str] = []
    if cfg.traffic or cfg.ha or cfg.link.nat or any(p.nqa for p in cfg.peers.values()) or \
            any(p.cpu != "none" for p in cfg.peers.values()):
        inexact.append("traffic, HA, NAT, health checks or processing time")
    if cfg.link.jitter or cfg.link.down:
        inexact.append("link jitter or down windows")
    others = [f for f in cfg.faults if f.kind != "loss" and f not in downs]
    if others or len(downs) > 1 or any(f.peer != answerer or f.duration for f in downs):
        inexact.append("faults other than one loss window and a crash / freeze of the answering peer")
    return inexact


def _loss_window(scenario: Scenario, inexact: list[str]) -> tuple[Loss | str, float]:
    """The loss the probes meet and when it starts: one loss fault, or the link's loss from the start."""
    cfg = scenario.config
    loss_faults = [f for f in cfg.faults if f.kind == "loss"]
    if len(loss_faults) == 1 and not cfg.link.loss:
        f = loss_faults[0]
        if f.duration or f.direction or f.between or f.protocol == "esp":
            inexact.append("a loss fault that ends, is one-way or on one path only")
        return _loss(f.loss, shared=True), f.at
    if loss_faults:
        inexact.append("several loss windows, or link loss with a loss window")
    loss = _loss(cfg.link.loss, shared=False)
    if cfg.link.loss:
        inexact.append("link loss from the start (the setup may be retransmitted)")
    return loss, 0.0


def _pilot(scenario: Scenario, prober: str, dpd: DpdSettings, offsets: tuple[tuple[float, ...], float],
           loss_from: float, inexact: list[str]) -> tuple[float, float] | str:
    """The first probe's time and the round trip, from loss-free pilot runs; or why there is no probe."""
    from ..sim.runner import simulate
    cfg = scenario.config
    # loss-free pilot runs: with DPD idle (on-demand, no traffic) over the whole run, nothing may cross the link after
    # the setup (no rekey, no keepalive); with DPD on, a short one gives the first probe
    silent = simulate(scenario.replace({"link.loss": 0.0, "faults": [], f"peers.{prober}.dpd.mode": "on-demand"}))
    if any(e.event == "message_sent" and e.t > loss_from for e in silent.events):
        inexact.append("messages other than DPD after the loss starts (rekeys)")
    short = min(scenario.duration, loss_from + dpd.delay + 2 * offsets[1] + 1.0)
    pilot = simulate(scenario.replace({"link.loss": 0.0, "faults": []}), duration=short)
    probes = [e for e in pilot.events if e.event == "dpd_probe_sent" and e.peer == prober]
    if not probes:
        return f"no DPD probe of {prober} in a loss-free run of {pilot.duration:g} s"
    start = probes[0].t
    if start < loss_from:
        inexact.append("the loss window starts after the first probe")
    acked = pilot.first("dpd_probe_acked", prober)
    rtt = (acked.t - start) if acked is not None else 2 * cfg.link.delay
    if len(offsets[0]) > 1 and rtt >= min(b - a for a, b in zip(offsets[0], offsets[0][1:], strict=False)):
        inexact.append("a round trip longer than the wait between probes")
    return start, rtt


def simulate_trials(m: Model, trials: int, seed: int) -> dict[str, np.ndarray]:
    """Per trial: time of the verdict (NaN: none before the end), whether it was false, the
    detection delay (NaN unless a true verdict after ``down_at``)."""
    rng = np.random.default_rng(seed)
    if m.loss.ge is None and m.down_at is None:
        dead_t = _bernoulli_rounds(m, trials, rng)
    else:
        dead_t = _round_by_round(m, trials, rng)
    # a verdict is false when the partner was up through the silence before it: it came
    # before the partner went down (metrics.verdicts)
    never = m.down_at if m.down_at is not None else math.inf
    false = np.isfinite(dead_t) & (dead_t < never)
    delay = np.where(np.isfinite(dead_t) & ~false, dead_t - never, np.nan)
    return {"peer_dead_t": dead_t, "false_dead": false, "detection_delay": delay}


def round_probabilities(m: Model) -> tuple[np.ndarray, float]:
    """Bernoulli loss: P(the first answered transmission of a round is the k-th), and
    P(no transmission answered) = q^N with q = 1 - (1 - p)^2."""
    q = 1.0 - (1.0 - m.loss.p) ** 2
    n = len(m.offsets)
    first = np.array([q ** k * (1 - q) for k in range(n)])
    return first, q ** n


def _bernoulli_rounds(m: Model, trials: int, rng: np.random.Generator) -> np.ndarray:
    """Independent rounds: the number of answered rounds before the first unanswered one is
    geometric; which transmission answered each is multinomial; the verdict comes after their
    durations (o_k + rtt + delay each) plus the give-up offset of the failed round."""
    first, fail = round_probabilities(m)
    if fail <= 0.0:
        return np.full(trials, np.nan)
    answered = rng.geometric(fail, size=trials) - 1
    durations = np.asarray(m.offsets) + m.rtt + m.delay
    if fail >= 1.0:
        t = np.full(trials, m.start + m.give_up)
    else:
        counts = rng.multinomial(answered, first / first.sum())
        t = m.start + counts @ durations + m.give_up
    # the run ends at ``until``: a later verdict is not seen, nor one whose round starts after it
    return np.where(t <= m.until, t, np.nan)


def _round_by_round(m: Model, trials: int, rng: np.random.Generator) -> np.ndarray:
    """Gilbert-Elliott loss or a partner that goes down: round by round, every trial at once.

    The arrays hold the trials still running only (in trial order) and shrink as verdicts come
    or the run ends. Each transmission draws one slot per running trial (the same stream
    whichever datagrams are sent) and works on the trials still waiting for an answer only."""
    dead_t = np.full(trials, np.nan)
    ids = np.arange(trials)  # the running trials
    s = np.full(trials, m.start)  # start of their current round
    ge = m.loss.ge
    bad = np.zeros((2 if ge and not m.loss.shared else 1, trials), dtype=bool)
    never = m.down_at if m.down_at is not None else math.inf
    resp_chan = 0 if m.loss.shared else 1
    while ids.size:
        n = ids.size
        answered_at = np.full(n, np.nan)
        rows: np.ndarray | None = None  # the trials still waiting (None: all)
        for off in m.offsets:
            send = (s if rows is None else s[rows]) + off
            live = send < m.until
            if not live.all():
                if not live.any():
                    break
                rows = np.flatnonzero(live) if rows is None else rows[live]
                send = send[live]
            sent = _survives(rng, ge, m.loss.p, bad, 0, n, rows)  # the request crossed
            if never < math.inf:
                sent &= send + m.one_way < never  # and found the partner up
            at = np.flatnonzero(sent) if rows is None else rows[sent]
            got = _survives(rng, ge, m.loss.p, bad, resp_chan, n, at)  # the response crossed
            answered_at[at[got]] = send[sent][got] + m.rtt
            waiting = ~sent
            waiting[sent] = ~got
            rows = np.flatnonzero(waiting) if rows is None else rows[waiting]
            if not rows.size:
                break
        verdict = s + m.give_up
        dead_now = np.isnan(answered_at) & (verdict <= m.until)
        dead_t[ids[dead_now]] = verdict[dead_now]
        s = answered_at + m.delay  # NaN where unanswered: those stop
        keep = s < m.until
        ids, s, bad = ids[keep], s[keep], bad[:, keep]
    return dead_t


def _survives(rng: np.random.Generator, ge: Any, p: float, bad: np.ndarray, chan: int, n: int,
              rows: np.ndarray | None) -> np.ndarray:
    """Whether the datagrams of the running trials ``rows`` (None: all ``n``) arrive, one per
    row; steps their channels. Draws a slot for every running trial: a uniform for the loss, then
    with Gilbert-Elliott one for the step (the stream does not depend on who sends)."""
    if ge is None:
        u = rng.random(n)
        arrive: np.ndarray = (u if rows is None else u[rows]) >= p
        return arrive
    gp, gr, lg, lb = ge
    u, step = rng.random((2, n))  # the same draws as two calls of n
    if rows is None:
        state = bad[chan]
    else:
        u, step, state = u[rows], step[rows], bad[chan, rows]
    # a datagram steps its channel (good -> bad with p, bad -> good with r), then meets the new state's loss
    state = state ^ (step < np.where(state, gr, gp))
    if rows is None:
        bad[chan] = state
    else:
        bad[chan, rows] = state
    arrive = u >= np.where(state, lb, lg)
    return arrive


def choose(p: Plan, method: str) -> dict[int, tuple[str, str]]:
    """Per cell: ("engine" | "fast", why)."""
    if method == "engine":
        return {c.index: ("engine", "") for c in p.cells}
    if method == "fast" and p.metrics:
        raise ConfigError(None, "--fast", f"the fast method computes {', '.join(FAST_METRICS)} only, not "
                          f"{', '.join(p.metrics)}; use --method engine for other metrics")
    out: dict[int, tuple[str, str]] = {}
    from ..config.loader import load_scenario
    for c in p.cells:
        if method == "auto" and p.metrics:
            out[c.index] = ("engine", "")
            continue
        m = model(load_scenario(apply(p.raw, c.overrides), file=p.scenario.file))
        if isinstance(m, str):
            if method == "fast":
                raise ConfigError(None, "--fast", f"cell {c.text()}: {m}")
            out[c.index] = ("engine", "")
        elif m.exact or method == "fast":
            out[c.index] = ("fast", m.why)
        else:
            out[c.index] = ("engine", "")
    return out


def cell_row(p: Plan, c: Cell, trials: int, why: str) -> dict[str, Any]:
    from ..config.loader import load_scenario
    from .core import cell_row as row_of
    m = model(load_scenario(apply(p.raw, c.overrides), file=p.scenario.file))
    assert not isinstance(m, str)
    r = simulate_trials(m, trials, derive_seed(p.seed, "fast", c.key) % 2 ** 63)
    stats: dict[str, dict[str, Any]] = {}
    for name in ("peer_dead_t", "detection_delay"):
        a = r[name]
        stats[name] = {"kind": "number", "n": int(np.isfinite(a).sum()), **numbers(a)}
    k = int(r["false_dead"].sum())
    lo, hi = wilson(k, trials)
    stats["false_dead"] = {"kind": "number", "n": trials, **numbers(r["false_dead"].astype(float))}
    stats["any_false_dead"] = {"kind": "bool", "n": trials, "mean": k / trials, "ci_low": lo, "ci_high": hi}
    row = row_of(p, c, "fast", trials, stats)
    row["fast_model"] = why
    return row
