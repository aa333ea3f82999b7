"""The account's auth epoch: one counter that every revoking write bumps (item ``AUTH`` / ``EPOCH``).

Containers cache credentials (API key -> user -> role and teams, ingest token -> integration) to keep a
DynamoDB read off every request. Each cached entry remembers the epoch it was loaded under and is dropped once
the epoch has moved on (:mod:`oncall.revocable`), so a revocation (a key deleted, a user deleted or demoted, a
team membership changed, an ingest token regenerated, an integration deleted) reaches every container as soon as
it reads the epoch again: at most once per :data:`INTERVAL` (a consistent GetItem), at once in the container
that made the change.

A bump follows its write (or is part of its transaction), never precedes it: a container that reads the new
epoch can only load the changed data.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Final

from oncall.store import keys
from oncall.store.table import Table

INTERVAL: Final = 1.0  # seconds a container trusts the epoch it read: the longest a revocation takes
_ADD: Final = "ADD epoch :one"
_ONE: Final = {":one": {"N": "1"}}


class DynamoAuthEpoch:
    def __init__(self, table: Table, timer: Callable[[], float] = time.monotonic) -> None:
        self.table = table
        self.timer = timer  # monotonic seconds (tests turn it by hand)
        self._value = 0
        self._read_at = -math.inf

    def current(self) -> int:
        """The epoch, read from the table when the last read is :data:`INTERVAL` old."""
        now = self.timer()
        if now - self._read_at >= INTERVAL:
            data = self.table.get(keys.auth_epoch(), consistent=True)
            self._value, self._read_at = int(data["epoch"]) if data else 0, now
        return self._value

    def bump(self) -> None:
        """After a revoking write: every container's cached credentials are stale."""
        self.table.call(
            "update_item", Key=self.table.item(keys.auth_epoch()), UpdateExpression=_ADD, ExpressionAttributeValues=_ONE
        )
        self.bumped()

    def bump_in_transaction(self) -> dict[str, Any]:
        """The bump as an item of the revoking write's transaction (call :meth:`bumped` once it succeeded)."""
        return self.table.update(keys.auth_epoch(), _ADD, ExpressionAttributeValues=_ONE)

    def bumped(self) -> None:
        """This container made a bump: read the epoch again at the next look."""
        self._read_at = -math.inf
