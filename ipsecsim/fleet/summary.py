"""The summary of a fleet (config/fleet.py): one row per pair, measured from its Result, and
the fleet's counts, percentiles (numpy) and worst pairs.

Per pair (``pair_row``), from the pair's events and run summary (docs/fleet.md):

* ``established_s`` - from the pair's start until both peers hold their first CHILD SA (the
  tunnel is up at both ends), or None;
* ``outage_s``, ``dropped_bytes``, ``rekeys``, ``failed_negotiations``, ``false_dpd`` (DPD
  verdicts about a partner that was up through the silence, sweep/metrics.py), ``dpd_detections``
  (the other verdicts), ``detection_delay``;
* ``unilateral`` - the tunnel ends unilateral (trace/tunnel_state.py), ``up`` - both ends
  hold an IPsec SA at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import __version__

if TYPE_CHECKING:
    from ..config.fleet import PairPlan
    from ..result import Result
    from .run import Fleet

METRICS = ("established_s", "outage_s", "dpd_detections", "false_dpd", "detection_delay", "rekeys",
           "dropped_bytes", "failed_negotiations")
"""The per-pair numbers the fleet summary describes by their distribution."""
PERCENTILES = (50, 90, 99)
WORST = 5


def pair_row(result: Result, plan: PairPlan) -> dict[str, Any]:
    from ..sweep.metrics import standard, verdicts
    summary = result.summary()
    std = standard(result, summary)
    first_child: dict[str, float] = {}
    for e in result.events:
        if e.event == "child_sa_established" and e.peer not in first_child:
            first_child[e.peer] = e.t
    both = len(first_child) == len(result.peers)
    first = max(first_child.values()) if both else None
    true_verdicts = sum(1 for _, false, _ in verdicts(result) if not false)
    peers = summary["peers"]
    tunnel = next((p["tunnel"] for p in peers.values() if p.get("tunnel")), None) or {}
    return {
        "index": plan.index, "pair": plan.name, "variant": plan.variant, "start": round(plan.start, 6),
        **{k: round(v, 6) for k, v in plan.link.items()}, "link_outages": len(plan.outages),
        "established_s": None if first is None else round(first - plan.start, 6),
        "outage_s": std["outage_s"], "dropped_bytes": std["dropped_bytes"], "rekeys": std["rekeys"],
        "failed_negotiations": std["failed_negotiations"], "false_dpd": std["false_dead"],
        "dpd_detections": true_verdicts, "detection_delay": std["detection_delay"],
        "unilateral": tunnel.get("state") == "unilateral",
        "up": all(p["status"] == "ipsec_sa_established" for p in peers.values()),
        "status": {n: p["status"] for n, p in peers.items()},
        "events": summary["events"],
    }


def describe(values: Sequence[float | None]) -> dict[str, Any]:
    """count (pairs with a value), total, mean, min, p50, p90, p99, max of the numbers given."""
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    if arr.size == 0:
        return {"count": 0, "total": 0, "mean": None, "min": None, **{f"p{q}": None for q in PERCENTILES},
                "max": None}
    qs = np.percentile(arr, PERCENTILES)
    return {"count": int(arr.size), "total": _num(arr.sum()), "mean": _num(arr.mean()), "min": _num(arr.min()),
            **{f"p{q}": _num(v) for q, v in zip(PERCENTILES, qs, strict=True)}, "max": _num(arr.max())}


def _num(x: Any) -> float | int:
    v = float(x)
    return int(v) if v.is_integer() and abs(v) < 2**53 else round(v, 6)


def _worst(rows: Sequence[dict[str, Any]], key: str, n: int = WORST) -> list[dict[str, Any]]:
    found = [r for r in rows if r.get(key)]
    found.sort(key=lambda r: (-r[key], r["index"]))
    return [{"pair": r["pair"], key: r[key]} for r in found[:n]]


def summarize_fleet(fleet: Fleet, rows: Sequence[dict[str, Any]], crypto: str = "real") -> dict[str, Any]:
    cfg = fleet.scenario.config
    fc = cfg.fleet
    assert fc is not None
    never = [r["pair"] for r in rows if r["established_s"] is None]
    unilateral = [r["pair"] for r in rows if r["unilateral"]]
    slow = sorted((r for r in rows if r["established_s"] is not None), key=lambda r: (-r["established_s"], r["index"]))
    out: dict[str, Any] = {
        "scenario": cfg.name,
        "seed": cfg.seed,
        "duration": cfg.duration,
        "ipsecsim": __version__,
        "crypto": crypto,
        "fleet": {
            "pairs": len(rows),
            "hub": fc.hub,
            "variants": [{"share": v.share, "pairs": sum(1 for r in rows if r["variant"] == i),
                          "peers": v.peers} for i, v in enumerate(fc.variants)],
            "counts": {
                "established": len(rows) - len(never),
                "never_established": len(never),
                "up_at_end": sum(1 for r in rows if r["up"]),
                "unilateral_at_end": len(unilateral),
                "with_outage": sum(1 for r in rows if r["outage_s"]),
                "with_dpd_detection": sum(1 for r in rows if r["dpd_detections"]),
                "with_false_dpd": sum(1 for r in rows if r["false_dpd"]),
                "link_outages": sum(r["link_outages"] for r in rows),
                "events": sum(r["events"] for r in rows),
            },
            **{m: describe([r[m] for r in rows]) for m in METRICS},
            "worst": {
                "outage_s": _worst(rows, "outage_s"),
                "false_dpd": _worst(rows, "false_dpd"),
                "dropped_bytes": _worst(rows, "dropped_bytes"),
                "established_s": [{"pair": r["pair"], "established_s": r["established_s"]} for r in slow[:WORST]],
                "never_established": never[:WORST],
                "unilateral": unilateral[:WORST],
            },
        },
    }
    return out


def render_fleet(summary: dict[str, Any]) -> str:
    """The fleet summary as text for the terminal."""
    f = summary["fleet"]
    c = f["counts"]
    hub = f" (hub {f['hub']})" if f["hub"] else ""
    lines = [f"{summary['scenario']}  seed {summary['seed']}, {summary['duration']:g} s simulated, "
             f"{f['pairs']} pairs{hub}, {c['events']} events" + ("" if summary["crypto"] == "real"
                                                               else f", crypto {summary['crypto']}")]
    for v in f["variants"]:
        lines.append(f"  variant {', '.join(_flat(v['peers']))}: {v['pairs']} pairs (share {v['share']:g})")
    lines.append(f"  established {c['established']}, never {c['never_established']}, up at the end "
                 f"{c['up_at_end']}, unilateral at the end {c['unilateral_at_end']}")
    lines.append(f"  with an outage {c['with_outage']}, with a DPD detection {c['with_dpd_detection']}, with a "
                 f"false DPD verdict {c['with_false_dpd']}; link outages injected {c['link_outages']}")
    lines.append(f"  {'per pair':<22}{'count':>7}{'total':>14}{'mean':>12}{'p50':>12}{'p90':>12}{'p99':>12}"
                 f"{'max':>12}")
    for m in METRICS:
        d = f[m]
        cells = [_cell(d[k]) for k in ("total", "mean", "p50", "p90", "p99", "max")]
        lines.append(f"  {m:<22}{d['count']:>7}" + "".join(f"{x:>14}" if i == 0 else f"{x:>12}"
                                                          for i, x in enumerate(cells)))
    w = f["worst"]
    for key in ("outage_s", "false_dpd", "dropped_bytes", "established_s"):
        if w[key]:
            lines.append(f"  worst by {key}: " + ", ".join(f"{x['pair']} ({_cell(x[key])})" for x in w[key]))
    for key in ("never_established", "unilateral"):
        if w[key]:
            lines.append(f"  {key.replace('_', ' ')}: {', '.join(w[key])}" + (" ..." if len(w[key]) == WORST else ""))
    return "\n".join(lines)


def _flat(tree: Any, path: str = "") -> list[str]:
    """``{"branch": {"dpd": {"delay": "10s"}}}`` -> ``["branch.dpd.delay=10s"]``."""
    if isinstance(tree, dict) and tree:
        return [x for k, v in tree.items() for x in _flat(v, f"{path}.{k}" if path else str(k))]
    return [f"{path}={tree}"]


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, int):
        return str(v)
    return f"{v:.6g}"
