"""Ingest benchmark: prints alerts/s, latency percentiles, CPU per process, DynamoDB requests per alert, the
time from an ingest 200 to the first notification e-mail, handler memory after 1,000 invocations, the cost of
listing groups, cold import time and DynamoDB Local's own ceiling.

Runs against the real local stack (DynamoDB Local + gateway + handlers) on loopback, bounded in count and
time (the defaults take 1.5-2 minutes on a quiet 2-core machine, under 5 on a busy one). Targets (2-core
machine): >= 150 alerts/s for new groups from 8 concurrent senders, p99 <= 0.5 s, <= 3 DynamoDB requests per
alert on the warm path, ingest handler import < 250 ms. docs/performance.md reports and explains the figures.

    make bench                       # or: .venv/bin/python bench/ingest.py --alerts 2000 --senders 8
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "layers/core/python"), str(REPO)]

from local.stack import LocalStack  # noqa: E402


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# --- CPU per process (Linux /proc) ----------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str]:
    # "pid (comm) state ppid ... utime stime ...": comm may hold spaces, so split after the last ")".
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents.setdefault(int(_stat_fields(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue  # exited meanwhile
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def _cpu_seconds(pid: int) -> float:
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def is_dynamodb(pid: int) -> bool:
    try:
        return b"DynamoDBLocal.jar" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def stack_cpu(stack: LocalStack) -> dict[str, float]:
    """CPU seconds used so far by DynamoDB Local, by the stack's Python processes (gateway workers with the
    handlers, escalation runner) and by this process (the load generator)."""
    assert stack.process is not None
    figures = {"dynamodb_local": 0.0, "handlers": 0.0}
    for pid in process_tree(stack.process.pid):
        figures["dynamodb_local" if is_dynamodb(pid) else "handlers"] += _cpu_seconds(pid)
    figures["load_generator"] = _cpu_seconds(os.getpid())
    return figures


def pss_kib(pid: int) -> int:
    """Proportional set size: the process's own pages plus its share of those it shares (0 if it exited)."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0)


def stack_footprint(stack: LocalStack) -> dict[str, Any]:
    """PSS of the whole local stack process tree, in MiB: DynamoDB Local's JVM and the Python processes."""
    assert stack.process is not None
    kib = {"dynamodb_local": 0, "python": 0}
    pids = process_tree(stack.process.pid)
    for pid in pids:
        kib["dynamodb_local" if is_dynamodb(pid) else "python"] += pss_kib(pid)
    return {
        "processes": len(pids),
        "pss_mib": round(sum(kib.values()) / 1024, 1),
        **{f"{name}_pss_mib": round(value / 1024, 1) for name, value in kib.items()},
    }


def save_section(path: Path, section: str, figures: dict[str, Any]) -> None:
    """Replace one benchmark's section of the results file, keeping the other benchmarks' figures."""
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError):
        results = {}
    results[section] = figures
    path.write_text(json.dumps(results, indent=2) + "\n")


def with_cpu(stack: LocalStack, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``run()``'s figures plus each process group's CPU use during it, in % of one core."""
    before, started = stack_cpu(stack), time.perf_counter()
    figures = run()
    wall = time.perf_counter() - started
    after = stack_cpu(stack)
    figures["cpu_percent_of_one_core"] = {k: round(100 * (after[k] - before[k]) / wall) for k in before}
    return figures


@dataclass(frozen=True)
class Sent:
    """One POST: when it began (wall clock, comparable with stored timestamps), how long until its answer."""

    started: float
    seconds: float
    status: int | str


def send_all(url: str, bodies: Sequence[bytes], senders: int, deadline: float, rate: float = 0.0) -> list[Sent]:
    """``senders`` threads (one HTTP connection each) POST ``bodies`` in order, as fast as answered or paced at
    ``rate`` requests/s in total (body ``i`` not before ``i / rate`` s after the start); none after
    ``deadline`` (monotonic)."""
    sent: list[Sent] = []
    lock = threading.Lock()
    counter = iter(range(len(bodies)))
    started = time.perf_counter()

    def sender() -> None:
        with httpx.Client(timeout=30, headers={"Content-Type": "application/json"}) as http:
            while time.monotonic() < deadline:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                if rate > 0 and (delay := started + n / rate - time.perf_counter()) > 0:
                    time.sleep(delay)
                wall, start = time.time(), time.perf_counter()
                try:
                    status: int | str = http.post(url, content=bodies[n]).status_code
                except httpx.HTTPError as error:
                    status = type(error).__name__
                elapsed = time.perf_counter() - start
                with lock:
                    sent.append(Sent(wall, elapsed, status))

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent


def burst(link: str, total: int, senders: int, same_key: bool, deadline: float) -> dict[str, Any]:
    """``senders`` threads POST ``total`` alerts; each alert a new group unless ``same_key``."""
    bodies = [
        json.dumps(
            {"alert_uid": "same" if same_key else str(uuid.uuid4()), "title": f"bench {n}", "state": "alerting",
             "message": "benchmark"}
        ).encode()
        for n in range(total)
    ]  # fmt: skip
    started = time.perf_counter()
    sent = send_all(link, bodies, senders, deadline)
    wall = time.perf_counter() - started
    latencies = [s.seconds for s in sent if s.status == 200]
    return {
        "alerts": len(latencies),
        "failures": dict(Counter(s.status for s in sent if s.status != 200)),
        "seconds": round(wall, 2),
        "alerts_per_second": round(len(latencies) / wall, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
    }


def requests_per_alert(stack: LocalStack, link: str) -> dict[str, float]:
    """DynamoDB round trips per alert of the real ingest use case, warm caches, against the stack's engine."""
    from oncall.ingest import IngestService
    from oncall.settings import RateLimit
    from oncall.store.dynamodb import DynamoStore

    from local.dynamodb import client

    store = DynamoStore("tocsin", client=client(stack.dynamodb_endpoint))
    service = IngestService(store, RateLimit(10**9, 300), sync_seconds=1)
    kind, token = link.rstrip("/").split("/")[-2:]
    body = json.dumps({"alert_uid": "warm", "title": "warm"}).encode()
    service.receive(kind, token, body, "application/json")  # fills the caches
    figures = {}
    for name, uid in (("new_group", None), ("existing_group", "warm")):
        store.table.requests = 0
        n = 50
        for _ in range(n):
            payload = {"alert_uid": uid or str(uuid.uuid4()), "title": "count"}
            service.receive(kind, token, json.dumps(payload).encode(), "application/json")
        figures[name] = store.requests / n
    return figures


# --- time to the first notification ---------------------------------------------------------------------------


def notification_latency(stack: LocalStack, samples: int) -> dict[str, Any]:
    """Ingest 200 -> the first notification e-mail handed to SMTP (the outbox's ``at``), one alert at a time.

    The chain is ``notify_persons(user)``: the first step runs at once, so this is the whole path: ingest,
    StartExecution, the escalation runner, the RunStep handler, the e-mail sender and the SMTP sink.
    """
    headers = {"Authorization": stack.api_key}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=10) as api:
        user = api.post("/api/v1/users/", json={"username": "bench", "email": "bench@example.com"}).json()
        chain = api.post("/api/v1/escalation_chains/", json={"name": "bench"}).json()
        policy = {"escalation_chain_id": chain["id"], "type": "notify_persons", "persons_to_notify": [user["id"]]}
        api.post("/api/v1/escalation_policies/", json=policy).raise_for_status()
        integration = api.post(
            "/api/v1/integrations/",
            json={
                "name": "bench paging",
                "type": "formatted_webhook",
                "default_route": {"escalation_chain_id": chain["id"]},
            },
        ).json()
        seen = len(api.get("/local/outbox").json()["records"])
        latencies: list[float] = []
        observed: list[float] = []
        for n in range(samples):
            title = f"bench page {n} {uuid.uuid4().hex[:6]}"
            response = httpx.post(integration["link"], json={"alert_uid": title, "title": title}, timeout=10)
            acknowledged_at, polled_from = datetime.now(UTC), time.perf_counter()
            response.raise_for_status()
            deadline = time.monotonic() + 30
            record = None
            while record is None and time.monotonic() < deadline:
                records = api.get("/local/outbox", params={"since": seen}).json()["records"]
                record = next(
                    (r for r in records if r.get("channel") == "email" and title in r.get("subject", "")), None
                )
                if record is None:
                    time.sleep(0.01)
            if record is None:
                raise RuntimeError(f"no notification e-mail for {title!r} within 30 s:\n{stack.output()[-3000:]}")
            observed.append(time.perf_counter() - polled_from)
            latencies.append((datetime.fromisoformat(record["at"]) - acknowledged_at).total_seconds())
    return {
        "integration_id": integration["id"],
        "samples": samples,
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "observed_by_polling_p50_ms": round(percentile(observed, 0.5) * 1000, 1),
    }


# --- handler memory after 1,000 invocations -------------------------------------------------------------------

MEMORY_FUNCTIONS = ("ingest", "api", "heartbeat_check")


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


def _event(
    method: str,
    path: str,
    *,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    query: str = "",
    route: str | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as the gateway builds it."""
    route_key = f"{method} {route or path}"
    return {
        "version": "2.0", "routeKey": route_key, "rawPath": path, "rawQueryString": query,
        "headers": {"host": "bench", "content-type": "application/json", **(headers or {})},
        "queryStringParameters": dict(item.split("=", 1) for item in query.split("&")) if query else None,
        "pathParameters": params or {}, "isBase64Encoded": False, "body": body,
        "requestContext": {"domainName": "bench", "requestId": "r", "routeKey": route_key, "stage": "$default",
                           "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                                    "userAgent": "bench"}},
    }  # fmt: skip


def memory_child(
    function: str, endpoint: str, link: str, api_key: str, group_id: str, invocations: int, seconds: float
) -> None:
    """In a fresh interpreter: load one handler, invoke it ``invocations`` times (at most ``seconds``) against
    DynamoDB Local, print RSS figures (KiB) as JSON. The local stack runs every handler in its gateway workers;
    on AWS each function has its own process, which is what this measures."""
    from local.dynamodb import boto_env
    from local.functions import LambdaContext, load_handler

    os.environ.update(boto_env(endpoint, "tocsin"))
    os.environ.update(
        {
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "POWERTOOLS_SERVICE_NAME": "bench",
            "TOCSIN_RATE_LIMIT": f"{10**9}/300",  # the limits are not what this measures
            "TOCSIN_API_RATE_LIMIT": f"{10**9}/60",
        }
    )
    os.environ.pop("TOCSIN_STATE_MACHINE_ARN", None)  # nothing escalates here
    deadline = time.monotonic() + seconds
    start = _status_kib("VmRSS")
    warm = 0
    handler = load_handler(function)
    imported = _status_kib("VmRSS")
    kind, token = link.rstrip("/").split("/")[-2:]
    path = f"/integrations/v1/{kind}/{token}"
    done = 0
    started = time.perf_counter()
    for n in range(invocations):
        if function == "ingest":
            body = json.dumps({"alert_uid": str(uuid.uuid4()), "title": f"memory {n}", "message": "m" * 200})
            event = _event("POST", path, body=body, params={"type": kind, "token": token},
                           route="/integrations/v1/{type}/{token}")  # fmt: skip
        elif function == "api":  # reads of one group and of the integrations: the list of groups is timed apart
            target = f"/api/v1/alert_groups/{group_id}" if n % 2 else "/api/v1/integrations"
            event = _event("GET", target, headers={"authorization": api_key}, route="/api/v1/{proxy+}")
        else:
            event = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
        response = handler(event, LambdaContext(function_name=function))
        if function != "heartbeat_check" and response["statusCode"] != 200:
            raise RuntimeError(f"{function} answered {response['statusCode']}: {response.get('body')}")
        done += 1
        if n == 0:
            warm = _status_kib("VmRSS")  # the first call creates the boto3 client and imports lazily
        if time.monotonic() > deadline:
            break
    elapsed = time.perf_counter() - started
    after, peak = _status_kib("VmRSS"), _status_kib("VmHWM")
    figures = {"start": start, "imported": imported, "warm": warm, "after": after, "peak": peak}
    print(json.dumps({**figures, "invocations": done, "seconds": elapsed}))


def handler_memory(stack: LocalStack, link: str, invocations: int, seconds: float) -> dict[str, Any]:
    headers = {"Authorization": stack.api_key}
    page = httpx.get(f"{stack.base_url}/api/v1/alert_groups/", headers=headers, params={"perpage": 1}, timeout=60)
    group_id = page.json()["results"][0]["id"]
    figures: dict[str, Any] = {}
    for function in MEMORY_FUNCTIONS:
        output = subprocess.check_output(
            [sys.executable, __file__, "--memory-child", function, "--endpoint", stack.dynamodb_endpoint,
             "--link", link, "--api-key", stack.api_key, "--group-id", group_id,
             "--invocations", str(invocations), "--seconds", str(seconds)],
            text=True, timeout=seconds + 60,
        )  # fmt: skip
        kib = json.loads(output.strip().splitlines()[-1])
        figures[function] = {
            "invocations": kib["invocations"],
            "rss_interpreter_mb": round(kib["start"] / 1024, 1),
            "rss_after_import_mb": round(kib["imported"] / 1024, 1),
            "rss_after_first_invocation_mb": round(kib["warm"] / 1024, 1),
            "rss_after_all_mb": round(kib["after"] / 1024, 1),
            "peak_rss_mb": round(kib["peak"] / 1024, 1),
            "growth_after_first_invocation_mb": round((kib["after"] - kib["warm"]) / 1024, 1),
            "invocations_per_second": round(kib["invocations"] / kib["seconds"], 1),
        }
    return figures


def list_latency(stack: LocalStack, integration_id: str, runs: int = 10) -> dict[str, Any]:
    """``GET /api/v1/alert_groups/`` (one page of 25 and the total ``count``) over every group, then over one
    small integration: the count reads the whole index partition, so the first grows with the table."""
    figures: dict[str, Any] = {}
    with httpx.Client(base_url=stack.base_url, headers={"Authorization": stack.api_key}, timeout=60) as api:
        for name, params in (("all_groups", {}), ("one_small_integration", {"integration_id": integration_id})):
            samples, count = [], 0
            for _ in range(runs):
                started = time.perf_counter()
                response = api.get("/api/v1/alert_groups/", params={"perpage": 25, **params})
                samples.append(time.perf_counter() - started)
                response.raise_for_status()
                count = response.json()["count"]
            figures[name] = {"groups": count, "p50_ms": round(percentile(samples, 0.5) * 1000, 1)}
    return figures


def dynamodb_local_alone(threads: int, seconds: float) -> dict[str, Any]:
    """The engine's own ceiling for our write shape (a new group: one TransactWriteItems of pointer, group and
    alert, conditional) from ``threads`` boto3 clients, on disk as the stack runs it; and its CPU use."""
    import tempfile

    from local.dynamodb import DynamoDBLocal, client, ensure_table

    with tempfile.TemporaryDirectory(prefix="tocsin-bench-ddb-") as tmp, DynamoDBLocal(Path(tmp), 0) as engine:
        ensure_table(engine.endpoint, "tocsin")
        done, stop, lock = [0], threading.Event(), threading.Lock()

        def writer() -> None:
            ddb = client(engine.endpoint)
            while not stop.is_set():
                g = uuid.uuid4().hex
                items = [
                    {"PK": {"S": f"OPEN#{g}"}, "SK": {"S": "OPEN"}, "group_id": {"S": g}},
                    {"PK": {"S": f"GROUP#{g}"}, "SK": {"S": "META"}, "GSI1PK": {"S": "GROUPS"}, "GSI1SK": {"S": g},
                     "GSI2PK": {"S": "INTGROUPS#x"}, "GSI2SK": {"S": g}, "GSI3PK": {"S": "STATE#firing"},
                     "GSI3SK": {"S": g}, "title": {"S": "bench"}},
                    {"PK": {"S": f"GROUP#{g}"}, "SK": {"S": f"ALERT#{g}"}, "payload_json": {"S": "x" * 300}},
                ]  # fmt: skip
                condition = "attribute_not_exists(PK)"
                puts = [{"Put": {"TableName": "tocsin", "Item": i, "ConditionExpression": condition}} for i in items]
                ddb.transact_write_items(TransactItems=puts)
                with lock:
                    done[0] += 1

        workers = [threading.Thread(target=writer, daemon=True) for _ in range(threads)]
        for worker in workers:
            worker.start()
        time.sleep(2)  # warm-up (JIT)
        count, cpu, started = done[0], _cpu_seconds(engine.pid), time.perf_counter()
        time.sleep(seconds)
        wall = time.perf_counter() - started
        figures = {
            "threads": threads,
            "new_groups_per_second": round((done[0] - count) / wall, 1),
            "cpu_percent_of_one_core": round(100 * (_cpu_seconds(engine.pid) - cpu) / wall),
        }
        stop.set()
        for worker in workers:
            worker.join(10)
    return figures


def cold_import_ms(function: str, runs: int = 5) -> dict[str, float]:
    """Import time of a handler module in a fresh interpreter (the cold-start cost we control)."""
    paths = [str(REPO / "layers/core/python"), str(REPO)]
    handler = str(REPO / f"functions/{function}/handler.py")
    code = (
        f"import sys, time, importlib.util; sys.path[:0] = {paths!r}; t = time.perf_counter(); "
        f"spec = importlib.util.spec_from_file_location('h', {handler!r}); m = importlib.util.module_from_spec(spec); "
        "sys.modules['h'] = m; spec.loader.exec_module(m); print((time.perf_counter() - t) * 1000)"
    )
    samples = [float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(runs)]
    return {"median_ms": round(statistics.median(samples), 1), "min_ms": round(min(samples), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=1500, help="alerts per burst")
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument(
        "--max-seconds", type=float, default=60, help="stop a burst after this long (each handler's memory run: half)"
    )
    parser.add_argument("--workers", type=int, help="gateway worker processes (default: the local stack's)")
    parser.add_argument("--output", type=Path, default=REPO / "bench/results.json")
    parser.add_argument("--notifications", type=int, default=20, help="alerts timed to their first e-mail")
    parser.add_argument("--memory-invocations", type=int, default=1000, help="invocations per handler")
    # internal: the memory measurement runs each handler in a fresh interpreter
    parser.add_argument("--memory-child", choices=MEMORY_FUNCTIONS, help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--link", help=argparse.SUPPRESS)
    parser.add_argument("--api-key", help=argparse.SUPPRESS)
    parser.add_argument("--group-id", help=argparse.SUPPRESS)
    parser.add_argument("--invocations", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=60, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(
            args.memory_child, args.endpoint, args.link, args.api_key, args.group_id, args.invocations, args.seconds
        )
        return
    began = time.monotonic()

    results: dict[str, Any] = {"machine_cores": __import__("os").cpu_count()}
    # The benchmark measures throughput, not the limiters (the API one counts the memory runs' calls too).
    env = {"TOCSIN_RATE_LIMIT": f"{10**9}/300", "TOCSIN_API_RATE_LIMIT": f"{10**9}/60"}
    with LocalStack(workers=args.workers, env=env) as stack:
        headers = {"Authorization": stack.api_key}
        integration = httpx.post(
            f"{stack.base_url}/api/v1/integrations/",
            headers=headers,
            json={"name": "bench", "type": "formatted_webhook"},
            timeout=10,
        ).json()
        link = integration["link"]
        burst(link, 100, args.senders, False, time.monotonic() + 30)  # warm-up: imports, connections, JIT of DDB Local
        results["new_groups"] = with_cpu(
            stack, lambda: burst(link, args.alerts, args.senders, False, time.monotonic() + args.max_seconds)
        )
        results["same_group"] = with_cpu(
            stack, lambda: burst(link, args.alerts, args.senders, True, time.monotonic() + args.max_seconds)
        )
        page = httpx.get(
            f"{stack.base_url}/api/v1/alert_groups/",
            headers=headers,
            params={"integration_id": integration["id"], "perpage": 1},
            timeout=30,
        ).json()
        stored = 100 + results["new_groups"]["alerts"] + min(1, results["same_group"]["alerts"])
        results["groups_visible_through_api"] = {"expected": stored, "counted": page["count"]}
        results["dynamodb_requests_per_alert"] = requests_per_alert(stack, link)
        results["first_notification"] = notification_latency(stack, args.notifications)
        results["handler_memory"] = handler_memory(stack, link, args.memory_invocations, args.max_seconds / 2)
        results["api_list_groups"] = list_latency(stack, results["first_notification"].pop("integration_id"))
    results["cold_import"] = {name: cold_import_ms(name) for name in ("ingest", "api")}
    results["dynamodb_local_alone"] = dynamodb_local_alone(args.senders, seconds=10)
    results["benchmark_seconds"] = round(time.monotonic() - began, 1)

    print(json.dumps(results, indent=2))
    save_section(args.output, "ingest", results)


if __name__ == "__main__":
    main()
