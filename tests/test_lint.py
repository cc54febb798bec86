"""Lint and type checks run with the suite, so CI enforces them (STYLE.md: ruff and mypy)."""

import subprocess
import sys

from conftest import ROOT


def run(*cmd):
    return subprocess.run([sys.executable, "-m", *cmd], capture_output=True, text=True, cwd=ROOT)


def test_ruff_is_clean():
    r = run("ruff", "check", "ipsecsim", "tests", "benchmarks")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict_is_clean():
    """pyproject.toml sets strict = true; --strict here keeps the check strict if that line is lost."""
    r = run("mypy", "--strict")
    assert r.returncode == 0, r.stdout + r.stderr
