"""Vendor documents as declarative field tables, validated by pydantic models made from them.

Each object of a vendor document (a Huawei Cloud ``IkePolicy``, an Alibaba Cloud ``IkeConfig`` ...) is
a table of ``Field`` rows: the vendor's field name, its JSON type and allowed values (enum, range,
length, pattern), whether its value may be masked in the vendor's examples, and, for a field that maps
straight onto the scenario, the scenario key and the converter. ``model`` makes the pydantic model of
a table (every key the vendor documents, no other: ``extra="forbid"``); ``validate`` checks a JSON
object against it and turns the first error into one ``ConfigError`` line naming the file, the field
as a JSON path and what is allowed.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, create_model
from pydantic import Field as PydanticField
from pydantic_core import PydanticCustomError

from ...errors import ConfigError
from .base import is_masked
from .jsondoc import MAX_DIGITS, LongInt, key_path
from .values import shown

Kind = Literal["str", "int", "bool", "cidrs", "object", "objects", "any"]


@dataclass(frozen=True)
class Field:
    """One field of a vendor object: how the document spells it and what the vendor allows."""

    name: str
    """The vendor's field name (``ike_version``, ``IkeLifetime``)."""
    kind: Kind = "str"
    """JSON type: a string, an integer, a boolean, subnets, an object (``table``), a list of objects, or
    ``any`` (documented, carried by the API, not used by the import)."""
    target: str | None = None
    """The scenario key (dotted, under the peer) the value maps to, when it maps straight onto one."""
    convert: Callable[[Any], Any] | None = None
    """The vendor value -> the scenario value (spellings of algorithms, versions ...)."""
    enum: tuple[str, ...] | None = None
    range: tuple[int, int] | None = None
    length: tuple[int, int] | None = None
    pattern: str | None = None
    pattern_help: str = ""
    maskable: bool = False
    """Vendor examples mask this value (``10.***.***.134``, ``pgw6dy****``): reported, never used."""
    as_string: bool = False
    """Numbers and booleans may be spelt as strings (``"86400"``, ``"true"``), as Alibaba's tunnel options do."""
    sep: str | None = None
    """Subnets given as one string with this separator (Alibaba ``LocalSubnet``: ``"10.0.0.0/24,10.0.1.0/24"``)."""
    table: Table | None = None
    """The fields of a nested object (``object``, ``objects``)."""


@dataclass(frozen=True)
class Table:
    """The fields of one vendor object and where the vendor documents them (for error messages)."""

    source: str
    fields: tuple[Field, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


def _fail(message: str, sub: Any = None) -> PydanticCustomError:
    return PydanticCustomError("vendor", "{message}", {"message": message, "sub": sub})


def _string(f: Field, v: Any) -> str:
    if not isinstance(v, str):
        raise _fail(f"expected a string, got {shown(v)}")
    if f.enum is not None and v not in f.enum:
        raise _fail(f"{shown(v)} is not allowed; allowed: {', '.join(f.enum)}")
    if f.length is not None and not f.length[0] <= len(v) <= f.length[1]:
        raise _fail(f"{len(v)} characters; allowed {f.length[0]}-{f.length[1]}")
    if f.pattern is not None and not re.fullmatch(f.pattern, v):
        raise _fail(f"{shown(v)} is not allowed; {f.pattern_help}")
    return v


def _integer(f: Field, v: Any) -> int:
    if f.as_string and isinstance(v, str) and re.fullmatch(r"-?[0-9]+", v):
        v = int(v) if len(v) <= MAX_DIGITS else LongInt(v)
    if isinstance(v, bool) or not isinstance(v, int):
        allowed = f"; allowed: {f.range[0]}-{f.range[1]}" if f.range is not None else ""
        spelt = " (a number, or its digits as a string)" if f.as_string else ""
        raise _fail(f"expected an integer{spelt}, got {shown(v)}{allowed}")
    if f.range is not None and not f.range[0] <= v <= f.range[1]:
        raise _fail(f"{shown(v)} is outside the range {f.range[0]}-{f.range[1]}")
    return v


def _boolean(f: Field, v: Any) -> bool:
    if f.as_string and isinstance(v, str) and v in ("true", "false"):
        return v == "true"
    if not isinstance(v, bool):
        raise _fail(f"expected true or false, got {shown(v)}")
    return v


def cidrs(v: Any, sep: str | None = None) -> list[str]:
    """IPv4 subnets, normalised; the error names the item ([i]) that is not one."""
    items = [x.strip() for x in v.split(sep)] if sep and isinstance(v, str) else v
    if not isinstance(items, list):
        raise _fail(f"expected a list of subnets, got {shown(v)}")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(str(ipaddress.IPv4Network(str(item))))
        except ValueError as e:
            raise _fail(f"invalid IPv4 CIDR {shown(item)}: {shown(str(e), quote=False)} (e.g. 192.168.44.0/24)",
                        sub=i) from None
    return out


def subnets(doc: Doc, key: str, value: Any, sep: str | None = None) -> list[str]:
    """``value`` (of ``doc``'s field ``key``) as IPv4 subnets; a ConfigError naming the item otherwise."""
    try:
        return cidrs(value, sep)
    except PydanticCustomError as e:
        ctx = e.context or {}
        sub = f"[{ctx['sub']}]" if ctx.get("sub") is not None else ""
        raise ConfigError(doc.file, f"{doc.where(key)}{sub}", str(ctx.get("message"))) from None


def _object(v: Any) -> Any:
    if not isinstance(v, dict):
        raise _fail(f"expected an object, got {json_type(v)} {shown(v)}")
    return v


def _objects(v: Any) -> Any:
    if not isinstance(v, list):
        raise _fail(f"expected a list, got {shown(v)}")
    return v


_CHECKS: dict[str, Callable[[Field, Any], Any]] = {
    "str": _string, "int": _integer, "bool": _boolean, "cidrs": lambda f, v: cidrs(v, f.sep),
    "object": lambda _f, v: _object(v), "objects": lambda _f, v: _objects(v), "any": lambda _f, v: v,
}


def _checked(f: Field) -> Callable[[Any], Any]:
    check = _CHECKS[f.kind]

    def run(v: Any) -> Any:
        return None if v is None else check(f, v)
    return run


class VendorModel(BaseModel):
    """A validated vendor object; ``table`` says which."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    table: ClassVar[Table]


_MODELS: dict[int, type[VendorModel]] = {}


def model(t: Table) -> type[VendorModel]:
    """The pydantic model of table ``t`` (made once): every documented key, optional, checked by its row."""
    if id(t) in _MODELS:
        return _MODELS[id(t)]
    fields: dict[str, Any] = {}
    for i, f in enumerate(t.fields):
        sub: Any = Any
        if f.kind == "object" and f.table is not None:
            sub = model(f.table) | None
        elif f.kind == "objects" and f.table is not None:
            sub = list[model(f.table)] | None  # type: ignore[misc]
        fields[f"f{i}"] = (Annotated[sub, BeforeValidator(_checked(f))], PydanticField(None, alias=f.name))
    made: type[VendorModel] = create_model(
        re.sub(r"\W", "", t.source.rsplit(",", 1)[-1]) or "Vendor", __base__=VendorModel, **fields)
    made.table = t
    _MODELS[id(t)] = made
    return made


class Doc:
    """A validated vendor object with its file and JSON path: the values, and where each is."""

    def __init__(self, validated: VendorModel, raw: dict[str, Any], file: str, path: str):
        self.table, self.raw, self.file, self.path = validated.table, raw, file, path
        self.values = {f.name: getattr(validated, f"f{i}") for i, f in enumerate(self.table.fields)}

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def where(self, key: str) -> str:
        return key_path(self.path, key)

    def masked(self, key: str) -> bool:
        """The field's value is masked (``10.***.***.134``, ``pgw6dy****``) and the table says the vendor's
        examples mask this field: it is reported, never used."""
        return self.table.field(key).maskable and is_masked(self.values.get(key))

    def has(self, key: str) -> bool:
        return self.values.get(key) is not None

    def obj(self, key: str, required: bool = False) -> Doc | None:
        """The nested object ``key`` (validated with the document), None when absent."""
        value = self.values.get(key)
        if value is None:
            if required:
                raise ConfigError(self.file, self.where(key), "required, but missing")
            return None
        return Doc(value, self.raw[key], self.file, self.where(key))

    def require_obj(self, key: str) -> Doc:
        found = self.obj(key, required=True)
        assert found is not None
        return found

    def objs(self, key: str) -> list[Doc]:
        value = self.values.get(key) or []
        return [Doc(v, self.raw[key][i], self.file, f"{self.where(key)}[{i}]") for i, v in enumerate(value)]

    def require(self, key: str) -> Any:
        value = self.values.get(key)
        if value is None:
            raise ConfigError(self.file, self.where(key), "required, but missing")
        return value


def take(doc: Doc, *names: str) -> dict[str, Any]:
    """The fields ``names`` of ``doc`` that map straight onto scenario keys, converted, as nested scenario
    keys in the order named (``{"ike": {"version": 2, "mode": "main"}}``); absent fields are left out."""
    out: dict[str, Any] = {}
    for name in names:
        f, value = doc.table.field(name), doc[name]
        if value is None or f.target is None:
            continue
        node = out
        *parents, leaf = f.target.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = f.convert(value) if f.convert is not None else value
    return out


def validate(t: Table, data: Any, file: str, path: str = "") -> Doc:
    """``data`` checked against table ``t`` (and the tables of its nested objects); the first problem as
    one ConfigError line: file, JSON path, what is wrong and what is allowed."""
    if not isinstance(data, dict):
        raise ConfigError(file, path, f"expected an object, got {json_type(data)} {shown(data)}")
    try:
        validated = model(t).model_validate(data)
    except ValidationError as e:
        raise _one_line(e, t, file, path) from None
    return Doc(validated, data, file, path)


def _one_line(e: ValidationError, t: Table, file: str, path: str) -> ConfigError:
    err = e.errors(include_url=False)[0]
    where, table = path, t
    for step in err["loc"]:
        if isinstance(step, int):
            where = f"{where}[{step}]"
            continue
        where = key_path(where, step)
        known = [f for f in table.fields if f.name == step]
        if known and known[0].table is not None:
            table = known[0].table
    ctx = err.get("ctx") or {}
    if err["type"] == "vendor":
        if ctx.get("sub") is not None:
            where = f"{where}[{ctx['sub']}]"
        return ConfigError(file, where, str(ctx["message"]))
    if err["type"] in ("model_type", "model_attributes_type", "dict_type"):
        value = err.get("input")
        return ConfigError(file, where, f"expected an object, got {json_type(value)} {shown(value)}")
    if err["type"] == "extra_forbidden":
        key = str(err["loc"][-1])
        return ConfigError(file, where, unknown_key(key, table.keys, table.source))
    return ConfigError(file, where, f"{shown(err['msg'], quote=False)}")  # not expected: every row checks its own


def unknown_key(key: str, documented: Sequence[str], source: str) -> str:
    """A key the vendor does not document for this object (``source``: the API and the object's table):
    an error, never silently replaced by a default; the closest documented key is suggested."""
    close = difflib.get_close_matches(key, documented, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {shown(key)}{hint}; allowed ({source}): {', '.join(documented)}"


def json_type(value: Any) -> str:
    """The JSON name of ``value``'s type."""
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
             type(None): "null"}
    return next((n for t, n in names.items() if isinstance(value, t)), type(value).__name__)
