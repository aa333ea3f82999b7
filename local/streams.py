"""The table's stream, read from DynamoDB Local (it serves the DynamoDB Streams API) into the escalation starter.

AWS delivers the stream of the table to ``functions/escalation_start`` through an event source mapping: records of
group items only (``schema.GROUP_CHANGES_FILTER``), up to ``schema.STREAM_BATCH_SIZE`` per invocation, the records a
batch reports as failed (``batchItemFailures``) delivered again from the first of them, a batch whose invocation
fails split in two, and after ``schema.STREAM_RETRY_ATTEMPTS`` retries the record given up (on AWS its place in the
stream goes to the failure queue; here it is logged and appended to ``stream-failures.jsonl``).

:class:`StreamPoller` does the same in the local stack's main process (beside the Step Functions emulation the
starter calls): it polls every shard of the stream, invokes the same handler in-process, and keeps how far it got
in each shard in ``streams.json``, so a restarted stack continues where it stopped (records not yet handled, e.g.
of an ingest that died after storing, are handled then). :class:`StreamReader` alone reads the new records, for
tests that drive the starter's use case themselves.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from oncall.store import schema

from local import FUNCTIONS_DIR
from local.awsapi import load_records, save_records
from local.dynamodb import DUMMY_CREDENTIAL, REGION, client
from local.functions import Handler, HandlerRegistry, LambdaContext
from local.lifecycle import LoopThread

log = logging.getLogger(__name__)

FUNCTION_NAME: Final = "escalation_start"
FUNCTION_TIMEOUT_SECONDS: Final = 60.0  # as deployed (infra/escalation_start.py)
POLL_SECONDS_ENV: Final = "TOCSIN_STREAM_POLL_SECONDS"
DEFAULT_POLL_SECONDS: Final = 0.2  # idle: AWS polls each shard 4 times a second
SHARDS_REFRESH_SECONDS: Final = 5.0


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """Whether ``event`` matches a Lambda event filter pattern (the subset Tocsin uses: nested objects, lists of
    exact values and ``{"prefix": ...}``)."""
    if not isinstance(event, Mapping):
        return False
    for name, wanted in pattern.items():
        if name not in event:
            return False
        value = event[name]
        if isinstance(wanted, Mapping):
            if not matches(wanted, value):
                return False
        elif not any(
            (isinstance(option, Mapping) and isinstance(value, str) and value.startswith(option["prefix"]))
            or option == value
            for option in wanted
        ):
            return False
    return True


@dataclass(frozen=True)
class Record:
    shard: str
    event: dict[str, Any]  # as Lambda delivers it

    @property
    def sequence(self) -> str:
        return str(self.event["dynamodb"]["SequenceNumber"])


class StreamReader:
    """New records of a table's stream, shard by shard (a child shard after its parent), from given checkpoints."""

    def __init__(self, endpoint: str, table_name: str, checkpoints: Mapping[str, str] | None = None) -> None:
        import boto3

        self.table_name = table_name
        self._dynamodb = client(endpoint)
        self._streams = boto3.client(
            "dynamodbstreams",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=DUMMY_CREDENTIAL,
            aws_secret_access_key=DUMMY_CREDENTIAL,
        )
        self.checkpoints: dict[str, str] = dict(checkpoints or {})  # shard -> last sequence number handled
        self._stream_arn: str | None = None
        self._iterators: dict[str, str | None] = {}  # shard -> iterator (None: the shard is closed and read)
        self._parents: dict[str, str | None] = {}
        self._refreshed = -float("inf")

    @property
    def stream_arn(self) -> str:
        if self._stream_arn is None:
            table = self._dynamodb.describe_table(TableName=self.table_name)["Table"]
            if "LatestStreamArn" not in table:
                raise RuntimeError(f"table {self.table_name} has no stream (local.dynamodb.ensure_table enables it)")
            self._stream_arn = str(table["LatestStreamArn"])
        return self._stream_arn

    def _refresh_shards(self) -> None:
        start: dict[str, str] = {}
        while True:
            described = self._streams.describe_stream(StreamArn=self.stream_arn, **start)["StreamDescription"]
            for shard in described.get("Shards", []):
                self._parents.setdefault(shard["ShardId"], shard.get("ParentShardId"))
            if not described.get("LastEvaluatedShardId"):
                break
            start = {"ExclusiveStartShardId": described["LastEvaluatedShardId"]}
        self._refreshed = time.monotonic()

    def _iterator(self, shard: str) -> str:
        if shard in self.checkpoints:
            position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self.checkpoints[shard]}
        else:
            position = {"ShardIteratorType": "TRIM_HORIZON"}
        response = self._streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard, **position)
        return str(response["ShardIterator"])

    def read(self, limit: int = 1000) -> list[Record]:
        """The records written since the last read (at most ``limit`` per shard), in stream order per shard."""
        if time.monotonic() - self._refreshed > SHARDS_REFRESH_SECONDS or not self._parents:
            self._refresh_shards()
        found: list[Record] = []
        for shard, parent in self._parents.items():
            if self._iterators.get(shard, "") is None:
                continue  # closed, and read to its end
            if parent in self._parents and self._iterators.get(parent, "") is not None:
                continue  # its parent first
            iterator = self._iterators.get(shard) or self._iterator(shard)
            try:
                response = self._streams.get_records(ShardIterator=iterator, Limit=limit)
            except self._streams.exceptions.ExpiredIteratorException:
                self._iterators.pop(shard, None)
                continue
            self._iterators[shard] = response.get("NextShardIterator")
            found += [Record(shard, self._as_lambda_delivers(r)) for r in response.get("Records", [])]
        return found

    def _as_lambda_delivers(self, record: dict[str, Any]) -> dict[str, Any]:
        change = dict(record["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        if hasattr(created, "timestamp"):
            change["ApproximateCreationDateTime"] = created.timestamp()
        return {**record, "dynamodb": change, "eventSourceARN": self.stream_arn}

    def commit(self, record: Record) -> None:
        self.checkpoints[record.shard] = record.sequence


def poll_seconds_from_env(default: float = DEFAULT_POLL_SECONDS) -> float:
    import os

    raw = os.environ.get(POLL_SECONDS_ENV, "")
    return float(raw) if raw.strip() else default


class StreamPoller(LoopThread):
    """Feeds the table's stream to the escalation starter in a thread of the local stack's main process."""

    thread_name = "stream-poller"

    def __init__(
        self,
        endpoint: str,
        table_name: str,
        *,
        handler: Handler | None = None,
        state_file: Path | None = None,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        retry_delay: float = 0.2,
        functions_dir: Path = FUNCTIONS_DIR,
        observe: Callable[[Sequence[Mapping[str, Any]]], None] | None = None,
    ) -> None:
        """``observe`` gets the group records of each read, in stream order, before they are handled (the
        terminal's activity lines); it must not raise."""
        super().__init__()
        self.endpoint = endpoint
        self.table_name = table_name
        self.state_file = state_file
        self.poll_seconds = poll_seconds
        self.retry_delay = retry_delay
        self.handled = 0  # records delivered to the handler and done with
        self.given_up = 0
        self._handlers = HandlerRegistry({FUNCTION_NAME: handler} if handler is not None else None, functions_dir)
        self._reader: StreamReader | None = None
        self._pending: list[Record] = []
        self._observe = observe

    # --- lifecycle ----------------------------------------------------------------------------------------------
    def _prepare(self) -> None:
        saved = load_records(self.state_file, "checkpoints", lambda c: (c["shard"], c["sequence"]), "stream state")
        self._reader = StreamReader(self.endpoint, self.table_name, dict(saved or []))
        log.info("stream poller: %s, every %g s when idle", FUNCTION_NAME, self.poll_seconds)

    # --- the event source mapping -------------------------------------------------------------------------------
    def _loop(self) -> None:
        size, attempts = schema.STREAM_BATCH_SIZE, 0
        while not self._stop.is_set():
            try:
                if not self._pending:
                    assert self._reader is not None
                    self._pending = self._reader.read()
                    if not self._pending:
                        self._stop.wait(self.poll_seconds)
                        continue
                    if self._observe is not None:
                        self._observe([r.event for r in self._pending if matches(schema.GROUP_CHANGES_FILTER, r.event)])
                # The records the filter passes go to the handler; the others are done as soon as those before are.
                wanted = [i for i, r in enumerate(self._pending) if matches(schema.GROUP_CHANGES_FILTER, r.event)]
                if not wanted:
                    self._handled(len(self._pending))
                    continue
                size, attempts = self._deliver(wanted[:size], size, attempts)
            except Exception:
                log.exception("stream poller: reading the stream failed; trying again")
                self._stop.wait(1.0)

    def _deliver(self, positions: list[int], size: int, attempts: int) -> tuple[int, int]:
        """One invocation with the pending records at ``positions``; returns the next batch size and the retries
        spent on the first record not yet handled."""
        batch = [self._pending[i] for i in positions]
        context = LambdaContext(FUNCTION_NAME, timeout_seconds=FUNCTION_TIMEOUT_SECONDS)
        try:
            response = self._handlers.invoke(FUNCTION_NAME, {"Records": [r.event for r in batch]}, context)
            failed = {f.get("itemIdentifier") for f in (response or {}).get("batchItemFailures", [])}
            first = next((k for k, r in enumerate(batch) if r.sequence in failed), None)
        except Exception:
            log.exception("stream poller: %s failed on a batch of %d", FUNCTION_NAME, len(batch))
            first, size = 0, max(1, len(batch) // 2)  # bisect
        if first is None:
            self._handled(positions[-1] + 1, delivered=len(batch))
            return schema.STREAM_BATCH_SIZE, 0
        self._handled(positions[first], delivered=first)
        attempts += 1
        if attempts > schema.STREAM_RETRY_ATTEMPTS:
            record = batch[first]
            log.error("stream poller: gave up on record %s after %d retries", record.sequence, attempts - 1)
            self._give_up(record)
            self._handled(1, delivered=1)
            return schema.STREAM_BATCH_SIZE, 0
        self._stop.wait(self.retry_delay * min(2 ** (attempts - 1), 25))
        return size, attempts

    def _handled(self, count: int, delivered: int = 0) -> None:
        """The first ``count`` pending records are done with (``delivered`` of them went to the handler)."""
        if not count:
            return
        assert self._reader is not None
        for record in self._pending[:count]:
            self._reader.commit(record)
        self._pending = self._pending[count:]
        self.handled += delivered
        self._save()

    def _give_up(self, record: Record) -> None:
        self.given_up += 1
        if self.state_file is not None:
            with (self.state_file.parent / "stream-failures.jsonl").open("a") as out:
                out.write(json.dumps({"shard": record.shard, "record": record.event}, default=str) + "\n")

    def _save(self) -> None:
        if self.state_file is None or self._reader is None or self._stop.is_set():
            return
        checkpoints = self._reader.checkpoints.items()
        save_records(self.state_file, "checkpoints", ({"shard": s, "sequence": q} for s, q in checkpoints))
