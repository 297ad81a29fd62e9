"""docs/operations.md agrees with the files it describes."""

from __future__ import annotations

import re

from anaplan_exporter.config.web import DEFAULT_PORT

from .files import IMAGE_CONFIG_PATH, OPERATIONS_DOC, REPO, load_yaml

TEXT = OPERATIONS_DOC.read_text(encoding="utf-8")
# Paths of this repository quoted in the text (config/..., deploy/..., grafana/..., docs/...).
REPO_PATH = re.compile(r"`((?:config|deploy|grafana|docs|exporter)/[\w./-]+)`")


def test_every_quoted_repository_path_exists() -> None:
    quoted = REPO_PATH.findall(TEXT)
    assert quoted, "expected the guide to name repository files"
    missing = [path for path in quoted if not (REPO / path).exists()]
    assert not missing, f"docs/operations.md names files that do not exist: {missing}"


def test_container_commands_match_the_image() -> None:
    assert f"--web.listen-address :{DEFAULT_PORT}" in TEXT  # the demo in a container
    assert f"--config {IMAGE_CONFIG_PATH}" in TEXT  # the default command


def test_compose_ports_in_the_table_are_the_published_ones() -> None:
    services = load_yaml(REPO / "docker-compose.yml")["services"]
    for name, service in services.items():
        for mapping in service.get("ports", []):
            port = str(mapping).rsplit(":", 1)[1]
            assert f"| {name} | <http://localhost:{port}>" in TEXT, f"{name} on port {port} is not documented"


def test_kubernetes_shard_argument_is_the_documented_one() -> None:
    statefulset = load_yaml(REPO / "deploy" / "kubernetes" / "statefulset.yaml")
    args = statefulset["spec"]["template"]["spec"]["containers"][0]["args"]
    [shard] = [a for a in args if a.startswith("--shard=")]
    assert f"`{shard}`" in TEXT
