"""The hostile-input proof (issue #16): generated requests to ingest, the management API and the web console,
through their real handlers on DynamoDB Local, answer with a status below 500 and in bounded time, every one.

Each test sends its share (counted, and the count asserted: together more than 10,000 requests) as hypothesis
draws them: any JSON, text or bytes as bodies, bodies shaped like each route's schema with hostile values, every
route and path parameter (real ids and garbage), odd queries, content types, keys and sessions, and the cases of
issue #16 (deep nesting, bodies that are not the expected object, header injection in ``next=``, ...). The
same surfaces through the local HTTP gateway: ``tests/e2e/test_hostile_gateway.py``.

A request counts as hung when its handler takes longer than :data:`HANG_SECONDS` (the pytest timeout stops
a real hang); speed itself is measured in ``bench/``.
"""

from __future__ import annotations

import base64
import json
import re
import string
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oncall.bootstrap import ADMIN_USER_ID
from oncall.clock import SYSTEM_CLOCK
from oncall.http_routes import ROUTES
from oncall.services.api_keys import issue
from oncall.web.app import all_routes
from oncall.web.views import TEMPLATES_DIR

from tests.integration.conftest import Context, http_event, load_handler, module_store, post_alert
from tests.integration.web_browser import Browser
from tests.unit.test_hostile_input import JSON_VALUES

HANG_SECONDS = 10.0
# Each test (a shard, so xdist spreads them and none nears the per-test timeout) sends and counts SHARD_REQUESTS:
# 10,000 requests together (5,000 to ingest, 3,500 to the API, 1,500 to the console), and a few hundred more
# through the local HTTP gateway.
SHARD_REQUESTS = 500
INGEST_SHARDS, API_SHARDS, CONSOLE_SHARDS = 10, 7, 3


def hostile(examples: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,  # nothing written to the worktree; a failure prints its reproducing example
        suppress_health_check=list(HealthCheck),
    )


@dataclass
class Log:
    """Every request sent: how many per surface and status class, the slowest, and each 5xx."""

    statuses: Counter[str] = field(default_factory=Counter)
    slowest: float = 0.0

    def record(self, surface: str, status: int, seconds: float, what: str, body: str) -> None:
        self.statuses[f"{surface} {status // 100}xx"] += 1
        self.slowest = max(self.slowest, seconds)
        assert status < 500, f"{surface}: {what} -> {status}: {body[:500]}"
        assert seconds < HANG_SECONDS, f"{surface}: {what} took {seconds:.1f} s"

    @property
    def total(self) -> int:
        return sum(self.statuses.values())


def call(log: Log, surface: str, module: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    response: dict[str, Any] = module.handler(event, Context())
    what = f"{event['requestContext']['http']['method']} {event['rawPath']}?{event['rawQueryString']} {event.get('body')!r:.300}"  # noqa: E501
    log.record(surface, response["statusCode"], time.perf_counter() - started, what, str(response.get("body")))
    return response


def with_body(event: dict[str, Any], body: str | bytes | None) -> dict[str, Any]:
    """``body`` as API Gateway passes it: text as is, bytes base64-encoded (a binary body)."""
    if isinstance(body, bytes):
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        event["body"] = body
    return event


# --- what hostile senders send --------------------------------------------------------------------------------

DEEP = ["[" * 100_000 + "]" * 100_000, '{"a":' * 5_000 + "1" + "}" * 5_000, "[" * 241 + "]" * 241, "[" * 3_000]
ISSUE_BODIES = [
    *DEEP,
    "[]",
    '"x"',
    '{"mode": 5}',
    '{"mode": "delete", "extra": []}',
    "{",
    "null",
    "1" * 5_000,  # past Python's integer digit limit
    '{"n": 1e999999}',
    '{"a": NaN}',
    '"\\ud800"',  # a lone surrogate
    "\ufeff{}",
    '{"alerts": ' + json.dumps([{"labels": {"alertname": str(i)}, "status": "firing"} for i in range(300)]) + "}",
]
TEXT = st.text(max_size=80) | st.text(alphabet=string.printable, max_size=200)
BODIES: st.SearchStrategy[str | bytes | None] = st.one_of(
    st.none(),
    JSON_VALUES.map(json.dumps),
    TEXT,
    st.binary(max_size=200),
    st.sampled_from(ISSUE_BODIES),
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=latin-1",
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/xml",
        "",
        "*/*",
    ]
)
QUERY_NAMES = ["page", "perpage", "page_size", "cursor", "name", "state", "team_id", "integration_id", "route_id",
               "started_at", "date", "id", "label", "alert_group_id", "user_id", "schedule_id", "token", "fragment",
               "username", "email", "type", "search", "next", "notice", "error", "sig"]  # fmt: skip
QUERY_VALUES = TEXT | st.sampled_from(["-1", "0", "99999999999999999999", "x" * 3000, "2026-01-01T00:00:00_x", "a:b:c"])
QUERIES = st.lists(st.tuples(st.sampled_from(QUERY_NAMES) | TEXT, QUERY_VALUES), max_size=4).map(
    lambda pairs: "&".join(f"{_quote(k)}={_quote(v)}" for k, v in pairs)
)


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


SEGMENT = st.text(alphabet=string.ascii_letters + string.digits + "-_.~%", min_size=1, max_size=30)


# --- the world they send it to --------------------------------------------------------------------------------


INGEST_TYPES = ("webhook", "alertmanager", "grafana", "grafana_alerting", "formatted_webhook", "kapacitor",
                "elastalert", "zabbix", "legacy_alertmanager", "legacy_grafana_alerting")  # fmt: skip


@dataclass
class World:
    api: ModuleType
    ingest: ModuleType
    web: ModuleType
    admin_key: str
    keys: list[str]  # the acting admin's, an editor's, a viewer's
    ids: dict[str, list[str]]  # resource (first path segment) -> ids that exist
    operations: list[tuple[str, str, list[str]]]  # (method, path template, body field names) of the API
    call: Callable[..., tuple[int, Any]]  # the API as the acting admin: (method, path, body) -> (status, json)

    def integrations(self) -> dict[str, str]:
        """New integrations of every type that has an ingest URL (rate limits of their own): type -> link."""
        links: dict[str, str] = {}
        for kind in INGEST_TYPES:
            status, created = self.call(
                "POST", "/api/v1/integrations/", {"name": f"hostile {kind} {uuid.uuid4().hex[:8]}", "type": kind}
            )
            assert status == 201, created
            links[kind] = created["link"]
        return links


@pytest.fixture(scope="module")
def world(dynamodb_endpoint: str) -> Iterator[World]:
    """One table for the module's shards, with one of every resource, and handlers of their own with limits out of
    the way (a 429 would hide what the handler does with the request; ingest's per-integration limit stays low, so
    that beyond a few stored alerts its refusals are cheap)."""
    limits = {"TOCSIN_API_RATE_LIMIT": "100000000/60", "TOCSIN_RATE_LIMIT": "30/300"}
    with module_store(dynamodb_endpoint, **limits) as store:
        bootstrap_key = issue(store, user_id=ADMIN_USER_ID, name="hostile", now=SYSTEM_CLOCK.now()).secret
        api_module = load_handler("api")

        def api(method: str, path: str, body: Any = None, key: str = bootstrap_key) -> tuple[int, Any]:
            response = api_module.handler(http_event(method, path, body, headers={"authorization": key}), Context())
            return response["statusCode"], json.loads(response["body"]) if response.get("body") else None

        team = api("POST", "/api/v1/teams/", {"name": "hostile"})[1]
        people = {
            role: api("POST", "/api/v1/users/", {"username": f"hostile-{role}", "role": role, "teams": [team["id"]]})[1]
            for role in ("admin", "editor", "viewer")
        }
        keys = [api("POST", "/api/v1/api_keys/", {"name": "hostile", "user_id": u["id"]})[1] for u in people.values()]
        ingest = load_handler("ingest")
        created = api("POST", "/api/v1/integrations/", {"name": "hostile", "type": "alertmanager"})[1]
        for n in range(3):
            post_alert(ingest, created["link"], {"alerts": [{"labels": {"n": str(n)}, "status": "firing"}]})
        chain = api("POST", "/api/v1/escalation_chains/", {"name": "hostile"})[1]
        api(
            "POST", "/api/v1/escalation_policies/", {"escalation_chain_id": chain["id"], "type": "wait", "duration": 60}
        )
        api("POST", "/api/v1/schedules/", {"name": "hostile", "type": "web", "time_zone": "UTC"})
        api("POST", "/api/v1/outgoing_webhooks/", {"name": "hostile", "url": "https://hooks.example/x"})
        api(
            "POST", "/api/v1/personal_notification_rules/", {"user_id": people["viewer"]["id"], "type": "notify_by_sms"}
        )
        own = {k["id"] for k in keys}
        ids: dict[str, list[str]] = {}
        for resource in ("integrations", "routes", "escalation_chains", "escalation_policies", "schedules",
                         "on_call_shifts", "users", "teams", "alert_groups", "alerts", "outgoing_webhooks",
                         "personal_notification_rules", "api_keys"):  # fmt: skip
            status, listed = api("GET", f"/api/v1/{resource}/")
            if status == 200:
                results = listed["results"] if isinstance(listed, dict) else listed
                ids[resource] = [r["id"] for r in results if r["id"] not in own and r["id"] != people["admin"]["id"]]
        document = api("GET", "/api/v1/openapi.json")[1]
        schemas = document.get("components", {}).get("schemas", {})
        operations = []
        for path, item in document["paths"].items():
            for method, operation in item.items():
                body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
                name = str(body.get("schema", {}).get("$ref", "")).rsplit("/", 1)[-1]
                operations.append((method.upper(), path, list(schemas.get(name, {}).get("properties", {}))))
        assert len(operations) > 40, operations
        admin_key = keys[0]["key"]
        yield World(load_handler("api"), ingest, load_handler("web"), admin_key, [k["key"] for k in keys], ids,
                    operations, lambda method, path, body=None: api(method, path, body, admin_key))  # fmt: skip


# --- ingest ---------------------------------------------------------------------------------------------------


INGEST_ROUTES = [f"{r.method} {r.path}" for r in ROUTES if r.function == "ingest"]
ALERT_SHAPED = st.fixed_dictionaries(
    {},
    optional={
        "alerts": st.lists(
            st.fixed_dictionaries(
                {}, optional={"labels": st.dictionaries(TEXT, TEXT, max_size=5), "status": TEXT, "fingerprint": TEXT}
            )
            | JSON_VALUES,
            max_size=5,
        ),
        "title": TEXT | JSON_VALUES,
        "message": TEXT | JSON_VALUES,
        "state": st.sampled_from(["alerting", "ok", "firing", "resolved"]) | TEXT,
        "status": st.sampled_from(["firing", "resolved"]) | JSON_VALUES,
        "alert_uid": TEXT | JSON_VALUES,
        "groupKey": TEXT,
        "commonLabels": st.dictionaries(TEXT, TEXT, max_size=5) | JSON_VALUES,
    },
).map(json.dumps)


def ingest_event(route: str, kind: str, token: str, body: str | bytes | None, content_type: str, query: str) -> Any:
    method, template = route.split(" ", 1)
    path = template.replace("{type}", kind).replace("{token}", token)
    headers = {"content-type": content_type}
    event = http_event(method, path, path_parameters={"type": kind, "token": token}, headers=headers, query=query)
    event["routeKey"] = route
    return with_body(event, body)


@st.composite
def ingest_batches(draw: st.DrawFn, links: dict[str, str]) -> list[dict[str, Any]]:
    """One body to every integration (each parses and renders it its own way), and to an odd route or token."""
    body, content_type, query = draw(BODIES | ALERT_SHAPED), draw(CONTENT_TYPES), draw(QUERIES)
    batch = []
    for kind, link in sorted(links.items()):
        token = link.rstrip("/").rsplit("/", 1)[1]
        batch.append(ingest_event(INGEST_ROUTES[0], kind, token, body, content_type, query))
    kind = draw(st.sampled_from(sorted(links)) | SEGMENT)
    token = draw(st.sampled_from([link.rstrip("/").rsplit("/", 1)[1] for link in links.values()]) | SEGMENT)
    batch.append(ingest_event(draw(st.sampled_from(INGEST_ROUTES)), kind, token, body, content_type, query))
    return batch


@pytest.mark.parametrize("shard", range(INGEST_SHARDS))
def test_hostile_ingest_requests_never_answer_5xx(world: World, shard: int) -> None:
    log = Log()
    links = world.integrations()

    @hostile(-(-SHARD_REQUESTS // (len(links) + 1)))
    @given(batch=ingest_batches(links))
    def send(batch: list[dict[str, Any]]) -> None:
        for event in batch:
            call(log, "ingest", world.ingest, event)

    send()
    assert log.total >= SHARD_REQUESTS, log.statuses
    assert log.statuses["ingest 2xx"] > SHARD_REQUESTS // 25 and log.statuses["ingest 4xx"] > SHARD_REQUESTS // 4, (
        log.statuses
    )


# --- the management API ---------------------------------------------------------------------------------------


API_BATCH = 8  # operations per drawn body


@st.composite
def api_batches(draw: st.DrawFn, world: World) -> list[dict[str, Any]]:
    """One drawn body (any, or shaped like the first operation's schema) to several operations, each with its path
    parameters (real ids or garbage), a query and a key (an admin's mostly; an editor's, a viewer's, none, junk)."""
    operations = draw(st.lists(st.sampled_from(world.operations), min_size=API_BATCH, max_size=API_BATCH))
    fields = operations[0][2]
    values = JSON_VALUES | TEXT | st.sampled_from(sorted({v for ids in world.ids.values() for v in ids[:3]}) or ["x"])
    shaped = st.fixed_dictionaries({}, optional={name: values for name in fields}).map(json.dumps) if fields else BODIES
    body, content_type = draw(st.one_of(BODIES, shaped, shaped)), draw(CONTENT_TYPES)
    batch = []
    for method, template, _ in operations:
        segments: list[str] = []
        for part in template.split("/"):
            if part.startswith("{"):
                known = world.ids.get(segments[-1] if segments else "") or ["X"]
                part = draw(st.sampled_from(known) | SEGMENT)
            segments.append(part)
        path = "/".join(segments) + draw(st.sampled_from(["/", ""]))
        key = draw(st.sampled_from([*world.keys, world.admin_key, world.admin_key, "", "Bearer nope", "x" * 500]))
        headers = {"content-type": content_type, **({"authorization": key} if key else {})}
        batch.append(with_body(http_event(method, path, headers=headers, query=draw(QUERIES)), body))
    return batch


@pytest.mark.parametrize("shard", range(API_SHARDS))
def test_hostile_api_requests_never_answer_5xx(world: World, shard: int) -> None:
    log = Log()

    @hostile(-(-SHARD_REQUESTS // API_BATCH))
    @given(batch=api_batches(world))
    def send(batch: list[dict[str, Any]]) -> None:
        for event in batch:
            call(log, "api", world.api, event)

    send()
    for body in ["[]", '"x"', '{"mode": 5}', "{", "5", "true", '{"mode": ["wipe"]}', "1" * 5_000, *DEEP]:  # #16.6
        group = world.ids["alert_groups"][0]
        event = http_event("DELETE", f"/api/v1/alert_groups/{group}/", headers={"authorization": world.admin_key})
        response = call(log, "api", world.api, with_body(event, body))
        assert response["statusCode"] == 400 and json.loads(response["body"]), (body[:50], response)
    assert log.total >= SHARD_REQUESTS, log.statuses  # (earlier shards may have deleted much of the world)


# --- the web console ------------------------------------------------------------------------------------------

FORM_FIELDS = sorted(
    {name for page in TEMPLATES_DIR.glob("*.html") for name in re.findall(r'name="(\w+)"', page.read_text())}
    - {"csrf_token", "viewport"}
)
ID_GROUP = r"([\w-]+)"
RESOURCE_OF = {"groups": "alert_groups", "integrations": "integrations", "chains": "escalation_chains",
               "steps": "escalation_policies", "routes": "routes", "users": "users", "keys": "api_keys",
               "rules": "personal_notification_rules", "schedules": "schedules"}  # fmt: skip


CONSOLE_BATCH = 6  # pages or forms per drawn set of values
Request = tuple[str, str, "dict[str, Any] | None", bool, bool]  # method, path with query, form, signed in, htmx


def _console_path(draw: st.DrawFn, world: World, pattern: str) -> str:
    parts, out = pattern.strip("/").split("/") if pattern else [], []
    for index, part in enumerate(parts):
        if part == ID_GROUP:
            known = world.ids.get(RESOURCE_OF.get(parts[index - 1], ""), []) or ["X"]
            out.append(draw(st.sampled_from(known) | SEGMENT))
        elif part.startswith("("):
            out.append(draw(st.sampled_from(part.strip("()").split("|"))))
        else:
            out.append(part)
    return "/ui/" + "/".join(out)


@st.composite
def console_batches(draw: st.DrawFn, world: World) -> list[Request]:
    """One drawn form (every field a hostile value) posted to several forms, or several pages with a drawn query;
    signed in mostly, as htmx or not."""
    values = TEXT | st.sampled_from(["line\r\nInjected: 1", "{{ 7*7 }}", "-1", "x" * 5000, *ISSUE_BODIES[:4]])
    form = draw(st.dictionaries(st.sampled_from(FORM_FIELDS), values | st.lists(values, max_size=3), max_size=6))
    query, authenticated, htmx = draw(QUERIES), draw(st.integers(0, 9)) > 0, draw(st.booleans())
    batch: list[Request] = []
    for method, pattern, _ in draw(
        st.lists(st.sampled_from(all_routes()), min_size=CONSOLE_BATCH, max_size=CONSOLE_BATCH)
    ):
        path = _console_path(draw, world, pattern) if draw(st.integers(0, 19)) else "/ui/" + draw(SEGMENT)
        batch.append(
            (method, f"{path}?{query}" if query else path, form if method == "POST" else None, authenticated, htmx)
        )
    return batch


@pytest.mark.parametrize("shard", range(CONSOLE_SHARDS))
def test_hostile_console_requests_never_answer_5xx(world: World, shard: int) -> None:
    log = Log()
    signed_in, anonymous = Browser(world.web), Browser(world.web)
    signed_in.sign_in(world.admin_key)
    csrf = [signed_in.csrf()]

    def send(browser: Browser, method: str, path: str, form: dict[str, Any] | None, **headers: str) -> dict[str, Any]:
        started = time.perf_counter()
        response = browser.call(method, path, form, **headers)
        seconds = time.perf_counter() - started
        log.record("console", response["statusCode"], seconds, f"{method} {path} {form!r:.300}", response["body"])
        location = response["headers"].get("Location")
        assert location is None or re.fullmatch(r"/ui/[!-~]*", location), location  # never a header injection
        return response

    @hostile(-(-SHARD_REQUESTS // CONSOLE_BATCH))
    @given(batch=console_batches(world))
    def run(batch: list[Request]) -> None:
        for method, path, form, authenticated, htmx in batch:
            browser = signed_in if authenticated else anonymous
            if form is not None and authenticated:
                form = {**form, "csrf_token": csrf[0]}
            send(browser, method, path, form, **({"hx-request": "true"} if htmx else {}))
            if signed_in.cookie is None:  # a form revoked the session's key or signed out: sign in again
                signed_in.sign_in(world.admin_key)
                csrf[0] = signed_in.csrf()

    run()
    for target in ["/ui/groups\r\nSet-Cookie: a=b", "//evil.example", "https://evil.example", "/\\evil", "/ui/x\n"]:
        browser = Browser(world.web)
        token = browser.csrf("/ui/signin")
        form = {"api_key": world.admin_key, "csrf_token": token, "next": target}
        assert send(browser, "POST", "/ui/signin", form)["headers"]["Location"] == "/ui/groups"
    assert log.total >= SHARD_REQUESTS, log.statuses
    assert log.statuses["console 2xx"] + log.statuses["console 3xx"] > SHARD_REQUESTS // 4, log.statuses
