"""The exporter's CloudWorksClient against the simulator's CloudWorks API over real HTTP: everything it
serves parses, the IDs link to the Anaplan objects and tasks, and a user without the role gets 403."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from anaplan_exporter.anaplan.auth import BasicCredentials
from anaplan_exporter.anaplan.client import AnaplanClient
from anaplan_exporter.anaplan.cloudworks import CloudWorksAccessError, CloudWorksClient
from anaplan_exporter.anaplan.cloudworks_models import IntegrationType, RunResult, ScheduleType
from anaplan_exporter.anaplan.models import ObjectType
from support.simulator import SimulatorHandle

from .harness import MODEL, PASSWORD, USER, WORKSPACE, ClientFactory, base_scenario, checked_simulator

S3, BLOB, BIGQUERY = "e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2", "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4", "0a" * 16
FLOW, QUICK = "d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1", "c" * 32
NO_ROLE = "viewer@example.com"
SCENARIO = base_scenario(
    users=[
        {"username": USER, "password": PASSWORD},
        {"username": NO_ROLE, "password": PASSWORD, "cloudworks_role": False},
    ],
    workspaces=[
        {
            "id": WORKSPACE,
            "name": "W",
            "models": [
                {
                    "id": MODEL,
                    "name": "M",
                    "processes": [
                        {
                            "id": "118000000003",
                            "name": "Close",
                            "steps": [{"id": "112000000007"}, {"id": "116000000002"}],
                            "every": 600,
                            "duration": 2,
                            "offset": 300,
                        }
                    ],
                    "imports": [
                        {
                            "id": "112000000007",
                            "name": "Sales",
                            "rows": {"total": 100, "success": 95, "failed": 5},
                            "every": 2,
                            "duration": 0.5,
                            "history": 6,
                            "outcomes": ["success", "failure"],
                        }
                    ],
                    "exports": [
                        {"id": "116000000002", "name": "Revenue", "every": 2, "duration": 0.5, "history": 4}
                    ],
                }
            ],
        }
    ],
    cloudworks={
        "integrations": [
            {
                "id": S3,
                "name": "Sales from S3",
                "object": "112000000007",
                "location": "finance/sales.csv",
                "schedule": {"type": "daily", "time": "02:00", "timezone": "Europe/London"},
                "connector_failures": ["none", "none", "file_missing"],
            },
            {
                "id": BLOB,
                "name": "Revenue to Blob",
                "object": "116000000002",
                "connector": "azure_blob",
                "schedule": {"type": "weekly", "time": "06:30", "daysOfWeek": [1, 5]},
                "connector_failures": ["expired_credentials", "none"],
            },
            {
                "id": BIGQUERY,
                "name": "Close to BigQuery",
                "object": "118000000003",
                "connector": "google_bigquery",
                "schedule": {
                    "type": "hourly",
                    "fromTime": "08:00",
                    "toTime": "18:00",
                    "repeatEvery": 2,
                    "status": "Inactive",
                },
            },
        ],
        "flows": [
            {
                "id": FLOW,
                "name": "Round trip",
                "steps": [
                    {"integration": "Sales from S3", "on_failure": "stop"},
                    {"integration": BLOB, "on_failure": "continue", "skipped": True},
                ],
            },
            {"id": QUICK, "name": "Quick", "every": 3, "steps": [{"integration": S3}]},
        ],
    },
)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorHandle]:
    with checked_simulator(SCENARIO, tmp_path_factory.mktemp("cloudworks")) as handle:
        yield handle


def _client(make_client: ClientFactory, sim: SimulatorHandle, user: str = USER) -> AnaplanClient:
    client = make_client(sim, BasicCredentials(user, PASSWORD))
    return client


def _cloudworks(client: AnaplanClient, sim: SimulatorHandle, page_size: int = 2) -> CloudWorksClient:
    return CloudWorksClient(client, base_url=f"{sim.url}/cloudworks/2/0", page_size=page_size)


def test_integrations_page_by_page_with_latest_run_and_schedule(
    sim: SimulatorHandle, make_client: ClientFactory
) -> None:
    integrations = {i.id: i for i in _cloudworks(_client(make_client, sim), sim).list_integrations()}
    assert set(integrations) == {S3, BLOB, BIGQUERY}  # two pages of 2
    s3, blob, bigquery = integrations[S3], integrations[BLOB], integrations[BIGQUERY]
    assert (s3.type, blob.type, bigquery.type) == (
        IntegrationType.IMPORT,
        IntegrationType.EXPORT,
        IntegrationType.PROCESS,
    )
    assert bigquery.process_id == "118000000003" and bigquery.latest_run is None
    assert all(i.model_id == MODEL and i.workspace_id == WORKSPACE for i in integrations.values())
    assert s3.schedule is not None and s3.schedule.type is ScheduleType.DAILY and s3.schedule.active
    assert blob.schedule is not None and blob.schedule.days_of_week == (1, 5)
    assert bigquery.schedule is not None and not bigquery.schedule.active
    assert s3.latest_run is not None and s3.latest_run.trigger_source in ("scheduled", "scheduled_inf")
    assert s3.latest_run.start is not None and s3.jobs == ()


def test_integration_jobs_link_the_simulated_objects(
    sim: SimulatorHandle, make_client: ClientFactory
) -> None:
    cloudworks = _cloudworks(_client(make_client, sim), sim)
    assert cloudworks.integration(S3).anaplan_object_ids == ("112000000007",)
    assert cloudworks.integration(S3).type is IntegrationType.IMPORT  # inferred: the answer has no type
    assert cloudworks.integration(BLOB).anaplan_object_ids == ("116000000002",)
    process = cloudworks.integration(BIGQUERY)
    assert process.anaplan_object_ids == ("118000000003", "112000000007", "116000000002")
    assert {job.type for job in process.jobs} == {"GoogleBigQueryToAnaplan", "AnaplanToGoogleBigQuery"}


def test_runs_agree_with_the_anaplan_task_list(sim: SimulatorHandle, make_client: ClientFactory) -> None:
    client = _client(make_client, sim)
    cloudworks = _cloudworks(client, sim)
    runs = list(cloudworks.run_history(S3, offset=0, limit=100).runs)
    first = cloudworks.run_history(S3, offset=0, limit=3)  # a run every 2 s: one may start in between
    assert first.integration_id == S3 and len(first.runs) == 3 and len(runs) >= 6
    assert first.total_runs in (len(runs), len(runs) + 1)
    starts = [r.start or 0.0 for r in runs]
    assert starts == sorted(starts, reverse=True)  # newest first
    tasks = {t.task_id for t in client.list_tasks(WORKSPACE, MODEL, ObjectType.IMPORT, "112000000007")}
    finished = [r for r in runs if r.end is not None]
    results = {r.result for r in finished}
    assert {RunResult.PARTIAL, RunResult.FAILURE} <= results  # success with 5 failed rows is partial
    for run in finished:
        assert cloudworks.run(run.id).integration_id == S3
        errors = cloudworks.run_errors(run.id)
        if run.result is RunResult.SUCCESS:
            assert errors == []
            continue
        assert len(errors) == 1 and errors[0].action_id == "112000000007"
        if run.execution_error_code == 35:  # the file was missing: CloudWorks never created a task
            assert errors[0].task_id == "" and "NoSuchKey" in errors[0].messages[0].message
        else:
            assert errors[0].task_id in tasks
    connector_failures = sum(1 for r in finished if r.execution_error_code == 35)
    created = [r for r in finished if r.execution_error_code != 35]
    assert connector_failures >= 1 and len(created) <= len(tasks)


def test_expired_sas_token_is_in_the_message(sim: SimulatorHandle, make_client: ClientFactory) -> None:
    history = _cloudworks(_client(make_client, sim), sim).run_history(BLOB, offset=0, limit=50)
    failed = [r for r in history.runs if r.result is RunResult.FAILURE]
    assert failed and all(r.execution_error_code == 39 for r in failed)
    assert "sig=" in failed[0].message and "blob.core.windows.net" in failed[0].message


def test_flows_with_steps(sim: SimulatorHandle, make_client: ClientFactory) -> None:
    cloudworks = _cloudworks(_client(make_client, sim), sim, page_size=1)
    flows = cloudworks.list_flows()  # pages of one
    assert [(f.id, f.name, f.steps_count) for f in flows] == [(FLOW, "Round trip", 2), (QUICK, "Quick", 1)]
    assert flows[0].latest_run is None and flows[1].latest_run is not None
    assert flows[1].latest_run.trigger_source == "scheduled"
    quick = cloudworks.flow(QUICK)
    step_run = quick.steps[0].latest_run
    assert step_run is not None and step_run.trigger_source == "scheduled_inf"
    history = cloudworks.run_history(S3, offset=0, limit=100).runs
    in_flow = [r for r in history if r.trigger_source == "scheduled_inf"]
    assert in_flow and cloudworks.run(in_flow[0].id).flow_group_id == QUICK
    flow = cloudworks.flow(FLOW)
    assert [s.integration_id for s in flow.steps] == [S3, BLOB]
    assert flow.steps[1].depends_on == (S3,) and flow.steps[1].is_skipped
    assert flow.steps[0].strategy("failure") == "stop" and flow.steps[1].strategy("failure") == "continue"


def test_a_user_without_the_role_gets_403_and_keeps_the_integration_api(
    sim: SimulatorHandle, make_client: ClientFactory
) -> None:
    client = _client(make_client, sim, NO_ROLE)
    with pytest.raises(CloudWorksAccessError) as raised:
        _cloudworks(client, sim).list_integrations()
    assert raised.value.status == 403
    assert [w.id for w in client.list_workspaces()] == [WORKSPACE]


def test_unknown_ids_are_404(sim: SimulatorHandle, make_client: ClientFactory) -> None:
    cloudworks = _cloudworks(_client(make_client, sim), sim)
    with pytest.raises(Exception) as raised:
        cloudworks.run("f" * 32)
    assert getattr(raised.value, "status", None) == 404


def test_the_demo_config_reads_the_demo_simulators_cloudworks() -> None:
    from anaplan_exporter.demo import demo_config, start_demo_simulator

    simulator = start_demo_simulator()
    try:
        config = demo_config(simulator)
        assert config.client.cloudworks_url == f"{simulator.url}/cloudworks/2/0"
        client = AnaplanClient(config.client, config.credentials)
        try:
            integrations = CloudWorksClient(client).list_integrations()
            assert {i.type for i in integrations} == {
                IntegrationType.IMPORT,
                IntegrationType.EXPORT,
                IntegrationType.PROCESS,
            }
            assert [f.name for f in CloudWorksClient(client).list_flows()] == ["Sales round trip"]
        finally:
            client.close()
    finally:
        simulator.stop()
