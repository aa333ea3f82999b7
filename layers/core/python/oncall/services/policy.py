"""Who may do what: the one written policy table, checked by every use case (never by an HTTP entry point).

A caller is a :class:`Principal`: a user with a role (viewer < editor < admin) and teams. A row of :data:`POLICY`
says, for a resource and an action, the least role and the scope:

- ``any``: every resource of that kind;
- ``team``: resources of the caller's teams or of no team (admins: every team). A change that moves a resource
  to another team needs the right in both teams;
- ``self``: the caller's own (their profile, notification rules, API keys); admins: everyone's.

A refusal is a 403 with the row's message. (Nothing here is secret from a signed-in user: every role reads every
team's configuration, so a 403 tells nothing a listing would not. A resource that ever must stay unknown to some
callers gets a 404 from its use case, as for an unknown id.)

The table, as people read it (docs/design.md repeats it):

| resource           | read         | create / update / delete       | act                         |
|--------------------|--------------|--------------------------------|-----------------------------|
| integrations       | viewer, any  | editor, team                   |                             |
| routes             | viewer, any  | editor, team of the integration|                             |
| escalation_chains  | viewer, any  | editor, team (steps: the chain)|                             |
| webhooks           | viewer, any  | editor, team                   |                             |
| schedules          | viewer, any  | editor, team (shifts: theirs and their schedule's)|          |
| alert_groups       | viewer, any  | delete: editor, any            | editor, any (ack, resolve..)|
| resolution_notes   | viewer, any  | editor, any                    |                             |
| paging             |              | create: editor, any, responders|                             |
| users              | viewer, any  | admin (contact points: self)   |                             |
|  (console profile) | viewer, self |                                |                             |
| teams              | viewer, any  | admin                          |                             |
| notification_rules | viewer, any  | editor, self                   |                             |
| api_keys           | viewer, self | viewer, self (create, revoke)  |                             |
| audit_log          | admin        |                                |                             |
| insights           | viewer, any  |                                |                             |
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal, TypeVar

from oncall.errors import NotFound, PermissionDenied

T = TypeVar("T")

Role = Literal["admin", "editor", "viewer"]
Scope = Literal["any", "team", "self"]
RANKS: Final[Mapping[str, int]] = {"viewer": 0, "editor": 1, "admin": 2}


class Resource(StrEnum):
    INTEGRATIONS = "integrations"
    ROUTES = "routes"
    ESCALATION_CHAINS = "escalation_chains"
    WEBHOOKS = "webhooks"
    SCHEDULES = "schedules"
    ALERT_GROUPS = "alert_groups"
    RESOLUTION_NOTES = "resolution_notes"
    PAGING = "paging"
    USERS = "users"
    TEAMS = "teams"
    NOTIFICATION_RULES = "notification_rules"
    API_KEYS = "api_keys"
    AUDIT_LOG = "audit_log"
    INSIGHTS = "insights"  # read only: figures of the alert groups everyone reads


class Action(StrEnum):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    ACT = "act"  # alert groups: acknowledge, resolve, silence and their undo (paging people into one: PAGING)
    UPDATE_CONTACTS = "update_contacts"  # users: contact points and time zone
    READ_PROFILE = "read_profile"  # users: the console's profile page (contact points and rules, to change them)


@dataclass(frozen=True)
class Principal:
    """The caller of a use case: who they are, their role and their teams."""

    user_id: str
    username: str
    role: Role
    teams: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def at_least(self, role: Role) -> bool:
        return RANKS[self.role] >= RANKS[role]


@dataclass(frozen=True)
class Rule:
    role: Role  # the least role
    scope: Scope
    denied: str = "You do not have permission to perform this action."  # the 403 when the scope refuses


TEAM_DENIED: Final = "You can only change what belongs to your teams."
_EDIT_TEAM: Final = Rule("editor", "team", TEAM_DENIED)
_READ_ANY: Final = Rule("viewer", "any")
_ADMIN: Final = Rule("admin", "any")
_CONFIGURED = (
    Resource.INTEGRATIONS,
    Resource.ROUTES,
    Resource.ESCALATION_CHAINS,
    Resource.WEBHOOKS,
    Resource.SCHEDULES,
)
_CHANGES = (Action.CREATE, Action.UPDATE, Action.DELETE)

POLICY: Final[Mapping[tuple[Resource, Action], Rule]] = {
    **{(resource, Action.READ): _READ_ANY for resource in Resource if resource is not Resource.PAGING},
    **{(resource, action): _EDIT_TEAM for resource in _CONFIGURED for action in _CHANGES},
    (Resource.ALERT_GROUPS, Action.ACT): Rule("editor", "any"),
    (Resource.ALERT_GROUPS, Action.DELETE): Rule("editor", "any"),
    **{(Resource.RESOLUTION_NOTES, action): Rule("editor", "any") for action in _CHANGES},
    (Resource.PAGING, Action.CREATE): Rule("editor", "any"),
    **{(Resource.USERS, action): _ADMIN for action in _CHANGES},
    (Resource.USERS, Action.UPDATE_CONTACTS): Rule(
        "viewer", "self", "You can only change your own contact points and time zone."
    ),
    (Resource.USERS, Action.READ_PROFILE): Rule("viewer", "self", "You can only see your own profile."),
    **{(Resource.TEAMS, action): _ADMIN for action in _CHANGES},
    **{
        (Resource.NOTIFICATION_RULES, action): Rule(
            "editor", "self", "You can only change your own notification rules."
        )
        for action in _CHANGES
    },
    **{
        (Resource.API_KEYS, action): Rule("viewer", "self", "You can only manage your own API keys.")
        for action in (Action.READ, Action.CREATE, Action.DELETE)
    },
    (Resource.AUDIT_LOG, Action.READ): _ADMIN,
}


def rule(resource: Resource, action: Action) -> Rule | None:
    return POLICY.get((resource, action))


def allows(
    principal: Principal,
    resource: Resource,
    action: Action,
    *,
    teams: Iterable[str | None] = (None,),
    owner: str | None = None,
) -> bool:
    """Whether the table lets ``principal`` do ``action`` (for what to show: enforcement is :func:`authorize`)."""
    try:
        authorize(principal, resource, action, teams=teams, owner=owner)
    except PermissionDenied:
        return False
    return True


def authorize(
    principal: Principal,
    resource: Resource,
    action: Action,
    *,
    teams: Iterable[str | None] = (None,),
    owner: str | None = None,
) -> None:
    """Raise unless the table lets ``principal`` do ``action`` on a resource of ``teams`` owned by ``owner``.

    ``teams``: the team of the resource (``None``: no team); every team it belongs to or moves to. ``owner``:
    the user a ``self``-scoped resource belongs to.
    """
    found = rule(resource, action)
    if found is None or not principal.at_least(found.role):
        raise PermissionDenied()
    if principal.is_admin or found.scope == "any":
        return
    if found.scope == "team" and all(team is None or team in principal.teams for team in teams):
        return
    if found.scope == "self" and owner == principal.user_id:
        return
    raise PermissionDenied(found.denied)


def existing(item: T | None, caller: Principal | None, resource: Resource, action: Action) -> T:
    """``item``, or NotFound if there is none: an unknown id is 404 only to a ``caller`` who may ``action`` such
    objects at all, and 403 to the others, as a known one would be (``caller`` None: always 404)."""
    if item is None:
        if caller is not None:
            authorize(caller, resource, action)
        raise NotFound()
    return item
