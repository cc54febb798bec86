"""Verdicts for people: the ``ipsecsim check`` listing and the verdict under ``ipsecsim run``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.markup import escape

from .evaluate import CheckResult, Verdict
from .runner import ScenarioCheck

_MARK = {"pass": "[green]✓[/]", "fail": "[bold red]✗[/]", "error": "[bold red]![/]"}
_HEAD = {"pass": "[bold green]PASS [/]", "fail": "[bold red]FAIL [/]", "error": "[bold red]ERROR[/]",
         "empty": "[yellow]EMPTY[/]"}


def render_verdict(v: Verdict, console: Console, indent: str = "  ", detail: bool | None = None) -> None:
    """One line per verdict; a failed one (or with ``detail``) adds what happened and why."""
    console.print(f"{indent}{_MARK[v.outcome]} {v.name}: {escape(v.label)}")
    if detail or (detail is None and not v.passed):
        console.print(f"{indent}    observed: {escape(v.observed)}")
        for d in v.details:
            console.print(f"{indent}    {escape(d)}")


def render_run(report: CheckResult, console: Console) -> None:
    """The verdict printed after the timeline of ``ipsecsim run``."""
    if not len(report):
        return
    ok = sum(v.passed for v in report)
    colour = "green" if report.passed else "red"
    console.print(f"\n[bold]Expectations[/]: [{colour}]{ok} of {len(report)} met[/]")
    for v in report:
        render_verdict(v, console)


def render_check(c: ScenarioCheck, console: Console, verbose: bool = False) -> None:
    """One scenario: PASS / FAIL / ERROR / EMPTY and its unmet expectations (all with ``verbose``)."""
    head = _HEAD[c.status]
    if c.error or c.failure:
        console.print(f"{head} {escape(c.error or c.failure)}")
        return
    assert c.report is not None
    n, ok = len(c.report), sum(v.passed for v in c.report)
    what = ("no expect: block" if not n else f"{n} expectation{'s' if n != 1 else ''} met" if ok == n
            else f"{n - ok} of {n} expectations not met")
    console.print(f"{head} {escape(c.file)}  [dim]{escape(c.name)}, seed {c.seed}[/]: {what}")
    for v in c.report:
        if verbose or not v.passed:
            render_verdict(v, console, indent="      ")


def render_checks(checks: Iterable[ScenarioCheck], console: Console, verbose: bool = False) -> list[ScenarioCheck]:
    """Each scenario as it finishes, then a total line; returns the checks."""
    done = []
    for c in checks:
        render_check(c, console, verbose)
        done.append(c)
    render_total(done, console)
    return done


def render_total(checks: Sequence[ScenarioCheck], console: Console) -> None:
    counts = {s: sum(c.status == s for c in checks) for s in ("pass", "fail", "error", "empty")}
    verdicts = [v for c in checks if c.report is not None for v in c.report]
    met = sum(v.passed for v in verdicts)
    parts = [f"{counts['pass']} passed", f"{counts['fail']} failed"]
    if counts["error"]:
        parts.append(f"{counts['error']} with errors")
    if counts["empty"]:
        parts.append(f"{counts['empty']} without expectations")
    console.print(f"\n{len(checks)} scenario{'s' if len(checks) != 1 else ''}: {', '.join(parts)} "
                  f"({met} of {len(verdicts)} expectations met)")
