"""Named, seeded random streams.

Every component that needs randomness (a peer's nonces and SPIs, a link's losses, a traffic
source's jitter) gets its own ``random.Random`` derived from the scenario seed and a stable
name, so adding a component or drawing more numbers in one place never changes the numbers
another place sees. Deterministic and deliberately not cryptographically secure.
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, *names: str) -> int:
    """A 64-bit seed from the scenario seed and a path of names."""
    h = hashlib.sha256((f"{seed}/" + "/".join(names)).encode()).digest()
    return int.from_bytes(h[:8], "big")


def stream(seed: int, *names: str) -> random.Random:
    """An independent ``random.Random`` for the component ``names`` of scenario ``seed``."""
    return random.Random(derive_seed(seed, *names))
