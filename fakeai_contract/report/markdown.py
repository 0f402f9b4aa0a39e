"""Markdown for a pull-request comment or $GITHUB_STEP_SUMMARY: verdict, problems, every entry."""

from __future__ import annotations


from fakeai_contract.report import view
from fakeai_contract.report.cells import CELL_LIMIT, cell

MAX_PROBLEM_ROWS = 100       # GitHub caps a comment at 65536 characters and a summary at 1 MiB
MAX_DETAIL_ROWS = 400

STATUS_LABEL = {"pass": "✅ pass", "fail": "❌ fail", "error": "💥 error", "warn": "⚠️ warn",
                "skip": "⏭️ skip"}
VERDICT_LABEL = {"PASS": "✅ PASS", "PARTIAL": "⚠️ PARTIAL", "FAIL": "❌ FAIL", "INTERRUPTED": "⏹️ INTERRUPTED"}
COLUMNS = ("Status", "Phase", "Check", "Observed", "Expected", "Message")


def _row(e: dict) -> str:
    status = STATUS_LABEL.get(e["status"], f"❓ {e['status']}")
    name = e["name"] + (f" ({e['location']})" if e["location"] else "")
    observed = "" if e["observed"] is None and e["status"] == "skip" else e["observed"]
    expected = "" if e["expected"] is None and e["status"] == "skip" else e["expected"]
    cells = [cell(status), cell(e["phase"]), cell(name), cell(observed), cell(expected), cell(e["message"])]
    return "| " + " | ".join(cells) + " |"


def _table(items: list[dict], limit: int) -> list[str]:
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += [_row(e) for e in items[:limit]]
    if len(items) > limit:
        out += ["", f"_… and {len(items) - limit} more; see the JSON report._"]
    return out


def render(doc: dict, *, color: bool = False, verbose: bool = False, quiet: bool = False,
           comparison: dict | None = None) -> str:
    """The ledger as GitHub-flavoured Markdown (COMPARISON: a baseline comparison to add)."""
    head = view.header(doc)
    items = view.entries(doc)
    s = view.summary(doc)
    verdict = view.text(s["verdict"]).upper()
    label = VERDICT_LABEL.get(verdict, f"❓ {cell(verdict, 40)}")
    counted = s["total"] - s["skipped"]
    ok = counted - s["failed"] - s["errors"]
    out = [f"### {label} · {cell(head['contract'], 120)}", "",
           f"**{label}**: {ok}/{counted} checks passed ({view.percent(s['pass_rate'])}) · "
           f"{s['failed']} failed · {s['errors']} errors · {s['warned']} warned · "
           f"{s['skipped']} skipped · {view.seconds(head['duration_s'], 2)}"
           + (f" · target {cell(head['target'], 120)}" if head["target"] else "")]
    if head["interrupted"]:
        out += ["", "> ⚠️ **Interrupted**: the run was stopped early; these results are partial."]
    problems = [e for e in items if e["status"] not in ("pass", "skip")]
    if problems:
        out += ["", "#### Problems", ""] + _table(problems, MAX_PROBLEM_ROWS)
    if comparison is not None:
        from fakeai_contract.report.comparison import render_markdown
        out += ["", render_markdown(comparison).rstrip("\n")]
    if not quiet:
        out += ["", f"<details><summary>All {len(items)} entries</summary>", ""]
        out += _table(items, MAX_DETAIL_ROWS) + ["", "</details>"]
    return "\n".join(out) + "\n"
