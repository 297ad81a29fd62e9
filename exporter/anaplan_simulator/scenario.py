"""Scenario files: YAML -> a typed, validated description of users, workspaces, models and run schedules.

Keys (see default-scenario.yml for a complete example)::

  seed: 0                                  # varies generated IDs
  users: [{username, password}]            # Basic auth
  certificate: PATH | {path, require_v2}   # PEM, relative to the scenario file; enables CA-certificate auth
  oauth_clients: [{client_id, refresh_token}]
  token_lifetime_seconds: 2100
  faults: {latency: S | {min, max}, error_rate_5xx, rate_limit: {every, for, offset, retry_after,
           retry_after_format: seconds|http-date}, max_requests_per_second, malformed_json_rate,
           token_early_expiry, drop_connection_rate, drip: S, drip_headers: S, endless: bool, huge: BYTES,
           echo_secrets: STATUS, echo_form: as_sent|base64_unpadded|base64_wrapped|html|upper|url|json
           |collapsed, ignore_sort: bool, scope: integration|all, path: TEXT}
  workspaces: [{id?, name, active?, models: [{id?, name, no_access?, processes, imports, exports, actions,
                generate?}]}]
  cloudworks: {integrations, flows, tenant_max_allowed}   # see cloudworks_scenario.py
  users[].cloudworks_role / oauth_clients[].cloudworks_role: false   # CloudWorks answers 403

Every object: ``id?`` (12 digits, prefix 118/112/116/117), ``name``, ``code?`` and a schedule: ``every``,
``duration``, ``offset`` (first creation, seconds after start), ``start_delay`` (time NOT_STARTED),
``outcomes`` (cycled: success, failure, failure_dump, cancelled), ``history`` (runs finished before
start), ``cancelling`` (seconds CANCELLING). Without ``every`` an object never runs.
Rhythm: ``until`` (no run is created from this many seconds after start on; negative: the schedule stopped
before the simulator started, and only its history before then exists), ``days`` (UTC days of the week runs
are created on, e.g. ``[mon, tue, wed, thu, fri]``: other days' slots are skipped, history included, so
``history`` counts slots), ``jitter`` (0 to 1: each run is created up to ``jitter x every`` after its slot,
before it for history, the same for every simulator start with the same ``seed``: irregular, manual-looking
runs).
Slow runs: ``slow_every`` (every Nth run, run 0 included and history before it not, takes ``slow_factor``
times ``duration``, steps included; default factor 3): a run far slower than the usual, for the slow-run
alert.
Processes: ``steps: [{id, name?, type?}]``, ``step_durations``, ``fail_step`` (1-based, or a step id/name).
Imports: ``rows``/``failure_rows: {hierarchy?, total, success?, failed, ignored, warnings}``, ``import_type``.
Exports: ``export_type``, ``export_format``. Actions: ``action_type`` (DELETE_BY_SELECTION).
``generate: {processes, imports, exports, actions, steps, every, duration, start_delay, offset, outcomes,
history, fail_step}`` adds look-alike objects numbered after the declared ones, start times spread evenly.

Every error is one line naming the file and key path, e.g.
``demo.yml: workspaces[0].models[0].processes[1].every: must be greater than 0, got -5``.

The module holds the values a scenario describes (all immutable; the engine and payloads read them), then
reads the file's top level (users, certificate, OAuth clients, workspaces and models), each object's schedule
and rhythm keys (checked against each other: a run must end before the next), and a model's objects, declared
and generated (free IDs are handed out after every ID the scenario declares).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from anaplan_exporter.anaplan.models import ObjectType
from anaplan_exporter.anaplan.nesting import DepthLimitedLoader

from .cloudworks_scenario import CloudWorksSpec, parse_cloudworks, with_gaps
from .faults import FaultSettings, parse_faults
from .validate import Node, ScenarioError

# --- the values ---

DEFAULT_TOKEN_LIFETIME = 2100.0  # 35 minutes, as Anaplan
EXTRA_BASE = 1 << 40
"""Run indices from here on are tasks CloudWorks started outside the object's slots (manual and flow runs)."""


class Outcome(str, enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    FAILURE_DUMP = "failure_dump"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Schedule:
    """Run k is created at ``offset + k * every`` after the simulator starts (k < 0: history)."""

    every: float
    duration: float
    offset: float = 0.0
    start_delay: float = 0.0
    outcomes: tuple[Outcome, ...] = (Outcome.SUCCESS,)
    history: int = 0
    cancelling: float = 3.0
    step_durations: tuple[float, ...] = ()  # processes: one per step, summing to ``duration``
    fail_step: int = -1  # processes: 0-based index of the step that fails on failure outcomes
    until: float | None = None  # no run is created from ``start + until`` on
    days: frozenset[int] | None = None  # UTC weekdays (0 = Monday) runs are created on; None: every day
    jitter: float = 0.0  # runs are created up to ``jitter * every`` off their slot
    slow_every: int = 0  # every Nth live run (k >= 0, k % N == 0) takes ``slow_factor`` times ``duration``
    slow_factor: float = 1.0
    gaps: tuple[bool, ...] = ()  # cycled over slots: True where a CloudWorks connector failed first (no task)

    def run_duration(self, k: int) -> float:
        """How long run ``k`` takes once started."""
        slow = self.slow_every > 0 and 0 <= k < EXTRA_BASE and k % self.slow_every == 0  # history: usual
        return self.duration * self.slow_factor if slow else self.duration

    @property
    def filtered(self) -> bool:
        """Some slots have no run (``until``, ``days``)."""
        return self.until is not None or self.days is not None or any(self.gaps)

    @property
    def length(self) -> float:
        """The longest a run can take from creation to its terminal state."""
        return self.start_delay + self.duration * (self.slow_factor if self.slow_every else 1.0)


@dataclass(frozen=True)
class Step:
    object_id: str
    name: str
    action_type: str


@dataclass(frozen=True)
class RowCounts:
    hierarchy: str
    total: int
    success: int
    failed: int = 0
    ignored: int = 0
    warnings: int = 0


@dataclass(frozen=True)
class SimObject:
    id: str
    name: str
    type: ObjectType
    code: str = ""
    schedule: Schedule | None = None
    steps: tuple[Step, ...] = ()
    rows: RowCounts | None = None
    failure_rows: RowCounts | None = None
    import_type: str = "HIERARCHY_DATA"
    data_source_id: str = ""
    export_type: str = "TABULAR_MULTI_COLUMN"
    export_format: str = "text/csv"
    action_type: str = "DELETE_BY_SELECTION"


@dataclass(frozen=True)
class SimModel:
    id: str
    name: str
    objects: tuple[SimObject, ...] = ()
    by_id: Mapping[str, SimObject] = field(default_factory=dict, repr=False, compare=False)
    no_access: bool = False
    """The users have NO ACCESS to it: listed, but its model-scoped GETs answer 404 and its task lists
    200 with an empty list (Anaplan's masking)."""

    def of_type(self, kind: ObjectType) -> list[SimObject]:
        return [obj for obj in self.objects if obj.type is kind]


@dataclass(frozen=True)
class SimWorkspace:
    id: str
    name: str
    models: tuple[SimModel, ...] = ()
    active: bool = True


@dataclass(frozen=True)
class CertificateSpec:
    path: Path
    require_v2: bool = False


@dataclass(frozen=True)
class Scenario:
    users: Mapping[str, str] = field(repr=False)  # username -> password
    oauth_clients: Mapping[str, str] = field(repr=False)  # client_id -> initial refresh token
    workspaces: tuple[SimWorkspace, ...] = ()
    certificate: CertificateSpec | None = None
    token_lifetime_seconds: float = DEFAULT_TOKEN_LIFETIME
    faults: FaultSettings = field(default_factory=FaultSettings)
    seed: int = 0
    source: str = "<scenario>"
    cloudworks: CloudWorksSpec = field(default_factory=CloudWorksSpec)
    cloudworks_denied: frozenset[str] = frozenset()  # users and OAuth clients without the CloudWorks role

    def objects(self) -> list[tuple[SimWorkspace, SimModel, SimObject]]:
        return [(ws, m, obj) for ws in self.workspaces for m in ws.models for obj in m.objects]


# --- the file and its top level ---

DEFAULT_SCENARIO = Path(__file__).with_name("default-scenario.yml")

_WORKSPACE_ID = re.compile(r"^[0-9a-z]{1,32}$")
_MODEL_ID = re.compile(r"^[0-9A-F]{32}$")


def load_scenario(path: Path | None = None) -> Scenario:
    """Read and validate a scenario file (the packaged default when ``path`` is None)."""
    path = path or DEFAULT_SCENARIO
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read scenario: {exc.strerror or exc}") from None
    try:
        data = yaml.load(text, Loader=DepthLimitedLoader)  # a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ScenarioError(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return parse_scenario(data if data is not None else {}, base_dir=path.parent, source=str(path))


def parse_scenario(data: object, base_dir: Path = Path("."), source: str = "<scenario>") -> Scenario:
    root = Node(data, "", source)
    root.only(
        "seed",
        "users",
        "certificate",
        "oauth_clients",
        "token_lifetime_seconds",
        "workspaces",
        "faults",
        "cloudworks",
    )
    users: dict[str, str] = {}
    denied: set[str] = set()
    for node in root.children("users"):
        node.only("username", "password", "cloudworks_role")
        name = node.string("username")
        if name in users:
            node.fail(f"duplicate username {name!r}", "username")
        users[name] = node.string("password", secret=True)
        if not node.boolean("cloudworks_role", True):
            denied.add(name)
    clients: dict[str, str] = {}
    for node in root.children("oauth_clients"):
        node.only("client_id", "refresh_token", "cloudworks_role")
        client_id = node.string("client_id")
        if client_id in clients:
            node.fail(f"duplicate client_id {client_id!r}", "client_id")
        clients[client_id] = node.string("refresh_token", secret=True)
        if not node.boolean("cloudworks_role", True):
            denied.add(client_id)
    seed = root.integer("seed", 0)
    workspaces = tuple(_workspace(node, seed) for node in root.children("workspaces"))
    _check_unique([ws.id for ws in workspaces], root, "workspaces", "workspace id")
    _check_unique([m.id for ws in workspaces for m in ws.models], root, "workspaces", "model id")
    faults = parse_faults(root.raw("faults", {}), "faults", source)
    cloudworks = CloudWorksSpec()
    if root.has("cloudworks"):
        places: dict[str, list[tuple[str, str, Any]]] = {}
        for ws in workspaces:
            for m in ws.models:
                for obj in m.objects:
                    places.setdefault(obj.id, []).append((ws.id, m.id, obj))
        cloudworks = parse_cloudworks(root.child("cloudworks"), places, seed)
        workspaces = _with_connector_gaps(workspaces, cloudworks)
    return Scenario(
        users=users,
        oauth_clients=clients,
        workspaces=workspaces,
        certificate=_certificate(root, base_dir),
        token_lifetime_seconds=root.number("token_lifetime_seconds", DEFAULT_TOKEN_LIFETIME, positive=True),
        faults=faults,
        seed=seed,
        source=source,
        cloudworks=cloudworks,
        cloudworks_denied=frozenset(denied),
    )


def _with_connector_gaps(
    workspaces: tuple[SimWorkspace, ...], cloudworks: CloudWorksSpec
) -> tuple[SimWorkspace, ...]:
    """The workspaces with no task in the run slots where a scheduled integration's connector failed."""
    linked = {(i.model_id, i.object_id): i for i in cloudworks.integrations if i.scheduled}
    result = []
    for ws in workspaces:
        models = []
        for m in ws.models:
            objects = tuple(
                with_gaps(obj, linked[(m.id, obj.id)]) if (m.id, obj.id) in linked else obj
                for obj in m.objects
            )
            models.append(dataclasses.replace(m, objects=objects, by_id={obj.id: obj for obj in objects}))
        result.append(dataclasses.replace(ws, models=tuple(models)))
    return tuple(result)


def _check_unique(ids: list[str], node: Node, key: str, what: str) -> None:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            node.fail(f"duplicate {what} {value!r}", key)
        seen.add(value)


def _certificate(root: Node, base_dir: Path) -> CertificateSpec | None:
    if not root.has("certificate"):
        return None
    if isinstance(root.raw("certificate"), str):
        raw_path, require_v2, node = root.string("certificate"), False, root
        key = "certificate"
    else:
        node = root.child("certificate")
        node.only("path", "require_v2")
        raw_path, require_v2, key = node.string("path"), node.boolean("require_v2", False), "path"
    path = Path(raw_path)
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file():
        node.fail(f"no such file {str(path)!r}", key)
    return CertificateSpec(path=path, require_v2=require_v2)


def _hex_id(seed: int, *parts: str) -> str:
    return hashlib.sha256(":".join([str(seed), *parts]).encode()).hexdigest()[:32]


def _workspace(node: Node, seed: int) -> SimWorkspace:
    node.only("id", "name", "active", "models")
    name = node.string("name")
    ws_id = node.string("id", _hex_id(seed, "workspace", name))
    if not _WORKSPACE_ID.match(ws_id):
        node.fail(f"must be 1-32 lowercase letters or digits, got {ws_id!r}", "id")
    models = tuple(_model(child, seed) for child in node.children("models"))
    return SimWorkspace(id=ws_id, name=name, models=models, active=node.boolean("active", True))


def _model(node: Node, seed: int) -> SimModel:
    node.only("id", "name", "no_access", "generate", *KIND_KEYS)
    name = node.string("name")
    model_id = node.string("id", _hex_id(seed, "model", name).upper())
    if not _MODEL_ID.match(model_id):
        node.fail(f"must be 32 uppercase hex digits, got {model_id!r}", "id")
    objects = parse_objects(node)
    by_id = {obj.id: obj for obj in objects}
    no_access = node.boolean("no_access", False)
    return SimModel(id=model_id, name=name, objects=tuple(objects), by_id=by_id, no_access=no_access)


# --- an object's schedule ---

SCHEDULE_KEYS = ("every", "offset", "duration", "start_delay", "outcomes", "history", "cancelling")
RHYTHM_KEYS = ("until", "days", "jitter", "slow_every", "slow_factor")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_outcomes(node: Node) -> tuple[Outcome, ...]:
    """The ``outcomes`` list (default: success), cycled run after run."""
    values = node.list_of_str("outcomes", ["success"])
    if not values:
        node.fail("must list at least one outcome", "outcomes")
    allowed = [o.value for o in Outcome]
    for i, value in enumerate(values):
        if value not in allowed:
            node.fail(f"must be one of {', '.join(allowed)}, got {value!r}", f"outcomes[{i}]")
    return tuple(Outcome(v) for v in values)


def parse_schedule(node: Node, kind: ObjectType, steps: tuple[Step, ...]) -> Schedule | None:
    """The object's schedule, or None without ``every`` (then it never runs and takes no other run key)."""
    if not node.has("every"):
        for key in ("history", "outcomes", "duration", "step_durations", *RHYTHM_KEYS):
            if node.has(key):
                node.fail("needs 'every' (no runs are scheduled without it)", key)
        return None
    every = node.number("every", positive=True)
    step_durations: tuple[float, ...] = ()
    if node.has("step_durations"):
        step_durations = tuple(node.list_of_numbers("step_durations"))
        if len(step_durations) != len(steps):
            node.fail(
                f"must list {len(steps)} durations (one per step), got {len(step_durations)}",
                "step_durations",
            )
    if node.has("duration"):
        duration = node.number("duration", positive=True)
        if step_durations and abs(sum(step_durations) - duration) > 1e-6:
            node.fail(
                f"must equal the sum of step_durations ({sum(step_durations):g}), got {duration:g}",
                "duration",
            )
    elif step_durations:
        duration = sum(step_durations)
    else:
        duration = node.number("duration", positive=True)
    if steps and not step_durations:
        step_durations = tuple(duration / len(steps) for _ in steps)
    outcomes = parse_outcomes(node)
    schedule = Schedule(
        every=every,
        duration=duration,
        offset=node.number("offset", 0.0),
        start_delay=node.number("start_delay", 0.0),
        outcomes=outcomes,
        history=node.integer("history", 0),
        cancelling=node.number("cancelling", 3.0),
        step_durations=step_durations,
        fail_step=_fail_step(node, steps) if steps else -1,
        until=node.number("until", minimum=-math.inf) if node.has("until") else None,
        days=_days(node) if node.has("days") else None,
        jitter=node.number("jitter", 0.0),
        slow_every=node.integer("slow_every", 0),
        slow_factor=node.number("slow_factor", 3.0 if node.has("slow_every") else 1.0, positive=True),
    )
    if schedule.length > every:
        what = "start_delay + duration" + (" x slow_factor" if schedule.slow_every else "")
        node.fail(f"{what} ({schedule.length:g}) must not exceed every ({every:g})", "every")
    if node.has("slow_factor") and not schedule.slow_every:
        node.fail("needs slow_every (which runs are slow)", "slow_factor")
    if schedule.jitter >= 1:
        node.fail(f"must be at least 0 and below 1 (a share of every), got {schedule.jitter:g}", "jitter")
    if schedule.length + schedule.jitter * every > every:
        node.fail(
            f"start_delay + duration + jitter x every ({schedule.length + schedule.jitter * every:g}) "
            f"must not exceed every ({every:g})",
            "jitter",
        )
    if Outcome.FAILURE_DUMP in outcomes:
        if kind in (ObjectType.EXPORT, ObjectType.ACTION):
            node.fail(
                f"failure_dump is only possible for imports and processes, not a {kind.value}", "outcomes"
            )
        if steps and steps[schedule.fail_step].action_type != "IMPORT":
            node.fail(
                "failure_dump needs fail_step to be an IMPORT step (only imports write dumps)", "fail_step"
            )
    return schedule


def _days(node: Node) -> frozenset[int]:
    values = node.list_of_str("days")
    if not values:
        node.fail("must list at least one day", "days")
    for i, value in enumerate(values):
        if value.lower() not in DAY_NAMES:
            node.fail(f"must be one of {', '.join(DAY_NAMES)}, got {value!r}", f"days[{i}]")
    return frozenset(DAY_NAMES.index(v.lower()) for v in values)


def _fail_step(node: Node, steps: tuple[Step, ...]) -> int:
    if not node.has("fail_step"):
        return len(steps) - 1
    value: Any = node.raw("fail_step")
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= len(steps):
            node.fail(f"must be a step number from 1 to {len(steps)}, got {value}", "fail_step")
        return value - 1
    text = node.string("fail_step")
    for i, step in enumerate(steps):
        if text in (step.object_id, step.name):
            return i
    node.fail(f"must be a step number, id or name of this process, got {text!r}", "fail_step")


# --- a model's objects ---

KIND_KEYS = {
    "processes": ObjectType.PROCESS,
    "imports": ObjectType.IMPORT,
    "exports": ObjectType.EXPORT,
    "actions": ObjectType.ACTION,
}
_STEP_TYPES = {
    "IMPORT": "112",
    "EXPORT": "116",
    "DELETE_BY_SELECTION": "117",
    "ORDER_HIERARCHY": "117",
    "OPTIMIZER": "117",
}
_COMMON_KEYS = ("id", "name", "code", *SCHEDULE_KEYS, *RHYTHM_KEYS)


def parse_objects(node: Node) -> list[SimObject]:
    """The objects under a model's ``processes``, ``imports``, ``exports``, ``actions`` and ``generate``."""
    numbers = _IdAllocator()
    # IDs first, so that process steps can refer to the model's own imports/exports/actions by ID.
    declared = [(child, kind) for key, kind in KIND_KEYS.items() for child in node.children(key)]
    explicit = {id(child): _object_id(child, kind, numbers) for child, kind in declared if child.has("id")}
    pending = [(child, kind, explicit.get(id(child)) or numbers.next(kind)) for child, kind in declared]
    names = {obj_id: child.string("name") for child, _, obj_id in pending}
    objects = [_object(child, kind, obj_id, names) for child, kind, obj_id in pending]
    if node.has("generate"):
        objects.extend(_generate(node.child("generate"), numbers))
    return objects


class _IdAllocator:
    """Hands out free 12-digit IDs per type prefix, after every ID already taken."""

    def __init__(self) -> None:
        self.taken: set[str] = set()
        self.highest: dict[str, int] = {}

    def claim(self, node: Node, obj_id: str) -> None:
        if obj_id in self.taken:
            node.fail(f"duplicate object id {obj_id!r}", "id")
        self.taken.add(obj_id)
        prefix, number = obj_id[:3], int(obj_id[3:])
        self.highest[prefix] = max(self.highest.get(prefix, 0), number)

    def next(self, kind: ObjectType) -> str:
        number = self.highest.get(kind.id_prefix, 0) + 1
        self.highest[kind.id_prefix] = number
        obj_id = f"{kind.id_prefix}{number:09d}"
        self.taken.add(obj_id)
        return obj_id


def _object_id(node: Node, kind: ObjectType, numbers: _IdAllocator) -> str:
    obj_id = node.string("id")
    if not re.fullmatch(rf"{kind.id_prefix}\d{{9}}", obj_id):
        node.fail(f"a {kind.value} id must be 12 digits starting with {kind.id_prefix}, got {obj_id!r}", "id")
    numbers.claim(node, obj_id)
    return obj_id


def _object(node: Node, kind: ObjectType, obj_id: str, names: Mapping[str, str]) -> SimObject:
    name, code = node.string("name"), node.string("code", "")
    if kind is ObjectType.PROCESS:
        node.only(*_COMMON_KEYS, "steps", "step_durations", "fail_step")
        steps = tuple(_step(child, names) for child in node.children("steps"))
        if not steps:
            node.fail("a process needs at least one step", "steps")
        schedule = parse_schedule(node, kind, steps)
        return SimObject(id=obj_id, name=name, type=kind, code=code, schedule=schedule, steps=steps)
    if kind is ObjectType.IMPORT:
        node.only(*_COMMON_KEYS, "rows", "failure_rows", "import_type", "data_source_id")
        rows = _rows(node.child("rows"), name) if node.has("rows") else RowCounts(name, 100, 100)
        failure_rows = _rows(node.child("failure_rows"), name) if node.has("failure_rows") else None
        return SimObject(
            id=obj_id,
            name=name,
            type=kind,
            code=code,
            schedule=parse_schedule(node, kind, ()),
            rows=rows,
            failure_rows=failure_rows or _default_failure_rows(rows),
            import_type=node.string("import_type", "HIERARCHY_DATA"),
            data_source_id=node.string("data_source_id", "113" + obj_id[3:]),
        )
    if kind is ObjectType.EXPORT:
        node.only(*_COMMON_KEYS, "export_type", "export_format")
        return SimObject(
            id=obj_id,
            name=name,
            type=kind,
            code=code,
            schedule=parse_schedule(node, kind, ()),
            export_type=node.string("export_type", "TABULAR_MULTI_COLUMN"),
            export_format=node.string("export_format", "text/csv"),
        )
    node.only(*_COMMON_KEYS, "action_type")
    return SimObject(
        id=obj_id,
        name=name,
        type=kind,
        code=code,
        schedule=parse_schedule(node, kind, ()),
        action_type=node.string("action_type", "DELETE_BY_SELECTION"),
    )


def _step(node: Node, names: Mapping[str, str]) -> Step:
    node.only("id", "name", "type")
    step_id = node.string("id")
    if not re.fullmatch(r"11[267]\d{9}", step_id):
        node.fail(f"must be a 12-digit import (112), export (116) or action (117) id, got {step_id!r}", "id")
    default_type = {"112": "IMPORT", "116": "EXPORT"}.get(step_id[:3], "DELETE_BY_SELECTION")
    step_type = node.choice("type", list(_STEP_TYPES), default_type)
    if _STEP_TYPES[step_type] != step_id[:3]:
        node.fail(
            f"a {step_type} step needs an id starting with {_STEP_TYPES[step_type]}, got {step_id!r}", "id"
        )
    name = node.string("name", names[step_id]) if step_id in names else node.string("name")
    return Step(object_id=step_id, name=name, action_type=step_type)


def _rows(node: Node, name: str) -> RowCounts:
    node.only("hierarchy", "total", "success", "failed", "ignored", "warnings")
    total = node.integer("total")
    failed, ignored, warnings = (
        node.integer("failed", 0),
        node.integer("ignored", 0),
        node.integer("warnings", 0),
    )
    success = node.integer("success", max(total - failed - ignored, 0))
    if success + failed + ignored > total:
        node.fail(
            f"success + failed + ignored ({success + failed + ignored}) exceeds total ({total})", "total"
        )
    return RowCounts(node.string("hierarchy", name.split(" ")[0]), total, success, failed, ignored, warnings)


def _default_failure_rows(rows: RowCounts) -> RowCounts:
    failed = max(rows.failed, 1, rows.total // 10)
    failed = min(failed, max(rows.total - rows.ignored, 0))
    return RowCounts(rows.hierarchy, rows.total, rows.total - failed - rows.ignored, failed, rows.ignored)


def _generate(node: Node, numbers: _IdAllocator) -> list[SimObject]:
    """Many look-alike objects for benchmarks, their start times spread evenly over ``every``."""
    node.only("processes", "imports", "exports", "actions", "steps", *SCHEDULE_KEYS[:-1], "fail_step")
    every = node.number("every", 600.0, positive=True)
    duration = node.number("duration", min(60.0, every / 2), positive=True)
    start_delay = node.number("start_delay", 0.0)
    if start_delay + duration > every:
        node.fail(
            f"start_delay + duration ({start_delay + duration:g}) must not exceed every ({every:g})", "every"
        )
    outcomes = parse_outcomes(node)
    history = node.integer("history", 0)
    n_steps = node.integer("steps", 3, minimum=1)
    fail_step = node.integer("fail_step", n_steps, minimum=1)
    if fail_step > n_steps:
        node.fail(f"must be a step number from 1 to {n_steps}, got {fail_step}", "fail_step")
    counts = {kind: node.integer(key, 0) for key, kind in KIND_KEYS.items()}
    total = sum(counts.values())
    base_offset = node.number("offset", 0.0)
    objects: list[SimObject] = []
    for kind, count in counts.items():
        for i in range(count):
            obj_id = numbers.next(kind)
            steps: tuple[Step, ...] = ()
            if kind is ObjectType.PROCESS:
                steps = tuple(
                    Step(numbers.next(ObjectType.IMPORT), f"Generated step {j + 1} of {obj_id}", "IMPORT")
                    for j in range(n_steps)
                )
            schedule = Schedule(
                every=every,
                duration=duration,
                offset=base_offset + (len(objects) * every / total) % every,
                start_delay=start_delay,
                outcomes=outcomes,
                history=history,
                step_durations=tuple(duration / n_steps for _ in steps),
                fail_step=fail_step - 1 if steps else -1,
            )
            rows = RowCounts(f"Generated {i + 1}", 100, 100) if kind is ObjectType.IMPORT else None
            objects.append(
                SimObject(
                    id=obj_id,
                    name=f"Generated {kind.value} {i + 1}",
                    type=kind,
                    schedule=schedule,
                    steps=steps,
                    rows=rows,
                    failure_rows=_default_failure_rows(rows) if rows else None,
                    data_source_id="113" + obj_id[3:],
                )
            )
    if Outcome.FAILURE_DUMP in outcomes and (counts[ObjectType.EXPORT] or counts[ObjectType.ACTION]):
        node.fail("failure_dump is only possible for imports and processes", "outcomes")
    return objects
