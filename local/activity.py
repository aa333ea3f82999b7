"""What the local stack's terminal tells as it happens: one line per new alert group and per notification sent.

Concise and human, for someone watching ``make run``::

    11:32:05  new alert group "Disk full" on Prometheus (firing)  http://127.0.0.1:8080/ui/groups/IAB12...
    11:32:05  sent e-mail to alice@example.com: [Tocsin] Disk full
    11:32:07  sent webhook to http://127.0.0.1:9000/hook (HTTP 200)

It follows the stack's own records rather than hooking the handlers: new groups from the table's stream, as the
stream poller reads it for the escalation starter (:meth:`Activity.groups_changed`: no read of the table but the
integration's name, so a burst of new groups costs DynamoDB Local nothing more), and notifications from the outbox,
every channel's record of what it sent, which a thread in the stack's main process looks at twice a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from oncall.escalation_start import group_of
from oncall.ports import Store

from local.lifecycle import LoopThread
from local.outbox import Outbox

log = logging.getLogger(__name__)
INTERVAL: Final = 0.5
CHANNELS: Final = {"email": "e-mail", "sms": "SMS", "webhook": "webhook"}
NAME_SECONDS: Final = 10.0  # an integration's name is read again after this long (a rename shows then)


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
    """Tells of new alert groups from the stream's records (:meth:`groups_changed`, called by the stream poller) and
    of outbox records since the last look (its own thread); ``write`` gets each line."""

    thread_name = "activity"

    def __init__(self, store: Store, outbox: Outbox, base_url: str, write: Callable[[str], None], now: datetime):
        super().__init__()
        self.store, self.outbox, self.base_url, self.write = store, outbox, base_url, write
        self.since = now  # groups begun before the stack started are not news (the stream may hold them still)
        self.sent = len(outbox.records())  # nor is what an earlier run sent
        self._names: dict[str, tuple[str, float]] = {}  # integration id -> name, read at (monotonic)
        self._lock = threading.Lock()  # lines come from the poller's thread and from this one

    def _say(self, line: str) -> None:
        with self._lock:
            self.write(line)

    def _name(self, integration_id: str) -> str:
        cached = self._names.get(integration_id)
        if cached is None or time.monotonic() - cached[1] > NAME_SECONDS:
            config = self.store.integrations.config(integration_id)
            cached = (config.integration.name if config else integration_id, time.monotonic())
            self._names[integration_id] = cached
        return cached[0]

    def groups_changed(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Stream records of group items, in stream order: a line for each group they create. Never raises: the
        terminal's lines must not hold back the escalation starter."""
        try:
            for record in records:
                change = record.get("dynamodb", {})
                if change.get("OldImage") is not None or (group := group_of(change.get("NewImage"))) is None:
                    continue  # a change of a group, or its deletion
                if group.created_at < self.since:
                    continue
                on, state = self._name(group.integration_id), group.recorded_state.value
                self._say(
                    f'{_clock(group.created_at)}  new alert group "{group.title}" on {on} ({state})  '
                    f"{self.base_url}/ui/groups/{group.id}"
                )
        except Exception:  # a busy table now and then: a missed line, never a missed page
            log.debug("activity lines of new groups failed", exc_info=True)

    def look(self) -> None:
        """Lines for the outbox's records since the last look."""
        records = self.outbox.records(self.sent)
        self.sent += len(records)
        for record in records:
            line = notification_line(record)
            if line:
                self._say(line)

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL):
            try:
                self.look()
            except Exception:  # a file being written: the next look catches up
                log.debug("activity look failed", exc_info=True)
