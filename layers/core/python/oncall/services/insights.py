"""Insights: how the on-call went over the last 24 hours, 7 days or 30 days.

Mean time to acknowledge (MTTA) and to resolve (MTTR), alert groups per integration and per day (per hour over
24 hours), the noisiest alert groups and the notifications each person received. Read from the insights aggregate
(:mod:`oncall.store.insights`: counters per hour kept as groups change state) and a range of the groups index for
the noisiest groups: never a scan of the table. Everyone who reads alert groups reads insights
(:mod:`oncall.services.policy`).

An acknowledgement or resolution counts in the hour it happened, with how long it took since its group began.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Final, Literal

from oncall.errors import InvalidInput
from oncall.lazy_model import LazyModel
from oncall.services import Ports
from oncall.services.policy import Action, Principal, Resource, authorize

Period = Literal["24h", "7d", "30d"]
PERIODS: Final[dict[str, timedelta]] = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
NOISIEST: Final = 10


class Named(LazyModel):
    """A count for someone or something, by name (the id too, for links)."""

    id: str
    name: str
    count: int


class Slot(LazyModel):
    """A count in one slot of time: a day (``2026-12-07``), or an hour (``2026-12-07T11``) over 24 hours."""

    start: datetime
    label: str
    count: int


class NoisyGroup(LazyModel):
    id: str
    title: str | None
    integration_id: str
    integration_name: str
    alerts_count: int
    created_at: datetime


class Insights(LazyModel):
    period: Period
    since: datetime
    until: datetime
    alert_groups: int
    acknowledged: int
    resolved: int
    mtta_seconds: float | None  # None: nothing was acknowledged in the period
    mttr_seconds: float | None
    per_integration: list[Named]
    per_slot: list[Slot]
    slot: Literal["hour", "day"]
    noisiest: list[NoisyGroup]
    notifications: list[Named]


def _period(raw: str | None) -> Period:
    value = raw or "7d"
    if value not in PERIODS:
        raise InvalidInput.field("period", f"Choose one of {', '.join(PERIODS)}.")
    return value  # type: ignore[return-value]


def _slots(since: datetime, until: datetime, hourly: bool) -> list[datetime]:
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    start = since.replace(minute=0, second=0, microsecond=0)
    if not hourly:
        start = start.replace(hour=0)
    slots = []
    while start <= until:
        slots.append(start)
        start += step
    return slots


def insights(ports: Ports, caller: Principal, period: str | None = None) -> Insights:
    """The period's figures, ``period`` one of ``24h``, ``7d`` (default), ``30d``."""
    authorize(caller, Resource.INSIGHTS, Action.READ)
    chosen = _period(period)
    until = ports.clock.now()
    since = until - PERIODS[chosen]
    # Hour buckets: the first hour is read whole (the period's start falls inside it).
    buckets = ports.store.insights.buckets(since, until)
    totals: Counter[str] = Counter()
    per_integration: Counter[str] = Counter()
    per_person: Counter[str] = Counter()
    hourly = chosen == "24h"
    per_slot: Counter[datetime] = Counter()
    for bucket in buckets:
        totals.update(bucket.counts)
        if bucket.kind == "INT":
            per_integration[bucket.subject_id] += bucket.counts["groups"]
            slot = bucket.hour if hourly else bucket.hour.replace(hour=0)
            per_slot[slot] += bucket.counts["groups"]
        elif bucket.kind == "USER":
            per_person[bucket.subject_id] += bucket.counts["notifications"]
    integrations = {i.id: i.name for i in ports.store.integrations.list()}
    people = {u.id: u.username for u in ports.store.users.list()}
    sizes = sorted(ports.store.insights.recent_groups(since, until), key=lambda g: (-g.alerts_count, g.created_at))
    return Insights(
        period=chosen,
        since=since,
        until=until,
        alert_groups=totals["groups"],
        acknowledged=totals["acknowledged"],
        resolved=totals["resolved"],
        mtta_seconds=totals["ack_seconds"] / totals["acknowledged"] if totals["acknowledged"] else None,
        mttr_seconds=totals["resolve_seconds"] / totals["resolved"] if totals["resolved"] else None,
        per_integration=[
            Named(id=i, name=integrations.get(i, f"deleted integration {i}"), count=n)
            for i, n in per_integration.most_common()
            if n
        ],
        per_slot=[
            Slot(start=s, label=f"{s:%Y-%m-%dT%H}" if hourly else f"{s:%Y-%m-%d}", count=per_slot[s])
            for s in _slots(since, until, hourly)
        ],
        slot="hour" if hourly else "day",
        noisiest=[
            NoisyGroup(
                id=g.id,
                title=g.title,
                integration_id=g.integration_id,
                integration_name=integrations.get(g.integration_id, g.integration_id),
                alerts_count=g.alerts_count,
                created_at=g.created_at,
            )
            for g in sizes[:NOISIEST]
        ],
        notifications=[
            Named(id=u, name=people.get(u, f"deleted user {u}"), count=n) for u, n in per_person.most_common() if n
        ],
    )
