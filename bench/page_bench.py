"""Cost of rendering the status page (``/``) in-process, for 100 to 10,000 watched objects.

The snapshot mixes what a large tenant shows: processes with four steps, 5 % of objects failed with a dump,
2 % down with an error message, 5 % running, the rest succeeded. Each query is rendered ``--repeat`` times and
the median is printed, with the page size and the number of rows drawn. No figure is an assertion: it prints
PASS or MISS against the target (under 100 ms at 10,000 objects) and exits 1 on any MISS.

Usage: python bench/page_bench.py [--sizes 100,1000,10000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from anaplan_exporter.anaplan.models import ImportRowCounts, ObjectType, Task, TaskResult, TaskState
from anaplan_exporter.serving.status_page.page import PageInfo, render_status_page
from anaplan_exporter.snapshot import ObjectRef, ObjectStatus, PollError, Snapshot, StepStatus

TARGET_MS = 100.0
QUERIES = ("", "state=problems", "state=running&type=process", "workspace=Workspace+7&name=Load+00")
KINDS = (ObjectType.PROCESS, ObjectType.IMPORT, ObjectType.EXPORT, ObjectType.ACTION)


def make_snapshot(size: int, now: float) -> Snapshot:
    objects = []
    for i in range(size):
        kind = KINDS[i % 4]
        ref = ObjectRef(
            f"8a8b8c8d8e8f{i % 20:04d}",
            f"Workspace {i % 20}",
            f"{i % 200:032X}",
            f"Planning model {i % 200}",
            kind,
            f"{kind.id_prefix}{i:09d}",
            f"Load {i:05d} from source-system-{i % 37}.csv",
            expected_every=3600.0,
            max_duration=14400.0,
        )
        failed, down, running = i % 20 == 3, i % 50 == 7, i % 20 == 12
        steps = (
            tuple(
                StepStatus(
                    f"11200000{j:04d}",
                    f"Step {j} of {ref.object_name}",
                    not (failed and j == 2),
                    duration_seconds=30.0,
                    failure_dump_available=failed and j == 2,
                )
                for j in range(4)
            )
            if kind is ObjectType.PROCESS
            else ()
        )
        if running:
            task = Task(
                f"{i:032X}",
                TaskState.IN_PROGRESS,
                progress=0.4,
                current_step="Step 2",
                creation_time=now - 90,
            )
        else:
            result = TaskResult(successful=not failed, failure_dump_available=failed, duration_seconds=120.0)
            task = Task(f"{i:032X}", TaskState.COMPLETE, creation_time=now - 900, result=result)
        objects.append(
            ObjectStatus(
                ref,
                up=not down,
                task=task,
                duration_seconds=120.0,
                steps=steps,
                row_counts=ImportRowCounts(1200, 1150, 20, 30, 4) if kind is ObjectType.IMPORT else None,
                last_success_time=now - 4000,
                last_failure_time=now - 900 if failed else None,
                last_poll_time=now - 20,
                last_error=PollError("server_error", "HTTP 503 from Anaplan: Service Unavailable", now - 20)
                if down
                else None,
            )
        )
    return Snapshot(objects=tuple(objects), ready=True, up=True, token_expires_at=now + 1500)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    now = time.time()
    info = PageInfo(version="bench", now=now)
    missed = False
    print(f"{'objects':>8} {'query':<45} {'median ms':>10} {'max ms':>8} {'rows':>5} {'KB':>6}")
    for size in (int(s) for s in args.sizes.split(",")):
        snapshot = make_snapshot(size, now)
        for query in QUERIES:
            timings = []
            page = ""
            for _ in range(args.repeat):
                start = time.perf_counter()
                page = render_status_page(snapshot, info, query)
                timings.append((time.perf_counter() - start) * 1000)
            median = statistics.median(timings)
            verdict = ""
            if size >= 10000:
                ok = median < TARGET_MS
                missed |= not ok
                verdict = "PASS" if ok else "MISS"
            rows = page.count("<tr class=")
            print(
                f"{size:>8} {query or '(none)':<45} {median:>10.1f} {max(timings):>8.1f} {rows:>5} "
                f"{len(page.encode()) / 1024:>6.0f} {verdict}"
            )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
