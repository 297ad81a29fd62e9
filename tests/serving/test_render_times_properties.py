"""Whatever float a snapshot holds (NaN, infinities, 1e300, the year 10000), the status page and /metrics
render every object, and the time helpers never raise."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from anaplan_exporter.anaplan.models import ObjectType, Task, TaskResult, TaskState, iso_time
from anaplan_exporter.calendar_rhythm import WeeklySlots
from anaplan_exporter.serving.exposition import render_snapshot
from anaplan_exporter.serving.metrics import SnapshotCollector
from anaplan_exporter.serving.status_page.page import PageInfo, render_status_page
from anaplan_exporter.serving.status_page.pieces import format_duration, relative_time
from anaplan_exporter.snapshot import ObjectRef, ObjectStatus, PollError, Snapshot, StepStatus

ANY_FLOAT = st.floats() | st.sampled_from(
    [
        float("nan"),
        float("inf"),
        -float("inf"),
        1e300,
        -1e300,
        253402300800000.0,
        253402300800.0,
        -62135596801.0,
    ]
)
MAYBE = st.none() | ANY_FLOAT


@st.composite
def statuses(draw: st.DrawFn, index: int) -> ObjectStatus:
    kind = draw(st.sampled_from(list(ObjectType)))
    ref = ObjectRef(
        "ws", "Workspace", "model", "Model", kind, f"11{index:010d}", f"Object {index}",
        expected_every=draw(MAYBE), max_duration=draw(MAYBE),
    )  # fmt: skip
    result = draw(
        st.none()
        | st.builds(
            TaskResult,
            successful=st.booleans(),
            failure_dump_available=st.booleans(),
            duration_seconds=MAYBE,
            start_time=MAYBE,
        )
    )
    task = draw(
        st.none()
        | st.builds(
            Task,
            task_id=st.just("T"),
            state=st.sampled_from(list(TaskState)),
            progress=MAYBE,
            creation_time=MAYBE,
            result=st.just(result),
        )
    )
    steps = draw(
        st.lists(
            st.builds(
                StepStatus,
                step_id=st.just("112000000001"),
                step_name=st.just("Load"),
                successful=st.booleans(),
                duration_seconds=MAYBE,
                start_time=MAYBE,
                failure_dump_available=st.booleans(),
            ),
            max_size=2,
        )
    )
    error = draw(st.none() | st.builds(PollError, st.just("timeout"), st.just("no answer"), ANY_FLOAT))
    return ObjectStatus(
        ref,
        up=draw(st.booleans()),
        task=task,
        duration_seconds=draw(MAYBE),
        steps=tuple(steps),
        last_success_time=draw(MAYBE),
        last_failure_time=draw(MAYBE),
        last_poll_time=draw(MAYBE),
        last_error=error,
        learned_interval_seconds=draw(MAYBE),
        usual_duration_seconds=draw(MAYBE),
        learned_pattern=draw(st.none() | st.just(WeeklySlots((6 * 3600, 3 * 86400 + 6 * 3600)))),
        success_due_time=draw(MAYBE),
    )


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    count = draw(st.integers(0, 3))
    return Snapshot(
        objects=tuple(draw(statuses(i)) for i in range(count)),
        ready=draw(st.booleans()),
        up=draw(st.booleans()),
        last_success_time=draw(MAYBE),
        poll_duration_seconds=draw(MAYBE),
        poll_interval_seconds=draw(ANY_FLOAT),
        token_expires_at=draw(MAYBE),
        oldest_poll_age_seconds=draw(MAYBE),
        budget_used_ratio=draw(MAYBE),
    )


def _no_error(obj: ObjectStatus, exc: Exception) -> None:
    raise AssertionError(f"{obj.ref.object_id} could not be rendered: {exc!r}")


@settings(max_examples=300, deadline=None)
@given(
    snapshots(),
    ANY_FLOAT,
    MAYBE,
    st.sampled_from(["", "state=problems", "state=running", "state=overdue", "refresh=0"]),
    MAYBE,
)
def test_the_status_page_draws_every_object_whatever_the_floats(
    snapshot: Snapshot, now: float, reload_time: float | None, query: str, started: float | None
) -> None:
    info = PageInfo(version="1", now=now, reload_successful=False, reload_time=reload_time,
                    reload_success_time=reload_time, started=started)  # fmt: skip
    html = render_status_page(snapshot, info, query, on_error=_no_error)
    assert html.endswith("</html>\n") and "could not be shown" not in html


@settings(max_examples=300, deadline=None)
@given(snapshots())
def test_metrics_write_every_object_whatever_the_floats(snapshot: Snapshot) -> None:
    for openmetrics in (False, True):
        text = b"".join(render_snapshot(snapshot, openmetrics, on_error=_no_error)).decode()
        for obj in snapshot.objects:
            assert obj.ref.object_id in text
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: snapshot, "1", _no_error))
    generate_latest(registry)


@given(ANY_FLOAT, ANY_FLOAT)
def test_time_helpers_never_raise(value: float, now: float) -> None:
    for text in (iso_time(value), format_duration(value), relative_time(value, now)):
        assert isinstance(text, str) and 0 < len(text) < 100


def test_the_year_10000_is_an_invalid_time_not_an_error() -> None:
    assert iso_time(253402300800.0) == "invalid time"
    assert iso_time(1e300) == "invalid time"
    page = render_status_page(
        Snapshot(objects=(dataclasses.replace(_plain(), last_success_time=253402300800.0),)),
        PageInfo(version="1", now=1_796_000_000.0),
        on_error=_no_error,
    )
    assert "invalid time" in page


def _plain() -> ObjectStatus:
    return ObjectStatus(ObjectRef("ws", "W", "m", "M", ObjectType.IMPORT, "112000000001", "I"), up=True)
