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


def _hypothesis_profiles() -> None:
    """Property tests (tests/test_properties.py): ``ci`` (default) runs 30 generated scenarios of up
    to 4 h (about a minute of CPU); ``long`` (``IPSECSIM_PROPS=long`` or
    ``--hypothesis-profile=long``) tens of thousands, for a soak run on demand."""
    import os

    from hypothesis import HealthCheck, settings
    common = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                          HealthCheck.data_too_large], "print_blob": True}
    settings.register_profile("ci", max_examples=30, derandomize=True, database=None, **common)
    settings.register_profile("long", max_examples=20000, **common)
    settings.load_profile(os.environ.get("IPSECSIM_PROPS", "ci"))


_hypothesis_profiles()
