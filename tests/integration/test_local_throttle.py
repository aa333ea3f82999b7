"""The local gateway's per-route throttles: the limits of ``oncall.http_routes``, enforced as API Gateway does."""

from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import Any

import pytest
from oncall.http_routes import ROUTES, THROTTLES, Throttle

import local.__main__ as local_main
from local.gateway import create_app
from local.throttle import STATE_ENV, Throttler, env_name, reset_state, take, throttles_from_env

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette 1.x nudges towards httpx2; httpx is the client we pin
    from starlette.testclient import TestClient

INGEST = "/integrations/v1/webhook/tok123/"
HEARTBEAT = "/integrations/v1/webhook/tok123/heartbeat/"
INGEST_KEY = "POST /integrations/v1/{type}/{token}"


class Counter:
    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with self.lock:
            self.calls += 1
        return {"statusCode": 200, "body": "ok"}


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def no_throttle_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in THROTTLES:
        monkeypatch.delenv(env_name(name), raising=False)
    monkeypatch.delenv(STATE_ENV, raising=False)


def test_a_bucket_admits_its_burst_then_refills_at_its_rate() -> None:
    throttle = Throttle(rate=2, burst=3)
    tokens, stamp, admitted = 0.0, 0.0, []
    for now in (10.0, 10.0, 10.0, 10.0, 10.4, 10.5, 12.0):
        ok, tokens, stamp = take(tokens, stamp, now, throttle)
        admitted.append(ok)
    # a full bucket of 3; at 10.4 s only 0.8 tokens came back; at 10.5 s one; 1.5 s later it is full again (3)
    assert admitted == [True, True, True, False, False, True, True]
    assert tokens == pytest.approx(2.0)


def test_over_its_burst_ingest_gets_429_before_the_function_and_other_routes_are_untouched() -> None:
    ingest, web, api = Counter(), Counter(), Counter()
    app = create_app({"ingest": ingest, "web": web, "api": api}, throttles={"ingest": Throttle(0.01, 3)})
    client = TestClient(app)
    statuses = [client.post(INGEST, json={"n": n}).status_code for n in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    over = client.post(INGEST, json={})
    assert over.status_code == 429 and over.json() == {"message": "Too Many Requests"}
    assert ingest.calls == 3  # throttled requests never reach the function
    assert client.get(HEARTBEAT).status_code == 200  # each route has its own bucket, as in API Gateway
    assert [client.get("/ui/").status_code for _ in range(20)] == [200] * 20  # the console: no limit asked
    assert [client.get("/api/v1/alert_groups").status_code for _ in range(20)] == [200] * 20


def test_no_throttle_unless_asked_so_bursts_measure_tocsin() -> None:
    ingest = Counter()
    client = TestClient(create_app({"ingest": ingest}))
    assert {client.post(INGEST, json={}).status_code for _ in range(300)} == {200}
    assert ingest.calls == 300


def test_limits_come_from_the_same_variables_cdk_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOCSIN_INGEST_THROTTLE", "0.5/2")
    monkeypatch.setenv("TOCSIN_API_THROTTLE", "off")
    assert throttles_from_env() == {"ingest": Throttle(0.5, 2)}
    ingest = Counter()
    client = TestClient(create_app({"ingest": ingest}))
    assert [client.post(INGEST, json={}).status_code for _ in range(3)] == [200, 200, 429]
    monkeypatch.setenv("TOCSIN_WEB_THROTTLE", "fast")
    with pytest.raises(ValueError, match="rate per second"):
        throttles_from_env()


def test_worker_processes_share_one_bucket_per_route(tmp_path: Path) -> None:
    """Two gateway workers (two Throttlers on the state file) admit the burst once between them, not twice."""
    state = tmp_path / "throttle.state"
    reset_state(state)
    clock = Clock()
    limits = {"ingest": Throttle(1, 4)}
    first, second = (Throttler(limits, ROUTES, state_file=state, clock=clock) for _ in range(2))
    try:
        admitted = [worker.admit(INGEST_KEY) for worker in (first, second, first, second, first, second)]
        assert admitted == [True, True, True, True, False, False]
        clock.now += 2.0  # two tokens back, whichever worker asks
        assert [second.admit(INGEST_KEY), first.admit(INGEST_KEY), second.admit(INGEST_KEY)] == [True, True, False]
        assert first.admit("ANY /ui/{proxy+}")  # a class without a limit
    finally:
        first.close()
        second.close()
    reset_state(state)  # a new run of the stack: full buckets
    third = Throttler(limits, ROUTES, state_file=state, clock=clock)
    try:
        assert third.admit(INGEST_KEY)
    finally:
        third.close()


def test_python_m_local_throttle_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOCSIN_API_THROTTLE", "5/10")
    options = ["--local-dir", str(tmp_path), "--throttle", "ingest=2/4", "--throttle", "api=off"]
    settings = local_main.parse_args(options)
    assert settings.throttles == {"ingest": Throttle(2, 4)}
    env = local_main.throttle_env(settings)
    assert env["TOCSIN_INGEST_THROTTLE"] == "2/4" and env["TOCSIN_API_THROTTLE"] == "off"
    assert env[STATE_ENV] == str(tmp_path.resolve() / "throttle.state")
    assert local_main.parse_args(["--local-dir", str(tmp_path)]).throttles == {"api": Throttle(5, 10)}
    with pytest.raises(SystemExit):
        local_main.parse_args(["--throttle", "console=1/1"])


def test_a_burst_from_many_threads_admits_exactly_the_burst(tmp_path: Path) -> None:
    state = tmp_path / "throttle.state"
    reset_state(state)
    throttler = Throttler({"ingest": Throttle(0.001, 25)}, ROUTES, state_file=state)
    results: list[bool] = []
    lock = threading.Lock()

    def send() -> None:
        for _ in range(10):
            admitted = throttler.admit(INGEST_KEY)
            with lock:
                results.append(admitted)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    throttler.close()
    assert len(results) == 80 and results.count(True) == 25
