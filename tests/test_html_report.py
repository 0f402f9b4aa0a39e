"""The HTML report of real runs, opened in headless Chromium: no console errors, no network, the
problems first, and plots whose data points are the ledger's own numbers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.browser import chromium_path, open_page, save_artifact

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180),
              pytest.mark.skipif(chromium_path() is None, reason="Chromium is not installed (apt-get install chromium)")]

SCRIPTS = {
    "problems": "[...document.querySelectorAll('#problems li.problem')].map(li => li.dataset.id)",
    "timeline": "[...document.querySelectorAll('#timeline rect.req')].map(r => [Number(r.dataset.seq),"
                " Number(r.dataset.start), Number(r.dataset.duration), r.dataset.outcome, r.dataset.stream])",
    "hist_total": "Object.fromEntries([...document.querySelectorAll('svg.histogram')].map(s => [s.dataset.key,"
                  " [...s.querySelectorAll('rect.bar')].reduce((a, r) => a + Number(r.dataset.count), 0)]))",
    "pcts": "[...document.querySelectorAll('#hist-ttft_s line.pct')].map(l => [l.dataset.p, Number(l.dataset.value)])",
    "models": "Object.fromEntries([...document.querySelectorAll('#models g.model')].map(g => [g.dataset.model,"
              " [Number(g.dataset.total), Number(g.dataset.failed)]]))",
    "filter": "(() => { const box = document.querySelector('input[value=pass]'); if (!box) return null;"
              " box.click(); return [...document.querySelectorAll('tr.entry[data-status=pass]')]"
              ".filter(r => r.offsetParent !== null).length; })()",
}


def _run(cli, tmp_path: Path, *reference_args: str) -> tuple[dict, Path]:
    html, ledger = tmp_path / "report.html", tmp_path / "ledger.json"
    r = cli("run", "--serve-reference", "--quiet", "--report", f"html:{html}", "--report", f"json:{ledger}",
            *[f"--reference-arg={a}" for a in reference_args])
    assert r.code in (0, 1), r.err
    return json.loads(ledger.read_text()), html


@pytest.mark.parametrize("faults", [(), ("--error-rate", "0.3", "--seed", "3")], ids=["clean", "error-rate"])
def test_the_report_opens_offline_and_shows_the_ledger(cli, tmp_path, faults):
    ledger, html = _run(cli, tmp_path, *faults)
    page = open_page(html, SCRIPTS)
    save_artifact(f"report-{'clean' if not faults else 'errors'}.png", page.screenshot, tmp_path)
    assert page.console_errors == []
    assert [u for u in page.requests if not u.startswith("file:")] == []     # nothing from the network
    failing = [e["id"] for e in ledger["entries"] if e["status"] in ("fail", "error", "warn")]
    assert page.values["problems"] == failing
    if faults:
        assert failing, "an error rate of 0.3 should fail something"
    rows = {r["seq"]: r for r in ledger["timeline"]["requests"]}
    points = page.values["timeline"]
    assert len(points) == len(rows) == 20
    for seq, start, duration, outcome, stream in points:
        row = rows[seq]
        assert start == pytest.approx(row["start_s"]) and duration == pytest.approx(row["duration_s"])
        assert outcome == row["outcome"] and (stream == "1") is row["stream"]
    hists = ledger["timeline"]["histograms"]
    for key, total in page.values["hist_total"].items():
        assert total == sum(hists[key]["counts"]), key
    assert dict(page.values["pcts"]) == {k: pytest.approx(v) for k, v in ledger["client"]["ttft_s"].items()
                                         if k in ("p50", "p90", "p99")}
    by_model = ledger["client"]["by_model"]
    assert page.values["models"] == {m: [c["total"], c["failed"]] for m, c in by_model.items()}
    assert page.values["filter"] == 0          # unticking "pass" hides every passing entry


def test_the_summary_and_problems_read_without_javascript(cli, tmp_path):
    ledger, html = _run(cli, tmp_path, "--error-rate", "1")
    page = open_page(html, {"text": "document.body.innerText"}, javascript=False)
    assert page.console_errors == []
    assert ledger["summary"]["verdict"] in page.values["text"]
    first = next(e for e in ledger["entries"] if e["status"] == "fail")
    assert first["name"] in page.values["text"]


@pytest.mark.timing(seconds=3)
def test_a_10000_request_report_is_small_and_opens_fast(tmp_path):
    """Built from a synthetic ledger of 10,000 requests (the timeline keeps 5,000 rows)."""
    from fakeai_contract.client_stats import ClientStats
    from fakeai_contract.report import render

    stats = ClientStats()
    for i in range(10_000):
        stream = i % 2 == 0
        stats.add(model=f"m{i % 5}", stream=stream, ok=i % 97 != 0, latency_s=0.01 + (i % 100) / 1000,
                  ttft_s=0.005 + (i % 50) / 1000 if stream else None, itl_s=[0.002, 0.003] if stream else None,
                  chunks=3, done=stream, seq=i + 1, start_s=i / 1000, http_status=200 if i % 97 else 500)
    doc = json.loads((Path(__file__).parent / "data" / "ledgers" / "seed_pass.json").read_text())
    doc["client"] = stats.to_dict()
    doc["timeline"] = stats.timeline_dict()
    html = tmp_path / "big.html"
    html.write_text(render("html", doc))
    size = html.stat().st_size
    assert size < 2 * 1024 * 1024, size
    t0 = time.monotonic()
    page = open_page(html, {"bars": "document.querySelectorAll('#timeline rect.req').length"})
    assert page.load_s < 2.0, page.load_s
    assert page.values["bars"] == 5000 and page.console_errors == []
    assert time.monotonic() - t0 < 60
