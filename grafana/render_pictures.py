"""Draws a picture of each dashboard in grafana/dashboards/ from its own queries on a real Prometheus.

Grafana is not needed: the Anaplan simulator (demo scenario, with a short burst of HTTP 429 answers now and
then), the exporter watching it and a real Prometheus with the project's rules run on loopback ports for a
few minutes; then every panel's queries go to Prometheus' HTTP API and the answers are laid out as an HTML
page per dashboard (``dashboard_html.py``), which headless Chromium turns into ``docs/dashboards/<uid>.png``.
The dashboards are read when the script runs, so new panels are drawn without changes here. ``--record``
keeps every answer of Prometheus in a file, from which the tests draw the pages again (``make pictures``
writes the pictures and that file together).

    .venv/bin/python grafana/render_pictures.py                  # about 3 minutes
    .venv/bin/python grafana/render_pictures.py --minutes 10
    .venv/bin/python grafana/render_pictures.py --prometheus http://127.0.0.1:9090 --minutes 60 --html-only

Prometheus and Chromium are found (or fetched) the way the tests find them (``tests/support/``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))

from dashboard_html import (  # noqa: E402
    Page,
    PanelData,
    Prometheus,
    PrometheusError,
    Recorder,
    Recording,
    Timing,
    draw_dashboard,
)

from support.binaries import BinaryUnavailable, locate_binary  # noqa: E402

DASHBOARDS = REPO / "grafana" / "dashboards"
OUT = REPO / "docs" / "dashboards"
SCENARIO = REPO / "exporter" / "anaplan_simulator" / "default-scenario.yml"
RULES = REPO / "config" / "prometheus" / "anaplan-rules.yml"
PROMETHEUS_CONFIG = RULES.with_name("prometheus.yml")
SIZE_LIMIT = 400_000
SCALES = (1.0, 0.9, 0.8, 0.7)  # device pixels per CSS pixel, tried in turn
# Every 45 s, 3 s of HTTP 429 answers: enough for the rate-limiting panels to have something to show.
RATE_LIMIT = {"every": 45, "for": 3}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="how long Prometheus scrapes (default 3)")
    parser.add_argument("--scrape-interval", type=int, default=5, help="seconds between scrapes (default 5)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder for the pictures (default {OUT})")
    parser.add_argument(
        "--prometheus",
        metavar="URL",
        help="draw from this Prometheus instead of starting one (--minutes is then the time range shown)",
    )
    parser.add_argument(
        "--html-only", action="store_true", help="write <uid>.html and <uid>.json to --out, no screenshot"
    )
    parser.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="also keep every answer of Prometheus in FILE, to draw the pages again without it",
    )
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.scrape_interval <= 0:
        parser.error("--minutes and --scrape-interval must be positive")
    return args


def load_dashboards() -> list[dict[str, Any]]:
    dashboards = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        dashboards.append(data)
    return dashboards


def demo_scenario() -> dict[str, Any]:
    scenario: dict[str, Any] = yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))
    scenario["faults"] = {**scenario.get("faults", {}), "rate_limit": RATE_LIMIT}
    return scenario


def exporter_config(simulator_url: str, scenario: dict[str, Any]) -> dict[str, Any]:
    """Watch every object and CloudWorks integration and flow of the scenario, polling as demo mode does."""
    from support.exporter import simulator_config

    targets = [
        {
            "workspace": ws["name"],
            "model": m["name"],
            **dict.fromkeys(("processes", "imports", "exports"), "*"),
        }
        | ({"actions": "*"} if m.get("actions") else {})
        for ws in scenario["workspaces"]
        for m in ws["models"]
    ]
    return simulator_config(
        simulator_url,
        targets=targets,
        polling={"idle_interval": 10, "active_interval": 5, "discovery_interval": 300},
        defaults={"expected_every": "10m", "max_duration": "5m"},
        cloudworks={"enabled": True},  # the demo scenario's integrations and flow
    )


def prometheus_config(exporter: str, scrape_interval: int) -> dict[str, Any]:
    """The example configuration and rules, scraping ``exporter``; no Alertmanager (ALERTS still fill)."""
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    interval = f"{scrape_interval}s"
    config["global"].update(scrape_interval=interval, evaluation_interval=interval)
    config["rule_files"] = [str(RULES)]
    config.pop("alerting", None)
    (job,) = config["scrape_configs"]
    job.update(scrape_interval=interval, scrape_timeout=interval, static_configs=[{"targets": [exporter]}])
    return config


@contextmanager
def demo_stack(scrape_interval: int, workdir: Path) -> Iterator[str]:
    """Simulator, exporter and Prometheus running; yields Prometheus' URL."""
    from monitoring.servers import running_prometheus
    from support.exporter import running_exporter
    from support.simulator import DEFAULT_PASSWORD, running_simulator

    scenario = demo_scenario()
    with running_simulator(scenario, workdir) as simulator:
        config = exporter_config(simulator.url, scenario)
        # The demo scenario's password, not the tests' scenarios' one that running_exporter gives by default.
        with running_exporter(config, workdir, env={"SIM_PASSWORD": DEFAULT_PASSWORD}) as exporter:
            address = exporter.url.split("://", 1)[1]
            with running_prometheus(prometheus_config(address, scrape_interval), workdir) as prometheus:
                yield prometheus.url


def wait(minutes: float) -> None:
    until = time.time() + minutes * 60
    print(
        f"scraping for {minutes:g} min, until {time.strftime('%H:%M:%S', time.localtime(until))}", flush=True
    )
    while time.time() < until:
        time.sleep(min(10.0, max(until - time.time(), 0.0)))


def summary(panels: Sequence[PanelData], timing: Timing) -> dict[str, Any]:
    """What each panel showed and the queries behind it, with the time range they ran over."""
    return {
        "start": timing.start,
        "end": timing.end,
        "step": timing.step,
        "panels": [
            {
                "id": data.panel.get("id"),
                "title": data.panel.get("title"),
                "type": data.panel.get("type"),
                "state": data.state,
                "series": len(data.series),
                "queries": data.queries,
                "errors": data.errors,
            }
            for data in panels
        ],
    }


def draw_all(args: argparse.Namespace, url: str, timing: Timing, note: str) -> int:
    """Write the pictures (or the HTML pages) and the recording asked for; 1 when a query failed."""
    out: Path = args.out
    html_only: bool = args.html_only
    prometheus = Recorder(url)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dashboard-pictures-") as scratch:
        chromium = None
        if not html_only:
            from support.chromium import locate_chromium

            chromium = locate_chromium()
        pages = out if html_only else Path(scratch)
        status = 0
        for dashboard in load_dashboards():
            uid = str(dashboard["uid"])
            page, panels = draw_dashboard(prometheus, dashboard, timing, note)
            html_path = pages / f"{uid}.html"
            html_path.write_text(page.html, encoding="utf-8")
            report = json.dumps(summary(panels, timing), indent=1)
            (pages / f"{uid}.json").write_text(report + "\n", encoding="utf-8")
            shown = str(html_path)
            if chromium is not None:
                shown = picture(chromium, html_path, out / f"{uid}.png", page)
            empty = [str(d.panel.get("title")) for d in panels if d.state == "no-data"]
            print(f"{shown}: {len(panels)} panels" + (f"; no data: {', '.join(empty)}" if empty else ""))
            for data in panels:
                if data.errors:
                    print(
                        f"error: {uid}: {data.panel.get('title')}: {'; '.join(data.errors)}", file=sys.stderr
                    )
                    status = 1
    if args.record:
        Recording(timing, note, prometheus.answers).save(args.record)
        print(f"{args.record}: {len(prometheus.answers)} answers of Prometheus")
    return status


def picture(chromium: Path, html_path: Path, png: Path, page: Page) -> str:
    """Screenshot the whole page, at a smaller scale while the PNG is above ``SIZE_LIMIT`` (text is heavy)."""
    from support.chromium import FLAGS

    for scale in SCALES:
        with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
            subprocess.run(
                [
                    str(chromium),
                    *FLAGS,
                    f"--user-data-dir={profile}",
                    f"--force-device-scale-factor={scale}",
                    f"--screenshot={png}",
                    f"--window-size={page.width},{page.height}",
                    html_path.as_uri(),
                ],
                capture_output=True,
                timeout=120,
                check=True,
            )
        size = png.stat().st_size
        if size <= SIZE_LIMIT:
            break
    kilobytes = f"{size // 1000} KB" + (f" at scale {scale:g}" if scale != 1 else "")
    if size > SIZE_LIMIT:
        print(f"warning: {png} is {kilobytes}, above {SIZE_LIMIT // 1000} KB", file=sys.stderr)
    return f"{png} ({kilobytes})"


def prometheus_version(prometheus: Prometheus) -> str:
    try:
        info = prometheus.get("/api/v1/status/buildinfo")
    except PrometheusError:
        return "Prometheus"
    return f"Prometheus {info.get('version', '')}".strip()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.prometheus:
            prometheus = Prometheus(args.prometheus.rstrip("/"))
            timing = Timing.last(args.minutes * 60, time.time(), args.scrape_interval)
            note = f"{prometheus_version(prometheus)} at {prometheus.url}."
            return draw_all(args, prometheus.url, timing, note)
        locate_binary("prometheus")
        return draw_from_demo(args)
    except (AssertionError, BinaryUnavailable, PrometheusError, subprocess.SubprocessError) as exc:
        # tests/support reports a process that would not start as an AssertionError with its log.
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        print(f"error: {lines[0]}", file=sys.stderr)
        return 1


def draw_from_demo(args: argparse.Namespace) -> int:
    """Start the simulator, the exporter and Prometheus, let Prometheus scrape, then draw."""
    with (
        tempfile.TemporaryDirectory(prefix="dashboard-pictures-") as scratch,
        demo_stack(args.scrape_interval, Path(scratch)) as url,
    ):
        prometheus = Prometheus(url)
        started = time.time()
        wait(args.minutes)
        timing = Timing.last(time.time() - started, time.time(), args.scrape_interval)
        note = (
            f"Anaplan simulator (demo scenario, {RATE_LIMIT['for']} s of HTTP 429 "
            f"every {RATE_LIMIT['every']} s), "
            f"anaplan-exporter, {prometheus_version(prometheus)} with config/prometheus/anaplan-rules.yml, "
            f"scraping every {args.scrape_interval} s for {args.minutes:g} min; variables at All."
        )
        return draw_all(args, url, timing, note)


if __name__ == "__main__":
    sys.exit(main())
