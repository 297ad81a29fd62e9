"""The Kubernetes manifests (deploy/kubernetes): parse, build with kustomize, match the exporter and rules."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes_validate
import pytest
import yaml

from anaplan_exporter.cli import build_parser, parse_shard
from anaplan_exporter.config.file import load_config
from anaplan_exporter.config.web import DEFAULT_PORT
from anaplan_exporter.serving.web import HEALTHY_PATH, READY_PATH
from support.binaries import find_binary

from .files import DOCKERFILE, KUBERNETES, RULES, dockerfile_stages, load_all_yaml, load_yaml, system_tool

Manifest = dict[str, Any]
# Kubernetes versions to validate against: the oldest with the pod-index label, and the newest.
KUBERNETES_VERSIONS = ("1.28.0", kubernetes_validate.latest_version().rsplit(".", 1)[0] + ".0")


def kustomization() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(KUBERNETES / "kustomization.yaml")
    return data


def manifests() -> list[Manifest]:
    """Every resource the kustomization lists."""
    return [doc for name in kustomization()["resources"] for doc in load_all_yaml(KUBERNETES / name)]


def one(kind: str) -> Manifest:
    found = [m for m in manifests() if m["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def container() -> dict[str, Any]:
    containers: list[dict[str, Any]] = one("StatefulSet")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def generator() -> ModuleType:
    path = KUBERNETES / "generate_prometheusrule.py"
    spec = importlib.util.spec_from_file_location("generate_prometheusrule", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the files ----------------------------------------------------------------------------------------------


def test_every_yaml_file_parses_into_named_objects() -> None:
    for path in sorted(KUBERNETES.glob("*.y*ml")):
        for doc in load_all_yaml(path):
            assert isinstance(doc, dict), path.name
            if path.name in ("kustomization.yaml", "anaplan-exporter.yml"):
                continue
            assert doc.get("apiVersion") and doc.get("kind"), f"{path.name}: apiVersion and kind are required"
            assert doc["metadata"]["name"] == "anaplan-exporter" or doc["kind"] == "Secret", path.name


def test_kustomization_lists_every_manifest() -> None:
    data = kustomization()
    listed = set(data["resources"])
    generated = {f for g in data.get("configMapGenerator", []) for f in g["files"]}
    for name in listed | generated:
        assert (KUBERNETES / name).is_file(), f"kustomization.yaml lists {name}, which does not exist"
    on_disk = {p.name for p in KUBERNETES.glob("*.y*ml")} - {"kustomization.yaml"}
    examples = {name for name in on_disk if ".example." in name}
    assert on_disk - examples == listed | generated
    assert not examples & listed, "example files (placeholder secrets) must not be applied"


def test_kustomize_builds_the_stack() -> None:
    kubectl = system_tool("kubectl")
    done = subprocess.run(
        [str(kubectl), "kustomize", str(KUBERNETES)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    built = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    kinds = sorted(doc["kind"] for doc in built)
    assert kinds == ["ConfigMap", "PrometheusRule", "Service", "ServiceMonitor", "StatefulSet"]
    config_map = next(doc for doc in built if doc["kind"] == "ConfigMap")
    statefulset = next(doc for doc in built if doc["kind"] == "StatefulSet")
    volumes = statefulset["spec"]["template"]["spec"]["volumes"]
    # The generated name carries a content hash; kustomize rewrites the reference to match.
    assert config_map["metadata"]["name"] in [v.get("configMap", {}).get("name") for v in volumes]
    assert set(config_map["data"]) == {"anaplan-exporter.yml"}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_manifests_match_the_kubernetes_schema(version: str) -> None:
    documents = [*manifests(), *load_all_yaml(KUBERNETES / "secret.example.yaml")]
    checked = []
    for doc in documents:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # CRDs: no schema bundled; checked field by field below
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']} invalid for Kubernetes {version}: {exc.message} at {list(exc.path)}")
        checked.append(doc["kind"])
    assert sorted(checked) == ["Secret", "Service", "StatefulSet"]


# --- the pods run the exporter as it expects ----------------------------------------------------------------


def test_container_arguments_parse_with_the_exporter() -> None:
    args = build_parser().parse_args(container()["args"])
    mount = next(m for m in container()["volumeMounts"] if m["name"] == "config")
    assert args.config == Path(mount["mountPath"]) / "anaplan-exporter.yml"
    assert args.listen_address == f":{DEFAULT_PORT}"


def test_shard_count_equals_replicas_and_index_is_the_pod_ordinal() -> None:
    statefulset = one("StatefulSet")
    replicas = statefulset["spec"]["replicas"]
    assert replicas == 2
    shard_args = [a for a in container()["args"] if a.startswith("--shard=")]
    assert shard_args == [f"--shard=$(POD_INDEX)/{replicas}"]
    env = {e["name"]: e for e in container()["env"]}
    field_path = env["POD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert field_path == "metadata.labels['apps.kubernetes.io/pod-index']"
    # Kubernetes expands $(POD_INDEX) to each ordinal; every resulting value must be a valid shard.
    for ordinal in range(replicas):
        value = shard_args[0].split("=", 1)[1].replace("$(POD_INDEX)", str(ordinal))
        assert parse_shard(value) == (ordinal, replicas)


def test_service_and_probes_use_the_exporter_port_and_paths() -> None:
    ports = {p["name"]: p for p in container()["ports"]}
    assert ports["metrics"]["containerPort"] == DEFAULT_PORT
    service = one("Service")
    [service_port] = service["spec"]["ports"]
    assert service_port == {
        "name": "metrics",
        "port": DEFAULT_PORT,
        "targetPort": "metrics",
        "protocol": "TCP",
    }
    assert container()["livenessProbe"]["httpGet"] == {"path": HEALTHY_PATH, "port": "metrics"}
    assert container()["readinessProbe"]["httpGet"] == {"path": READY_PATH, "port": "metrics"}


def test_selectors_agree() -> None:
    statefulset = one("StatefulSet")
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    selector = statefulset["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    service = one("Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert statefulset["spec"]["serviceName"] == service["metadata"]["name"]
    monitor = one("ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()


def test_pods_run_as_the_image_user_without_privileges() -> None:
    pod = one("StatefulSet")["spec"]["template"]["spec"]
    user = dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8"))[1][-1].last("USER").value
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert str(pod["securityContext"]["runAsUser"]) == user.split(":")[0]
    assert pod["automountServiceAccountToken"] is False
    security = container()["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]


def test_configmap_config_is_valid_with_the_secret_from_the_environment() -> None:
    path = KUBERNETES / "anaplan-exporter.yml"
    used = set(re.findall(r"\$\{(\w+)", path.read_text(encoding="utf-8")))
    env = {e["name"]: e for e in container()["env"]}
    assert used <= set(env), f"the config uses {sorted(used - set(env))}, which the pod does not set"
    config = load_config(path, {name: "placeholder" for name in used})
    assert config.web.telemetry_path == one("ServiceMonitor")["spec"]["endpoints"][0]["path"]
    assert config.shard_total == 1  # the pods set --shard; the file must not disagree with a second value


def test_credentials_come_from_the_example_secret_by_reference() -> None:
    [secret] = load_all_yaml(KUBERNETES / "secret.example.yaml")
    refs = [
        e["valueFrom"]["secretKeyRef"] for e in container()["env"] if "secretKeyRef" in e.get("valueFrom", {})
    ]
    assert refs, "credentials must come from a Secret"
    for ref in refs:
        assert ref["name"] == secret["metadata"]["name"]
        assert ref["key"] in secret["stringData"]
    assert set(secret["stringData"].values()) == {"change-me"}, "the example secret holds placeholders only"
    assert not any(m["kind"] == "Secret" for m in manifests())


# --- monitoring: ServiceMonitor and PrometheusRule ----------------------------------------------------------


def test_service_monitor_scrapes_metrics_as_job_anaplan() -> None:
    [endpoint] = one("ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["port"] == one("Service")["spec"]["ports"][0]["name"]
    assert endpoint["path"] == "/metrics"
    job = [r["replacement"] for r in endpoint["relabelings"] if r["targetLabel"] == "job"]
    assert job == ["anaplan"]
    assert 'up{job="anaplan"}' in RULES.read_text(encoding="utf-8"), "the rules expect another job name"


def test_prometheusrule_is_generated_from_the_rules_file() -> None:
    committed = (KUBERNETES / "prometheusrule.yaml").read_text(encoding="utf-8")
    wanted = generator().render(RULES.read_text(encoding="utf-8"))
    assert committed == wanted, (
        "prometheusrule.yaml is out of date: run python deploy/kubernetes/generate_prometheusrule.py"
    )
    rule = one("PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"]["groups"] == load_yaml(RULES)["groups"]


def test_prometheusrule_groups_pass_promtool(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": one("PrometheusRule")["spec"]["groups"]}))
    done = subprocess.run(
        [str(find_binary("promtool")), "check", "rules", str(rules)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_generator_check_mode_reports_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = generator()
    stale = tmp_path / "prometheusrule.yaml"
    stale.write_text("stale\n")
    monkeypatch.setattr(module, "OUTPUT", stale)
    assert module.main(["--check"]) == 1
    assert module.main([]) == 0
    assert module.main(["--check"]) == 0
    assert stale.read_text() == (KUBERNETES / "prometheusrule.yaml").read_text(encoding="utf-8")


def test_generator_writes_the_sites_links_into_the_operators_rules(tmp_path: Path) -> None:
    module = generator()
    output = tmp_path / "prometheusrule.yaml"
    site = ["--grafana-url", "https://grafana.example.org", "--runbook-url", "https://ops.example.org/rb/%s"]
    assert module.main([*site, "--output", str(output)]) == 0
    groups = load_yaml(output)["spec"]["groups"]
    alerts = [rule for group in groups for rule in group["rules"] if "alert" in rule]
    assert alerts and len(alerts) == len(
        [r for g in load_yaml(RULES)["groups"] for r in g["rules"] if "alert" in r]
    )
    for rule in alerts:
        assert rule["annotations"]["runbook_url"] == f"https://ops.example.org/rb/{rule['alert'].lower()}"
        assert rule["annotations"]["dashboard_url"].startswith("https://grafana.example.org/d/anaplan-")
    assert module.main([*site, "--output", str(output), "--check"]) == 0
    assert module.main(["--check"]) == 0, "the committed file keeps the defaults"
    assert module.main(["--grafana-url", "grafana", "--output", str(output)]) == 1


def test_generator_refuses_rules_it_cannot_copy_faithfully() -> None:
    module = generator()
    with pytest.raises(module.RulesFileError, match="single key 'groups'"):
        module.render("groups: []\nextra: 1\n")
    with pytest.raises(module.RulesFileError, match="own"):
        module.render('{"groups": []}\n')
