"""The management API (``/api/v1/...``, OnCall-compatible) as a Powertools resolver: one router per resource,
authentication and the audit log in one middleware, every refusal answered through one table.

Authentication says who the caller is (an API key, or a calendar feed URL's token standing for one); whether they
may do what they ask is decided by the use case (:mod:`oncall.services`). Routers are built per app (``router()``),
because a Powertools router points at the app that included it last, and an execution environment has its own app;
an app includes a resource's router on the first request for it (:mod:`oncall.api.routes`), and the OpenAPI document
is generated, once, from an app with all of them.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from oncall import feeds, http
from oncall.api import routes
from oncall.api.request import PORTS, REQUEST, ApiRequest
from oncall.errors import NotAuthenticated, TocsinError, Unavailable, field_errors
from oncall.services import api_keys

if TYPE_CHECKING:
    from oncall.container import Container
    from oncall.directory import ApiKey
    from oncall.services.policy import Principal

PREFIX: Final = "/api/v1"
OPENAPI_PATH: Final = f"{PREFIX}/openapi.json"
READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})  # what is not a change (not audited)
PUBLIC_PREFIXES: Final = (OPENAPI_PATH, "/actions/")  # the document, and signed action links (their own proof)
MAX_BODY_NESTING: Final = 240  # as ingest's MAX_NESTING: far deeper than any request body of the API
FEED_PATH: Final = re.compile(r"(?:schedules/(?P<schedule>[\w-]+)/export|users/(?P<user>[\w-]+)/schedule_export)/?")
logger = logging.getLogger(__name__)


def build(container: Container) -> APIGatewayHttpResolver:
    app = Resolver(enable_validation=True)

    def authenticate(resolver: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        """Key -> user -> principal; per-key throttling; every successful change goes to the audit log."""
        event = resolver.current_event
        resolver.append_context(**{PORTS: container})
        if event.path.startswith(PUBLIC_PREFIXES):
            return next_middleware(resolver)
        query = parse_qs(event.raw_event.get("rawQueryString") or "", keep_blank_values=True)
        principal, key = _caller(container, event.path, query, event.headers.get("authorization"))
        now = container.clock.now()
        container.authenticator.throttle(key, now)
        method = event.http_method.upper()
        request = ApiRequest(container, principal, key, http.base_url(event.raw_event), event.path, query, now)
        resolver.append_context(**{REQUEST: request})
        response = next_middleware(resolver)
        if method not in READ_METHODS and response.status_code < 400:
            api_keys.audit(container.store, principal, method, event.path, response.status_code, now)
        return response

    app.use(middlewares=[authenticate])

    @app.get(OPENAPI_PATH, include_in_schema=False)
    def openapi() -> dict[str, Any]:
        document: dict[str, Any] = json.loads(openapi_document())
        return document

    @app.exception_handler(TocsinError)  # type: ignore[untyped-decorator]  # Powertools' is unannotated
    def refused(error: TocsinError) -> Response[Any]:
        if isinstance(error, Unavailable):
            logger.exception("a dependency failed")
        return Response(http.status_of(error), "application/json", error.body(), http.error_headers(error))

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]  # Powertools' is unannotated
    def invalid_request(error: RequestValidationError) -> Response[Any]:
        """DRF-style field errors: ``{"name": ["message"]}``."""
        return Response(400, "application/json", field_errors(error.errors()))

    @app.not_found
    def not_found(_: Exception) -> Response[Any]:
        return Response(404, "application/json", {"detail": "Not found."})

    return app


class Resolver(APIGatewayHttpResolver):
    """Powertools' resolver, refusing first what its request validation cannot read without failing (a 500), and
    including the routers of a request's resource before resolving it."""

    def __init__(self, *, enable_validation: bool) -> None:
        super().__init__(enable_validation=enable_validation)
        self._included: set[str] = set()

    def include(self, names: list[str]) -> None:
        """Include the routers ``names`` (of :data:`oncall.api.routes.ROUTERS`) not included yet."""
        for name in names:
            if name not in self._included:
                self.include_router(routes.router(name))
                self._included.add(name)

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        problem = unreadable_body(dict(event))
        if problem is not None:
            return http.json_response(400, {"detail": problem})
        self.include(routes.serving(APIGatewayProxyEventV2(dict(event)).path))  # the path its routes match
        return super().resolve(event, context)


@functools.cache
def openapi_document() -> str:
    """The OpenAPI 3 document (JSON), generated from the pydantic models of :mod:`oncall.schemas` by an app with
    every router, in :data:`~oncall.api.routes.ROUTERS` order whichever an environment has included."""
    app = Resolver(enable_validation=True)
    app.include(list(routes.ROUTERS))
    return app.get_openapi_json_schema(title="Tocsin API", version="1.0.0")


def unreadable_body(event: http.Event) -> str | None:
    """Why a body cannot be read (multipart, not UTF-8, nested deeper than :data:`MAX_BODY_NESTING`: the
    validation's recursive JSON parser fails with a RecursionError; a number past Python's digit limit), or None."""
    media_type = (http.header(event, "content-type") or "").split(";", 1)[0].strip().lower()
    if media_type == "multipart/form-data" and event.get("body"):  # no route takes files
        return f'Unsupported media type "{media_type}" in request.'
    try:
        text = http.body_bytes(event).decode("utf-8")
    except ValueError:  # not UTF-8
        return "JSON parse error - the body is not UTF-8 text."
    if http.nested_deeper_than(text, MAX_BODY_NESTING):
        return f"JSON parse error - the body is nested more than {MAX_BODY_NESTING} levels deep."
    if _LONG_DIGITS.search(text):  # maybe a number past Python's digit limit: json raises a plain ValueError
        try:
            json.loads(text)
        except json.JSONDecodeError:
            pass  # not JSON: the route's validation answers it
        except ValueError:
            return "JSON parse error - a number has too many digits."
    return None


_LONG_DIGITS: Final = re.compile(rf"\d{{{sys.get_int_max_str_digits() + 1},}}")


def _caller(
    container: Container, path: str, query: dict[str, list[str]], authorization: str | None
) -> tuple[Principal, ApiKey]:
    """The caller of a request: by its ``Authorization`` header, or for the iCal exports by the ``token`` of a
    calendar feed URL (calendar apps send no headers)."""
    token = next(iter(query.get("token", [])), None)
    match = FEED_PATH.fullmatch(path.removeprefix(f"{PREFIX}/"))
    if token is None or match is None:
        return container.authenticator.authenticate(authorization)
    kind: feeds.FeedKind = "schedule" if match["schedule"] else "user"
    try:
        key_hash = feeds.key_hash_of(token, kind, match["schedule"] or match["user"], container.signing_key())
    except feeds.InvalidFeedToken:
        raise NotAuthenticated("Invalid token.") from None
    return container.authenticator.by_hash(key_hash)


def normalise(event: dict[str, Any]) -> dict[str, Any]:
    """OnCall clients use trailing slashes (``/api/v1/integrations/``); our routes are declared without."""
    raw_path = event.get("rawPath", "")
    if len(raw_path) > 1 and raw_path.endswith("/"):
        event["rawPath"] = raw_path.rstrip("/")
        http_context = event.get("requestContext", {}).get("http", {})
        if "path" in http_context:
            http_context["path"] = http_context["path"].rstrip("/")
    return event
