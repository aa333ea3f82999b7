"""Integration tests run on DynamoDB Local: one in-memory engine per session, one fresh table per test."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from types import ModuleType
from typing import Any

import pytest
from oncall.clock import SYSTEM_CLOCK
from oncall.store.dynamodb import DynamoStore

from local import dynamodb as local_dynamodb


@pytest.fixture(scope="session")
def dynamodb_endpoint() -> Iterator[str]:
    with local_dynamodb.DynamoDBLocal(None, port=0) as engine:
        yield engine.endpoint


@contextmanager
def fresh_table(endpoint: str) -> Iterator[str]:
    """A new table, deleted afterwards: DynamoDB Local keeps background work per table (its idle CPU grows by
    about 0.05 % of a core with each table kept), and a worker of a test run makes hundreds of them."""
    name = f"t{uuid.uuid4().hex[:12]}"
    local_dynamodb.ensure_table(endpoint, name)
    try:
        yield name
    finally:
        ddb = local_dynamodb.client(endpoint)
        with suppress(ddb.exceptions.ResourceNotFoundException):
            ddb.delete_table(TableName=name)


@pytest.fixture
def table_name(dynamodb_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with fresh_table(dynamodb_endpoint) as name:
        for key, value in local_dynamodb.boto_env(dynamodb_endpoint, name).items():
            monkeypatch.setenv(key, value)
        yield name


@pytest.fixture
def store(dynamodb_endpoint: str, table_name: str) -> DynamoStore:
    return DynamoStore(table_name, client=local_dynamodb.client(dynamodb_endpoint))


def load_handler(name: str) -> ModuleType:
    """A fresh copy of ``functions/<name>/handler.py`` (its module-level caches start empty)."""
    spec = importlib.util.spec_from_file_location(
        f"test_fn_{name}_{uuid.uuid4().hex[:6]}", f"functions/{name}/handler.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Context:
    function_name = "test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "test-request"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def http_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
    query: str = "",
    raw_body: str | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as the local gateway and AWS build them."""
    all_headers = {"host": "tocsin.test", "content-type": "application/json", **(headers or {})}
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": all_headers,
        "pathParameters": path_parameters or {},
        "isBase64Encoded": False,
        "body": raw_body if raw_body is not None else (json.dumps(body) if body is not None else None),
        "requestContext": {
            "domainName": "tocsin.test",
            "requestId": "r",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
        },
    }


Invoke = Callable[..., tuple[int, Any]]


SIGNING_KEY = "integration-test-signing-key"


@contextmanager
def module_store(dynamodb_endpoint: str, **settings: str) -> Iterator[DynamoStore]:
    """A table of its own for a module-scoped fixture, with the admin user: while it lasts, the environment the
    handlers read points at it, with the signing key and ``settings`` (``TOCSIN_API_RATE_LIMIT="100000/60"``...)."""
    from oncall.bootstrap import ensure_admin

    with fresh_table(dynamodb_endpoint) as name, pytest.MonkeyPatch.context() as patch:
        variables = {**local_dynamodb.boto_env(dynamodb_endpoint, name), "TOCSIN_SIGNING_KEY": SIGNING_KEY, **settings}
        for key, value in variables.items():
            patch.setenv(key, value)
        store = DynamoStore(name, client=local_dynamodb.client(dynamodb_endpoint))
        ensure_admin(store)
        yield store


@pytest.fixture
def api(table_name: str, store: DynamoStore, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Call the real api handler: ``api("GET", "/api/v1/integrations/") -> (status, json)``; ``api.container`` is
    the handler's container (settings read when it was loaded, adapters a test may replace)."""
    from oncall.bootstrap import ADMIN_USER_ID, ensure_admin
    from oncall.services.api_keys import issue

    monkeypatch.setenv("TOCSIN_SIGNING_KEY", SIGNING_KEY)
    ensure_admin(store)
    key = issue(store, user_id=ADMIN_USER_ID, name="tests", now=SYSTEM_CLOCK.now()).secret
    module = load_handler("api")

    def invoke(
        method: str, path: str, body: Any = None, *, query: str = "", key_header: str | None = key
    ) -> tuple[int, Any]:
        headers = {"authorization": key_header} if key_header is not None else {}
        response = module.handler(http_event(method, path, body, headers=headers, query=query), Context())
        text = response.get("body")
        return response["statusCode"], json.loads(text) if text else None

    invoke.container = module.container  # type: ignore[attr-defined]
    return invoke


Call = Callable[..., tuple[int, Any]]


@pytest.fixture
def containers(api: Invoke, store: DynamoStore) -> Callable[[int], list[Call]]:
    """``containers(n)``: n fresh copies of the api handler (fresh caches), each a caller like ``api``; concurrent
    requests go through separate copies (each Lambda container serves one request at a time)."""
    from oncall.bootstrap import ADMIN_USER_ID
    from oncall.services.api_keys import issue

    key = issue(store, user_id=ADMIN_USER_ID, name="containers", now=SYSTEM_CLOCK.now()).secret

    def make(count: int) -> list[Call]:
        calls: list[Call] = []
        for _ in range(count):
            module = load_handler("api")

            def call(
                method: str, path: str, body: Any = None, query: str = "", module: Any = module
            ) -> tuple[int, Any]:
                event = http_event(method, path, body, headers={"authorization": key}, query=query)
                response = module.handler(event, Context())
                text = response.get("body")
                return response["statusCode"], json.loads(text) if text else None

            call.module = module  # type: ignore[attr-defined]
            calls.append(call)
        return calls

    return make


def at_once(calls: list[Call], requests: list[tuple[str, str, Any]]) -> list[tuple[int, Any]]:
    """Each request through its own container, all released at the same moment."""
    start = threading.Barrier(len(requests))

    def run(index: int) -> tuple[int, Any]:
        start.wait(timeout=30)
        return calls[index](*requests[index])

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(run, range(len(requests))))


@pytest.fixture
def ingest_handler(table_name: str) -> ModuleType:
    return load_handler("ingest")


def a_second_later(ingest: ModuleType) -> None:
    """Turn an ingest container's clocks a second on (its auth epoch's, and its own of the per-second count sync that
    brings back the configuration version): every revocation made before has reached it."""
    from oncall.store.epoch import INTERVAL

    service = ingest.service()
    epoch_timer, sync_timer = service.store.auth_epoch.timer, service.timer
    service.store.auth_epoch.timer = lambda: epoch_timer() + INTERVAL
    service.timer = lambda: sync_timer() + INTERVAL


def post_alert(
    module: ModuleType,
    link: str,
    payload: Any = None,
    *,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """POST to an ingest link through the real ingest handler."""
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    _, _, _, kind, token = path.rstrip("/").split("/")
    event = http_event(
        "POST", path, payload, raw_body=raw_body, headers=headers, path_parameters={"type": kind, "token": token}
    )
    response = module.handler(event, Context())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


@pytest.fixture
def web(table_name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A fresh web console handler, signing sessions with the tests' key."""
    monkeypatch.setenv("TOCSIN_SIGNING_KEY", SIGNING_KEY)
    return load_handler("web")


@pytest.fixture
def admin_key(store: DynamoStore) -> str:
    """The secret of a new API key of the admin user."""
    from oncall.bootstrap import ADMIN_USER_ID, ensure_admin
    from oncall.services.api_keys import issue

    ensure_admin(store)
    return issue(store, user_id=ADMIN_USER_ID, name="web", now=SYSTEM_CLOCK.now()).secret


@pytest.fixture
def world(store: DynamoStore) -> Any:
    """Escalation on a virtual clock with a recording notifier (tests/integration/escalation_world.py)."""
    from tests.integration.escalation_world import make_world

    return make_world(store)
