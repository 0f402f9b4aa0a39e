"""JUnit XML: one <testsuite> per phase in pipeline order, one <testcase> per ledger entry."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from fakeai_contract.report import view

TEXT_LIMIT = 8000            # characters of one failure text; the JSON report keeps everything
MESSAGE_LIMIT = 1000         # characters of a message attribute


def _s(value: object, limit: int = TEXT_LIMIT) -> str:
    return view.clip(view.xml_safe(view.text(value)), limit)


def _detail_text(e: dict) -> str:
    """The body of a failure/error/skip/warning: message, observed, expected, where, id."""
    rows = [("message", e["message"]), ("observed", view.brief(e["observed"], TEXT_LIMIT)),
            ("expected", view.brief(e["expected"], TEXT_LIMIT)), ("location", e["location"] or ""),
            ("id", e["id"])]
    return _s("\n".join(f"{k}: {v}" for k, v in rows if v != ""))


def _outcome_failure(case: ET.Element, e: dict) -> None:
    ET.SubElement(case, "failure", message=_s(e["message"] or "check failed", MESSAGE_LIMIT),
                  type="fail").text = _detail_text(e)


def _outcome_error(case: ET.Element, e: dict) -> None:
    message = e["message"] or "check could not be evaluated"
    if e["status"] not in view.STATUSES:
        message = f"unknown status {e['status']!r}: {message}"
    ET.SubElement(case, "error", message=_s(message, MESSAGE_LIMIT), type="error").text = _detail_text(e)


def _outcome_skip(case: ET.Element, e: dict) -> None:
    ET.SubElement(case, "skipped", message=_s(e["message"] or "skipped", MESSAGE_LIMIT))


def _outcome_warn(case: ET.Element, e: dict) -> None:
    # A warning passes (it never fails the run), so it rides along as captured output.
    ET.SubElement(case, "system-out").text = _s("warning: " + _detail_text(e))


def _outcome_pass(case: ET.Element, e: dict) -> None:
    pass


#: status → how the test case records it; unknown statuses are errors.
OUTCOMES = {"pass": _outcome_pass, "fail": _outcome_failure, "error": _outcome_error,
            "skip": _outcome_skip, "warn": _outcome_warn}
_LOCATION = re.compile(r"^(?P<file>.+?):(?P<line>\d+)(?::\d+)?$")
#: status → the JUnit counter it adds to.
COUNTER = {"fail": "failures", "error": "errors", "skip": "skipped"}


def _case(e: dict) -> ET.Element:
    case = ET.Element("testcase", classname=_s(f"fakeai-contract.{e['phase']}", 200),
                      name=_s(e["name"], 500), time=f"{e['duration_s']:.3f}")
    if e["location"]:
        # A location is FILE, FILE:LINE or FILE:LINE:COLUMN; JUnit has no column.
        where = _LOCATION.match(e["location"])
        case.set("file", _s(where["file"] if where else e["location"], 500))
        if where:
            case.set("line", where["line"])
    OUTCOMES.get(e["status"], _outcome_error)(case, e)
    return case


def _counts(items: list[dict]) -> dict[str, str]:
    counts = {"tests": len(items), "failures": 0, "errors": 0, "skipped": 0}
    for e in items:
        counter = COUNTER.get(e["status"], "errors" if e["status"] not in view.STATUSES else None)
        if counter:
            counts[counter] += 1
    counts_s = {k: str(v) for k, v in counts.items()}
    counts_s["time"] = f"{sum(e['duration_s'] for e in items):.3f}"
    return counts_s


def render(doc: dict, *, color: bool = False, verbose: bool = False, quiet: bool = False) -> str:
    """The ledger as a JUnit XML document."""
    head = view.header(doc)
    items = view.entries(doc)
    root = ET.Element("testsuites", name=_s(f"fakeai-contract: {head['contract']}", 500), **_counts(items))
    root.set("time", f"{head['duration_s']:.3f}")
    if head["started_at"]:
        root.set("timestamp", _s(head["started_at"], 100))
    for phase, group in view.by_phase(items):
        suite = ET.SubElement(root, "testsuite", name=_s(phase, 200), **_counts(group))
        if head["started_at"]:
            suite.set("timestamp", _s(head["started_at"], 100))
        props = ET.SubElement(suite, "properties")
        for key in ("contract", "target"):
            ET.SubElement(props, "property", name=key, value=_s(head[key], 1000))
        if head["interrupted"]:
            ET.SubElement(props, "property", name="interrupted", value="true")
        suite.extend(_case(e) for e in group)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
