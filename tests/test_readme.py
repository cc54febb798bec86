"""The README's scenario example is a real scenario: it loads, runs, and meets its expect: block."""

import re
from pathlib import Path

from ipsecsim import load_scenario, simulate
from ipsecsim.config.loader import read_yaml

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_example_runs_and_meets_its_expectations(tmp_path: Path) -> None:
    block = re.search(r"```yaml\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    path = tmp_path / "example.yaml"
    path.write_text(block.group(1))
    assert read_yaml(path)["expect"]
    result = simulate(load_scenario(path))
    result.assert_expectations()
    # the outage at 30 min lasts 90 s: the branch (DPD 30 s, action restart) comes back by itself
    assert result.status("branch") == "ipsec_sa_established"


def test_the_readme_run_excerpt_is_what_the_run_prints(capsys, monkeypatch) -> None:
    """Every line of 'What a run looks like' (but the '...' elisions) is in the real output."""
    from ipsecsim.cli import main
    monkeypatch.chdir(README.parent)
    text = README.read_text()
    block = text.split("## What a run looks like")[1].split("```")[1]
    command, *lines = [x for x in block.strip("\n").splitlines() if x.strip() not in ("", "...")]
    assert command.startswith("$ ipsecsim run ")
    assert main(command.removeprefix("$ ipsecsim ").split()) == 0
    out = capsys.readouterr().out.splitlines()
    missing = [x for x in lines if x not in out]
    assert not missing, missing


def test_the_command_table_lists_every_command_and_option() -> None:
    """Each subcommand of `ipsecsim --help` and each of its options appear in the README table."""
    import argparse

    from ipsecsim.cli import build_parser
    table = README.read_text().split("## Commands")[1].split("\n\n")[1]
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in sub.choices.items():
        assert f"`ipsecsim {name}" in table, name
        for action in p._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help", "--verbose"):
                    assert flag in table, f"{name} {flag}"
