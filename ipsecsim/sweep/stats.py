"""Per-cell statistics of a metric over its runs (numpy).

* numbers: n (runs where the metric has a value), mean, standard deviation, 5th / 50th / 95th
  percentile, and the 95 % confidence interval of the mean, mean +- t(0.975, n-1) s / sqrt(n)
  (Student's t; the quantiles for 1-30 degrees of freedom are the standard table values,
  above that the Cornish-Fisher expansion around z = 1.959964);
* true / false values: the proportion and its 95 % Wilson score interval
  (Wilson 1927; Agresti & Coull 1998), which stays inside [0, 1] and is not empty at 0 or n
  successes, unlike the normal approximation;
* text values: the most common one and its share.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

Z95 = 1.959963984540054
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def t975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        return math.nan
    if df <= len(_T975):
        return _T975[df - 1]
    z, v = Z95, float(df)
    return (z + (z ** 3 + z) / (4 * v) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * v ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * v ** 3))


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k / n."""
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def kind_of(values: Sequence[Any]) -> str:
    """``bool``, ``number`` or ``text`` for a column of run values (None ignored)."""
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if present and all(isinstance(v, bool) for v in present):
        return "bool"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return "number"
    return "text"


def describe(values: Sequence[Any], runs: int | None = None) -> dict[str, Any]:
    """The statistics of one metric in one cell; ``runs`` is the number of runs (default len)."""
    runs = len(values) if runs is None else runs
    kind = kind_of(values)
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    out: dict[str, Any] = {"kind": kind, "runs": runs, "n": len(present)}
    if kind == "bool":
        k = sum(1 for v in present if v)
        lo, hi = wilson(k, len(present))
        out.update(mean=k / len(present) if present else math.nan, ci_low=lo, ci_high=hi, successes=k)
        return out
    if kind == "text":
        if present:
            value, count = Counter(map(str, present)).most_common(1)[0]
            out.update(mode=value, share=count / len(present))
        return out
    return {**out, **numbers(np.asarray(present, dtype=float))}


def numbers(a: np.ndarray) -> dict[str, float]:
    """Mean, sd, percentiles and the t interval of the mean of the finite values in ``a``."""
    a = a[np.isfinite(a)]
    n = a.size
    if n == 0:
        nan = math.nan
        return {"mean": nan, "std": nan, "p5": nan, "p50": nan, "p95": nan, "ci_low": nan, "ci_high": nan}
    mean = float(a.mean())
    std = float(a.std(ddof=1)) if n > 1 else 0.0
    half = t975(n - 1) * std / math.sqrt(n) if n > 1 else math.nan
    p5, p50, p95 = (float(x) for x in np.percentile(a, [5, 50, 95]))
    return {"mean": mean, "std": std, "p5": p5, "p50": p50, "p95": p95, "ci_low": mean - half, "ci_high": mean + half}
