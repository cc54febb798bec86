"""Durations, sizes and rates: the grammar of their written forms, parsing and formatting.

* durations: ``500ms``, ``90s``, ``2m``, ``4h``, ``7d``, ``1w``, or a number of seconds;
  compound forms such as ``1h30m`` are accepted;
* sizes: ``1500B``, ``64KB``, ``20GB`` (decimal: 1 KB = 1000 bytes, as Huawei and AWS quote
  volume lifetimes), ``64KiB`` / ``1GiB`` (binary), or a whole number of bytes;
* rates: ``1Gbit/s``, ``100Mbps``, ``10MB/s`` (bytes), ``64kbit/s``, or a number of bits
  per second.

Plain functions, no pydantic: scenario files (config/units.py carries the same grammar into
the pydantic types and ``ipsecsim schema``), command-line values and the output of a run
(trace, check) all read and write units here. NaN, infinity and values beyond the largest the
simulator represents (``MAX_DURATION``, ``MAX_SIZE``, ``MAX_RATE``) are refused.
"""

from __future__ import annotations

import math
import re

from .errors import shown

MAX_DURATION = 3650 * 86400.0
"""Ten years: the longest duration a scenario may give (a run, a lifetime, a timer)."""
MAX_SIZE = 2**64 - 1
"""The largest size: a 64-bit byte counter (strongSwan life_bytes, RFC 2407 4.5 lifetimes)."""
MAX_RATE = 400e9
"""The fastest rate: 400 Gbit/s (IEEE 802.3bs, the fastest Ethernet of a VPN gateway port)."""

_DUR = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_SIZE = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
         "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_RATE_PREFIX = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def _ci(word: str) -> str:
    """``ms`` -> ``[mM][sS]``: case-insensitive without flags (JSON Schema patterns have none)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


# The grammar, written so that Python's ``re`` and ECMA-262 (JSON Schema ``pattern``) read it
# the same way: ASCII digits and blanks only, and no ``$`` (which lets a final newline through
# in Python); the schema pattern anchors its end with ``(?![\s\S])``.
_NUM = r"[0-9]+(?:\.[0-9]+)?"
_SP = r"[ \t]*"
_DUR_UNIT = "(?:" + "|".join(_ci(u) for u in ("ms", "sec", "min", "s", "m", "h", "d", "w")) + ")"
_DUR_BODY = rf"{_SP}(?:{_NUM}|(?:{_NUM}{_SP}{_DUR_UNIT}{_SP})+){_SP}"
_SIZE_UNIT = "(?:" + "|".join(_ci(u) for u in ("kib", "mib", "gib", "tib", "kb", "mb", "gb", "tb", "b")) + ")"
_SIZE_BODY = rf"{_SP}{_NUM}{_SP}{_SIZE_UNIT}?{_SP}"
_RATE_BODY = rf"{_SP}{_NUM}{_SP}[kKmMgGtT]?(?:bit/s|bps|b/s|B/s|Bps){_SP}"

PATTERNS = {"duration": _DUR_BODY, "size": _SIZE_BODY, "rate": _RATE_BODY}
"""The string forms, as regular expressions over the whole string."""

_DUR_PART = re.compile(rf"({_NUM}){_SP}({_DUR_UNIT})")
_SIZE_RE = re.compile(rf"{_SP}({_NUM}){_SP}({_SIZE_UNIT})?{_SP}")
_RATE_RE = re.compile(rf"{_SP}({_NUM}){_SP}([kKmMgGtT]?)(bit/s|bps|b/s|B/s|Bps){_SP}")

DURATION_HELP = "a duration such as 500ms, 90s, 2m, 4h, 7d or a number of seconds"
SIZE_HELP = "a size such as 1500B, 64KB, 20GB, 1GiB or a whole number of bytes"
RATE_HELP = "a rate such as 1Gbit/s, 100Mbps, 10MB/s or a number of bits per second"


def schema_pattern(kind: str, positive: bool = False) -> str:
    """The JSON Schema ``pattern`` of a unit string; ``positive``: at least one non-zero digit."""
    return "^" + ("(?=[^1-9]*[1-9])" if positive else "") + f"(?:{PATTERNS[kind]})(?![\\s\\S])"


def _number(value: object, what: str, help_: str, limit: float | int) -> float | None:
    """A YAML / JSON number checked once for every field: finite, not negative, not beyond
    ``limit``; None when ``value`` is not a number."""
    if isinstance(value, bool):
        raise ValueError(f"expected {help_}, got {shown(value)}")
    if not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer with hundreds of digits
        number = math.inf
    if math.isnan(number):
        raise ValueError(f"expected {help_}, got NaN (not a number)")
    if number < 0:
        raise ValueError(f"a {what} cannot be negative: {shown(value)}")
    if (value > limit) if isinstance(value, int) and isinstance(limit, int) else number > limit:
        raise ValueError(f"a {what} is at most {limit:g}, got {shown(value)}")
    return number


def parse_duration(value: object) -> float:
    """Seconds from a number or a duration string; ValueError with the accepted forms.
    At most ``MAX_DURATION``; NaN and infinity are refused."""
    limit = f"{MAX_DURATION:g} s (10 years)"
    number = _number(value, "duration", DURATION_HELP, MAX_DURATION)
    if number is not None:
        return number
    if not isinstance(value, str) or not re.fullmatch(_DUR_BODY, value):
        raise ValueError(f"expected {DURATION_HELP}, got {shown(value)}")
    text = value.strip(" \t")
    if re.fullmatch(_NUM, text):
        total = float(text)
    else:
        total = sum(float(m.group(1)) * _DUR[m.group(2).lower()] for m in _DUR_PART.finditer(text))
    if not total <= MAX_DURATION:
        raise ValueError(f"a duration is at most {limit}, got {shown(value)}")
    return total


def parse_size(value: object) -> int:
    """Bytes from a whole number or a size string; at most ``MAX_SIZE``."""
    number = _number(value, "size", SIZE_HELP, MAX_SIZE)
    if number is not None:
        if number != int(number):
            raise ValueError(f"expected {SIZE_HELP}, got {shown(value)}")
        return int(value) if isinstance(value, int) else int(number)
    m = _SIZE_RE.fullmatch(value) if isinstance(value, str) else None
    if not m:
        raise ValueError(f"expected {SIZE_HELP}, got {shown(value)}")
    size = float(m.group(1)) * _SIZE[(m.group(2) or "b").lower()]
    if not size <= MAX_SIZE:
        raise ValueError(f"a size is at most {MAX_SIZE} bytes (64-bit counters), got {shown(value)}")
    return min(round(size), MAX_SIZE)


def parse_rate(value: object) -> float:
    """Bits per second from a number or a rate string; at most ``MAX_RATE``."""
    number = _number(value, "rate", RATE_HELP, MAX_RATE)
    if number is not None:
        return number
    m = _RATE_RE.fullmatch(value) if isinstance(value, str) else None
    if not m:
        raise ValueError(f"expected {RATE_HELP}, got {shown(value)}")
    bits = float(m.group(1)) * _RATE_PREFIX[m.group(2).lower()]
    bits = bits * 8 if m.group(3) in ("B/s", "Bps") else bits
    if not bits <= MAX_RATE:
        raise ValueError(f"a rate is at most {MAX_RATE / 1e9:g}Gbit/s, got {shown(value)}")
    return bits


def format_duration(seconds: float) -> str:
    """Compact human form: 165s, 4h, 1h30m, 500ms."""
    if seconds < 1 and seconds != 0:
        return f"{seconds * 1000:g}ms"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def format_size(n: float) -> str:
    for unit, size in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:g}B"
