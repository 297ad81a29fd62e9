"""The read-only Anaplan Integration API v2 client: typed results, typed errors.

It only ever GETs from the integration API (POSTs go to the auth services alone), so it cannot start,
cancel or change anything in a tenant.
"""

from __future__ import annotations

import logging
import math
import random as _random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import quote, urlsplit

import requests

from .auth import Credentials, token_authorization
from .auth_backoff import AuthBackoff, AuthRefusal, CredentialSource
from .deadline import WatchingAdapter
from .errors import AnaplanAuthError, AnaplanConfigurationError, AnaplanError
from .limiter import Limiter
from .models import Model, ModelObject, ObjectType, ProcessMetadata, Task, TaskSummary, Workspace
from .observer import ApiObserver, NullObserver
from .parsing import (
    Paging,
    parse_models,
    parse_objects,
    parse_paging,
    parse_process_metadata,
    parse_task_list,
    parse_task_status,
    parse_workspaces,
)
from .redact import Redactor, credential_secrets
from .timestamps import BAD_TIMESTAMP, TimeCheck
from .tokens import TokenManager
from .transport import Limits, Reply, RetryPolicy, Transport, decode_json

if TYPE_CHECKING:
    from requests.sessions import _Cert, _Settings, _TextMapping, _Verify

log = logging.getLogger(__name__)

T = TypeVar("T")

# A guard against a server whose paging never ends; 5000 pages of 5000 items is far beyond any model.
_MAX_PAGES = 5000

NEWEST_FIRST = "-creationDate"
"""The task lists' ``sort``: newest first (Anaplan lists oldest first by default)."""

MIN_RESPONSE_SIZE = 64 * 1024
"""The smallest allowed ``max_response_size``: a full page of 5000 tasks is about 0.5 MB."""


@dataclass(frozen=True)
class ClientSettings:
    """Hosts, timeouts, retry and rate budgets. ``backoff_max`` caps every single wait, Retry-After too.

    ``connect_timeout`` and ``read_timeout`` bound each socket operation; ``total_timeout`` bounds a whole
    attempt (connect, headers and body) and is therefore at least as long as either. ``max_response_size``
    is the largest body read (bytes, after decompression).
    """

    api_url: str = "https://api.anaplan.com/2/0"
    auth_url: str = "https://auth.anaplan.com"
    oauth_url: str = "https://us1a.app.anaplan.com"
    cloudworks_url: str = "https://api.cloudworks.anaplan.com/2/0"
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    total_timeout: float = 120.0
    max_response_size: int = 8 * 1024 * 1024
    max_retries: int = 4
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    max_concurrency: int = 4
    requests_per_second: float = 5.0
    refresh_margin: float = 300.0
    verify_tls: bool | str = True
    user_agent: str = "anaplan-exporter"
    """The application sets its own, with its version (the client does not know it)."""
    page_size: int = 5000

    def __post_init__(self) -> None:
        for name in ("api_url", "auth_url", "oauth_url", "cloudworks_url"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.startswith(("http://", "https://")):
                raise AnaplanConfigurationError(
                    f"client setting {name}: expected an http(s) URL, got {value!r}"
                )
        positive = ("connect_timeout", "read_timeout", "total_timeout", "requests_per_second")
        non_negative = ("backoff_initial", "backoff_max", "refresh_margin")
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name in positive and not value > 0:
                raise AnaplanConfigurationError(f"client setting {field.name}: must be > 0, got {value!r}")
            if field.name in non_negative and not value >= 0:
                raise AnaplanConfigurationError(f"client setting {field.name}: must be >= 0, got {value!r}")
        if self.max_retries < 0:
            raise AnaplanConfigurationError(
                f"client setting max_retries: must be >= 0, got {self.max_retries}"
            )
        if self.max_concurrency < 1:
            raise AnaplanConfigurationError(
                f"client setting max_concurrency: must be >= 1, got {self.max_concurrency}"
            )
        if self.total_timeout < max(self.connect_timeout, self.read_timeout):
            raise AnaplanConfigurationError(
                "client setting total_timeout: must not be less than connect_timeout or read_timeout, "
                f"got {self.total_timeout!r}"
            )
        if self.max_response_size < MIN_RESPONSE_SIZE:
            raise AnaplanConfigurationError(
                f"client setting max_response_size: must be at least {MIN_RESPONSE_SIZE} bytes, "
                f"got {self.max_response_size!r}"
            )
        if not 1 <= self.page_size <= 5000:
            raise AnaplanConfigurationError(
                f"client setting page_size: must be 1..5000, got {self.page_size}"
            )


class _Session(requests.Session):
    """A session that reads the environment once per origin instead of on every request.

    requests looks up proxy and CA-bundle variables (walking ``os.environ``) and stats ``~/.netrc`` for
    each request: a fifth of the client's CPU per request. Proxy settings are still honoured, resolved once
    per scheme and host. ``~/.netrc`` is not read at all: its Basic credentials would replace the token
    in the Authorization header.
    """

    def __init__(self) -> None:
        super().__init__()
        self.auth = _keep_headers
        self._environment: dict[tuple[str, object, object, object], _Settings] = {}

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: _TextMapping | None,
        stream: bool | None,
        verify: _Verify | None,
        cert: _Cert | None,
    ) -> _Settings:
        if proxies or not isinstance(url, str):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (f"{parts.scheme}://{parts.netloc}", stream, verify, cert)
        settings = self._environment.get(key)
        if settings is None:
            settings = self._environment[key] = super().merge_environment_settings(
                url, {}, stream, verify, cert
            )
        return settings.copy()


def _keep_headers(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """The session's auth: none (the client sets Authorization itself), which also skips ``~/.netrc``."""
    return request


def _session(max_concurrency: int) -> requests.Session:
    """A session that keeps one connection per concurrent request (requests keeps 10 by default, so a
    higher ``max_concurrency`` would open, and throw away, a new connection for every extra request)."""
    session = _Session()
    adapter = WatchingAdapter(pool_maxsize=max(max_concurrency, 10))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _segment(value: str) -> str:
    return quote(str(value), safe="")


class AnaplanClient:
    """Thread-safe: share one instance (one token, one limiter) between all polling threads.

    ``sleep`` waits between retries; by default a wait that :meth:`stop` ends at once. After a refused login
    every login waits for the shared backoff (``auth_backoff``); ``credential_source`` lets a change of the
    secret files end that wait at once.
    """

    def __init__(
        self,
        settings: ClientSettings,
        credentials: Credentials,
        *,
        observer: ApiObserver | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
        random: Callable[[], float] = _random.random,
        session: requests.Session | None = None,
        credential_source: CredentialSource | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._backoff = AuthBackoff(
            clock,
            on_refusal=credential_source.mark if credential_source is not None else None,
            random=random,
        )
        self._credential_source = credential_source
        self._credentials_lock = threading.Lock()
        self._observer: ApiObserver = observer if observer is not None else NullObserver()
        self._own_session = session is None
        self._session = session if session is not None else _session(settings.max_concurrency)
        self._stopping = threading.Event()
        self._limiter = Limiter(
            settings.max_concurrency, settings.requests_per_second, clock=clock, sleep=sleep
        )
        self._redactor = Redactor(credential_secrets(credentials))
        self._transport = Transport(
            self._session,
            self._limiter,
            observer=self._observer,
            retry=RetryPolicy(settings.max_retries, settings.backoff_initial, settings.backoff_max),
            limits=Limits(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                total=settings.total_timeout,
                max_response_size=settings.max_response_size,
            ),
            verify_tls=settings.verify_tls,
            user_agent=settings.user_agent,
            redactor=self._redactor,
            clock=clock,
            sleep=sleep if sleep is not None else self._wait,
            random=random,
        )
        self._tokens = TokenManager(
            credentials,
            self._transport,
            auth_url=settings.auth_url,
            oauth_url=settings.oauth_url,
            refresh_margin=settings.refresh_margin,
            observer=self._observer,
            clock=clock,
            backoff=self._backoff,
        )
        self._api = settings.api_url.rstrip("/")
        self._unsorted: set[str] = set()
        """Task-list paths whose server ignored ``sort``: read whole from then on."""
        self._unsorted_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AnaplanClient(api_url={self._api!r}, auth={self._tokens.method!r})"

    # ----------------------------------------------------------------- public API

    def list_workspaces(self) -> list[Workspace]:
        return self._paged("list_workspaces", "/workspaces", parse_workspaces)

    def list_models(self, workspace_id: str) -> list[Model]:
        return self._paged("list_models", f"/workspaces/{_segment(workspace_id)}/models", parse_models)

    def list_objects(self, workspace_id: str, model_id: str, object_type: ObjectType) -> list[ModelObject]:
        path = f"{self._model_path(workspace_id, model_id)}/{object_type.collection}"
        return self._paged("list_objects", path, lambda body: parse_objects(body, object_type))

    def process_metadata(self, workspace_id: str, model_id: str, process_id: str) -> ProcessMetadata:
        path = f"{self._model_path(workspace_id, model_id)}/processes/{_segment(process_id)}"
        return parse_process_metadata(self._get("process_metadata", path))

    def list_tasks(
        self,
        workspace_id: str,
        model_id: str,
        object_type: ObjectType,
        object_id: str,
        *,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[TaskSummary]:
        """The object's task list, newest first, each task once.

        With ``since`` (epoch seconds; ``math.inf`` for the first page alone) only the newest runs are read:
        pages of ``limit`` runs, asked for newest first, until one reaches a run created before ``since``.
        A look at an object with a long history then costs one small request. Without ``since``, or for an
        object whose list comes back in another order (a server that ignores ``sort``: remembered per
        object, logged once), every page is read, ``page_size`` runs at a time.
        """
        path = f"{self._object_path(workspace_id, model_id, object_type, object_id)}/tasks"
        times = TimeCheck(self._clock())
        try:
            if since is not None and path not in self._unsorted:
                recent = self._recent_tasks(path, since, limit or self._settings.page_size, times)
                if recent is not None:
                    return _newest_first(recent)
                self._note_unsorted(path, f"{object_type.value} {object_id}")
            tasks = self._paged(
                "list_tasks", path, lambda body: parse_task_list(body, times)[0], {"sort": NEWEST_FIRST}
            )
            return _newest_first(tasks)
        finally:
            self._report_times(times, "list_tasks", object_id)

    def task_list_page(
        self, workspace_id: str, model_id: str, object_type: ObjectType, object_id: str, limit: int
    ) -> tuple[list[TaskSummary], Paging | None]:
        """The first page of the object's task list, asked for newest first, as it came (in the server's
        order, which a server that ignores ``sort`` makes oldest first), and its paging: one request that
        tells how many runs Anaplan lists (``total_size``) and which is the newest."""
        path = f"{self._object_path(workspace_id, model_id, object_type, object_id)}/tasks"
        times = TimeCheck(self._clock())
        try:
            body = self._get("list_tasks", path, {"sort": NEWEST_FIRST, "offset": 0, "limit": limit})
            return parse_task_list(body, times)
        finally:
            self._report_times(times, "list_tasks", object_id)

    def task_status(
        self, workspace_id: str, model_id: str, object_type: ObjectType, object_id: str, task_id: str
    ) -> Task:
        """A task's status; processes ask for ``includeProcessDetails=true`` (step start times, durations)."""
        path = (
            f"{self._object_path(workspace_id, model_id, object_type, object_id)}/tasks/{_segment(task_id)}"
        )
        params = {"includeProcessDetails": "true"} if object_type is ObjectType.PROCESS else None
        times = TimeCheck(self._clock())
        try:
            return parse_task_status(self._get("task_status", path, params), times)
        finally:
            self._report_times(times, "task_status", object_id)

    @property
    def settings(self) -> ClientSettings:
        return self._settings

    @property
    def budget(self) -> Limiter:
        """The shared request budget (the poller paces its work by it and reports its use)."""
        return self._limiter

    @property
    def auth_method(self) -> str:
        """How this client logs in: ``basic``, ``certificate``, ``oauth`` or ``static`` (a given token)."""
        return self._tokens.method

    @property
    def token_expires_at(self) -> float | None:
        """Epoch seconds of the cached token's expiry; None before the first token and for static tokens."""
        return self._tokens.expires_at

    @property
    def auth_refusal(self) -> AuthRefusal | None:
        """The refused login that holds every login back, or None while logins are allowed."""
        return self._backoff.refusal

    def retry_auth_now(self) -> bool:
        """End the wait after a refused login: the next request logs in (False: no login was held back)."""
        return self._backoff.retry_now()

    def use_credentials(self, credentials: Credentials) -> None:
        """Log in with ``credentials`` from now on (a reload, changed secret files), and at once if a refusal
        was holding logins back. The cached token is dropped; requests already under way finish with it."""
        tokens = TokenManager(
            credentials,
            self._transport,
            auth_url=self._settings.auth_url,
            oauth_url=self._settings.oauth_url,
            refresh_margin=self._settings.refresh_margin,
            observer=self._observer,
            clock=self._clock,
            backoff=self._backoff,
        )
        self._redactor.add_secrets(credential_secrets(credentials))
        self._tokens = tokens
        self._backoff.retry_now()

    def _wait(self, seconds: float) -> None:
        """The default wait between retries: ends early when the client stops."""
        self._stopping.wait(seconds)

    @property
    def redactor(self) -> Redactor:
        """Masks this client's credentials and tokens in text (for messages built outside the client)."""
        return self._redactor

    def stop(self) -> None:
        """Abandon every request waiting for its turn or a retry (they raise AnaplanStoppedError) and refuse
        new ones; requests already on the wire finish. Call first when shutting down."""
        self._limiter.close()
        self._stopping.set()

    def close(self, *, logout: bool = True) -> None:
        """Stop, log out an auth-service token (best effort: skipped while Anaplan asks to wait; not at all
        with ``logout=False``, for a caller that sends no POST but the login), and close the HTTP session if
        the client made it."""
        self.stop()
        if logout:
            self._tokens.logout()
        if self._own_session:
            self._session.close()

    # ----------------------------------------------------------------- internals

    def _model_path(self, workspace_id: str, model_id: str) -> str:
        return f"/workspaces/{_segment(workspace_id)}/models/{_segment(model_id)}"

    def _object_path(self, workspace_id: str, model_id: str, object_type: ObjectType, object_id: str) -> str:
        return f"{self._model_path(workspace_id, model_id)}/{object_type.collection}/{_segment(object_id)}"

    def _token_manager(self) -> TokenManager:
        """The current token manager, with the credentials read again first if logins are held back and
        the secret files they came from have changed since."""
        source = self._credential_source
        if source is None or self._backoff.refusal is None:
            return self._tokens
        with self._credentials_lock:
            if self._backoff.refusal is not None and source.changed():
                try:
                    credentials = source.load()
                except (AnaplanError, OSError, ValueError) as exc:
                    log.error("the secret files changed but cannot be used; logins stay held back: %s", exc)
                else:
                    log.info("the secret files changed: logging in again now")
                    self.use_credentials(credentials)
        return self._tokens

    def _report_times(self, times: TimeCheck, endpoint: str, object_id: str) -> None:
        """Count the impossible times an answer held (they were treated as absent)."""
        if times.refused:
            self._observer.ignored_values(BAD_TIMESTAMP, times.refused)
            log.debug("%s of %s: %d impossible times ignored", endpoint, object_id, times.refused)

    def _get(self, endpoint: str, path: str, params: Mapping[str, str | int] | None = None) -> object:
        """GET an integration API path."""
        return self.get_json(endpoint, self._api + path, params)

    def get_json(self, endpoint: str, url: str, params: Mapping[str, str | int] | None = None) -> object:
        """GET a URL of any Anaplan API with this client's token, budget, retries, deadlines and size cap
        (the CloudWorks client shares them so); on a 401 renew the token once and replay once."""
        tokens = self._token_manager()
        token = tokens.token()
        try:
            with tokens.static_request():
                response = self._send_get(url, endpoint, token, params)
        except AnaplanAuthError:
            if not tokens.renewable:
                raise
            self._observer.retried("unauthorized")
            log.info("%s: token refused (HTTP 401); authenticating again and replaying once", endpoint)
            token = tokens.renew_after_unauthorized(token)
            try:
                response = self._send_get(url, endpoint, token, params)
            except AnaplanAuthError:
                self._observer.auth_failed()
                raise
        return decode_json(response, endpoint)

    def _send_get(self, url: str, endpoint: str, token: str, params: Mapping[str, str | int] | None) -> Reply:
        headers = {"Authorization": token_authorization(token)}
        return self._transport.send("GET", url, endpoint=endpoint, headers=headers, params=params)

    def _paged(
        self,
        endpoint: str,
        path: str,
        parse: Callable[[object], list[T]],
        params: Mapping[str, str] | None = None,
    ) -> list[T]:
        """Every page of a list endpoint, following ``meta.paging`` by ``offset``/``limit``."""
        items: list[T] = []
        offset = 0
        for _ in range(_MAX_PAGES):
            body = self._get(
                endpoint, path, {**(params or {}), "offset": offset, "limit": self._settings.page_size}
            )
            page = parse(body)
            items.extend(page)
            next_offset = following_offset(parse_paging(body), offset, len(page))
            if next_offset is None:
                return items
            offset = next_offset
        log.warning("%s: stopped after %d pages; the server's paging does not end", endpoint, _MAX_PAGES)
        return items

    def _recent_tasks(
        self, path: str, since: float, limit: int, times: TimeCheck
    ) -> list[TaskSummary] | None:
        """The newest runs back to ``since``, newest first; None when the order shows the server ignored
        ``sort`` and the pages read so far are not the whole list."""
        items: list[TaskSummary] = []
        previous = math.inf
        """The creation time of the last run read: the next one must not be newer."""
        offset = 0
        for _ in range(_MAX_PAGES):
            body = self._get("list_tasks", path, {"sort": NEWEST_FIRST, "offset": offset, "limit": limit})
            page, paging = parse_task_list(body, times)
            items.extend(page)
            next_offset = following_offset(paging, offset, len(page))
            created_times = [t.creation_time for t in page if t.creation_time is not None]
            for created in created_times:
                if created > previous:
                    return items if next_offset is None else None
                previous = created
            if next_offset is None or (created_times and created_times[-1] < since):
                return items
            offset = next_offset
        log.warning("list_tasks: stopped after %d pages; the server's paging does not end", _MAX_PAGES)
        return items

    def _note_unsorted(self, path: str, what: str) -> None:
        """Remember an object whose task list ignores ``sort``; the first such object is logged."""
        with self._unsorted_lock:
            first = not self._unsorted
            self._unsorted.add(path)
        if first:
            log.warning(
                "the task list of %s came back oldest first although newest first was asked for "
                "(sort=%s): every page of it is read from now on (other objects found so later are read "
                "whole too, without another message)",
                what,
                NEWEST_FIRST,
            )
        else:
            log.debug("the task list of %s ignores sort=%s: read whole from now on", what, NEWEST_FIRST)


def _newest_first(tasks: list[TaskSummary]) -> list[TaskSummary]:
    """Newest first by ``creationTime`` (runs without one last), each task once (a run created between two
    page reads pushes the others one place down, so the next page repeats one)."""
    unique: dict[str, TaskSummary] = {}
    for task in tasks:
        unique.setdefault(task.task_id, task)
    return sorted(
        unique.values(),
        key=lambda t: t.creation_time if t.creation_time is not None else -math.inf,
        reverse=True,
    )


def following_offset(paging: Paging | None, requested: int, received: int) -> int | None:
    """The offset of the next page, or None when this was the last one (or paging makes no progress)."""
    if paging is None or paging.total_size is None:
        return None
    size = paging.current_page_size if paging.current_page_size is not None else received
    start = paging.offset if paging.offset is not None else requested
    following = start + size
    if size <= 0 or following >= paging.total_size or following <= requested:
        return None
    return following
