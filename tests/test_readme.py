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
