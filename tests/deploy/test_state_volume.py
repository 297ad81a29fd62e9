"""The state file lives on a volume wherever the exporter is deployed: the image, compose and Kubernetes."""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path
from typing import Any

from anaplan_exporter.config.file import STATE_PATH_ENV, load_config

from .files import COMPOSE_FILE, DOCKERFILE, KUBERNETES, dockerfile_stages, load_all_yaml, load_yaml


def _image_state_path() -> str:
    runtime = dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8"))[1][-1]
    values = " ".join(i.value for i in runtime.all("ENV"))
    found = re.findall(rf"{STATE_PATH_ENV}=(\S+)", values)
    assert len(found) == 1, f"the runtime stage sets {STATE_PATH_ENV} once"
    return str(found[0])


def _statefulset() -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        m for m in load_all_yaml(KUBERNETES / "statefulset.yaml") if m["kind"] == "StatefulSet"
    ]
    assert len(found) == 1
    return found[0]


def test_the_image_keeps_its_state_file_in_a_volume_its_user_owns() -> None:
    runtime = dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8"))[1][-1]
    folder = posixpath.dirname(_image_state_path())
    volumes = [v for i in runtime.all("VOLUME") for v in json.loads(i.value)]
    assert folder in volumes
    setup = " ".join(r.value for r in runtime.all("RUN"))
    user = runtime.last("USER").value
    assert "mkdir -p" in setup and folder in setup
    assert f"chown {user} {folder}" in setup


def test_the_statefulset_gives_each_replica_a_volume_claim_for_the_state_file() -> None:
    statefulset = _statefulset()
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    path = env[STATE_PATH_ENV]
    assert path == _image_state_path()
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    claim = mounts[posixpath.dirname(path)]
    templates = {t["metadata"]["name"]: t for t in statefulset["spec"]["volumeClaimTemplates"]}
    assert templates[claim]["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert not any(v["name"] == claim for v in statefulset["spec"]["template"]["spec"]["volumes"])


def test_the_kubernetes_config_writes_its_state_where_the_claim_is_mounted() -> None:
    container = _statefulset()["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") or "secret" for e in container["env"]}
    config = load_config(KUBERNETES / "anaplan-exporter.yml", env)
    assert config.state.path == Path(env[STATE_PATH_ENV])


def test_compose_keeps_the_exporter_state_folder_in_a_named_volume() -> None:
    compose = load_yaml(COMPOSE_FILE)
    folder = posixpath.dirname(_image_state_path())
    mounts = dict(reversed(v.split(":")[:2]) for v in compose["services"]["exporter"]["volumes"])
    assert mounts[folder] in compose["volumes"]
