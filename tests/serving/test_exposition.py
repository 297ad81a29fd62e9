"""/metrics renders the snapshot itself: byte for byte what prometheus_client's encoders write."""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.exposition import choose_encoder
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from anaplan_exporter.anaplan.lookup import Absence
from anaplan_exporter.anaplan.models import ImportRowCounts, ObjectType, Task, TaskResult, TaskState
from anaplan_exporter.serving.exposition import make_metrics_app, render_snapshot
from anaplan_exporter.serving.metrics import FAMILIES, SnapshotCollector, build_families
from anaplan_exporter.snapshot import ObjectStatus, Snapshot, StateFileStatus, StepStatus
from support.fake_anaplan import finished, ref, running

from .test_metrics import SNAPSHOT

TEXTS = st.text(alphabet=st.sampled_from(["a", "Z", "0", " ", '"', "\\", "\n", "é", "→", "{", "}", "=", ","]))
FLOATS = st.floats(allow_nan=False) | st.sampled_from([0.0, 1.0, 1e-9, 123456789.123, 1.7e9, math.inf])


@st.composite
def statuses(draw: st.DrawFn) -> ObjectStatus:
    kind = draw(st.sampled_from(list(ObjectType)))
    object_ref = ref(
        draw(st.sampled_from(["118000000002", "112000000009"])) + draw(TEXTS),
        kind,
        workspace_name=draw(TEXTS),
        object_name=draw(TEXTS),
        expected_every=draw(st.none() | FLOATS),
    )
    task = draw(
        st.none()
        | st.builds(
            Task,
            task_id=TEXTS,
            state=st.sampled_from(list(TaskState)),
            progress=st.none() | FLOATS,
            current_step=TEXTS,
            creation_time=st.none() | FLOATS,
            result=st.none() | st.builds(TaskResult, successful=st.booleans()),
        )
    )
    steps = draw(st.lists(st.builds(StepStatus, TEXTS, TEXTS, st.booleans(), st.none() | FLOATS), max_size=3))
    return ObjectStatus(
        ref=object_ref,
        up=draw(st.booleans()),
        task=task,
        duration_seconds=draw(st.none() | FLOATS),
        steps=tuple(steps),
        row_counts=draw(st.none() | st.builds(ImportRowCounts, total=st.integers(0, 10**9))),
        last_failure_time=draw(st.none() | FLOATS),
        completions={"success": draw(st.integers(0, 10**6))},
        errors={"connection": draw(st.integers(0, 10))},
        learned_interval_seconds=draw(st.none() | FLOATS),
        usual_duration_seconds=draw(st.none() | FLOATS),
        absence=draw(st.none() | st.sampled_from(list(Absence))),
    )


def library(snapshot: Snapshot, openmetrics: bool) -> bytes:
    """What prometheus_client writes for the per-object families alone."""

    class PerObject:
        def collect(self) -> Iterable[Any]:
            return build_families(snapshot, "1")[: len(FAMILIES)]

    registry = CollectorRegistry()
    registry.register(PerObject())
    if openmetrics:
        return generate_openmetrics(registry).removesuffix(b"# EOF\n")  # type: ignore[no-untyped-call,no-any-return]
    return generate_latest(registry)


@settings(max_examples=150, deadline=None)
@given(st.lists(statuses(), max_size=4), st.booleans())
def test_render_matches_the_library_byte_for_byte(objects: list[ObjectStatus], openmetrics: bool) -> None:
    snapshot = Snapshot(objects=tuple(objects))
    assert b"".join(render_snapshot(snapshot, openmetrics)) == library(snapshot, openmetrics)


def test_render_streams_large_snapshots_in_chunks() -> None:
    objects = tuple(
        ObjectStatus(ref=ref(f"118{i:09d}"), up=True, task=finished(f"T{i}", 1.7e9)) for i in range(5000)
    )
    snapshot = Snapshot(objects=objects)
    chunks = list(render_snapshot(snapshot))
    assert len(chunks) > len(FAMILIES)
    assert max(len(c) for c in chunks) < sum(len(c) for c in chunks) / 10  # a few MB at most
    assert b"".join(chunks) == library(snapshot, False)


def call(
    app: Any, accept: str = "", encoding: str = "", query: str = ""
) -> tuple[str, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    environ = {"HTTP_ACCEPT": accept, "HTTP_ACCEPT_ENCODING": encoding, "QUERY_STRING": query}
    body = b"".join(app(environ, start_response))
    if seen["headers"].get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return seen["status"], seen["headers"], body


PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,"
    "text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
)


def test_app_serves_what_make_wsgi_app_would_in_every_format() -> None:
    own = CollectorRegistry()
    Counter("anaplan_api_retries", "Retries.", ["reason"], registry=own).labels("connection").inc()
    saving = StateFileStatus("/state.json", last_save_time=1677624600.0, save_failures=2, last_error="Full")
    snapshot = replace(SNAPSHOT, state_file=saving)
    collector = SnapshotCollector(lambda: snapshot, "1.2.3")
    reference = CollectorRegistry()
    reference.register(collector)
    reference.register(own)
    app = make_metrics_app(collector, own)
    accepts = [
        "",
        "text/plain",
        "application/openmetrics-text",
        PROMETHEUS_ACCEPT,
        "text/plain;version=1.0.0;escaping=underscores",
        "application/openmetrics-text;version=1.0.0;escaping=values",
        "application/openmetrics-text;version=1.0.0;escaping=dots",
    ]
    for accept in accepts:
        for encoding in ("", "gzip"):
            status, headers, body = call(app, accept, encoding)
            encoder, content_type = choose_encoder(accept)
            assert status == "200 OK"
            assert headers["Content-Type"] == content_type
            assert body == encoder(reference), (accept, encoding)
    assert b"anaplan_exporter_state_file_save_failures_total 2.0" in call(app)[2]
    _, _, filtered = call(app, query="name[]=anaplan_api_retries_total")
    assert filtered == generate_latest(own.restricted_registry(["anaplan_api_retries_total"]))
    assert b"anaplan_api_retries_total" in filtered and b"anaplan_task_state" not in filtered


def test_app_reads_the_current_snapshot_once_per_scrape() -> None:
    current = {"snap": SNAPSHOT}
    calls = []

    def get() -> Snapshot:
        calls.append(1)
        return current["snap"]

    app = make_metrics_app(SnapshotCollector(get, "1"), CollectorRegistry())
    assert b'object_id="112000000009"' in call(app)[2]
    current["snap"] = Snapshot(
        objects=(ObjectStatus(ref=ref("116000000001", ObjectType.EXPORT), task=running("R", 1.0)),)
    )
    body = call(app)[2]
    assert b'object_id="112000000009"' not in body and b'object_id="116000000001"' in body
    assert len(calls) == 2
