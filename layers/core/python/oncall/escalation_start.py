"""Escalations follow stored groups: every change of a group item on the table's stream starts or stops executions.

Whoever stores a group (ingest, the API's actions, heartbeats, maintenance, a RunStep that unacknowledges) stores
only the group; the escalation starter (``functions/escalation_start``, fed by the stream; locally by
``local/streams.py``) reads each change with the group's state before and after (``NEW_AND_OLD_IMAGES``) and calls
:func:`oncall.escalation.follow`. So a function that dies right after storing a group cannot lose its page: the
change stays on the stream (24 hours) until the starter has handled it. Execution names derive from the group id
and generation, so a change handled twice (a retried batch) starts nothing twice.

The same changes keep the insights aggregate (:mod:`oncall.store.insights`): once a batch is followed, the changes
followed before its first failure are counted together (:func:`count_insights`). Not those from the failure on: the
stream delivers the failed record and every record behind it again, and they are counted then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from oncall import escalation
from oncall.codec import from_json
from oncall.executor import Executor
from oncall.models import AlertGroup
from oncall.ports import Store

if TYPE_CHECKING:
    from oncall.directory import OutgoingWebhook
    from oncall.store.insights import GroupChange

logger = logging.getLogger(__name__)

# What a change must touch to matter: an append of an alert changes only counters, and is skipped unparsed, unless
# it took the mark of an escalation paused on its alert count (which it resumes).
_ESCALATION_FIELDS: Final = ("escalation_generation", "acknowledged", "resolved", "silenced", "escalation_paused")


def _plain(image: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if image is None:
        return None
    from boto3.dynamodb.types import TypeDeserializer

    deserialize = TypeDeserializer().deserialize
    # An empty map reaches some readers as no type at all ({}): it is the model's default either way.
    return {name: deserialize(value) for name, value in image.items() if value}


def matters(record: Mapping[str, Any]) -> bool:
    """Whether a stream record can start or stop anything: a new or deleted group, or a change of its generation,
    its state or its paused escalation (not the counters of an appended alert)."""
    change = record.get("dynamodb", {})
    old, new = change.get("OldImage"), change.get("NewImage")
    if old is None or new is None:
        return True
    return any(old.get(name) != new.get(name) for name in _ESCALATION_FIELDS)


def group_of(image: Mapping[str, Any] | None) -> AlertGroup | None:
    data = _plain(image)
    return from_json(AlertGroup, data) if data else None


def follow_record(
    record: Mapping[str, Any],
    store: Store,
    executor: Executor,
    now: datetime,
    webhooks: Callable[[], list[OutgoingWebhook]] | None = None,
) -> GroupChange | None:
    """Handle one stream record of a group item (the event filter delivers only those); returns the change it
    followed, for :func:`count_insights` (None: an appended alert, which changes nothing they count). ``webhooks``:
    the batch's :class:`~oncall.webhook_delivery.Listing`, so a batch lists the outgoing webhooks once."""
    if not matters(record):
        return None
    change = record.get("dynamodb", {})
    before, after = group_of(change.get("OldImage")), group_of(change.get("NewImage"))
    escalation.follow(store, executor, before, after, now, webhooks)
    return before, after


def count_insights(followed: Iterable[GroupChange | None], store: Store) -> None:
    """Count a batch's followed changes in the insights aggregate (best effort: it never raises)."""
    store.insights.count_group_changes([change for change in followed if change is not None])


def follow_records(records: Iterable[Mapping[str, Any]], store: Store, executor: Executor, now: datetime) -> None:
    """Follow a batch in stream order; a failure stops it there (the stream delivers that record again, with every
    record behind it), and what was followed before it is counted."""
    from oncall.webhook_delivery import Listing

    followed: list[GroupChange | None] = []
    webhooks = Listing(store)
    try:
        for record in records:
            followed.append(follow_record(record, store, executor, now, webhooks))
    finally:
        count_insights(followed, store)
