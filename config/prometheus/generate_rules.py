"""Writes every alert's runbook_url and dashboard_url in anaplan-rules.yml, for your site or the defaults.

The links come from two settings, given once, as the monitoring mixins' ``runbookURLPattern`` and
``grafanaURL``:

- ``--runbook-url``: where the runbook is. ``%s`` stands for an alert's anchor (its name in lower case);
  without ``%s``, ``#<anchor>`` is appended. The default, ``http://{{ $labels.instance }}/runbook#%s``, is the
  page the exporter serves itself, at the address Prometheus scrapes it on: it needs no setting wherever
  people can open that address (give ``https://`` when the exporter serves TLS, or your wiki's address).
- ``--grafana-url``: Grafana's address, default ``http://localhost:3000`` (the demo stack's). It replaces
  whatever comes before ``/d/`` in each alert's dashboard_url.

Every alert gets both links from its name: one written without them gets a runbook_url, and a
dashboard_url by its group ("Anaplan tasks", with the object filled in, for the ``anaplan-tasks`` group,
"Anaplan CloudWorks", with the integration or flow filled in, for ``anaplan-cloudworks``, "Anaplan exporter"
for the others). Only these two annotations change, line by line: comments, anchors and
every other line of the file stay as they are. The result is parsed back and compared with the input, so a
rewrite that would change anything else is refused.

  python config/prometheus/generate_rules.py            # after editing the rules: the committed defaults
  python config/prometheus/generate_rules.py --check    # exit 1 when the committed file is not up to date
  python config/prometheus/generate_rules.py --grafana-url https://grafana.example.org \\
      --runbook-url https://wiki.example.org/anaplan-runbook --output /etc/prometheus/anaplan-rules.yml

``deploy/kubernetes/generate_prometheusrule.py`` takes the same two options for the Prometheus Operator.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RULES = HERE / "anaplan-rules.yml"

DEFAULT_RUNBOOK_URL = "http://{{ $labels.instance }}/runbook#%s"
DEFAULT_GRAFANA_URL = "http://localhost:3000"
TASKS_DASHBOARD = (
    "/d/anaplan-tasks/anaplan-tasks?var-workspace={{ $labels.workspace_name | urlquery }}"
    "&var-model={{ $labels.model_name | urlquery }}&var-object={{ $labels.object_name | urlquery }}"
)
CLOUDWORKS_DASHBOARD = (
    "/d/anaplan-cloudworks/anaplan-cloudworks?var-kind={{ $labels.kind | urlquery }}"
    "&var-cloudworks={{ $labels.cloudworks_name | urlquery }}"
)
EXPORTER_DASHBOARD = "/d/anaplan-exporter/anaplan-exporter"
DASHBOARD_BY_GROUP = {"anaplan-tasks": TASKS_DASHBOARD, "anaplan-cloudworks": CLOUDWORKS_DASHBOARD}
"""The dashboard an alert written without a dashboard_url links to, by its group (else EXPORTER_DASHBOARD)."""

LINKS = ("runbook_url", "dashboard_url")
_GRAFANA_BASE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*?(?=/d/)")
_HTTP_URL = re.compile(r"^https?://\S+$")


class RulesFileError(ValueError):
    """The rules file, or a link setting, cannot be turned into rules with links."""


@dataclass(frozen=True)
class Site:
    """Where the alerts' links lead: the runbook URL pattern and Grafana's address."""

    runbook_url: str = DEFAULT_RUNBOOK_URL
    grafana_url: str = DEFAULT_GRAFANA_URL

    def __post_init__(self) -> None:
        runbook, grafana = self.runbook_url, self.grafana_url
        if not runbook.startswith(("http://", "https://")) or runbook.count("%s") > 1:
            raise RulesFileError(
                f"--runbook-url {runbook!r}: expected an http:// or https:// address, with at most one %s"
            )
        if "%s" not in runbook and "#" in runbook:
            raise RulesFileError(f"--runbook-url {runbook!r}: put %s where the alert's anchor goes after '#'")
        if not _HTTP_URL.match(grafana) or "/d/" in grafana + "/" or "?" in grafana or "#" in grafana:
            raise RulesFileError(
                f"--grafana-url {grafana!r}: expected Grafana's base address, such as https://grafana.example.org"
            )

    def runbook(self, alert: str) -> str:
        anchor = alert.lower()
        return self.runbook_url % anchor if "%s" in self.runbook_url else f"{self.runbook_url}#{anchor}"

    def dashboard(self, url: str) -> str:
        """``url`` with Grafana's address replaced (an address without a ``/d/`` path stays as it is)."""
        return _GRAFANA_BASE.sub(lambda _: self.grafana_url.rstrip("/"), url, count=1)


def with_links(rules_text: str, site: Site | None = None, source: str = "anaplan-rules.yml") -> str:
    """``rules_text`` with every alert's runbook_url and dashboard_url written for ``site``."""
    site = site or Site()
    try:
        data = yaml.safe_load(rules_text)
        root = yaml.compose(rules_text)
    except yaml.YAMLError as exc:
        raise RulesFileError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode) or "groups" not in data:
        raise RulesFileError(f"{source}: expected a mapping with the key 'groups'")
    lines = rules_text.splitlines()
    edits: list[tuple[int, int, list[str]]] = []  # (first line, line after the last, new lines)
    for group_name, alert, annotations_node in _alerts(root, source):
        edits.extend(_link_edits(lines, group_name, alert, annotations_node, site))
    for start, end, new in sorted(edits, reverse=True):
        lines[start:end] = new
    text = "\n".join(lines) + "\n"
    _check(data, yaml.safe_load(text), site, source)
    return text


def _alerts(root: yaml.MappingNode, source: str) -> list[tuple[str, str, yaml.MappingNode]]:
    """(group name, alert name, annotations node) of every alerting rule."""
    found = []
    groups = _get(root, "groups")
    for group in groups.value if isinstance(groups, yaml.SequenceNode) else []:
        name = _get(group, "name")
        rules = _get(group, "rules")
        for rule in rules.value if isinstance(rules, yaml.SequenceNode) else []:
            alert = _get(rule, "alert")
            if not isinstance(alert, yaml.ScalarNode):
                continue
            annotations = _get(rule, "annotations")
            if not isinstance(annotations, yaml.MappingNode) or not annotations.value:
                raise RulesFileError(
                    f"{source}: alert {alert.value} has no annotations (summary, description)"
                )
            found.append((str(name.value) if name else "", str(alert.value), annotations))
    return found


def _get(node: Any, key: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            if key_node.value == key:
                return value
    return None


def _link_edits(
    lines: list[str], group: str, alert: str, annotations: yaml.MappingNode, site: Site
) -> list[tuple[int, int, list[str]]]:
    """The line edits that give one alert its links: each link entry rewritten, missing ones added."""
    keys = [key for key, _ in annotations.value]
    indent = " " * keys[0].start_mark.column
    spans = {}
    for i, key in enumerate(keys):
        end = keys[i + 1].start_mark.line if i + 1 < len(keys) else annotations.end_mark.line
        spans[key.value] = (key.start_mark.line, _trimmed_end(lines, key.start_mark.line, end, len(indent)))
    edits = []
    if "runbook_url" in spans:
        start, end = spans["runbook_url"]
        edits.append((start, end, [f"{indent}runbook_url: {_scalar(site.runbook(alert))}"]))
    if "dashboard_url" in spans:
        start, end = spans["dashboard_url"]
        edits.append((start, end, [site.dashboard(line) for line in lines[start:end]]))
    missing = []
    if "runbook_url" not in spans:
        missing.append(f"{indent}runbook_url: {_scalar(site.runbook(alert))}")
    if "dashboard_url" not in spans:
        path = DASHBOARD_BY_GROUP.get(group, EXPORTER_DASHBOARD)
        missing.append(f"{indent}dashboard_url: {_scalar(site.grafana_url.rstrip('/') + path)}")
    if missing:
        after = max(end for _, end in spans.values())
        edits.append((after, after, missing))
    return edits


def _trimmed_end(lines: list[str], start: int, end: int, column: int) -> int:
    """``end`` moved back over blank lines and comments that follow an entry (they belong to no value)."""
    while end > start + 1:
        line = lines[end - 1]
        comment = line.lstrip().startswith("#") and len(line) - len(line.lstrip()) <= column
        if line.strip() and not comment:
            break
        end -= 1
    return end


def _scalar(value: str) -> str:
    """``value`` as a YAML scalar on one line: plain where YAML reads it back as written, else quoted."""
    try:
        if yaml.safe_load(f"k: {value}") == {"k": value}:
            return value
    except yaml.YAMLError:
        pass
    return json.dumps(value)


def _check(before: Any, after: Any, site: Site, source: str) -> None:
    """Refuse a rewrite that changed more than the links, or left an alert without its links."""

    def without_links(data: Any) -> Any:
        groups = []
        for group in data["groups"]:
            rules = []
            for rule in group.get("rules") or []:
                rule = dict(rule)
                if "alert" in rule:
                    rule["annotations"] = {k: v for k, v in rule["annotations"].items() if k not in LINKS}
                rules.append(rule)
            groups.append({**group, "rules": rules})
        return {**data, "groups": groups}

    if without_links(before) != without_links(after):
        raise RulesFileError(f"{source}: writing the links changed other lines; is the file in block style?")
    for group in after["groups"]:
        for rule in group.get("rules") or []:
            if "alert" not in rule:
                continue
            annotations = rule["annotations"]
            if (
                annotations.get("runbook_url") != site.runbook(rule["alert"])
                or "dashboard_url" not in annotations
            ):
                raise RulesFileError(f"{source}: could not write the links of alert {rule['alert']}")


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def add_site_options(parser: argparse.ArgumentParser) -> None:
    """``--runbook-url`` and ``--grafana-url``, shared with the PrometheusRule generator."""
    parser.add_argument(
        "--runbook-url",
        default=DEFAULT_RUNBOOK_URL,
        help="runbook address; %%s is the alert's anchor, else #anchor is appended (default: %(default)s)",
    )
    parser.add_argument(
        "--grafana-url", default=DEFAULT_GRAFANA_URL, help="Grafana's address (default: %(default)s)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_site_options(parser)
    parser.add_argument("--output", type=Path, default=RULES, help="file to write (default: the rules file)")
    parser.add_argument("--check", action="store_true", help="exit 1 if --output is not up to date")
    args = parser.parse_args(argv)
    try:
        site = Site(args.runbook_url, args.grafana_url)
        wanted = with_links(RULES.read_text(encoding="utf-8"), site, _shown(RULES))
    except (OSError, RulesFileError) as exc:
        print(f"generate_rules: {exc}", file=sys.stderr)
        return 1
    output: Path = args.output
    current = output.read_text(encoding="utf-8") if output.exists() else None
    if args.check:
        if current != wanted:
            print(f"{_shown(output)} is out of date; run python {_shown(Path(__file__))}", file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        output.write_text(wanted, encoding="utf-8")
        print(f"wrote {_shown(output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
