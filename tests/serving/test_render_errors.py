"""One object's data never fails a scrape: its series are left out, counted and logged; the rest is served."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from anaplan_exporter.serving.exposition import make_metrics_app
from anaplan_exporter.serving.metrics import SnapshotCollector
from anaplan_exporter.serving.render_errors import RenderErrors
from anaplan_exporter.snapshot import ObjectStatus, Snapshot

from .test_exposition import PROMETHEUS_ACCEPT, call
from .test_metrics import IMPORT, PROCESS, SNAPSHOT

assert PROCESS.task is not None
# A task whose state is not a TaskState: the families that read it cannot be written for this object.
BROKEN = dataclasses.replace(
    PROCESS,
    ref=dataclasses.replace(PROCESS.ref, object_id="118000000666", object_name="Broken"),
    task=dataclasses.replace(PROCESS.task, state="COMPLETE"),  # type: ignore[arg-type]
)
WITH_BROKEN = dataclasses.replace(SNAPSHOT, objects=(PROCESS, BROKEN, IMPORT))


@pytest.mark.parametrize(
    "accept",
    ["", "application/openmetrics-text", PROMETHEUS_ACCEPT, "text/plain;version=1.0.0;escaping=dots"],
)
def test_a_scrape_leaves_out_the_broken_objects_series_and_keeps_the_rest(accept: str) -> None:
    reported: list[tuple[str, str]] = []
    collector = SnapshotCollector(lambda: WITH_BROKEN, "1.2.3")
    app = make_metrics_app(
        collector,
        CollectorRegistry(),
        lambda obj, exc: reported.append((obj.ref.object_id, type(exc).__name__)),
    )
    status, _, body = call(app, accept=accept)
    assert status == "200 OK"
    text = body.decode()
    _, _, clean = call(
        make_metrics_app(SnapshotCollector(lambda: SNAPSHOT, "1.2.3"), CollectorRegistry()), accept
    )
    good_lines = [line for line in clean.decode().splitlines() if not line.startswith("#")]
    assert good_lines and all(line in text for line in good_lines)  # every other object's series
    broken = [
        line.replace("__", "_") for line in text.splitlines() if "118000000666" in line
    ]  # "dots" doubles _
    assert not [line for line in broken if line.startswith(("anaplan_task_state", "anaplan_task_info"))]
    assert [line for line in broken if line.startswith("anaplan_target_up")]  # its unaffected families stay
    assert reported == [("118000000666", "AttributeError")]  # once per scrape, not once per family


def test_the_library_path_leaves_out_the_broken_object_too() -> None:
    reported: list[str] = []
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: WITH_BROKEN, "1.2.3", lambda obj, exc: reported.append("x")))
    text = generate_latest(registry).decode()
    assert "anaplan_task_state{" in text and "118000000002" in text
    assert not [line for line in text.splitlines() if "118000000666" in line and "anaplan_task_info" in line]
    assert reported == ["x"]


def test_render_errors_are_counted_and_logged_once_a_minute_per_object(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [1000.0]
    registry = CollectorRegistry()
    errors = RenderErrors(registry, clock=lambda: now[0])
    report = errors.for_page("metrics")
    other: ObjectStatus = IMPORT
    with caplog.at_level(logging.WARNING):
        report(BROKEN, ValueError("year 10000 is out of range"))
        report(BROKEN, ValueError("year 10000 is out of range"))
        report(other, ValueError("x"))
        errors.failed("status", BROKEN, ValueError("y"))
        now[0] += 61
        report(BROKEN, ValueError("year 10000 is out of range"))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4
    assert lines[0] == (
        "Broken (process 118000000666) could not be rendered, left out of /metrics: "
        "ValueError: year 10000 is out of range"
    )
    assert registry.get_sample_value("anaplan_exporter_render_errors_total", {"page": "metrics"}) == 4
    assert registry.get_sample_value("anaplan_exporter_render_errors_total", {"page": "status"}) == 1


def test_an_empty_snapshot_still_exports_zero_render_errors() -> None:
    registry = CollectorRegistry()
    RenderErrors(registry)
    assert registry.get_sample_value("anaplan_exporter_render_errors_total", {"page": "metrics"}) == 0
    assert Snapshot().objects == ()
