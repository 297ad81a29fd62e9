"""Reading a rendered status page back: its rows and visible text, with the standard library's HTML parser."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Row:
    css_class: str
    cells: list[str] = field(default_factory=list)
    name: str = ""

    @property
    def text(self) -> str:
        return " | ".join(self.cells)


class PageText(HTMLParser):
    """The rows (class and cell text) of each table by its ID, every tag seen, and the text outside
    ``<style>``. ``rows`` are the object table's; ``tables["cloudworks-items"]`` the CloudWorks table's."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[Row]] = {}
        self._table: list[Row] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text_parts: list[str] = []
        self._in_body_rows = False
        self._cell: list[str] | None = None
        self._name: list[str] | None = None
        self._skip = 0
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.tags.append((tag, values))
        if tag in ("style", "script"):
            self._skip += 1
        elif tag == "table":
            self._table = self.tables.setdefault(values.get("id", ""), [])
        elif tag == "tbody":
            self._in_body_rows = True
        elif tag == "tr" and self._in_body_rows:
            self._table.append(Row(values.get("class", "")))
        elif tag == "td" and self._in_body_rows:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")
        elif tag == "b" and values.get("class") == "name" and self._cell is not None:
            self._name = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1
        elif tag == "tbody":
            self._in_body_rows = False
        elif tag == "b" and self._name is not None:
            self._table[-1].name = "".join(self._name)
            self._name = None
        elif tag == "td" and self._cell is not None:
            self._table[-1].cells.append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text_parts.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._name is not None:
            self._name.append(data)

    @property
    def rows(self) -> list[Row]:
        """The object table's rows."""
        return self.tables.get("objects", [])

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())

    def names(self) -> list[str]:
        """The object names of the rows, in order."""
        return [row.name for row in self.rows]

    def by_id(self, element_id: str) -> dict[str, str] | None:
        return next((attrs for _, attrs in self.tags if attrs.get("id") == element_id), None)
