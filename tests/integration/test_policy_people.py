"""People and access follow the policy table (:mod:`oncall.services.policy`), through the real api and web handlers
on DynamoDB Local.

For every API route and console action of teams, users (and the console's profiles), personal notification rules,
API keys and the audit log, a viewer, an editor and an admin of team A get exactly the table's answer: the change
(2xx), or 403 with the table's message; 404 for an unknown id where the caller may know that it does not exist.
Self-scoped things are tried on the caller's own, on a teammate's and on an outsider's (team B): the table gives
these resources no team scope, so the teammate's and the outsider's answers are the same. The oracle is
:func:`~oncall.services.policy.authorize` itself, so the test follows the table.

The handlers, users, keys and sessions are made once for the module; each case makes what it changes or deletes.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from oncall import access
from oncall.clock import SYSTEM_CLOCK
from oncall.directory import ApiKey, NotificationRule, Team, User
from oncall.errors import PermissionDenied
from oncall.services import policy
from oncall.services.api_keys import issue
from oncall.services.policy import Action, Principal, Resource
from oncall.store.dynamodb import DynamoStore

from tests.integration.conftest import Context, http_event, load_handler, module_store
from tests.integration.web_browser import Browser

pytestmark = pytest.mark.xdist_group("policy_people")  # one worker builds the module's world once

ROLES = ("viewer", "editor", "admin")
WHOSE = ("own", "teammate", "outsider")  # whose self-scoped thing a case is about
NOPE = "NOPE0000000000"  # an id nothing has
_names = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}-{uuid.uuid4().hex[:6]}"


@dataclass
class World:
    store: DynamoStore
    api_module: ModuleType
    members: dict[str, User]  # role -> a user of team A with that role
    keys: dict[str, str]  # role -> the secret of their key
    browsers: dict[str, Browser]  # role -> a signed-in console session
    teammate: User  # a viewer of team A
    outsider: User  # an editor of team B
    team: Team

    def api(self, role: str, method: str, path: str, body: Any = None, query: str = "") -> tuple[int, Any]:
        headers = {"authorization": self.keys[role]}
        response = self.api_module.handler(http_event(method, path, body, headers=headers, query=query), Context())
        text = response.get("body")
        return response["statusCode"], json.loads(text) if text else None

    def target(self, role: str, whose: str) -> User:
        return {"own": self.members[role], "teammate": self.teammate, "outsider": self.outsider}[whose]

    def user(self) -> User:
        user = User(id=unique("U"), username=unique("user"), role="viewer")
        self.store.users.put(user)
        return user

    def rule(self, user_id: str) -> NotificationRule:
        rule = NotificationRule(id=unique("N"), user_id=user_id, position=99, type="wait", channel=None, duration=300)
        self.store.rules.put(rule)
        return rule

    def key(self, user_id: str) -> ApiKey:
        return issue(self.store, user_id=user_id, name=unique("key"), now=SYSTEM_CLOCK.now()).key

    def new_team(self) -> Team:
        team = Team(id=unique("T"), name=unique("team"))
        self.store.teams.put(team)
        return team


@pytest.fixture(scope="module")
def world(dynamodb_endpoint: str) -> Iterator[World]:
    with module_store(dynamodb_endpoint) as store:
        team, elsewhere = Team(id="TEAMA", name="A"), Team(id="TEAMB", name="B")
        for t in (team, elsewhere):
            store.teams.put(t)
        members = {role: User(id=f"U{role.upper()}", username=role, role=role, teams=[team.id]) for role in ROLES}
        for member in members.values():
            store.users.put(member)
        keys = {
            role: issue(store, user_id=u.id, name="own", now=SYSTEM_CLOCK.now()).secret for role, u in members.items()
        }
        web = load_handler("web")
        browsers = {}
        for role, secret in keys.items():
            browsers[role] = Browser(web)
            assert browsers[role].sign_in(secret)["statusCode"] == 303
        teammate = User(id="UTEAMMATE", username="teammate", role="viewer", teams=[team.id])
        outsider = User(id="UOUTSIDER", username="outsider", role="editor", teams=[elsewhere.id])
        for person in (teammate, outsider):
            store.users.put(person)
            issue(store, user_id=person.id, name="theirs", now=SYSTEM_CLOCK.now())
        yield World(store, load_handler("api"), members, keys, browsers, teammate, outsider, team)


def principal(world: World, role: str) -> Principal:
    return access.principal(world.members[role])


def refusal(caller: Principal, resource: Resource, action: Action, owner: str | None = None) -> str | None:
    """The table's answer: None when allowed, else the 403's message."""
    try:
        policy.authorize(caller, resource, action, owner=owner)
    except PermissionDenied as denied:
        return denied.message
    return None


# --- the API ------------------------------------------------------------------------------------------------------

V1 = "/api/v1"
Call = tuple[str, str, Any]  # method, path, body
Make = Callable[[World, User], Call]  # (world, the user whose thing it is) -> the request


@dataclass(frozen=True)
class Row:
    label: str
    resource: Resource
    action: Action
    make: Make
    self_scoped: bool = False  # tried on own, teammate's and outsider's things; else once
    owner: Callable[[User], str | None] = lambda target: target.id  # whose the table is told it is


API_ROWS = [
    Row("list teams", Resource.TEAMS, Action.READ, lambda w, t: ("GET", f"{V1}/teams/", None)),
    Row("get a team", Resource.TEAMS, Action.READ, lambda w, t: ("GET", f"{V1}/teams/{w.team.id}/", None)),
    Row("create a team", Resource.TEAMS, Action.CREATE, lambda w, t: ("POST", f"{V1}/teams/", {"name": unique("t")})),
    Row(
        "rename a team",
        Resource.TEAMS,
        Action.UPDATE,
        lambda w, t: ("PATCH", f"{V1}/teams/{w.new_team().id}/", {"name": unique("t")}),
    ),
    Row(
        "delete a team", Resource.TEAMS, Action.DELETE, lambda w, t: ("DELETE", f"{V1}/teams/{w.new_team().id}/", None)
    ),
    Row("list users", Resource.USERS, Action.READ, lambda w, t: ("GET", f"{V1}/users/", None)),
    Row("get a user", Resource.USERS, Action.READ, lambda w, t: ("GET", f"{V1}/users/{t.id}/", None), self_scoped=True),
    Row("get the current user", Resource.USERS, Action.READ, lambda w, t: ("GET", f"{V1}/users/current/", None)),
    Row(
        "create a user",
        Resource.USERS,
        Action.CREATE,
        lambda w, t: ("POST", f"{V1}/users/", {"username": unique("u"), "role": "viewer"}),
    ),
    Row(
        "change a user's time zone",
        Resource.USERS,
        Action.UPDATE_CONTACTS,
        lambda w, t: ("PATCH", f"{V1}/users/{t.id}/", {"timezone": "Europe/Paris"}),
        self_scoped=True,
    ),
    Row(  # more than contact points is nobody's own (the use case asks the table so)
        "change a user's teams",
        Resource.USERS,
        Action.UPDATE_CONTACTS,
        lambda w, t: ("PATCH", f"{V1}/users/{t.id}/", {"teams": t.teams}),
        self_scoped=True,
        owner=lambda target: None,
    ),
    Row("delete a user", Resource.USERS, Action.DELETE, lambda w, t: ("DELETE", f"{V1}/users/{w.user().id}/", None)),
    Row(
        "list notification rules",
        Resource.NOTIFICATION_RULES,
        Action.READ,
        lambda w, t: ("GET", f"{V1}/personal_notification_rules/", None),
    ),
    Row(
        "get a notification rule",
        Resource.NOTIFICATION_RULES,
        Action.READ,
        lambda w, t: ("GET", f"{V1}/personal_notification_rules/{w.rule(t.id).id}/", None),
        self_scoped=True,
    ),
    Row(
        "create a notification rule",
        Resource.NOTIFICATION_RULES,
        Action.CREATE,
        lambda w, t: ("POST", f"{V1}/personal_notification_rules/", {"user_id": t.id, "type": "notify_by_sms"}),
        self_scoped=True,
    ),
    Row(
        "move a notification rule",
        Resource.NOTIFICATION_RULES,
        Action.UPDATE,
        lambda w, t: ("PATCH", f"{V1}/personal_notification_rules/{w.rule(t.id).id}/", {"position": 0}),
        self_scoped=True,
    ),
    Row(
        "delete a notification rule",
        Resource.NOTIFICATION_RULES,
        Action.DELETE,
        lambda w, t: ("DELETE", f"{V1}/personal_notification_rules/{w.rule(t.id).id}/", None),
        self_scoped=True,
    ),
    Row(
        "create an API key",
        Resource.API_KEYS,
        Action.CREATE,
        lambda w, t: ("POST", f"{V1}/api_keys/", {"name": unique("k"), "user_id": t.id}),
        self_scoped=True,
    ),
    Row(
        "revoke an API key",
        Resource.API_KEYS,
        Action.DELETE,
        lambda w, t: ("DELETE", f"{V1}/api_keys/{w.key(t.id).id}/", None),
        self_scoped=True,
    ),
    Row("read the audit log", Resource.AUDIT_LOG, Action.READ, lambda w, t: ("GET", f"{V1}/audit_log/", None)),
]
SUCCESS = {"GET": 200, "POST": 201, "PATCH": 200, "DELETE": 204}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("row", "whose"),
    [(row, whose) for row in API_ROWS for whose in (WHOSE if row.self_scoped else ("own",))],
    ids=lambda v: getattr(v, "label", v),
)
def test_api_answers_what_the_table_says(world: World, role: str, row: Row, whose: str) -> None:
    target = world.target(role, whose)
    method, path, body = row.make(world, target)
    refused = refusal(principal(world, role), row.resource, row.action, owner=row.owner(target))
    status, answer = world.api(role, method, path, body)
    if refused is None:
        assert status == SUCCESS[method], answer
    else:
        assert (status, answer) == (403, {"detail": refused})


@pytest.mark.parametrize("role", ROLES)
def test_everyone_lists_exactly_the_api_keys_the_table_lets_them_see(world: World, role: str) -> None:
    status, listing = world.api(role, "GET", f"{V1}/api_keys/", query="perpage=100")
    assert status == 200 and listing["count"] <= 100
    caller = principal(world, role)
    expected = {
        k.id for k in world.store.api_keys.list() if refusal(caller, Resource.API_KEYS, Action.READ, k.user_id) is None
    }
    assert {k["id"] for k in listing["results"]} == expected
    assert any(k["user_id"] == world.outsider.id for k in listing["results"]) == caller.is_admin


# Unknown ids: 404 for whom the table lets do it to what would exist, 403 for the rest. Whose it would be: the id's
# owner where the request names one; CALLER where nobody can know (an unknown rule or key counts as the caller's).
CALLER = "caller"
UNKNOWN = [
    ("GET", f"{V1}/teams/{NOPE}/", None, Resource.TEAMS, Action.READ, None),
    ("PATCH", f"{V1}/teams/{NOPE}/", {"name": "x"}, Resource.TEAMS, Action.UPDATE, None),
    ("DELETE", f"{V1}/teams/{NOPE}/", None, Resource.TEAMS, Action.DELETE, None),
    ("GET", f"{V1}/users/{NOPE}/", None, Resource.USERS, Action.READ, None),
    ("PATCH", f"{V1}/users/{NOPE}/", {"timezone": "UTC"}, Resource.USERS, Action.UPDATE_CONTACTS, NOPE),
    ("DELETE", f"{V1}/users/{NOPE}/", None, Resource.USERS, Action.DELETE, None),
    ("GET", f"{V1}/personal_notification_rules/{NOPE}/", None, Resource.NOTIFICATION_RULES, Action.READ, None),
    (
        "POST",
        f"{V1}/personal_notification_rules/",
        {"user_id": NOPE, "type": "wait"},
        Resource.NOTIFICATION_RULES,
        Action.CREATE,
        NOPE,
    ),
    (
        "PATCH",
        f"{V1}/personal_notification_rules/{NOPE}/",
        {"position": 0},
        Resource.NOTIFICATION_RULES,
        Action.UPDATE,
        CALLER,
    ),
    ("DELETE", f"{V1}/personal_notification_rules/{NOPE}/", None, Resource.NOTIFICATION_RULES, Action.DELETE, CALLER),
    ("POST", f"{V1}/api_keys/", {"name": "x", "user_id": NOPE}, Resource.API_KEYS, Action.CREATE, NOPE),
    ("DELETE", f"{V1}/api_keys/{NOPE}/", None, Resource.API_KEYS, Action.DELETE, CALLER),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "body", "resource", "action", "owner"), UNKNOWN)
def test_unknown_ids_are_404_for_those_the_table_lets_in(
    world: World, role: str, method: str, path: str, body: Any, resource: Resource, action: Action, owner: str | None
) -> None:
    caller = principal(world, role)
    refused = refusal(caller, resource, action, owner=caller.user_id if owner == CALLER else owner)
    expected = (404, {"detail": "Not found."}) if refused is None else (403, {"detail": refused})
    assert world.api(role, method, path, body) == expected


# --- the console --------------------------------------------------------------------------------------------------


def _contacts() -> dict[str, str]:
    return {"email": "", "phone_number": "", "webhook_url": "", "webhook_format": "json", "timezone": "UTC"}


Form = tuple[str, dict[str, str] | None]  # path (a GET when the form is None), form


@dataclass(frozen=True)
class ConsoleStep:
    label: str
    resource: Resource
    action: Action
    make: Callable[[World, User], Form]
    allowed: int  # the status of a permitted call
    self_scoped: bool = False
    owner: Callable[[User], str | None] = lambda target: target.id  # whose the table is told it is


CONSOLE = [
    ConsoleStep("users page", Resource.USERS, Action.READ, lambda w, t: ("/ui/users", None), 200),
    ConsoleStep(
        "create a user",
        Resource.USERS,
        Action.CREATE,
        lambda w, t: ("/ui/users", {"username": unique("u"), "role": "viewer"}),
        303,
    ),
    ConsoleStep(  # a role is more than contact points: nobody's own (as the API's "change a user's teams")
        "change a role",
        Resource.USERS,
        Action.UPDATE_CONTACTS,
        lambda w, t: (f"/ui/users/{w.user().id}/role", {"role": "editor"}),
        303,
        owner=lambda target: None,
    ),
    ConsoleStep(
        "open a profile",
        Resource.USERS,
        Action.READ_PROFILE,
        lambda w, t: (f"/ui/users/{t.id}/profile", None),
        200,
        self_scoped=True,
    ),
    ConsoleStep(
        "save contact points",
        Resource.USERS,
        Action.UPDATE_CONTACTS,
        lambda w, t: (f"/ui/users/{t.id}/profile", _contacts()),
        303,
        self_scoped=True,
    ),
    ConsoleStep(
        "add a notification step",
        Resource.NOTIFICATION_RULES,
        Action.CREATE,
        lambda w, t: (f"/ui/users/{t.id}/rules", {"type": "notify_by_sms", "important": "false"}),
        303,
        self_scoped=True,
    ),
    ConsoleStep(
        "move a step up",
        Resource.NOTIFICATION_RULES,
        Action.UPDATE,
        lambda w, t: (f"/ui/users/{t.id}/rules/{w.rule(t.id).id}/up", {}),
        303,
        self_scoped=True,
    ),
    ConsoleStep(  # the last step goes no further down: still the table's answer, not "already last" for everyone
        "move the last step down",
        Resource.NOTIFICATION_RULES,
        Action.UPDATE,
        lambda w, t: (f"/ui/users/{t.id}/rules/{w.rule(t.id).id}/down", {}),
        303,
        self_scoped=True,
    ),
    ConsoleStep(
        "delete a step",
        Resource.NOTIFICATION_RULES,
        Action.DELETE,
        lambda w, t: (f"/ui/users/{t.id}/rules/{w.rule(t.id).id}/delete", {}),
        303,
        self_scoped=True,
    ),
    ConsoleStep("keys page", Resource.API_KEYS, Action.READ, lambda w, t: ("/ui/keys", None), 200),
    ConsoleStep(
        "create a key",
        Resource.API_KEYS,
        Action.CREATE,
        lambda w, t: ("/ui/keys", {"name": unique("k"), "user_id": t.id}),
        201,
        self_scoped=True,
    ),
    ConsoleStep(
        "revoke a key",
        Resource.API_KEYS,
        Action.DELETE,
        lambda w, t: (f"/ui/keys/{w.key(t.id).id}/revoke", {}),
        303,
        self_scoped=True,
    ),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("step", "whose"),
    [(step, whose) for step in CONSOLE for whose in (WHOSE if step.self_scoped else ("own",))],
    ids=lambda v: getattr(v, "label", v),
)
def test_console_answers_what_the_table_says(world: World, role: str, step: ConsoleStep, whose: str) -> None:
    browser, target = world.browsers[role], world.target(role, whose)
    path, form = step.make(world, target)
    refused = refusal(principal(world, role), step.resource, step.action, owner=step.owner(target))
    if form is None:
        response = browser.call("GET", path)
    else:
        token = browser.csrf("/ui/keys")
        response = browser.call("POST", path, {"csrf_token": token, **form}, referer=f"https://tocsin.test{path}")
    if refused is None:
        assert response["statusCode"] == step.allowed, response["body"][:500]
        if response["statusCode"] == 303:
            assert "error=" not in response["headers"]["Location"], response["headers"]["Location"]
    else:
        assert response["statusCode"] == 403 and refused in response["body"], response["body"][:500]


@pytest.mark.parametrize("role", ROLES)
def test_console_unknown_ids(world: World, role: str) -> None:
    browser = world.browsers[role]
    refused = refusal(principal(world, role), Resource.USERS, Action.READ_PROFILE, owner=NOPE)
    assert browser.call("GET", f"/ui/users/{NOPE}/profile")["statusCode"] == (404 if refused is None else 403)
    token = browser.csrf("/ui/keys")
    for path in (f"/ui/keys/{NOPE}/revoke", f"/ui/users/{world.members[role].id}/rules/{NOPE}/delete"):
        # a refused form goes back to where it came from, with the use case's message
        response = browser.call("POST", path, {"csrf_token": token}, referer="https://tocsin.test/ui/keys")
        assert response["statusCode"] == 303, path
        assert parse_qs(urlsplit(response["headers"]["Location"]).query)["error"] == ["Not found."]


@pytest.mark.parametrize("role", ROLES)
def test_the_console_shows_the_forms_the_table_allows(world: World, role: str) -> None:
    browser, caller = world.browsers[role], principal(world, role)

    def shown(page: str, marker: str) -> bool:
        return marker in browser.call("GET", page)["body"]

    def allows(resource: Resource, action: Action, owner: str | None = None) -> bool:
        return refusal(caller, resource, action, owner) is None

    assert shown("/ui/users", "Create user") == allows(Resource.USERS, Action.CREATE)
    assert shown("/ui/users", f'action="/ui/users/{world.teammate.id}/role"') == allows(Resource.USERS, Action.UPDATE)
    teammate = world.teammate.id
    assert shown("/ui/users", f'href="/ui/users/{teammate}/profile"') == allows(
        Resource.USERS, Action.READ_PROFILE, teammate
    )
    own = caller.user_id
    assert shown("/ui/profile", "Save contact points and settings") == allows(
        Resource.USERS, Action.UPDATE_CONTACTS, own
    )
    assert shown("/ui/profile", "Add to default notifications") == allows(
        Resource.NOTIFICATION_RULES, Action.CREATE, own
    )
    assert shown("/ui/keys", "Other users' keys") == allows(Resource.API_KEYS, Action.READ, teammate)
    assert shown("/ui/keys", 'name="user_id"') == allows(Resource.API_KEYS, Action.CREATE, teammate)
