"""``/metrics``: the snapshot rendered straight to text, byte for byte what prometheus_client would write.

prometheus_client's encoders make one Sample per series and escape and sort its labels one by one; 10,000
watched processes are about 410,000 series, which costs seconds and hundreds of MB per scrape that way.
Here each object's labels are escaped once, each series is one string format, and the body is streamed
family by family in chunks (gzip-compressed on the fly when the scraper accepts it), so memory stays flat.
The exporter's own metrics (process, API calls) are small and go through the library as usual.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, cast
from urllib.parse import parse_qs

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_CONTENT_TYPE
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from ..snapshot import ObjectRef, ObjectStatus, Snapshot
from .metrics import FAMILIES, OBJECT_LABELS, Family, SnapshotCollector, exporter_families

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

CHUNK_OBJECTS = 250
"""Objects rendered per chunk of one family: bounds the memory a scrape needs."""
ESCAPE_CACHE = 256
"""Escaped extra label values kept per scrape (the first ones seen: states, results, reasons ...)."""


FAST_ESCAPINGS = ("", "underscores", "allow-utf-8")
"""Escaping schemes under which every name here is written as is (Prometheus asks for these)."""

_go_float = cast(Callable[[float], str], floatToGoString)
"""The library's float formatting (Go's), so values read exactly as its encoders write them."""


def escape_label_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


class _Layout:
    """Where a family's extra labels fall among the object's labels once all are sorted by name."""

    def __init__(self, extra: tuple[str, ...]) -> None:
        names = sorted({*OBJECT_LABELS, *extra})
        # Segments: a run of object labels (a tuple of their names) or the index of an extra label.
        self.segments: list[tuple[str, ...] | int] = []
        for name in names:
            if name in extra:
                self.segments.append(extra.index(name))
            elif self.segments and isinstance(self.segments[-1], tuple):
                self.segments[-1] = (*self.segments[-1], name)
            else:
                self.segments.append((name,))
        self.extra_names = extra
        self.order = [s for s in self.segments if isinstance(s, int)]
        """Extra label indexes in the order they are written."""

    def pieces(self, name: str, labels: _ObjectLabels) -> list[str]:
        """The fixed text of one object's series: ``len(extra) + 1`` pieces around the extra values."""
        pieces = [f"{name}{{"]
        first = True
        for segment in self.segments:
            if isinstance(segment, tuple):
                pieces[-1] += ("" if first else ",") + labels.run(segment)
            else:
                pieces[-1] += ("" if first else ",") + f'{self.extra_names[segment]}="'
                pieces.append('"')
            first = False
        pieces[-1] += "} "
        return pieces


class _ObjectLabels:
    """An object's escaped ``name="value"`` pairs, joined per run of consecutive label names.

    Only the joined runs are kept (a family layout needs two or three): memory per scrape stays small.
    """

    __slots__ = ("_ref", "_runs")

    def __init__(self, ref: ObjectRef) -> None:
        self._ref = ref
        self._runs: dict[tuple[str, ...], str] = {}

    def run(self, names: tuple[str, ...]) -> str:
        text = self._runs.get(names)
        if text is None:
            values = dict(zip(OBJECT_LABELS, self._ref.label_values(), strict=True))
            text = ",".join(f'{name}="{escape_label_value(values[name])}"' for name in names)
            self._runs[names] = text
        return text


class _Headers:
    def __init__(self, spec: Family, openmetrics: bool) -> None:
        sample_name = spec.name + "_total" if spec.type == "counter" else spec.name
        header_name = spec.name if openmetrics else sample_name
        doc = spec.documentation.replace("\\", r"\\").replace("\n", r"\n")
        if openmetrics:
            doc = doc.replace('"', r"\"")
        self.text = f"# HELP {header_name} {doc}\n# TYPE {header_name} {spec.type}\n"
        self.sample_name = sample_name


def _value(value: float) -> str:
    """``floatToGoString`` with the most common values (0 and 1) short-cut."""
    if value == 1.0:
        return "1.0"
    if value == 0.0:
        return "0.0" if math.copysign(1.0, value) > 0 else "-0.0"
    return _go_float(value)


OnError = Callable[[ObjectStatus, Exception], None]
"""Told once per scrape of each object whose series could not be written (they are left out)."""


def render_snapshot(
    snapshot: Snapshot, openmetrics: bool = False, on_error: OnError | None = None
) -> Iterator[bytes]:
    """The per-object families of ``snapshot`` as UTF-8 chunks, in ``FAMILIES`` order.

    An object whose data breaks a family's samples is left out of that family (and reported to
    ``on_error``); the other objects' series are written as usual.
    """
    objects = [(obj, _ObjectLabels(obj.ref)) for obj in snapshot.objects]
    escaped: dict[str, str] = {}  # extra label values that repeat: states, results, reasons, outcomes
    failed: set[int] = set()  # objects already reported in this scrape
    for spec in FAMILIES:
        headers = _Headers(spec, openmetrics)
        layout = _Layout(spec.extra_labels)
        order = layout.order
        name = headers.sample_name
        lines: list[str] = [headers.text]
        append = lines.append
        for start in range(0, len(objects), CHUNK_OBJECTS):
            for obj, object_labels in objects[start : start + CHUNK_OBJECTS]:
                mark = len(lines)
                try:
                    samples = spec.samples(obj)
                    if not samples:
                        continue
                    pieces = layout.pieces(name, object_labels)
                    if not order:
                        prefix = pieces[0]
                        for _, value in samples:
                            append(f"{prefix}{_value(value)}\n")
                        continue
                    for extra, value in samples:
                        parts = [pieces[0]]
                        for position, index in enumerate(order, 1):
                            raw = extra[index]
                            text = escaped.get(raw)
                            if text is None:
                                text = escape_label_value(raw)
                                if len(escaped) < ESCAPE_CACHE:
                                    escaped[raw] = text
                            parts.append(text)
                            parts.append(pieces[position])
                        parts.append(_value(value))
                        parts.append("\n")
                        append("".join(parts))
                except Exception as exc:  # one object's data must not fail the scrape: leave it out
                    del lines[mark:]
                    if on_error is not None and id(obj) not in failed:
                        failed.add(id(obj))
                        on_error(obj, exc)
            yield "".join(lines).encode("utf-8")
            lines = []
            append = lines.append
        if lines:  # no objects: the family's header alone, as the library writes it
            yield "".join(lines).encode("utf-8")


class _Combined(Collector):
    """The exporter-wide snapshot families plus a registry's collectors, for the library's encoders."""

    def __init__(self, snapshot: Snapshot, version: str, registry: Collector) -> None:
        self._snapshot, self._version, self._registry = snapshot, version, registry

    def collect(self) -> Iterable[Metric]:
        yield from exporter_families(self._snapshot, self._version)
        yield from self._registry.collect()


def make_metrics_app(
    collector: SnapshotCollector, registry: CollectorRegistry, on_error: OnError | None = None
) -> WSGIApplication:
    """A WSGI app like ``prometheus_client.make_wsgi_app``: the snapshot's series plus ``registry``'s.

    Content negotiation (text or OpenMetrics) and gzip follow the library; ``name[]`` filters and the
    name escapings that rewrite our (legacy-valid) names fall back to the library's own, slower, path.
    Objects whose series cannot be written are left out and reported to ``on_error``.
    """

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        snapshot = collector.get_snapshot()
        encoder, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
        params = parse_qs(environ.get("QUERY_STRING", ""))
        escaping = content_type.rpartition("escaping=")[2] if "escaping=" in content_type else ""
        names = params.get("name[]")
        chunks: Iterable[bytes]
        if names:  # only the registry's collectors describe their names (as with make_wsgi_app)
            chunks = [encoder(registry.restricted_registry(names))]
        elif escaping not in FAST_ESCAPINGS:
            full = CollectorRegistry()
            full.register(SnapshotCollector(lambda: snapshot, collector.version, on_error))
            full.register(registry)
            chunks = [encoder(full)]
        else:
            openmetrics = content_type.startswith(OPENMETRICS_CONTENT_TYPE.split(";")[0])
            rest = _Combined(snapshot, collector.version, registry)
            chunks = _chain(render_snapshot(snapshot, openmetrics, on_error), lambda: encoder(rest))
        headers = [("Content-Type", content_type)]
        if gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", "")):
            headers.append(("Content-Encoding", "gzip"))
            chunks = _gzip(chunks)
        start_response("200 OK", headers)
        return chunks

    return app


def _chain(first: Iterable[bytes], last: Callable[[], bytes]) -> Iterator[bytes]:
    yield from first
    yield last()


def _gzip(chunks: Iterable[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    for chunk in chunks:
        data = compressor.compress(chunk)
        if data:
            yield data
    yield compressor.flush()
