"""The local stack's outbox: everything it "sent", one JSON object per line, oldest first.

Records (each with ``at``, an ISO 8601 UTC time, and ``channel``):
    email    ``to`` (one envelope recipient), ``from``, ``subject``, ``text``, ``size`` (bytes of the raw mail)
    sms      ``to``, ``text``
    webhook  ``to`` (the URL), ``body`` (the JSON sent), ``status`` or ``error``

Gateway workers, the escalation runner and the mail server append to the same file: each record is one
``write`` under an exclusive ``flock``, so lines never interleave. A record's index (its line number from 0)
never changes, which is what ``records(since=...)`` and ``GET /local/outbox?since=N`` page by.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

OUTBOX_ENV: Final = "TOCSIN_OUTBOX"
DEFAULT_PATH: Final = Path(".local/outbox.jsonl")


class Outbox:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def from_env(cls) -> Outbox:
        return cls(Path(os.environ.get(OUTBOX_ENV) or DEFAULT_PATH))

    def append(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Store ``record`` with the current time as ``at``; returns what was stored."""
        stored = {"at": datetime.now(UTC).isoformat(timespec="milliseconds"), **record}
        line = (json.dumps(stored, ensure_ascii=False, default=str) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as file:
            fcntl.flock(file, fcntl.LOCK_EX)  # released when the file closes, after the flush
            file.write(line)
            file.flush()
        return stored

    def records(self, since: int = 0) -> list[dict[str, Any]]:
        """Records from index ``since`` on."""
        if since < 0:
            raise ValueError("since must be 0 or more")
        try:
            with self.path.open("rb") as file:
                fcntl.flock(file, fcntl.LOCK_SH)
                lines = file.read().split(b"\n")[:-1]  # the last piece is empty (or a write in progress)
        except FileNotFoundError:
            return []
        return [_parse(line) for line in lines[since:]]


def _parse(line: bytes) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    # An unreadable line (someone edited the file) keeps its place, so indexes stay stable.
    return record if isinstance(record, dict) else {"channel": "unreadable", "line": line.decode(errors="replace")}
