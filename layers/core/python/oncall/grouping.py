"""Grouping keys and the signals of one alert, rendered from the integration's behaviour templates."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from oncall import templating
from oncall.models import MAX_LABELS, Integration


@dataclass(frozen=True)
class Signals:
    distinction: str  # md5 of the rendered grouping id (plus randomness when it must not group)
    is_resolve: bool
    is_acknowledge: bool


def distinction_for(grouping_id: str | None, *, force_new: bool = False) -> str:
    """md5 of the grouping id; an empty id or a demo alert gets randomness so it always opens a new group."""
    value = grouping_id or ""
    if force_new or not value:
        value = f"{value}{uuid.uuid4()}"
    return hashlib.md5(
        value.encode("utf-8", "surrogatepass"), usedforsecurity=False
    ).hexdigest()  # any text, even a lone surrogate


def render_optional(template: str | None, max_length: int | None = None, **context: Any) -> str | None:
    """Render a template where a problem or the literal ``None`` means "no value"."""
    if not template:
        return None
    try:
        value = templating.render(template, max_length=max_length, **context)
    except templating.TemplateProblem:
        return None
    return None if value == "None" or not value.strip() else value


def signals(integration: Integration, payload: Any, labels: dict[str, str], *, is_demo: bool = False) -> Signals:
    context = {"payload": payload, "labels": labels}
    grouping_id = render_optional(integration.template("grouping_id"), **context)
    return Signals(
        distinction=distinction_for(grouping_id, force_new=is_demo),
        is_resolve=templating.render_condition(integration.template("resolve_condition"), **context),
        is_acknowledge=templating.render_condition(integration.template("acknowledge_condition"), **context),
    )


def alert_labels(integration: Integration, payload: Any) -> dict[str, str]:
    """Static integration labels, then templated ones; at most 15 per group, as users know from OnCall."""
    labels = dict(list(integration.static_labels.items())[:MAX_LABELS])
    for key, template in integration.label_templates.items():
        if len(labels) >= MAX_LABELS:
            break
        value = render_optional(template, max_length=templating.TITLE_MAX_LENGTH, payload=payload)
        if value is not None and value.strip():
            labels[key] = value.strip()
    return labels


def label_set_hash(payload: Any) -> str:
    """Identity of one alert of a per-alert integration: its labels, whatever ``endsAt`` says."""
    labels = payload.get("labels", {}) if isinstance(payload, dict) else {}
    return hashlib.md5(json.dumps(labels, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
