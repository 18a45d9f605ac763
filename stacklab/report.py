"""The report of a run: a table for people, JSON for programs, JUnit XML for CI."""

import json
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Optional

from stacklab.checks import PASS

_MARK = {"pass": "PASS", "fail": "FAIL", "error": "ERROR"}


def summary(results):
    failed = [r for r in results if r.verdict != PASS]
    return "%d checks: %d passed, %d failed" % (len(results), len(results) - len(failed), len(failed))


def table(results, lab=None, width=None):
    """Check, verdict, detail, time, one row each; long details wrap under the row."""
    width = width or shutil.get_terminal_size((120, 20)).columns
    rows = [(r.check.title, _MARK.get(r.verdict, r.verdict.upper()), r.detail, "%.2fs" % r.seconds)
            for r in results]
    w_check = min(max([len("check")] + [len(r[0]) for r in rows]), 48)
    lines = []
    if lab:
        lines.append("lab %s" % lab)
    lines.append("%-*s  %-6s %7s  %s" % (w_check, "check", "verdict", "time", "detail"))
    for check, verdict, detail, seconds in rows:
        first, *rest = detail.splitlines() or [""]
        head = "%-*s  %-7s %6s  " % (w_check, check[:w_check], verdict, seconds)
        room = max(width - len(head), 30)
        lines.append(head + first[:room] + ("..." if len(first) > room else ""))
        for more in rest:
            lines.append("    " + more)
    lines.append(summary(results))
    return "\n".join(lines)


def as_json(results, lab=None):
    return json.dumps({
        "lab": lab,
        "passed": all(r.verdict == PASS for r in results),
        "checks": [{
            "index": r.check.index, "kind": r.check.kind, "title": r.check.title,
            "params": r.check.params,        # addresses become text through default=str
            "verdict": r.verdict, "detail": r.detail, "seconds": round(r.seconds, 4),
            "data": r.data,
        } for r in results],
    }, indent=2, default=str)


def junit(results, lab, path):
    suite = ET.Element("testsuite", name="stacklab.%s" % lab, tests=str(len(results)),
                       failures=str(sum(r.verdict == "fail" for r in results)),
                       errors=str(sum(r.verdict == "error" for r in results)),
                       time="%.3f" % sum(r.seconds for r in results))
    for r in results:
        case = ET.SubElement(suite, "testcase", classname="stacklab.%s.%s" % (lab, r.check.kind),
                             name="%d: %s" % (r.check.index, r.check.title), time="%.3f" % r.seconds)
        if r.verdict == "fail":
            ET.SubElement(case, "failure", message=r.detail.splitlines()[0] if r.detail else "").text = r.detail
        elif r.verdict != PASS:
            ET.SubElement(case, "error", message=r.detail.splitlines()[0] if r.detail else "").text = r.detail
        else:
            ET.SubElement(case, "system-out").text = r.detail
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


@dataclass
class Case:
    """One JUnit test case: named by what it asks, failed with what is wrong (None: it passed)."""
    classname: str
    name: str
    seconds: float
    failure: Optional[str] = None


def junit_cases(suite_name, cases, path):
    suite = ET.Element("testsuite", name=suite_name, tests=str(len(cases)),
                       failures=str(sum(c.failure is not None for c in cases)), errors="0",
                       time="%.3f" % sum(c.seconds for c in cases))
    for c in cases:
        case = ET.SubElement(suite, "testcase", classname=c.classname, name=c.name, time="%.3f" % c.seconds)
        if c.failure is not None:
            ET.SubElement(case, "failure", message=c.failure).text = c.failure
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
