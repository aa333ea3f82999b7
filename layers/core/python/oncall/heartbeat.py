"""Heartbeats: a monitor that goes silent raises an alert; its next beat resolves that alert.

A heartbeat is inactive until its first beat. The sweep (EventBridge rate(1 minute) -> heartbeat_check) reads
only the heartbeats that are due (a sparse index) and turns each expiry into exactly one "<name> heartbeat is
missing" alert; the next beat sends the restoring alert of the same grouping id, which resolves that group.
Both alerts go through the normal ingest path, so routes, templates and escalation apply to them.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from oncall import integration_types, telemetry
from oncall.ingest import ingest
from oncall.models import Integration, IntegrationConfig
from oncall.ports import Store

logger = logging.getLogger(__name__)

MIN_TIMEOUT = 60
MAX_TIMEOUT = 86_400
ALERTNAME = "OnCallHeartBeatMissing"
# One fixed alert_uid per webhook-style type, as Grafana OnCall sends: existing custom templates keep grouping.
WEBHOOK_UIDS = {
    "webhook": "7973c835-ff3f-46e4-9444-06df127b6f8e",
    "formatted_webhook": "fbdad422-b27d-454a-8553-84d1517e0005",
    "elastalert": "0eaf37c8-e1eb-4714-b79e-7c648b6a96fa",
    "zabbix": "191eac7a-d7c1-43a0-8821-eef5afe41367",
}


def has_heartbeat(integration_type: str) -> bool:
    kind = integration_types.get(integration_type)
    return kind is not None and kind.has_heartbeat


def texts(name: str, expired: bool) -> tuple[str, str]:
    if expired:
        return (
            f"{name} heartbeat is missing",
            f"Tocsin expected a heartbeat from {name} and none arrived in time. {name} may have stopped, or it "
            "cannot reach Tocsin.",
        )
    return f"{name} heartbeat restored", f"Tocsin received a heartbeat from {name} again."


def payload(integration: Integration, expired: bool) -> dict[str, Any]:
    """The alert payload a heartbeat change sends, shaped like what the integration's senders send."""
    title, message = texts(integration.name, expired)
    if integration.type in WEBHOOK_UIDS:
        return {
            "alert_uid": WEBHOOK_UIDS[integration.type],
            "title": title,
            "message": message,
            "state": "alerting" if expired else "ok",
            "is_oncall_heartbeat": True,
            "is_oncall_heartbeat_restored": not expired,
            "image_url": None,
            "link_to_upstream_details": None,
        }
    status = "firing" if expired else "resolved"
    # Per-alert integrations group by alertname: both alerts carry the "missing" title so they share a group.
    labels = {"alertname": texts(integration.name, True)[0], "oncall_heartbeat": ALERTNAME}
    annotations = {"title": title, "description": message, "summary": title}
    return {
        "status": status,
        "groupKey": f'{{}}:{{alertname="{ALERTNAME}"}}',
        "receiver": "tocsin",
        "version": "4",
        "groupLabels": {"alertname": labels["alertname"]},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "alerts": [{"status": status, "labels": labels, "annotations": annotations, "generatorURL": ""}],
    }


def send(store: Store, config: IntegrationConfig, expired: bool, now: datetime) -> None:
    ingest(store, config, payload(config.integration, expired), now=now)


def check(store: Store, now: datetime) -> str:
    """One sweep: every due heartbeat alerts once, however many sweeps see it."""
    expired = 0
    for integration_id, due_key in store.heartbeats.due(now):
        if not store.heartbeats.mark_expired(integration_id, due_key):
            continue  # a beat arrived, or another sweep took it
        config = store.integrations.config(integration_id)
        if config is None:
            continue  # deleted integration
        try:
            send(store, config, expired=True, now=now)
        except Exception:
            # Re-arm so the next sweep tries again: an expiry must not be lost.
            store.heartbeats.set(integration_id, replace(config.heartbeat, alerted=False))
            raise
        expired += 1
    telemetry.count(telemetry.HEARTBEATS_EXPIRED, expired)
    summary = f"Found {expired} expired heartbeats"
    logger.info(summary)
    return summary
