"""The tenant check (``tenant_check``): its table and exit code, name matching, the budget verdicts, the state
folder, and each kind of finding against an in-process simulator."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anaplan_exporter.config.cloudworks import CloudWorksMode
from anaplan_exporter.config.file import Config, parse_config
from anaplan_exporter.polling.state_lock import StateLock
from anaplan_exporter.tenant_check import (
    ITEM_WIDTH,
    Load,
    Report,
    Row,
    SentRequests,
    Verdict,
    budget_row,
    check_tenant,
    state_row,
    state_verdict,
)
from anaplan_simulator.scenario import parse_scenario
from anaplan_simulator.server import SimulatorServer
from support.simulator import serve_in_thread

WS, MODEL = "8a8b8c8d8e8f8g8i", "75A40874E6B64FA3AE0743278996850F"
SENT = SentRequests(logins=1, gets=4, peak_per_second=2)


def _report(*verdicts: Verdict) -> Report:
    rows = tuple(Row(v, "check", f"item {i}", f"detail {i}") for i, v in enumerate(verdicts))
    return Report("exporter.yml", rows, SENT, 5.0)


# --- the table and the exit code ---


@pytest.mark.parametrize(
    ("verdicts", "code", "summary"),
    [
        ((Verdict.OK, Verdict.INFO), 0, "0 problems, 0 warnings"),
        ((Verdict.OK, Verdict.WARN, Verdict.INFO), 0, "0 problems, 1 warning"),
        ((Verdict.FAIL, Verdict.WARN, Verdict.WARN), 1, "1 problem, 2 warnings"),
        ((Verdict.FAIL, Verdict.FAIL), 1, "2 problems, 0 warnings"),
    ],
)
def test_any_fail_row_and_only_a_fail_row_makes_the_exit_code_1(
    verdicts: tuple[Verdict, ...], code: int, summary: str
) -> None:
    report = _report(*verdicts)
    assert report.exit_code == code
    last = report.render().splitlines()[-1]
    assert last == (
        f"exporter.yml: {summary}. This check sent 1 login (POST) and 4 GETs, at most 2 in any second "
        "(anaplan.requests_per_second 5)."
    )


def test_the_table_lines_up_its_columns_and_shortens_long_items_in_the_middle() -> None:
    path = "/var/lib/anaplan-exporter/" + "x" * 80 + "/state.json"
    rows = (
        Row(Verdict.OK, "auth", "basic as a@example.com", "logged in"),
        Row(Verdict.FAIL, "  process", "targets[0].processes 'x'", "not found"),
        Row(Verdict.OK, "state", path, "writable"),
    )
    lines = Report("f.yml", rows, SENT, 5.0).render().splitlines()
    assert lines[0].split() == ["RESULT", "CHECK", "ITEM", "DETAIL"]
    column = lines[0].index("DETAIL")
    assert [line[column:] for line in lines[1:4]] == ["logged in", "not found", "writable"]
    assert lines[2].startswith("FAIL    " + "  process  targets[0].processes 'x'")
    item = lines[3][lines[0].index("ITEM") : column].rstrip()
    assert len(item) == ITEM_WIDTH and item.startswith("/var/lib/") and item.endswith("x/state.json")
    assert "..." in item
    assert lines[4] == ""


# --- the request budget ---


def _config(**polling: float) -> Config:
    data: dict[str, Any] = {
        "anaplan": {"auth": {"method": "token", "token": "t"}, "requests_per_second": 5},
        "targets": [{"workspace": WS, "model": MODEL, "processes": "*"}],
        "polling": {"idle_interval": 60, **polling},
    }
    return parse_config(data, "exporter.yml", {})


def _load(objects: int, running: int = 0) -> Load:
    return Load(objects=objects, with_runs=objects, running=running, processes=0, catalog_requests=3)


def test_the_budget_is_ok_up_to_four_fifths_of_what_the_limiter_sustains() -> None:
    row = budget_row(_config(), _load(100, running=2))
    assert row.verdict is Verdict.OK
    assert row.item == "100 objects every 60 s at 5 req/s"
    # 100/60 idle + 2 x 2/5 running + 3/600 discovery = 2.47 of 5 / 1.1 = 4.55
    assert row.detail.startswith("needs 2.47 req/s = 54% of the 4.55 req/s the limiter sustains")
    assert "start-up about 204 requests, ready in about 45 s" in row.detail


def test_a_budget_nearly_spent_or_stretched_warns_and_one_past_the_behind_alert_fails() -> None:
    tight = budget_row(_config(), _load(250))
    assert tight.verdict is Verdict.WARN and "little room left" in tight.detail
    stretched = budget_row(_config(), _load(500))
    assert stretched.verdict is Verdict.WARN and "the idle sweep stretches to about 110 s" in stretched.detail
    behind = budget_row(_config(), _load(1000, running=10))
    assert behind.verdict is Verdict.FAIL
    assert "more than 3 idle intervals (AnaplanPollingBehind)" in behind.detail


def test_the_cloudworks_lists_count_with_their_interval_up_to_their_share_of_the_budget() -> None:
    lists = dataclasses.replace(_load(100, running=2), cloudworks_list_requests=2)
    row = budget_row(_config(), lists)
    # 2.47 as above + 2 requests every 5 s (cloudworks.list_interval)
    assert row.detail.startswith("needs 2.87 req/s = 63% of the 4.55 req/s the limiter sustains")
    assert "discovery and step names, 0.40 CloudWorks lists)" in row.detail
    many_pages = dataclasses.replace(_load(100, running=2), cloudworks_list_requests=40)
    capped = budget_row(_config(), many_pages)  # read less often: at most a quarter of the budget
    assert "1.14 CloudWorks lists" in capped.detail and capped.detail.startswith("needs 3.61 req/s = 79%")
    assert "CloudWorks" not in budget_row(_config(), _load(100)).detail


def test_replicas_other_than_0_add_their_reads_of_the_integration_list_and_their_objects() -> None:
    config = dataclasses.replace(_config(), shard_total=4)
    alone = dataclasses.replace(_load(100, running=2), cloudworks_list_requests=2)
    hinted = dataclasses.replace(alone, cloudworks_hint_requests=1, cloudworks_linked=10)
    before, row = budget_row(config, alone), budget_row(config, hinted)
    # Replica 0's lists: 2 every 5 s, capped at a quarter of its share (0.25 x 4.55 / 4 = 0.28); each of the 3
    # others: 1 page every 5 s and the Anaplan objects of 10 integrations a day.
    assert "0.28 CloudWorks lists)" in before.detail and "hints" not in before.detail
    assert "0.28 CloudWorks lists, 0.60 CloudWorks hints on 3 other replicas)" in row.detail
    assert row.detail.startswith("needs 3.36 req/s") and before.detail.startswith("needs 2.76 req/s")
    one_shard = budget_row(_config(), hinted)
    assert "hints" not in one_shard.detail  # a single replica reads CloudWorks once


def test_shards_share_the_deployments_budget() -> None:
    config = dataclasses.replace(_config(), shard_total=4)
    row = budget_row(config, _load(500))
    assert row.item == "500 objects every 60 s at 5 req/s, 4 shards"
    assert row.verdict is Verdict.WARN


# --- the state file's folder ---


def test_the_state_file_must_sit_in_a_writable_folder_and_be_a_readable_file(tmp_path: Path) -> None:
    missing = state_verdict(tmp_path / "nowhere" / "state.json")
    assert missing.verdict is Verdict.FAIL and "does not exist" in missing.detail
    (tmp_path / "dir.json").mkdir()
    folder = state_verdict(tmp_path / "dir.json")
    assert folder.verdict is Verdict.FAIL and "it is a folder" in folder.detail
    fresh = state_verdict(tmp_path / "state.json")
    assert fresh.verdict is Verdict.OK and "does not exist yet" in fresh.detail
    (tmp_path / "state.json").write_text('{"version": 1}\n')
    kept = state_verdict(tmp_path / "state.json")
    assert kept.verdict is Verdict.OK and "15 bytes" in kept.detail
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.json", "state.json"]  # no temp file left
    assert (tmp_path / "state.json").read_text() == '{"version": 1}\n'


# --- against the simulator ---

_STEP = [{"id": "117000000015", "name": "Clear", "type": "DELETE_BY_SELECTION"}]


def _process(object_id: str, name: str, **schedule: Any) -> dict[str, Any]:
    durations = {"step_durations": [1]} if schedule else {}
    return {"id": object_id, "name": name, "steps": _STEP, **durations, **schedule}


SCENARIO = parse_scenario(
    {
        "users": [
            {"username": "u@example.com", "password": "pw"},
            {"username": "no-role@example.com", "password": "pw", "cloudworks_role": False},
        ],
        "oauth_clients": [{"client_id": "c", "refresh_token": "r0"}],
        "workspaces": [
            {
                "id": WS,
                "name": "W",
                "models": [
                    {
                        "id": MODEL,
                        "name": "Plan",
                        "processes": [
                            _process("118000000002", "Load", every=60, offset=3000, history=30),
                            _process("118000000003", "Twin"),
                            _process("118000000004", "twin"),
                        ],
                    }
                ],
            }
        ],
    }
)


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorServer]:
    with serve_in_thread(SCENARIO) as server:
        yield server


def _sim_config(server: SimulatorServer, targets: list[dict[str, Any]], **anaplan: Any) -> Config:
    auth = anaplan.pop("auth", {"method": "basic", "username": "u@example.com", "password": "pw"})
    data: dict[str, Any] = {
        "anaplan": {
            "api_url": f"{server.url}/2/0",
            "auth_url": server.url,
            "oauth_url": server.url,
            "auth": auth,
            "requests_per_second": 50,
            "retries": {"max": 0},
            **anaplan,
        },
        "targets": targets,
        "state": {"path": ""},
    }
    return parse_config(data, "exporter.yml", {})


def _with_cloudworks(config: Config, mode: str) -> Config:
    return dataclasses.replace(
        config, cloudworks=dataclasses.replace(config.cloudworks, mode=CloudWorksMode(mode))
    )


def _by_check(report: Report, check: str) -> list[Row]:
    return [row for row in report.rows if row.check.strip() == check]


def test_a_refused_login_is_the_one_problem_and_nothing_else_is_asked(simulator: SimulatorServer) -> None:
    config = _sim_config(
        simulator,
        [{"workspace": WS, "model": MODEL, "processes": "*"}],
        auth={"method": "basic", "username": "u@example.com", "password": "wrong"},
    )
    report = check_tenant(config)
    assert [row.check for row in report.rows] == ["auth", "state"]
    auth = report.rows[0]
    assert auth.verdict is Verdict.FAIL and auth.detail.startswith("refused: ") and "wrong" not in auth.detail
    assert report.exit_code == 1
    assert report.sent == SentRequests(logins=1, gets=0, peak_per_second=1)


def test_an_unknown_workspace_or_model_fails_its_target(simulator: SimulatorServer) -> None:
    targets: list[dict[str, Any]] = [
        {"workspace": "Elsewhere", "model": MODEL, "processes": ["118000000002"]},
        {"workspace": "W", "model": "Budget", "processes": "*"},
    ]
    report = check_tenant(_sim_config(simulator, targets))
    first, second = _by_check(report, "target")
    assert first.verdict is Verdict.FAIL and "workspace 'Elsewhere' not found among the 1" in first.detail
    assert (
        second.verdict is Verdict.FAIL
        and f"model 'Budget' not found in workspace 'W' ({WS})" in second.detail
    )
    assert report.exit_code == 1
    budget = _by_check(report, "budget")[0]
    assert budget.item.startswith("1 object ")  # the process named by ID is still polled under it


def test_a_name_of_two_objects_warns_and_every_object_gets_its_newest_run(simulator: SimulatorServer) -> None:
    targets = [{"workspace": "w", "model": "plan", "processes": ["TWIN", "Load"], "actions": "*"}]
    report = check_tenant(_sim_config(simulator, targets))
    process_rows = _by_check(report, "process")
    assert [row.item for row in process_rows] == [
        "targets[0].processes 'TWIN'",
        "Twin (118000000003)",
        "Load (118000000002)",
    ]
    assert process_rows[0].verdict is Verdict.WARN
    assert "matches 2 processes (118000000003, 118000000004)" in process_rows[0].detail
    assert process_rows[1].detail == "no runs listed"
    assert process_rows[2].detail.startswith("30 runs listed; newest ")
    assert process_rows[2].detail.endswith("COMPLETE")
    actions = _by_check(report, "action")
    assert [(row.verdict, row.detail) for row in actions] == [(Verdict.WARN, "the model has no actions")]
    assert report.exit_code == 0


def test_a_task_list_that_ignores_sort_warns(simulator: SimulatorServer) -> None:
    simulator.sim.faults.update({"ignore_sort": True})
    try:
        report = check_tenant(
            _sim_config(simulator, [{"workspace": WS, "model": MODEL, "processes": ["Load"]}])
        )
    finally:
        simulator.sim.faults.update({"ignore_sort": False})
    row = _by_check(report, "process")[0]
    assert row.verdict is Verdict.WARN
    assert "30 runs listed, oldest first: the server ignored sort=-creationDate" in row.detail
    assert row.detail.endswith("(1 request)")


def test_a_static_token_warns_that_it_is_never_renewed(simulator: SimulatorServer) -> None:
    token = simulator.sim.tokens.issue("u@example.com", "basic").value
    config = _sim_config(
        simulator,
        [{"workspace": WS, "model": MODEL, "processes": ["Load"]}],
        auth={"method": "token", "token": token},
    )
    report = check_tenant(config)
    auth = report.rows[0]
    assert (auth.verdict, auth.item) == (Verdict.WARN, "token")
    assert "never renewed" in auth.detail and token not in report.render()
    assert report.sent.logins == 0


def test_cloudworks_is_reported_and_fails_only_when_required(simulator: SimulatorServer) -> None:
    targets = [{"workspace": WS, "model": MODEL, "processes": ["Load"]}]
    cloudworks_url = f"{simulator.url}/cloudworks/2/0"
    config = _sim_config(simulator, targets, cloudworks_url=cloudworks_url)
    readable = _by_check(check_tenant(_with_cloudworks(config, "true")), "cloudworks")[0]
    assert (readable.verdict, readable.detail) == (Verdict.OK, "readable: 0 integrations, 0 flows")
    no_role = {"method": "basic", "username": "no-role@example.com", "password": "pw"}
    forbidden = _sim_config(simulator, targets, cloudworks_url=cloudworks_url, auth=no_role)
    for mode, verdict in (("auto", Verdict.INFO), ("true", Verdict.FAIL)):
        row = _by_check(check_tenant(_with_cloudworks(forbidden, mode)), "cloudworks")[0]
        assert row.verdict is verdict and row.detail.startswith("not readable: ") and "403" in row.detail
    off = _by_check(check_tenant(_with_cloudworks(config, "false")), "cloudworks")[0]
    assert (off.verdict, off.detail) == (Verdict.INFO, "not checked: CloudWorks is off")
    default = _by_check(check_tenant(_sim_config(simulator, targets)), "cloudworks")[0]
    assert (
        default.verdict is Verdict.INFO
        and "not checked: anaplan.cloudworks_url is Anaplan's" in default.detail
    )


def test_with_shards_the_budget_counts_the_hint_reads_of_the_other_replicas() -> None:
    other = "B" * 32
    scenario = parse_scenario(
        {
            "users": [{"username": "u@example.com", "password": "pw"}],
            "workspaces": [
                {
                    "id": WS,
                    "name": "W",
                    "models": [
                        {"id": MODEL, "name": "Plan", "processes": [_process("118000000002", "Load")]},
                        {"id": other, "name": "Other", "processes": [_process("118000000009", "Elsewhere")]},
                    ],
                }
            ],
            "cloudworks": {
                "integrations": [
                    {"name": "Load", "object": "118000000002"},
                    {"name": "Elsewhere", "object": "118000000009"},
                ]
            },
        }
    )
    targets = [{"workspace": WS, "model": MODEL, "processes": ["Load"]}]
    with serve_in_thread(scenario) as server:
        config = _sim_config(server, targets, cloudworks_url=f"{server.url}/cloudworks/2/0")
        report = check_tenant(dataclasses.replace(config, shard_total=3))
    assert _by_check(report, "cloudworks")[0].detail == "readable: 2 integrations, 0 flows"
    (budget,) = _by_check(report, "budget")
    # Replica 0: the two lists every 5 s; each of the 2 others: the integration list every 5 s and the
    # Anaplan objects of the one integration in the watched model once a day.
    assert "0.40 CloudWorks lists, 0.40 CloudWorks hints on 2 other replicas)" in budget.detail


def test_an_empty_state_path_warns(simulator: SimulatorServer) -> None:
    report = check_tenant(_sim_config(simulator, [{"workspace": WS, "model": MODEL, "processes": ["Load"]}]))
    state = _by_check(report, "state")[0]
    assert (state.verdict, state.item) == (Verdict.WARN, "(none)")
    assert state.detail.startswith('state.path is "": the state is kept in memory, and a restart forgets')


def test_without_state_path_the_check_tries_the_exporters_default_file(tmp_path: Path) -> None:
    """The same default as the exporter, its folders created as the exporter would; unwritable: a warning
    (the exporter then runs in memory), where a configured path that cannot be written fails."""
    target = {"workspace": WS, "model": MODEL, "processes": "*"}
    data: dict[str, Any] = {"anaplan": {"auth": {"method": "token", "token": "t"}}, "targets": [target]}
    home = tmp_path / "home"
    config = parse_config(data, "exporter.yml", {"HOME": str(home)})
    path = home / ".local" / "state" / "anaplan-exporter" / "state.json"
    row = state_row(config.state)
    assert (row.verdict, row.item) == (Verdict.OK, str(path))
    assert (
        row.detail == "the default state file (state.path not set): writable; the file does not exist yet "
        "(written at the first save)"
    )
    assert path.parent.is_dir() and not path.exists()

    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the state folder would go")
    row = state_row(parse_config(data, "exporter.yml", {"XDG_STATE_HOME": str(blocked)}).state)
    assert (row.verdict, row.item) == (Verdict.WARN, str(blocked / "anaplan-exporter" / "state.json"))
    assert "cannot write the state file" in row.detail
    assert row.detail.endswith(
        "the exporter would keep its state in memory only (set state.path to a writable file)"
    )

    row = state_row(parse_config(data, "exporter.yml", {}).state)
    assert (row.verdict, row.item) == (Verdict.WARN, "(none)")
    assert row.detail.startswith("neither XDG_STATE_HOME nor HOME is set, so there is no default state file")

    chosen = parse_config({**data, "state": {"path": str(blocked / "state.json")}}, "exporter.yml", {})
    assert state_row(chosen.state).verdict is Verdict.FAIL


def test_oauth_logs_in_only_where_a_rotated_refresh_token_is_kept(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    targets = [{"workspace": WS, "model": MODEL, "processes": ["Load"]}]
    oauth = {"method": "oauth", "client_id": "c", "refresh_token": "r0"}
    unsafe = check_tenant(_sim_config(simulator, targets, auth=oauth))
    assert [row.check for row in unsafe.rows] == ["auth", "state"]
    assert unsafe.rows[0].verdict is Verdict.FAIL and "set token_store" in unsafe.rows[0].detail
    assert unsafe.sent == SentRequests(logins=0, gets=0, peak_per_second=0)
    store = tmp_path / "refresh-token"
    kept = check_tenant(_sim_config(simulator, targets, auth={**oauth, "token_store": str(store)}))
    assert (kept.rows[0].verdict, kept.rows[0].item) == (Verdict.OK, "oauth, client c")
    assert "a rotated refresh token went to token_store" in kept.rows[0].detail
    assert store.read_text().strip() not in ("", "r0")  # the simulator rotates: the new one is kept
    assert kept.exit_code == 0


def test_a_state_file_a_running_exporter_holds_is_a_warning_and_left_alone(tmp_path: Path) -> None:
    """Its temp file is the running exporter's: the check must not create and remove one under it."""
    path = tmp_path / "state.json"
    lock = StateLock.acquire(path)
    try:
        row = state_verdict(path)
        assert (row.verdict, row.item) == (Verdict.WARN, str(path))
        assert row.detail == (
            f"in use by an exporter (pid {os.getpid()}), which holds {path}.lock: an exporter started with "
            "this configuration beside it would not get the file (give each its own state.path)"
        )
        home = tmp_path / "home"
        default = home / ".local" / "state" / "anaplan-exporter" / "state.json"
        data: dict[str, Any] = {
            "anaplan": {"auth": {"method": "token", "token": "t"}},
            "targets": [{"workspace": WS, "model": MODEL, "processes": "*"}],
        }
        config = parse_config(data, "exporter.yml", {"HOME": str(home)})
        default.parent.mkdir(parents=True)
        held = StateLock.acquire(default)
        try:
            row = state_row(config.state)
            assert row.verdict is Verdict.WARN
            assert row.detail.startswith("the default state file (state.path not set): in use by an exporter")
        finally:
            held.release()
    finally:
        lock.release()
    assert state_verdict(path).verdict is Verdict.OK  # free again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "state.json.lock"]
