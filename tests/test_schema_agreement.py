"""``ipsecsim schema`` and the loader accept the same documents (numeric and duration fields).

Generated values (numbers of every size and sign, whole and not, unit strings, odd strings,
wrong types) are put into one field of a valid scenario; the document is validated with
jsonschema against the printed schema and loaded with ``load_scenario``, and both must say
the same. Numbers and the form of unit strings agree exactly. For a unit string the schema
checks the form only: JSON Schema cannot compare ``"90s"`` with a bound, so on a field with a
lower bound other than zero, or with a value beyond the largest the loader takes (ten years,
2^64 bytes), the loader may refuse a string the schema lets through - never the reverse.
NaN and infinity are not JSON (RFC 8259 6), so the schema is not asked about them; the loader
refuses them (tests/test_units.py, tests/test_fuzz_input.py).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
import math
from typing import Any

import jsonschema
from factory import scenario_dict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipsecsim import ConfigError, load_scenario
from ipsecsim.cli import main
from ipsecsim.config.units import MAX_DURATION, parse_duration


@functools.cache
def schema_validator() -> jsonschema.protocols.Validator:
    """A validator of the schema ``ipsecsim schema`` prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["schema"]) == 0
    schema = json.loads(out.getvalue())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


# (path, exact for strings too): exact where the only bound is >= 0 or > 0
FIELDS: list[tuple[tuple[str, ...], bool]] = [
    (("duration",), True),
    (("seed",), True),
    (("link", "delay"), True),
    (("link", "jitter"), True),
    (("link", "mtu"), True),
    (("peers", "A", "retransmit", "timeout"), False),
    (("peers", "A", "retransmit", "limit"), False),
    (("peers", "A", "retransmit", "base"), True),
    (("peers", "A", "retransmit", "tries"), True),
    (("peers", "A", "retransmit", "jitter"), True),
    (("peers", "A", "ike", "half_open_timeout"), True),
    (("peers", "A", "ike", "nonce_bytes"), True),
    (("peers", "A", "child", "delete_rekeyed_delay"), True),
    (("peers", "A", "dpd", "delay"), False),
    (("peers", "A", "dpd", "retry_interval"), False),
    (("peers", "A", "dpd", "retries"), True),
    (("peers", "A", "nat_keepalive"), False),
    (("peers", "A", "keyingtries"), True),
    (("peers", "A", "acquire_queue"), True),
    # lifetimes: a percentage needs the other value absolute, which the schema cannot see
    (("peers", "A", "child", "life_packets"), False),
    (("peers", "A", "child", "life_bytes"), False),
    (("peers", "A", "child", "rekey_packets"), False),
]

NUMBERS = st.one_of(
    st.integers(-10, 10**6), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([0, 0.0, 0.05, 0.1, 0.5, 1, 1.0, 1.5, 10.0,
                                                                        MAX_DURATION, MAX_DURATION + 1, 2**64 - 1,
                                                                        2**64, 1e-300, -0.0]))
UNIT_STRINGS = st.builds(lambda n, u, sp: f"{n}{sp}{u}", st.one_of(st.integers(0, 10**6).map(str),
                                                                   st.sampled_from(["0.5", "1.25", "00", "0.0", "1."])),
                         st.sampled_from(["", "ms", "s", "m", "h", "d", "w", "sec", "min", "MS", "H", "x", "ns", "s\n",
                                          "1h30m", "KB", "%"]),
                         st.sampled_from(["", " ", "\t"]))
VALUES = st.one_of(NUMBERS, UNIT_STRINGS, st.text(max_size=8), st.booleans(), st.none(), st.just([]), st.just({}))


def _document(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(scenario_dict())
    node = doc
    for p in path[:-1]:
        node = node.setdefault(p, {})
    node[path[-1]] = value
    return doc


def _loads(doc: dict[str, Any]) -> bool:
    try:
        load_scenario(doc)
    except ConfigError:
        return False
    return True


@settings(max_examples=400, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(field=st.sampled_from(FIELDS), value=VALUES)
def test_schema_and_loader_agree(field: tuple[tuple[str, ...], bool], value: Any) -> None:
    path, exact_strings = field
    doc = _document(path, value)
    by_schema = schema_validator().is_valid(json.loads(json.dumps(doc)))
    by_loader = _loads(doc)
    if isinstance(value, str) and (not exact_strings or not _within_range(value)):
        assert by_schema or not by_loader, (path, value)  # the loader never takes what the schema refuses
    else:
        assert by_schema == by_loader, (path, value, by_schema, by_loader)


def _within_range(text: str) -> bool:
    try:
        parse_duration(text)
    except ValueError as e:
        return "at most" not in str(e)  # else not a duration at all: both must refuse it
    return True


def test_the_schema_refuses_what_json_cannot_hold_and_the_loader_refuses_nan() -> None:
    # 1e999 is not a JSON number a parser keeps finite; the loader refuses it as text or number
    for value in (math.inf, math.nan, "1e999", "inf", "nan", "9" * 400 + "s"):
        assert not _loads(_document(("link", "delay"), value)), value
    assert not schema_validator().is_valid(json.loads(json.dumps(_document(("link", "delay"), "1e999"))))
