"""Property: whatever the runs of an integration and whenever the lists are read (or fail), and across
restarts with the state file, every run that finished after the first look is counted exactly once, under
its own result."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anaplan_exporter.anaplan.cloudworks_models import Run
from anaplan_exporter.anaplan.errors import AnaplanConnectionError
from anaplan_exporter.config.cloudworks import CloudWorksConfig, CloudWorksSelection
from anaplan_exporter.polling.poller import Poller
from anaplan_exporter.polling.state import StateStore
from polling.test_poller_cloudworks import POLLING, SALES, Clock, anaplan, target
from support.fake_cloudworks import FakeCloudWorks, integration

T = 1_780_000_000.0
CONFIG = CloudWorksConfig(flows=CloudWorksSelection())
OUTCOMES = {
    "success": (True, "Success"),
    "failure": (False, "Process failed"),
    "cancelled": (None, "Cancelled"),
}

RARE = st.sampled_from([False, False, False, False, True])
runs_strategy = st.lists(
    st.tuples(
        st.floats(0.5, 40.0),  # gap before the run starts
        st.floats(0.5, 40.0),  # its duration
        st.sampled_from(sorted(OUTCOMES)),
    ),
    min_size=1,
    max_size=12,
)
reads_strategy = st.lists(
    st.tuples(st.floats(0.5, 30.0), RARE, RARE),  # wait, the read fails, a restart before it
    min_size=1,
    max_size=40,
)


def listed(runs: list[tuple[float, float, str]], now: float) -> list[Run]:
    """The runs started by ``now``, newest first, as CloudWorks would show them then."""
    out = []
    for start, end, result in runs:
        if start > now:
            break
        if end > now:
            out.append(Run(start=start, trigger_source="scheduled"))
        else:
            success, message = OUTCOMES[result]
            out.append(Run(start=start, end=end, success=success, message=message))
    return out[::-1]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=runs_strategy, reads=reads_strategy)
def test_every_run_is_counted_once(
    tmp_path_factory: object, runs: list[tuple[float, float, str]], reads: list[tuple[float, bool, bool]]
) -> None:
    folder = Path(tmp_path_factory.mktemp("state"))  # type: ignore[attr-defined]
    schedule, at = [], T + 1.0
    for gap, duration, result in runs:
        start = at + gap
        schedule.append((start, start + duration, result))
        at = start + duration
    cw = FakeCloudWorks()
    clock = Clock(T)

    def show() -> None:
        history = listed(schedule, clock.now)
        cw.integrations[SALES] = integration(SALES, "Load sales", run=history[0] if history else None)
        cw.history[SALES] = history

    def start_poller() -> Poller:
        store = StateStore(folder / "state.json", clock=clock)
        store.load()
        return Poller(
            anaplan(), [target()], POLLING, clock=clock, cloudworks=cw, cloudworks_config=CONFIG, state=store
        )

    show()
    poller = start_poller()
    poller.tick()  # the first look: nothing has run yet
    for wait, fails, restart in reads:
        clock.now += wait
        show()
        if restart:
            poller.stop()
            poller = start_poller()
        cw.failing = AnaplanConnectionError("refused", "cloudworks_integrations") if fails else None
        poller.tick()
    clock.now = max(clock.now, at) + 1.0
    show()
    cw.failing = None
    for _ in range(2):  # after the last run: two good reads
        clock.now += 5.0
        poller.tick()
    poller.stop()
    (item,) = poller.snapshot.cloudworks.items
    expected = Counter(result for *_, result in schedule)
    assert {k: v for k, v in item.completions.items() if v} == dict(expected)
