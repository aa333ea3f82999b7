"""Use cases of the API for people acting on alerts: direct paging and bulk actions on alert groups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from oncall import escalation, paging, schemas
from oncall.access import Actor
from oncall.api.logic import ApiError, apply_action, group_out
from oncall.api.request import RequestInfo
from oncall.models import User
from oncall.scheduler import Scheduler

BULK_ACTIONS = {"acknowledge": "acknowledge", "resolve": "resolve", "silence": "silence"}
RESTART_UNDO = ("unresolve", "unacknowledge", "unsilence")


def _user(services: escalation.Services, user_id: str, field: str = "users") -> User:
    user = services.store.users.get(user_id)
    if user is None:
        raise ApiError.field(field, f"Unknown user id: {user_id}")
    return user


def page(
    services: escalation.Services, request: RequestInfo, actor: Actor, body: schemas.EscalationIn, now: datetime
) -> dict[str, Any]:
    if body.users and body.team:
        raise ApiError.field("users", "users and team are mutually exclusive.")
    if body.alert_group_id and (body.title or body.message or body.source_url):
        raise ApiError.field("alert_group_id", "alert_group_id and title/message/source_url are mutually exclusive.")
    if body.alert_group_id and body.team:
        raise ApiError.field("team", "Only users can be added to an existing alert group.")
    author = services.store.users.get(actor.user_id) or User(
        id=actor.user_id,
        username=actor.username,
        role=actor.role,
        teams=list(actor.teams),  # type: ignore[arg-type]
    )
    responders = [paging.Responder(_user(services, u.id), u.important) for u in body.users or []]
    try:
        if body.alert_group_id:
            group = services.store.groups.get(body.alert_group_id)
            if group is None:
                raise ApiError.field("alert_group_id", "Alert group not found.")
            if not responders:
                raise ApiError.field("users", "Specify the users to add.")
            paging.add_responders(services, author, group, responders, now)
            return group_out(request, group)
        team = None
        if body.team:
            team = services.store.teams.get(body.team)
            if team is None:
                raise ApiError.field("team", f"Unknown team id: {body.team}")
        group = paging.page(
            services,
            author,
            now,
            title=body.title,
            message=body.message,
            source_url=body.source_url,
            team=team,
            responders=responders,
            important_team_escalation=body.important_team_escalation,
        )
    except paging.PagingError as error:
        raise ApiError.detail(str(error), error.status) from error
    return group_out(request, group)


def bulk_action(
    services: escalation.Services, scheduler: Scheduler, actor: Actor, body: schemas.BulkActionIn
) -> dict[str, Any]:
    """Each group on its own: one refusal does not stop the others; maintenance groups are skipped."""
    results: dict[str, str] = {}
    for group_id in dict.fromkeys(body.alert_group_ids):
        group = services.store.groups.get(group_id)
        if group is None:
            results[group_id] = "not found"
            continue
        if group.is_maintenance:
            results[group_id] = "skipped: maintenance alert group"
            continue
        try:
            if body.action == "restart":
                _restart(services, scheduler, group_id, actor)
            else:
                extra = {"delay": body.delay} if body.action == "silence" else None
                apply_action(
                    services.store,
                    services.executor,
                    group_id,
                    body.action,
                    actor.user_id,
                    services.clock,
                    extra,
                    scheduler,
                )
        except ApiError as error:
            results[group_id] = str(error.body.get("detail", "refused"))
        else:
            results[group_id] = "ok"
    return {"results": results}


def _restart(services: escalation.Services, scheduler: Scheduler, group_id: str, actor: Actor) -> None:
    """Back to firing with a fresh escalation: undo whatever state the group is in."""
    group = services.store.groups.get(group_id)
    assert group is not None
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
        raise ApiError.detail("The alert group is already firing.")
    apply_action(services.store, services.executor, group_id, undo, actor.user_id, services.clock, None, scheduler)
    if undo == "unresolve":
        fresh = services.store.groups.get(group_id)
        if fresh is not None and (fresh.acknowledged or fresh.silenced):
            _restart(services, scheduler, group_id, actor)
