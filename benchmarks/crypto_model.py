"""``--crypto model`` against real key exchange, in the same process (docs/fleet.md).

    python benchmarks/crypto_model.py rekey [DAYS]     # scenarios/rekey-20gb.yaml for DAYS (default 7)
    python benchmarks/crypto_model.py negotiate [N]    # N IKEv2 MODP-3072 negotiations (default 200)

``rekey``: the Huawei Cloud 20 GB volume rekey run (1 Gbit/s bulk, a CHILD rekey with
MODP-3072 PFS every 144 s) for DAYS, once with real key exchange and once with the model;
CPU seconds of each, their ratio, and whether the events are the same.

``negotiate``: the same scenario cut to 1 s (IKE_SA_INIT and IKE_AUTH with MODP-3072, no
rekey), N runs with different seeds for each, CPU per negotiation and the ratio.

Nothing here is asserted by the tests.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _run(crypto: str, duration: float, seeds: range) -> tuple[float, list[list[str]]]:
    from ipsecsim.config.loader import load_scenario
    from ipsecsim.sim.runner import simulate
    from ipsecsim.trace.jsonl import dumps
    sc = load_scenario(ROOT / "scenarios" / "rekey-20gb.yaml", duration=duration)
    c0 = time.process_time()
    runs = [simulate(sc, seed=s, crypto=crypto) for s in seeds]
    cpu = time.process_time() - c0
    return cpu, [[dumps(e) for e in r.events] for r in runs]


def rekey(days: float) -> None:
    real, ev_real = _run("real", days * 86400, range(1, 2))
    model, ev_model = _run("model", days * 86400, range(1, 2))
    rekeys = sum(1 for e in ev_real[0] if '"event":"child_sa_rekeyed"' in e and '"initiator":true' in e)
    print(f"rekey-20gb, {days:g} days, {len(ev_real[0])} events, {rekeys} CHILD rekeys (MODP-3072 PFS)")
    print(f"  real : {real:8.2f} CPU s")
    print(f"  model: {model:8.2f} CPU s")
    print(f"  real / model: {real / model:.2f}x; same events: {ev_real == ev_model}")


def negotiate(n: int) -> None:
    real, ev_real = _run("real", 1.0, range(1, n + 1))
    model, ev_model = _run("model", 1.0, range(1, n + 1))
    print(f"{n} IKEv2 negotiations with MODP-3072 (IKE_SA_INIT + IKE_AUTH, 1 s runs)")
    print(f"  real : {real / n * 1e3:8.2f} ms CPU per run")
    print(f"  model: {model / n * 1e3:8.2f} ms CPU per run")
    print(f"  real / model: {real / model:.2f}x; same events: {ev_real == ev_model}")


def main() -> None:
    cmd = sys.argv[1] if len(sys.argv) > 1 else "rekey"
    if cmd == "rekey":
        rekey(float(sys.argv[2]) if len(sys.argv) > 2 else 7.0)
    elif cmd == "negotiate":
        negotiate(int(sys.argv[2]) if len(sys.argv) > 2 else 200)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
