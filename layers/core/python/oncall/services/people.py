"""Use cases of people: teams and users (their role, teams, contact points and time zone), and a user's profile.

Everyone reads every team and user; admins create, change and delete them. Everyone changes their own contact
points and time zone (:data:`CONTACT_FIELDS`); the console's profile page (contact points and notification rules
together) is one's own, admins open anyone's (:mod:`oncall.services.policy`). Tocsin always keeps an admin: the
last one can be neither demoted nor deleted. OnCall took users and teams from Grafana; Tocsin keeps them itself.

A personal ``webhook_url`` is a secret (a Slack incoming-webhook URL lets whoever has it post to that person): it is
write-only like outgoing webhooks' secrets (:mod:`oncall.services.webhooks`), returned as the mask to everyone, the
user themself included; a write without it or with the mask keeps it, null clears it. Notifications read the
stored user, never these copies.
"""

from __future__ import annotations

from typing import Final, TypeVar

from pydantic import BaseModel, ValidationError

from oncall import ids
from oncall.directory import NotificationRule, Team, User
from oncall.errors import InvalidInput, NotFound, field_errors
from oncall.lazy_model import LazyModel
from oncall.schemas import MASK, TeamIn, TeamPatch, UserIn, UserPatch
from oncall.services import Ports, naming
from oncall.services.policy import Action, Principal, Resource, allows, authorize
from oncall.services.references import require_known

M = TypeVar("M", bound=BaseModel)

# What everyone may change of their own user (the rest of a user is for admins).
CONTACT_FIELDS: Final = frozenset({"email", "phone_number", "webhook_url", "webhook_format", "timezone"})
LAST_ADMIN: Final = "Tocsin needs at least one admin: make someone else admin first."


def _changed(entity: M, body: BaseModel) -> M:
    """``entity`` with the fields ``body`` sets, validated again (a null for a required field is a 400)."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    try:
        return type(entity).model_validate({**entity.model_dump(), **changes})
    except ValidationError as error:
        raise InvalidInput.of_fields(field_errors(error.errors())) from error


# --- teams ----------------------------------------------------------------------------------------------------------


def _team(ports: Ports, team_id: str) -> Team:
    team = ports.store.teams.get(team_id)
    if team is None:
        raise NotFound()
    return team


def list_teams(ports: Ports, caller: Principal, *, name: str | None = None) -> list[Team]:
    authorize(caller, Resource.TEAMS, Action.READ)
    return list(naming.filtered(ports.store.teams, name, lambda t: t.name))


def get_team(ports: Ports, caller: Principal, team_id: str) -> Team:
    authorize(caller, Resource.TEAMS, Action.READ)
    return _team(ports, team_id)


def create_team(ports: Ports, caller: Principal, body: TeamIn) -> Team:
    authorize(caller, Resource.TEAMS, Action.CREATE)
    naming.check(ports.store.teams, body.name)
    team = Team(id=ids.new_id(ids.TEAM), **body.model_dump())
    naming.put(ports.store.teams, team, new=True)
    return team


def update_team(ports: Ports, caller: Principal, team_id: str, body: TeamPatch) -> Team:
    authorize(caller, Resource.TEAMS, Action.UPDATE)
    stored = _team(ports, team_id)
    team = _changed(stored, body)
    if team.name != stored.name:
        naming.check(ports.store.teams, team.name, exclude=team.id)
    naming.put(ports.store.teams, team)
    return team


def delete_team(ports: Ports, caller: Principal, team_id: str) -> None:
    authorize(caller, Resource.TEAMS, Action.DELETE)
    _team(ports, team_id)
    ports.store.teams.delete(team_id)


# --- users ----------------------------------------------------------------------------------------------------------


def masked(user: User) -> User:
    """``user`` as anyone may see them: a personal webhook URL replaced by the mask."""
    return user.model_copy(update={"webhook_url": MASK}) if user.webhook_url else user


def _user(ports: Ports, user_id: str) -> User:
    user = ports.store.users.get(user_id)
    if user is None:
        raise NotFound()
    return user


def _keep_an_admin(ports: Ports, leaving: str) -> None:
    if not any(u.role == "admin" and u.id != leaving for u in ports.store.users.list()):
        raise InvalidInput(LAST_ADMIN)


def list_users(ports: Ports, caller: Principal, *, email: str | None = None, username: str | None = None) -> list[User]:
    authorize(caller, Resource.USERS, Action.READ)
    users = naming.filtered(ports.store.users, username, lambda u: u.username)
    return [masked(u) for u in users if email is None or u.email == email]


def get_user(ports: Ports, caller: Principal, user_id: str) -> User:
    authorize(caller, Resource.USERS, Action.READ)
    return masked(_user(ports, user_id))


def create_user(ports: Ports, caller: Principal, body: UserIn) -> User:
    authorize(caller, Resource.USERS, Action.CREATE)
    naming.check(ports.store.users, body.username, field="username")
    require_known("teams", body.teams, ports.store.teams.get)
    user = User(id=ids.new_id(ids.USER), **body.model_dump())
    naming.put(ports.store.users, user, field="username", new=True)
    return masked(user)


def _authorize_change(caller: Principal, user_id: str, fields: set[str]) -> None:
    """Admins change anything of anyone; everyone else their own contact points and time zone. A change of more
    than those is nobody's own, so the ``self`` rule refuses it with its message."""
    if not allows(caller, Resource.USERS, Action.UPDATE):
        authorize(caller, Resource.USERS, Action.UPDATE_CONTACTS, owner=user_id if fields <= CONTACT_FIELDS else None)


def update_user(ports: Ports, caller: Principal, user_id: str, body: UserPatch) -> User:
    _authorize_change(caller, user_id, body.model_fields_set)
    stored = _user(ports, user_id)
    user = _changed(stored, body)
    if user.webhook_url == MASK:  # sent back as read: kept
        user.webhook_url = stored.webhook_url
    if user.role != "admin":
        _keep_an_admin(ports, user.id)
    if user.username != stored.username:
        naming.check(ports.store.users, user.username, field="username", exclude=user.id)
    require_known("teams", user.teams, ports.store.teams.get)
    naming.put(ports.store.users, user, field="username")
    return masked(user)


def delete_user(ports: Ports, caller: Principal, user_id: str) -> None:
    """The user and their notification rules (their API keys stop working: their user is gone)."""
    authorize(caller, Resource.USERS, Action.DELETE)
    if _user(ports, user_id).role == "admin":
        _keep_an_admin(ports, user_id)
    for rule in ports.store.rules.of_user(user_id):
        ports.store.rules.delete(rule.id)
    ports.store.users.delete(user_id)


# --- the console's profile page ---------------------------------------------------------------------------------


class Profile(LazyModel):
    """A user with their notification rules, as their profile page shows them."""

    user: User
    rules: list[NotificationRule]  # default ones first, then important ones, each in order


def get_profile(ports: Ports, caller: Principal, user_id: str) -> Profile:
    authorize(caller, Resource.USERS, Action.READ_PROFILE, owner=user_id)
    user = _user(ports, user_id)
    rules = sorted(ports.store.rules.of_user(user_id), key=lambda r: (r.important, r.position))
    return Profile(user=masked(user), rules=rules)
