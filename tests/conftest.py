import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parent / "live"))

from livesupport import rig  # noqa: F401  (the fixture of tests/live)

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


_RESULTS: dict = {}


def shipped_result(path):  # type: ignore[no-untyped-def]
    """One run of a shipped scenario, shared by the tests that only read it."""
    from ipsecsim import load_scenario, simulate
    key = str(path)
    if key not in _RESULTS:
        _RESULTS[key] = simulate(load_scenario(path))
    return _RESULTS[key]


def run_shipped(name, edit=None, **kw):  # type: ignore[no-untyped-def]
    """Simulate the shipped scenario ``name``, its YAML first changed in place by ``edit``."""
    import copy

    import yaml

    from ipsecsim import load_scenario, simulate
    data = yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text())
    if edit is not None:
        data = copy.deepcopy(data)
        edit(data)
    return simulate(load_scenario(data), **kw)
