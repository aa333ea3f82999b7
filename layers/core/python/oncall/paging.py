"""Direct paging: a person pages a team or people, or adds responders to an existing alert group.

A team is paged through its own ``direct_paging`` integration, created on first use with two routes
(``{{ payload.oncall.important }}`` first, then the default), so the team decides with escalation chains who
gets paged and how. People are notified directly with their personal notification rules. Every page is its
own alert group (a fresh ``uid`` in the payload).
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from oncall import escalation, ids
from oncall.directory import Team, User
from oncall.errors import InvalidInput, PermissionDenied
from oncall.executor import Executor
from oncall.ingest import ingest
from oncall.models import AlertGroup, Integration, IntegrationConfig, Route, TimelineEntry
from oncall.ports import Store

IMPORTANT_ROUTE = "{{ payload.oncall.important }}"


@dataclass(frozen=True)
class Responder:
    user: User
    important: bool


def paging_integration(store: Store, team: Team | None, now: datetime) -> IntegrationConfig:
    """The team's direct paging integration (or the one for pages without a team), created on first use: a keyed
    read, and a conditional write when two first pages race (the first writer's integration is the team's)."""
    team_id = team.id if team else None
    found = store.integrations.paging(team_id)
    config = store.integrations.config(found) if found else None
    if config is not None:
        return config
    name = f"Direct paging ({team.name} team)" if team else "Direct paging"
    integration = Integration(
        id=ids.new_id(ids.INTEGRATION),
        name=name,
        type="direct_paging",
        team_id=team_id,
        token_hash=ids.secret_hash(ids.new_token()),
        created_at=now,
    )
    default = Route(id=ids.new_id(ids.ROUTE), integration_id=integration.id, is_default=True)
    important = Route(
        id=ids.new_id(ids.ROUTE),
        integration_id=integration.id,
        position=0,
        routing_type="jinja2",
        routing_regex=IMPORTANT_ROUTE,
    )
    config = store.integrations.config(store.integrations.create_paging(integration, [default, important]))
    assert config is not None  # paging integrations cannot be deleted
    return config


def may_page(team: Team, role: str, teams: Collection[str]) -> bool:
    """Whether someone with ``role`` in ``teams`` may page ``team``: its members and admins always, anyone else
    only when the team is ``contactable``."""
    return team.contactable or team.id in teams or role == "admin"


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def page(
    store: Store,
    executor: Executor,
    author: User,
    now: datetime,
    *,
    title: str | None = None,
    message: str | None = None,
    source_url: str | None = None,
    team: Team | None = None,
    responders: list[Responder] | None = None,
    important_team_escalation: bool = False,
) -> AlertGroup:
    """A new page: a new alert group on the paging integration; the team's chain and/or the people."""
    responders = responders or []
    if team is None and not responders:
        raise InvalidInput("Specify a team or at least one user to page.")
    if team is not None and not may_page(team, author.role, author.teams):
        raise PermissionDenied(f"The team {team.name} cannot be paged by people outside it.")
    config = paging_integration(store, team, now)
    paged = team.name if team else _names([r.user.username for r in responders])
    default_title = f"{author.username} is paging {paged} to join escalation"
    payload: dict[str, Any] = {
        "oncall": {
            "title": html.escape(title or default_title),
            "message": html.escape(message or ""),
            "uid": str(uuid.uuid4()),
            "author_username": author.username,
            "permalink": source_url,
            "important": important_team_escalation,
        }
    }
    # A team's routes escalate by their chains; the integration for pages without a team has no chain: the people
    # below are the page.
    [stored] = ingest(store, config, payload, now=now)
    group = store.groups.get(stored.group_id)
    assert group is not None
    if responders:
        add_responders(store, executor, author, group, responders, now)
    return group


def add_responders(
    store: Store, executor: Executor, author: User, group: AlertGroup, responders: list[Responder], now: datetime
) -> None:
    """Page people into an existing group, even when it is acknowledged or silenced; not when resolved."""
    if group.resolved:
        raise InvalidInput("Cannot add responders for a resolved alert group")
    text = ", ".join(f"{r.user.username}{' (important)' if r.important else ''}" for r in responders)
    store.groups.append_timeline(
        [
            TimelineEntry(
                group_id=group.id,
                at=now,
                type="direct_paging",
                text=f"{author.username} paged {text}",
                author=author.id,
            )
        ]
    )
    for responder in responders:
        key = f"{group.id}-page{int(now.timestamp() * 1000)}-{responder.user.id}"
        escalation.start_personal(
            store, executor, group, responder.user, responder.important, key, group.escalation_generation, direct=True
        )
