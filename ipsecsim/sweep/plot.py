"""Pictures (matplotlib, Agg backend; PNG or SVG by extension).

* ``run_timeline``: one run of a scenario - per peer a lane of IKE and CHILD SA lifetimes
  (bars from establishment to deletion, or to the end), rekeys, DPD probes and verdicts,
  faults; below, the outages of every flow and the throughput delivered per flow.
* ``sweep_figure``: a sweep output - a metric's mean with its 95 % interval against one
  varied setting (one line per value of a second one), a heatmap for two settings, or with
  ``cdf`` the distribution over runs (from the journal), one curve per cell.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError


def _plt() -> Any:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams["svg.fonttype"] = "none"  # SVG text stays text (searchable, editable)
    return plt


def run_timeline(path: str, out: Path, seed: int | None = None) -> None:
    from ..config.loader import load_scenario
    from ..sim.runner import simulate
    result = simulate(load_scenario(path), seed=seed)
    summary = result.summary()
    plt = _plt()
    peers = list(result.peers)
    flows = summary.get("traffic", {}).get("flows", {})
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(11, 2.0 + 1.1 * len(peers) + 2.5), sharex=True,
                                  gridspec_kw={"height_ratios": [len(peers) + 0.6, 2.2]})
    end = result.duration
    for i, peer in enumerate(peers):
        _sa_lanes(ax, result, peer, len(peers) - 1 - i, end)
    for e in result.events:
        if e.event == "fault":
            ax.axvline(e.t, color="#DD8452", lw=1.2, ls="--")
            ax.text(e.t, len(peers) - 0.25, f" {e.get('kind')}{' ' + e.peer if e.peer != 'link' else ''}",
                    color="#DD8452", fontsize=8, va="bottom")
    ax.set_yticks(range(len(peers)), list(reversed(peers)))
    ax.set_ylim(-0.6, len(peers) - 0.05)
    _timeline_legend(ax)
    ax.set_title(f"{result.scenario.name} (seed {result.seed})")
    _throughput(ax2, result, flows, end)
    ax2.set_xlabel("simulated time (s)")
    ax2.set_xlim(0, end)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


_MARKS = {"child_sa_rekeyed": (0.62, "v", "#8172B2", 6), "ike_sa_rekeyed": (0.62, "v", "#8172B2", 6),
          "dpd_probe_sent": (-0.35, "|", "#937860", 8), "peer_dead": (-0.35, "X", "#C44E52", 10),
          "negotiation_failed": (0.62, "x", "#C44E52", 6)}
"""Events drawn as a marker on a peer's lane: (offset from the lane, marker, colour, size)."""
_BARS = {"ike_sa_established": ("spi_i", 0.22, "#4C72B0"), "ike_sa_deleted": ("spi_i", 0.22, "#4C72B0"),
         "child_sa_established": ("spi_in", -0.18, "#55A868"), "child_sa_deleted": ("spi_in", -0.18, "#55A868")}
"""Events that open / close an SA's bar on a peer's lane: (the SA's key field, offset, colour)."""


def _sa_lanes(ax: Any, result: Any, peer: str, y: float, end: float) -> None:
    """One peer's lane at height ``y``: a bar per IKE SA (above) and CHILD SA (below) while it lives,
    markers for rekeys, probes, a dead peer and failed negotiations."""
    open_bars: dict[tuple[float, str], float] = {}  # (offset, SPI) -> start
    for e in result.events:
        if e.peer != peer:
            continue
        if e.event in _BARS:
            key, dy, color = _BARS[e.event]
            spi = (dy, str(e.get(key)))
            if e.event.endswith("_established"):
                open_bars[spi] = e.t
            elif spi in open_bars:
                s = open_bars.pop(spi)
                ax.broken_barh([(s, e.t - s)], (y + dy, 0.3), color=color)
        elif e.event in _MARKS:
            dy, marker, color, size = _MARKS[e.event]
            ax.plot([e.t], [y + dy], marker=marker, color=color, ms=size)
    for dy in (0.22, -0.18):  # the SAs still alive at the end, IKE SAs first
        color = "#4C72B0" if dy > 0 else "#55A868"
        for (off, _spi), s in open_bars.items():
            if off == dy:
                ax.broken_barh([(s, end - s)], (y + dy, 0.3), color=color)


def _timeline_legend(ax: Any) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    ax.legend(handles=[Patch(color="#4C72B0", label="IKE SA"), Patch(color="#55A868", label="CHILD / IPsec SA"),
                       Line2D([], [], marker="v", ls="", color="#8172B2", label="rekey"),
                       Line2D([], [], marker="|", ls="", color="#937860", label="DPD probe"),
                       Line2D([], [], marker="X", ls="", color="#C44E52", label="peer dead"),
                       Line2D([], [], marker="x", ls="", color="#C44E52", label="negotiation failed"),
                       Line2D([], [], ls="--", color="#DD8452", label="fault")],
              loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)


def _throughput(ax: Any, result: Any, flows: dict[str, Any], end: float) -> None:
    """Delivered throughput per flow (from the fluid log: the rate each flow put on the wire
    while it was not dropped), outages shaded."""
    shown = False
    for k, (name, f) in enumerate(flows.items()):
        for o in f.get("outages", []):
            ax.axvspan(o["start"], o["end"], color="#C44E52", alpha=0.15, lw=0)
        times, rates = [0.0], [0.0]
        for t, _sender, fl in result.fluids:
            if getattr(fl, "flow", None) != name:
                continue
            times.append(t)
            rates.append(float(getattr(fl, "rate", 0.0)) * 8 / 1e6)
        if len(times) > 1:
            times.append(end)
            rates.append(rates[-1])
            ax.step(times, rates, where="post", label=f"{name} (Mbit/s sent)", color=f"C{k}")
            shown = True
    ax.set_ylabel("Mbit/s")
    if shown:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    if any(f.get("outages") for f in flows.values()):
        ax.text(0.01, 0.92, "shaded: outages", transform=ax.transAxes, fontsize=8, color="#C44E52")
    if not flows:
        ax.text(0.5, 0.5, "no traffic in this scenario", transform=ax.transAxes, ha="center", color="grey")


def _axes(meta: dict[str, Any], cells: list[dict[str, Any]]) -> list[str]:
    if meta.get("axes"):
        return [a["path"] for a in meta["axes"]]
    keys = list(cells[0])
    return keys[keys.index("cell") + 1:keys.index("method")]


_PREFERRED = ("detection_delay", "any_false_dead", "false_dead", "outage_s", "dropped_bytes", "rekeys",
              "failed_negotiations", "peer_dead_t")
"""The default metric of a sweep's picture: the user's (--metric of the sweep), then these, the first that varies."""
_MEANING = {"peer_dead_t": "time of the first DPD verdict (s)",
            "detection_delay": "detection delay: first true DPD verdict after the failure (s)",
            "false_dead": "false DPD verdicts per run", "any_false_dead": "share of runs with a false DPD verdict",
            "outage_s": "outage, all flows (s)", "dropped_bytes": "bytes dropped", "rekeys": "rekeys per run",
            "failed_negotiations": "failed negotiations per run"}


def _metric(meta: dict[str, Any], cells: list[dict[str, Any]], wanted: str | None) -> str:
    names: list[str] = []
    for c in cells:
        names += [k[:-5] for k in c if k.endswith(".mean") and k[:-5] not in names]
    if wanted:
        if wanted not in names:
            raise ConfigError(None, "--metric", f"{wanted!r} is not in this sweep; metrics: {', '.join(names)}")
        return wanted
    order: list[str] = [str(n) for n in [*meta.get("metrics", []), *_PREFERRED] if n in names] + names
    for n in order:
        vals = {c.get(f"{n}.mean") for c in cells}
        if len({v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))}) > 1:
            return n
    return order[0]


def _proportion(cells: list[dict[str, Any]], name: str) -> bool:
    """A true / false metric: its cells have a mean and an interval but no percentiles."""
    return any(f"{name}.mean" in c for c in cells) and not any(f"{name}.p50" in c for c in cells)


def _what(cells: list[dict[str, Any]]) -> str:
    """What each cell's statistics are made of: engine runs or trials of the vectorised model."""
    parts = []
    for method, word in (("engine", "engine runs"), ("fast", "trials of the vectorised DPD model")):
        counts = sorted({int(c.get("runs") or 0) for c in cells if c.get("method", "engine") == method})
        if counts:
            n = f"{counts[0]:,}" if len(counts) == 1 else f"{counts[0]:,}-{counts[-1]:,}"
            parts.append(f"{n} {word}")
    return " / ".join(parts) + " per cell"


def _label(name: str) -> str:
    return _MEANING.get(name, name)


def sweep_figure(path: str, out: Path, metric: str | None, cdf: bool) -> None:
    from .store import read
    meta, cells, runs = read(path)
    every = _axes(meta, cells)
    # a setting with one value is not an axis of the picture: the title names it
    axes = [a for a in every if len({str(c.get(a)) for c in cells}) > 1] or every[:1]
    name = _metric(meta, cells, metric)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 5))
    text = _cell_text(meta, cells)
    fixed = ", ".join(f"{a}={text(a, cells[0])}" for a in every if a not in axes)
    if cdf:
        if not runs:
            raise ConfigError(path, "", "no runs to draw (the journal .runs.jsonl beside it is missing)")
        _cdf(ax, cells, runs, axes, name, text)
        how = "distribution over the runs of each cell"
    elif len(axes) == 2 and all(isinstance(c.get(axes[0]), int | float) for c in cells):
        _heatmap(fig, ax, cells, axes, name, text)
        how = "mean per cell"
    else:
        _errorbars(ax, cells, axes, name, text)
        how = "mean per cell, bars: 95 % interval" + (" (Wilson)" if _proportion(cells, name) else " of the mean")
    ax.set_title(f"{meta.get('scenario', Path(path).stem)}{' (' + fixed + ')' if fixed else ''}: {_label(name)}\n"
                 f"{how}; {_what(cells)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _cell_text(meta: dict[str, Any], cells: list[dict[str, Any]]) -> Callable[[str, dict[str, Any]], str]:
    """How a cell's value of an axis is shown: the axis's label for it when the sweep names them."""
    labels = {a["path"]: a["labels"] for a in meta.get("axes", [])}
    per_cell = meta.get("cell_labels", {})  # a CSV's: read from the journal's runs

    def text(path_: str, cell: dict[str, Any]) -> str:
        v = cell.get(path_)
        if path_ in per_cell.get(str(cell.get("cell")), {}):
            return str(per_cell[str(cell.get("cell"))][path_])
        if path_ in labels and isinstance(cell.get("cell"), int):
            vals = sorted({c.get(path_) for c in cells}, key=lambda x: (str(type(x)), x))
            if len(vals) == len(labels[path_]):
                return str(labels[path_][vals.index(v)])
        return f"{v:g}" if isinstance(v, float) else str(v)

    return text


def _cdf(ax: Any, cells: list[dict[str, Any]], runs: list[dict[str, Any]], axes: list[str], name: str,
         text: Callable[[str, dict[str, Any]], str]) -> None:
    """The distribution of ``name`` over the runs of each cell."""
    by_cell: dict[Any, list[Any]] = {}
    for r in runs:
        by_cell.setdefault(r.get("cell"), []).append(r.get(name))
    short = False
    for c in cells:
        vals = by_cell.get(c["cell"], [])
        xs = sorted(float(v) for v in vals if isinstance(v, int | float) and v is not None)
        if not xs:
            continue
        short = short or len(xs) < len(vals)
        ys = [(i + 1) / len(vals) for i in range(len(xs))]
        ax.step(xs, ys, where="post", label=", ".join(text(a, c) for a in axes) or "all runs")
    ax.set_xlabel(_label(name))
    ax.set_ylabel("share of runs (trials) at or below")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title=", ".join(axes) or None, title_fontsize=8)
    if short:
        ax.text(0.99, 0.99, "runs without a value (no such event) count in the share but are not drawn:\n"
                "a curve ends at the share of runs that have one", transform=ax.transAxes, ha="right",
                va="top", fontsize=7, color="grey")


def _heatmap(fig: Any, ax: Any, cells: list[dict[str, Any]], axes: list[str], name: str,
             text: Callable[[str, dict[str, Any]], str]) -> None:
    """Two axes, the first numeric: the mean of ``name`` per cell as a coloured grid."""
    xs = sorted({c[axes[0]] for c in cells})
    ys = sorted({c[axes[1]] for c in cells}, key=lambda v: (str(type(v)), v))
    grid = [[math.nan] * len(xs) for _ in ys]
    for c in cells:
        v = c.get(f"{name}.mean")
        grid[ys.index(c[axes[1]])][xs.index(c[axes[0]])] = math.nan if v is None else float(v)
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(xs)), [text(axes[0], next(c for c in cells if c[axes[0]] == x)) for x in xs])
    ax.set_yticks(range(len(ys)), [text(axes[1], next(c for c in cells if c[axes[1]] == y)) for y in ys])
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            if not math.isnan(v):
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", color="white", fontsize=9)
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    fig.colorbar(im, ax=ax, label=_label(name))


def _errorbars(ax: Any, cells: list[dict[str, Any]], axes: list[str], name: str,
               text: Callable[[str, dict[str, Any]], str]) -> None:
    """The mean of ``name`` with its 95 % interval along the first axis, one line per value of the others."""
    x_axis = axes[0] if axes else None
    groups: dict[str, list[dict[str, Any]]] = {}
    for c in cells:
        key = ", ".join(f"{a}={text(a, c)}" for a in axes[1:])
        groups.setdefault(key, []).append(c)
    for key, members in groups.items():
        numeric_x = x_axis is not None and all(isinstance(c.get(x_axis), int | float) for c in members)
        xs = [c[x_axis] if numeric_x else i for i, c in enumerate(members)] if x_axis else [0]
        mean = [_num(c.get(f"{name}.mean")) for c in members]
        lo = [_num(c.get(f"{name}.ci_low")) for c in members]
        hi = [_num(c.get(f"{name}.ci_high")) for c in members]
        err = [[max(0.0, m - low) for m, low in zip(mean, lo, strict=True)],
               [max(0.0, h - m) for m, h in zip(mean, hi, strict=True)]]
        ax.errorbar(xs, mean, yerr=err, marker="o", capsize=4, label=key or None)
        if x_axis:  # the values as the sweep wrote them (2s, 1%), not bare seconds / fractions
            ax.set_xticks(xs, [text(x_axis, c) for c in members])
    if x_axis:
        ax.set_xlabel(x_axis)
    ax.set_ylabel(_label(name))
    if _proportion(cells, name):
        from matplotlib.ticker import PercentFormatter
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    if len(groups) > 1:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def _num(v: Any) -> float:
    return math.nan if v is None else float(v)
