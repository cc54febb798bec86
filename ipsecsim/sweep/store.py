"""What a sweep writes: the journal of runs (for resuming) and the table of cells.

* ``OUTPUT.runs.jsonl`` - the journal: a header line naming the sweep (scenario, fingerprint
  of the scenario as written without its ``sweep:`` block, sweep seed), then one line per
  finished run (``cell_key``, ``run``, ``seed``, ``method``, the settings and every metric),
  appended and flushed as runs finish; a trial of the vectorised model is a row like a run
  (``method: fast``, its trial seed). A sweep started again with the same output skips every (cell, run)
  already there - after an interruption, or with more ``--runs`` or more values - and runs
  only the rest. A journal of another scenario or sweep seed is refused, not overwritten.
* ``OUTPUT`` - one row per cell: ``cell``, one column per varied path (numbers where every
  value of the axis is one: seconds, fractions, octets; else the values as written),
  ``method`` (``engine`` or ``fast``), ``runs``, ``cell_key``, and per metric ``M.mean``, ``M.ci_low``,
  ``M.ci_high``, ``M.n`` and for numbers ``M.std``, ``M.p5``, ``M.p50``, ``M.p95``, for text
  values ``M.mode``, ``M.share``. The format follows the extension: ``.csv``, ``.parquet``
  (pyarrow; the sweep's description is in the schema metadata ``ipsecsim.sweep``) or
  ``.json`` (``{"sweep": ..., "cells": [...], "runs": [...]}``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ConfigError

FORMATS = (".csv", ".parquet", ".json")
JOURNAL_SUFFIX = ".runs.jsonl"


def fingerprint(raw: dict[str, Any]) -> str:
    body = {k: v for k, v in raw.items() if k != "sweep"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]


def journal_path(output: Path) -> Path:
    return output.with_name(output.name + JOURNAL_SUFFIX)


def check_output(output: str) -> Path:
    p = Path(output)
    if p.suffix.lower() not in FORMATS:
        raise ConfigError(None, "-o", f"{output}: unknown format {p.suffix or '(no extension)'!r}; "
                          f"allowed: {', '.join(FORMATS)}")
    if p.is_dir():
        raise ConfigError(None, "-o", f"{output} is a directory; give a file name")
    if not p.parent.exists():
        raise ConfigError(None, "-o", f"cannot write {output}: directory {p.parent} does not exist")
    if p.exists() and not journal_path(p).exists():
        raise ConfigError(None, "-o", f"{output} exists and is not the output of a sweep (no "
                          f"{journal_path(p).name} beside it); give another name or remove it")
    return p


class Journal:
    """Append-only record of finished runs; reads what an earlier, interrupted sweep wrote."""

    def __init__(self, path: Path | None, header: dict[str, Any]):
        """``path`` None: kept in memory only (a sweep without ``-o``)."""
        self.path = path
        self.header = header
        self.done: dict[tuple[str, int], dict[str, Any]] = {}
        self._fh: Any = None
        if path is None:
            return
        if path.exists():
            self._read()
        self._fh = path.open("a", encoding="utf-8")
        if path.stat().st_size == 0:
            self._write({"ipsecsim_sweep": 1, **header})

    def _read(self) -> None:
        assert self.path is not None
        lines = self.path.read_text(encoding="utf-8").splitlines()
        if not lines:
            return
        try:
            head = json.loads(lines[0])
        except json.JSONDecodeError:
            head = {}
        if not isinstance(head, dict) or head.get("ipsecsim_sweep") != 1:
            raise ConfigError(str(self.path), "", "not a sweep journal; give another -o or remove it")
        for key in ("fingerprint", "seed"):
            if head.get(key) != self.header[key]:
                what = "the scenario changed" if key == "fingerprint" else \
                    f"sweep seed {head.get('seed')}, not {self.header['seed']}"
                raise ConfigError(str(self.path), key, f"the runs there belong to another sweep ({what}); "
                                  "give another -o, or remove the file to start over")
        for line in lines[1:]:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # the last line of an interrupted write
            if isinstance(row, dict) and "cell_key" in row and "run" in row:
                self.done[(row["cell_key"], int(row["run"]))] = row

    def _write(self, obj: dict[str, Any]) -> None:
        self._fh.write(json.dumps(obj, sort_keys=False, default=_jsonable) + "\n")

    def add(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.done[(row["cell_key"], int(row["run"]))] = row
            if self._fh is not None:
                self._write(row)
        if self._fh is not None:
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


def _jsonable(v: Any) -> Any:
    return str(v)


def _clean(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


def write(output: Path, meta: dict[str, Any], cells: list[dict[str, Any]], runs: list[dict[str, Any]]) -> None:
    """Write the table of cells in the format of ``output``'s extension (atomically: a
    temporary file renamed over the old one)."""
    ext = output.suffix.lower()
    tmp = output.with_name(output.name + ".tmp")
    if ext == ".json":
        # one run a line (the C encoder: no indent), the rest indented
        head = json.dumps({"sweep": meta, "cells": [{k: _clean(v) for k, v in c.items()} for c in cells]},
                          indent=1, default=_jsonable)
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(head[:-2] + ',\n "runs": [')
            for i, r in enumerate(runs):
                fh.write(("\n  " if i == 0 else ",\n  ") +
                         json.dumps({k: _clean(v) for k, v in r.items()}, default=_jsonable))
            fh.write("\n ]\n}\n")
    elif ext == ".csv":
        columns = _columns(cells)
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(columns)
            for c in cells:
                w.writerow(["" if _clean(c.get(k)) is None else c.get(k) for k in columns])
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq
        columns = _columns(cells)
        data = {k: [_clean(c.get(k)) for c in cells] for k in columns}
        table = pa.table(data).replace_schema_metadata({"ipsecsim.sweep": json.dumps(meta, default=_jsonable)})
        pq.write_table(table, tmp)
    tmp.replace(output)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for r in rows:
        for k in r:
            seen.setdefault(k, None)
    return list(seen)


def read(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """(meta, cells, runs) of a sweep output; runs from the JSON document or the journal."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(str(p), "", "no such file")
    ext = p.suffix.lower()
    meta: dict[str, Any] = {}
    try:
        if ext == ".json":
            doc = json.loads(p.read_text(encoding="utf-8"))
            if not isinstance(doc, dict) or "cells" not in doc:
                raise ConfigError(str(p), "", "not a sweep output (no 'cells')")
            return doc.get("sweep", {}), doc["cells"], doc.get("runs", [])
        if ext == ".csv":
            with p.open(newline="", encoding="utf-8") as fh:
                cells = [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(fh)]
        elif ext == ".parquet":
            import pyarrow.parquet as pq
            table = pq.read_table(p)
            raw = (table.schema.metadata or {}).get(b"ipsecsim.sweep")
            meta = json.loads(raw) if raw else {}
            cells = table.to_pylist()
        else:
            raise ConfigError(str(p), "", f"unknown format {ext!r}; allowed: {', '.join(FORMATS)}")
    except (OSError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(str(p), "", f"cannot read the sweep output: {e}") from None
    if not cells or "cell" not in cells[0] or "method" not in cells[0]:
        raise ConfigError(str(p), "", "not a sweep output (no 'cell' and 'method' columns)")
    runs = journal_runs(journal_path(p), cells)
    if not meta:  # a CSV: the journal names the scenario, and its runs the settings as written (2s, 1%)
        meta = _journal_meta(journal_path(p), cells, runs)
    return meta, cells, runs


def _journal_meta(path: Path, cells: list[dict[str, Any]], runs: list[dict[str, Any]]) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as fh:
            head = json.loads(fh.readline() or "{}")
    except (OSError, ValueError):
        return {}
    settings: dict[Any, dict[str, str]] = {}
    for r in runs:
        if isinstance(r.get("settings"), dict):
            settings.setdefault(r.get("cell"), r["settings"])
    axes = list(next(iter(settings.values()), {}))
    meta: dict[str, Any] = {"scenario": head.get("scenario")} if isinstance(head, dict) else {}
    if axes and all(c.get("cell") in settings for c in cells):
        meta["cell_labels"] = {str(c["cell"]): settings[c["cell"]] for c in cells}
    return meta


def journal_runs(path: Path, cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs of a journal that the table's statistics are made of: of its cells (matched by
    ``cell_key``; a table without it, written before there was one, by ``cell``), of the cell's
    method and within its number of runs, the last row of a (cell, run) winning; in (cell, run) order."""
    if not path.exists():
        return []
    index = {c["cell_key"]: c["cell"] for c in cells if c.get("cell_key") is not None}
    table = {c["cell"]: c for c in cells}
    latest: dict[tuple[Any, int], dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(row, dict) or "run" not in row:
            continue
        if index:
            if row.get("cell_key") not in index:
                continue
            row["cell"] = index[row["cell_key"]]
        latest[(row.get("cell"), int(row["run"]))] = row

    def counted(row: dict[str, Any]) -> bool:  # a run the table's statistics are made of
        cell = table.get(row.get("cell"))
        return cell is None or (row.get("method", "engine") == cell.get("method", "engine") and
                                int(row["run"]) < int(cell.get("runs") or 0))

    return [latest[k] for k in sorted(latest, key=lambda k: (str(type(k[0])), k[0], k[1])) if counted(latest[k])]


def _number(text: str) -> Any:
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def meta_of(scenario: str, file: str | None, seed: int, runs: int, axes: list[Any],
            metrics: list[str]) -> dict[str, Any]:
    return {"scenario": scenario, "file": file, "seed": seed, "runs": runs, "ipsecsim": __version__,
            "axes": [{"path": a.path, "labels": a.labels} for a in axes], "metrics": metrics}
