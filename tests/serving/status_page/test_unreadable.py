"""One object's data never breaks the status page: its row says it is unreadable, the rest is drawn."""

from __future__ import annotations

import dataclasses

import pytest

from anaplan_exporter.serving.status_page import page as cells_module
from anaplan_exporter.serving.status_page import page as sections
from anaplan_exporter.serving.status_page.outcomes import task_outcome
from anaplan_exporter.serving.status_page.page import PageInfo, render_status_page
from anaplan_exporter.snapshot import ObjectStatus, Snapshot
from support.pagetext import PageText

from .test_render import FAILED, NOW, OK, RUNNING, completed, page, ref

BROKEN = ObjectStatus(ref("Broken <b>&", object_id="118000000666"), up=True, task=completed("T-X", True))


def test_a_row_that_fails_to_render_is_marked_unreadable_and_the_others_are_drawn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = cells_module._task_cell

    def task_cell(obj: ObjectStatus, *args: object) -> str:
        if obj.ref.object_id == "118000000666":
            raise ValueError("year 10000 is out of range <script>")
        return real(obj, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(cells_module, "_task_cell", task_cell)
    reported: list[tuple[str, str]] = []
    html = render_status_page(
        Snapshot(objects=(OK, BROKEN, FAILED, RUNNING), ready=True, up=True),
        PageInfo(version="1.2.3", now=NOW),
        on_error=lambda obj, exc: reported.append((obj.ref.object_id, str(exc))),
    )
    shown = PageText(html)
    assert "<script>" not in html and "Broken <b>" not in html  # escaped
    texts = [row.text for row in shown.rows]
    assert len(texts) == 4
    (unreadable,) = [row for row in shown.rows if "could not be shown" in row.text]
    assert "Broken <b>& (process 118000000666)" in unreadable.text
    assert "ValueError: year 10000 is out of range <script>" in unreadable.text
    assert unreadable.css_class == "unknown unreadable"
    assert sorted(row.name for row in shown.rows if row is not unreadable) == ["Close", "Hourly", "Nightly"]
    assert reported == [("118000000666", "year 10000 is out of range <script>")]


def test_an_object_that_cannot_even_be_classified_still_leaves_the_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def outcome(obj: ObjectStatus) -> str:
        if obj.ref.object_id == "118000000666":
            raise TypeError("bad data")
        return task_outcome(obj)

    monkeypatch.setattr("anaplan_exporter.serving.status_page.page.task_outcome", outcome)
    monkeypatch.setattr(cells_module, "_task_cell", lambda *args: 1 / 0)
    shown = page(OK, BROKEN)
    assert len(shown.rows) == 2 and all("could not be shown" in row.text for row in shown.rows)


def test_a_failing_section_becomes_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    def facts(*args: object) -> str:
        raise OverflowError("timestamp out of range")

    monkeypatch.setattr(sections, "exporter_facts", facts)
    shown = page(OK, FAILED)
    assert "The exporter facts could not be shown (OverflowError: timestamp out of range)" in shown.text
    assert shown.names() == ["Nightly", "Hourly"]


@pytest.mark.parametrize("bad", [253402300800.0, 1e300, -1e300, float("nan"), float("inf"), -float("inf")])
def test_impossible_times_in_a_snapshot_render(bad: float) -> None:
    assert OK.task is not None
    obj = dataclasses.replace(
        OK,
        task=dataclasses.replace(OK.task, creation_time=bad),
        last_success_time=bad,
        last_failure_time=bad,
        last_poll_time=bad,
        duration_seconds=bad,
        learned_interval_seconds=bad,
        usual_duration_seconds=bad,
    )
    shown = page(obj, token_expires_at=bad, last_success_time=bad, poll_duration_seconds=bad)
    (row,) = shown.rows
    assert "Hourly" in row.text and "could not be shown" not in row.text
    assert "invalid time" in row.text
