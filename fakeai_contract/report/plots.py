"""Hand-written SVG plots from the ledger's timeline: latency histograms, the request timeline,
per-model counts. Every data point carries data-* attributes with the ledger's own numbers."""

from __future__ import annotations

from html import escape
from typing import Any

from fakeai_contract.report import view

W, H = 520, 200            # one histogram's drawing area
PAD_L, PAD_B, PAD_T = 44, 28, 18
LANE_H, TIMELINE_W = 6, 1040
MAX_LANES = 120            # lanes beyond this share rows, so a huge concurrency stays readable
PCT_STYLE = (("p50", "#2f6f3e"), ("p90", "#b07d00"), ("p99", "#b3261e"))
HISTOGRAMS = (("ttft_s", "Time to first token"), ("itl_s", "Inter-token latency"),
              ("latency_s", "End-to-end latency"))


def _n(x: float) -> str:
    """A coordinate with at most one decimal: plots need no more, and the file stays small."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.3g} ms"


def _attr(value: Any) -> str:
    return escape(view.text(value), quote=True)


def histogram(key: str, title: str, hist: Any, pcts: Any) -> str:
    """One histogram with its p50/p90/p99 lines; empty text when nothing was measured."""
    h, pcts = view.mapping(hist), view.mapping(pcts)
    counts = [int(c) for c in view.listed(h.get("counts")) if isinstance(c, int) and not isinstance(c, bool)]
    lo, hi = view.number(h.get("lo"), None), view.number(h.get("hi"), None)
    if not counts or lo is None or hi is None:
        return ""
    span = (hi - lo) or max(abs(hi), 1e-6)
    top = max(counts) or 1
    bw = W / len(counts)
    x_of = lambda s: PAD_L + (s - lo) / span * W  # noqa: E731
    out = [f'<figure class="plot"><figcaption>{escape(title)}</figcaption>'
           f'<svg id="hist-{key}" class="histogram" role="img" viewBox="0 0 {PAD_L + W + 10} {PAD_T + H + PAD_B}"'
           f' data-key="{key}" data-lo="{lo}" data-hi="{hi}" data-bins="{len(counts)}"'
           f' data-total="{sum(counts)}"><title>{escape(title)}</title>']
    for i, c in enumerate(counts):
        bh = c / top * H
        b_lo, b_hi = lo + i * span / len(counts), lo + (i + 1) * span / len(counts)
        out.append(f'<rect class="bar" x="{_n(PAD_L + i * bw)}" y="{_n(PAD_T + H - bh)}" width="{_n(max(bw - 1, 0.5))}"'
                   f' height="{_n(bh)}" data-index="{i}" data-count="{c}" data-lo="{b_lo:.6g}" data-hi="{b_hi:.6g}"/>')
    # the labels stand in a row at the top left: at their markers they overlap when p90 and p99 are close
    for k, (p, colour) in enumerate(PCT_STYLE):
        v = view.number(pcts.get(p), None)
        if v is None:
            continue
        x = _n(min(max(x_of(v), PAD_L), PAD_L + W))
        out.append(f'<line class="pct" x1="{x}" x2="{x}" y1="{PAD_T - 2}" y2="{PAD_T + H}" stroke="{colour}"'
                   f' data-p="{p}" data-value="{v}"/><text class="pct-label" x="{PAD_L + k * 120}" y="{PAD_T - 6}"'
                   f' fill="{colour}">{p} {_ms(v)}</text>')
    base = PAD_T + H
    out.append(f'<line class="axis" x1="{PAD_L}" x2="{PAD_L + W}" y1="{base}" y2="{base}"/>'
               f'<text class="tick" x="{PAD_L}" y="{base + 16}">{_ms(lo)}</text>'
               f'<text class="tick end" x="{PAD_L + W}" y="{base + 16}">{_ms(hi)}</text>'
               f'<text class="tick end" x="{PAD_L - 4}" y="{PAD_T + 8}">{top}</text>'
               f'<text class="tick end" x="{PAD_L - 4}" y="{base}">0</text></svg></figure>')
    return "".join(out)


def histograms(timeline: dict, client: dict) -> str:
    """The three latency histograms that have data."""
    hists = view.mapping(timeline.get("histograms"))
    return "".join(histogram(k, t, hists.get(k), client.get(k)) for k, t in HISTOGRAMS)


def _lanes(rows: list[dict]) -> list[int]:
    """A lane per request so overlapping requests never share one (greedy, in start order)."""
    ends: list[float] = []
    lanes = []
    for r in rows:
        start, end = r["start_s"], r["start_s"] + r["duration_s"]
        lane = next((i for i, e in enumerate(ends) if e <= start), None)
        if lane is None:
            ends.append(end)
            lane = len(ends) - 1
        else:
            ends[lane] = end
        lanes.append(min(lane, MAX_LANES - 1))
    return lanes


def _rows(timeline: dict) -> list[dict]:
    rows = []
    for raw in view.listed(timeline.get("requests")):
        r = view.mapping(raw)
        start, dur = view.number(r.get("start_s"), None), view.number(r.get("duration_s"), None)
        if start is None or dur is None:
            continue
        rows.append({**r, "start_s": start, "duration_s": dur})
    return sorted(rows, key=lambda r: r["start_s"])


def request_timeline(timeline: dict) -> str:
    """One bar per kept request: start to end, in a lane, coloured by outcome and streaming."""
    rows = _rows(timeline)
    if not rows:
        return ""
    lanes = _lanes(rows)
    end = max(r["start_s"] + r["duration_s"] for r in rows) or 1e-6
    height = (max(lanes) + 1) * LANE_H
    scale = TIMELINE_W / end
    out = [f'<svg id="timeline" class="timeline" role="img" viewBox="0 0 {TIMELINE_W + 60} {height + 30}"'
           f' data-requests="{len(rows)}" data-end="{end:.6f}"><title>Request timeline</title>']
    for r, lane in zip(rows, lanes):
        outcome = r.get("outcome") if r.get("outcome") in ("ok", "http", "error") else "error"
        stream = r.get("stream") is True
        ttft = view.number(r.get("ttft_s"), None)
        out.append(f'<rect class="req {outcome}{" s" if stream else ""}" x="{_n(r["start_s"] * scale)}"'
                   f' y="{lane * LANE_H}" width="{_n(max(r["duration_s"] * scale, 0.5))}" height="{LANE_H - 1}"'
                   f' data-seq="{_attr(r.get("seq"))}" data-start="{r["start_s"]}" data-duration="{r["duration_s"]}"'
                   f' data-outcome="{outcome}" data-stream="{"1" if stream else "0"}"'
                   f' data-model="{_attr(r.get("model"))}"'
                   + (f' data-ttft="{ttft}"' if ttft is not None else "") + "/>")
    out.append(f'<text class="tick" x="0" y="{height + 16}">0 s</text>'
               f'<text class="tick end" x="{TIMELINE_W}" y="{height + 16}">{end:.3f} s</text></svg>')
    return "".join(out)


def _label(name: str, room: int = 22) -> str:
    """A model name that fits left of its bar: the end, which tells models apart (…Llama-3.1-8B-Instruct)."""
    return name if len(name) <= room else "…" + name[-(room - 1):]


def models(timeline: dict, client: dict) -> str:
    """Per model: a bar of requests (failures in red) and a table of latency and TTFT."""
    by_model = view.mapping(timeline.get("by_model")) or view.mapping(client.get("by_model"))
    if not by_model:
        return ""
    top = max((view.number(view.mapping(m).get("total")) or 0) for m in by_model.values()) or 1
    bar_w, row_h = 360, 22
    svg = [f'<svg id="models" class="models" role="img" viewBox="0 0 {bar_w + 200} {row_h * len(by_model) + 4}">'
           '<title>Requests per model</title>']
    rows = []
    for i, (name, raw) in enumerate(by_model.items()):
        m = view.mapping(raw)
        total, failed = view.number(m.get("total")) or 0, view.number(m.get("failed")) or 0
        y, w, fw = i * row_h, total / top * bar_w, failed / top * bar_w
        svg.append(f'<g class="model" data-model="{_attr(name)}" data-total="{int(total)}" data-failed="{int(failed)}">'
                   f'<title>{escape(name)}</title>'
                   f'<text class="tick end" x="146" y="{y + 15}">{escape(_label(name))}</text>'
                   f'<rect class="bar ok" x="150" y="{y + 3}" width="{_n(w)}" height="{row_h - 6}"/>'
                   f'<rect class="bar http" x="{_n(150 + w - fw)}" y="{y + 3}" width="{_n(fw)}" height="{row_h - 6}"/>'
                   f'<text class="tick" x="{_n(154 + w)}" y="{y + 15}">{int(total)}'
                   f'{f" ({int(failed)} failed)" if failed else ""}</text></g>')
        lat, ttft = view.mapping(m.get("latency_s")), view.mapping(m.get("ttft_s"))
        cells = [escape(name), str(int(total)), str(int(failed))]
        cells += [_ms(view.number(lat.get(p), None)) for p in ("p50", "p90", "p99")]
        cells += [_ms(view.number(ttft.get(p), None)) for p in ("p50", "p99")]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    svg.append("</svg>")
    head = "".join(f"<th>{h}</th>" for h in ("model", "requests", "failed", "latency p50", "p90", "p99",
                                              "TTFT p50", "p99"))
    return ("".join(svg) + f'<table class="grid" id="model-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')
