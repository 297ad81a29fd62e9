"""Writes deploy/kubernetes/prometheusrule.yaml from config/prometheus/anaplan-rules.yml.

The rule groups are copied as text, re-indented under ``spec:``, so the comments of the rules file survive;
the result is then parsed back and compared with the rules file, so a copy that changes any rule is refused.
Run ``python deploy/kubernetes/generate_prometheusrule.py`` after editing the rules, ``--check`` to verify
the committed file is up to date (exit 1 when it is not).
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


class RulesFileError(ValueError):
    """The rules file cannot be turned into a PrometheusRule."""


def render(rules_text: str, source: str = "anaplan-rules.yml") -> str:
    """The PrometheusRule manifest whose ``spec.groups`` are the groups of ``rules_text``."""
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
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file is out of date")
    args = parser.parse_args(argv)
    try:
        wanted = render(RULES.read_text(encoding="utf-8"), _shown(RULES))
    except (OSError, yaml.YAMLError, RulesFileError) as exc:
        print(f"generate_prometheusrule: {exc}", file=sys.stderr)
        return 1
    current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else None
    if args.check:
        if current != wanted:
            print(
                f"{_shown(OUTPUT)} is out of date; run python {_shown(Path(__file__).resolve())}",
                file=sys.stderr,
            )
            return 1
        return 0
    if current != wanted:
        OUTPUT.write_text(wanted, encoding="utf-8")
        print(f"wrote {_shown(OUTPUT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
