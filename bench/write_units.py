"""Write units per alert, as DynamoDB bills them: prints what ``ReturnConsumedCapacity=INDEXES`` reports for a
2 KB Alertmanager notification stored into a new group and into an existing one (table and index writes).

Goal (issue #20): at most 3 write units into a new group, at most 2 into an existing one. DynamoDB Local reports
consumed capacity as DynamoDB does (1 unit per started KB of item written, twice for a transaction, plus each
index entry written), so the figures hold for AWS. The rate limit's count is one UpdateItem per container per
second (``TOCSIN_INGEST_SYNC_SECONDS``), not per alert; it is counted apart. The insights counters are not on the
alert's path: the escalation starter keeps them from the table's stream; ``stream_counting`` is what it writes for
the groups created here, in batches as the stream delivers them.

    .venv/bin/python bench/write_units.py [--alerts 50]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "layers/core/python"), str(REPO)]

from oncall import escalation_start, integration_types, schemas  # noqa: E402
from oncall.container import Container  # noqa: E402
from oncall.ingest import IngestService  # noqa: E402
from oncall.services import integrations  # noqa: E402
from oncall.services.policy import Principal  # noqa: E402
from oncall.settings import RateLimit, Settings  # noqa: E402
from oncall.store import schema  # noqa: E402
from oncall.store.dynamodb import DynamoStore  # noqa: E402
from oncall.store.table import WriteUnits  # noqa: E402

from local import dynamodb as local_dynamodb  # noqa: E402
from local.streams import StreamReader, matches  # noqa: E402

TARGET_BYTES = 2048
ADMIN = Principal("UADMIN", "admin", "admin")


def notification(n: int, same_group: bool) -> bytes:
    """An Alertmanager notification of ~2 KB (one firing alert); ``same_group``: the same groupKey every time."""
    body: dict[str, Any] = copy.deepcopy(integration_types.example_payload("alertmanager") or {})
    body["alerts"] = body["alerts"][:1]
    key = "bench" if same_group else f"bench-{n}"
    body["groupKey"] = f'{{}}:{{alertname="{key}"}}'
    body["alerts"][0]["annotations"]["notification"] = str(n)  # each is a new notification, not a retry
    padding = TARGET_BYTES - len(json.dumps(body).encode())
    body["alerts"][0]["annotations"]["runbook"] = "x" * max(0, padding - 14)
    return json.dumps(body).encode()


def measure(store: DynamoStore, service: IngestService, token: str, bodies: list[bytes]) -> dict[str, float]:
    per_alert: list[WriteUnits] = []
    for body in bodies:
        store.table.capacity = WriteUnits()
        outcome = service.receive("alertmanager", token, body, "application/json")
        assert len(outcome.stored) == 1 and not outcome.stored[0].duplicate
        per_alert.append(store.table.capacity)
    store.table.capacity = None
    totals = [units.total for units in per_alert]
    return {
        "body_bytes": round(statistics.mean(len(b) for b in bodies)),
        "write_units_mean": round(statistics.mean(totals), 2),
        "write_units_max": max(totals),
        "table_units_mean": round(statistics.mean(u.table for u in per_alert), 2),
        "index_units_mean": round(statistics.mean(u.indexes for u in per_alert), 2),
    }


def stream_counting(store: DynamoStore, endpoint: str) -> dict[str, float]:
    """The insights counting of every group change on the stream so far, in batches of ``STREAM_BATCH_SIZE`` (what
    the escalation starter does after following them)."""
    reader = StreamReader(endpoint, store.table.name)
    records = [r.event for r in reader.read() if matches(schema.GROUP_CHANGES_FILTER, r.event)]
    changes = [
        (escalation_start.group_of(r["dynamodb"].get("OldImage")), escalation_start.group_of(r["dynamodb"]["NewImage"]))
        for r in records
        if escalation_start.matters(r)
    ]
    store.table.capacity = WriteUnits()
    size = schema.STREAM_BATCH_SIZE
    for start in range(0, len(changes), size):
        escalation_start.count_insights(changes[start : start + size], store)
    units, store.table.capacity = store.table.capacity, None
    return {"group_changes": len(changes), "batches": -(-len(changes) // size), "write_units": units.total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=50, help="alerts per case (default 50)")
    args = parser.parse_args()
    with local_dynamodb.DynamoDBLocal(None, port=0) as engine:
        local_dynamodb.ensure_table(engine.endpoint, "bench-write-units")
        store = DynamoStore("bench-write-units", client=local_dynamodb.client(engine.endpoint))
        ports = Container(Settings())
        ports.store = store  # type: ignore[misc]
        body = schemas.IntegrationIn(name="bench", type="alertmanager")
        token = integrations.create_integration(ports, ADMIN, body).token
        assert token is not None
        # No rate limit in the way, and its count synced once an hour: what is left is the alerts' own writes.
        service = IngestService(store, RateLimit(10**9, 300), sync_seconds=3600)
        service.receive("alertmanager", token, notification(-2, same_group=False), "application/json")  # rate sync
        new = measure(store, service, token, [notification(n, same_group=False) for n in range(args.alerts)])
        service.receive("alertmanager", token, notification(-1, same_group=True), "application/json")  # the group
        existing = measure(store, service, token, [notification(n, same_group=True) for n in range(args.alerts)])
        counting = stream_counting(store, engine.endpoint)
    figures = {
        "new_group": new,
        "existing_group": existing,
        "goal": {"new_group": 3, "existing_group": 2},
        "stream_counting": counting,
    }
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
