"""``ipsecsim check --junit FILE``: JUnit XML, one testsuite per scenario file, one testcase
per expectation (the schema CI systems read: Jenkins, GitLab, GitHub test reporters).

A failed expectation is a ``<failure>`` whose text is the same readable diff as on the
console; a scenario that cannot be loaded, or a summary path that does not exist, is an
``<error>``; a scenario without an ``expect:`` block is one ``<skipped>`` testcase.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from .runner import ScenarioCheck


def _suite(c: ScenarioCheck) -> ET.Element:
    name = c.name or Path(c.file).stem
    suite = ET.Element("testsuite", name=name, file=c.file, time=f"{c.seconds:.3f}")
    if c.seed is not None:
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="seed", value=str(c.seed))
    tests = failures = errors = skipped = 0
    if c.error:
        case = ET.SubElement(suite, "testcase", classname=name, name="load and simulate", file=c.file)
        ET.SubElement(case, "error", message=c.error, type="ConfigError").text = c.error
        tests, errors = 1, 1
    elif c.failure:
        case = ET.SubElement(suite, "testcase", classname=name, name="load and simulate", file=c.file)
        ET.SubElement(case, "failure", message=c.failure, type="Timeout").text = c.failure
        tests, failures = 1, 1
    elif c.report is not None and not len(c.report):
        case = ET.SubElement(suite, "testcase", classname=name, name="expectations", file=c.file)
        ET.SubElement(case, "skipped", message="no expect: block")
        tests, skipped = 1, 1
    else:
        assert c.report is not None
        for v in c.report:
            tests += 1
            case = ET.SubElement(suite, "testcase", classname=name, name=f"{v.name}: {v.label}", file=c.file,
                                 time="0")
            if v.outcome == "fail":
                failures += 1
                ET.SubElement(case, "failure", message=v.observed, type="ExpectationNotMet").text = v.text()
            elif v.outcome == "error":
                errors += 1
                ET.SubElement(case, "error", message=v.observed, type="BadExpectation").text = v.text()
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    return suite


def junit_xml(checks: Sequence[ScenarioCheck]) -> bytes:
    root = ET.Element("testsuites", name="ipsecsim check")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for c in checks:
        suite = _suite(c)
        for k in totals:
            totals[k] += int(suite.get(k, "0"))
        root.append(suite)
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{sum(c.seconds for c in checks):.3f}")
    ET.indent(root)
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml + b"\n"


def write_junit(path: Path, checks: Sequence[ScenarioCheck]) -> None:
    """Write the report whole or not at all: a temporary file beside ``path``, then renamed
    over it, so an existing report is never left half written."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(junit_xml(checks))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
