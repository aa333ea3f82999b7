"""What a person receives about an alert group, rendered once for every channel: pure functions, no I/O.

Titles, messages and source links come from alert payloads, so they are untrusted: the HTML escapes every
value and links only http(s) URLs (a ``javascript:`` source link stays plain text), Slack gets its three
control characters escaped, and the subject and SMS collapse whitespace (a newline in a header is an error).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Final, NamedTuple
from urllib.parse import urlsplit

PRODUCT: Final = "Tocsin"
WEBHOOK_EVENT: Final = "escalation"  # generic webhooks: the group's state is in alert_group.state
VOICE_LIMIT: Final = 3000  # End User Messaging takes up to 6,000 characters; a call should stay short
SMS_LIMIT: Final = 160  # one GSM-7 segment; a longer text costs several
SMS_MIN_TITLE: Final = 24  # keep this much title even when the link alone nearly fills the SMS
TITLE_LIMIT: Final = 150  # in subjects and chat headings
SLACK_TEXT_LIMIT: Final = 3000  # Block Kit's limit for a section's text
SLACK_URL_LIMIT: Final = 3000  # Block Kit's limit for a button's url; a longer one fails the whole message
SLACK_SOURCE_LIMIT: Final = 1000  # a longer source link would crowd the message out of the section
_BEARER_NOTE: Final = (
    " Its acknowledge and resolve links work without signing in for 24 hours, while their recipient keeps their"
    " account and role: do not forward it."
)
_BUTTON_STYLE: Final = (
    "display:inline-block;margin:0 8px 8px 0;padding:8px 16px;border-radius:4px;background:#1f4fd1;color:#fff"
)


@dataclass(frozen=True)
class Notification:
    subject: str  # e-mail subject, also the fallback text of chat messages
    text: str  # plain-text e-mail body
    html: str  # HTML e-mail body
    sms: str
    voice: str  # what a phone call reads out (text-to-speech): no links, which a voice cannot give
    webhook_json: dict[str, Any]  # body of generic outgoing webhooks
    slack_json: dict[str, Any]  # body for Slack incoming webhooks (and Slack-compatible chats)


class _Link(NamedTuple):
    name: str  # Slack action_id
    label: str
    url: str


@dataclass(frozen=True)
class _Parts:
    """The pieces every rendering uses, cleaned once."""

    subject: str
    title: str
    summary: str  # "Prometheus · firing · 3 alerts"
    message: str | None
    source: str | None
    links: list[_Link]
    footer: str


def compose(
    group_title: str,
    group_id: str,
    integration_name: str,
    state: str,
    alerts_count: int,
    message: str | None,
    source_link: str | None,
    ack_url: str | None,
    resolve_url: str | None,
    console_url: str | None,
    important: bool,
) -> Notification:
    title = _truncate(" ".join(group_title.split()) or f"Alert group {group_id}", TITLE_LIMIT)
    count = f"{alerts_count} alert" + ("" if alerts_count == 1 else "s")
    tags = (["important"] if important else []) + ([] if state == "firing" else [state])
    candidates = [
        ("acknowledge", "Acknowledge", ack_url),
        ("resolve", "Resolve", resolve_url),
        ("open", f"Open in {PRODUCT}", console_url),
    ]
    parts = _Parts(
        subject=" ".join([f"[{PRODUCT}]", *(f"[{tag}]" for tag in tags), f"{title} ({count})"]),
        title=title,
        summary=" · ".join([integration_name, state, count, *(["important"] if important else [])]),
        message=(message or "").strip() or None,
        source=source_link or None,
        links=[_Link(name, label, url) for name, label, url in candidates if url],
        footer=f"Alert group {group_id}." + (_BEARER_NOTE if ack_url or resolve_url else ""),
    )
    return Notification(
        subject=parts.subject,
        text=_text(parts),
        html=_html(parts),
        sms=_sms(title, count, important, ack_url, console_url),
        voice=_voice(title, integration_name, state, count, important, bool(ack_url)),
        webhook_json={
            "event": {"type": WEBHOOK_EVENT, "important": important},
            "alert_group": {
                "id": group_id,
                "title": title,
                "state": state,
                "alerts_count": alerts_count,
                "permalink": console_url,
            },
            "integration": {"name": integration_name},
            "message": parts.message,
            "source_link": parts.source,
            "links": {"acknowledge": ack_url, "resolve": resolve_url, "console": console_url},
        },
        slack_json=_slack(parts, console_url),
    )


def _text(parts: _Parts) -> str:
    sections = [parts.title, parts.summary]
    if parts.message:
        sections.append(parts.message)
    if parts.source:
        sections.append(f"Source: {parts.source}")
    if parts.links:
        sections.append("\n".join(f"{link.label}: {link.url}" for link in parts.links))
    sections.append(f"-- \n{parts.footer}")  # "-- " starts a signature block, which mail clients fold away
    return "\n\n".join(sections) + "\n"


def _html(parts: _Parts) -> str:
    e = html.escape
    body = [f'<h1 style="font-size:1.3em">{e(parts.title)}</h1>', f"<p>{e(parts.summary)}</p>"]
    if parts.message:
        body.append(f'<div style="white-space:pre-wrap">{e(parts.message)}</div>')
    if parts.source:
        # The address as the link text: people see where it leads before they follow it.
        source = f'<a href="{e(parts.source)}">{e(parts.source)}</a>' if _web_url(parts.source) else e(parts.source)
        body.append(f"<p>Source: {source}</p>")
    buttons = [
        f'<a href="{e(link.url)}" style="{_BUTTON_STYLE}">{e(link.label)}</a>'
        for link in parts.links
        if _web_url(link.url)
    ]
    if buttons:
        body.append(f"<p>{' '.join(buttons)}</p>")
    body.append(f'<p style="color:#555;font-size:0.9em">{e(parts.footer)}</p>')
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(parts.subject)}</title></head>\n"
        '<body style="font-family:sans-serif;line-height:1.5;color:#111">\n' + "\n".join(body) + "\n</body>\n</html>\n"
    )


def _voice(title: str, integration: str, state: str, count: str, important: bool, with_link: bool) -> str:
    level = "Important alert" if important else "Alert"
    said = f"{PRODUCT}. {level}: {title}. State: {state}. {count} from {integration}."
    if with_link:
        said += " The acknowledge link was sent to you by text message."
    return _truncate(f"{said} Again: {title}.", VOICE_LIMIT)


def _sms(title: str, count: str, important: bool, ack_url: str | None, console_url: str | None) -> str:
    # The link is kept whole (a cut link is useless); the title gives way, down to a readable minimum.
    prefix = f"{PRODUCT}{' IMPORTANT' if important else ''}: "
    link = f" Ack: {ack_url}" if ack_url else f" {console_url}" if console_url else ""
    tail = f" ({count}){link}"
    room = max(SMS_LIMIT - len(prefix) - len(tail), SMS_MIN_TITLE)
    return prefix + _truncate(title, room, ellipsis="...") + tail  # "…" is not GSM-7: it would halve the segment


def _slack(parts: _Parts, console_url: str | None) -> dict[str, Any]:
    title = _slack_escape(parts.title)
    lines = [f"*<{console_url}|{title}>*" if _slack_url(console_url) else f"*{title}*", _slack_escape(parts.summary)]
    if parts.source and _slack_url(parts.source) and len(parts.source) <= SLACK_SOURCE_LIMIT:
        lines.append(f"<{parts.source}|Source>")
    elif parts.source:
        lines.append(f"Source: {_slack_escape_truncated(parts.source, TITLE_LIMIT)}")
    text = "\n".join(lines)
    if parts.message:
        room = SLACK_TEXT_LIMIT - len(text) - 1
        text += "\n" + _slack_escape_truncated(parts.message, room)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    buttons = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": link.label},
            "url": link.url,
            "action_id": link.name,
            **({"style": "primary"} if link.name == "acknowledge" else {}),
        }
        for link in parts.links
        if _slack_url(link.url)
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return {"text": parts.subject, "blocks": blocks}


def _web_url(url: str | None) -> bool:
    if not url or any(c.isspace() or not c.isprintable() for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _slack_url(url: str | None) -> bool:
    # "<", ">" and "|" would end a Slack link early.
    return url is not None and _web_url(url) and len(url) <= SLACK_URL_LIMIT and not any(c in url for c in "<>|")


def _slack_escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_escape_truncated(value: str, limit: int) -> str:
    escaped = _slack_escape(value)
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: max(limit - 1, 0)]
    head, amp, entity = cut.rpartition("&")
    if amp and ";" not in entity:
        cut = head  # never leave half an "&amp;"
    return cut + "…"


def _truncate(value: str, limit: int, ellipsis: str = "…") -> str:
    return value if len(value) <= limit else value[: max(limit - len(ellipsis), 0)].rstrip() + ellipsis
