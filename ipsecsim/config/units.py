"""Units in scenario files: durations, sizes and rates as numbers or strings.

* durations: ``500ms``, ``90s``, ``2m``, ``4h``, ``7d``, ``1w``, or a number of seconds;
  compound forms such as ``1h30m`` are accepted;
* sizes: ``1500B``, ``64KB``, ``20GB`` (decimal: 1 KB = 1000 bytes, as Huawei and AWS quote
  volume lifetimes), ``64KiB`` / ``1GiB`` (binary), or a whole number of bytes;
* rates: ``1Gbit/s``, ``100Mbps``, ``10MB/s`` (bytes), ``64kbit/s``, or a number of bits
  per second.

The grammar, parsing and formatting are ipsecsim/units.py (also read by the command line and
the output of a run); it refuses what no field can use: NaN, infinity and values beyond the
largest the simulator represents (``MAX_DURATION``, ``MAX_SIZE``, ``MAX_RATE``). The pydantic
types ``Duration``, ``Size`` and ``Rate`` carry the same
grammar into ``ipsecsim schema`` (``PATTERNS``), so the schema and the loader accept the same
documents.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from ..units import (
    DURATION_HELP,
    MAX_DURATION,
    MAX_RATE,
    MAX_SIZE,
    PATTERNS,
    RATE_HELP,
    SIZE_HELP,
    format_duration,
    format_size,
    parse_duration,
    parse_rate,
    parse_size,
    schema_pattern,
)

__all__ = ["DURATION_HELP", "DURATION_SCHEMA", "MAX_DURATION", "MAX_RATE", "MAX_SIZE", "PATTERNS", "RATE_HELP",
           "SIZE_HELP", "Duration", "Rate", "Size", "format_duration", "format_size", "parse_duration", "parse_rate",
           "parse_size", "push_bounds", "schema_pattern"]


class _UnitSchema:
    """JSON Schema of a unit type: the number (with the field's bounds) or the unit string."""

    def __init__(self, kind: str, help_: str, limit: float, integer: bool = False):
        self.kind, self.help, self.limit, self.integer = kind, help_, limit, integer

    def __get_pydantic_json_schema__(self, core: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        number = dict(handler(core))
        number["type"] = "integer" if self.integer else "number"
        if "minimum" not in number and "exclusiveMinimum" not in number:
            number["minimum"] = 0
        number["maximum"] = min(number.get("maximum", self.limit), self.limit)
        positive = number.get("exclusiveMinimum") == 0
        string = {"type": "string", "pattern": schema_pattern(self.kind, positive)}
        return {"anyOf": [number, string], "description": self.help}


Duration = Annotated[float, BeforeValidator(parse_duration), _UnitSchema("duration", DURATION_HELP, MAX_DURATION)]
Size = Annotated[int, BeforeValidator(parse_size), _UnitSchema("size", SIZE_HELP, MAX_SIZE, integer=True)]
Rate = Annotated[float, BeforeValidator(parse_rate), _UnitSchema("rate", RATE_HELP, MAX_RATE)]


def push_bounds(schema: Any) -> Any:
    """Move the bounds pydantic leaves beside an optional unit type (``ge``, ``gt``, ``le``,
    ``lt`` next to ``anyOf``) into its number branch, as JSON Schema keywords."""
    if isinstance(schema, list):
        return [push_bounds(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: push_bounds(v) for k, v in schema.items()}
    bounds = {k: out.pop(k) for k in ("ge", "gt", "le", "lt") if k in out}
    if bounds:
        _apply_bounds(out, bounds)
    return out


def _apply_bounds(node: dict[str, Any], bounds: dict[str, Any]) -> None:
    for branch in node.get("anyOf", []):
        if not isinstance(branch, dict):
            continue
        if branch.get("type") in ("number", "integer"):
            for k, v in bounds.items():
                key = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}[k]
                branch[key] = v
            if "gt" in bounds:
                branch.pop("minimum", None)
        elif branch.get("type") == "string" and bounds.get("gt") == 0 and "pattern" in branch:
            pattern = branch["pattern"]
            if "(?=[^1-9]*[1-9])" not in pattern:
                branch["pattern"] = "^(?=[^1-9]*[1-9])" + pattern[1:]
        elif "anyOf" in branch:
            _apply_bounds(branch, bounds)


DURATION_SCHEMA = {"anyOf": [{"type": "number", "minimum": 0, "maximum": MAX_DURATION},
                             {"type": "string", "pattern": schema_pattern("duration")}], "description": DURATION_HELP}
"""The JSON Schema of a duration key (``ipsecsim schema``), with the loader's bounds."""
