"""Escalation chains, their steps and outgoing webhooks against the policy table (:mod:`oncall.services.policy`),
through the real api and web handlers on DynamoDB Local.

Every API route and console action of the aggregate is tried by a viewer, an editor and an admin of team "ours",
on a chain (or webhook) of "ours", of "theirs" and of no team; the answer must be the table's: the success
status, or 403 with the table's message. Unknown ids answer 404 to whoever may change such things at all.
The table is the oracle (``policy.allows``), so these tests follow it when it changes.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from oncall import schemas
from oncall.bootstrap import ADMIN_USER_ID
from oncall.clock import SYSTEM_CLOCK
from oncall.container import Container
from oncall.directory import EscalationChain, EscalationPolicy, OutgoingWebhook
from oncall.errors import PermissionDenied
from oncall.services import chains, policy, webhooks
from oncall.services.api_keys import issue
from oncall.services.policy import Action, Principal, Resource

from tests.integration.conftest import Context, Invoke, http_event, load_handler, module_store
from tests.integration.test_access import key_for, user
from tests.integration.web_browser import Browser

ROLES = ("viewer", "editor", "admin")
SCOPES = ("ours", "theirs", "none")  # the team of the chain or webhook tried: the callers' team, another, none
ADMIN = Principal(ADMIN_USER_ID, "admin", "admin")
CSRF: dict[Browser, str] = {}  # a session's CSRF token (the same for every form of the session)
CHANGES = {"create": Action.CREATE, "update": Action.UPDATE, "delete": Action.DELETE}
OK = {"create": 201, "update": 200, "delete": 204}


@dataclass
class Env:
    """One table, one api and one web handler for the whole module; a user, key and signed-in browser per role."""

    api_module: ModuleType
    teams: dict[str, str | None]  # scope -> team id
    keys: dict[str, str]
    browsers: dict[str, Browser]
    principals: dict[str, Principal]

    @property
    def ports(self) -> Container:
        return self.api_module.container  # type: ignore[no-any-return]

    def api(self, role: str, method: str, path: str, body: Any = None, query: str = "") -> tuple[int, Any]:
        event = http_event(method, f"/api/v1/{path}", body, headers={"authorization": self.keys[role]}, query=query)
        response = self.api_module.handler(event, Context())
        text = response.get("body")
        return response["statusCode"], json.loads(text) if text else None

    def chain(self, scope: str) -> EscalationChain:
        body = schemas.ChainIn(name=f"chain {uuid.uuid4().hex[:8]}", team_id=self.teams[scope])
        return chains.create_chain(self.ports, ADMIN, body)

    def steps(self, chain: EscalationChain, count: int = 2) -> list[EscalationPolicy]:
        body = schemas.PolicyIn(escalation_chain_id=chain.id, type="resolve")
        return [chains.create_policy(self.ports, ADMIN, body) for _ in range(count)]

    def webhook(self, scope: str) -> OutgoingWebhook:
        body = schemas.WebhookIn(
            name=f"hook {uuid.uuid4().hex[:8]}", url="https://hooks.example/x", team_id=self.teams[scope]
        )
        return webhooks.create_webhook(self.ports, ADMIN, body)

    def made(self, resource: str, scope: str) -> Any:
        return self.chain(scope) if resource == "escalation_chains" else self.webhook(scope)


@pytest.fixture(scope="module")
def env(dynamodb_endpoint: str) -> Iterator[Env]:
    # hundreds of rows from a few keys
    with module_store(dynamodb_endpoint, TOCSIN_API_RATE_LIMIT="100000/60") as store:
        admin_key = issue(store, user_id=ADMIN_USER_ID, name="tests", now=SYSTEM_CLOCK.now()).secret
        api_module = load_handler("api")

        def admin(method: str, path: str, body: Any = None, *, key_header: str | None = admin_key) -> tuple[int, Any]:
            headers = {"authorization": key_header} if key_header else {}
            response = api_module.handler(http_event(method, path, body, headers=headers), Context())
            return response["statusCode"], json.loads(response["body"]) if response.get("body") else None

        invoke: Invoke = admin
        ours = invoke("POST", "/api/v1/teams/", {"name": "ours"})[1]["id"]
        theirs = invoke("POST", "/api/v1/teams/", {"name": "theirs"})[1]["id"]
        users = {role: user(invoke, f"{role}-of-ours", role, [ours]) for role in ROLES}
        keys = {role: key_for(invoke, u["id"]) for role, u in users.items()}
        web = load_handler("web")
        browsers = {}
        for role, key in keys.items():
            browsers[role] = Browser(web)
            assert browsers[role].sign_in(key)["statusCode"] == 303
            CSRF[browsers[role]] = browsers[role].csrf("/ui/chains")
        yield Env(
            api_module=api_module,
            teams={"ours": ours, "theirs": theirs, "none": None},
            keys=keys,
            browsers=browsers,
            principals={
                role: Principal(u["id"], u["username"], role, frozenset([ours]))  # type: ignore[arg-type]
                for role, u in users.items()
            },
        )


def _refusal(principal: Principal, resource: Resource, action: Action) -> str:
    """The message of the table's 403: its row's, once the role is enough and only the scope refuses."""
    rule = policy.rule(resource, action)
    assert rule is not None
    return rule.denied if principal.at_least(rule.role) else PermissionDenied().message


def _expect(
    env: Env, role: str, resource: Resource, action: Action, teams: list[str | None], ok: int
) -> tuple[int, Any]:
    principal = env.principals[role]
    if policy.allows(principal, resource, action, teams=teams):
        return ok, None
    return 403, {"detail": _refusal(principal, resource, action)}


def _check(answer: tuple[int, Any], expected: tuple[int, Any]) -> None:
    status, body = answer
    assert status == expected[0], body
    if expected[1] is not None:
        assert body == expected[1]


# --- the API ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_everyone_reads_chains_steps_and_webhooks(env: Env, role: str) -> None:
    chain, hook = env.chain("theirs"), env.webhook("theirs")
    step = env.steps(chain, 1)[0]
    for resource, path in (
        (Resource.ESCALATION_CHAINS, "escalation_chains"),
        (Resource.ESCALATION_CHAINS, f"escalation_chains/{chain.id}"),
        (Resource.ESCALATION_CHAINS, "escalation_policies"),
        (Resource.ESCALATION_CHAINS, f"escalation_policies/{step.id}"),
        (Resource.WEBHOOKS, "webhooks"),
        (Resource.WEBHOOKS, f"webhooks/{hook.id}"),
    ):
        _check(env.api(role, "GET", path), _expect(env, role, resource, Action.READ, [None], 200))
    listed = env.api(role, "GET", "escalation_policies", query=f"escalation_chain_id={chain.id}")[1]
    assert [p["id"] for p in listed["results"]] == [step.id]


RESOURCES = {"escalation_chains": Resource.ESCALATION_CHAINS, "webhooks": Resource.WEBHOOKS}


def _new_body(path: str, team_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": f"new {uuid.uuid4().hex[:8]}", "team_id": team_id}
    return {**body, "url": "https://hooks.example/new"} if path == "webhooks" else body


@pytest.mark.parametrize("path", RESOURCES)
@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("role", ROLES)
def test_changing_chains_and_webhooks(env: Env, role: str, scope: str, change: str, path: str) -> None:
    resource, team = RESOURCES[path], env.teams[scope]
    expected = _expect(env, role, resource, CHANGES[change], [team], OK[change])
    if change == "create":
        answer = env.api(role, "POST", path, _new_body(path, team))
    else:
        target = env.made(path, scope)
        method, body = (
            ("PATCH", {"name": f"renamed {uuid.uuid4().hex[:8]}"}) if change == "update" else ("DELETE", None)
        )
        answer = env.api(role, method, f"{path}/{target.id}", body)
        still = env.api("admin", "GET", f"{path}/{target.id}")
        if expected[0] == 403:  # refused: nothing changed
            assert still == (200, {**still[1], "name": target.name})
        elif change == "delete":
            assert still[0] == 404
    _check(answer, expected)


MOVES = [(source, target) for source in SCOPES for target in SCOPES if source != target]


@pytest.mark.parametrize("path", RESOURCES)
@pytest.mark.parametrize(("source", "target"), MOVES)
@pytest.mark.parametrize("role", ROLES)
def test_moving_to_another_team_needs_the_right_in_both(
    env: Env, role: str, source: str, target: str, path: str
) -> None:
    """The hole of issue #15: an editor could move their own chain or webhook into any team."""
    made = env.made(path, source)
    teams = [env.teams[source], env.teams[target]]
    expected = _expect(env, role, RESOURCES[path], Action.UPDATE, teams, 200)
    _check(env.api(role, "PATCH", f"{path}/{made.id}", {"team_id": env.teams[target]}), expected)
    stays = env.teams[target] if expected[0] == 200 else env.teams[source]
    assert env.api("admin", "GET", f"{path}/{made.id}")[1]["team_id"] == stays


STEP_CHANGES = ("create", "update", "delete")


@pytest.mark.parametrize("change", STEP_CHANGES)
@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("role", ROLES)
def test_a_step_is_changed_as_its_chain(env: Env, role: str, scope: str, change: str) -> None:
    chain = env.chain(scope)
    first, second = env.steps(chain)
    expected = _expect(env, role, Resource.ESCALATION_CHAINS, Action.UPDATE, [env.teams[scope]], OK[change])
    if change == "create":
        answer = env.api(role, "POST", "escalation_policies", {"escalation_chain_id": chain.id, "type": "resolve"})
    elif change == "update":
        answer = env.api(role, "PATCH", f"escalation_policies/{second.id}", {"position": 0})
    else:
        answer = env.api(role, "DELETE", f"escalation_policies/{first.id}")
    _check(answer, expected)
    steps = env.api("admin", "GET", "escalation_policies", query=f"escalation_chain_id={chain.id}")[1]["results"]
    if expected[0] == 403:
        assert [(p["id"], p["position"]) for p in steps] == [(first.id, 0), (second.id, 1)]
    else:
        assert [p["position"] for p in steps] == list(range(len(steps)))


UNKNOWN = ["escalation_chains/FNOSUCHCHAIN1", "escalation_policies/ENOSUCHSTEP12", "webhooks/WHNOSUCHHOOK1"]


@pytest.mark.parametrize("path", UNKNOWN)
@pytest.mark.parametrize("role", ROLES)
def test_unknown_ids_are_404_to_whoever_may_change_them(env: Env, role: str, path: str) -> None:
    resource = Resource.WEBHOOKS if path.startswith("webhooks") else Resource.ESCALATION_CHAINS
    step = path.startswith("escalation_policies")  # changing or deleting a step updates its chain
    not_found = (404, {"detail": "Not found."})
    assert env.api(role, "GET", path) == not_found
    for method, action, body in (
        ("PATCH", Action.UPDATE, {"position": 0} if step else {"name": "x"}),
        ("DELETE", Action.UPDATE if step else Action.DELETE, None),
    ):
        expected = _expect(env, role, resource, action, [None], 404)
        _check(env.api(role, method, path, body), not_found if expected[0] == 404 else expected)
    chain_of_no_one = {"escalation_chain_id": "FNOSUCHCHAIN1", "type": "resolve"}
    expected = _expect(env, role, Resource.ESCALATION_CHAINS, Action.UPDATE, [None], 404)
    _check(env.api(role, "POST", "escalation_policies", chain_of_no_one), expected)


# --- the console --------------------------------------------------------------------------------------------------


def _post(browser: Browser, path: str, form: dict[str, str] | None = None) -> dict[str, Any]:
    """Submit a form from its page (the referer, where a refusal leads back), with the session's CSRF token."""
    page = re.match(r"/ui/chains(/[\w-]+)?", path)
    assert page, path
    referer = f"https://tocsin.test{page[0]}"
    return browser.call("POST", path, {"csrf_token": CSRF[browser], **(form or {})}, referer=referer)


def _answer(response: dict[str, Any]) -> tuple[int, str]:
    """The status, and the notice or error a redirect carries (a refusal's page: its text)."""
    if response["statusCode"] == 303:
        query = parse_qs(urlsplit(response["headers"]["Location"]).query)
        return 303, (query.get("notice") or query.get("error") or [""])[0]
    return response["statusCode"], html.unescape(response["body"])


def _console_expect(env: Env, role: str, action: Action, team: str | None) -> int:
    return 303 if policy.allows(env.principals[role], Resource.ESCALATION_CHAINS, action, teams=[team]) else 403


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("role", ROLES)
def test_console_pages_show_the_forms_the_table_allows(env: Env, role: str, scope: str) -> None:
    chain = env.chain(scope)
    env.steps(chain)
    principal, team = env.principals[role], env.teams[scope]
    page = env.browsers[role].call("GET", f"/ui/chains/{chain.id}")
    assert page["statusCode"] == 200
    forms = set(re.findall(r'<form[^>]*action="([^"]+)"', page["body"]))
    changes = {f"/ui/chains/{chain.id}/{end}" for end in ("rename", "delete", "steps")}
    may = policy.allows(principal, Resource.ESCALATION_CHAINS, Action.UPDATE, teams=[team])
    assert (changes <= forms) is may and (not forms & changes) is (not may)
    listing = env.browsers[role].call("GET", "/ui/chains")
    assert listing["statusCode"] == 200 and chain.name in html.unescape(listing["body"])
    may_create = policy.allows(principal, Resource.ESCALATION_CHAINS, Action.CREATE, teams=[team])
    offered = re.search(r'<select id="new-chain-team".*?</select>', listing["body"], re.S)
    if team is None:
        assert ('action="/ui/chains"' in listing["body"]) is may_create
    else:
        assert (offered is not None and f'value="{team}"' in offered[0]) is may_create


CONSOLE_ACTIONS = ("create", "rename", "delete", "add step", "step up", "step down", "first step up", "delete step")


@pytest.mark.parametrize("action", CONSOLE_ACTIONS)
@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("role", ROLES)
def test_console_actions(env: Env, role: str, scope: str, action: str) -> None:
    browser, team = env.browsers[role], env.teams[scope]
    if action == "create":
        expected = _console_expect(env, role, Action.CREATE, team)
        answer = _answer(_post(browser, "/ui/chains", {"name": f"new {uuid.uuid4().hex[:8]}", "team_id": team or ""}))
        assert answer[0] == expected, answer
        return
    chain = env.chain(scope)
    first, second = env.steps(chain)
    base = f"/ui/chains/{chain.id}"
    path, form, needs = {
        "rename": (f"{base}/rename", {"name": f"renamed {uuid.uuid4().hex[:8]}"}, Action.UPDATE),
        "delete": (f"{base}/delete", {}, Action.DELETE),
        "add step": (f"{base}/steps", {"type": "resolve"}, Action.UPDATE),
        "step up": (f"{base}/steps/{second.id}/up", {}, Action.UPDATE),
        "step down": (f"{base}/steps/{first.id}/down", {}, Action.UPDATE),
        "first step up": (f"{base}/steps/{first.id}/up", {}, Action.UPDATE),  # nothing to do, but still checked
        "delete step": (f"{base}/steps/{second.id}/delete", {}, Action.UPDATE),
    }[action]
    status, text = _answer(_post(browser, path, form))
    assert status == _console_expect(env, role, needs, team), text
    if status == 403:
        assert _refusal(env.principals[role], Resource.ESCALATION_CHAINS, needs) in text
        assert chains.get_chain(env.ports, ADMIN, chain.id) == chain
        assert chains.list_policies(env.ports, ADMIN, chain_id=chain.id) == [first, second]
    else:
        assert (
            text
            == {
                "rename": "Escalation chain renamed.",
                "delete": f"Escalation chain “{chain.name}” deleted.",
                "add step": "Step added.",
                "step up": "Step moved up.",
                "step down": "Step moved down.",
                "first step up": "The step is already first.",
                "delete step": "Step deleted.",
            }[action]
        )


@pytest.mark.parametrize("role", ROLES)
def test_console_unknown_chains_and_steps(env: Env, role: str) -> None:
    browser = env.browsers[role]
    assert browser.call("GET", "/ui/chains/FNOSUCHCHAIN1")["statusCode"] == 404
    chain = env.chain("none")
    other_chain = env.chain("none")
    [other_step] = env.steps(other_chain, 1)
    may = policy.allows(env.principals[role], Resource.ESCALATION_CHAINS, Action.UPDATE)
    for path in (
        "/ui/chains/FNOSUCHCHAIN1/rename",
        "/ui/chains/FNOSUCHCHAIN1/steps",
        "/ui/chains/FNOSUCHCHAIN1/delete",
        f"/ui/chains/{chain.id}/steps/ENOSUCHSTEP12/delete",
        f"/ui/chains/{chain.id}/steps/{other_step.id}/up",  # a step of another chain under this chain's address
        f"/ui/chains/{chain.id}/steps/{other_step.id}/delete",
    ):
        answer = _answer(_post(browser, path, {"name": "x", "type": "resolve"}))
        assert answer == ((303, "Not found.") if may else (403, answer[1])), path
    assert chains.list_policies(env.ports, ADMIN, chain_id=other_chain.id) == [other_step]


@pytest.mark.parametrize(("path", "body"), [("escalation_chains", {}), ("webhooks", {"url": "https://hooks.test/x"})])
def test_editors_cannot_move_their_chains_or_webhooks_into_another_team(
    api: Invoke, path: str, body: dict[str, Any]
) -> None:
    """The hole of issue #15, as an editor meets it."""
    ours = api("POST", "/api/v1/teams/", {"name": "ours"})[1]["id"]
    theirs = api("POST", "/api/v1/teams/", {"name": "theirs"})[1]["id"]
    editor = key_for(api, user(api, "eddie", "editor", [ours])["id"])
    status, mine = api("POST", f"/api/v1/{path}/", {"name": "mine", "team_id": ours, **body}, key_header=editor)
    assert status == 201, mine

    moved = api("PATCH", f"/api/v1/{path}/{mine['id']}/", {"team_id": theirs}, key_header=editor)
    assert moved == (403, {"detail": "You can only change what belongs to your teams."})
    assert api("GET", f"/api/v1/{path}/{mine['id']}/")[1]["team_id"] == ours
    # to no team, and back: both teams are the editor's to change
    assert api("PATCH", f"/api/v1/{path}/{mine['id']}/", {"team_id": None}, key_header=editor)[0] == 200
    assert api("PATCH", f"/api/v1/{path}/{mine['id']}/", {"team_id": ours}, key_header=editor)[0] == 200
