"""ipsecsim: a deterministic simulator of IPsec / IKE tunnels.

    from ipsecsim import load_scenario, simulate
    result = simulate(load_scenario("scenarios/ikev2-basic.yaml"))
    assert result.status("A") == "ipsec_sa_established"

The names below are imported lazily, so ``import ipsecsim.proto`` stays free of SimPy.
"""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["ConfigError", "Result", "Scenario", "__version__", "load_scenario", "simulate"]

_LAZY = {
    "ConfigError": ("ipsecsim.errors", "ConfigError"),
    "Result": ("ipsecsim.result", "Result"),
    "Scenario": ("ipsecsim.config.loader", "Scenario"),
    "load_scenario": ("ipsecsim.config.loader", "load_scenario"),
    "simulate": ("ipsecsim.sim.runner", "simulate"),
}

if TYPE_CHECKING:
    from .config.loader import Scenario, load_scenario
    from .errors import ConfigError
    from .result import Result
    from .sim.runner import simulate


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'ipsecsim' has no attribute {name!r}")
