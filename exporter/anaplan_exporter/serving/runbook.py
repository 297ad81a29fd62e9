"""The runbook page ``/runbook``: docs/runbook.md, shipped with the package, drawn as HTML.

The alert rules' default ``runbook_url`` is ``http://{{ $labels.instance }}/runbook#<alert, lower case>``:
every install has a runbook link that opens, without a wiki or repository to publish it in. Headings get the
anchors GitHub gives them, so a link into docs/runbook.md and a link into this page share their fragment.

The Markdown is the small subset the runbook is written in: headings, paragraphs, lists, tables, fenced code,
inline code, bold and links. Links into other files of the repository are shown as their text (the page has
no repository to point at); links to anchors and to ``http(s)`` addresses stay links.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterator
from importlib import resources

RUNBOOK_PATH = "/runbook"
_SOURCE = "runbook.md"  # a link to docs/runbook.md inside this package (package data)

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^(\s*)(?:[-*+]|\d+[.)])\s+(.*)$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def runbook_text() -> str:
    """The runbook's Markdown as installed with the package."""
    return resources.files(__package__).joinpath(_SOURCE).read_text(encoding="utf-8")


@functools.cache
def runbook_page() -> str:
    """The runbook as one HTML page (rendered once: the text ships with the package and never changes)."""
    return render_runbook(runbook_text())


def render_runbook(markdown: str) -> str:
    body = "\n".join(_blocks(markdown.splitlines()))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Runbook: anaplan-exporter alerts</title><style>{_STYLESHEET}</style></head><body>\n"
        '<nav><a href=".">Status page</a></nav>\n'
        f"{body}\n</body></html>\n"
    )


def _blocks(lines: list[str]) -> Iterator[str]:
    """HTML for each block of ``lines``: heading, fenced code, table, list or paragraph."""
    seen: dict[str, int] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif heading := _HEADING.match(line):
            level, text = len(heading.group(1)), heading.group(2)
            anchor = _unique(github_anchor(_plain(text)), seen)
            yield f'<h{level} id="{html.escape(anchor)}">{_inline(text)}</h{level}>'
            i += 1
        elif fence := _FENCE.match(line):
            end = next(
                (j for j in range(i + 1, len(lines)) if lines[j].strip().startswith(fence.group(1))),
                len(lines),
            )
            code = "\n".join(lines[i + 1 : end])
            yield f"<pre><code>{html.escape(code)}</code></pre>"
            i = end + 1
        elif line.lstrip().startswith("|") and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1]):
            end = i + 2
            while end < len(lines) and lines[end].lstrip().startswith("|"):
                end += 1
            yield _table(lines[i], lines[i + 2 : end])
            i = end
        elif first := _ITEM.match(line):
            items: list[str] = []
            ordered = line.lstrip()[0].isdigit()
            while i < len(lines) and lines[i].strip():
                item = _ITEM.match(lines[i])
                if item and len(item.group(1)) == len(first.group(1)):
                    items.append(item.group(2))
                else:  # a continuation line of the item above
                    items[-1] += " " + lines[i].strip()
                i += 1
            tag = "ol" if ordered else "ul"
            yield f"<{tag}>" + "".join(f"<li>{_inline(item)}</li>" for item in items) + f"</{tag}>"
        else:
            paragraph: list[str] = []
            while i < len(lines) and lines[i].strip() and not _starts_block(lines, i):
                paragraph.append(lines[i].strip())
                i += 1
            yield f"<p>{_inline(' '.join(paragraph))}</p>"


def _starts_block(lines: list[str], i: int) -> bool:
    line = lines[i]
    return bool(_HEADING.match(line) or _FENCE.match(line) or _ITEM.match(line)) or (
        line.lstrip().startswith("|") and i + 1 < len(lines) and bool(_TABLE_RULE.match(lines[i + 1]))
    )


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def _table(header: str, rows: list[str]) -> str:
    head = "".join(f"<th>{_inline(cell)}</th>" for cell in _cells(header))
    body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in _cells(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _unique(anchor: str, seen: dict[str, int]) -> str:
    """GitHub's anchors for repeated headings: ``name``, ``name-1``, ``name-2``."""
    count = seen.get(anchor, 0)
    seen[anchor] = count + 1
    return anchor if count == 0 else f"{anchor}-{count}"


def _plain(text: str) -> str:
    """A heading's text without its Markdown (for its anchor)."""
    text = _LINK.sub(r"\1", text)
    return text.replace("**", "").replace("`", "")


def _inline(text: str) -> str:
    """Escaped text with code spans, bold and links (nothing inside a code span counts as Markdown)."""
    spans: list[str] = []

    def keep(match: re.Match[str]) -> str:
        spans.append(f"<code>{html.escape(match.group(2).strip())}</code>")
        return f"\x00{len(spans) - 1}\x00"

    out = html.escape(_CODE_SPAN.sub(keep, text), quote=False)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _LINK.sub(_link, out)
    return re.sub(r"\x00(\d+)\x00", lambda m: spans[int(m.group(1))], out)


def _link(match: re.Match[str]) -> str:
    text, target = match.group(1), html.unescape(match.group(2))
    if target.startswith(("#", "http://", "https://")):
        return f'<a href="{html.escape(target)}">{text}</a>'
    return text  # a file of the repository, which this page cannot link to


_STYLESHEET = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.2em auto;padding:0 1.6em;
max-width:60em;color:#1d2330;font-size:15px;line-height:1.5;background:#fafbfc}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;padding-top:.6em;border-top:1px solid #d8dde6}
h2:target{background:#fff4c2}a{color:#1457b8}nav a{margin-right:1em}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em;background:#eef1f5;
padding:0 .25em;border-radius:3px}pre{background:#eef1f5;padding:.6em;overflow-x:auto}pre code{padding:0}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #d8dde6;padding:.3em .6em;
text-align:left;vertical-align:top}th{background:#eef1f5}
"""
