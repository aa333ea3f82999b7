"""Ingest benchmark: prints alerts/s, latency percentiles, DynamoDB requests per alert and cold import time.

Runs against the real local stack (DynamoDB Local + gateway + handlers) on loopback, bounded in count and
time. Targets (2-core machine): >= 150 alerts/s for new groups from 8 concurrent senders, p99 <= 0.5 s,
<= 3 DynamoDB requests per alert on the warm path, ingest handler import < 250 ms.

    make bench                       # or: .venv/bin/python bench/ingest.py --alerts 2000 --senders 8
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "layers/core/python"), str(REPO)]

from local.stack import LocalStack  # noqa: E402


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def burst(link: str, total: int, senders: int, same_key: bool, deadline: float) -> dict[str, Any]:
    """``senders`` threads POST ``total`` alerts; each alert a new group unless ``same_key``."""
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def sender() -> None:
        with httpx.Client(timeout=10) as http:
            while time.monotonic() < deadline:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                uid = "same" if same_key else f"{uuid.uuid4()}"
                body = {"alert_uid": uid, "title": f"bench {n}", "state": "alerting", "message": "benchmark"}
                start = time.perf_counter()
                try:
                    status = http.post(link, json=body).status_code
                except httpx.HTTPError as error:
                    status = type(error).__name__
                elapsed = time.perf_counter() - start
                with lock:
                    if status == 200:
                        latencies.append(elapsed)
                    else:
                        failures.append(status)

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "alerts": len(latencies),
        "failures": dict(Counter(failures)),
        "seconds": round(wall, 2),
        "alerts_per_second": round(len(latencies) / wall, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
    }


def requests_per_alert(stack: LocalStack, link: str) -> dict[str, float]:
    """DynamoDB round trips per alert of the real ingest use case, warm caches, against the stack's engine."""
    from oncall.ingest import IngestService, RateLimit
    from oncall.store.dynamodb import DynamoStore

    from local.dynamodb import client

    store = DynamoStore("tocsin", client=client(stack.dynamodb_endpoint))
    service = IngestService(store, RateLimit(10**9, 300))
    kind, token = link.rstrip("/").split("/")[-2:]
    body = json.dumps({"alert_uid": "warm", "title": "warm"}).encode()
    service.receive(kind, token, body, "application/json")  # fills the caches
    figures = {}
    for name, uid in (("new_group", None), ("existing_group", "warm")):
        store.requests = 0
        n = 50
        for _ in range(n):
            payload = {"alert_uid": uid or str(uuid.uuid4()), "title": "count"}
            service.receive(kind, token, json.dumps(payload).encode(), "application/json")
        figures[name] = store.requests / n
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
    parser.add_argument("--max-seconds", type=float, default=60, help="stop a burst after this long")
    parser.add_argument("--workers", type=int, default=2, help="gateway worker processes")
    parser.add_argument("--output", type=Path, default=REPO / "bench/results.json")
    args = parser.parse_args()

    results: dict[str, Any] = {"machine_cores": __import__("os").cpu_count()}
    env = {"TOCSIN_RATE_LIMIT": f"{10**9}/300"}  # the benchmark measures throughput, not the limiter
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
        results["new_groups"] = burst(link, args.alerts, args.senders, False, time.monotonic() + args.max_seconds)
        results["same_group"] = burst(link, args.alerts, args.senders, True, time.monotonic() + args.max_seconds)
        page = httpx.get(
            f"{stack.base_url}/api/v1/alert_groups/",
            headers=headers,
            params={"integration_id": integration["id"], "perpage": 1},
            timeout=30,
        ).json()
        stored = 100 + results["new_groups"]["alerts"] + min(1, results["same_group"]["alerts"])
        results["groups_visible_through_api"] = {"expected": stored, "counted": page["count"]}
        results["dynamodb_requests_per_alert"] = requests_per_alert(stack, link)
    results["cold_import"] = {name: cold_import_ms(name) for name in ("ingest", "api")}

    print(json.dumps(results, indent=2))
    args.output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
