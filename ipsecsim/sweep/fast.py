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

How trials are drawn: ``verdicts`` computes the exact distribution of the first verdict's
time, round by round over the distribution of round starts (time, channel state): a round is
a linear map of the channel-state masses (``_round_maps``), atoms at the same time are merged,
atoms lighter than ``PRUNE`` are dropped (their total is reported). Each trial then takes one
uniform from its own seed (``trial_seeds``: splitmix64 of the cell seed and the trial number,
a counter-based draw) and reads its verdict time off that distribution, so a trial's result
depends on its seed alone - not on the other trials, the datagrams sent or the executor - and
10^6 trials cost a few numpy passes whatever the loss model.

``exact(scenario)`` says when this is the whole story, so ``--method auto`` may use it: two
peers, one probing (periodic, action not ``restart``), no traffic, NAT, HA, health checks or
random processing time (``cpu:`` jitter; fixed costs are in the pilot run's round trip and
the answering peer's cost of a request), no link jitter, a loss-free link until a ``loss``
fault (both ways, no end; Bernoulli or per-datagram Gilbert-Elliott, one channel for both
directions as a fault has) starts before the first probe, optionally a crash or freeze of the
answering peer, and - checked on a loss-free pilot run of the cell - nothing but DPD on the
link after the setup (no rekey).
Elsewhere ``--fast`` still applies the model with the scenario's link loss, taking the pilot's
first probe as the start (an approximation the output marks).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError
from ..proto.rng import derive_seed
from ..sim.draws import GAMMA, mix_array
from .spec import apply

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
    answer_cost: float = 0.0  # the answering peer's processing time of a request (cpu:, from the pilot run)


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
    start, rtt, answer_cost = pilot
    down_at = downs[0].at if downs else None
    why = "exact for this scenario" if not inexact else "approximate: " + "; ".join(inexact)
    return Model(prober, dpd.delay, offsets[0], offsets[1], rtt, cfg.link.delay, start, scenario.duration,
                 down_at, loss, not inexact, why, answer_cost)


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
    if cfg.traffic or cfg.ha or cfg.link.nat or any(p.nqa for p in cfg.peers.values()):
        inexact.append("traffic, HA, NAT or health checks")
    # processing time (cpu:) is a constant per message when no cost varies at random: the pilot run's
    # round trip holds both peers' costs, and a request is answered when its computation ends before
    # the partner goes down (docs/cpu.md: a peer that crashes loses the computation under way)
    if any(s.cpu is not None and s.cpu.jitter for s in scenario.peers.values()):
        inexact.append("processing time that varies at random (cpu jitter)")
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
           loss_from: float, inexact: list[str]) -> tuple[float, float, float] | str:
    """The first probe's time, the round trip (both peers' processing time in it) and the answering
    peer's processing time of the probe, from loss-free pilot runs; or why there is no probe."""
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
    answerer = next(n for n in cfg.peers if n != prober)
    answer = next((e for e in pilot.events if e.event == "message_sent" and e.peer == answerer and e.t >= start), None)
    cost = max(0.0, answer.t - start - cfg.link.delay) if answer is not None and acked is not None else 0.0
    return start, rtt, cost


# --- the verdict time's distribution, and trials drawn from it -----------------------------------

PRUNE = 1e-15
"""Atoms of the round-start distribution lighter than this are dropped; ``Verdicts.pruned`` is
the total dropped (the distance in total variation from the exact distribution)."""
MAX_ATOMS = 2_000_000
"""Round starts the distribution may step through (a few seconds of numpy). Offsets that are
multiples of one step (IKEv1 retries, the DPD schedule) keep the starts few; IKEv2 retransmission
offsets (4, 11.2, 24.16 ... s) over a day make tens of millions: those cells use the engine."""


class TooLarge(Exception):
    """The verdict distribution would take more than ``MAX_ATOMS`` round starts."""
_GOLDEN = np.uint64(GAMMA)


@dataclass(frozen=True)
class Verdicts:
    """The exact distribution of the first verdict's time: ``times`` (increasing) and their
    cumulative probabilities ``cum``; 1 - cum[-1] is the probability of no verdict in the run."""
    times: np.ndarray
    cum: np.ndarray
    pruned: float


def trial_seeds(cell_seed: int, first: int, n: int | None = None, runs: np.ndarray | None = None) -> np.ndarray:
    """The seeds of trials ``first .. first + n - 1`` of a cell (or of the trial numbers ``runs``),
    63-bit: splitmix64 of the cell seed's counter stream, so trial k's seed depends on the cell
    seed and k only."""
    k = (np.arange(first, first + (n or 0), dtype=np.uint64) if runs is None else np.asarray(runs, dtype=np.uint64))
    seeds: np.ndarray = mix_array(np.uint64(cell_seed % 2 ** 64) + (k + np.uint64(1)) * _GOLDEN) >> np.uint64(1)
    return seeds


def uniforms(seeds: np.ndarray) -> np.ndarray:
    """One uniform in [0, 1) per trial seed (53 bits of a further splitmix64 step)."""
    return (mix_array(seeds.astype(np.uint64) + _GOLDEN) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def _channel(m: Model) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The loss channel as a Markov chain over its states: the transition a request and a
    response make (each datagram steps its channel, then meets the new state's loss, as
    sim/loss.py) and the loss per state for each. Bernoulli: one state; Gilbert-Elliott: good /
    bad, or (forward, reverse) pairs when each direction has its own channel (``link.loss``)."""
    if m.loss.ge is None:
        one = np.ones((1, 1))
        return one, one, np.array([m.loss.p]), np.array([m.loss.p])
    gp, gr, lg, lb = m.loss.ge
    step = np.array([[1 - gp, gp], [gr, 1 - gr]])
    loss = np.array([lg, lb])
    if m.loss.shared:
        return step, step, loss, loss
    eye = np.eye(2)
    return np.kron(step, eye), np.kron(eye, step), np.repeat(loss, 2), np.tile(loss, 2)


def _merge(t: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Atoms at the same time (to the microsecond) as one; the time kept is the first one's."""
    if t.size < 2:
        return t, w
    _, first, inv = np.unique(np.rint(t * 1e6), return_index=True, return_inverse=True)
    out = np.empty((first.size, w.shape[1]))
    for s in range(w.shape[1]):
        out[:, s] = np.bincount(inv, weights=w[:, s], minlength=first.size)
    return t[first], out


def _round_maps(m: Model) -> tuple[np.ndarray, np.ndarray]:
    """One round as linear maps of the channel-state masses, for k = 0 .. N of its N
    transmissions able to reach the partner (those whose request arrives before it goes down):
    ``answered[k][s, j, s']`` - from state s at the round's start, the first answer is to
    transmission j and the channel is then in s'; ``failed[k][s]`` - no answer at all."""
    req_step, resp_step, req_loss, resp_loss = _channel(m)
    n, size = len(m.offsets), req_step.shape[0]
    answered = np.zeros((n + 1, size, n, size))
    failed = np.zeros((n + 1, size))
    for k in range(n + 1):
        waiting = np.eye(size)  # start state -> channel state, while no answer has come
        for j in range(n):
            waiting = waiting @ req_step  # the request steps its channel, then meets its loss
            arrived = waiting * (1.0 - req_loss)
            if j < k:
                back = arrived @ resp_step  # the partner answers; the response steps the channel
                answered[k, :, j, :] = back * (1.0 - resp_loss)
                waiting = waiting * req_loss + back * resp_loss
        failed[k] = waiting.sum(axis=1)
    return answered, failed


@functools.lru_cache(maxsize=32)
def verdicts(m: Model, max_atoms: int = MAX_ATOMS) -> Verdicts:
    """The distribution of the first verdict, round by round over the distribution of round
    starts (atoms: a start time and the mass per channel state). A round's transmissions leave
    at ``start + o_j``; each is answered when its request crosses, finds the partner up and
    its response crosses; the first answer moves the atom to ``o_j + rtt + delay`` later; no
    answer puts the atom's remaining mass on a verdict at ``start + give_up``."""
    answered, failed = _round_maps(m)
    n, size = len(m.offsets), failed.shape[1]
    offsets = np.asarray(m.offsets)
    durations = offsets + m.rtt + m.delay
    never = m.down_at if m.down_at is not None else math.inf
    t = np.array([m.start])
    w = np.zeros((1, size))
    w[0, 0] = 1.0  # every channel starts good
    vt: list[np.ndarray] = []
    vm: list[np.ndarray] = []
    pruned = 0.0
    done = 0
    while t.size:
        done += t.size
        if done > max_atoms:
            raise TooLarge(f"the verdict distribution needs more than {max_atoms:,} round starts (retransmission "
                           "offsets that are no multiples of one step, over a long run)")
        if never == math.inf or t[-1] + offsets[-1] + m.one_way + m.answer_cost < never:  # all can be answered
            fail = w @ failed[n]
            nw = (w @ answered[n].reshape(size, n * size)).reshape(-1, size)
        else:  # how many of each round's requests arrive before the partner goes down
            k = np.searchsorted(offsets, never - m.one_way - m.answer_cost - t, side="left")
            fail = np.einsum("as,as->a", w, failed[k])
            nw = np.einsum("as,asjt->ajt", w, answered[k]).reshape(-1, size)
        due = t + m.give_up
        seen = due <= m.until
        vt.append(due[seen])
        vm.append(fail[seen])
        nt = (t[:, None] + durations[None, :]).reshape(-1)
        go = nt < m.until
        t, w = _merge(nt[go], nw[go])
        light = w.sum(axis=1) < PRUNE
        if light.any():
            pruned += float(w[light].sum())
            t, w = t[~light], w[~light]
    times, mass = _merge(np.concatenate(vt), np.concatenate(vm)[:, None])
    order = np.argsort(times, kind="stable")
    return Verdicts(times[order], np.cumsum(mass[order, 0]), pruned)


def simulate_trials(m: Model, trials: int | np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Per trial: time of the verdict (NaN: none before the end), whether it was false, the
    detection delay (NaN unless a true verdict after ``down_at``). ``trials`` is the trials' seeds,
    or a number n for the first n trials of cell seed ``seed`` (``trial_seeds``). Each trial takes
    one uniform from its own seed and reads the verdict time off the exact distribution
    (inverse transform): trial k's result depends on its seed only, not on the other trials."""
    seeds = trial_seeds(seed, 0, trials) if isinstance(trials, int) else np.asarray(trials)
    return outcomes(m, verdicts(m), seeds)


def outcomes(m: Model, v: Verdicts, seeds: np.ndarray) -> dict[str, np.ndarray]:
    idx = np.searchsorted(v.cum, uniforms(seeds), side="right")
    dead_t = np.full(seeds.size, np.nan)
    hit = idx < v.times.size
    dead_t[hit] = v.times[idx[hit]]
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
            try:
                verdicts(m)  # computed once here, cached for the trials
            except TooLarge as e:
                if method == "fast":
                    raise ConfigError(None, "--fast", f"cell {c.text()}: {e}; use --method engine") from None
                out[c.index] = ("engine", "")
                continue
            out[c.index] = ("fast", m.why)
        else:
            out[c.index] = ("engine", "")
    return out


def cell_seed(p: Plan, c: Cell) -> int:
    """The seed of a cell's trials: from the sweep seed and the cell's settings, like its runs' seeds."""
    return derive_seed(p.seed, "fast", c.key)


def trial_rows(p: Plan, c: Cell, runs: list[int], method: str = "fast") -> list[dict[str, Any]]:
    """Rows of the trials ``runs`` of cell ``c``, with the schema of engine runs (``worker.run_task``):
    ``cell``, ``run`` (the trial number), ``seed`` (the trial's seed, ``trial_seeds``), ``method``
    and the metrics the model computes (``FAST_METRICS``; ``false_dead`` counts the first verdict
    only, the model stopping there). Trial k gives the same row whichever other trials are computed."""
    from ..config.loader import load_scenario
    if not runs:
        return []
    m = model(load_scenario(apply(p.raw, c.overrides), file=p.scenario.file))
    assert not isinstance(m, str)
    seeds = trial_seeds(cell_seed(p, c), 0, runs=np.asarray(runs))
    r = outcomes(m, verdicts(m), seeds)
    dead = [None if math.isnan(x) else x for x in r["peer_dead_t"].tolist()]
    delay = [None if math.isnan(x) else round(x, 6) for x in r["detection_delay"].tolist()]
    false = r["false_dead"].tolist()
    return [{"cell": c.index, "run": k, "seed": s, "method": method, "peer_dead_t": d, "detection_delay": dd,
             "false_dead": int(f), "any_false_dead": f}
            for k, s, d, dd, f in zip(runs, seeds.tolist(), dead, delay, false, strict=True)]
