"""The scenario catalogue: docs/scenarios.md is what `ipsecsim scenarios --markdown` prints."""

from conftest import ROOT, SCENARIOS

from ipsecsim.cli import main
from ipsecsim.library import catalogue, first_sentence


def test_docs_catalogue_is_current(capsys):
    assert main(["scenarios", str(SCENARIOS), "--markdown"]) == 0
    generated = capsys.readouterr().out
    assert (ROOT / "docs" / "scenarios.md").read_text() == generated, \
        "regenerate with: ipsecsim scenarios --markdown > docs/scenarios.md"


def test_every_scenario_has_a_lesson_and_a_group():
    for e in catalogue(SCENARIOS):
        assert e.lesson, e.name
        assert e.group != "other", f"{e.name}: add it to a group in ipsecsim/library.py"


def test_first_sentence():
    assert first_sentence("A walk (RFC 7296 1.3). Then more.") == "A walk (RFC 7296 1.3)."
    assert first_sentence("Use e.g. ping. Next.") == "Use e.g. ping."
    assert first_sentence("Loss of 0.5 % here. X") == "Loss of 0.5 % here."
