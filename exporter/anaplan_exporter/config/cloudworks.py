"""The ``cloudworks:`` section: whether CloudWorks is read, and which integrations and flows are watched.

``enabled`` is ``auto`` (read it when the user may: a 403 is reported once and CloudWorks is left alone),
``true`` (required: a 403 is an error that keeps ``anaplan_up`` at 0) or ``false`` (never asked). An
integration or flow is selected by ID or name, by ``"*"`` (every one the user can see), or by ``targets``
(integrations that run an import, export or process in a model of ``targets:``; flows with a step that runs
such an integration). Reloadable like ``targets:``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .source import Section, YamlInt, describe


class CloudWorksMode(str, enum.Enum):
    AUTO = "auto"
    ON = "true"
    OFF = "false"


ALL = "*"
TARGETS = "targets"
"""The selector of integrations (and flows) linked to the models of ``targets:``."""

DEFAULT_LIST_INTERVAL = 5.0
"""Seconds between two reads of the integration and flow lists: a run's start and end show within ~10 s."""


@dataclass(frozen=True)
class CloudWorksSelection:
    """Which integrations (or flows): ``all`` of them, those of the ``targets`` models, and listed ones
    (each an ID or a name, matched case-insensitively)."""

    all: bool = False
    targets: bool = False
    items: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.all or self.targets or self.items)


@dataclass(frozen=True)
class CloudWorksConfig:
    mode: CloudWorksMode = CloudWorksMode.AUTO
    integrations: CloudWorksSelection = CloudWorksSelection(all=True)
    flows: CloudWorksSelection = CloudWorksSelection(all=True)
    list_interval: float = DEFAULT_LIST_INTERVAL

    @property
    def enabled(self) -> bool:
        """CloudWorks may be asked (``auto`` or ``true``) and something is selected."""
        return self.mode is not CloudWorksMode.OFF and not (self.integrations.empty and self.flows.empty)


CLOUDWORKS_KEYS = ("enabled", "integrations", "flows", "list_interval")


def parse_cloudworks(section: Section) -> CloudWorksConfig:
    """The ``cloudworks:`` section (absent: ``auto``, every integration and flow)."""
    defaults = CloudWorksConfig()
    interval = section.duration("list_interval", defaults.list_interval, minimum=1.0, strict=False)
    assert interval is not None
    return CloudWorksConfig(
        mode=_mode(section),
        integrations=_selection(section, "integrations"),
        flows=_selection(section, "flows"),
        list_interval=interval,
    )


def _mode(section: Section) -> CloudWorksMode:
    raw = section.raw("enabled")
    if raw is None:
        return CloudWorksMode.AUTO
    if isinstance(raw, bool):
        return CloudWorksMode.ON if raw else CloudWorksMode.OFF
    if isinstance(raw, str) and raw.strip().lower() in ("auto", "true", "false"):
        return CloudWorksMode(raw.strip().lower())
    raise section.ctx.error(section.at("enabled"), f"expected auto, true or false, got {describe(raw)}")


def _selection(section: Section, key: str) -> CloudWorksSelection:
    raw = section.raw(key)
    if raw is None:
        return CloudWorksSelection(all=True)
    if isinstance(raw, str) and raw.strip() in (ALL, TARGETS):
        return CloudWorksSelection(all=raw.strip() == ALL, targets=raw.strip() == TARGETS)
    if isinstance(raw, str):
        raise section.ctx.error(
            section.at(key), f'expected a list, "*" or targets, got {describe(raw)} (a name goes in a list)'
        )
    select_all = select_targets = False
    items: list[str] = []
    seen: dict[str, str] = {}
    for path, entry in section.items(key):
        entry = section.ctx.expand(entry, path)
        if isinstance(entry, YamlInt):
            entry = entry.text
        if not isinstance(entry, str) or not entry.strip():
            raise section.ctx.error(path, f'expected an ID, a name, "*" or targets, got {describe(entry)}')
        text = entry.strip()
        if text == ALL:
            select_all = True
            continue
        if text == TARGETS:
            select_targets = True
            continue
        folded = text.casefold()
        if folded in seen:
            raise section.ctx.error(path, f"{text!r} is already listed at {seen[folded]}")
        seen[folded] = path
        items.append(text)
    return CloudWorksSelection(all=select_all, targets=select_targets, items=tuple(items))
