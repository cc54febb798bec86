"""Lifetime keys of a scenario file -> the core's ``proto.lifetime.Lifetime``.

Per dimension (``time``, ``bytes``, ``packets``) a peer's ``child`` section has
``life_X`` (hard), ``rekey_X`` (soft point) and ``rand_X`` (random amount subtracted from the
soft point), with strongSwan's names and defaults (swanctl.conf): ``life_X`` defaults to
nothing (unlimited), ``rand_X`` to ``life_X - rekey_X``. The ``ike`` section has
``rekey_time``, ``rand_time``, ``life_time`` or strongSwan's ``over_time`` (life = rekey +
over). Values read naturally in YAML:

    rekey_time: 54m          # absolute
    rekey_time: 90%          # of life_time (Huawei style)
    life_time: 110%          # of rekey_time (strongSwan's default: rekey_time + 10 %)
    rand_time: 5%            # of life_time
    rekey_bytes: {initiator: 25%, responder: 50%}   # per role of the SA (Libreswan style)
    rekey_margin: 9m         # legacy ipsec.conf / Libreswan / AWS: rekey = life - margin
    rekey_fuzz: 100%         # ... minus U(0, margin * fuzz)

A scenario that sets one style (``rekey_time``/``rand_time`` or ``rekey_margin``/
``rekey_fuzz``; ``life_time`` or ``over_time``) replaces the other style coming from its
profile (``strip_overridden``).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import shown
from ..proto.lifetime import Lifetime, Limit
from .units import MAX_DURATION, MAX_SIZE, PATTERNS, format_duration, format_size, parse_duration, parse_size

_PCT = re.compile(r"^[ \t]*([0-9]{1,9}(?:\.[0-9]{1,9})?)[ \t]*%[ \t]*$")
ROLES = ("initiator", "responder")

# Keys of one style that replace the other style's keys coming from a profile.
EXCLUSIVE: dict[str, list[tuple[set[str], set[str]]]] = {
    "child": [({"rekey_time", "rand_time"}, {"rekey_margin", "rekey_fuzz"})],
    "ike": [({"rekey_time", "rand_time"}, {"rekey_margin", "rekey_fuzz"}), ({"life_time"}, {"over_time"})],
}


class LifetimeError(ValueError):
    """A lifetime value that cannot be used; ``path`` is relative to the peer."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path


# --- value parsing (pydantic BeforeValidators) ---------------------------------------------

def is_percent(v: Any) -> bool:
    return isinstance(v, str) and bool(_PCT.match(v))


def percent(v: str) -> float:
    m = _PCT.match(v)
    assert m is not None
    return float(m.group(1)) / 100.0


def _scalar(kind: str, allow_percent: bool, value: Any) -> Any:
    if isinstance(value, str) and "%" in value:
        if not allow_percent or not is_percent(value):
            raise ValueError(f"expected a {kind} here, not a percentage ({shown(value)})" if not allow_percent else
                             f"expected a percentage such as 90%, got {shown(value)}")
        return f"{percent(value) * 100:g}%"
    if kind == "duration":
        return parse_duration(value)
    if kind == "size":
        return parse_size(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_SIZE \
            or int(value) != value:
        raise ValueError(f"expected a packet count (a whole number from 0 to {MAX_SIZE}), got {shown(value)}")
    return int(value)


def parser(kind: str, allow_percent: bool = True, roles: bool = False) -> Any:
    """A BeforeValidator for a lifetime key: ``kind`` duration | size | count | percent."""
    def parse(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, dict):
            if not roles:
                raise ValueError(f"expected a single value, not a mapping ({shown(value)})")
            if set(value) != set(ROLES):
                raise ValueError(f"a per-role value needs exactly the keys initiator and responder, got "
                                 f"{shown(', '.join(map(str, value))) if value else 'none'}")
            single = parser(kind, allow_percent)
            if any(value[r] is None for r in ROLES):
                raise ValueError("a per-role value gives a value for both initiator and responder (not null)")
            return {r: single(value[r]) for r in ROLES}
        if kind == "percent":
            if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1e7:
                return f"{value * 100:g}%"
            if not is_percent(value):
                raise ValueError(f"expected a percentage such as 100% or a fraction such as 1.0, got {shown(value)}")
            return f"{percent(value) * 100:g}%"
        return _scalar(kind, allow_percent, value)
    return parse


def schema(kind: str, roles: bool = False, of: str = "", allow_percent: bool = True,
           positive: bool = False) -> dict[str, Any]:
    """JSON Schema of a lifetime key, the same forms ``parser`` accepts; ``positive``: a hard
    lifetime, which cannot be 0."""
    pct = {"type": "string", "pattern": _PCT.pattern.replace("$", "(?![\\s\\S])")}
    number: dict[str, Any] = {"type": "integer" if kind in ("size", "count") else "number",
                              "exclusiveMinimum" if positive else "minimum": 0,
                              "maximum": {"duration": MAX_DURATION, "percent": 1e7}.get(kind, MAX_SIZE)}
    forms: list[dict[str, Any]] = [number]
    if kind in PATTERNS:
        nonzero = "(?=[^1-9]*[1-9])" if positive else ""
        forms.append({"type": "string", "pattern": f"^{nonzero}(?:{PATTERNS[kind]})(?![\\s\\S])"})
    if allow_percent or kind == "percent":
        forms.append(pct)
    base: dict[str, Any] = {"anyOf": forms}
    out: dict[str, Any] = {"anyOf": [*forms, {"type": "null"}]}
    if roles:
        out["anyOf"].append({"type": "object", "properties": {r: base for r in ROLES},
                             "required": list(ROLES), "additionalProperties": False})
    out["description"] = of
    return out


# --- profile merging -----------------------------------------------------------------------

def strip_overridden(profile: dict[str, Any], scenario_peer: dict[str, Any]) -> dict[str, Any]:
    """Drop a profile's lifetime keys of one style when the scenario sets the other style."""
    out = dict(profile)
    for section, groups in EXCLUSIVE.items():
        mine = scenario_peer.get(section)
        theirs = out.get(section)
        if not isinstance(mine, dict) or not isinstance(theirs, dict):
            continue
        theirs = dict(theirs)
        for a, b in groups:
            for own, other in ((a, b), (b, a)):
                if own & set(mine):
                    for k in other - set(mine):
                        theirs.pop(k, None)
        out[section] = theirs
    return out


# --- resolution ----------------------------------------------------------------------------

def _show(v: float, unit: str) -> str:
    if unit == "time":
        return format_duration(v)
    if unit == "bytes":
        return format_size(v)
    return f"{v:g}"


def _round(v: float | None, dim: str) -> float | None:
    """Percentages give binary-float noise (3600 * 1.1); keep microseconds / whole units."""
    if v is None:
        return None
    return round(v, 6) if dim == "time" else float(round(v))


def _per_role(v: Any) -> tuple[Any, Any]:
    if isinstance(v, dict):
        return v["initiator"], v["responder"]
    return v, v


_SUFFIX = {"time": "_time", "bytes": "_bytes", "packets": "_packets"}
"""The key suffix of each dimension: life_time, rekey_bytes, rand_packets ..."""


def _resolve_dim(section: str, dim: str, life: Any, rekey: Any, rand: Any, margin: Any = None,
                 fuzz: Any = None, over: Any = None) -> Limit:
    if isinstance(rekey, int | float) and rekey == 0:
        rekey = None  # strongSwan: 0 disables rekeying by this dimension
    life = _hard_limit(section, dim, life, rekey, over)
    if margin is not None:
        return _margin_limit(section, dim, life, rekey, rand, margin, fuzz)
    return _soft_limit(section, dim, life, rekey, rand)


def _hard_limit(section: str, dim: str, life: Any, rekey: Any, over: Any) -> Any:
    """life_X as an absolute value: given, a percentage of rekey_X, or rekey_X + over_time."""
    key = _SUFFIX[dim]
    p_life = f"{section}.life{key}"
    if over is not None:
        if life is not None:
            raise LifetimeError(f"{section}.over_time", "set life_time or over_time (life = rekey_time + "
                                "over_time), not both")
        if not isinstance(rekey, int | float):
            raise LifetimeError(f"{section}.over_time", f"over_time {over} needs an absolute rekey_time (life = "
                                "rekey_time + over_time); or set life_time instead")
        life = _round(rekey + (rekey * percent(over) if is_percent(over) else over), dim)
    elif is_percent(life):
        if not isinstance(rekey, int | float):
            raise LifetimeError(p_life, f"life{key} {life} is relative to rekey{key}, which must then be an "
                                f"absolute value (got {shown(rekey)})")
        if percent(life) <= 1.0:
            raise LifetimeError(p_life, f"life{key} {life} of rekey{key} must be more than 100 %: the SA has to "
                                "outlive its rekeying")
        life = _round(rekey * percent(life), dim)
    if life is not None and life <= 0:
        raise LifetimeError(p_life, f"life{key} must be positive, got {life}")
    return life


def _margin_limit(section: str, dim: str, life: Any, rekey: Any, rand: Any, margin: Any, fuzz: Any) -> Limit:
    """The soft point as rekey_margin / rekey_fuzz (rekey = life - margin, drawn over margin * fuzz)."""
    key = _SUFFIX[dim]
    if rekey is not None or rand is not None:
        raise LifetimeError(f"{section}.rekey_margin", "rekey_margin/rekey_fuzz replace rekey_time/rand_time: "
                            "set one style")
    if life is None:
        raise LifetimeError(f"{section}.rekey_margin", f"rekey_margin needs life{key} (rekey = life - margin)")
    out_r, out_d = [], []
    for m, f in zip(_per_role(margin), _per_role(fuzz if fuzz is not None else "100%"), strict=True):
        if m >= life:
            raise LifetimeError(f"{section}.rekey_margin", f"rekey_margin {_show(m, dim)} must be shorter "
                                f"than life{key} {_show(life, dim)}")
        out_r.append(_round(life - m, dim))
        out_d.append(_round(min(life - m, m * percent(f)), dim))
    return Limit(life, out_r[0], out_d[0] or 0.0, out_r[1] if out_r[1] != out_r[0] else None,
                 out_d[1] if out_d[1] != out_d[0] else None, "margin")


def _of_life(v: Any, life: Any, path: str, what: str, dim: str) -> tuple[float | None, bool]:
    """rekey_X / rand_X as an absolute value, and whether it was given as a fraction of life_X."""
    if v is None:
        return None, False
    if is_percent(v):
        if life is None:
            raise LifetimeError(path, f"{what} {v} is a percentage of life{_SUFFIX[dim]}, which is not set")
        return _round(life * percent(v), dim), True
    return float(v), False


def _soft_limit(section: str, dim: str, life: Any, rekey: Any, rand: Any) -> Limit:
    """The soft point as rekey_X (absolute or a fraction of life_X) and its random spread rand_X."""
    key = _SUFFIX[dim]
    p_rekey, p_rand = f"{section}.rekey{key}", f"{section}.rand{key}"
    (ri, fi), (rr, fr) = (_of_life(v, life, p_rekey, f"rekey{key}", dim) for v in _per_role(rekey))
    fraction = fi or fr
    if rand is None:
        # strongSwan swanctl.conf: rand_X defaults to life_X - rekey_X
        di = (_round(life - ri, dim) or 0.0) if (life is not None and ri is not None) else 0.0
        dr = (_round(life - rr, dim) or 0.0) if (life is not None and rr is not None) else 0.0
    else:
        (di_, gi), (dr_, gr) = (_of_life(v, life, p_rand, f"rand{key}", dim) for v in _per_role(rand))
        di, dr, fraction = di_ or 0.0, dr_ or 0.0, fraction or gi or gr
    for r, d in ((ri, di), (rr, dr)):
        if r is None:
            continue
        if life is not None and r >= life:
            raise LifetimeError(p_rekey, f"rekey{key} {_show(r, dim)} must be below life{key} {_show(life, dim)} "
                                f"(a profile may set rekey{key}: give it too, e.g. rekey{key}: 90%)")
        if d > r:
            raise LifetimeError(p_rand, f"rand{key} {_show(d, dim)} is larger than rekey{key} {_show(r, dim)}: "
                                "the rekey could be drawn before the SA exists (rand defaults to life - rekey; "
                                f"with a profile's rekey{key}, give rekey{key} too, e.g. 90%)")
    return Limit(life, ri, di, rr if rr != ri else None, dr if dr != di else None,
                 "fraction" if fraction else "absolute")


def child_lifetime(child: Any) -> Lifetime:
    """The CHILD / IPsec SA lifetime from a validated ``ChildConfig``."""
    return Lifetime(
        time=_resolve_dim("child", "time", child.life_time, child.rekey_time, child.rand_time,
                          child.rekey_margin, child.rekey_fuzz),
        bytes=_resolve_dim("child", "bytes", child.life_bytes, child.rekey_bytes, child.rand_bytes),
        packets=_resolve_dim("child", "packets", child.life_packets, child.rekey_packets, child.rand_packets),
    )


def ike_lifetime(ike: Any) -> Lifetime:
    """The IKE SA lifetime from a validated ``IkeConfig``."""
    return Lifetime(time=_resolve_dim("ike", "time", ike.life_time, ike.rekey_time, ike.rand_time,
                                      ike.rekey_margin, ike.rekey_fuzz, ike.over_time))


def resolved_value(peer: Any, path: str) -> Any:
    """The effective hard limit at ``path`` (``child.life_time`` ...) after percentages."""
    section, key = path.split(".", 1)
    if section == "child" and key.startswith("life_"):
        return getattr(child_lifetime(peer.child), key[5:]).life
    if section == "ike" and key == "life_time":
        return ike_lifetime(peer.ike).time.life
    return None
