"""Small helpers to read API Gateway HTTP API (payload 2.0) events and shape responses, and the one table of
what each refusal (:mod:`oncall.errors`) answers."""

from __future__ import annotations

import base64
import json
import operator
import re
from collections.abc import Mapping
from itertools import accumulate, repeat
from typing import Any, Final

from oncall.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    Throttled,
    TocsinError,
    Unavailable,
)

Event = dict[str, Any]
Response = dict[str, Any]


def header(event: Event, name: str) -> str | None:
    headers = event.get("headers") or {}
    value = headers.get(name.lower())
    if value is None:  # API Gateway lower-cases names; be lenient with hand-made events
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return value


def body_bytes(event: Event) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body)
        except ValueError:
            return b""
    return body.encode("utf-8", errors="surrogateescape")


_JSON_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*"?', re.DOTALL)  # brackets in strings do not nest
_NOT_BRACKETS: Final = re.compile(r"[^\[\]{}]+")
_STEPS: Final = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")  # opening: +1, closing: -1 (after the shift)


def nested_deeper_than(text: str, limit: int) -> bool:
    """Whether ``text`` (JSON, or not) nests arrays and objects more than ``limit`` deep, found without parsing
    (and in C loops, so a wide body costs little), so a body too deep for a recursive parser never reaches one."""
    if text.count("[") + text.count("{") <= limit:  # cannot be deeper than its brackets
        return False
    brackets = _NOT_BRACKETS.sub("", _JSON_STRING.sub("", text)).encode().translate(_STEPS)
    return max(accumulate(map(operator.sub, brackets, repeat(1))), default=0) > limit


def method(event: Event) -> str:
    return str(event.get("requestContext", {}).get("http", {}).get("method", "GET")).upper()


def base_url(event: Event) -> str:
    """Where this deployment is reachable, as the caller reached it."""
    headers = event.get("headers") or {}
    host = headers.get("x-forwarded-host") or event.get("requestContext", {}).get("domainName") or "localhost"
    proto = headers.get("x-forwarded-proto") or ("http" if host.startswith(("127.", "localhost")) else "https")
    return f"{proto}://{host}"


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body, separators=(",", ":"), ensure_ascii=False),
    }


def text_response(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "text/plain; charset=utf-8", **(headers or {})},
        "body": body,
    }


# --- errors -----------------------------------------------------------------------------------------------------

# What each kind of refusal answers, in the API, the console and ingest alike (the most specific class wins).
STATUS: Final[Mapping[type[TocsinError], int]] = {
    InvalidInput: 400,
    NotAuthenticated: 401,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    Throttled: 429,
    Unavailable: 503,
}


def status_of(error: TocsinError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def error_headers(error: TocsinError) -> dict[str, str]:
    return {"Retry-After": str(error.retry_after)} if isinstance(error, Throttled) else {}
