"""A responder's profile: contact points and settings, and personal notification rules (default and important).

The API's use cases do the work and decide who may (:mod:`oncall.services.policy`):

- contact points and settings: :func:`oncall.services.people.update_user` (``PATCH /api/v1/users/{id}/``):
  admins change anyone's, everyone else their own;
- personal notification rules: :mod:`oncall.services.notification_rules` (``/api/v1/personal_notification_rules/``):
  editors their own, admins anyone's.

The page itself (:func:`oncall.services.people.get_profile`): admins open anyone's profile, everyone else only their
own (``/ui/profile``).

The warnings say what :mod:`oncall.escalation` does: a notify step whose channel has no contact point is skipped
(the alert group's timeline says so) and the next step runs; an empty list means Tocsin's default rules.
"""

from __future__ import annotations

import functools
import zoneinfo
from typing import Any, Final
from urllib.parse import quote

from oncall import escalation, schemas
from oncall.directory import NotificationRule, User
from oncall.errors import InvalidInput, NotFound
from oncall.services import notification_rules, people
from oncall.services.policy import Action, Resource, allows
from oncall.web.base import Request, Response, Route, back, page, problem_text, run
from pydantic import ValidationError

RULE_TYPES: Final = (
    ("notify_by_email", "E-mail"),
    ("notify_by_sms", "SMS"),
    ("notify_by_phone_call", "Phone call"),
    ("notify_by_webhook", "Webhook"),
    ("wait", "Wait"),
)
WAIT_MINUTES: Final = (1, 5, 15, 30, 60)
# channel -> (what a step says, what the contact point is called)
CHANNELS: Final = {
    "email": ("E-mail", "e-mail address"),
    "sms": ("SMS", "phone number"),
    "phone_call": ("Phone call", "phone number"),
    "webhook": ("Webhook", "webhook URL"),
}
CLEARABLE_FIELDS: Final = ("email", "phone_number")  # empty clears them (the API's null)
FIELD_NAMES: Final = {
    "email": "E-mail",
    "phone_number": "Phone number",
    "webhook_url": "Webhook URL",
    "webhook_format": "Webhook format",
    "timezone": "Time zone",
}
LISTS: Final = ((False, "default", "Default notifications"), (True, "important", "Important notifications"))


@functools.cache
def time_zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


# --- who may do what (the policy table: the use cases decide again when a form is posted) -------------------------


def _may(request: Request, resource: Resource, action: Action, user_id: str) -> bool:
    return allows(request.principal, resource, action, owner=user_id)


def _path(request: Request, user_id: str) -> str:
    return "/profile" if user_id == request.user_id else f"/users/{quote(user_id)}/profile"


# --- the page ---------------------------------------------------------------------------------------------------------


def _duration(seconds: int | None) -> str:
    seconds = seconds or escalation.DEFAULT_WAIT_SECONDS
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def describe(rule_type: str, channel: str | None, duration: int | None, user: User) -> str:
    """A step in words: ``E-mail alice@example.com``, ``SMS (no phone number: skipped)``, ``Wait 5 min``."""
    if rule_type == "wait":
        return f"Wait {_duration(duration)}"
    label, noun = CHANNELS.get(channel or "", (str(channel), "address"))
    address = user.contact(channel) if channel in CHANNELS else None  # type: ignore[arg-type]
    if not address:
        return f"{label} (no {noun}: skipped)"
    if channel == "webhook":  # the URL is a secret (the page has the masked user anyway)
        return f"{label} to the personal webhook URL ({user.webhook_format} format)"
    return f"{label} {address}"


def _effective(rules: list[NotificationRule], important: bool) -> list[tuple[str, str | None, int | None]]:
    """What escalation runs (:func:`oncall.escalation.rules_for`): the rules, or Tocsin's default when none."""
    if rules:
        return [(r.type, r.channel, r.duration) for r in rules]
    return list(escalation.DEFAULT_RULES[important])


def warnings(user: User, title: str, steps: list[tuple[str, str | None, int | None]], own: bool) -> list[str]:
    found: list[str] = []
    who = "you have" if own else f"{user.username} has"
    channels = [channel for kind, channel, _ in steps if kind == "notify" and channel]
    if not channels:
        found.append(f"{title} only wait: they notify nobody.")
    for channel in dict.fromkeys(channels):
        if channel in CHANNELS and not user.contact(channel):  # type: ignore[arg-type]
            label, noun = CHANNELS[channel]
            name = escalation.CHANNEL_NAMES.get(channel, channel)
            found.append(
                f"{title}: {label} steps are skipped because {who} no {noun}; the alert group's timeline says "
                f"“{name} to {user.username} not sent: no {name} address” and the next step runs."
            )
    return found


def profile_page(
    request: Request,
    user_id: str | None = None,
    *,
    status: int = 200,
    form_error: str | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    user_id = user_id or request.user_id
    profile = people.get_profile(request.ports, request.principal, user_id)
    user = profile.user
    own = user_id == request.user_id
    lists, found = [], []
    for important, key, title in LISTS:
        mine = [r for r in profile.rules if r.important == important]
        steps = _effective(mine, important)
        found += warnings(user, title, steps, own)
        lists.append(
            {
                "key": key,
                "title": title,
                "important": important,
                "rules": [{"rule": r, "text": describe(r.type, r.channel, r.duration, user)} for r in mine],
                "default_text": ", then ".join(describe(t, c, d, user) for t, c, d in steps) if not mine else "",
            }
        )
    teams = {t.id: t.name for t in people.list_teams(request.ports, request.principal)}
    zones = time_zones()
    return page(
        request,
        "profile.html",
        status,
        user=user,
        own=own,
        team_names=", ".join(teams.get(t, t) for t in user.teams),
        lists=lists,
        warnings=found,
        can_edit_contacts=_may(request, Resource.USERS, Action.UPDATE_CONTACTS, user_id),
        can_edit_rules=_may(request, Resource.NOTIFICATION_RULES, Action.CREATE, user_id),
        rule_types=RULE_TYPES,
        wait_minutes=WAIT_MINUTES,
        default_wait=escalation.DEFAULT_WAIT_SECONDS,
        time_zones=zones if user.timezone in zones else (user.timezone, *zones),
        form_error=form_error,
        form=form or user.model_dump(),
    )


def own_profile(request: Request) -> Response:
    return profile_page(request)


def user_profile(request: Request, user_id: str) -> Response:
    return profile_page(request, user_id)


# --- contact points and settings ------------------------------------------------------------------------------------


def save_contacts(request: Request, user_id: str) -> Response:
    form = {name: request.form.get(name, "").strip() for name in (*CLEARABLE_FIELDS, "webhook_format", "timezone")}
    changes: dict[str, Any] = {name: form[name] or None for name in CLEARABLE_FIELDS}  # empty: none (the API's null)
    changes |= {name: form[name] for name in ("webhook_format", "timezone") if form[name]}  # empty: unchanged
    # The webhook URL is never shown, so its empty field keeps it: a new URL replaces it, the box removes it.
    if webhook_url := request.form.get("webhook_url", "").strip():
        changes["webhook_url"] = webhook_url
    elif request.form.get("webhook_url_clear"):
        changes["webhook_url"] = None
    try:
        body = schemas.UserPatch.model_validate(changes)
    except ValidationError as error:
        return profile_page(request, user_id, status=400, form_error=problem_text(error, FIELD_NAMES), form=form)
    try:
        user = people.update_user(request.ports, request.principal, user_id, body)
    except InvalidInput as error:
        return profile_page(request, user_id, status=400, form_error=problem_text(error, FIELD_NAMES), form=form)
    whose = "Your" if user_id == request.user_id else f"{user.username}'s"
    return back(request, _path(request, user_id), notice=f"{whose} contact points and settings were saved.")


# --- personal notification rules ------------------------------------------------------------------------------------


def add_rule(request: Request, user_id: str) -> Response:
    rule_type = request.form.get("type", "")
    fields: dict[str, Any] = {"user_id": user_id, "type": rule_type, "important": request.form.get("important", "")}
    if rule_type == "wait":
        fields["duration"] = request.optional("duration") or escalation.DEFAULT_WAIT_SECONDS
    body = run(lambda: schemas.NotificationRuleIn.model_validate(fields))
    rule = notification_rules.create_rule(request.ports, request.principal, body)
    title = next(title for important, _, title in LISTS if important == rule.important)
    return back(request, _path(request, user_id), notice=f"Step added to {title.lower()}.")


def rule_action(request: Request, user_id: str, rule_id: str, action: str) -> Response:
    ports, caller = request.ports, request.principal
    if notification_rules.get_rule(ports, caller, rule_id).user_id != user_id:
        raise NotFound()
    path = _path(request, user_id)
    if action == "delete":
        notification_rules.delete_rule(ports, caller, rule_id)
        return back(request, path, notice="Step deleted.")
    if not notification_rules.move_rule(ports, caller, rule_id, -1 if action == "up" else 1):
        return back(request, path, notice="The step is already " + ("first." if action == "up" else "last."))
    return back(request, path, notice=f"Step moved {action}.")


ROUTES: list[Route] = [
    ("GET", r"/profile", own_profile),
    ("GET", r"/users/([\w-]+)/profile", user_profile),
    ("POST", r"/users/([\w-]+)/profile", save_contacts),
    ("POST", r"/users/([\w-]+)/rules", add_rule),
    ("POST", r"/users/([\w-]+)/rules/([\w-]+)/(up|down|delete)", rule_action),
]
