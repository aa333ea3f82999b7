"""The local stack's terminal (issue #18.8): one concise line per new alert group and per notification sent, from
the table's stream (DynamoDB Local's, as the stream poller reads it) and the outbox; and ``python -m local --help``
gives every setting its meaning."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from oncall.ingest import ingest
from oncall.models import Integration, Route
from oncall.store import schema
from oncall.store.dynamodb import DynamoStore

from local.activity import Activity
from local.outbox import Outbox
from local.streams import StreamReader, matches

START = datetime(2026, 12, 7, 11, 30, tzinfo=UTC)


def _integration(store: DynamoStore) -> Integration:
    integration = Integration(id="IPROM", name="Prometheus", type="webhook", token_hash="h", created_at=START)
    store.integrations.create(integration, Route(id="RDEF", integration_id="IPROM", is_default=True))
    return integration


def _alert(store: DynamoStore, uid: str, at: datetime) -> str:
    config = store.integrations.config("IPROM")
    assert config is not None
    [stored] = ingest(store, config, {"alert_uid": uid, "title": f"Disk {uid} full"}, now=at)
    return stored.group_id


def test_one_line_per_new_group_and_per_notification(store: DynamoStore, tmp_path: Path) -> None:
    _integration(store)
    outbox = Outbox(tmp_path / "outbox.jsonl")
    stream = StreamReader(store.table.client.meta.endpoint_url, store.table.name)
    _alert(store, "before", START - timedelta(minutes=1))  # an earlier run's: not news
    outbox.append({"channel": "email", "to": "old@example.com", "subject": "old"})
    lines: list[str] = []
    activity = Activity(store, outbox, "http://127.0.0.1:8080", lines.append, now=START)

    def look() -> None:
        """What the local stack does: the stream poller hands each read's group records over, the activity
        thread looks at the outbox."""
        activity.groups_changed([r.event for r in stream.read() if matches(schema.GROUP_CHANGES_FILTER, r.event)])
        activity.look()

    first = _alert(store, "a", START + timedelta(seconds=5))
    _alert(store, "a", START + timedelta(seconds=6))  # joins the same group: no new line
    outbox.append({"channel": "email", "to": "alice@example.com", "subject": "[Tocsin] Disk a full"})
    outbox.append({"channel": "webhook", "to": "http://127.0.0.1:9/hook", "status": 200})
    requests = store.requests
    look()
    assert store.requests - requests == 1  # the integration's name; the groups come from the stream
    second = _alert(store, "b", START + timedelta(seconds=7))
    outbox.append({"channel": "sms", "to": "+15550100", "text": "Disk b full"})
    look()
    look()  # nothing new: nothing said

    clock = r"\d\d:\d\d:\d\d"
    expected = [
        rf'{clock}  new alert group "Disk a full" on Prometheus \(firing\)  http://127.0.0.1:8080/ui/groups/{first}',
        rf"{clock}  sent e-mail to alice@example.com: \[Tocsin\] Disk a full",
        rf"{clock}  sent webhook to http://127.0.0.1:9/hook \(HTTP 200\)",
        rf'{clock}  new alert group "Disk b full" on Prometheus \(firing\)  http://127.0.0.1:8080/ui/groups/{second}',
        rf"{clock}  sent SMS to \+15550100: Disk b full",
    ]
    assert len(lines) == len(expected), lines
    for line, pattern in zip(lines, expected, strict=True):
        assert re.fullmatch(pattern, line), line


def test_help_lists_every_setting_with_its_meaning() -> None:
    done = subprocess.run([sys.executable, "-m", "local", "--help"], capture_output=True, text=True, timeout=60,
                          check=True)  # fmt: skip
    text = " ".join(done.stdout.split("options:", 1)[1].split())
    for option, variable in [
        ("--port", "PORT"),
        ("--dynamodb-port", "DYNAMODB_PORT"),
        ("--sfn-port", "TOCSIN_SFN_PORT"),
        ("--time-scale", "TOCSIN_TIME_SCALE"),
        ("--smtp-port", "TOCSIN_SMTP_PORT"),
        ("--inbound-domain", "TOCSIN_INBOUND_EMAIL_DOMAIN"),
        ("--scheduler-port", "TOCSIN_SCHEDULER_PORT"),
        ("--heartbeat-sweep-seconds", "TOCSIN_HEARTBEAT_SWEEP_SECONDS"),
        ("--local-dir", "TOCSIN_LOCAL_DIR"),
        ("--workers", "TOCSIN_WORKERS"),
        ("--access-log", "TOCSIN_ACCESS_LOG"),
        ("--throttle", "TOCSIN_INGEST_THROTTLE"),
    ]:
        # the option, then (after its metavar) its variable and a meaning of some words
        assert re.search(rf"{option}\b[^:]*? {variable}\S* \S+ \S+ \S+", text), option
    for variable in ("TOCSIN_API_KEY", "TOCSIN_TABLE", "TOCSIN_DYNAMODB_JAVA_OPTS", "TOCSIN_DEADMAN_URL"):
        assert re.search(rf"{variable} \w+ \w+", text), variable
