"""A comparison of two ledgers as text, Markdown (a pull-request comment) or an HTML section."""

from __future__ import annotations

import json as _json
from html import escape
from typing import Any, Callable

from fakeai_contract.errors import amount
from fakeai_contract.report import view
from fakeai_contract.report.cells import cell

COLUMNS = ("", "Metric", "Baseline", "Current", "Change", "Threshold")


def _value(m: dict, v: Any) -> str:
    v = view.number(v, None)
    if v is None:
        return "n/a"
    if m["key"] == "throughput" or m["group"] == "server" and abs(v) >= 1:
        return f"{v:,.6g}"
    return f"{v * 1000:.2f} ms" if m["group"] == "client" else f"{v:.6g}"


def _change(m: dict) -> str:
    if m["change"] is None:
        return "n/a"
    rel = f" ({m['relative_pct']:+.1f}%)" if m["relative_pct"] is not None else ""
    if m["key"] == "throughput" or m["group"] == "server":
        return f"{m['change']:+.6g}{rel}"
    return f"{m['change'] * 1000:+.2f} ms{rel}"


def _mark(m: dict) -> str:
    return "REGRESSION" if m["regression"] else ""


def rows(cmp: dict) -> list[tuple[str, ...]]:
    """One row per metric: mark, label, baseline, current, change, threshold."""
    return [(_mark(m), m["label"], _value(m, m["before"]), _value(m, m["after"]), _change(m),
             m["threshold"] or "not gated") for m in view.listed(cmp.get("metrics"))]


def _headline(cmp: dict) -> str:
    n = len(view.listed(cmp.get("regressions")))
    return f"{amount(n, 'regression')} against the baseline" if n else "no regression against the baseline"


def _sides(cmp: dict) -> str:
    b, c = view.mapping(cmp.get("baseline")), view.mapping(cmp.get("current"))
    return (f"baseline {view.text(b.get('contract'))} {view.text(b.get('started_at'))} ({view.text(b.get('verdict'))})"
            f" → current {view.text(c.get('contract'))} {view.text(c.get('started_at'))} ({view.text(c.get('verdict'))})")


def render_text(cmp: dict, **_: Any) -> str:
    """A fixed-width table for the terminal."""
    table = [COLUMNS[1:]] + [r[1:] for r in rows(cmp)]
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS) - 1)]
    out = [_sides(cmp), ""]
    for i, r in enumerate(table):
        mark = "" if i == 0 else rows(cmp)[i - 1][0]
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths)) + (f"  {mark}" if mark else ""))
    checks = view.listed(cmp.get("checks"))
    if checks:
        out += ["", "Checks that changed:"]
        out += [f"  {c['change']:<9} {c['before']} -> {c['after'] or '(gone)'}  {view.brief(c['name'], 70)}"
                + (f"  [{c['location']}]" if c.get("location") else "") for c in checks]
    out += [""] + [f"REGRESSION: {r}" for r in view.listed(cmp.get("regressions"))]
    out.append(("✗ " if cmp.get("exit_code") else "✓ ") + _headline(cmp))
    return "\n".join(out) + "\n"


def render_markdown(cmp: dict, **_: Any) -> str:
    """GitHub-flavoured Markdown fit for a pull-request comment."""
    label = "❌" if cmp.get("exit_code") else "✅"
    out = [f"### {label} {cell(_headline(cmp))}", "", cell(_sides(cmp), 400), "",
           "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(cell("❌" if r[0] else "") if i == 0 else cell(c) for i, c in enumerate(r)) + " |"
            for r in rows(cmp)]
    checks = view.listed(cmp.get("checks"))
    if checks:
        out += ["", "#### Checks that changed", "", "| Change | Check | Baseline | Current | Message |",
                "|---|---|---|---|---|"]
        out += [f"| {cell(c['change'])} | {cell(c['name'])} | {cell(c['before'])} | {cell(c['after'] or 'gone')} "
                f"| {cell(c['message'])} |" for c in checks]
    return "\n".join(out) + "\n"


def render_json(cmp: dict, **_: Any) -> str:
    """The comparison itself as JSON."""
    return _json.dumps(view.jsonable(cmp), indent=2, ensure_ascii=False) + "\n"


def render_html_section(cmp: dict) -> str:
    """The comparison as an HTML section (inside the HTML report; readable without JavaScript)."""
    bad = bool(cmp.get("exit_code"))
    head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    body = "".join(
        f'<tr class="{"regression" if r[0] else ""}" data-key="{escape(m["key"], quote=True)}">'
        + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>"
        for r, m in zip(rows(cmp), view.listed(cmp.get("metrics"))))
    checks = "".join(
        f'<li class="{escape(c["change"])}">{escape(c["change"])}: <b>{escape(view.text(c["name"]))}</b> '
        f'{escape(view.text(c["before"]))} → {escape(view.text(c["after"] or "gone"))}</li>'
        for c in view.listed(cmp.get("checks")))
    regressions = "".join(f"<li>{escape(view.text(r))}</li>" for r in view.listed(cmp.get("regressions")))
    return (f'<section id="comparison" class="{"bad" if bad else "good"}"><h2>Against the baseline: '
            f'{escape(_headline(cmp))}</h2><p>{escape(_sides(cmp))}</p>'
            + (f'<ul class="regressions">{regressions}</ul>' if regressions else "")
            + f'<table class="grid"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
            + (f'<h3>Checks that changed</h3><ul>{checks}</ul>' if checks else "") + "</section>")


#: --report formats of `compare` (html is the current run's report with the comparison in it).
FORMATS: dict[str, Callable[..., str]] = {"terminal": render_text, "markdown": render_markdown,
                                          "json": render_json}
