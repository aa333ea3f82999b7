"""The local stack's event source mapping (``local.streams.StreamPoller``) on DynamoDB Local's real stream: group
changes only reach the starter, a record reported as failed is delivered again (with those behind it), a batch whose
invocation fails is split in two until the failing record is alone, and a record that keeps failing is given up
after ``STREAM_RETRY_ATTEMPTS`` retries and kept in ``stream-failures.jsonl`` while the records behind it go on."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from oncall.store import schema
from oncall.store.dynamodb import DynamoStore

from local.streams import StreamPoller
from tests.integration.conftest import Invoke, post_alert
from tests.support.processes import wait_for


def groups_of_alerts(api: Invoke, ingest_handler: ModuleType, count: int) -> list[str]:
    status, integration = api("POST", "/api/v1/integrations/", {"name": "streamed", "type": "formatted_webhook"})
    assert status == 201, integration
    return [
        post_alert(ingest_handler, integration["link"], {"alert_uid": str(n)})[1]["alert_group_ids"][0]
        for n in range(count)
    ]


class Starter:
    """A stand-in for escalation_start that records what it is given and fails on one group."""

    def __init__(self, bad: str, *, raises: bool) -> None:
        self.bad, self.raises = bad, raises
        self.batches: list[list[str]] = []
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        groups = [r["dynamodb"]["Keys"]["PK"]["S"].removeprefix("GROUP#") for r in event["Records"]]
        with self.lock:
            self.batches.append(groups)
        if self.bad in groups and self.raises:
            raise RuntimeError("the starter crashed")
        records = zip(event["Records"], groups, strict=True)
        failed = [r["dynamodb"]["SequenceNumber"] for r, group in records if group == self.bad]
        return {"batchItemFailures": [{"itemIdentifier": s} for s in failed]}

    def seen(self) -> list[str]:
        with self.lock:
            return [g for batch in self.batches for g in batch]


def run(store: DynamoStore, starter: Starter, state: Path) -> StreamPoller:
    return StreamPoller(
        store.table.client.meta.endpoint_url,
        store.table.name,
        handler=starter,
        state_file=state / "streams.json",
        poll_seconds=0.05,
        retry_delay=0.001,
    )


def test_a_failing_record_is_retried_then_kept_and_the_others_go_on(
    api: Invoke, store: DynamoStore, ingest_handler: ModuleType, tmp_path: Path
) -> None:
    first, bad, last = groups_of_alerts(api, ingest_handler, 3)
    starter = Starter(bad, raises=False)
    with run(store, starter, tmp_path) as poller:
        wait_for(lambda: poller.given_up == 1 and last in starter.seen(), 30, "the failing record given up")
    seen = starter.seen()
    assert seen.count(first) == 1  # handled once, before the failure
    assert seen.count(bad) == 1 + schema.STREAM_RETRY_ATTEMPTS
    assert set(seen) == {first, bad, last}  # the group items only: no alert, timeline or claim reached it
    [kept] = [json.loads(line) for line in (tmp_path / "stream-failures.jsonl").read_text().splitlines()]
    assert kept["record"]["dynamodb"]["Keys"]["PK"]["S"] == f"GROUP#{bad}"


def test_a_crashing_batch_is_split_until_the_bad_record_is_alone(
    api: Invoke, store: DynamoStore, ingest_handler: ModuleType, tmp_path: Path
) -> None:
    groups = groups_of_alerts(api, ingest_handler, 4)
    bad = groups[2]
    starter = Starter(bad, raises=True)
    with run(store, starter, tmp_path) as poller:
        wait_for(lambda: poller.given_up == 1 and groups[3] in starter.seen(), 30, "the crashing record given up")
    assert starter.batches[0] == groups  # one batch first
    assert [bad] in starter.batches  # bisected down to the record that crashes
    assert all(starter.seen().count(g) >= 1 for g in groups)
    assert poller.handled >= 3  # the good ones were handled
