"""API Gateway HTTP API, payload format 2.0: request -> Lambda event, Lambda result -> HTTP response.

Pure functions over plain data, so the shapes can be tested without a server. Reproduced AWS behaviour:
- header names lower-cased, repeated headers joined with ``,``; the ``cookie`` header moves to ``cookies``;
- ``queryStringParameters`` decoded, repeated keys joined with ``,``; ``rawQueryString`` untouched;
- keys without a value (``cookies``, ``queryStringParameters``, ``pathParameters``, ``body``) are omitted;
- ``rawPath`` is the path as sent (a trailing slash kept);
- the body is passed as text only for textual content types that decode as UTF-8, else base64
  (``isBase64Encoded: true``), so handlers must honour the flag (Powertools does);
- a result with ``statusCode`` is a response; any other JSON value becomes a 200 ``application/json`` body.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl

from local.functions import ACCOUNT_ID
from local.routing import RouteMatch

API_ID: Final = "local00000"
STAGE: Final = "$default"

# Content types API Gateway hands to Lambda as text; everything else (form posts included) arrives base64.
_TEXT_TYPES: Final = frozenset({"application/json", "application/javascript", "application/xml"})
_TEXT_SUFFIXES: Final = ("+json", "+xml")
_HOP_BY_HOP: Final = frozenset({"connection", "keep-alive", "proxy-connection", "upgrade", "te"})  # end at the edge


@dataclass(frozen=True)
class HttpRequest:
    method: str
    raw_path: str
    raw_query_string: str
    headers: list[tuple[str, str]]  # in order, names lower-cased (as ASGI servers deliver them)
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"
    scheme: str = "http"
    server_port: int | None = None


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def request_id() -> str:
    """An id shaped like API Gateway's (16 base64 characters, e.g. ``JKJaXmPLvHcESHA=``)."""
    return base64.b64encode(os.urandom(11)).decode()


def is_textual(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type.startswith("text/") or media_type in _TEXT_TYPES or media_type.endswith(_TEXT_SUFFIXES)


def _join(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def build_event(request: HttpRequest, match: RouteMatch, *, now: float | None = None) -> dict[str, Any]:
    """The Lambda event API Gateway sends for ``request`` routed to ``match``."""
    now = time.time() if now is None else now
    rid = request_id()
    cookies: list[str] = []
    header_pairs: list[tuple[str, str]] = []
    for name, value in request.headers:
        if name == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
        elif name not in _HOP_BY_HOP:
            header_pairs.append((name, value))
    headers = _join(header_pairs)
    # Headers the API Gateway front end adds (it appends the caller to an existing X-Forwarded-For).
    forwarded_for = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded_for}, {request.source_ip}" if forwarded_for else request.source_ip
    headers["x-forwarded-proto"] = request.scheme
    if request.server_port is not None:
        headers["x-forwarded-port"] = str(request.server_port)
    host = headers.get("host", "")
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(now):08x}-{uuid.uuid4().hex[:24]}")

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query_string,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if request.raw_query_string:
        event["queryStringParameters"] = _join(parse_qsl(request.raw_query_string, keep_blank_values=True))
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": host,
        "domainPrefix": host.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": rid,
        "routeKey": match.route_key,
        "stage": STAGE,
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if match.path_parameters:
        event["pathParameters"] = match.path_parameters
    if request.body:
        text = _as_text(request.body, headers.get("content-type"))
        event["body"] = text if text is not None else base64.b64encode(request.body).decode()
        event["isBase64Encoded"] = text is None
    else:
        event["isBase64Encoded"] = False
    return event


def _as_text(body: bytes, content_type: str | None) -> str | None:
    if not is_textual(content_type):
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


class InvalidLambdaResponse(ValueError):
    """The result cannot be turned into a response; API Gateway answers 500 then."""


def to_response(result: Any) -> HttpResponse:
    """Map a handler's return value to the HTTP response API Gateway sends (format 2.0 rules)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        try:
            body = json.dumps(result).encode()
        except (TypeError, ValueError) as exc:
            raise InvalidLambdaResponse(f"result is not JSON-serialisable: {exc}") from exc
        return HttpResponse(200, [("content-type", "application/json")], body)

    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError) as exc:
        raise InvalidLambdaResponse(f"invalid statusCode {result['statusCode']!r}") from exc
    if not 100 <= status <= 599:
        raise InvalidLambdaResponse(f"invalid statusCode {status}")

    return HttpResponse(status, _headers(result), _body(result))


def _headers(result: dict[str, Any]) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for key, kind in (("headers", dict), ("multiValueHeaders", dict), ("cookies", list)):
        if result.get(key) is not None and not isinstance(result[key], kind):
            raise InvalidLambdaResponse(f"{key} must be a {kind.__name__}")
    for name, value in (result.get("headers") or {}).items():
        headers.append((str(name).lower(), _header_value(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name).lower(), _header_value(v)) for v in values)
    headers.extend(("set-cookie", str(cookie)) for cookie in result.get("cookies") or [])
    return headers


def _body(result: dict[str, Any]) -> bytes:
    raw_body = result.get("body")
    if raw_body is None:
        return b""
    if not isinstance(raw_body, str):
        raise InvalidLambdaResponse("body must be a string")
    if result.get("isBase64Encoded"):
        try:
            return base64.b64decode(raw_body, validate=True)
        except ValueError as exc:
            raise InvalidLambdaResponse("body is not valid base64") from exc
    return raw_body.encode()


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()  # JSON true -> "true", as the Lambda service serialises it
    return str(value)


def error_response(status: int, message: str) -> HttpResponse:
    """API Gateway's own error answers: ``{"message": "..."}``."""
    return HttpResponse(status, [("content-type", "application/json")], json.dumps({"message": message}).encode())
