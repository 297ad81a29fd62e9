"""The scenario's ``cloudworks`` section: CloudWorks integrations and flows over the simulated objects.

Keys::

  cloudworks:
    tenant_max_allowed: 1000
    integrations:
      - id?                      # 32 lowercase hex (default: derived from the seed and name)
        name
        object: "112000000007"   # the Anaplan import, export or process it runs
        model?                   # the model holding the object (required only when several do)
        connector: amazon_s3 | azure_blob | google_bigquery   (default amazon_s3)
        location?                # the file (bucket/key, container/blob) or BigQuery table
        owner?                   # display name in createdBy / triggeredBy
        schedule?                # the CloudWorks schedule document served as is (type, time, ... status)
        connector_failures?      # cycled over the object's run slots: none, file_missing, expired_credentials
        manual?: [{at: SECONDS, outcome?}]   # runs a user starts, seconds after the simulator starts
    flows:
      - id?, name, schedule?, every?, offset?    # every/offset: when the flow runs (compressed time)
        steps: [{integration (id or name), on_failure: stop|continue, on_partial: stop|continue, skipped,
                 outcomes?}]           # cycled over the flow's runs

``outcome`` / ``outcomes`` of manual and flow runs: success, failure, failure_dump (imports), cancelled
(the Anaplan task's outcome), or file_missing, expired_credentials (the connector fails, no task).
Objects run by manual or flow runs need ``every`` and ``duration`` (their tasks take that long).

An integration with an ``Active`` schedule *is* what starts its object's runs: each run slot of the object
(its ``every``/``offset``, compressed in time like every simulated schedule) is a scheduled CloudWorks run
that creates the slot's Anaplan task, so the task list and ``latestRun`` agree. A slot whose
``connector_failures`` entry is a failure has a CloudWorks run that failed before Anaplan had a task: the
object has no task in that slot.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from anaplan_exporter.anaplan.models import ObjectType

from .validate import Node

CONNECTORS = {
    # scenario name: (import job type, export job type, source/target type)
    "amazon_s3": ("AmazonS3ToAnaplan", "AnaplanToAmazonS3", "AmazonS3"),
    "azure_blob": ("AzureBlobToAnaplan", "AnaplanToAzureBlob", "AzureBlob"),
    "google_bigquery": ("GoogleBigQueryToAnaplan", "AnaplanToGoogleBigQuery", "GoogleBigQuery"),
}
DEFAULT_LOCATIONS = {
    "amazon_s3": "finance-bucket/anaplan/input.csv",
    "azure_blob": "exports/anaplan/output.csv",
    "google_bigquery": "finance-project.planning.actuals",
}
SCHEDULE_TYPES = ("hourly", "daily", "weekly", "monthly_specific_day", "monthly_relative_weekday")
STRATEGIES = ("stop", "continue")
_ID = re.compile(r"^[0-9a-f]{32}$")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


RUN_OUTCOMES = ("success", "failure", "failure_dump", "cancelled", "file_missing", "expired_credentials")


class ConnectorFailure(str, enum.Enum):
    NONE = "none"
    FILE_MISSING = "file_missing"
    EXPIRED_CREDENTIALS = "expired_credentials"


@dataclass(frozen=True)
class SimIntegration:
    id: str
    name: str
    workspace_id: str
    model_id: str
    object_id: str
    object_type: ObjectType
    connector: str
    location: str
    owner: str
    connection_id: str
    schedule: Mapping[str, Any] | None = None
    connector_failures: tuple[ConnectorFailure, ...] = ()
    manual: tuple[tuple[float, str], ...] = ()  # (seconds after the start, outcome)

    @property
    def scheduled(self) -> bool:
        """Its schedule is active: the object's run slots are this integration's scheduled runs."""
        return self.schedule is not None and self.schedule.get("status", "Active") == "Active"

    def failure(self, k: int) -> ConnectorFailure:
        if not self.connector_failures:
            return ConnectorFailure.NONE
        return self.connector_failures[k % len(self.connector_failures)]


@dataclass(frozen=True)
class SimFlowStep:
    integration_id: str
    on_failure: str = "stop"
    on_partial: str = "continue"
    skipped: bool = False
    outcomes: tuple[str, ...] = ("success",)


@dataclass(frozen=True)
class SimFlow:
    id: str
    name: str
    owner: str
    steps: tuple[SimFlowStep, ...]
    schedule: Mapping[str, Any] | None = None
    every: float | None = None
    offset: float = 0.0


@dataclass(frozen=True)
class CloudWorksSpec:
    integrations: tuple[SimIntegration, ...] = ()
    flows: tuple[SimFlow, ...] = ()
    tenant_max_allowed: int = 1000


def hex_id(seed: int, *parts: str) -> str:
    return hashlib.sha256(":".join([str(seed), *parts]).encode()).hexdigest()[:32]


ObjectIndex = Mapping[str, list[tuple[str, str, Any]]]
"""object id -> [(workspace id, model id, SimObject)] for every model that has it."""


def parse_cloudworks(node: Node, objects: ObjectIndex, seed: int) -> CloudWorksSpec:
    """The section, checked: objects exist, one scheduled integration per object, flows fit their every."""
    node.only("integrations", "flows", "tenant_max_allowed")
    integrations = [_integration(child, objects, seed) for child in node.children("integrations")]
    seen: dict[str, str] = {}
    scheduled: dict[tuple[str, str], str] = {}
    for child, integration in zip(node.children("integrations"), integrations, strict=True):
        if integration.id in seen:
            child.fail(f"duplicate integration id {integration.id!r}", "id")
        seen[integration.id] = integration.name
        key = (integration.model_id, integration.object_id)
        if integration.scheduled and key in scheduled:
            child.fail(
                f"object {integration.object_id} is already run on a schedule by integration "
                f"{scheduled[key]!r}; give one of them an Inactive schedule",
                "schedule",
            )
        if integration.scheduled:
            scheduled[key] = integration.name
    lookup = {(ws, m, obj.id): obj for places in objects.values() for ws, m, obj in places}
    flows = [_flow(child, integrations, seed, lookup) for child in node.children("flows")]
    return CloudWorksSpec(
        integrations=tuple(integrations),
        flows=tuple(flows),
        tenant_max_allowed=node.integer("tenant_max_allowed", 1000, minimum=1),
    )


def _integration(node: Node, objects: ObjectIndex, seed: int) -> SimIntegration:
    node.only(
        "id",
        "name",
        "object",
        "model",
        "connector",
        "location",
        "owner",
        "schedule",
        "connector_failures",
        "manual",
    )
    name = node.string("name")
    integration_id = node.string("id", hex_id(seed, "integration", name))
    if not _ID.match(integration_id):
        node.fail(f"must be 32 lowercase hex digits, got {integration_id!r}", "id")
    object_id = node.string("object")
    places = objects.get(object_id, [])
    if node.has("model"):
        model = node.string("model")
        places = [place for place in places if place[1] == model]
    if not places:
        node.fail(f"no import, export or process {object_id!r} in the scenario's models", "object")
    if len(places) > 1:
        node.fail(f"object {object_id!r} is in several models; name one with 'model'", "object")
    ws_id, model_id, obj = places[0]
    if obj.type not in (ObjectType.IMPORT, ObjectType.EXPORT, ObjectType.PROCESS):
        node.fail(f"must be an import, export or process, not a {obj.type.value}", "object")
    connector = node.choice("connector", list(CONNECTORS), "amazon_s3")
    schedule = _schedule(node.child("schedule")) if node.has("schedule") else None
    failures = tuple(
        ConnectorFailure(value)
        for value in _choices(node, "connector_failures", [f.value for f in ConnectorFailure])
    )
    integration = SimIntegration(
        id=integration_id,
        name=name,
        workspace_id=ws_id,
        model_id=model_id,
        object_id=object_id,
        object_type=obj.type,
        connector=connector,
        location=node.string("location", DEFAULT_LOCATIONS[connector]),
        owner=node.string("owner", "Demo Integrator"),
        connection_id=hex_id(seed, "connection", connector, ws_id),
        schedule=schedule,
        connector_failures=failures,
        manual=tuple(_manual(child, obj) for child in node.children("manual")),
    )
    if integration.manual and obj.schedule is None:
        node.fail(f"object {object_id} has no 'every' and 'duration': its manual runs need them", "manual")
    if integration.scheduled and obj.schedule is None:
        node.fail(f"object {object_id} has no 'every': an active schedule needs its runs", "schedule")
    if failures and not integration.scheduled:
        node.fail(
            "needs an Active 'schedule' (connector failures are cycled over scheduled runs)",
            "connector_failures",
        )
    return integration


def _manual(node: Node, obj: Any) -> tuple[float, str]:
    node.only("at", "outcome")
    outcome = node.choice("outcome", RUN_OUTCOMES, "success")
    _check_outcome(node, "outcome", outcome, obj)
    return node.number("at"), outcome


def _check_outcome(node: Node, key: str, outcome: str, obj: Any) -> None:
    if outcome == "failure_dump" and obj.type is not ObjectType.IMPORT:
        node.fail(f"failure_dump is only possible for imports, not a {obj.type.value}", key)


def _choices(node: Node, key: str, allowed: list[str]) -> list[str]:
    values = node.list_of_str(key, [])
    for i, value in enumerate(values):
        if value not in allowed:
            node.fail(f"must be one of {', '.join(allowed)}, got {value!r}", f"{key}[{i}]")
    return values


def _schedule(node: Node) -> dict[str, Any]:
    """A CloudWorks schedule document, checked field by field and served as written."""
    node.only(
        "name",
        "type",
        "time",
        "fromTime",
        "toTime",
        "repeatEvery",
        "daysOfWeek",
        "dayOfMonth",
        "dayOfWeek",
        "startDate",
        "endDate",
        "timezone",
        "status",
    )
    kind = node.choice("type", SCHEDULE_TYPES)
    document: dict[str, Any] = {"name": node.string("name", f"{kind} schedule"), "type": kind}
    needs = {
        "hourly": ("fromTime", "toTime", "repeatEvery"),
        "daily": ("time",),
        "weekly": ("time", "daysOfWeek"),
        "monthly_specific_day": ("time", "dayOfMonth"),
        "monthly_relative_weekday": ("time", "dayOfWeek", "repeatEvery"),
    }[kind]
    for key in needs:
        node.raw(key)  # "is required"
    for key in ("time", "fromTime", "toTime"):
        if node.has(key):
            value = node.string(key)
            if not _CLOCK.match(value):
                node.fail(f"must be HH:MM, got {value!r}", key)
            document[key] = value
    if node.has("daysOfWeek"):
        days = node.raw("daysOfWeek")
        if not isinstance(days, list) or not days:
            node.fail("must be a non-empty list of days, 0 = Sunday .. 6 = Saturday", "daysOfWeek")
        for i, day in enumerate(days):
            if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
                node.fail(f"must be a day from 0 (Sunday) to 6, got {day!r}", f"daysOfWeek[{i}]")
        document["daysOfWeek"] = list(days)
    if node.has("dayOfMonth"):
        document["dayOfMonth"] = node.integer("dayOfMonth", minimum=1)
        if document["dayOfMonth"] > 31:
            node.fail(f"must be from 1 to 31, got {document['dayOfMonth']}", "dayOfMonth")
    if node.has("dayOfWeek"):
        document["dayOfWeek"] = node.integer("dayOfWeek")
        if document["dayOfWeek"] > 6:
            node.fail(f"must be a day from 0 (Sunday) to 6, got {document['dayOfWeek']}", "dayOfWeek")
    if node.has("repeatEvery"):
        value = node.raw("repeatEvery")
        if isinstance(value, bool) or not isinstance(value, int) or value == 0 or not -1 <= value <= 24:
            node.fail(f"must be -1 or a number from 1 to 24, got {value!r}", "repeatEvery")
        document["repeatEvery"] = value
    for key in ("startDate", "endDate"):
        if node.has(key):
            value = node.string(key)
            if not _DATE.match(value):
                node.fail(f"must be a date YYYY-MM-DD, got {value!r}", key)
            document[key] = value
    document["timezone"] = node.string("timezone", "UTC")
    document["status"] = node.choice("status", ["Active", "Inactive"], "Active")
    return document


FLOW_STEP_GAP = 1.0
"""Seconds between a flow step's end and the next step's start."""
CONNECTOR_FAILURE_SECONDS = 2.0
"""How long a run takes to fail on its connector (the cloud store answers at once)."""
WRITE_BACK_SECONDS = 1.0
"""How long after its Anaplan task a run ends (the connector writes the result back)."""


def _flow(node: Node, integrations: list[SimIntegration], seed: int, objects: Mapping[Any, Any]) -> SimFlow:
    node.only("id", "name", "owner", "schedule", "steps", "every", "offset")
    name = node.string("name")
    flow_id = node.string("id", hex_id(seed, "flow", name))
    if not _ID.match(flow_id):
        node.fail(f"must be 32 lowercase hex digits, got {flow_id!r}", "id")
    by_key = {i.id: i for i in integrations} | {i.name: i for i in integrations}
    steps: list[SimFlowStep] = []
    longest = 0.0
    for child in node.children("steps"):
        child.only("integration", "on_failure", "on_partial", "skipped", "outcomes")
        ref = child.string("integration")
        if ref not in by_key:
            child.fail(f"no integration with id or name {ref!r}", "integration")
        integration_id = by_key[ref].id
        obj = objects[(by_key[ref].workspace_id, by_key[ref].model_id, by_key[ref].object_id)]
        outcomes = tuple(_choices(child, "outcomes", list(RUN_OUTCOMES))) or ("success",)
        for i, outcome in enumerate(outcomes):
            _check_outcome(child, f"outcomes[{i}]", outcome, obj)
        if obj.schedule is None and node.has("every"):
            child.fail(f"object {obj.id} has no 'every' and 'duration': flow runs need them", "integration")
        if any(step.integration_id == integration_id for step in steps):
            child.fail(f"integration {ref!r} is already a step of this flow", "integration")
        steps.append(
            SimFlowStep(
                integration_id=integration_id,
                on_failure=child.choice("on_failure", STRATEGIES, "stop"),
                on_partial=child.choice("on_partial", STRATEGIES, "continue"),
                skipped=child.boolean("skipped", False),
                outcomes=outcomes,
            )
        )
        if obj.schedule is not None and not steps[-1].skipped:
            longest += (
                max(obj.schedule.length + WRITE_BACK_SECONDS, CONNECTOR_FAILURE_SECONDS) + FLOW_STEP_GAP
            )
    if not steps:
        node.fail("a flow needs at least one step", "steps")
    every = node.number("every", positive=True) if node.has("every") else None
    if every is not None and longest > every:
        node.fail(f"the steps can take {longest:g} s, more than every ({every:g})", "every")
    if node.has("offset") and every is None:
        node.fail("needs 'every' (the flow never runs without it)", "offset")
    return SimFlow(
        id=flow_id,
        name=name,
        owner=node.string("owner", "Demo Integrator"),
        steps=tuple(steps),
        schedule=_schedule(node.child("schedule")) if node.has("schedule") else None,
        every=every,
        offset=node.number("offset", 0.0),
    )


def with_gaps(obj: Any, integration: SimIntegration) -> Any:
    """The object with no task in the slots where the integration's connector failed first."""
    if obj.schedule is None or not any(
        f is not ConnectorFailure.NONE for f in integration.connector_failures
    ):
        return obj
    gaps = tuple(f is not ConnectorFailure.NONE for f in integration.connector_failures)
    return dataclasses.replace(obj, schedule=dataclasses.replace(obj.schedule, gaps=gaps))
