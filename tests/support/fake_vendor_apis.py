"""Fakes of the Grafana OnCall, PagerDuty and Opsgenie APIs serving recorded responses (``vendor_fixtures/``,
written from the vendors' public API documentation), plus an in-memory fake of Tocsin's management API.

Each fake is a function ``httpx.Request -> httpx.Response``: wrap it in ``httpx.MockTransport`` for unit tests,
or serve it on 127.0.0.1 with :func:`serve` for the CLI. Pages are small (2 objects) so pagination is exercised.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx

FIXTURES = Path(__file__).parent / "vendor_fixtures"
PAGE = 2
Handler = Callable[[httpx.Request], httpx.Response]


def fixture(vendor: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{vendor}.json").read_text())


def _query(request: httpx.Request) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(request.url.query.decode()).items()}


def oncall_api(token: str = "oncall-token", prefix: str = "/oncall") -> Handler:
    """OnCall's public API under ``<base><prefix>/api/v1/``; ``Authorization: <token>``; page-number paging."""
    data = fixture("oncall")

    def handle(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != token:
            return httpx.Response(401, json={"detail": "Invalid token."})
        path = request.url.path.removeprefix(prefix).removeprefix("/api/v1/").strip("/")
        if request.method != "GET" or path not in data:
            return httpx.Response(404, json={"detail": "Not found."})
        items, number = data[path], int(_query(request).get("page", "1"))
        total = max(1, -(-len(items) // PAGE))
        base = str(request.url.copy_with(query=None))
        return httpx.Response(
            200,
            json={
                "count": len(items),
                "results": items[(number - 1) * PAGE : number * PAGE],
                "next": f"{base}?page={number + 1}" if number < total else None,
                "previous": f"{base}?page={number - 1}" if number > 1 else None,
                "current_page_number": number,
                "page_size": PAGE,
                "total_pages": total,
            },
        )

    return handle


def pagerduty_api(token: str = "pd-token") -> Handler:
    """PagerDuty REST API v2: ``Authorization: Token token=...``; ``offset``/``limit``/``more`` paging."""
    data = fixture("pagerduty")
    lists = {
        "teams": "teams",
        "users": "users",
        "escalation_policies": "escalation_policies",
        "services": "services",
        "schedules": "schedules",
        "event_orchestrations": "orchestrations",
    }

    def handle(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Token token={token}":
            return httpx.Response(401, json={"error": {"message": "Unauthorized", "code": 2006}})
        parts = request.url.path.strip("/").split("/")
        query = _query(request)
        if len(parts) == 1 and parts[0] in lists:
            items = data.get(parts[0], [])
            if parts[0] == "schedules":  # the list has no layers
                items = [{k: v for k, v in s.items() if k not in ("schedule_layers", "overrides")} for s in items]
            if parts[0] == "services" and query.get("include[]") != "integrations":
                items = [
                    {
                        **s,
                        "integrations": [{"id": i["id"], "type": i["type"] + "_reference"} for i in s["integrations"]],
                    }
                    for s in items
                ]
            offset, limit = int(query.get("offset", 0)), min(int(query.get("limit", 25)), PAGE)
            return httpx.Response(
                200,
                json={
                    lists[parts[0]]: items[offset : offset + limit],
                    "offset": offset,
                    "limit": limit,
                    "more": offset + limit < len(items),
                    "total": None,
                },
            )
        if parts[0] == "schedules" and len(parts) >= 2:
            schedule = next((s for s in data["schedules"] if s["id"] == parts[1]), None)
            if schedule is None:
                return httpx.Response(404, json={"error": {"message": "Not Found", "code": 2100}})
            if len(parts) == 3 and parts[2] == "overrides":
                if not query.get("since") or not query.get("until"):
                    return httpx.Response(400, json={"error": {"message": "since and until are required"}})
                return httpx.Response(200, json={"overrides": schedule.get("overrides", [])})
            return httpx.Response(200, json={"schedule": {k: v for k, v in schedule.items() if k != "overrides"}})
        return httpx.Response(404, json={"error": {"message": "Not Found", "code": 2100}})

    return handle


def opsgenie_api(key: str = "og-key") -> Handler:
    """Opsgenie REST API: ``Authorization: GenieKey ...``; users page with ``paging.next``."""
    data = fixture("opsgenie")

    def handle(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"GenieKey {key}":
            return httpx.Response(401, json={"message": "Could not authenticate", "took": 0.0, "requestId": "x"})
        parts = request.url.path.strip("/").split("/")
        meta = {"took": 0.01, "requestId": "9ae63dd7-ed00-4c81-86f0-c4ffd33142c9"}
        if parts == ["v2", "users"]:
            query = _query(request)
            offset = int(query.get("offset", 0))
            page = data["users"][offset : offset + PAGE]
            base = str(request.url.copy_with(query=None))
            paging: dict[str, str] = {"first": f"{base}?limit={PAGE}&offset=0"}
            if offset + PAGE < len(data["users"]):
                paging["next"] = f"{base}?limit={PAGE}&offset={offset + PAGE}&order=DESC&sort=username"
            return httpx.Response(200, json={"totalCount": len(data["users"]), "data": page, "paging": paging, **meta})
        if parts == ["v2", "heartbeats"]:
            return httpx.Response(200, json={"data": {"heartbeats": data["heartbeats"]}, **meta})
        if parts == ["v2", "schedules"]:
            rotations = _query(request).get("expand") == "rotation"
            return httpx.Response(
                200,
                json={
                    "data": [
                        {k: v for k, v in s.items() if k != "overrides" and (rotations or k != "rotations")}
                        for s in data["schedules"]
                    ],
                    "expandable": ["rotation"],
                    **meta,
                },
            )
        if len(parts) == 4 and parts[:2] == ["v2", "schedules"] and parts[3] == "overrides":
            schedule = next((s for s in data["schedules"] if s["id"] == parts[2]), None)
            if schedule is None:
                return httpx.Response(404, json={"message": "Schedule not found", **meta})
            return httpx.Response(200, json={"data": schedule.get("overrides", []), **meta})
        if len(parts) == 2 and parts[0] == "v2" and parts[1] in data:
            return httpx.Response(200, json={"data": data[parts[1]], **meta})
        return httpx.Response(404, json={"message": "Not found", **meta})

    return handle


class FakeTocsin:
    """Tocsin's management API in memory: list (paged, with the filters the importers use) and create."""

    RESOURCES = {
        "teams": "T",
        "users": "U",
        "webhooks": "WH",
        "schedules": "S",
        "on_call_shifts": "O",
        "escalation_chains": "F",
        "escalation_policies": "E",
        "integrations": "C",
        "routes": "R",
    }

    def __init__(self, base_url: str = "http://tocsin.test") -> None:
        self.base_url = base_url
        self.objects: dict[str, list[dict[str, Any]]] = {name: [] for name in self.RESOURCES}
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.counter = 0

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, transport=httpx.MockTransport(self.handle), headers={"Authorization": "admin-key"}
        )

    def add(self, resource: str, **fields: Any) -> dict[str, Any]:
        self.counter += 1
        item = {"id": f"{self.RESOURCES[resource]}{self.counter:06d}", **fields}
        self.objects[resource].append(item)
        return item

    def handle(self, request: httpx.Request) -> httpx.Response:
        resource = request.url.path.removeprefix("/api/v1/").strip("/")
        if resource not in self.objects:
            return httpx.Response(404, json={"detail": "Not found."})
        if request.method == "GET":
            query = _query(request)
            items = [
                i
                for i in self.objects[resource]
                if all(str(i.get(k)) == v for k, v in query.items() if k not in ("page", "perpage"))
            ]
            number, size = int(query.get("page", 1)), min(int(query.get("perpage", 50)), PAGE)
            total = max(1, -(-len(items) // size))
            return httpx.Response(
                200,
                json={
                    "count": len(items),
                    "results": items[(number - 1) * size : number * size],
                    "next": f"{self.base_url}{request.url.path}?page={number + 1}" if number < total else None,
                    "previous": None,
                    "current_page_number": number,
                    "page_size": size,
                    "total_pages": total,
                },
            )
        body = json.loads(request.content)
        self.posts.append((resource, body))
        key = "username" if resource == "users" else "name"
        if resource not in ("escalation_policies", "routes", "on_call_shifts") and any(
            i.get(key) == body.get(key) and (resource != "integrations" or i.get("team_id") == body.get("team_id"))
            for i in self.objects[resource]
        ):
            return httpx.Response(400, json={key: ["An object with this name already exists."]})
        extra: dict[str, Any] = {}
        if resource == "integrations":
            extra = {"link": f"{self.base_url}/integrations/v1/{body['type']}/tok{self.counter}/"}
            if body["type"] == "pagerduty":
                extra = {"link": None, "routing_key": f"rk{self.counter:030d}"}
        created = self.add(resource, **body, **extra)
        return httpx.Response(201, json=created)


@contextmanager
def serve(handler: Handler) -> Iterator[str]:
    """Serve a fake on 127.0.0.1 (a free port); yields its base URL."""

    class Adapter(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = httpx.Request(
                self.command,
                f"http://{self.headers['Host']}{self.path}",
                headers=dict(self.headers),
                content=self.rfile.read(length),
            )
            response = handler(request)
            self.send_response(response.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(response.content)))
            self.end_headers()
            self.wfile.write(response.content)

        do_GET = do_POST = _any

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Adapter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
