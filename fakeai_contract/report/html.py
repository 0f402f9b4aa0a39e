"""One self-contained HTML file: summary, problems, plots, server beside client, every entry.

No network (a Content-Security-Policy forbids it), inline CSS, JavaScript and SVG. The summary,
the problems and the entries are plain HTML, readable with scripts off; the script only filters
and shows tooltips.
"""

from __future__ import annotations

import json
import math
from html import escape
from typing import Any

from fakeai_contract.report import plots, view
from fakeai_contract.report.comparison import render_html_section
from fakeai_contract.report.html_assets import CSS, JS
from fakeai_contract.report.terminal import latency_line

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
VALUE_LIMIT = 2000           # characters of one observed/expected value
MAX_ROWS_PER_PHASE = 2000    # a verbose 100,000-request run must still open quickly
LEGEND = (("ok", "answered"), ("ok s", "answered, streaming"), ("http", "error status"),
          ("error", "no complete answer"))


def _e(value: Any, limit: int = VALUE_LIMIT) -> str:
    """VALUE as escaped text: strings bare, a float to 6 significant digits (0.0133333, not
    0.013333333333333332), everything else as JSON, clipped."""
    if isinstance(value, str):
        s = value
    elif isinstance(value, float) and math.isfinite(value):
        s = f"{value:.6g}"
    else:
        s = json.dumps(view.jsonable(value), ensure_ascii=False, indent=None, separators=(", ", ": "))
    return escape(view.clip(s, limit))


def _header(doc: dict) -> str:
    head, s = view.header(doc), view.summary(doc)
    verdict = view.text(s["verdict"]).upper()
    counted = int(s["total"] - s["skipped"])
    ok = int(counted - s["failed"] - s["errors"])
    counts = "".join(f'<span class="{k}">{escape(label)}: <b>{int(s[key])}</b></span>' for k, label, key in (
        ("pass", "passed", "passed"), ("fail", "failed", "failed"), ("error", "errors", "errors"),
        ("warn", "warned", "warned"), ("skip", "skipped", "skipped")))
    latency = latency_line(view.client(doc))
    load = view.mapping(view.mapping(view.mapping(doc).get("meta")).get("load"))
    rate = view.number(load.get("requests_per_second"), None)
    return (f'<header><h1>{escape(head["contract"])}</h1>'
            f'<p class="meta">target {escape(head["target"]) or "n/a"} · started {escape(head["started_at"])} · '
            f'{view.seconds(head["duration_s"], 2)}</p>'
            f'<p id="verdict"><span class="verdict {escape(verdict, quote=True)}">{escape(verdict)}</span>'
            f'{ok}/{counted} checks held ({view.percent(s["pass_rate"])}) · exit code {int(s["exit_code"])}</p>'
            f'<p class="counts">{counts}</p>'
            + (f'<p class="latency">{escape(latency)}'
               + (f" · {rate:,.1f} requests/s" if rate is not None else "") + "</p>" if latency else "")
            + ('<p class="problem">Interrupted: the run was stopped early; these results are partial.</p>'
               if head["interrupted"] else "") + "</header>")


def _problem(e: dict) -> str:
    rows = [("message", e["message"] or None), ("observed", e["observed"]), ("expected", e["expected"]),
            ("at", e["location"])]
    details = "".join(f"<dt>{k}</dt><dd>{_e(v)}</dd>" for k, v in rows if v is not None)
    return (f'<li class="problem {escape(e["status"], quote=True)}" data-id="{escape(e["id"], quote=True)}">'
            f'<span class="status {escape(e["status"], quote=True)}">{escape(e["status"])}</span> '
            f'<b>{escape(e["name"])}</b> <span class="meta">[{escape(e["phase"])}] {escape(e["id"])}</span>'
            f"<dl>{details}</dl></li>")


def _problems(items: list[dict]) -> str:
    problems = [e for e in items if e["status"] not in ("pass", "skip")]
    body = (f'<ol class="problems">{"".join(_problem(e) for e in problems)}</ol>' if problems
            else "<p>None: every check that ran held.</p>")
    return f'<section id="problems"><h2>Problems ({len(problems)})</h2>{body}</section>'


def _row(e: dict) -> str:
    return (f'<tr class="entry" data-status="{escape(e["status"], quote=True)}"'
            f' data-tags="{escape(" ".join(e["tags"]), quote=True)}" data-id="{escape(e["id"], quote=True)}">'
            f'<td><span class="status {escape(e["status"], quote=True)}">{escape(e["status"])}</span></td>'
            f'<td>{escape(e["name"])}<br><span class="meta">{escape(e["location"] or "")}</span></td>'
            f'<td class="v">{_e(e["observed"], 400)}</td><td class="v">{_e(e["expected"], 400)}</td>'
            f'<td>{escape(e["message"])}</td><td>{escape(", ".join(e["tags"]))}</td></tr>')


def _checks(items: list[dict]) -> str:
    tags = sorted({t for e in items for t in e["tags"]})
    boxes = "".join(f'<label><input type="checkbox" name="status" value="{s}" checked> {s}</label>'
                    for s in view.STATUSES)
    options = "".join(f'<option value="{escape(t, quote=True)}">{escape(t)}</option>' for t in tags)
    out = [f'<section id="checks"><h2>Every entry, by phase ({len(items)})</h2>'
           f'<form id="filters"><span>status:</span>{boxes}<label>tag: <select id="tag-filter">'
           f'<option value="">any</option>{options}</select></label></form>']
    head = "".join(f"<th>{h}</th>" for h in ("status", "check", "observed", "expected", "message", "tags"))
    for phase, group in view.by_phase(items):
        counts = view.count_statuses(group)
        bad = counts["failed"] + counts["errors"]
        shown = group[:MAX_ROWS_PER_PHASE]
        more = (f'<p class="meta">… and {len(group) - len(shown)} more; see the JSON report.</p>'
                if len(group) > len(shown) else "")
        out.append(f'<details class="phase" id="phase-{escape(phase, quote=True)}" open><summary>{escape(phase)}: '
                   f'<span class="shown">{len(shown)}</span> shown of {len(group)}, {bad} failing</summary>'
                   f'<table class="grid"><thead><tr>{head}</tr></thead><tbody>'
                   f'{"".join(_row(e) for e in shown)}</tbody></table>{more}</details>')
    return "".join(out) + "</section>"


def _server_vs_client(doc: dict, items: list[dict]) -> str:
    by_id = {e["id"]: e for e in items}
    rows = []
    for pair in view.listed(view.mapping(view.mapping(doc).get("meta")).get("server_vs_client")):
        pair = view.mapping(pair)
        e = by_id.get(view.text(pair.get("check")))
        if e is None:
            continue
        server, client = (e["observed"], e["expected"]) if pair.get("server") == "observed" else (e["expected"], e["observed"])
        rows.append(f'<tr class="entry-pair" data-id="{escape(e["id"], quote=True)}"><td><span class="status '
                    f'{escape(e["status"], quote=True)}">{escape(e["status"])}</span></td><td>{escape(e["name"])}</td>'
                    f'<td class="v">{_e(pair.get("server_expr"))}</td><td class="v server">{_e(server, 200)}</td>'
                    f'<td class="v">{_e(pair.get("client_expr"))}</td><td class="v client">{_e(client, 200)}</td></tr>')
    if not rows:
        return ""
    head = "".join(f"<th>{h}</th>" for h in ("status", "check", "server reads", "server says", "client reads",
                                              "client saw"))
    return (f'<section id="server-vs-client"><h2>The server\'s numbers beside the client\'s</h2>'
            f'<table class="grid"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></section>')


def _plots(doc: dict) -> str:
    timeline, client = view.mapping(view.mapping(doc).get("timeline")), view.client(doc)
    hist, line, models = plots.histograms(timeline, client), plots.request_timeline(timeline), plots.models(timeline, client)
    if not (hist or line or models):
        return ""
    total, kept = view.number(timeline.get("total"), 0), view.number(timeline.get("kept"), 0)
    note = (f'<p class="meta">The first {int(kept)} of {int(total)} requests; the histograms and per-model '
            f"figures cover all of them.</p>" if kept and total and kept < total else "")
    legend = "".join(f'<span><i style="background:var(--{"oks" if c == "ok s" else c})"></i>{escape(t)}</span>'
                     for c, t in LEGEND)
    return ('<section id="plots"><h2>Latency</h2>'
            + (f'<div class="plots">{hist}</div>' if hist else "")
            + (f'<h3>Requests over time</h3><p class="legend">{legend}</p>{note}{line}' if line else "")
            + (f'<h3>Per model</h3>{models}' if models else "") + "</section>")


def render(doc: dict, *, color: bool = False, verbose: bool = False, quiet: bool = False,
           comparison: dict | None = None) -> str:
    """The ledger as one self-contained HTML page (COMPARISON: a baseline comparison to embed)."""
    items = view.entries(doc)
    head = view.header(doc)
    s = view.summary(doc)
    title = f"{view.text(s['verdict']).upper()} · {head['contract']}"
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
            + _header(doc) + (render_html_section(comparison) if comparison else "") + _problems(items)
            + _plots(doc) + _server_vs_client(doc, items) + _checks(items)
            + f'<div id="tip"></div><script>{JS}</script></body></html>\n')
