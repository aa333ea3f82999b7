"""PagerDuty Events API compatibility: senders keep their configuration and only change the host name.

``POST /v2/enqueue`` (Events v2) and ``POST /generic/2010-04-15/create_event.json`` (Events v1, which
Alertmanager uses with ``service_key``) become alerts of a ``pagerduty`` integration whose token is the
routing (service) key. ``dedup_key`` is the grouping id: acknowledge/resolve act on the open group with that
key; after a resolve, a trigger with the same key opens a new group; acknowledge/resolve for a key with no
open group is accepted and ignored. Success is 202 only after the alert is stored.

Keys: a key that is not 32 letters and digits is answered 400 as PagerDuty does for a malformed key; a
well-formed key that matches no integration gets 403 (as every other Tocsin ingest URL does).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_BODY_BYTES = 512 * 1024
KEY = re.compile(r"^[A-Za-z0-9]{32}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class Link(_Model):
    href: str
    text: str | None = None


class Image(_Model):
    src: str
    href: str | None = None
    alt: str | None = None


class EventPayload(_Model):
    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=255)
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: str | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(default=None, alias="class")
    custom_details: Any = None


class EventV2(_Model):
    routing_key: str
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, max_length=255)
    payload: EventPayload | None = None
    client: str | None = None
    client_url: str | None = None
    images: list[Image] | None = None
    links: list[Link] | None = None


class EventV1(_Model):
    service_key: str
    event_type: Literal["trigger", "acknowledge", "resolve"]
    incident_key: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=1024)
    details: Any = None
    client: str | None = None
    client_url: str | None = None
    contexts: list[dict[str, Any]] | None = None


class InvalidEvent(Exception):
    def __init__(self, errors: list[str], status: int = 400) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"status": "invalid event", "message": "Event object is invalid", "errors": self.errors}


@dataclass(frozen=True)
class Event:
    key: str  # the integration token
    dedup_key: str
    payload: dict[str, Any]  # normalised to the v2 shape: what templates and routes see


def _load(body: bytes) -> Any:
    if len(body) > MAX_BODY_BYTES:
        raise InvalidEvent([f"Event is larger than {MAX_BODY_BYTES // 1024} KB"], 413)
    try:
        return json.loads(body.decode("utf-8"))
    # ValueError: not UTF-8, not JSON, or an integer longer than Python's int_max_str_digits
    except (ValueError, RecursionError) as error:
        raise InvalidEvent([f"Event is not valid JSON: {error}"]) from error


def _errors(error: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()]


def _check_key(key: str) -> None:
    if not KEY.match(key):
        raise InvalidEvent(["Invalid routing key: expected 32 letters and digits"])


def parse_v2(body: bytes) -> Event:
    try:
        event = EventV2.model_validate(_load(body))
    except ValidationError as error:
        raise InvalidEvent(_errors(error)) from error
    _check_key(event.routing_key)
    if event.event_action == "trigger" and event.payload is None:
        raise InvalidEvent(["payload: 'payload' is missing or blank"])
    if event.event_action != "trigger" and not event.dedup_key:
        raise InvalidEvent(["dedup_key: 'dedup_key' is required for acknowledge and resolve events"])
    dedup_key = event.dedup_key or uuid.uuid4().hex
    payload = event.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"routing_key"})
    return Event(event.routing_key, dedup_key, {**payload, "dedup_key": dedup_key})


def parse_v1(body: bytes) -> Event:
    try:
        event = EventV1.model_validate(_load(body))
    except ValidationError as error:
        raise InvalidEvent(_errors(error)) from error
    _check_key(event.service_key)
    if event.event_type == "trigger" and not event.description:
        raise InvalidEvent(["description: required for trigger events"])
    if event.event_type != "trigger" and not event.incident_key:
        raise InvalidEvent(["incident_key: required for acknowledge and resolve events"])
    dedup_key = event.incident_key or uuid.uuid4().hex
    links = [{"href": c["href"], "text": c.get("text")} for c in event.contexts or [] if c.get("type") == "link"]
    payload: dict[str, Any] = {
        "event_action": event.event_type,
        "dedup_key": dedup_key,
        "client": event.client,
        "client_url": event.client_url,
        "links": links or None,
        "payload": {
            "summary": event.description or "",
            "source": event.client or "pagerduty-events-v1",
            "severity": "critical",  # v1 has no severity; PagerDuty treats v1 triggers as critical
            "custom_details": event.details,
        }
        if event.event_type == "trigger"
        else None,
    }
    return Event(event.service_key, dedup_key, {k: v for k, v in payload.items() if v is not None})
