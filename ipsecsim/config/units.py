"""Units in scenario files: durations, sizes and rates as numbers or strings.

* durations: ``500ms``, ``90s``, ``2m``, ``4h``, ``7d``, ``1w``, or a bare number of seconds;
  compound forms such as ``1h30m`` are accepted;
* sizes: ``1500B``, ``64KB``, ``20GB`` (decimal: 1 KB = 1000 bytes, as Huawei and AWS quote
  volume lifetimes), ``64KiB`` / ``1GiB`` (binary), or a bare number of bytes;
* rates: ``1Gbit/s``, ``100Mbps``, ``10MB/s`` (bytes), ``64kbit/s``, or a bare number of bits
  per second.
"""

from __future__ import annotations

import re

_DUR = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_SIZE = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
         "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_RATE_PREFIX = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}

_DUR_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d|w)")
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$", re.I)
_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(bit/s|bps|b/s|B/s|Bps)\s*$")

DURATION_HELP = "a duration such as 500ms, 90s, 2m, 4h, 7d or a number of seconds"
SIZE_HELP = "a size such as 1500B, 64KB, 20GB, 1GiB or a number of bytes"
RATE_HELP = "a rate such as 1Gbit/s, 100Mbps, 10MB/s or a number of bits per second"


def parse_duration(value: object) -> float:
    """Seconds from a number or a duration string; ValueError with the accepted forms."""
    if isinstance(value, bool):
        raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a duration cannot be negative: {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    text = value.strip().lower().replace(" ", "")
    try:
        return parse_duration(float(text))
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _DUR_PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DUR[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    return total


def parse_size(value: object) -> int:
    """Bytes from a number or a size string."""
    if isinstance(value, bool):
        raise ValueError(f"expected {SIZE_HELP}, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a size cannot be negative: {value!r}")
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"expected {SIZE_HELP}, got {value!r}")
    m = _SIZE_RE.match(value)
    if not m:
        raise ValueError(f"expected {SIZE_HELP}, got {value!r}")
    return int(round(float(m.group(1)) * _SIZE[(m.group(2) or "b").lower()]))


def parse_rate(value: object) -> float:
    """Bits per second from a number or a rate string."""
    if isinstance(value, bool):
        raise ValueError(f"expected {RATE_HELP}, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a rate cannot be negative: {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected {RATE_HELP}, got {value!r}")
    m = _RATE_RE.match(value)
    if not m:
        raise ValueError(f"expected {RATE_HELP}, got {value!r}")
    bits = float(m.group(1)) * _RATE_PREFIX[m.group(2).lower()]
    return bits * 8 if m.group(3) in ("B/s", "Bps") else bits


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
