"""ipsecsim: a deterministic simulator of IPsec / IKE tunnels.

    from ipsecsim import load_scenario, simulate
    result = simulate(load_scenario("scenarios/ikev2-basic.yaml"))
    assert result.status("A") == "ipsec_sa_established"
"""

__version__ = "0.1.0"

from .config.loader import Scenario, load_scenario  # noqa: E402
from .errors import ConfigError  # noqa: E402
from .result import Result  # noqa: E402
from .sim.runner import simulate  # noqa: E402

__all__ = ["ConfigError", "Result", "Scenario", "__version__", "load_scenario", "simulate"]
