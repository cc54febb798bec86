"""The fixture of the live tests (``rig``, registered by tests/conftest.py): a namespace rig
per test, torn down whatever happens.

Where the rig cannot run (not Linux, not root, no namespaces, daemons not installed) the
tests are skipped with the reason, except in CI (``CI=true``), where that is a failure:
CI installs the daemons (scripts/setup-live) and must really run these tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from rig import Rig, why_not, why_not_libreswan

_REASON: list[str | None] = []


def live_reason() -> str | None:
    if not _REASON:
        _REASON.append(why_not())
    return _REASON[0]


def require_live(libreswan: bool = False) -> None:
    reason = live_reason() or (why_not_libreswan() if libreswan else None)
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"live tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"live tests not run: {reason}")


_SUBNET = iter(range(1, 250))


@pytest.fixture
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    require_live(libreswan=request.node.get_closest_marker("libreswan") is not None)
    r = Rig(next(_SUBNET))
    try:
        yield r
    finally:
        r.close()

