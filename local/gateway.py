"""The local API Gateway (HTTP API): an ASGI app that invokes the Lambda handlers of ``ROUTES``.

Serve it with ``uvicorn --factory local.gateway:create_app`` (``python -m local`` does). Tests build it with
injected handlers: ``create_app({"ingest": fake_handler})``.

Throttling: the per-route limits of ``oncall.http_routes`` when the environment asks for them (``local.throttle``);
a throttled request is answered 429 before its function runs, as API Gateway does. Concurrency: each function
runs in its own pool of threads (``FUNCTION_CONCURRENCY``), as Lambda scales functions independently, so a burst
on one function cannot queue the requests of another behind it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import anyio
import anyio.to_thread
from oncall.http_routes import ROUTES, HttpRoute, Throttle
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from local import FUNCTIONS_DIR
from local.apigw import HttpRequest, HttpResponse, InvalidLambdaResponse, build_event, error_response, to_response
from local.functions import Handler, HandlerRegistry, LambdaContext
from local.outbox import Outbox
from local.routing import RouteMatch, Router
from local.throttle import STATE_ENV, Throttler, throttles_from_env

log = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 10 * 1024 * 1024  # API Gateway's payload quota; handlers enforce smaller limits
INTEGRATION_TIMEOUT_SECONDS: Final = 30.0  # API Gateway's maximum integration timeout; it answers 503 after it
FUNCTION_CONCURRENCY: Final = 40  # threads per function and worker process (anyio's default for all of them)


class _PayloadTooLarge(Exception):
    pass


class Gateway:
    def __init__(
        self,
        registry: HandlerRegistry,
        routes: Iterable[HttpRoute],
        *,
        timeout_seconds: float,
        max_body_bytes: int,
        throttler: Throttler | None = None,
    ) -> None:
        self.registry = registry
        self.router = Router(routes)
        self.timeout_seconds = timeout_seconds
        self.max_body_bytes = max_body_bytes
        self.throttler = throttler
        self._limiters: dict[str, anyio.CapacityLimiter] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A plain ASGI app, so the catch-all route accepts every method (function endpoints default to GET).
        response = await self.handle(Request(scope, receive))
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        raw_path = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
        match = self.router.match(request.method, raw_path)
        if match is None:
            return _starlette(error_response(404, "Not Found"))
        if self.throttler is not None and not self.throttler.admit(match.route_key):
            return _starlette(error_response(429, "Too Many Requests"))
        try:
            body = await self._read_body(request)
        except _PayloadTooLarge:
            return _starlette(error_response(413, "Request Entity Too Large"))
        client = request.client
        server = request.scope.get("server")
        http_request = HttpRequest(
            method=request.method,
            raw_path=raw_path,
            raw_query_string=request.scope.get("query_string", b"").decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
            body=body,
            source_ip=client.host if client else "127.0.0.1",
            protocol=f"HTTP/{request.scope.get('http_version', '1.1')}",
            scheme=request.url.scheme,
            server_port=server[1] if server else None,
        )
        event = build_event(http_request, match)
        response = await self._invoke(match, event)
        starlette_response = _starlette(response)
        starlette_response.raw_headers.append((b"apigw-requestid", event["requestContext"]["requestId"].encode()))
        return starlette_response

    async def _read_body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            # Refuse before reading, as API Gateway does (with its JSON body, unlike Starlette's body limit).
            raise _PayloadTooLarge
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _PayloadTooLarge  # chunked uploads carry no content-length
            chunks.append(chunk)
        return b"".join(chunks)

    async def _invoke(self, match: RouteMatch, event: dict[str, Any]) -> HttpResponse:
        function = match.route.function
        context = LambdaContext(function_name=function, timeout_seconds=self.timeout_seconds)

        def call() -> Any:
            # Loading happens here too, so a slow first import (the Lambda init phase) never blocks the loop.
            return self.registry.invoke(function, event, context)

        try:
            with anyio.move_on_after(self.timeout_seconds) as deadline:
                # Handlers are synchronous, like in Lambda. A timed-out call keeps running in its thread
                # (threads cannot be killed); the client gets API Gateway's 503 anyway.
                result = await anyio.to_thread.run_sync(call, abandon_on_cancel=True, limiter=self._limiter(function))
        except Exception:
            log.exception("function %s failed (request %s)", function, context.aws_request_id)
            return error_response(500, "Internal Server Error")
        if deadline.cancelled_caught:
            log.error("function %s timed out after %.0f s", function, self.timeout_seconds)
            return error_response(503, "Service Unavailable")
        try:
            return to_response(result)
        except InvalidLambdaResponse:
            log.exception("function %s returned an invalid response", function)
            return error_response(500, "Internal Server Error")

    def _limiter(self, function: str) -> anyio.CapacityLimiter:
        """The function's own thread pool (made in the event loop, which owns it)."""
        limiter = self._limiters.get(function)
        if limiter is None:
            limiter = self._limiters[function] = anyio.CapacityLimiter(FUNCTION_CONCURRENCY)
        return limiter


def _starlette(response: HttpResponse) -> Response:
    out = Response(content=response.body, status_code=response.status)
    # raw_headers, not a dict: repeated headers (set-cookie) must survive. Framing headers are the server's.
    out.raw_headers.extend(
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in response.headers
        if name not in ("content-length", "transfer-encoding", "connection")
    )
    return out


async def health(_: Request) -> Response:
    return JSONResponse({"ok": True})


async def outbox(request: Request) -> Response:
    since = request.query_params.get("since", "0")
    if not since.isdecimal():
        return _starlette(error_response(400, "since must be a record index (0 or more)"))
    records = await anyio.to_thread.run_sync(Outbox.from_env().records, int(since))
    return JSONResponse({"records": records})


def create_app(
    handlers: Mapping[str, Handler] | None = None,
    *,
    functions_dir: Path = FUNCTIONS_DIR,
    routes: Iterable[HttpRoute] = ROUTES,
    timeout_seconds: float = INTEGRATION_TIMEOUT_SECONDS,
    max_body_bytes: int = MAX_BODY_BYTES,
    throttles: Mapping[str, Throttle] | None = None,
) -> Starlette:
    """The gateway app. ``handlers`` overrides (function name -> callable); the rest load from ``functions_dir``.
    ``throttles`` (route class -> limit): default from the environment (``local.throttle``)."""
    routes = list(routes)
    state = os.environ.get(STATE_ENV)
    throttler = Throttler(
        throttles_from_env() if throttles is None else throttles,
        routes,
        state_file=Path(state) if state and throttles is None else None,
    )
    gateway = Gateway(
        HandlerRegistry(handlers, functions_dir),
        routes,
        timeout_seconds=timeout_seconds,
        max_body_bytes=max_body_bytes,
        throttler=throttler if throttler.enabled else None,
    )
    return Starlette(
        routes=[
            Route("/local/health", health, methods=["GET"]),  # local only: readiness checks
            Route("/local/outbox", outbox, methods=["GET"]),  # local only: what the stack "sent" (local/outbox.py)
            # One catch-all: API Gateway semantics (trailing slash, greedy variables, 404 on a wrong method)
            # differ from Starlette's routing, so local.routing matches the raw path.
            Route("/{path:path}", gateway),
        ]
    )
