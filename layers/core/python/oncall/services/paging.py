"""Use cases of direct paging: page people or a team (a new alert group), or page people into an existing alert
group; and whom the caller may page.

Editors page anyone (:mod:`oncall.services.policy`); a team that is not ``contactable`` only by its members and
admins (the paging domain's rule, :func:`oncall.paging.may_page`).
"""

from __future__ import annotations

from pydantic import Field

from oncall import paging
from oncall.directory import Team, User
from oncall.errors import InvalidInput
from oncall.lazy_model import LazyModel
from oncall.models import AlertGroup
from oncall.schemas import EscalationIn
from oncall.services import Ports
from oncall.services.policy import Action, Principal, Resource, authorize
from oncall.services.warnings import Checker


class PagingChoices(LazyModel):
    """Whom the caller may page: people, and the teams they may page (``hidden``: how many other teams exist)."""

    users: list[User]
    teams: list[Team]
    hidden: int


def choices(ports: Ports, caller: Principal) -> PagingChoices:
    """People and teams by name, as the paging forms offer them."""
    authorize(caller, Resource.PAGING, Action.CREATE)
    users = sorted(ports.store.users.list(), key=lambda u: u.username.lower())
    teams = sorted(ports.store.teams.list(), key=lambda t: t.name.lower())
    pageable = [t for t in teams if paging.may_page(t, caller.role, caller.teams)]
    return PagingChoices(users=users, teams=pageable, hidden=len(teams) - len(pageable))


class Paged(LazyModel):
    """The alert group of a page, and why some of it would reach nobody (people with no contact point, a team
    with no escalation chain)."""

    group: AlertGroup
    warnings: list[str] = Field(default_factory=list)


def _user(ports: Ports, user_id: str) -> User:
    user = ports.store.users.get(user_id)
    if user is None:
        raise InvalidInput.field("users", f"Unknown user id: {user_id}")
    return user


def _author(ports: Ports, caller: Principal) -> User:
    """The caller as a user (a caller whose user record is gone still pages under their name)."""
    return ports.store.users.get(caller.user_id) or User(
        id=caller.user_id, username=caller.username, role=caller.role, teams=list(caller.teams)
    )


def page(ports: Ports, caller: Principal, body: EscalationIn) -> Paged:
    """OnCall's direct paging: ``users`` or a ``team`` in a new alert group, or ``users`` added as responders to
    the group ``alert_group_id`` (not a resolved one). Returns the alert group paged, with its warnings."""
    group = _page(ports, caller, body)
    checker = Checker(ports.store)
    warnings = [w for u in body.users or [] for w in checker.user(_user(ports, u.id), u.important)]
    if body.team:  # the team's route that the page took decides who is notified
        warnings += checker.chain(group.escalation_chain_id)
    return Paged(group=group, warnings=list(dict.fromkeys(warnings)))


def _page(ports: Ports, caller: Principal, body: EscalationIn) -> AlertGroup:
    authorize(caller, Resource.PAGING, Action.CREATE)
    if body.users and body.team:
        raise InvalidInput.field("users", "users and team are mutually exclusive.")
    if body.alert_group_id and (body.title or body.message or body.source_url):
        raise InvalidInput.field(
            "alert_group_id", "alert_group_id and title/message/source_url are mutually exclusive."
        )
    if body.alert_group_id and body.team:
        raise InvalidInput.field("team", "Only users can be added to an existing alert group.")
    author = _author(ports, caller)
    responders = [paging.Responder(_user(ports, u.id), u.important) for u in body.users or []]
    now = ports.clock.now()
    if body.alert_group_id:
        group = ports.store.groups.get(body.alert_group_id)
        if group is None:
            raise InvalidInput.field("alert_group_id", "Alert group not found.")
        if not responders:
            raise InvalidInput.field("users", "Specify the users to add.")
        paging.add_responders(ports.store, ports.executor, author, group, responders, now)
        return group
    team = None
    if body.team:
        team = ports.store.teams.get(body.team)
        if team is None:
            raise InvalidInput.field("team", f"Unknown team id: {body.team}")
    return paging.page(
        ports.store,
        ports.executor,
        author,
        now,
        title=body.title,
        message=body.message,
        source_url=body.source_url,
        team=team,
        responders=responders,
        important_team_escalation=body.important_team_escalation,
    )
