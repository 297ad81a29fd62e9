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
  workspaces: [{id?, name, active?, models: [{id?, name, processes, imports, exports, actions, generate?}]}]

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

This module reads the file and its top level (users, certificate, OAuth clients, workspaces and models);
a model's objects are read by ``scenario_objects``, their schedules by ``scenario_schedule``, into the values
of ``scenario_types``, which are re-exported here.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import yaml

from ..nesting import DepthLimitedLoader
from .faults import parse_faults
from .scenario_objects import KIND_KEYS, parse_objects
from .scenario_types import (
    DEFAULT_TOKEN_LIFETIME,
    CertificateSpec,
    Outcome,
    RowCounts,
    Scenario,
    Schedule,
    SimModel,
    SimObject,
    SimWorkspace,
    Step,
)
from .validate import Node, ScenarioError

__all__ = [
    "DEFAULT_SCENARIO",
    "Outcome",
    "RowCounts",
    "Scenario",
    "ScenarioError",
    "Schedule",
    "SimModel",
    "SimObject",
    "SimWorkspace",
    "Step",
    "load_scenario",
    "parse_scenario",
]

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
        "seed", "users", "certificate", "oauth_clients", "token_lifetime_seconds", "workspaces", "faults"
    )
    users: dict[str, str] = {}
    for node in root.children("users"):
        node.only("username", "password")
        name = node.string("username")
        if name in users:
            node.fail(f"duplicate username {name!r}", "username")
        users[name] = node.string("password", secret=True)
    clients: dict[str, str] = {}
    for node in root.children("oauth_clients"):
        node.only("client_id", "refresh_token")
        client_id = node.string("client_id")
        if client_id in clients:
            node.fail(f"duplicate client_id {client_id!r}", "client_id")
        clients[client_id] = node.string("refresh_token", secret=True)
    seed = root.integer("seed", 0)
    workspaces = tuple(_workspace(node, seed) for node in root.children("workspaces"))
    _check_unique([ws.id for ws in workspaces], root, "workspaces", "workspace id")
    _check_unique([m.id for ws in workspaces for m in ws.models], root, "workspaces", "model id")
    faults = parse_faults(root.raw("faults", {}), "faults", source)
    return Scenario(
        users=users,
        oauth_clients=clients,
        workspaces=workspaces,
        certificate=_certificate(root, base_dir),
        token_lifetime_seconds=root.number("token_lifetime_seconds", DEFAULT_TOKEN_LIFETIME, positive=True),
        faults=faults,
        seed=seed,
        source=source,
    )


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
    node.only("id", "name", "generate", *KIND_KEYS)
    name = node.string("name")
    model_id = node.string("id", _hex_id(seed, "model", name).upper())
    if not _MODEL_ID.match(model_id):
        node.fail(f"must be 32 uppercase hex digits, got {model_id!r}", "id")
    objects = parse_objects(node)
    by_id = {obj.id: obj for obj in objects}
    return SimModel(id=model_id, name=name, objects=tuple(objects), by_id=by_id)
