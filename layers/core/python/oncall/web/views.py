"""Small view helpers of the web console: the page templates' environment, the template editor's fields, form
parsing.

Business logic stays in :mod:`oncall.services` (use cases; the template preview is
:func:`oncall.services.integrations.preview_templates`, which renders exactly what ingest would store).
"""

from __future__ import annotations

import base64
import functools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from oncall.errors import PayloadTooLarge

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


# The largest form the console takes, urlencoded. The largest that people send is the template editor's: the
# templates and a sample payload to preview them with (an alert of hundreds of KB previews; one near ingest's
# 256 KiB limit may not fit once urlencoded). A larger body is refused before it is parsed: parsing costs time per
# byte, and hostile forms of megabytes are cheap to send.
FORM_MAX_BYTES: Final = 512 * 1024


def form_lists(event: dict[str, Any]) -> dict[str, list[str]]:
    """The urlencoded form body of an HTTP API event, every value of each field (multiple selects).

    Raises :class:`PayloadTooLarge` (413) past :data:`FORM_MAX_BYTES`."""
    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body)
    if size > FORM_MAX_BYTES:
        raise PayloadTooLarge(f"The form is too large ({size:,} bytes; at most {FORM_MAX_BYTES // 1024} KiB).")
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    return parse_qs(body, keep_blank_values=True)
