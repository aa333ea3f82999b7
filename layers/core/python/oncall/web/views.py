"""Small view helpers of the web console: the page templates' environment, the template preview, form parsing.

Business logic stays in :mod:`oncall.services` (use cases) and :mod:`oncall.ingest` / :mod:`oncall.grouping`
(template semantics): the preview renders exactly what ingest would store.
"""

from __future__ import annotations

import base64
import functools
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from oncall import grouping, templating
from oncall.codec import from_json
from oncall.ingest import render_appearance
from oncall.models import IntegrationConfig, Templates

PACKAGE_DIR: Final = Path(__file__).resolve().parent
TEMPLATES_DIR: Final = PACKAGE_DIR / "templates"
STATIC_DIR: Final = PACKAGE_DIR / "static"
STATIC_FILES: Final = {
    "htmx.min.js": "text/javascript; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",  # copy buttons, confirmations (progressive enhancement)
    "console.css": "text/css; charset=utf-8",  # the one stylesheet (light and dark, phone and desktop)
}
# form field -> internal template name (the editor shows these, in this order)
TEMPLATE_FIELDS: Final = (
    ("grouping_id", "Grouping id"),
    ("resolve_condition", "Resolve condition"),
    ("acknowledge_condition", "Acknowledge condition"),
    ("source_link", "Source link"),
    ("title", "Title"),
    ("message", "Message"),
)


@functools.cache
def environment() -> Environment:
    """The console's own pages: a regular, autoescaping Jinja2 environment (user templates use the sandbox)."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty_json"] = lambda value: json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    env.filters["when"] = lambda value: (str(value).replace("T", " ")[:19] + " UTC") if value else ""
    env.globals["reltime"] = reltime
    env.filters["plural"] = plural
    return env


def _moment(value: datetime | str) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def relative(moment: datetime, now: datetime) -> str:
    """``"just now"``, ``"12 min ago"``, ``"3 h 5 min ago"``, ``"2 days ago"``, ``"in 20 min"``: what a responder
    reads at a glance (the exact UTC time is on hover)."""
    seconds = int((now - moment).total_seconds())
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 45:
        return "just now"
    minutes = max(round(seconds / 60), 1)
    if minutes < 60:
        text = f"{minutes} min"
    elif minutes < 24 * 60:
        hours, rest = divmod(minutes, 60)
        text = f"{hours} h" + (f" {rest} min" if rest and hours < 6 else "")
    else:
        days = minutes // (24 * 60)
        text = plural(days, "day")
    return f"in {text}" if future else f"{text} ago"


def reltime(value: datetime | str | None, now: datetime) -> Markup:
    """A ``<time>`` element: the relative time, the UTC time on hover (``title``) and for machines (``datetime``)."""
    if not value:
        return Markup("")
    moment = _moment(value).astimezone(UTC)
    exact = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        moment.isoformat(), exact, escape(relative(moment, now))
    )


def plural(count: int, noun: str) -> str:
    """``"1 alert"``, ``"3 alerts"``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def static_file(name: str) -> tuple[bytes, str] | None:
    content_type = STATIC_FILES.get(name)
    if content_type is None:
        return None
    return (STATIC_DIR / name).read_bytes(), content_type


def form_lists(event: dict[str, Any]) -> dict[str, list[str]]:
    """The urlencoded form body of an HTTP API event, every value of each field (multiple selects)."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    return parse_qs(body, keep_blank_values=True)


def effective_templates(config: IntegrationConfig) -> dict[str, str]:
    """What each template is now (the override, else the type's default), for the editor's text areas."""
    return {name: config.integration.template(name) or "" for name, _ in TEMPLATE_FIELDS}  # type: ignore[arg-type]


def _problem(template: str) -> str | None:
    if not template:
        return None
    try:
        templating.validate(template)
    except templating.TemplateProblem as problem:
        return problem.fallback
    return None


def preview(config: IntegrationConfig, texts: dict[str, str], payload: Any) -> dict[str, Any]:
    """Render ``texts`` (template name -> text) on ``payload`` as ingest would, without storing anything."""
    templates = from_json(Templates, {name: texts.get(name) or None for name, _ in TEMPLATE_FIELDS})
    integration = replace(config.integration, templates=templates)
    patched = replace(config, integration=integration)
    labels = grouping.alert_labels(integration, payload)
    context = {"payload": payload, "labels": labels}
    appearance = render_appearance(patched, payload)
    return {
        "grouping_id": grouping.render_optional(integration.template("grouping_id"), **context),
        "resolve_condition": templating.render_condition(integration.template("resolve_condition"), **context),
        "acknowledge_condition": templating.render_condition(integration.template("acknowledge_condition"), **context),
        "source_link": appearance["source_link"],
        "title": appearance["title"],
        "message": appearance["message"],
        "labels": labels,
        "problems": {name: p for name, _ in TEMPLATE_FIELDS if (p := _problem(texts.get(name) or ""))},
    }
