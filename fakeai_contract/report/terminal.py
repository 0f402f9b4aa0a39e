"""The human report: the seed test's layout, one section per stage, then the final report."""

from __future__ import annotations

from typing import Any, Callable

from fakeai_contract.errors import amount
from fakeai_contract.report import view

WIDTH = 80
RULE, DOUBLE_RULE = "-" * WIDTH, "=" * WIDTH
INFO = "ℹ"

#: status → (symbol, word, ANSI colour)
STATUS_STYLE = {
    "pass": ("✓", "OK", "32"),
    "fail": ("✗", "FAIL", "31"),
    "error": ("✗", "ERROR", "31"),
    "warn": ("!", "WARN", "33"),
    "skip": ("-", "SKIP", "2"),
}
UNKNOWN_STYLE = ("?", "UNKNOWN", "35")
VERDICT_STYLE = {"PASS": ("✓", "32"), "PARTIAL": ("!", "33"), "FAIL": ("✗", "31"), "INTERRUPTED": ("!", "33")}

DETAIL_LIMIT = 240          # characters of one observed/expected/message line
MAX_LISTED = 10             # findings, first failures, first errors listed under one entry

Lines = list[str]


class Painter:
    """Wraps text in ANSI colour codes, or leaves it alone."""

    def __init__(self, color: bool):
        self.color = color

    def __call__(self, s: str, code: str) -> str:
        return f"\x1b[{code}m{s}\x1b[0m" if self.color and s else s

    def symbol(self, status: str) -> str:
        sym, _, code = STATUS_STYLE.get(status, UNKNOWN_STYLE)
        return self(sym, code)

    def word(self, status: str) -> str:
        _, word, code = STATUS_STYLE.get(status, UNKNOWN_STYLE)
        return self(word, code)

    def bold(self, s: str) -> str:
        return self(s, "1")


def _details(e: dict, paint: Painter, verbose: bool, indent: str = "      ",
             with_message: bool = True) -> Lines:
    """Message, observed, expected and location of E: for problems always, for the rest in verbose."""
    if e["status"] in ("pass", "skip") and not verbose:
        return []
    rows = [("message", (e["message"] or None) if with_message else None), ("observed", e["observed"]),
            ("expected", e["expected"]), ("at", e["location"])]
    out = []
    for label, value in rows:
        if value is None and not (verbose and label in ("observed", "expected")):
            continue
        out.append(f"{indent}{paint(label + ':', '2')} {view.brief(value, DETAIL_LIMIT)}")
    return out


def _outcome(e: dict, paint: Painter, extra: str = "") -> str:
    """'OK (0.123s)' / 'FAIL (0.456s): message' / 'SKIP: reason'."""
    timing = f" ({extra})" if extra else "" if e["status"] == "skip" else f" ({view.seconds(e['duration_s'])})"
    tail = f": {view.brief(e['message'], DETAIL_LIMIT)}" if e["status"] != "pass" and e["message"] else ""
    return f"{paint.word(e['status'])}{timing}{tail}"


def _generic(e: dict, paint: Painter, verbose: bool) -> Lines:
    """Any entry, whatever its phase or shape."""
    line = f"  {paint.symbol(e['status'])} {view.brief(e['name'], 60):<40} ... {_outcome(e, paint)}"
    return [line] + _details(e, paint, verbose, with_message=False)


def _health(e: dict, paint: Painter, verbose: bool) -> Lines:
    obs = view.mapping(e["observed"])
    if e["status"] != "pass" or "elapsed_s" not in obs:
        return _generic(e, paint, verbose)
    attempts = obs.get("attempts")
    tries = f" ({amount(attempts, 'attempt')})" if attempts is not None else ""
    out = [f"{paint.symbol('pass')} Server ready after {view.seconds(obs.get('elapsed_s'), 2)}{tries}"]
    for key, value in list(view.mapping(obs.get("document")).items())[:8]:
        out.append(f"  {view.brief(str(key), 30).replace('_', ' ').capitalize()}: {view.brief(value, 60)}")
    if verbose:
        out += _details(e, paint, verbose, indent="  ")
    return out


def _is_stream(e: dict, obs: dict) -> bool:
    return obs.get("stream") is True or "streaming" in e["tags"]


def _request_order(e: dict) -> tuple[int, float]:
    index = e["observed"].get("index") if isinstance(e.get("observed"), dict) else None
    return (0, index) if isinstance(index, (int, float)) and not isinstance(index, bool) else (1, 0)


def _load(e: dict, paint: Painter, verbose: bool) -> Lines:
    obs = view.mapping(e["observed"])
    kind = "STREAM" if _is_stream(e, obs) else "NORMAL"
    model = view.brief(obs.get("model") or "?", 40)
    if "index" in obs:
        index, of = view.brief(obs.get("index"), 8), view.brief(obs.get("of", "?"), 8)
        extra = view.seconds(obs.get("latency_s")) if obs.get("latency_s") is not None else ""
        head = f"  [{index:>{len(of)}}/{of}] {kind} | {model:<20} ... "
        return [head + _outcome(e, paint, extra or "no response")] + _details(
            e, paint, verbose, with_message=False)
    if "total" in obs:
        counts = f"{view.brief(obs.get('succeeded'), 12)}/{view.brief(obs.get('total'), 12)} succeeded"
        out = [f"  {kind} | {model:<20} ... {_outcome(e, paint, counts)}"]
        for failure in view.listed(obs.get("first_failures"))[:MAX_LISTED]:
            f = view.mapping(failure)
            out.append(f"      #{view.brief(f.get('index'), 8)}: {view.brief(f.get('message'), DETAIL_LIMIT)}")
        return out + (_details(e, paint, verbose, with_message=False) if verbose else [])
    return _generic(e, paint, verbose)


def _endpoint(e: dict, paint: Painter, verbose: bool) -> Lines:
    obs = view.mapping(e["observed"])
    extra = ""
    if "validated" in obs:
        extra = f"{view.brief(obs.get('validated'), 12)} validated, {view.brief(obs.get('invalid'), 12)} invalid"
    line = f"  {view.brief(e['name'], 60):<30} ... {_outcome(e, paint, extra)}"
    out = [line]
    for err in view.listed(obs.get("first_errors"))[:MAX_LISTED] if e["status"] != "pass" or verbose else []:
        out.append(f"      - {view.brief(err, DETAIL_LIMIT)}")
    return out + _details(e, paint, verbose, with_message=False)


def _field(e: dict, paint: Painter, verbose: bool) -> Lines:
    line = f"  {paint.symbol(e['status'])} {view.brief(e['name'], 60)}: {view.brief(e['observed'], 60)}"
    return [line] + _details(e, paint, verbose)


def _consistency(e: dict, paint: Painter, verbose: bool) -> Lines:
    out = [f"{view.brief(e['name'], 76)}:"]
    if e["status"] != "skip" or verbose:
        out += [f"  observed: {view.brief(e['observed'], DETAIL_LIMIT)}",
                f"  expected: {view.brief(e['expected'], DETAIL_LIMIT)}"]
    verdict = e["message"] or {"pass": "holds", "warn": "does not hold (warning)"}.get(
        e["status"], paint.word(e["status"]).lower())
    out.append(f"  {paint.symbol(e['status'])} {view.brief(verdict, DETAIL_LIMIT)}")
    if e["location"] and (e["status"] != "pass" or verbose):
        out.append(f"  {paint('at:', '2')} {e['location']}")
    return out + [""]


def _logs(e: dict, paint: Painter, verbose: bool) -> Lines:
    obs = view.mapping(e["observed"])
    findings = view.listed(obs.get("findings"))
    source = view.brief(obs.get("source") or "the log", 60)
    if e["status"] == "skip" or not obs:
        return _generic(e, paint, verbose)
    scanned = f"{view.brief(obs.get('lines_scanned'), 12)} lines of {source}"
    what = amount(len(findings), "finding") if findings else "No exceptions"
    out = [f"{paint.symbol(e['status'])} {what} in {scanned}"]
    for finding in findings[:MAX_LISTED]:
        f = view.mapping(finding)
        out.append(f"  line {view.brief(f.get('line'), 10)}: {view.brief(f.get('text', finding), 160)}")
    if len(findings) > MAX_LISTED:
        out.append(f"  ... and {len(findings) - MAX_LISTED} more")
    if e["message"] and e["status"] != "pass" and not findings:
        out.append(f"  {view.brief(e['message'], DETAIL_LIMIT)}")
    return out + (_details(e, paint, verbose, indent="  ") if verbose else [])


def _safe(render: Callable[..., Lines], e: dict, paint: Painter, verbose: bool) -> Lines:
    """RENDER's lines for E, or the generic lines if E's shape surprised it."""
    try:
        return render(e, paint, verbose)
    except Exception:  # an odd entry must still show, never lose the report
        return _generic(e, paint, verbose)


def _endpoint_paths(items: list[dict]) -> dict[str, str]:
    """Endpoint key (from 'endpoint/<key>') → the path shown as its name."""
    return {e["id"].split("/", 1)[1]: e["name"] for e in items
            if e["phase"] == "endpoint" and e["id"].startswith("endpoint/")}


def _field_groups(checks: list[dict], paths: dict[str, str]) -> list[tuple[str, list[dict]]]:
    """Field checks grouped by the endpoint named in their tags, in first-seen order."""
    groups: dict[str, list[dict]] = {}
    for e in checks:
        keys = [t for t in e["tags"] if t != "field"]
        key = next((t for t in keys if t in paths), keys[0] if keys else "")
        groups.setdefault(paths.get(key, key or "(no endpoint)"), []).append(e)
    return list(groups.items())


def _request_count(loads: list[dict], client: dict) -> int:
    """Requests the load sent: one per itemised entry plus the totals of aggregated ones."""
    total = 0
    for e in loads:
        if "request" not in view.listed(e.get("tags")):
            continue        # load/models, client/saturation: the load's own entries, no request
        obs, planned = view.mapping(e["observed"]), view.mapping(e.get("expected")).get("requests")
        if "total" in obs:
            total += int(view.number(obs.get("total")) or 0)
        else:   # one request, or a mix entry skipped before it sent its planned requests
            total += int(view.number(planned) or 1) if e["status"] == "skip" else 1
    return total or int(view.number(view.mapping(client.get("requests")).get("total")) or 0)


def _sections(items: list[dict], doc: dict, paint: Painter, verbose: bool) -> list[tuple[str, Lines]]:
    """(title, lines) for every stage that recorded entries, in pipeline order."""
    client = view.client(doc)
    pick = {p: [e for e in items if e["phase"] == p] for p in view.PHASES}
    checks = pick["check"]
    fields = [e for e in checks if "field" in e["tags"]]
    others = [e for e in checks if "field" not in e["tags"]]
    unknown = [e for e in items if e["phase"] not in view.PHASES]
    sections: list[tuple[str, Lines]] = []

    def add(title: str, lines: Lines) -> None:
        if lines:
            sections.append((title, lines))

    add("Server Health Check", [ln for e in pick["health"] for ln in _safe(_health, e, paint, verbose)])
    # Requests finish out of order when the load is concurrent; list them in the plan's order.
    loads = sorted(pick["load"], key=_request_order)
    n = _request_count(loads, client)
    load_lines = [ln for e in loads for ln in _safe(_load, e, paint, verbose)]
    requests = view.mapping(client.get("requests"))
    if load_lines and requests.get("total") is not None:
        ok, total = view.number(requests.get("succeeded"), None), view.number(requests.get("total"))
        rate = view.percent(ok / total) if ok is not None and total else "n/a"
        load_lines += ["", f"{paint(INFO, '36')} Success: {view.brief(requests.get('succeeded'))}"
                           f"/{view.brief(requests.get('total'))} ({rate})"]
    add(f"Executing Test Load ({n} Requests)", load_lines)
    probes = pick["endpoint"] + pick["schema"]
    probe_lines = [ln for e in probes for ln in _safe(_endpoint, e, paint, verbose)]
    if pick["endpoint"]:
        up = sum(1 for e in pick["endpoint"] if e["status"] == "pass")
        probe_lines += ["", f"{paint(INFO, '36')} Endpoints: {up}/{len(pick['endpoint'])} responding"]
    add("Validating Metrics Endpoints", probe_lines)
    field_lines: Lines = []
    for title, group in _field_groups(fields, _endpoint_paths(items)):
        field_lines += [paint.bold(view.brief(title, 76))]
        field_lines += [ln for e in group for ln in _safe(_field, e, paint, verbose)] + [""]
    add("Validating Metrics Data", field_lines[:-1])
    consistency = [ln for e in others for ln in _safe(_consistency, e, paint, verbose)]
    add("Validating Data Consistency", consistency[:-1])
    add("Checking for Exceptions", [ln for e in pick["logs"] for ln in _safe(_logs, e, paint, verbose)])
    add("Other Checks", [ln for e in unknown for ln in _generic(e, paint, verbose)])
    return sections


#: (label, client section, key, formatter) for the Request Summary.
REQUEST_SUMMARY = (
    ("Total Requests", "requests", "total", view.brief),
    ("Successful", "requests", "succeeded", view.brief),
    ("Failed", "requests", "failed", view.brief),
    ("Avg Duration", "latency_s", "mean", view.seconds),
    ("Streaming", "requests", "streaming", view.brief),
    ("Non-Streaming", "requests", "non_streaming", view.brief),
    ("Streams Completed", "streams", "completed", view.brief),
    ("Stream Chunks", "streams", "chunks", view.brief),
    ("Completion Tokens", "tokens", "completion", view.brief),
    ("Total Tokens", "tokens", "total", view.brief),
)
PERCENTILES = (("TTFT", "ttft_s"), ("ITL", "itl_s"), ("end-to-end", "latency_s"))


def _ms(value: Any) -> str:
    v = view.number(value, None)
    return "-" if v is None else f"{v * 1000:.1f}"


def latency_line(client: dict) -> str | None:
    """'p50/p90/p99 ms: TTFT 10.2/11.0/11.9 · ITL ... · end-to-end ...', or None with nothing timed."""
    parts = []
    for label, section in PERCENTILES:
        stats = view.mapping(client.get(section))
        if any(stats.get(p) is not None for p in ("p50", "p90", "p99")):
            parts.append(f"{label} {'/'.join(_ms(stats.get(p)) for p in ('p50', 'p90', 'p99'))}")
    return f"p50/p90/p99 ms: {' · '.join(parts)}" if parts else None


def _request_summary(client: dict) -> Lines:
    out = []
    for label, section, key, fmt in REQUEST_SUMMARY:
        value = view.mapping(client.get(section)).get(key)
        if value is not None:
            out.append(f"  {label}: {fmt(value)}")
    line = latency_line(client)
    if line:
        out.append(f"  {line}")
    return ["Request Summary"] + out if out else []


def _verdict(summary: dict, paint: Painter) -> str:
    verdict = view.text(summary["verdict"]).upper()
    counted = int(summary["total"] - summary["skipped"])
    ok = int(counted - summary["failed"] - summary["errors"])
    sym, code = VERDICT_STYLE.get(verdict, ("?", "35"))
    rate = view.percent(summary["pass_rate"])
    words = {"PASS": f"ALL TESTS PASSED ({ok}/{counted})",
             "PARTIAL": f"PARTIAL PASS ({ok}/{counted}, {rate})",
             "FAIL": f"TESTS FAILED ({ok}/{counted}, {rate})",
             "INTERRUPTED": f"INTERRUPTED: the run did not finish ({ok}/{counted} of the checks that ran held)"}.get(verdict, f"VERDICT {verdict} ({ok}/{counted})")
    if summary["warned"]:
        words += f", {amount(int(summary['warned']), 'warning')}"
    return paint(f"{sym} {words}", code + ";1")


def _final(doc: dict, summary: dict, items: list[dict], paint: Painter, quiet: bool) -> Lines:
    head = view.header(doc)
    interrupted = [paint("! INTERRUPTED: the run was stopped early; these results are partial", "33;1")] \
        if head["interrupted"] else []
    if quiet:
        counts = ", ".join(f"{summary[k]} {k}" for k in ("passed", "failed", "errors", "warned", "skipped"))
        line = (f"{summary['total']} checks: {counts}; pass rate {view.percent(summary['pass_rate'])};"
                f" {view.seconds(head['duration_s'], 2)}")
        latency = latency_line(view.client(doc))
        return [line] + ([latency] if latency else []) + interrupted + [_verdict(summary, paint)]
    out = ["", DOUBLE_RULE, paint.bold("FINAL TEST REPORT".center(WIDTH).rstrip()), DOUBLE_RULE, "",
           "Test Summary"]
    for label, key in (("Total Tests", "total"), ("Passed", "passed"), ("Failed", "failed"),
                       ("Errors", "errors"), ("Warned", "warned"), ("Skipped", "skipped")):
        out.append(f"  {label}: {summary[key]}")
    out += [f"  Pass Rate: {view.percent(summary['pass_rate'])}",
            f"  Duration: {view.seconds(head['duration_s'], 2)}", ""]
    requests = _request_summary(view.client(doc))
    out += requests + ([""] if requests else [])
    endpoints = [e for e in items if e["phase"] == "endpoint"]
    if endpoints:
        out.append("Metrics Endpoints")
        out += [f"  {view.brief(e['name'], 60):<30} {paint.word(e['status'])}" for e in endpoints] + [""]
    return out + interrupted + [_verdict(summary, paint)]


def _quiet_problems(items: list[dict], paint: Painter, verbose: bool) -> Lines:
    out = []
    for e in items:
        if e["status"] in ("pass", "skip"):
            continue
        out.append(f"{paint.symbol(e['status'])} [{view.brief(e['phase'], 20)}] {view.brief(e['name'], 100)}")
        out += _details(e, paint, verbose, indent="    ")
    return out


def render(doc: dict, *, color: bool = False, verbose: bool = False, quiet: bool = False) -> str:
    """The ledger as the terminal report."""
    paint = Painter(color)
    items = view.entries(doc)
    summary = view.summary(doc)
    if quiet:
        return "\n".join(_quiet_problems(items, paint, verbose) + _final(doc, summary, items, paint, True)) + "\n"
    head = view.header(doc)
    out = [DOUBLE_RULE, paint.bold(f"FakeAI Contract: {view.brief(head['contract'], 60)}".center(WIDTH).rstrip()),
           DOUBLE_RULE, ""]
    if head["target"]:
        out.append(f"Target:  {view.brief(head['target'], 70)}")
        resolved = view.mapping(view.mapping(view.mapping(doc).get("meta")).get("target"))
        if resolved.get("api_root") is True:
            out.append(f"         (API root; health and metrics paths resolve against "
                       f"{view.brief(resolved.get('server_root'), 60)})")
    if head["started_at"]:
        out.append(f"Started: {view.brief(head['started_at'], 40)}")
    for title, lines in _sections(items, doc, paint, verbose):
        out += ["", RULE, paint.bold(view.brief(title, WIDTH)), RULE, ""] + lines
    out += _final(doc, summary, items, paint, False)
    return "\n".join(out) + "\n"
