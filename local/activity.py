"""What the local stack's terminal tells as it happens: one line per new alert group and per notification sent.

Concise and human, for someone watching ``make run``::

    11:32:05  new alert group "Disk full" on Prometheus (firing)  http://127.0.0.1:8080/ui/groups/IAB12...
    11:32:05  sent e-mail to alice@example.com: [Tocsin] Disk full
    11:32:07  sent webhook to http://127.0.0.1:9000/hook (HTTP 200)

It follows the stack's own records rather than hooking the handlers: new groups from the table's groups index
(newest first, only those begun since the last look) and notifications from the outbox, every channel's record
of what it sent. A thread in the stack's main process looks twice a second.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from oncall.ports import GroupFilter, Store

from local.lifecycle import LoopThread
from local.outbox import Outbox

log = logging.getLogger(__name__)
INTERVAL: Final = 0.5
CHANNELS: Final = {"email": "e-mail", "sms": "SMS", "webhook": "webhook"}


def _clock(moment: datetime | str) -> str:
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00")) if isinstance(moment, str) else moment
    return f"{parsed:%H:%M:%S}"


def notification_line(record: dict[str, Any]) -> str | None:
    """A sent notification in words (None for records that are not one)."""
    channel = CHANNELS.get(str(record.get("channel")))
    if channel is None:
        return None
    what = f"{_clock(record['at'])}  sent {channel} to {record.get('to')}"
    if record.get("channel") == "email":
        return f"{what}: {str(record.get('subject') or '').strip()}"
    if record.get("channel") == "sms":
        return f"{what}: {record.get('text')}"
    outcome = f"failed: {record['error']}" if record.get("error") else f"HTTP {record.get('status')}"
    return f"{what} ({outcome})"


class Activity(LoopThread):
    """Looks for new alert groups and outbox records since the last look; ``write`` gets each line."""

    thread_name = "activity"

    def __init__(self, store: Store, outbox: Outbox, base_url: str, write: Callable[[str], None], now: datetime):
        super().__init__()
        self.store, self.outbox, self.base_url, self.write = store, outbox, base_url, write
        self.since = now  # groups begun before the stack started are not news
        self.seen: set[str] = set()
        self.sent = len(outbox.records())  # nor is what an earlier run sent

    def look(self) -> None:
        groups = self.store.groups.list(GroupFilter(started_after=self.since), 100, None).items
        names: dict[str, str] = {}
        for group in reversed(groups):  # oldest first
            if group.id in self.seen:
                continue
            self.seen.add(group.id)
            if group.integration_id not in names:
                config = self.store.integrations.config(group.integration_id)
                names[group.integration_id] = config.integration.name if config else group.integration_id
            state = group.recorded_state.value
            self.write(
                f'{_clock(group.created_at)}  new alert group "{group.title}" on {names[group.integration_id]} '
                f"({state})  {self.base_url}/ui/groups/{group.id}"
            )
        if groups:
            self.since = max(self.since, groups[0].created_at)
            self.seen = {g.id for g in groups if g.created_at >= self.since}  # the next look starts at ``since``
        records = self.outbox.records(self.sent)
        self.sent += len(records)
        for record in records:
            line = notification_line(record)
            if line:
                self.write(line)

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL):
            try:
                self.look()
            except Exception:  # a busy table now and then: the next look catches up
                log.debug("activity look failed", exc_info=True)
