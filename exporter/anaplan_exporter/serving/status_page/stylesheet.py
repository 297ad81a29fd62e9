"""The page's one stylesheet, inlined in ``<head>`` so that the page needs no other file.

Row and badge colours are keyed by the row status and poll health class names (``outcomes``).
"""

STYLESHEET = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.2em 1.6em;color:#1d2330;
font-size:14px;background:#fafbfc}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.2em 0 .4em}
a{color:#1457b8}nav a{margin-right:1em}.muted,.rel{color:#6b7280}.rel{font-size:.92em}
time,.rel{white-space:nowrap}
.summary{display:flex;gap:.8em;margin:1em 0;flex-wrap:wrap}
.summary a{display:block;padding:.5em 1.1em;border-radius:6px;text-decoration:none;color:#fff;min-width:7em}
.summary b{display:block;font-size:1.8em;line-height:1.1}
.summary .down{background:#8b1a1a}.summary .failed{background:#d12d2d}.summary .running{background:#1f6fd1}
.summary .total{background:#4b5563}.summary .zero{opacity:.45}
dl.facts{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:.25em 1.2em;margin:0}
dl.facts dt{font-weight:600}dl.facts dd{margin:0}
.box{border:1px solid #d7dbe0;border-radius:6px;padding:.6em 1em;background:#fff;margin:.8em 0}
.box.alert{border-color:#d12d2d;background:#fff3f3}.box ul{margin:.3em 0;padding-left:1.4em}
form.filters{display:flex;gap:.8em;align-items:flex-end;flex-wrap:wrap}
form.filters label{display:flex;flex-direction:column;font-size:.85em;color:#4b5563}
form.filters input,form.filters select{font-size:1em;padding:.2em .3em;min-width:9em}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{padding:.35em .5em;text-align:left;vertical-align:top;border-bottom:1px solid #e5e7eb}
th{background:#eef1f5;position:sticky;top:0}
tr.down td:first-child{border-left:5px solid #8b1a1a}tr.failed td:first-child{border-left:5px solid #d12d2d}
tr.running td:first-child{border-left:5px solid #1f6fd1}
tr.cancelled td:first-child{border-left:5px solid #c98a00}
tr.succeeded td:first-child{border-left:5px solid #2e8b57}
tr.none td:first-child,tr.unknown td:first-child{border-left:5px solid #9ca3af}
.badge{display:inline-block;padding:.05em .5em;border-radius:4px;font-size:.85em;font-weight:700;color:#fff}
.badge.down{background:#8b1a1a}.badge.failed{background:#d12d2d}.badge.running{background:#1f6fd1}
.badge.cancelled{background:#c98a00}.badge.succeeded,.badge.up{background:#2e8b57}
.badge.none,.badge.unknown,.badge.pending{background:#9ca3af}
code{font-size:.9em;background:#f1f3f6;padding:0 .25em;border-radius:3px;word-break:break-all}
code.id{white-space:nowrap;word-break:normal}.small{font-size:.9em}.error{color:#8b1a1a;word-break:break-word}.warn{color:#9a5b00}
progress{width:8em;vertical-align:middle}ul.steps{margin:0;padding-left:1.1em}
.note{color:#9a5b00;font-weight:600}
"""
