"""The event registry (ipsecsim.vocabulary) and docs/events.md describe the same vocabulary,
and every event a run emits is registered with the fields it carries - so `expect:` blocks
and `Result.events_named` can reject typos without rejecting real events."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT, SCENARIOS, shipped_result

from ipsecsim.vocabulary import EVENTS, STATUSES, VocabularyError, check_fields, spec

DOC = ROOT / "docs" / "events.md"


def documented_events() -> set[str]:
    """Event names in the first column of the tables of docs/events.md (before the summary part)."""
    text = DOC.read_text(encoding="utf-8").split("\n# Summary", 1)[0]
    text = re.sub(r"<!-- events: Common fields -->.*?<!-- end events -->", "", text, flags=re.S)
    names = set()
    for line in text.splitlines():
        m = re.match(r"^\|\s*`([a-z_0-9]+)`\s*\|", line)
        if m:
            names.add(m.group(1))
    return names - {"t", "peer", "event"}


def test_registry_and_docs_agree() -> None:
    documented = documented_events()
    assert documented, "no event tables found in docs/events.md"
    assert sorted(set(EVENTS) - documented) == [], "registered but not documented in docs/events.md"
    assert sorted(documented - set(EVENTS)) == [], "documented but not registered in ipsecsim/vocabulary.py"


def test_docs_event_tables_are_generated_from_the_event_classes() -> None:
    """docs/events.md's tables are what `python -m ipsecsim.eventdocs` makes of the typed events."""
    from ipsecsim.eventdocs import render
    text = DOC.read_text(encoding="utf-8")
    assert render(text) == text, "docs/events.md is not current: run python -m ipsecsim.eventdocs"


def test_every_event_field_has_a_docstring() -> None:
    import dataclasses

    from ipsecsim.eventdocs import _doc
    from ipsecsim.proto.events import KINDS
    for kind in KINDS.values():
        assert kind.__doc__ and kind.NAME and kind.SECTION, kind
        for f in dataclasses.fields(kind):
            assert _doc(kind, f.name)[0], f"{kind.__name__}.{f.name}"


def test_a_typed_event_serialises_in_field_order_without_absent_fields() -> None:
    """docs/events.md: sa_expired carries `spi_in`, `spi_out` only for a CHILD SA, before `limit`
    (the order of the JSONL lines shipped so far); the SA's fields come first."""
    from ipsecsim.proto.events import SaExpired
    from ipsecsim.trace.jsonl import dumps
    ike = SaExpired(sa_type="ike", kind="soft", by="time", limit=3240.0)
    line = dumps(ike.record(3240.0, "A", {"ike_version": 2, "spi_i": "aa", "spi_r": "bb"}))
    assert line == ('{"t":3240.0,"peer":"A","event":"sa_expired","ike_version":2,"spi_i":"aa","spi_r":"bb",'
                    '"sa_type":"ike","kind":"soft","by":"time","limit":3240.0}')
    assert SaExpired(ike_version=1, sa_type="ike", kind="hard", by="time", limit=1.0).fields()["ike_version"] == 1
    child = SaExpired(sa_type="child", kind="hard", by="bytes", spi_in="01", spi_out="02", limit=1024)
    assert list(child.fields()) == ["sa_type", "kind", "by", "spi_in", "spi_out", "limit"]


def test_statuses_are_the_documented_ones() -> None:
    text = DOC.read_text(encoding="utf-8")
    for s in STATUSES:
        assert f"`{s}`" in text


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_emitted_event_is_registered_with_its_fields(path) -> None:  # type: ignore[no-untyped-def]
    result = shipped_result(path)
    for e in result.events:
        s = spec(e.event)
        extra = set(e.fields) - set(s.fields)
        assert not extra, f"{e.event} carries unregistered fields {sorted(extra)}"
        for key, allowed in s.values.items():
            if key in e.fields:
                assert e.fields[key] in allowed, f"{e.event}.{key}={e.fields[key]!r} not in {allowed}"


def test_typos_are_rejected_with_a_suggestion() -> None:
    with pytest.raises(VocabularyError, match="did you mean negotiation_failed"):
        spec("negotiaton_failed")
    with pytest.raises(VocabularyError, match="did you mean notify"):
        check_fields("negotiation_failed", {"notfy": "AUTHENTICATION_FAILED"})
    check_fields("negotiation_failed", {"notify": None, "phase": "child"})


def test_an_expectation_comparing_a_number_with_text_is_bad_input():
    """retransmit counts transmissions (docs/events.md): 'zero' can never match, so it is an
    error in the scenario, not a failed expectation."""
    import pytest

    from ipsecsim.vocabulary import VocabularyError, check_fields
    with pytest.raises(VocabularyError, match=r"message_sent\.retransmit is a number, got 'zero'"):
        check_fields("message_sent", {"retransmit": "zero"})
    check_fields("message_sent", {"retransmit": 0, "msg_id": 1})


def test_every_field_a_rekey_dh_retry_carries_can_be_filtered_on():
    """ke_group_retry in a CREATE_CHILD_SA carries exchange (docs/events.md)."""
    from ipsecsim.vocabulary import check_fields
    check_fields("ke_group_retry", {"exchange": "CREATE_CHILD_SA", "requested": 19})
