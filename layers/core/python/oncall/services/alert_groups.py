"""Use cases of alert groups: list and read them (with their alerts and timeline), act on them (acknowledge,
resolve, silence and their undo; confirm an acknowledgement), one at a time or in bulk, wipe or delete them, and
follow the signed action links of notifications.

Everyone reads every alert group; editors act on and delete any of them (:mod:`oncall.services.policy`): whoever
is paged for a group may be of any team. A signed action link is its own proof (see :func:`link_caller`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Final, Generic, Literal, TypeVar

from pydantic import Field

from oncall import actions, escalation, links, maintenance
from oncall.errors import Conflict, InvalidInput, NotFound, TocsinError, Unavailable
from oncall.lazy_model import LazyModel
from oncall.models import Alert, AlertGroup, GroupState, TimelineEntry
from oncall.ports import GroupFilter
from oncall.schemas import BulkActionIn
from oncall.services import Ports
from oncall.services.policy import RANKS, Action, Principal, Resource, authorize, rule
from oncall.services.warnings import Checker

T = TypeVar("T")
GROUP_ACTIONS: Final = frozenset({*actions.ACTIONS, "silence"})
LINK_ACTIONS: Final = frozenset({"acknowledge", "resolve", "confirm"})  # what a notification's links may do
RESTARTING_ACTIONS: Final = frozenset({"unacknowledge", "unresolve", "unsilence"})
MAX_ACTION_ATTEMPTS: Final = 5
LINK_ACTOR: Final = "link"  # who acted, for links sent to no one in particular


class GroupView(LazyModel):
    """An alert group with its latest alert (what a reader of the group sees first); when read alone, why it
    would notify nobody (``warnings``)."""

    group: AlertGroup
    last_alert: Alert | None = None
    warnings: list[str] = Field(default_factory=list)


class Listing(LazyModel, Generic[T]):
    """One page of a listing: its items, how many match in all, and the store's cursor of the next page."""

    items: list[T]
    count: int
    cursor: str | None = None


class LinkView(LazyModel):
    """What a signed action link does, to which alert group, and the group's state as people see it now."""

    action: str
    group: AlertGroup
    state: GroupState


# --- reading ----------------------------------------------------------------------------------------------------


def _group(ports: Ports, group_id: str) -> AlertGroup:
    group = ports.store.groups.get(group_id)
    if group is None:
        raise NotFound()
    return group


def list_alert_groups(
    ports: Ports, caller: Principal, filters: GroupFilter, *, limit: int, cursor: str | None
) -> Listing[GroupView]:
    """Newest first; ``cursor`` is the store's (a ValueError for one it did not make)."""
    authorize(caller, Resource.ALERT_GROUPS, Action.READ)
    count = ports.store.groups.count(filters)
    page = ports.store.groups.list(filters, limit, cursor)
    last = ports.store.groups.alerts_by_id([(g.id, g.last_alert_id) for g in page.items if g.last_alert_id])
    views = [GroupView(group=g, last_alert=last.get(g.last_alert_id or "")) for g in page.items]
    return Listing[GroupView](items=views, count=count, cursor=page.cursor)


def count_by_state(ports: Ports, caller: Principal, filters: GroupFilter) -> dict[str, int]:
    """How many groups match ``filters`` in each state (whatever state ``filters`` names)."""
    authorize(caller, Resource.ALERT_GROUPS, Action.READ)
    return {state.value: ports.store.groups.count(replace(filters, state=state.value)) for state in GroupState}


def get_alert_group(ports: Ports, caller: Principal, group_id: str) -> GroupView:
    authorize(caller, Resource.ALERT_GROUPS, Action.READ)
    return view_of(ports, _group(ports, group_id))


def view_of(ports: Ports, group: AlertGroup) -> GroupView:
    """A group a use case just gave the caller, with its last alert (as OnCall's answers have it)."""
    last = ports.store.groups.alerts_by_id([(group.id, group.last_alert_id)]) if group.last_alert_id else {}
    config = ports.store.integrations.config(group.integration_id)
    warnings = Checker(ports.store).group(group, config.integration.type if config else None)
    return GroupView(group=group, last_alert=last.get(group.last_alert_id or ""), warnings=warnings)


def timeline(ports: Ports, caller: Principal, group_id: str) -> list[TimelineEntry]:
    """What happened to the group, oldest first."""
    authorize(caller, Resource.ALERT_GROUPS, Action.READ)
    group = _group(ports, group_id)
    # Registration and routing are facts of the group item itself (kept out of the ingest write path).
    opening = [
        TimelineEntry(group_id=group.id, at=group.created_at, type="registered", text="Alert group registered"),
        TimelineEntry(
            group_id=group.id,
            at=group.created_at,
            type="route_assigned",
            text=f"Routed to {group.route_description or 'route ' + group.route_id}",
        ),
    ]
    return opening + ports.store.groups.timeline(group_id)


def list_alerts(
    ports: Ports,
    caller: Principal,
    group_id: str,
    *,
    limit: int,
    cursor: str | None,
    search: str | None = None,
    alert_id: str | None = None,
) -> Listing[Alert]:
    """A group's alerts, newest first, a page at a time. ``search`` keeps those whose payload contains it (as JSON
    text) and ``alert_id`` the one of that id: the count and the pages are of the matches, as OnCall's are (a search
    looks at the group's latest :data:`MAX_SEARCHED_ALERTS` alerts)."""
    authorize(caller, Resource.ALERT_GROUPS, Action.READ)
    group = _group(ports, group_id)
    if not search and not alert_id:
        page = ports.store.groups.alerts(group_id, limit, cursor)
        return Listing[Alert](items=page.items, count=group.alerts_count, cursor=page.cursor)
    if alert_id:
        candidates = list(ports.store.groups.alerts_by_id([(group_id, alert_id)]).values())
    else:
        candidates = _latest_alerts(ports, group_id)
    matches = [a for a in candidates if not search or search in json.dumps(a.payload)]
    start = int(cursor) if cursor else 0  # a cursor of another listing is a ValueError: a 400, as for any cursor
    if start < 0:
        raise ValueError("negative offset")
    end = start + limit
    return Listing[Alert](items=matches[start:end], count=len(matches), cursor=str(end) if end < len(matches) else None)


MAX_SEARCHED_ALERTS = 5_000  # how far back a search looks in one group (bounded work per request)


def _latest_alerts(ports: Ports, group_id: str) -> list[Alert]:
    found: list[Alert] = []
    cursor: str | None = None
    while len(found) < MAX_SEARCHED_ALERTS:
        page = ports.store.groups.alerts(group_id, min(500, MAX_SEARCHED_ALERTS - len(found)), cursor)
        found.extend(page.items)
        if page.cursor is None:
            break
        cursor = page.cursor
    return found


# --- acting -----------------------------------------------------------------------------------------------------


def _apply(ports: Ports, group_id: str, action: str, by: str, delay: object = None) -> AlertGroup:
    """Apply a state change with optimistic concurrency (re-read and re-check on a lost race); the group's
    escalation starts or stops from the stored change (the table's stream). Returns the stored group."""
    store = ports.store
    for _ in range(MAX_ACTION_ATTEMPTS):
        group = _group(ports, group_id)
        # Read, then timestamp: a change that won a race before this read gets an earlier time in the timeline.
        now = ports.clock.now()
        if action == "resolve" and group.root_alert_group_id is not None:
            raise InvalidInput("Can't resolve an attached alert group")
        if action == "resolve" and group.is_maintenance and not group.resolved:
            # Resolving the maintenance group ends the maintenance, which resolves it and everything attached.
            maintenance.stop(store, ports.scheduler, group.integration_id, now, by=by)
            return _group(ports, group_id)
        if action == "silence":
            seconds = actions.parse_silence_delay(delay)
            transition = actions.silence(group, by, now, seconds)
            if seconds > 0:  # escalation resumes from step 0 when the silence ends
                transition.group = escalation.restarted(transition.group)
        else:
            transition = actions.ACTIONS[action](group, by, now)
            if action in RESTARTING_ACTIONS:
                transition.group = escalation.restarted(transition.group)
        if store.groups.save(transition.group, group.version, timeline=transition.timeline, pointer=transition.pointer):
            if action == "acknowledge":
                escalation.start_reminder(store, ports.executor, transition.group)
            return replace(transition.group, version=group.version + 1)
    raise Conflict("The alert group is changing too fast; try again.")


def act(ports: Ports, caller: Principal, group_id: str, action: str, *, delay: object = None) -> AlertGroup:
    """Acknowledge, resolve, silence (for ``delay`` seconds, -1: forever), their undo, or confirm an
    acknowledgement, as the caller. Returns the changed group."""
    authorize(caller, Resource.ALERT_GROUPS, Action.ACT)
    if action not in GROUP_ACTIONS:
        raise NotFound()
    return _apply(ports, group_id, action, caller.user_id, delay)


def _restart(ports: Ports, group_id: str, by: str) -> None:
    """Back to firing with a fresh escalation: undo whatever state the group is in."""
    group = _group(ports, group_id)
    undo = (
        "unresolve"
        if group.resolved
        else "unacknowledge"
        if group.acknowledged
        else "unsilence"
        if group.silenced
        else None
    )
    if undo is None:
        raise InvalidInput("The alert group is already firing.")
    changed = _apply(ports, group_id, undo, by)
    if undo == "unresolve" and (changed.acknowledged or changed.silenced):
        _restart(ports, group_id, by)


def bulk_action(ports: Ports, caller: Principal, body: BulkActionIn) -> dict[str, str]:
    """Each group on its own: one refusal does not stop the others; maintenance groups are skipped. Group id ->
    ``ok`` or why not."""
    authorize(caller, Resource.ALERT_GROUPS, Action.ACT)
    results: dict[str, str] = {}
    for group_id in dict.fromkeys(body.alert_group_ids):
        group = ports.store.groups.get(group_id)
        if group is None:
            results[group_id] = "not found"
            continue
        if group.is_maintenance:
            results[group_id] = "skipped: maintenance alert group"
            continue
        try:
            if body.action == "restart":
                _restart(ports, group_id, caller.user_id)
            else:
                _apply(ports, group_id, body.action, caller.user_id, body.delay)
        except Unavailable:
            raise
        except TocsinError as refused:
            results[group_id] = refused.message
        else:
            results[group_id] = "ok"
    return results


def delete_alert_group(ports: Ports, caller: Principal, group_id: str, mode: Literal["wipe", "delete"]) -> None:
    """``delete``: the group and its alerts are gone. ``wipe``: the group stays, resolved, and its alerts keep
    nothing but a note of who wiped them when."""
    authorize(caller, Resource.ALERT_GROUPS, Action.DELETE)
    group = _group(ports, group_id)
    if mode == "delete":
        ports.store.groups.delete(group_id)
        return
    now = ports.clock.now()
    transition = actions.wipe(group, caller.user_id, now)
    if not ports.store.groups.save(
        transition.group, group.version, timeline=transition.timeline, pointer=transition.pointer
    ):
        raise Conflict("The alert group changed while wiping it; try again.")
    ports.store.groups.wipe_alerts(group_id, f"Wiped by {caller.user_id} at {_utc(now)}")


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


# --- signed action links ------------------------------------------------------------------------------------------


def _claims(ports: Ports, token: str, now: datetime) -> links.LinkClaims:
    """The link's claims; :class:`links.InvalidLink` when it is forged, expired or not for something links do."""
    claims = links.verify(token, ports.signing_key(), now)
    if claims.action not in LINK_ACTIONS:
        raise links.InvalidLink("invalid")
    if claims.user_id is not None:  # a link dies with its recipient, and with a role they had when it was sent
        recipient = ports.store.users.get(claims.user_id)
        if recipient is None or (
            claims.role is not None and claims.role in RANKS and RANKS[recipient.role] < RANKS[claims.role]
        ):
            raise links.InvalidLink("revoked")
    return claims


def link_caller(claims: links.LinkClaims) -> Principal:
    """Who a signed link acts as: the person it was sent to, or ``link`` for a link sent to no one in particular.

    The signature is the proof: the notification gave its holder the right to act on that one group (the role the
    table asks for it), as long as the person still exists with the role they had when it was sent (:func:`_claims`).
    """
    found = rule(Resource.ALERT_GROUPS, Action.ACT)
    assert found is not None
    user_id = claims.user_id or LINK_ACTOR
    return Principal(user_id=user_id, username=user_id, role=found.role)


def open_link(ports: Ports, token: str) -> LinkView:
    """What a link will do, changing nothing (mail scanners and chat unfurlers fetch every link they see)."""
    now = ports.clock.now()
    claims = _claims(ports, token, now)
    group = _group(ports, claims.group_id)
    return LinkView(action=claims.action, group=group, state=group.state_at(now))


def follow_link(ports: Ports, token: str) -> LinkView:
    """Do what the link says, as :func:`link_caller`."""
    claims = _claims(ports, token, ports.clock.now())
    group = act(ports, link_caller(claims), claims.group_id, claims.action)
    return LinkView(action=claims.action, group=group, state=group.state_at(ports.clock.now()))
