"""Where the live tests cannot run they say why; in CI (CI=true) that is a failure, not a skip."""

from __future__ import annotations

import livesupport as live
import pytest
from _pytest.outcomes import Failed, Skipped


def test_skip_with_reason_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "live_reason", lambda: "live tests need root")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(Skipped, match="live tests not run: live tests need root"):
        live.require_live()


def test_fail_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "live_reason", lambda: "strongSwan is not installed")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(Failed, match="live tests cannot run in CI: strongSwan is not installed"):
        live.require_live()


def test_runs_when_possible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "live_reason", lambda: None)
    monkeypatch.setenv("CI", "true")
    live.require_live()  # neither skips nor fails
