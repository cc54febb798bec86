"""The grid of a sweep: axes (a scenario path and its values), cells, and each run's seed.

An axis comes from ``--vary PATH=VALUES`` or from the scenario's ``sweep.vary`` block:

* a list: ``peers.A.dpd.delay=10s,20s,30s`` (each item read as YAML: ``3``, ``true``, ``2%``);
* a range with a step, both ends included: ``link.loss=0..5%/1%``, ``peers.A.dpd.delay=10s..60s/10s``,
  ``peers.A.retransmit.tries=1..5`` (step 1). The ends and the step share a unit, or are all
  durations (``30s..2m/30s`` runs in seconds); the arithmetic is decimal, so 0.1 steps land
  on 0.3, not 0.30000000000000004.

A cell is one combination of the axes' values. Its runs are seeded from the sweep seed, the
cell's own settings and the run number (``proto.rng.derive_seed``): a cell gives the same
runs whatever else is in the grid, on any executor, in any order.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from ..config.units import parse_duration, parse_size
from ..proto.rng import derive_seed

MAX_CELLS = 100_000
_NUM = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*([A-Za-z%]*)\s*$")


class SpecError(ValueError):
    """A --vary spec or sweep block that cannot be read; the message is one line."""


@dataclass(frozen=True)
class Axis:
    path: str
    values: tuple[Any, ...]

    @property
    def labels(self) -> list[str]:
        return [label(v) for v in self.values]


@dataclass(frozen=True)
class Cell:
    index: int
    settings: tuple[tuple[str, Any], ...]

    @functools.cached_property
    def key(self) -> str:
        """Canonical text of the cell's settings: the identity used for seeds and resume."""
        return ";".join(f"{p}={json.dumps(v, sort_keys=True, separators=(',', ':'))}" for p, v in self.settings)

    @property
    def overrides(self) -> dict[str, Any]:
        return dict(self.settings)

    def text(self) -> str:
        return ", ".join(f"{p}={label(v)}" for p, v in self.settings) or "(the scenario as written)"


def label(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def numeric(value: Any) -> float | None:
    """A number for plotting an axis value: seconds for durations, a fraction for percentages,
    octets for sizes; None for anything else (proposals, models, names)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith("%"):
        try:
            return float(text[:-1]) / 100
        except ValueError:
            return None
    for parse in (parse_duration, parse_size):
        try:
            return float(parse(text))
        except (ValueError, TypeError):
            continue
    return None


def _item(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _split_number(text: str, spec: str) -> tuple[Decimal, str]:
    m = _NUM.match(text)
    if not m:
        raise SpecError(f"{spec}: {text!r} is not a number with an optional unit (e.g. 10s, 2%, 0.5)")
    return Decimal(m.group(1)), m.group(2)


def _range(path: str, text: str, spec: str) -> tuple[Any, ...]:
    body, _, step_text = text.partition("/")
    lo_text, _, hi_text = body.partition("..")
    lo, lo_u = _split_number(lo_text, spec)
    hi, hi_u = _split_number(hi_text, spec)
    step, st_u = _split_number(step_text, spec) if step_text else (Decimal(1), "")
    units = {u for u in (lo_u, hi_u, st_u) if u}  # a bare number takes the others' unit: 0..5%/1%
    if not step_text and units:
        raise SpecError(f"{spec}: a range with units needs a step, e.g. {lo_text}..{hi_text}/1{sorted(units)[0]}")
    if len(units) > 1:
        try:
            lo, hi, step = (Decimal(repr(parse_duration(t))) for t in (lo_text, hi_text, step_text))
        except (ValueError, TypeError):
            raise SpecError(f"{spec}: the ends and the step need the same unit (or all durations), got "
                            f"{', '.join(sorted(units))}") from None
        unit = "s"
    else:
        unit = units.pop() if units else ""
    if step <= 0:
        raise SpecError(f"{spec}: the step must be greater than 0")
    if hi < lo:
        raise SpecError(f"{spec}: the range ends ({hi_text.strip()}) below its start ({lo_text.strip()})")
    count = int((hi - lo) / step) + 1
    if count > MAX_CELLS:
        raise SpecError(f"{spec}: {count} values; at most {MAX_CELLS}")
    out: list[Any] = []
    for k in range(count):
        v = lo + step * k
        if unit:
            out.append(f"{_plain(v)}{unit}")
        elif v == v.to_integral_value() and lo == lo.to_integral_value() and step == step.to_integral_value():
            out.append(int(v))
        else:
            out.append(float(v))
    return tuple(out)


def _plain(d: Decimal) -> str:
    text = format(d.normalize(), "f")
    return text


def parse_vary(spec: str) -> Axis:
    """``PATH=VALUES`` from the command line."""
    path, sep, values = spec.partition("=")
    path = path.strip()
    if not sep or not path or not values.strip():
        raise SpecError(f"--vary {spec!r}: expected PATH=VALUES, e.g. link.loss=0..5%/1% or "
                        f"peers.A.dpd.delay=10s,20s,30s")
    return axis(path, values.strip(), f"--vary {spec}")


def axis(path: str, values: Any, where: str) -> Axis:
    """An axis from a list of values or a text ('a,b,c' or a range)."""
    if not path or any(not p for p in path.split(".")):
        raise SpecError(f"{where}: {path!r} is not a dotted scenario path such as peers.A.dpd.delay")
    if path == "seed" or path == "sweep" or path.startswith("sweep."):
        raise SpecError(f"{where}: {path!r} cannot be varied (the sweep derives every run's seed itself)")
    if isinstance(values, list):
        vals: tuple[Any, ...] = tuple(values)
    elif isinstance(values, str) and ".." in values and "," not in values:
        try:
            vals = _range(path, values, where)
        except InvalidOperation:
            raise SpecError(f"{where}: cannot read the range {values!r} (LOW..HIGH/STEP)") from None
    elif isinstance(values, str):
        parts = [p.strip() for p in values.split(",")]
        if any(not p for p in parts):
            raise SpecError(f"{where}: an empty value in {values!r}")
        vals = tuple(_item(p) for p in parts)
    else:
        vals = (values,)
    if not vals:
        raise SpecError(f"{where}: no values")
    if len(set(map(label, vals))) != len(vals):
        raise SpecError(f"{where}: a value is given twice")
    return Axis(path, vals)


def grid(axes: list[Axis]) -> list[Cell]:
    paths = [a.path for a in axes]
    dup = {p for p in paths if paths.count(p) > 1}
    if dup:
        raise SpecError(f"--vary: {sorted(dup)[0]} is varied twice; give its values in one --vary")
    size = 1
    for a in axes:
        size *= len(a.values)
    if size > MAX_CELLS:
        raise SpecError(f"--vary: the grid has {size} cells; at most {MAX_CELLS}")
    combos = itertools.product(*(a.values for a in axes))
    return [Cell(i, tuple(zip(paths, combo, strict=True))) for i, combo in enumerate(combos)]


def run_seed(sweep_seed: int, cell: Cell, run: int) -> int:
    """The scenario seed of run ``run`` of ``cell``."""
    return derive_seed(sweep_seed, "sweep", cell.key, str(run))


def apply(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with each dotted path set to its value. Unlike ``load_scenario``'s overrides, a
    path may index a list by number (``faults.0.loss``): only that item's key changes."""
    import copy
    out = copy.deepcopy(raw)
    for path, value in overrides.items():
        node: Any = out
        parts = path.split(".")
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise SpecError(f"{path}: {'.'.join(parts[:i])} is a list of {len(node)} item(s); "
                                    f"{part!r} is not an index into it")
                if last:
                    node[int(part)] = copy.deepcopy(value)
                else:
                    node = node[int(part)]
            elif isinstance(node, dict):
                if last:
                    node[part] = copy.deepcopy(value)
                else:
                    if not isinstance(node.get(part), dict | list):
                        node[part] = {}
                    node = node[part]
            else:
                raise SpecError(f"{path}: {'.'.join(parts[:i])} is a single value, not a mapping")
    return out
