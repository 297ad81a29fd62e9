"""The demo stack (docker-compose.yml): mounts, ports and names agree; its configs pass the real tools."""

from __future__ import annotations

import posixpath
import subprocess
from pathlib import Path
from typing import Any

import pytest

from anaplan_exporter.cli import build_parser
from anaplan_exporter.config.web import DEFAULT_PORT
from support.binaries import find_binary

from .files import ALERTMANAGER_CONFIG, COMPOSE_FILE, REPO, RULES, load_yaml

Service = dict[str, Any]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = load_yaml(COMPOSE_FILE)
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), (
        "no services in the compose file"
    )
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Service]:
    services: dict[str, Service] = compose["services"]
    return services


def bind_mounts(service: Service) -> dict[str, Path]:
    """Container path -> repository path of each bind mount (named volumes are left out)."""
    mounts: dict[str, Path] = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith((".", "/")):
            mounts[target] = (REPO / source).resolve()
    return mounts


def host_file(service: Service, container_path: str) -> Path:
    """The repository file that appears at ``container_path`` in the service's container."""
    for target, source in bind_mounts(service).items():
        if container_path == target:
            return source
        if container_path.startswith(target.rstrip("/") + "/"):
            return source / posixpath.relpath(container_path, target)
    raise AssertionError(f"{container_path} is not mounted from the repository")


def flag(service: Service, name: str) -> str:
    """The value of ``--name=value`` in the service's command."""
    for arg in service.get("command", []):
        if arg.startswith(f"--{name}="):
            return str(arg.split("=", 1)[1])
    raise AssertionError(f"no --{name} in {service.get('command')}")


def published(service: Service) -> dict[int, str]:
    """Container port -> the host side of its mapping."""
    ports: dict[int, str] = {}
    for mapping in service.get("ports", []):
        host, _, container = str(mapping).rpartition(":")
        ports[int(container)] = host
    return ports


def test_the_stack_has_its_four_services(services: dict[str, Service]) -> None:
    assert set(services) >= {"exporter", "prometheus", "alertmanager", "grafana"}


def test_every_mounted_host_path_exists(services: dict[str, Service]) -> None:
    for name, service in services.items():
        for target, source in bind_mounts(service).items():
            assert source.exists(), (
                f"service {name}: {source.relative_to(REPO)} (mounted at {target}) is missing"
            )
            assert REPO in source.parents, f"service {name} mounts {source}, outside the repository"


def test_images_are_pinned(services: dict[str, Service]) -> None:
    for name, service in services.items():
        image = service.get("image", "")
        if "build" in service:
            continue
        assert ":" in image and not image.endswith(":latest"), (
            f"service {name}: pin the image tag ({image!r})"
        )


def test_ports_are_published_on_loopback_only(services: dict[str, Service]) -> None:
    for name, service in services.items():
        for container, host in published(service).items():
            assert host.startswith("127.0.0.1:"), f"service {name}: port {container} published on {host!r}"


def test_exporter_runs_in_demo_mode_on_all_addresses(services: dict[str, Service]) -> None:
    exporter = services["exporter"]
    assert exporter["build"] in (".", {"context": "."}), (
        "the exporter is built from the repository's Dockerfile"
    )
    args = build_parser().parse_args(exporter["command"])
    assert args.config is None, "the demo stack runs the exporter in demo mode"
    assert args.listen_address == f":{DEFAULT_PORT}", "demo mode listens on loopback unless told otherwise"
    assert DEFAULT_PORT in published(exporter)


def _prometheus_config(services: dict[str, Service]) -> tuple[str, dict[str, Any]]:
    container_path = flag(services["prometheus"], "config.file")
    data: dict[str, Any] = load_yaml(host_file(services["prometheus"], container_path))
    return container_path, data


def test_prometheus_scrapes_the_exporter_service(services: dict[str, Service]) -> None:
    _, config = _prometheus_config(services)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    # The rules' AnaplanExporterDown watches this job name.
    assert 'job="anaplan"' in RULES.read_text(encoding="utf-8")
    targets = [t for c in jobs["anaplan"]["static_configs"] for t in c["targets"]]
    assert targets == [f"exporter:{DEFAULT_PORT}"]
    assert jobs["anaplan"].get("metrics_path", "/metrics") == "/metrics"


def test_alert_links_open_from_the_machine_running_the_stack(services: dict[str, Service]) -> None:
    """The default runbook link is http://{{ $labels.instance }}/runbook; the dashboard link Grafana's."""
    _, config = _prometheus_config(services)
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "anaplan"]
    instance = [r["replacement"] for r in job["relabel_configs"] if r["target_label"] == "instance"]
    host, _, port = published(services["exporter"])[DEFAULT_PORT].rpartition(":")
    assert host == "127.0.0.1" and instance == [f"localhost:{port}"]
    assert published(services["grafana"])[3000] == "127.0.0.1:3000"
    assert "http://localhost:3000/d/" in RULES.read_text(encoding="utf-8")
    assert "http://{{ $labels.instance }}/runbook#" in RULES.read_text(encoding="utf-8")


def test_prometheus_alerts_to_the_alertmanager_service(services: dict[str, Service]) -> None:
    _, config = _prometheus_config(services)
    targets = [
        t for am in config["alerting"]["alertmanagers"] for c in am["static_configs"] for t in c["targets"]
    ]
    assert targets == ["alertmanager:9093"]
    assert 9093 in published(services["alertmanager"])


def test_prometheus_loads_the_bundled_rules_inside_the_container(services: dict[str, Service]) -> None:
    container_path, config = _prometheus_config(services)
    for rule_file in config["rule_files"]:
        in_container = posixpath.normpath(posixpath.join(posixpath.dirname(container_path), rule_file))
        assert host_file(services["prometheus"], in_container) == RULES.resolve()
        # ... and the same relative path works from the config's place in the repository.
        config_in_repo = host_file(services["prometheus"], container_path)
        assert (config_in_repo.parent / rule_file).resolve() == RULES.resolve()


def test_prometheus_config_passes_promtool(services: dict[str, Service]) -> None:
    container_path, _ = _prometheus_config(services)
    config = host_file(services["prometheus"], container_path)
    done = subprocess.run(
        [str(find_binary("promtool")), "check", "config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 rule files found" in done.stdout


def test_alertmanager_config_passes_amtool(services: dict[str, Service]) -> None:
    alertmanager = services["alertmanager"]
    config = host_file(alertmanager, flag(alertmanager, "config.file"))
    assert config == ALERTMANAGER_CONFIG.resolve()
    done = subprocess.run(
        [str(find_binary("amtool")), "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _grafana_provisioning(grafana: Service, kind: str) -> list[dict[str, Any]]:
    """The provisioning documents Grafana reads from /etc/grafana/provisioning/<kind>/."""
    folder = f"/etc/grafana/provisioning/{kind}"
    documents = []
    for target, source in bind_mounts(grafana).items():
        if target == folder:
            documents += [load_yaml(p) for p in sorted(source.glob("*.y*ml"))]
        elif posixpath.dirname(target) == folder:
            documents.append(load_yaml(source))
    assert documents, f"nothing mounted under {folder}"
    return documents


def test_grafana_dashboard_provider_path_holds_the_dashboards(services: dict[str, Service]) -> None:
    grafana = services["grafana"]
    dashboards = sorted(p.name for p in (REPO / "grafana" / "dashboards").glob("*.json"))
    assert len(dashboards) >= 2
    providers = [p for doc in _grafana_provisioning(grafana, "dashboards") for p in doc["providers"]]
    for provider in providers:
        folder = host_file(grafana, provider["options"]["path"])
        assert sorted(p.name for p in folder.glob("*.json")) == dashboards


def test_grafana_datasource_is_the_compose_prometheus(services: dict[str, Service]) -> None:
    datasources = [
        d for doc in _grafana_provisioning(services["grafana"], "datasources") for d in doc["datasources"]
    ]
    prometheus = [d for d in datasources if d["type"] == "prometheus"]
    assert len(prometheus) == 1
    assert prometheus[0]["url"] == "http://prometheus:9090"
    assert 9090 in published(services["prometheus"])
    # The dashboards' "datasource" variable picks the default Prometheus datasource.
    assert prometheus[0]["isDefault"] is True
    shared = load_yaml(REPO / "grafana" / "provisioning" / "datasources" / "anaplan-prometheus.yml")
    assert {k: prometheus[0][k] for k in ("name", "uid")} == {
        k: shared["datasources"][0][k] for k in ("name", "uid")
    }


def test_grafana_dashboards_use_a_prometheus_datasource_variable() -> None:
    for path in sorted((REPO / "grafana" / "dashboards").glob("*.json")):
        variables = load_yaml(path)["templating"]["list"]  # JSON is YAML
        chosen = [v for v in variables if v.get("type") == "datasource"]
        assert [v.get("query") for v in chosen] == ["prometheus"], path.name


def test_grafana_home_dashboard_is_mounted(services: dict[str, Service]) -> None:
    grafana = services["grafana"]
    home = grafana.get("environment", {}).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        assert host_file(grafana, home).exists()
