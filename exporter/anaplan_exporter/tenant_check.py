"""The tenant check (``anaplan-exporter --config FILE --check-tenant``): the configuration tried once against
the tenant, as the exporter would use it, before the exporter is deployed.

It logs in as the exporter would (method, token expiry), resolves every target as discovery does (workspace,
model and each object by ID, code or name; ``"*"``), and says what Anaplan cannot confirm: an object absent
from its model's list, a model listed but not readable (Anaplan masks NO ACCESS as 404 there, and answers a
task list of such a model, or of an unknown object, with an empty 200, so the exporter alone could not tell),
a name that matches several objects, an object named twice. It reads one page of each object's task list
(how many runs Anaplan lists, the newest, its state), works out the request budget the configured intervals
need, tries CloudWorks, and tries the state file's folder. The result is one table; any ``FAIL`` row makes
the exit code 1.

It only GETs (its one POST is the login; it does not log out), through the exporter's own client: the same
request budget (``anaplan.requests_per_second``), retries and deadlines, so it stays within the budget too.
"""

from __future__ import annotations

import enum
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from . import __version__
from .anaplan.auth import BasicCredentials, Credentials, OAuthCredentials
from .anaplan.client import AnaplanClient, ClientSettings
from .anaplan.cloudworks import CloudWorksAccessError, CloudWorksClient
from .anaplan.errors import AnaplanAuthError, AnaplanError
from .anaplan.limiter import ARRIVAL_MARGIN
from .anaplan.lookup import is_object_id, masks_no_access, matches
from .anaplan.models import Model, ModelObject, ObjectType, TaskState, TaskSummary, Workspace, iso_time
from .config.cloudworks import CloudWorksMode
from .config.file import Config, StateConfig
from .config.targets import ObjectSelector, TargetConfig
from .logs import redact_logs
from .polling.cloudworks import MAX_BUDGET_SHARE
from .polling.state import StateFileError, StateStore, create_folder
from .polling.state_lock import lock_holder, lock_path

PAGE = 10
"""Runs read per task list: the newest, and enough to see whether the server honoured ``sort``."""

COMFORTABLE_SHARE = 0.8
"""Above this share of the sustained request rate, idle polling leaves little room for running tasks."""

BEHIND_FACTOR = 3.0
"""``AnaplanPollingBehind`` fires when the oldest poll is older than this many idle intervals."""

"""Must CloudWorks be readable: ``on`` (a FAIL if not), ``auto`` (reported only), ``off`` (not checked)."""


class Verdict(str, enum.Enum):
    OK = "ok"
    INFO = "info"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Row:
    verdict: Verdict
    check: str
    item: str
    detail: str


@dataclass(frozen=True)
class SentRequests:
    """What the check itself sent: logins (POST), GETs, and the most that started within one second."""

    logins: int
    gets: int
    peak_per_second: int


@dataclass(frozen=True)
class Report:
    source: str
    rows: tuple[Row, ...]
    sent: SentRequests
    requests_per_second: float

    @property
    def problems(self) -> int:
        return sum(row.verdict is Verdict.FAIL for row in self.rows)

    @property
    def warnings(self) -> int:
        return sum(row.verdict is Verdict.WARN for row in self.rows)

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0

    def render(self) -> str:
        """The table, a blank line and the summary."""
        cells = [("RESULT", "CHECK", "ITEM", "DETAIL")]
        cells += [(row.verdict.value, row.check, _cut(row.item, ITEM_WIDTH), row.detail) for row in self.rows]
        widths = [max(len(line[i]) for line in cells) for i in range(3)]
        lines = [
            "  ".join([*(text.ljust(width) for text, width in zip(line, widths, strict=False)), line[3]])
            for line in cells
        ]
        verdict = f"{_count(self.problems, 'problem')}, {_count(self.warnings, 'warning')}"
        sent = self.sent
        lines += [
            "",
            f"{self.source}: {verdict}. This check sent {_count(sent.logins, 'login')} (POST) and "
            f"{_count(sent.gets, 'GET')}, at most {sent.peak_per_second} in any second "
            f"(anaplan.requests_per_second {_number(self.requests_per_second)}).",
        ]
        return "\n".join(line.rstrip() for line in lines) + "\n"


ITEM_WIDTH = 56


def _cut(text: str, width: int) -> str:
    """``text`` at most ``width`` long: its middle left out (a path keeps its file name, a name its ID)."""
    if len(text) <= width:
        return text
    head = (width - 3) // 2
    return text[:head] + "..." + text[len(text) - (width - 3 - head) :]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _number(value: float) -> str:
    return f"{value:g}"


# --- what the check sent ---


class _RequestLog:
    """An ``ApiObserver`` that keeps each attempt's endpoint and start time."""

    AUTH = frozenset({"authenticate", "refresh", "oauth_token", "logout"})

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.attempts: list[tuple[str, float]] = []

    def request_done(self, endpoint: str, code: str, seconds: float) -> None:
        with self._lock:
            self.attempts.append((endpoint, self._clock() - seconds))

    def retried(self, reason: str) -> None:
        pass

    def auth_failed(self) -> None:
        pass

    def ignored_values(self, reason: str, count: int) -> None:
        pass

    def count(self, *endpoints: str) -> int:
        with self._lock:
            return sum(endpoint in endpoints for endpoint, _ in self.attempts)

    def sent(self) -> SentRequests:
        with self._lock:
            attempts = list(self.attempts)
        logins = sum(endpoint in self.AUTH for endpoint, _ in attempts)
        window: deque[float] = deque()
        peak = 0
        for start in sorted(start for _, start in attempts):
            window.append(start)
            while window[0] <= start - 1.0:
                window.popleft()
            peak = max(peak, len(window))
        return SentRequests(logins, len(attempts) - logins, peak)


# --- resolving the targets ---

ObjectKey = tuple[str, str, ObjectType, str]


@dataclass(frozen=True)
class _Watched:
    """An object the exporter would poll, found in its model's list."""

    key: ObjectKey
    row: int
    """The index of its row, to fill in from its task list."""


@dataclass
class _Tally:
    """What the budget is worked out from."""

    watched: set[ObjectKey] = field(default_factory=set)
    """Every object the exporter would poll (an unconfirmed ID too: it is still polled under its ID)."""
    with_runs: int = 0
    running: int = 0
    processes: int = 0


class _Check:
    def __init__(
        self, config: Config, client: AnaplanClient, log: _RequestLog, clock: Callable[[], float]
    ) -> None:
        self.config = config
        self.client = client
        self.log = log
        self.clock = clock
        self.rows: list[Row] = []
        self.tally = _Tally()
        self.cloudworks_list_requests = 0
        """Requests of one read of the CloudWorks lists, once they were read."""
        self.cloudworks_hint_requests = 0
        """Requests of one read of the integration list alone (what replicas other than 0 read for hints)."""
        self.cloudworks_linked = 0
        """Integrations in the watched models (replicas other than 0 read their Anaplan objects)."""
        self.watched: list[_Watched] = []
        self._explicit: dict[ObjectKey, str] = {}
        self._models: dict[str, list[Model]] = {}
        self._seen_models: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        """Guards the tally while task lists are read in parallel."""

    def add(self, verdict: Verdict, check: str, item: str, detail: str) -> int:
        self.rows.append(Row(verdict, check, item, detail))
        return len(self.rows) - 1

    # -- authentication --------------------------------------------------------------------------------

    def login(self) -> list[Workspace] | None:
        """List the workspaces: the first request, which logs in. None when it failed (reported)."""
        credentials = self.config.credentials
        who = _who(credentials, self.client.auth_method)
        if isinstance(credentials, OAuthCredentials) and credentials.token_file is None:
            self.add(
                Verdict.FAIL,
                "auth",
                who,
                "not tried: without anaplan.auth.token_store, a client that rotates refresh tokens would "
                "have its configured one used up here, and the exporter could not log in; set token_store "
                "(the exporter needs it too) and check again",
            )
            return None
        try:
            workspaces = self.client.list_workspaces()
        except AnaplanAuthError as exc:
            self.add(Verdict.FAIL, "auth", who, f"refused: {exc}")
            return None
        except AnaplanError as exc:
            if self.client.token_expires_at is not None:
                self.add(Verdict.OK, "auth", who, self._token_detail())
            else:
                self.add(Verdict.FAIL, "auth", who, f"no answer: {exc}")
                return None
            self.add(Verdict.FAIL, "workspaces", self.config.client.api_url, f"cannot list them: {exc}")
            return None
        if self.client.auth_method == "static":
            self.add(
                Verdict.WARN,
                "auth",
                who,
                "accepted; a given token is never renewed: polling stops when it expires "
                "(Anaplan tokens last 35 minutes); use basic, certificate or oauth",
            )
        else:
            self.add(Verdict.OK, "auth", who, self._token_detail())
        return workspaces

    def _token_detail(self) -> str:
        expires = self.client.token_expires_at
        if expires is None:
            return "logged in"
        minutes = (expires - self.clock()) / 60.0
        margin = self.config.client.refresh_margin / 60.0
        detail = (
            f"logged in; token valid until {iso_time(expires)} ({minutes:.0f} min), renewed "
            f"{margin:g} min before"
        )
        if isinstance(self.config.credentials, OAuthCredentials):
            detail += (
                "; a rotated refresh token went to token_store: an exporter using the old one must restart"
            )
        return detail

    # -- targets ---------------------------------------------------------------------------------------

    def resolve(self, workspaces: list[Workspace]) -> None:
        for index, target in enumerate(self.config.targets):
            self._target(index, target, workspaces)

    def _target(self, index: int, target: TargetConfig, workspaces: list[Workspace]) -> None:
        name = f"targets[{index}]"
        item = f"{name} {target.workspace} / {target.model}"
        found_ws = matches(workspaces, target.workspace)
        if not found_ws:
            self.add(
                Verdict.FAIL,
                "target",
                item,
                f"workspace {target.workspace!r} not found among the {len(workspaces)} this user sees",
            )
            self._unconfirmed_ids(target)
            return
        workspace = found_ws[0]
        try:
            models = self._models_of(workspace)
        except AnaplanError as exc:
            self.add(Verdict.FAIL, "target", item, f"cannot list the models of {workspace.name!r}: {exc}")
            self._unconfirmed_ids(target, workspace.id)
            return
        found_models = matches(models, target.model)
        if not found_models:
            self.add(
                Verdict.FAIL,
                "target",
                item,
                f"model {target.model!r} not found in workspace {workspace.name!r} ({workspace.id})",
            )
            self._unconfirmed_ids(target, workspace.id)
            return
        model = found_models[0]
        item = f"{name} {workspace.name or workspace.id} / {model.name or model.id}"
        notes = [f"workspace {workspace.id}, model {model.id}"]
        verdict = Verdict.OK
        for what, found in (("workspace", found_ws), ("model", found_models)):
            if len(found) > 1:
                verdict = Verdict.WARN
                wanted = target.workspace if what == "workspace" else target.model
                ids = ", ".join(f.id for f in found)
                notes.append(
                    f"{what} {wanted!r} matches {len(found)} ({ids}): the first is used; give its ID"
                )
        if model.active_state and model.active_state.upper() not in ("UNLOCKED", "PRODUCTION"):
            notes.append(f"model state {model.active_state}")
        first = self._seen_models.setdefault((workspace.id, model.id), index)
        if first != index:
            verdict = Verdict.WARN
            notes.append(f"same model as targets[{first}]: each object is polled once")
        lists: dict[ObjectType, list[ModelObject]] = {}
        for kind, selection in target.selections.items():
            if not selection.all and not selection.items:
                continue
            try:
                lists[kind] = self.client.list_objects(workspace.id, model.id, kind)
            except AnaplanError as exc:
                if not masks_no_access(exc):
                    lists[kind] = []
                    verdict = Verdict.FAIL
                    notes.append(f"cannot list its {kind.collection}: {exc}")
                    continue
                self.add(
                    Verdict.FAIL,
                    "target",
                    item,
                    f"NO ACCESS: the model is listed, but reading its {kind.collection} answers HTTP "
                    f"{exc.status}, Anaplan's answer when this user has no access to the model (its task "
                    "lists would be empty whatever runs)",
                )
                self._unconfirmed_ids(target, workspace.id, model.id)
                return
        self.add(verdict, "target", item, "; ".join(notes))
        for kind, available in lists.items():
            self._objects(name, target, workspace, model, kind, available)

    def _models_of(self, workspace: Workspace) -> list[Model]:
        if workspace.id not in self._models:
            self._models[workspace.id] = self.client.list_models(workspace.id)
        return self._models[workspace.id]

    def _objects(
        self,
        name: str,
        target: TargetConfig,
        workspace: Workspace,
        model: Model,
        kind: ObjectType,
        available: list[ModelObject],
    ) -> None:
        selection = target.selections[kind]
        label = f"  {kind.value}"
        for selector in selection.items:
            where = f"{name}.{kind.collection} {selector.ref!r}"
            found = matches(available, selector.ref)
            if not found:
                self._not_found(label, where, selector, workspace, model, kind, len(available))
                continue
            if len(found) > 1:
                ids = ", ".join(obj.id for obj in found)
                self.add(
                    Verdict.WARN,
                    label,
                    where,
                    f"matches {len(found)} {kind.collection} ({ids}): the exporter watches the first, "
                    f"{found[0].id}; give its ID",
                )
            key: ObjectKey = (workspace.id, model.id, kind, found[0].id)
            first = self._explicit.setdefault(key, where)
            if first != where:
                self.add(
                    Verdict.WARN,
                    label,
                    where,
                    f"the same {kind.value} as {first} ({found[0].name}, {found[0].id}): it is polled "
                    "once; remove one of them",
                )
                continue
            self._watch(label, key, found[0])
        if selection.all:
            where = f'{name}.{kind.collection} "*"'
            if not available:
                self.add(Verdict.WARN, label, where, f"the model has no {kind.collection}")
            for obj in available:
                self._watch(label, (workspace.id, model.id, kind, obj.id), obj)

    def _watch(self, label: str, key: ObjectKey, obj: ModelObject) -> None:
        """A row for an object the exporter would poll, filled in from its task list later; an object
        chosen already (by an entry before, or by another target of the same model) keeps its one row."""
        if key in self.tally.watched:
            return
        self.tally.watched.add(key)
        self.tally.processes += key[2] is ObjectType.PROCESS
        row = self.add(Verdict.OK, label, f"{obj.name or obj.id} ({obj.id})", "")
        self.watched.append(_Watched(key, row))

    def _not_found(
        self,
        label: str,
        where: str,
        selector: ObjectSelector,
        workspace: Workspace,
        model: Model,
        kind: ObjectType,
        listed: int,
    ) -> None:
        detail = (
            f"not among the model's {listed} {kind.collection}: a wrong ID or name, or hidden from this user"
        )
        if is_object_id(selector.ref):
            self.tally.watched.add((workspace.id, model.id, kind, selector.ref))
            detail += " (polled by its ID, its task list would be empty whatever runs)"
        self.add(Verdict.FAIL, label, where, detail)

    def _unconfirmed_ids(self, target: TargetConfig, workspace_id: str = "", model_id: str = "") -> None:
        """A target that did not resolve: the exporter still polls the objects it names by ID."""
        for kind, selection in target.selections.items():
            for selector in selection.items:
                if is_object_id(selector.ref):
                    key = (workspace_id or target.workspace, model_id or target.model, kind, selector.ref)
                    self.tally.watched.add(key)

    # -- task lists ------------------------------------------------------------------------------------

    def read_task_lists(self) -> None:
        workers = max(1, min(self.config.client.max_concurrency, len(self.watched)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check") as pool:
            outcomes = list(pool.map(self._task_list, self.watched))
        for watched, (verdict, detail) in zip(self.watched, outcomes, strict=True):
            row = self.rows[watched.row]
            self.rows[watched.row] = replace(row, verdict=verdict, detail=detail)

    def _task_list(self, watched: _Watched) -> tuple[Verdict, str]:
        ws, model, kind, obj_id = watched.key
        try:
            tasks, paging = self.client.task_list_page(ws, model, kind, obj_id, PAGE)
        except AnaplanError as exc:
            return Verdict.FAIL, f"cannot read its task list: {exc}"
        total = paging.total_size if paging is not None and paging.total_size is not None else len(tasks)
        if not tasks:
            return Verdict.OK, "no runs listed"
        times = [t.creation_time for t in tasks if t.creation_time is not None]
        oldest_first = len(times) > 1 and times == sorted(times) and times[0] < times[-1]
        newest = max(tasks, key=lambda t: -math.inf if t.creation_time is None else t.creation_time)
        with self._lock:
            self.tally.with_runs += 1
            self.tally.running += not newest.state.terminal
        detail = f"{_count(total, 'run')} listed; newest {self._when(newest)} {newest.state.value}"
        if oldest_first and total > len(tasks):
            return Verdict.WARN, (
                f"{_count(total, 'run')} listed, oldest first: the server ignored sort=-creationDate, so the "
                f"exporter reads this list whole on every look "
                f"({_count(math.ceil(total / self.config.client.page_size), 'request')})"
            )
        if newest.state is TaskState.UNKNOWN:
            return Verdict.WARN, detail + " (a state this exporter does not know)"
        return Verdict.OK, detail

    def _when(self, task: TaskSummary) -> str:
        if task.creation_time is None:
            return "(no creation time)"
        return f"{iso_time(task.creation_time)} ({_ago(self.clock() - task.creation_time)})"

    # -- the request budget ----------------------------------------------------------------------------

    def budget(self) -> None:
        load = Load(
            objects=len(self.tally.watched),
            with_runs=self.tally.with_runs,
            running=self.tally.running,
            processes=self.tally.processes,
            catalog_requests=self.log.count("list_workspaces", "list_models", "list_objects"),
            cloudworks_list_requests=self.cloudworks_list_requests,
            cloudworks_hint_requests=self.cloudworks_hint_requests,
            cloudworks_linked=self.cloudworks_linked,
        )
        self.rows.append(budget_row(self.config, load))

    # -- CloudWorks ------------------------------------------------------------------------------------

    def cloudworks(self) -> None:
        url = self.config.client.cloudworks_url
        mode = self.config.cloudworks.mode
        if mode is CloudWorksMode.OFF:
            self.add(Verdict.INFO, "cloudworks", url, "not checked: CloudWorks is off")
            return
        if _default_cloudworks_elsewhere(self.config.client):
            self.add(
                Verdict.INFO,
                "cloudworks",
                url,
                "not checked: anaplan.cloudworks_url is Anaplan's default but api_url is not on anaplan.com "
                "(a simulator or proxy); set cloudworks_url to check it",
            )
            return
        failed = Verdict.FAIL if mode is CloudWorksMode.ON else Verdict.INFO
        cloudworks = CloudWorksClient(self.client)
        try:
            integrations = cloudworks.list_integrations()
            flows = cloudworks.list_flows()
        except (CloudWorksAccessError, AnaplanError) as exc:
            self.add(failed, "cloudworks", url, f"not readable: {exc}")
            return
        self.cloudworks_list_requests = _pages(len(integrations), cloudworks.page_size) + _pages(
            len(flows), cloudworks.page_size
        )
        if not self.config.cloudworks.integrations.empty:
            models = {key[1].upper() for key in self.tally.watched}
            self.cloudworks_hint_requests = _pages(len(integrations), cloudworks.page_size)
            self.cloudworks_linked = sum(1 for i in integrations if i.model_id.upper() in models)
        self.add(
            Verdict.OK,
            "cloudworks",
            url,
            f"readable: {_count(len(integrations), 'integration')}, {_count(len(flows), 'flow')}",
        )

    # -- the state file --------------------------------------------------------------------------------

    def state(self) -> None:
        self.rows.append(state_row(self.config.state))


@dataclass(frozen=True)
class Load:
    """What the exporter would poll, as the check found it."""

    objects: int
    with_runs: int
    """Objects with at least one run listed (their first look also reads the newest run)."""
    running: int
    """Objects whose newest run is unfinished now (checked every ``active_interval``: list and status)."""
    processes: int
    """Processes (their step names are read at start and every ``metadata_refresh_interval``)."""
    catalog_requests: int
    """Requests of one discovery (workspaces, models, object lists), made every ``discovery_interval``."""
    cloudworks_list_requests: int = 0
    """Requests of one read of CloudWorks' integration and flow lists (0: CloudWorks is not read)."""
    cloudworks_hint_requests: int = 0
    """Requests of one read of the integration list alone, which each replica other than 0 makes for hints
    (0: not read)."""
    cloudworks_linked: int = 0
    """Integrations in the watched models: each replica other than 0 may read their Anaplan objects (one
    request each) every ``metadata_refresh_interval``."""


def _pages(items: int, page_size: int) -> int:
    """Requests to read a list of ``items`` (an empty list takes one too)."""
    return max(1, math.ceil(items / page_size))


def budget_row(config: Config, load: Load) -> Row:
    """The requests per second the configured intervals need against what the limiter sustains (the
    deployment's ``requests_per_second``, 9% under it: ``limiter.ARRIVAL_MARGIN``), and the start-up cost.

    ``FAIL`` when the idle sweep would stretch past the ``AnaplanPollingBehind`` threshold, ``warn`` above
    ``COMFORTABLE_SHARE`` of the budget."""
    polling = config.polling
    rate = config.replica_client.requests_per_second * config.shard_total
    sustained = rate / (1.0 + ARRIVAL_MARGIN)
    idle = load.objects / polling.idle_interval
    running = load.running * 2.0 / polling.active_interval
    steady = (
        load.catalog_requests / polling.discovery_interval
        + load.processes / polling.metadata_refresh_interval
    )
    # Replica 0 reads the CloudWorks lists each list_interval, or less often to stay within a quarter of its
    # share of the budget; every other replica reads the integration list the same way for hints, and the
    # Anaplan objects of the integrations in its models every metadata_refresh_interval.
    replica_cap = MAX_BUDGET_SHARE * sustained / config.shard_total
    interval = config.cloudworks.list_interval
    cloudworks = min(load.cloudworks_list_requests / interval, replica_cap)
    hints = (config.shard_total - 1) * (
        min(load.cloudworks_hint_requests / interval, replica_cap)
        + load.cloudworks_linked / polling.metadata_refresh_interval
    )
    need = idle + running + steady + cloudworks + hints
    lists = f", {cloudworks:.2f} CloudWorks lists" if cloudworks else ""
    if hints:
        lists += f", {hints:.2f} CloudWorks hints on {_count(config.shard_total - 1, 'other replica')}"
    start = 1 + load.catalog_requests + load.objects + load.with_runs + load.processes
    shards = f", {config.shard_total} shards" if config.shard_total > 1 else ""
    every = _number(polling.idle_interval)
    item = f"{_count(load.objects, 'object')} every {every} s at {_number(rate)} req/s{shards}"
    share = need / sustained
    detail = (
        f"needs {need:.2f} req/s = {share:.0%} of the {sustained:.2f} req/s the limiter sustains "
        f"({idle:.2f} idle looks, {running:.2f} for {load.running} running now, {steady:.3f} "
        f"discovery and step names{lists}); start-up about {start} requests, ready in about "
        f"{math.ceil(start / sustained)} s"
    )
    if share <= COMFORTABLE_SHARE:
        return Row(Verdict.OK, "budget", item, detail)
    if share <= 1.0:
        return Row(Verdict.WARN, "budget", item, detail + "; little room left for running tasks' checks")
    spare = sustained - running - steady - cloudworks - hints
    sweep = load.objects / spare if spare > 0 else math.inf
    if sweep <= BEHIND_FACTOR * polling.idle_interval:
        return Row(
            Verdict.WARN, "budget", item, detail + f"; the idle sweep stretches to about {sweep:.0f} s"
        )
    return Row(
        Verdict.FAIL,
        "budget",
        item,
        detail + f"; the idle sweep would take about {sweep:.0f} s, more than {BEHIND_FACTOR:g} idle "
        "intervals (AnaplanPollingBehind): raise polling.idle_interval or anaplan.requests_per_second, "
        "or shard",
    )


def state_verdict(path: Path) -> Row:
    """Whether the exporter could keep its state at ``path``: the file readable if it exists, and a temp file
    beside it writable (created and removed; the state file itself is not touched). A file a running exporter
    holds (its lock) is a warning, and nothing beside it is touched."""
    item = str(path)
    if not path.parent.is_dir():
        return Row(Verdict.FAIL, "state", item, f"the folder {path.parent} does not exist")
    holder = lock_holder(path)
    if holder is not None:  # its temp file is that exporter's: not to be touched while it may be saving
        who = "another exporter" if holder.holder is None else f"an exporter (pid {holder.holder})"
        return Row(
            Verdict.WARN,
            "state",
            item,
            f"in use by {who}, which holds {lock_path(path)}: an exporter started with this configuration "
            "beside it would not get the file (give each its own state.path)",
        )
    try:
        StateStore(path).check_writable()
    except StateFileError as exc:
        return Row(Verdict.FAIL, "state", item, str(exc))
    if not path.exists():
        return Row(
            Verdict.OK, "state", item, "writable; the file does not exist yet (written at the first save)"
        )
    if not path.is_file():
        return Row(Verdict.FAIL, "state", item, "cannot read the state file: it is not a regular file")
    if not os.access(path, os.R_OK):
        return Row(Verdict.FAIL, "state", item, "cannot read the state file: permission denied")
    saved = iso_time(path.stat().st_mtime)
    return Row(
        Verdict.OK, "state", item, f"readable and writable; {path.stat().st_size} bytes, saved {saved}"
    )


def state_row(state: StateConfig) -> Row:
    """Where the exporter would keep its state: the configured file, the default one, or none."""
    if state.path is not None:
        return default_state_verdict(state.path) if state.default else state_verdict(state.path)
    why = (
        "neither XDG_STATE_HOME nor HOME is set, so there is no default state file"
        if state.default
        else 'state.path is ""'
    )
    return Row(
        Verdict.WARN,
        "state",
        "(none)",
        f"{why}: the state is kept in memory, and a restart forgets which runs were counted (a failure while "
        "the exporter is down is not reported)",
    )


def default_state_verdict(path: Path) -> Row:
    """``state_verdict`` of the default state file (``state.path`` not set), whose folders are created as
    the exporter would create them. One that cannot be written is a warning, not a failure: the exporter
    then keeps its state in memory (``StateStore.open``)."""
    try:
        create_folder(path)
        if lock_holder(path) is None:  # else state_verdict says who holds it
            StateStore(path).check_writable()
    except StateFileError as exc:
        return Row(
            Verdict.WARN,
            "state",
            str(path),
            f"the default state file: {exc}; the exporter would keep its state in memory only (set "
            "state.path to a writable file)",
        )
    row = state_verdict(path)
    return replace(row, detail=f"the default state file (state.path not set): {row.detail}")


def _default_cloudworks_elsewhere(settings: ClientSettings) -> bool:
    """Anaplan's own CloudWorks URL with an API that is not Anaplan's: the token would go to another host."""
    default = ClientSettings().cloudworks_url
    host = (urlsplit(settings.api_url).hostname or "").lower()
    return settings.cloudworks_url == default and not (host == "anaplan.com" or host.endswith(".anaplan.com"))


def _who(credentials: Credentials, method: str) -> str:
    """The login method as ``anaplan.auth.method`` names it, and whom it logs in as (a user name or an OAuth
    client ID: no secret)."""
    method = "token" if method == "static" else method
    if isinstance(credentials, BasicCredentials):
        return f"{method} as {credentials.username}"
    if isinstance(credentials, OAuthCredentials):
        return f"{method}, client {credentials.client_id}"
    return method


def _ago(seconds: float) -> str:
    if seconds < 0:
        return "in the future"
    for unit, size in (("d", 86_400.0), ("h", 3_600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


# --- the entry point ---


def check_tenant(config: Config, *, clock: Callable[[], float] = time.time) -> Report:
    """Run every check against the tenant ``config`` describes; never raises for what Anaplan answers."""
    log = _RequestLog(clock)
    settings = replace(config.replica_client, user_agent=f"anaplan-exporter/{__version__} (tenant check)")
    client = AnaplanClient(settings, config.credentials, observer=log, clock=clock)
    redact_logs(client.redactor.scrub)
    check = _Check(config, client, log, clock)
    try:
        workspaces = check.login()
        if workspaces is not None:
            check.resolve(workspaces)
            check.read_task_lists()
            check.cloudworks()
            check.budget()
        check.state()
    finally:
        client.close(logout=False)
    return Report(config.source, tuple(check.rows), log.sent(), settings.requests_per_second)
