"""Every route of the management API and every action of the console against the policy table
(:mod:`oncall.services.policy`), through the real api and web handlers on DynamoDB Local.

:data:`API` and :data:`CONSOLE` give each route its row of the table (resource x action), what it acts on and a
request that succeeds. :func:`test_every_route_has_a_row` reads the routes from the built app (its routers) and
from the console's route list: a new route without a row fails. Then each role (viewer, editor, admin of team
"ours") calls each route on a thing of "ours", of "theirs" and of no team (self-scoped things: their own and
someone else's) and gets exactly the table's answer: the route's success status, or 403. An unknown id is 404 to
whoever may do that to such a thing at all (of no team, or their own: existence is not hidden from who could know
it), else 403.

The table is the oracle (``policy.allows``): this walk follows it when it changes. The tests of each aggregate
(``test_policy_<aggregate>.py``) check the finer points (messages, moves between teams, what a refusal leaves).
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from oncall.api import routes as api_routes
from oncall.api.app import OPENAPI_PATH
from oncall.bootstrap import ADMIN_USER_ID
from oncall.clock import SYSTEM_CLOCK
from oncall.services import policy
from oncall.services.api_keys import issue
from oncall.services.policy import Action, Principal, Resource
from oncall.web.app import all_routes

from tests.integration.conftest import Context, http_event, load_handler, module_store
from tests.integration.web_browser import Browser

pytestmark = pytest.mark.xdist_group("policy_routes")  # one worker builds the module's world once

ROLES = ("viewer", "editor", "admin")
TEAMS = ("ours", "theirs", "none")  # whose thing a case acts on: the callers' team, another team, no team
OWNERS = ("own", "other")  # self-scoped things: the caller's own, someone else's
UNKNOWN = "ZZNOSUCHTHING1"
_names = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix} {next(_names)} {uuid.uuid4().hex[:6]}"


# --- what each route acts on ----------------------------------------------------------------------------------------


@dataclass
class Target:
    """The path parameters of a thing made for a case, and whose it is (for the oracle)."""

    params: dict[str, str]
    team: str | None = None
    owner: str | None = None


Make = Callable[["World", str | None, str | None], Target]  # (world, team id, owner user id) -> target


def _integration(w: World, team: str | None, _: str | None, kind: str = "webhook") -> Target:
    made = w.admin("POST", "integrations", {"name": unique("int"), "type": kind, "team_id": team})
    return Target({"integration_id": made["id"]}, team)


def _in_maintenance(w: World, team: str | None, owner: str | None) -> Target:
    target = _integration(w, team, owner)
    w.admin(
        "POST",
        f"integrations/{target.params['integration_id']}/maintenance_start",
        {"mode": "maintenance", "duration": 3600},
    )
    return target


def _route(w: World, team: str | None, owner: str | None) -> Target:
    target = _integration(w, team, owner)
    made = w.admin("POST", "routes", {"integration_id": target.params["integration_id"], "routing_regex": "x"})
    return Target({**target.params, "route_id": made["id"]}, team)


def _chain(w: World, team: str | None, _: str | None) -> Target:
    made = w.admin("POST", "escalation_chains", {"name": unique("chain"), "team_id": team})
    return Target({"chain_id": made["id"]}, team)


def _step(w: World, team: str | None, owner: str | None) -> Target:
    target = _chain(w, team, owner)
    chain_id = target.params["chain_id"]
    first, second = (
        w.admin("POST", "escalation_policies", {"escalation_chain_id": chain_id, "type": "resolve"}) for _ in range(2)
    )
    return Target({**target.params, "policy_id": second["id"], "first_policy_id": first["id"]}, team)


def _webhook(w: World, team: str | None, _: str | None) -> Target:
    made = w.admin("POST", "webhooks", {"name": unique("hook"), "url": "https://hooks.example/x", "team_id": team})
    return Target({"webhook_id": made["id"]}, team)


def _schedule(w: World, team: str | None, _: str | None) -> Target:
    made = w.admin("POST", "schedules", {"name": unique("sched"), "type": "calendar", "team_id": team})
    return Target({"schedule_id": made["id"]}, team)


SHIFT = {"type": "single_event", "start": "2030-01-01T00:00:00", "duration": 3600, "users": [ADMIN_USER_ID]}


def _shift(w: World, team: str | None, owner: str | None) -> Target:
    schedule = _schedule(w, team, owner)
    body = {**SHIFT, "name": unique("shift"), "team_id": team, "schedule_id": schedule.params["schedule_id"]}
    made = w.admin("POST", "on_call_shifts", body)
    return Target({**schedule.params, "shift_id": made["id"]}, team)


def _group(w: World, team: str | None, _: str | None) -> Target:
    made = w.admin("POST", "escalation", {"users": [{"id": ADMIN_USER_ID}], "title": unique("page")})
    return Target({"group_id": made["id"]}, team)


def _note(w: World, team: str | None, owner: str | None) -> Target:
    group = _group(w, team, owner)
    made = w.admin("POST", "resolution_notes", {"alert_group_id": group.params["group_id"], "text": unique("note")})
    return Target({**group.params, "note_id": made["id"]}, team)


def _team(w: World, _: str | None, __: str | None) -> Target:
    return Target({"team_id": w.admin("POST", "teams", {"name": unique("team")})["id"]})


def _user(w: World, _: str | None, owner: str | None) -> Target:
    assert owner is not None
    return Target({"user_id": owner}, owner=owner)


def _new_user(w: World, _: str | None, __: str | None) -> Target:
    made = w.admin("POST", "users", {"username": unique("user").replace(" ", "-"), "role": "viewer"})
    return Target({"user_id": made["id"]}, owner=made["id"])


def _rule(w: World, _: str | None, owner: str | None) -> Target:
    made = w.admin("POST", "personal_notification_rules", {"user_id": owner, "type": "wait", "duration": 300})
    return Target({"user_id": str(owner), "rule_id": made["id"]}, owner=owner)


def _key(w: World, _: str | None, owner: str | None) -> Target:
    made = w.admin("POST", "api_keys", {"name": unique("key"), "user_id": owner})
    return Target({"key_id": made["id"]}, owner=owner)


def _nothing(w: World, team: str | None, owner: str | None) -> Target:
    return Target({}, team, owner)


def _me(w: World, _: str | None, owner: str | None) -> Target:
    """The caller's own (a console page of one's own profile or keys)."""
    return Target({}, owner=owner)


TEAM_SCOPED = {_integration, _in_maintenance, _route, _chain, _step, _webhook, _schedule, _shift}
OWNED = {_user, _rule, _key}


@dataclass(frozen=True)
class Row:
    """A route's row of the policy table, what it acts on, a request that succeeds, and the success status."""

    resource: Resource
    action: Action
    make: Make
    path: str  # below /api/v1 or /ui, with {param}s of the target
    body: Callable[[Target], Any] | None = None
    ok: int = 200
    query: str = ""
    htmx: bool = False  # sent as htmx sends it (the console's partial answers)
    public: bool = False  # no caller (signed links, the OpenAPI document): not a policy row
    scoped_by_body: bool = False  # the thing's team is given in the body (create): cases over TEAMS

    def scopes(self) -> tuple[str, ...]:
        if self.make is _me:
            return ("own",)
        if self.make in OWNED:
            return OWNERS
        if self.make in TEAM_SCOPED or self.scoped_by_body:
            return TEAMS
        return ("none",)


R, A = Resource, Action


# API routes: (method, rule as declared) -> row. PUT and PATCH share a rule; PATCH is tried.
API: dict[tuple[str, str], Row] = {
    ("GET", "/api/v1/integrations"): Row(R.INTEGRATIONS, A.READ, _nothing, "integrations"),
    ("POST", "/api/v1/integrations"): Row(
        R.INTEGRATIONS,
        A.CREATE,
        _nothing,
        "integrations",
        lambda t: {"name": unique("i"), "type": "webhook", "team_id": t.team},
        201,
        scoped_by_body=True,
    ),
    ("GET", "/api/v1/integrations/<integration_id>"): Row(
        R.INTEGRATIONS, A.READ, _integration, "integrations/{integration_id}"
    ),
    ("PATCH", "/api/v1/integrations/<integration_id>"): Row(
        R.INTEGRATIONS, A.UPDATE, _integration, "integrations/{integration_id}", lambda t: {"name": unique("i")}
    ),
    ("DELETE", "/api/v1/integrations/<integration_id>"): Row(
        R.INTEGRATIONS, A.DELETE, _integration, "integrations/{integration_id}", ok=204
    ),
    ("POST", "/api/v1/integrations/<integration_id>/send_demo_alert"): Row(
        R.INTEGRATIONS, A.UPDATE, _integration, "integrations/{integration_id}/send_demo_alert"
    ),
    ("POST", "/api/v1/integrations/<integration_id>/regenerate_token"): Row(
        R.INTEGRATIONS, A.UPDATE, _integration, "integrations/{integration_id}/regenerate_token"
    ),
    ("POST", "/api/v1/integrations/<integration_id>/maintenance_start"): Row(
        R.INTEGRATIONS,
        A.UPDATE,
        _integration,
        "integrations/{integration_id}/maintenance_start",
        lambda t: {"mode": "maintenance", "duration": 3600},
    ),
    ("POST", "/api/v1/integrations/<integration_id>/maintenance_stop"): Row(
        R.INTEGRATIONS, A.UPDATE, _in_maintenance, "integrations/{integration_id}/maintenance_stop"
    ),
    ("POST", "/api/v1/integrations/<integration_id>/heartbeat_reset"): Row(
        R.INTEGRATIONS, A.UPDATE, _integration, "integrations/{integration_id}/heartbeat_reset"
    ),
    ("GET", "/api/v1/routes"): Row(R.ROUTES, A.READ, _nothing, "routes"),
    ("POST", "/api/v1/routes"): Row(
        R.ROUTES,
        A.CREATE,
        _integration,
        "routes",
        lambda t: {"integration_id": t.params["integration_id"], "routing_regex": "y"},
        201,
    ),
    ("GET", "/api/v1/routes/<route_id>"): Row(R.ROUTES, A.READ, _route, "routes/{route_id}"),
    ("PATCH", "/api/v1/routes/<route_id>"): Row(
        R.ROUTES, A.UPDATE, _route, "routes/{route_id}", lambda t: {"routing_regex": "z"}
    ),
    ("DELETE", "/api/v1/routes/<route_id>"): Row(R.ROUTES, A.DELETE, _route, "routes/{route_id}", ok=204),
    ("GET", "/api/v1/escalation_chains"): Row(R.ESCALATION_CHAINS, A.READ, _nothing, "escalation_chains"),
    ("POST", "/api/v1/escalation_chains"): Row(
        R.ESCALATION_CHAINS,
        A.CREATE,
        _nothing,
        "escalation_chains",
        lambda t: {"name": unique("c"), "team_id": t.team},
        201,
        scoped_by_body=True,
    ),
    ("GET", "/api/v1/escalation_chains/<chain_id>"): Row(
        R.ESCALATION_CHAINS, A.READ, _chain, "escalation_chains/{chain_id}"
    ),
    ("PATCH", "/api/v1/escalation_chains/<chain_id>"): Row(
        R.ESCALATION_CHAINS, A.UPDATE, _chain, "escalation_chains/{chain_id}", lambda t: {"name": unique("c")}
    ),
    ("DELETE", "/api/v1/escalation_chains/<chain_id>"): Row(
        R.ESCALATION_CHAINS, A.DELETE, _chain, "escalation_chains/{chain_id}", ok=204
    ),
    ("GET", "/api/v1/escalation_policies"): Row(R.ESCALATION_CHAINS, A.READ, _nothing, "escalation_policies"),
    ("POST", "/api/v1/escalation_policies"): Row(
        R.ESCALATION_CHAINS,
        A.UPDATE,
        _chain,
        "escalation_policies",
        lambda t: {"escalation_chain_id": t.params["chain_id"], "type": "resolve"},
        201,
    ),
    ("GET", "/api/v1/escalation_policies/<policy_id>"): Row(
        R.ESCALATION_CHAINS, A.READ, _step, "escalation_policies/{policy_id}"
    ),
    ("PATCH", "/api/v1/escalation_policies/<policy_id>"): Row(
        R.ESCALATION_CHAINS, A.UPDATE, _step, "escalation_policies/{policy_id}", lambda t: {"position": 0}
    ),
    ("DELETE", "/api/v1/escalation_policies/<policy_id>"): Row(
        R.ESCALATION_CHAINS, A.UPDATE, _step, "escalation_policies/{policy_id}", ok=204
    ),
    ("GET", "/api/v1/webhooks"): Row(R.WEBHOOKS, A.READ, _nothing, "webhooks"),
    ("POST", "/api/v1/webhooks"): Row(
        R.WEBHOOKS,
        A.CREATE,
        _nothing,
        "webhooks",
        lambda t: {"name": unique("w"), "url": "https://hooks.example/y", "team_id": t.team},
        201,
        scoped_by_body=True,
    ),
    ("GET", "/api/v1/webhooks/<webhook_id>"): Row(R.WEBHOOKS, A.READ, _webhook, "webhooks/{webhook_id}"),
    ("PATCH", "/api/v1/webhooks/<webhook_id>"): Row(
        R.WEBHOOKS, A.UPDATE, _webhook, "webhooks/{webhook_id}", lambda t: {"name": unique("w")}
    ),
    ("DELETE", "/api/v1/webhooks/<webhook_id>"): Row(R.WEBHOOKS, A.DELETE, _webhook, "webhooks/{webhook_id}", ok=204),
    ("GET", "/api/v1/schedules"): Row(R.SCHEDULES, A.READ, _nothing, "schedules"),
    ("POST", "/api/v1/schedules"): Row(
        R.SCHEDULES,
        A.CREATE,
        _nothing,
        "schedules",
        lambda t: {"name": unique("s"), "type": "calendar", "team_id": t.team},
        201,
        scoped_by_body=True,
    ),
    ("GET", "/api/v1/schedules/<schedule_id>"): Row(R.SCHEDULES, A.READ, _schedule, "schedules/{schedule_id}"),
    ("PATCH", "/api/v1/schedules/<schedule_id>"): Row(
        R.SCHEDULES, A.UPDATE, _schedule, "schedules/{schedule_id}", lambda t: {"name": unique("s")}
    ),
    ("DELETE", "/api/v1/schedules/<schedule_id>"): Row(
        R.SCHEDULES, A.DELETE, _schedule, "schedules/{schedule_id}", ok=204
    ),
    ("GET", "/api/v1/schedules/<schedule_id>/final_shifts"): Row(
        R.SCHEDULES, A.READ, _schedule, "schedules/{schedule_id}/final_shifts"
    ),
    ("GET", "/api/v1/schedules/<schedule_id>/export"): Row(
        R.SCHEDULES, A.READ, _schedule, "schedules/{schedule_id}/export"
    ),
    ("POST", "/api/v1/schedules/<schedule_id>/export_token"): Row(
        R.SCHEDULES, A.READ, _schedule, "schedules/{schedule_id}/export_token", ok=201
    ),
    ("POST", "/api/v1/schedules/<schedule_id>/import"): Row(
        R.SCHEDULES,
        A.UPDATE,
        _schedule,
        "schedules/{schedule_id}/import",
        lambda t: {"content": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"},
    ),
    ("GET", "/api/v1/users/<user_id>/schedule_export"): Row(
        R.SCHEDULES, A.READ, _user, "users/{user_id}/schedule_export"
    ),
    ("POST", "/api/v1/users/<user_id>/schedule_export_token"): Row(
        R.SCHEDULES, A.READ, _user, "users/{user_id}/schedule_export_token", ok=201
    ),
    ("GET", "/api/v1/on_call_shifts"): Row(R.SCHEDULES, A.READ, _nothing, "on_call_shifts"),
    ("POST", "/api/v1/on_call_shifts"): Row(
        R.SCHEDULES,
        A.CREATE,
        _schedule,
        "on_call_shifts",
        lambda t: {**SHIFT, "name": unique("sh"), "team_id": t.team, "schedule_id": t.params["schedule_id"]},
        201,
    ),
    ("GET", "/api/v1/on_call_shifts/<shift_id>"): Row(R.SCHEDULES, A.READ, _shift, "on_call_shifts/{shift_id}"),
    ("PATCH", "/api/v1/on_call_shifts/<shift_id>"): Row(
        R.SCHEDULES, A.UPDATE, _shift, "on_call_shifts/{shift_id}", lambda t: {"name": unique("sh")}
    ),
    ("DELETE", "/api/v1/on_call_shifts/<shift_id>"): Row(
        R.SCHEDULES, A.DELETE, _shift, "on_call_shifts/{shift_id}", ok=204
    ),
    ("GET", "/api/v1/teams"): Row(R.TEAMS, A.READ, _nothing, "teams"),
    ("POST", "/api/v1/teams"): Row(R.TEAMS, A.CREATE, _nothing, "teams", lambda t: {"name": unique("t")}, 201),
    ("GET", "/api/v1/teams/<team_id>"): Row(R.TEAMS, A.READ, _team, "teams/{team_id}"),
    ("PATCH", "/api/v1/teams/<team_id>"): Row(
        R.TEAMS, A.UPDATE, _team, "teams/{team_id}", lambda t: {"name": unique("t")}
    ),
    ("DELETE", "/api/v1/teams/<team_id>"): Row(R.TEAMS, A.DELETE, _team, "teams/{team_id}", ok=204),
    ("GET", "/api/v1/users"): Row(R.USERS, A.READ, _nothing, "users"),
    ("POST", "/api/v1/users"): Row(
        R.USERS, A.CREATE, _nothing, "users", lambda t: {"username": unique("u").replace(" ", "-")}, 201
    ),
    ("GET", "/api/v1/users/<user_id>"): Row(R.USERS, A.READ, _user, "users/{user_id}"),
    ("PATCH", "/api/v1/users/<user_id>"): Row(
        R.USERS, A.UPDATE_CONTACTS, _user, "users/{user_id}", lambda t: {"timezone": "Europe/Paris"}
    ),
    ("DELETE", "/api/v1/users/<user_id>"): Row(R.USERS, A.DELETE, _new_user, "users/{user_id}", ok=204),
    ("GET", "/api/v1/personal_notification_rules"): Row(
        R.NOTIFICATION_RULES, A.READ, _nothing, "personal_notification_rules"
    ),
    ("POST", "/api/v1/personal_notification_rules"): Row(
        R.NOTIFICATION_RULES,
        A.CREATE,
        _user,
        "personal_notification_rules",
        lambda t: {"user_id": t.owner, "type": "notify_by_sms"},
        201,
    ),
    ("GET", "/api/v1/personal_notification_rules/<rule_id>"): Row(
        R.NOTIFICATION_RULES, A.READ, _rule, "personal_notification_rules/{rule_id}"
    ),
    ("PATCH", "/api/v1/personal_notification_rules/<rule_id>"): Row(
        R.NOTIFICATION_RULES, A.UPDATE, _rule, "personal_notification_rules/{rule_id}", lambda t: {"duration": 600}
    ),
    ("DELETE", "/api/v1/personal_notification_rules/<rule_id>"): Row(
        R.NOTIFICATION_RULES, A.DELETE, _rule, "personal_notification_rules/{rule_id}", ok=204
    ),
    ("GET", "/api/v1/api_keys"): Row(R.API_KEYS, A.READ, _me, "api_keys"),
    ("POST", "/api/v1/api_keys"): Row(
        R.API_KEYS, A.CREATE, _user, "api_keys", lambda t: {"name": unique("k"), "user_id": t.owner}, 201
    ),
    ("DELETE", "/api/v1/api_keys/<key_id>"): Row(R.API_KEYS, A.DELETE, _key, "api_keys/{key_id}", ok=204),
    ("GET", "/api/v1/audit_log"): Row(R.AUDIT_LOG, A.READ, _nothing, "audit_log"),
    ("GET", "/api/v1/alert_groups"): Row(R.ALERT_GROUPS, A.READ, _nothing, "alert_groups"),
    ("POST", "/api/v1/alert_groups/bulk_action"): Row(
        R.ALERT_GROUPS,
        A.ACT,
        _group,
        "alert_groups/bulk_action",
        lambda t: {"alert_group_ids": [t.params["group_id"]], "action": "acknowledge"},
    ),
    ("GET", "/api/v1/alert_groups/<group_id>"): Row(R.ALERT_GROUPS, A.READ, _group, "alert_groups/{group_id}"),
    ("GET", "/api/v1/alert_groups/<group_id>/timeline"): Row(
        R.ALERT_GROUPS, A.READ, _group, "alert_groups/{group_id}/timeline"
    ),
    ("DELETE", "/api/v1/alert_groups/<group_id>"): Row(
        R.ALERT_GROUPS, A.DELETE, _group, "alert_groups/{group_id}", ok=204
    ),
    ("POST", "/api/v1/alert_groups/<group_id>/<action>"): Row(
        R.ALERT_GROUPS, A.ACT, _group, "alert_groups/{group_id}/acknowledge"
    ),
    ("GET", "/api/v1/alerts"): Row(R.ALERT_GROUPS, A.READ, _group, "alerts", query="alert_group_id={group_id}"),
    ("POST", "/api/v1/escalation"): Row(
        R.PAGING, A.CREATE, _nothing, "escalation", lambda t: {"users": [{"id": ADMIN_USER_ID}]}
    ),
    ("GET", "/api/v1/resolution_notes"): Row(R.RESOLUTION_NOTES, A.READ, _note, "resolution_notes"),
    ("POST", "/api/v1/resolution_notes"): Row(
        R.RESOLUTION_NOTES,
        A.CREATE,
        _group,
        "resolution_notes",
        lambda t: {"alert_group_id": t.params["group_id"], "text": "found it"},
        201,
    ),
    ("GET", "/api/v1/resolution_notes/<note_id>"): Row(R.RESOLUTION_NOTES, A.READ, _note, "resolution_notes/{note_id}"),
    ("PATCH", "/api/v1/resolution_notes/<note_id>"): Row(
        R.RESOLUTION_NOTES, A.UPDATE, _note, "resolution_notes/{note_id}", lambda t: {"text": "changed"}
    ),
    ("DELETE", "/api/v1/resolution_notes/<note_id>"): Row(
        R.RESOLUTION_NOTES, A.DELETE, _note, "resolution_notes/{note_id}", ok=204
    ),
    ("GET", "/api/v1/insights"): Row(R.INSIGHTS, A.READ, _nothing, "insights", query="period=7d"),
    ("GET", "/api/v1/actions"): Row(R.WEBHOOKS, A.READ, _nothing, "actions"),
    # Slack's look-ups: Tocsin has no Slack, so everyone reads the same empty pages (as reading integrations)
    ("GET", "/api/v1/slack_channels"): Row(R.INTEGRATIONS, A.READ, _nothing, "slack_channels"),
    ("GET", "/api/v1/user_groups"): Row(R.INTEGRATIONS, A.READ, _nothing, "user_groups"),
    ("GET", "/actions/<token>"): Row(R.ALERT_GROUPS, A.ACT, _nothing, "", public=True),
    ("POST", "/actions/<token>"): Row(R.ALERT_GROUPS, A.ACT, _nothing, "", public=True),
    ("GET", OPENAPI_PATH): Row(R.INTEGRATIONS, A.READ, _nothing, "", public=True),
}


# Console actions: (method, pattern of oncall.web.app.all_routes()) -> row; the path is below /ui.
CONSOLE: dict[tuple[str, str], Row] = {
    ("GET", r""): Row(R.ALERT_GROUPS, A.READ, _nothing, "", ok=303),
    ("GET", r"/groups"): Row(R.ALERT_GROUPS, A.READ, _nothing, "/groups"),
    ("GET", r"/groups/([\w-]+)"): Row(R.ALERT_GROUPS, A.READ, _group, "/groups/{group_id}"),
    ("POST", r"/groups/([\w-]+)/(acknowledge|unacknowledge|resolve|unresolve|silence|unsilence)"): Row(
        R.ALERT_GROUPS, A.ACT, _group, "/groups/{group_id}/acknowledge", ok=303
    ),
    ("GET", r"/integrations"): Row(R.INTEGRATIONS, A.READ, _nothing, "/integrations"),
    ("POST", r"/integrations"): Row(
        R.INTEGRATIONS, A.CREATE, _nothing, "/integrations", lambda t: {"name": unique("i"), "type": "webhook"}, 201
    ),
    ("POST", r"/integrations/([\w-]+)/regenerate_token"): Row(
        R.INTEGRATIONS, A.UPDATE, _integration, "/integrations/{integration_id}/regenerate_token"
    ),
    ("POST", r"/integrations/([\w-]+)/(send_demo_alert|maintenance_start|maintenance_stop)"): Row(
        R.INTEGRATIONS,
        A.UPDATE,
        _integration,
        "/integrations/{integration_id}/maintenance_start",
        lambda t: {"mode": "maintenance", "duration": "3600"},
        303,
    ),
    ("GET", r"/integrations/([\w-]+)/templates"): Row(
        R.INTEGRATIONS, A.READ, _integration, "/integrations/{integration_id}/templates"
    ),
    ("POST", r"/integrations/([\w-]+)/templates"): Row(
        R.INTEGRATIONS,
        A.UPDATE,
        _integration,
        "/integrations/{integration_id}/templates",
        lambda t: {"title": "{{ payload.title }}!"},
        303,
    ),
    ("POST", r"/integrations/([\w-]+)/preview"): Row(
        R.INTEGRATIONS,
        A.UPDATE,
        _integration,
        "/integrations/{integration_id}/preview",
        lambda t: {"title": "x", "payload": "{}"},
        htmx=True,  # without htmx, the whole editor page: reading, for everyone
    ),
    ("GET", r"/integrations/([\w-]+)/routes"): Row(
        R.ROUTES, A.READ, _integration, "/integrations/{integration_id}/routes"
    ),
    ("POST", r"/integrations/([\w-]+)/routes"): Row(
        R.ROUTES,
        A.CREATE,
        _integration,
        "/integrations/{integration_id}/routes",
        lambda t: {"routing_type": "regex", "term": "y"},
        303,
    ),
    ("POST", r"/integrations/([\w-]+)/routes/([\w-]+)"): Row(
        R.ROUTES,
        A.UPDATE,
        _route,
        "/integrations/{integration_id}/routes/{route_id}",
        lambda t: {"routing_type": "regex", "term": "z"},
        303,
    ),
    ("POST", r"/integrations/([\w-]+)/routes/([\w-]+)/(up|down|delete)"): Row(
        R.ROUTES, A.UPDATE, _route, "/integrations/{integration_id}/routes/{route_id}/delete", ok=303
    ),
    ("GET", r"/users"): Row(R.USERS, A.READ, _nothing, "/users"),
    ("POST", r"/users"): Row(
        R.USERS,
        A.CREATE,
        _nothing,
        "/users",
        lambda t: {"username": unique("u").replace(" ", "-"), "role": "viewer"},
        303,
    ),
    ("POST", r"/users/([\w-]+)/role"): Row(
        R.USERS, A.UPDATE, _new_user, "/users/{user_id}/role", lambda t: {"role": "editor"}, 303
    ),
    ("GET", r"/keys"): Row(R.API_KEYS, A.READ, _me, "/keys"),
    ("POST", r"/keys"): Row(R.API_KEYS, A.CREATE, _me, "/keys", lambda t: {"name": unique("k")}, 201),
    ("POST", r"/keys/([\w-]+)/revoke"): Row(R.API_KEYS, A.DELETE, _key, "/keys/{key_id}/revoke", ok=303),
    ("GET", r"/profile"): Row(R.USERS, A.READ_PROFILE, _me, "/profile"),
    ("GET", r"/users/([\w-]+)/profile"): Row(R.USERS, A.READ_PROFILE, _user, "/users/{user_id}/profile"),
    ("POST", r"/users/([\w-]+)/profile"): Row(
        R.USERS, A.UPDATE_CONTACTS, _user, "/users/{user_id}/profile", lambda t: {"timezone": "Europe/Paris"}, 303
    ),
    ("POST", r"/users/([\w-]+)/rules"): Row(
        R.NOTIFICATION_RULES,
        A.CREATE,
        _user,
        "/users/{user_id}/rules",
        lambda t: {"type": "wait", "duration": "300", "important": "false"},
        303,
    ),
    ("POST", r"/users/([\w-]+)/rules/([\w-]+)/(up|down|delete)"): Row(
        R.NOTIFICATION_RULES, A.DELETE, _rule, "/users/{user_id}/rules/{rule_id}/delete", ok=303
    ),
    ("GET", r"/chains"): Row(R.ESCALATION_CHAINS, A.READ, _nothing, "/chains"),
    ("POST", r"/chains"): Row(
        R.ESCALATION_CHAINS,
        A.CREATE,
        _nothing,
        "/chains",
        lambda t: {"name": unique("c"), "team_id": t.team or ""},
        303,
        scoped_by_body=True,
    ),
    ("GET", r"/chains/([\w-]+)"): Row(R.ESCALATION_CHAINS, A.READ, _chain, "/chains/{chain_id}"),
    ("POST", r"/chains/([\w-]+)/delete"): Row(
        R.ESCALATION_CHAINS, A.DELETE, _chain, "/chains/{chain_id}/delete", ok=303
    ),
    ("POST", r"/chains/([\w-]+)/rename"): Row(
        R.ESCALATION_CHAINS, A.UPDATE, _chain, "/chains/{chain_id}/rename", lambda t: {"name": unique("c")}, 303
    ),
    ("POST", r"/chains/([\w-]+)/steps"): Row(
        R.ESCALATION_CHAINS, A.UPDATE, _chain, "/chains/{chain_id}/steps", lambda t: {"type": "resolve"}, 303
    ),
    ("POST", r"/chains/([\w-]+)/steps/([\w-]+)/(up|down|delete)"): Row(
        R.ESCALATION_CHAINS, A.UPDATE, _step, "/chains/{chain_id}/steps/{policy_id}/up", ok=303
    ),
    ("GET", r"/page"): Row(R.ALERT_GROUPS, A.READ, _nothing, "/page"),
    ("POST", r"/page"): Row(
        R.PAGING, A.CREATE, _nothing, "/page", lambda t: {"users": ADMIN_USER_ID, "title": "help"}, 303
    ),
    ("POST", r"/groups/([\w-]+)/responders"): Row(
        R.PAGING, A.CREATE, _group, "/groups/{group_id}/responders", lambda t: {"users": ADMIN_USER_ID}, 303
    ),
    ("GET", r"/schedules"): Row(R.SCHEDULES, A.READ, _nothing, "/schedules"),
    ("POST", r"/groups/bulk"): Row(
        R.ALERT_GROUPS, A.ACT, _group, "/groups/bulk", lambda t: {"ids": t.params["group_id"], "action": "resolve"}, 303
    ),
    ("POST", r"/groups/([\w-]+)/notes"): Row(
        R.RESOLUTION_NOTES, A.CREATE, _group, "/groups/{group_id}/notes", lambda t: {"text": "found it"}, 303
    ),
    ("POST", r"/groups/([\w-]+)/notes/([\w-]+)/delete"): Row(
        R.RESOLUTION_NOTES, A.DELETE, _note, "/groups/{group_id}/notes/{note_id}/delete", ok=303
    ),
    ("GET", r"/insights"): Row(R.INSIGHTS, A.READ, _nothing, "/insights"),
    ("GET", r"/webhooks"): Row(R.WEBHOOKS, A.READ, _nothing, "/webhooks"),
    ("POST", r"/webhooks"): Row(
        R.WEBHOOKS,
        A.CREATE,
        _nothing,
        "/webhooks",
        lambda t: {"name": unique("hook"), "url": "https://hooks.example/x", "team_id": t.team or ""},
        303,
        scoped_by_body=True,
    ),
    ("POST", r"/webhooks/([\w-]+)/delete"): Row(
        R.WEBHOOKS, A.DELETE, _webhook, "/webhooks/{webhook_id}/delete", ok=303
    ),
}


def _api_routes() -> set[tuple[str, str]]:
    """(method, rule) of every route of the built app's routers (PUT and PATCH of one rule: one row)."""
    routes = {(OPENAPI_PATH, ("GET",))}
    for name in api_routes.ROUTERS:
        routes |= {(key[0], tuple(key[1])) for key in api_routes.router(name)._routes}
    return {("PATCH" if "PATCH" in methods else methods[0], rule) for rule, methods in routes}


def test_every_route_has_a_row() -> None:
    assert _api_routes() == set(API), "every API route needs its row in API (and every row a route)"
    assert {(method, pattern) for method, pattern, _ in all_routes()} == set(CONSOLE), (
        "every console action needs its row in CONSOLE (and every row an action)"
    )
    for row in (*API.values(), *CONSOLE.values()):
        assert row.public or policy.rule(row.resource, row.action) is not None, row


# --- the world ------------------------------------------------------------------------------------------------------


@dataclass
class World:
    api_module: ModuleType
    admin_key: str
    teams: dict[str, str | None]  # "ours", "theirs", "none" -> team id
    keys: dict[str, str] = field(default_factory=dict)  # role -> key of a member of "ours"
    principals: dict[str, Principal] = field(default_factory=dict)
    browsers: dict[str, Browser] = field(default_factory=dict)
    csrf: dict[str, str] = field(default_factory=dict)
    outsider: str = ""  # a user of "theirs": someone else's self-scoped things

    def call(self, key: str, method: str, path: str, body: Any = None, query: str = "") -> tuple[int, Any]:
        event = http_event(method, f"/api/v1/{path}", body, headers={"authorization": key}, query=query)
        response = self.api_module.handler(event, Context())
        text = response.get("body")
        return response["statusCode"], json.loads(text) if text and text.startswith(("{", "[")) else text

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.call(self.admin_key, method, path, body)
        assert status in (200, 201), (path, answer)
        return answer

    def target(self, row: Row, role: str, scope: str, *, made: bool = True) -> Target:
        team = self.teams.get(scope)
        owner = {"own": self.principals[role].user_id, "other": self.outsider}.get(scope)
        return row.make(self, team, owner) if made else Target({}, team, owner)


@pytest.fixture(scope="module")
def world(dynamodb_endpoint: str) -> Iterator[World]:
    # hundreds of cases from a few keys
    with module_store(dynamodb_endpoint, TOCSIN_API_RATE_LIMIT="100000/60") as store:
        admin_key = issue(store, user_id=ADMIN_USER_ID, name="tests", now=SYSTEM_CLOCK.now()).secret
        w = World(load_handler("api"), admin_key, {"none": None})
        for scope in ("ours", "theirs"):
            w.teams[scope] = w.admin("POST", "teams", {"name": scope})["id"]
        web = load_handler("web")
        for role in ROLES:
            made = w.admin("POST", "users", {"username": f"{role}-of-ours", "role": role, "teams": [w.teams["ours"]]})
            w.keys[role] = w.admin("POST", "api_keys", {"name": "k", "user_id": made["id"]})["key"]
            w.principals[role] = Principal(made["id"], made["username"], role, frozenset(made["teams"]))
            w.browsers[role] = Browser(web)
            assert w.browsers[role].sign_in(w.keys[role])["statusCode"] == 303
            w.csrf[role] = w.browsers[role].csrf()
        w.outsider = w.admin("POST", "users", {"username": "outsider", "role": "editor", "teams": [w.teams["theirs"]]})[
            "id"
        ]
        yield w


def allowed(w: World, role: str, row: Row, target: Target) -> bool:
    return policy.allows(w.principals[role], row.resource, row.action, teams=[target.team], owner=target.owner)


def _cases(table: dict[tuple[str, str], Row]) -> list[Any]:
    return [
        pytest.param(key, role, scope, id=f"{key[0]} {row.path or key[1]} {role} {scope}")
        for key, row in table.items()
        if not row.public
        for role in ROLES
        for scope in row.scopes()
    ]


# --- the API --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "role", "scope"), _cases(API))
def test_api_route_answers_as_the_table_says(world: World, key: tuple[str, str], role: str, scope: str) -> None:
    row = API[key]
    target = world.target(row, role, scope)
    params = {**target.params, "user_id": target.owner or world.principals[role].user_id}
    body = row.body(target) if row.body else None
    status, answer = world.call(world.keys[role], key[0], row.path.format(**params), body, row.query.format(**params))
    assert status == (row.ok if allowed(world, role, row, target) else 403), answer


def _unknown_cases() -> list[Any]:
    return [
        pytest.param(key, role, id=f"{key[0]} {row.path} {role}")
        for key, row in API.items()
        if "{" in row.path and not row.public
        for role in ROLES
    ]


@pytest.mark.parametrize(("key", "role"), _unknown_cases())
def test_api_unknown_ids_are_404_to_whoever_may_know(world: World, key: tuple[str, str], role: str) -> None:
    row = API[key]
    path = re.sub(r"\{\w+\}", UNKNOWN, row.path)
    status, answer = world.call(world.keys[role], key[0], path, row.body(Target({})) if row.body else None)
    principal = world.principals[role]  # may they do it to such a thing of no team, or of their own?
    owner = UNKNOWN if row.make is _user else principal.user_id  # a user's id is whose it is: not theirs
    may = policy.allows(principal, row.resource, row.action, teams=[None], owner=owner)
    assert status == (404 if may or row.action is Action.READ else 403), answer


# --- the console ----------------------------------------------------------------------------------------------------


def _console_answer(response: dict[str, Any]) -> tuple[int, str]:
    """The status, and the error a redirect carries (a refusal's or a failure's message)."""
    if response["statusCode"] == 303:
        query = parse_qs(urlsplit(response["headers"]["Location"]).query)
        return 303, (query.get("error") or [""])[0]
    return response["statusCode"], ""


@pytest.mark.parametrize(("key", "role", "scope"), _cases(CONSOLE))
def test_console_action_answers_as_the_table_says(world: World, key: tuple[str, str], role: str, scope: str) -> None:
    row = CONSOLE[key]
    target = world.target(row, role, scope)
    params = {**target.params, "user_id": target.owner or world.principals[role].user_id}
    path = f"/ui{row.path.format(**params)}"
    browser = world.browsers[role]
    if key[0] == "GET":
        response = browser.call("GET", path)
    else:
        form = {"csrf_token": world.csrf[role], **(row.body(target) if row.body else {})}
        htmx = {"hx-request": "true"} if row.htmx else {}
        response = browser.call("POST", path, form, referer=f"https://tocsin.test{path}", **htmx)
    status, error = _console_answer(response)
    expected = row.ok if allowed(world, role, row, target) else 403
    assert (status, error) == (expected, ""), response.get("body", "")[:2000]
