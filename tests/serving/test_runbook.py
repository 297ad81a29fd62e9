"""The runbook page: docs/runbook.md, shipped in the package, drawn as HTML with GitHub's heading anchors."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from anaplan_exporter.serving import runbook
from anaplan_exporter.serving.runbook import github_anchor, render_runbook, runbook_page, runbook_text

REPO = Path(__file__).resolve().parents[2]
DOCS_RUNBOOK = REPO / "docs" / "runbook.md"
PACKAGED = Path(runbook.__file__).with_name("runbook.md")


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text, of a page."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def ids(page: str) -> list[str]:
    return [str(attrs["id"]) for _, attrs in Tags(page).tags if "id" in attrs]


def test_the_package_ships_docs_runbook_md_itself() -> None:
    """A link, not a copy: a section added to docs/runbook.md is served without another step."""
    assert PACKAGED.is_symlink()
    assert PACKAGED.resolve() == DOCS_RUNBOOK.resolve()
    assert runbook_text() == DOCS_RUNBOOK.read_text(encoding="utf-8")
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    package_data = re.search(
        r"^anaplan_exporter = \[(.*)\]$", pyproject.split("[tool.setuptools.package-data]")[1], re.M
    )
    assert package_data and '"serving/runbook.md"' in package_data.group(1), "a pip install needs it"


def test_every_runbook_heading_gets_githubs_anchor() -> None:
    text = runbook_text()
    headings = [line.lstrip("#").strip() for line in text.splitlines() if re.match(r"#{1,6} ", line)]
    assert headings and ids(runbook_page()) == [github_anchor(h) for h in headings]
    assert "anaplantaskfailed" in ids(runbook_page())


def test_github_anchor_drops_punctuation_and_joins_words_with_hyphens() -> None:
    assert github_anchor("AnaplanTaskFailed") == "anaplantaskfailed"
    assert github_anchor(" Runbook: anaplan-exporter alerts ") == "runbook-anaplan-exporter-alerts"
    assert ids(render_runbook("## Same\n\n## Same\n\n## `Code` **and** [link](#x)\n")) == [
        "same",
        "same-1",
        "code-and-link",
    ]


def test_markdown_blocks_become_html() -> None:
    page = render_runbook(
        "# Title\n\nA paragraph\nover two lines.\n\n- one\n  continued\n- two\n\n1. first\n2. second\n\n"
        "| A | B |\n|---|---|\n| `x|` | y |\n\n```\ncode <here>\n```\n"
    )
    assert "<p>A paragraph over two lines.</p>" in page
    assert "<ul><li>one continued</li><li>two</li></ul>" in page
    assert "<ol><li>first</li><li>second</li></ol>" in page
    assert "<thead><tr><th>A</th><th>B</th></tr></thead>" in page
    assert "<pre><code>code &lt;here&gt;</code></pre>" in page


def test_inline_markdown_is_escaped_and_links_leave_the_repository_out() -> None:
    page = render_runbook(
        "**Bold** `<code> **not bold**` <script>alert(1)</script> [section](#anaplantaskstuck) "
        "[site](https://example.org/a?b=1&c=2) [rules](../config/prometheus/anaplan-rules.yml)\n"
    )
    assert "<strong>Bold</strong>" in page
    assert "<code>&lt;code&gt; **not bold**</code>" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    hrefs = [attrs.get("href") for tag, attrs in Tags(page).tags if tag == "a"]
    assert hrefs == [".", "#anaplantaskstuck", "https://example.org/a?b=1&c=2"]
    assert ">rules<" not in page and " rules" in page, "a file of the repository is shown as text"
