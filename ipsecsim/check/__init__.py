"""Expectations: evaluate ``expect:`` blocks against runs, and ``ipsecsim check`` over files."""

from .evaluate import CheckResult, SummaryPathError, Verdict, evaluate, summary_value

__all__ = ["CheckResult", "SummaryPathError", "Verdict", "evaluate", "summary_value"]
