"""Writes deploy/kubernetes/prometheusrule.yaml from config/prometheus/anaplan-rules.yml.

The rule groups are copied as text, re-indented under ``spec:``, so the comments of the rules file survive;
the result is then parsed back and compared with the rules file, so a copy that changes any rule is refused.
Run ``python deploy/kubernetes/generate_prometheusrule.py`` after editing the rules, ``--check`` to verify
the committed file is up to date (exit 1 when it is not).

The alerts' links are written as by config/prometheus/generate_rules.py, with the same ``--runbook-url`` and
``--grafana-url``; ``--output`` writes your site's copy elsewhere:

  python deploy/kubernetes/generate_prometheusrule.py --grafana-url https://grafana.example.org \
      --runbook-url https://anaplan-exporter.example.org/runbook --output anaplan-prometheusrule.yaml
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RULES = REPO / "config" / "prometheus" / "anaplan-rules.yml"
OUTPUT = HERE / "prometheusrule.yaml"
sys.path.insert(0, str(RULES.parent))

from generate_rules import RulesFileError, Site, add_site_options, with_links  # noqa: E402

HEADER = """\
# Generated from config/prometheus/anaplan-rules.yml by deploy/kubernetes/generate_prometheusrule.py:
# do not edit; change the rules file and run  python deploy/kubernetes/generate_prometheusrule.py
# Your Prometheus' ruleSelector may require a label here (e.g. release: <helm release name>).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: anaplan-exporter
  labels:
    app.kubernetes.io/name: anaplan-exporter
spec:
"""


def render(rules_text: str, source: str = "anaplan-rules.yml", site: Site | None = None) -> str:
    """The PrometheusRule whose ``spec.groups`` are the groups of ``rules_text``, with links to ``site``."""
    data = yaml.safe_load(rules_text)
    if isinstance(data, dict) and "groups" in data:
        rules_text = with_links(rules_text, site, source)
        data = yaml.safe_load(rules_text)
    if not isinstance(data, dict) or set(data) != {"groups"}:
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise RulesFileError(f"{source}: expected a mapping with the single key 'groups', got {keys}")
    lines = rules_text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.split("#")[0].rstrip() == "groups:"), None)
    if start is None:
        raise RulesFileError(f"{source}: 'groups:' must start a line of its own (block style)")
    body = [f"  {line}" if line.strip() else "" for line in lines[start:]]
    text = HEADER + "\n".join(body).rstrip() + "\n"
    manifest = yaml.safe_load(text)
    if manifest["spec"]["groups"] != data["groups"]:
        raise RulesFileError(
            f"{source}: re-indenting the groups changed them; is every line under 'groups:'?"
        )
    return text


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_site_options(parser)
    parser.add_argument(
        "--output", type=Path, help="file to write (default: deploy/kubernetes/prometheusrule.yaml)"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if the output file is out of date")
    args = parser.parse_args(argv)
    output: Path = args.output or OUTPUT
    try:
        site = Site(args.runbook_url, args.grafana_url)
        wanted = render(RULES.read_text(encoding="utf-8"), _shown(RULES), site)
    except (OSError, yaml.YAMLError, RulesFileError) as exc:
        print(f"generate_prometheusrule: {exc}", file=sys.stderr)
        return 1
    current = output.read_text(encoding="utf-8") if output.exists() else None
    if args.check:
        if current != wanted:
            print(
                f"{_shown(output)} is out of date; run python {_shown(Path(__file__).resolve())}",
                file=sys.stderr,
            )
            return 1
        return 0
    if current != wanted:
        output.write_text(wanted, encoding="utf-8")
        print(f"wrote {_shown(output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
