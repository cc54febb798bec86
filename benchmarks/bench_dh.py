"""MODP Diffie-Hellman: GMP and fixed-base tables against Python's pow, in the same process.

    python benchmarks/bench_dh.py [HOURS]            # from the repository root

Part 1, per MODP group: key generation (g^x) and shared secret (y^x, plus y^q for the RFC 5114
groups) as ipsecsim.proto.dh computes them, against the same numbers computed with plain
``pow`` (the earlier implementation), over the same 256-bit exponents; and the shared secret
as g^(x * x_peer) from the fixed-base table (what ``shared_secret`` does when the peer's key
was generated in the same process). Prints milliseconds per operation and the speed-up; the
results are compared, not timed, for equality.

Part 2, end to end: scenarios/rekey-20gb.yaml (PFS modp3072 CHILD SA rekey every 144 s)
for HOURS simulated hours (default 6), once with dh's arithmetic swapped back to plain
``pow`` and without the shared secrets of keys made in the process (the baseline) and once
as shipped; prints the DH operation count, both wall times,
their ratio, and whether the two runs' events and installed keys are identical.

Wall time depends on the machine, so only ratios measured in this process mean anything.
Nothing here is asserted by the test suite; tests/test_dh_powmod.py checks the equality.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ipsecsim.config.loader import load_scenario
from ipsecsim.proto import dh
from ipsecsim.sim import runner

ROOT = Path(__file__).resolve().parents[1]
N = 20  # operations per group and method


def per_op(fn: Callable[..., int], calls: list[tuple[int, ...]]) -> tuple[float, list[int]]:
    """Seconds per call of ``fn`` over ``calls`` (argument tuples), and the results."""
    t = time.perf_counter()
    out = [fn(*args) for args in calls]
    return (time.perf_counter() - t) / len(calls), out


def groups() -> None:
    print("ms per operation, plain pow against ipsecsim.proto.dh now, and the speed-up")
    print(f"{'group':>5}{'bits':>6}  {'g^x pow':>8}{'now':>7}{'':>6}  {'y^x pow':>8}{'now':>7}{'':>6}"
          f"{'table':>7}{'':>6}  {'y^q pow':>8}{'now':>7}")
    rng = random.Random(1)
    for group, grp in sorted(dh._MODP.items()):
        p = grp.p
        xs = [generate_exponent(group, rng) for _ in range(N)]  # also builds the group's table
        gp, pub_pow = per_op(pow, [(grp.g, x, p) for x in xs])
        gn, pub_now = per_op(dh._modp_public, [(group, x) for x in xs])
        ys = pub_now[1:] + pub_now[:1]  # a peer's public value for each exponent
        sp, z_pow = per_op(pow, [(y, x, p) for y, x in zip(ys, xs, strict=True)])
        sn, z_now = per_op(dh._powmod, [(y, x, p) for y, x in zip(ys, xs, strict=True)])
        peers = xs[1:] + xs[:1]  # the exponent of each peer's public value
        dh._modp_public(group, xs[0] * peers[0], 512)  # grows the table (once per group)
        st, z_table = per_op(dh._modp_public, [(group, x * xp, 512) for x, xp in zip(xs, peers, strict=True)])
        assert pub_pow == pub_now and z_pow == z_now == z_table, f"group {group}: results differ"
        line = (f"{group:>5}{p.bit_length():>6}  {gp * 1e3:>8.2f}{gn * 1e3:>7.2f}{gp / gn:>5.1f}x"
                f"  {sp * 1e3:>8.2f}{sn * 1e3:>7.2f}{sp / sn:>5.1f}x{st * 1e3:>7.2f}{sp / st:>5.1f}x")
        if grp.q is not None:  # RFC 6989 2.2 subgroup check of the RFC 5114 groups
            cp, c_pow = per_op(pow, [(y, grp.q, p) for y in ys])
            cn, c_now = per_op(dh._powmod, [(y, grp.q, p) for y in ys])
            assert c_pow == c_now, f"group {group}: results differ"
            line += f"  {cp * 1e3:>8.2f}{cn * 1e3:>7.2f}{cp / cn:>5.1f}x"
        print(line)


def generate_exponent(group: int, rng: random.Random) -> int:
    key = dh.generate(group, rng)
    assert isinstance(key.private, int)
    return key.private


@contextmanager
def plain_pow() -> Iterator[None]:
    """dh with its arithmetic swapped back to Python's pow (the implementation before GMP) and
    no secrets shared between the keys made in the process (every y^x computed)."""
    saved = dh._powmod, dh._modp_public, dh._MEMO_SIZE
    dh._powmod = pow  # type: ignore[assignment]
    dh._modp_public = lambda group, x, bits=256: pow(dh._MODP[group].g, x, dh._MODP[group].p)  # type: ignore
    dh._MEMO_SIZE = 0  # type: ignore[misc]
    dh._MINTED.clear()
    dh._SECRETS.clear()
    try:
        yield
    finally:
        dh._powmod, dh._modp_public, dh._MEMO_SIZE = saved  # type: ignore[assignment,misc]


def end_to_end(hours: float) -> None:
    sc = load_scenario(ROOT / "scenarios" / "rekey-20gb.yaml")
    calls = {"generate": 0, "shared_secret": 0}
    wrapped = {name: getattr(dh, name) for name in calls}

    def counting(name: str) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            calls[name] += 1
            return wrapped[name](*args)
        return call

    def run() -> tuple[float, list[Any]]:
        """Wall time, and the events and every key the peers installed (what the pcap keys are)."""
        t = time.perf_counter()
        result = runner.simulate(sc, duration=hours * 3600)
        wall = time.perf_counter() - t
        keys = [list(final.keylog) for final in result.peers.values()]
        return wall, [[e.to_dict() for e in result.events], keys]

    for name in calls:
        setattr(dh, name, counting(name))
    try:
        with plain_pow():
            t_pow, ev_pow = run()
        ops = dict(calls)
        t_now, ev_now = run()
    finally:
        for name, fn in wrapped.items():
            setattr(dh, name, fn)
    print(f"rekey-20gb, {hours:g} h simulated: {ops['generate']} key generations, "
          f"{ops['shared_secret']} shared secrets (x {168 / hours:g} for the week run)")
    print(f"  plain pow {t_pow:.2f}s, now {t_now:.2f}s: {t_pow / t_now:.1f}x faster; "
          f"events and keys identical: {ev_pow == ev_now}")


def main() -> None:
    hours = float(sys.argv[1]) if len(sys.argv) > 1 else 6.0
    groups()
    print()
    end_to_end(hours)


if __name__ == "__main__":
    main()
