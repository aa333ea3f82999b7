"""The escalation starter over a test table's real stream (DynamoDB Local), with the executor a test records.

Escalations start and stop from stored changes of groups (``oncall.escalation_start``), read from the table's
stream: in the local stack by ``local.streams.StreamPoller``, here on demand (:meth:`StreamFollower.settle`), with
the same reader, the same event filter and the same use case the starter's handler calls.
"""

from __future__ import annotations

from typing import Any

from oncall import escalation_start
from oncall.clock import SYSTEM_CLOCK, Clock
from oncall.store import schema
from oncall.store.dynamodb import DynamoStore

from local.streams import StreamReader, matches


class StreamFollower:
    def __init__(self, store: DynamoStore, executor: Any, clock: Clock = SYSTEM_CLOCK) -> None:
        self.store = store
        self.executor = executor
        self.clock = clock
        self.reader = StreamReader(store.table.client.meta.endpoint_url, store.table.name)

    def settle(self) -> int:
        """Hand every change stored since the last call to the starter; returns how many group changes there were."""
        handled = 0
        while records := self.reader.read():
            changes = [r.event for r in records if matches(schema.GROUP_CHANGES_FILTER, r.event)]
            escalation_start.follow_records(changes, self.store, self.executor, self.clock.now())
            handled += len(changes)
        return handled
