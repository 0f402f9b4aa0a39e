"""The HTML report's inline stylesheet and script (no network: the page carries everything)."""

CSS = """
:root{--ok:#3f7fbf;--oks:#49a8a0;--http:#c8413b;--error:#e08a1e;--warn:#b07d00;--skip:#888;--fg:#1d2330;
--muted:#5b6474;--line:#d9dde4;--bg:#fff;--soft:#f5f7fa}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg);margin:0 auto;padding:16px 24px 48px;max-width:1180px}
h1{font-size:22px;margin:4px 0}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);
padding-bottom:4px}h3{font-size:15px;margin:16px 0 6px}
.meta{color:var(--muted)}.verdict{display:inline-block;padding:3px 10px;border-radius:4px;color:#fff;
font-weight:700;margin-right:8px}.verdict.PASS{background:#2f7d46}.verdict.PARTIAL{background:#b07d00}
.verdict.FAIL{background:#b3261e}.counts span{margin-right:14px}.latency{font-family:ui-monospace,monospace}
.problem{border-left:4px solid var(--http);background:var(--soft);padding:6px 10px;margin:8px 0;list-style:none}
.problem.warn{border-color:var(--warn)}.problem.error{border-color:var(--error)}
.problem dl{display:grid;grid-template-columns:90px 1fr;margin:4px 0 0;gap:2px 8px}
.problem dt{color:var(--muted)}.problem dd{margin:0;font-family:ui-monospace,monospace;white-space:pre-wrap;
word-break:break-word}ol.problems{padding:0}
.status{font-weight:700;text-transform:uppercase;font-size:12px}.status.pass{color:#2f7d46}
.status.fail{color:var(--http)}.status.error{color:var(--error)}.status.warn{color:var(--warn)}
.status.skip{color:var(--skip)}
table.grid{border-collapse:collapse;width:100%;margin:6px 0}table.grid th,table.grid td{border-bottom:1px solid
var(--line);padding:3px 6px;text-align:left;vertical-align:top}table.grid td.v{font-family:ui-monospace,monospace;
font-size:12px;word-break:break-word;max-width:360px}tr.regression td{background:#fdecea;font-weight:600}
.plots{display:flex;flex-wrap:wrap;gap:12px}figure.plot{margin:0;flex:1 1 360px}figcaption{font-weight:600}
svg{width:100%;height:auto;display:block}svg text{font-size:11px;fill:var(--muted)}svg text.end{text-anchor:end}
svg text.pct-label{font-size:11px;text-anchor:start}svg line.axis{stroke:#999}svg line.pct{stroke-width:2;
stroke-dasharray:4 2}rect.bar{fill:var(--ok)}rect.bar.http{fill:var(--http)}
rect.req.ok{fill:var(--ok)}rect.req.ok.s{fill:var(--oks)}rect.req.http{fill:var(--http)}
rect.req.error{fill:var(--error)}rect.req.s{fill-opacity:.85}.legend span{margin-right:14px}
.legend i{display:inline-block;width:12px;height:10px;margin-right:4px;vertical-align:middle}
#filters{display:none;margin:6px 0;gap:10px;flex-wrap:wrap}.js #filters{display:flex}
#filters label{margin-right:6px}details.phase{margin:6px 0}details.phase>summary{cursor:pointer;font-weight:600}
#tip{position:fixed;pointer-events:none;background:#222;color:#fff;padding:3px 6px;border-radius:3px;
font-size:12px;display:none}#comparison.bad h2{color:#b3261e}#comparison.good h2{color:#2f7d46}
"""

JS = """
(function(){
  document.documentElement.className += ' js';
  var boxes = document.querySelectorAll('#filters input[name=status]');
  var tag = document.getElementById('tag-filter');
  function apply(){
    var on = {}; boxes.forEach(function(b){ on[b.value] = b.checked; });
    var t = tag.value;
    document.querySelectorAll('tr.entry').forEach(function(r){
      var tags = r.getAttribute('data-tags').split(' ');
      r.hidden = !(on[r.getAttribute('data-status')] && (!t || tags.indexOf(t) >= 0));
    });
    document.querySelectorAll('details.phase').forEach(function(d){
      var shown = d.querySelectorAll('tr.entry:not([hidden])').length;
      d.querySelector('.shown').textContent = shown;
    });
  }
  boxes.forEach(function(b){ b.addEventListener('change', apply); });
  tag.addEventListener('change', apply);
  var tip = document.getElementById('tip');
  document.addEventListener('mousemove', function(ev){
    var el = ev.target, d = el && el.dataset;
    if (!d || !(d.seq || d.count || d.model)) { tip.style.display = 'none'; return; }
    var text = d.seq ? ('#' + d.seq + ' ' + d.model + (d.stream === '1' ? ' stream' : '') + ' ' + d.outcome +
      ': start ' + (+d.start).toFixed(3) + ' s, ' + (1000 * d.duration).toFixed(1) + ' ms' +
      (d.ttft ? ', TTFT ' + (1000 * d.ttft).toFixed(1) + ' ms' : ''))
      : d.count ? (d.count + ' in ' + (1000 * d.lo).toFixed(2) + '-' + (1000 * d.hi).toFixed(2) + ' ms')
      : (d.model + ': ' + d.total + ' requests, ' + d.failed + ' failed');
    tip.textContent = text; tip.style.display = 'block';
    tip.style.left = (ev.clientX + 12) + 'px'; tip.style.top = (ev.clientY + 12) + 'px';
  });
  apply();
})();
"""
