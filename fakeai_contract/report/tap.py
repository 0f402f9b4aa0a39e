"""TAP version 14: one test point per ledger entry, a YAML diagnostic block under each problem.

A warning is reported as `ok` with a YAML diagnostic (`status: warn` and the message) rather
than a `# TODO` directive: TODO means "expected to fail, not yet done", and harnesses report a
passing TODO as an unexpected success, which misdescribes a check that did not hold. A plain
`ok` keeps every TAP consumer green, as a warning must, and the diagnostic keeps it visible.
"""

from __future__ import annotations

from typing import Any

import yaml

from fakeai_contract.report import view

TEXT_LIMIT = 4000        # characters of one diagnostic string; the JSON report keeps everything


class _Dumper(yaml.SafeDumper):
    """Safe YAML whose multi-line strings are double-quoted, so no line can read as '...'."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if "\n" in value or "\r" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _clipped(value: Any) -> Any:
    """VALUE as JSON data with every long string clipped."""
    if isinstance(value, str):
        return view.clip(value, TEXT_LIMIT)
    if isinstance(value, dict):
        return {view.clip(k, 200): _clipped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clipped(v) for v in value]
    return value


def _description(name: str, directive: bool = False) -> str:
    """NAME made safe for a test point: one line, no '#' that could start a directive."""
    text = view.clip(view.one_line(name), 500).replace("\\", "\\\\")
    if directive:
        # TAP 13 readers (tap.py, older harnesses) take the first '#' for the directive, escaped
        # or not, and would lose the SKIP: there the name's '#' is spelt out.
        return text.replace("#", "no.")
    # TAP 14 escapes a '#' in a description as '\\#', in plain ASCII.
    return text.replace("#", "\\#")


def _diagnostic(e: dict) -> list[str]:
    """The YAML block for E, indented two spaces between '---' and '...'."""
    data = {"id": e["id"], "phase": e["phase"], "status": e["status"], "message": e["message"],
            "observed": e["observed"], "expected": e["expected"], "duration_s": e["duration_s"]}
    if e["location"]:
        data["location"] = e["location"]
    try:
        body = yaml.dump(_clipped(view.jsonable(data)), Dumper=_Dumper, sort_keys=False,
                         allow_unicode=True, width=10**9, default_flow_style=False)
    except yaml.YAMLError:  # never lose the report over one odd value
        body = f"message: {view.brief(e['message'], TEXT_LIMIT)!r}\n"
    return ["  ---"] + [f"  {line}" for line in body.splitlines()] + ["  ..."]


def _point(n: int, e: dict, verbose: bool) -> list[str]:
    status = e["status"]
    desc = _description(e["name"], directive=status == "skip")
    if status == "skip":
        reason = view.clip(view.one_line(e["message"]), 500) or "skipped"
        return [f"ok {n} - {desc} # SKIP {reason}"]
    if status == "pass":
        return [f"ok {n} - {desc}"] + (_diagnostic(e) if verbose else [])
    ok = "ok" if status == "warn" else "not ok"
    return [f"{ok} {n} - {desc}"] + _diagnostic(e)


def render(doc: dict, *, color: bool = False, verbose: bool = False, quiet: bool = False) -> str:
    """The ledger as a TAP version 14 stream."""
    head = view.header(doc)
    items = view.entries(doc)
    summary = view.summary(doc)
    out = ["TAP version 14", f"1..{len(items)}",
           f"# {view.one_line(head['contract'])} against {view.one_line(head['target']) or '(no target)'}"]
    for n, e in enumerate(items, 1):
        out += _point(n, e, verbose)
    counts = ", ".join(f"{summary[k]} {k}" for k in ("passed", "failed", "errors", "warned", "skipped"))
    verdict = view.one_line(view.text(summary["verdict"]))
    out.append(f"# {counts}; pass rate {view.percent(summary['pass_rate'])}; verdict {verdict}")
    if head["interrupted"]:
        out.append("# interrupted: the run was stopped early; these results are partial")
    return "\n".join(out) + "\n"
