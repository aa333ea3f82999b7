"""A responder's profile: contact points and settings, and personal notification rules (default and important).

Who may do what is the API's rule, checked with the API's own functions:

- contact points and settings are ``PATCH /api/v1/users/{id}/`` (:func:`oncall.api.directory.update_user`):
  admins change anyone's, everyone else their own (:func:`oncall.api.directory.check_profile_change`);
- personal notification rules are ``/api/v1/personal_notification_rules/`` (:func:`~oncall.api.directory.
  create_rule`, ``update_rule``, ``delete_rule``): the ``act`` permission (editors and admins), and for
  non-admins only their own rules (the API handler's ``guard_rule_owner``).

The page itself: admins open anyone's profile, everyone else only their own (``/ui/profile``).

The warnings say what :mod:`oncall.escalation` does: a notify step whose channel has no contact point is skipped
(the alert group's timeline says so) and the next step runs; an empty list means Tocsin's default rules.
"""

from __future__ import annotations

import functools
import zoneinfo
from typing import Any, Final
from urllib.parse import quote

from oncall import escalation, schemas
from oncall.access import Actor, authorize
from oncall.api import directory, logic
from oncall.errors import PermissionDenied
from oncall.models import NotificationRule, User
from oncall.web.base import Request, Response, Route, attempt, back, move, page, problem_text, run
from pydantic import ValidationError

RULE_TYPES: Final = (
    ("notify_by_email", "E-mail"),
    ("notify_by_sms", "SMS"),
    ("notify_by_webhook", "Webhook"),
    ("wait", "Wait"),
)
WAIT_MINUTES: Final = (1, 5, 15, 30, 60)
# channel -> (what a step says, what the contact point is called)
CHANNELS: Final = {
    "email": ("E-mail", "e-mail address"),
    "sms": ("SMS", "phone number"),
    "webhook": ("Webhook", "webhook URL"),
}
CLEARABLE_FIELDS: Final = ("email", "phone_number", "webhook_url")  # empty clears them (the API's null)
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


# --- who may do what (the API's rules) ------------------------------------------------------------------------------


def _actor(request: Request) -> Actor:
    assert request.actor is not None
    return request.actor


def check_view(request: Request, user_id: str) -> None:
    actor = _actor(request)
    if actor.role != "admin" and user_id != actor.user_id:
        raise PermissionDenied("You can only see your own profile.")


def check_contacts(request: Request, user_id: str) -> None:
    """``PATCH /api/v1/users/{id}/`` of contact points: the API's own check."""
    directory.check_profile_change(_actor(request), user_id, directory.CONTACT_FIELDS)


def check_rules(request: Request, user_id: str) -> None:
    """The personal notification rules' calls: the API's authorizer, then its owner check."""
    actor = _actor(request)
    authorize(actor, "POST", "personal_notification_rules")
    if actor.role != "admin" and user_id != actor.user_id:
        raise PermissionDenied("You can only change your own notification rules.")


def _allowed(check: Any, request: Request, user_id: str) -> bool:
    try:
        check(request, user_id)
    except PermissionDenied:
        return False
    return True


def _path(request: Request, user_id: str) -> str:
    return "/profile" if user_id == _actor(request).user_id else f"/users/{quote(user_id)}/profile"


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
    if channel == "webhook":
        return f"{label} {address} ({user.webhook_format} format)"
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


def _rules(request: Request, user_id: str) -> list[NotificationRule]:
    return sorted(request.store.rules.of_user(user_id), key=lambda r: (r.important, r.position))


def profile_page(
    request: Request,
    user_id: str | None = None,
    *,
    status: int = 200,
    form_error: str | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    actor = _actor(request)
    user_id = user_id or actor.user_id
    check_view(request, user_id)
    user = directory.load(request.store, directory.USERS, user_id)
    own = user_id == actor.user_id
    rules = _rules(request, user_id)
    lists, found = [], []
    for important, key, title in LISTS:
        mine = [r for r in rules if r.important == important]
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
    teams = {t.id: t.name for t in request.store.teams.list()}
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
        can_edit_contacts=_allowed(check_contacts, request, user_id),
        can_edit_rules=_allowed(check_rules, request, user_id),
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
    check_contacts(request, user_id)
    user = directory.load(request.store, directory.USERS, user_id)
    form = {name: request.form.get(name, "").strip() for name in (*CLEARABLE_FIELDS, "webhook_format", "timezone")}
    changes: dict[str, Any] = {name: form[name] or None for name in CLEARABLE_FIELDS}  # empty: none (the API's null)
    changes |= {name: form[name] for name in ("webhook_format", "timezone") if form[name]}  # empty: unchanged
    try:
        directory.update_user(request.store, user_id, schemas.UserPatch.model_validate(changes), _actor(request))
    except (ValidationError, logic.ApiError) as error:
        if isinstance(error, logic.ApiError) and error.status >= 500:
            raise
        return profile_page(request, user_id, status=400, form_error=problem_text(error, FIELD_NAMES), form=form)
    whose = "Your" if user_id == _actor(request).user_id else f"{user.username}'s"
    return back(request, _path(request, user_id), notice=f"{whose} contact points and settings were saved.")


# --- personal notification rules ------------------------------------------------------------------------------------


def add_rule(request: Request, user_id: str) -> Response:
    check_rules(request, user_id)
    directory.load(request.store, directory.USERS, user_id)
    rule_type = request.form.get("type", "")
    fields: dict[str, Any] = {"user_id": user_id, "type": rule_type, "important": request.form.get("important", "")}
    if rule_type == "wait":
        fields["duration"] = request.optional("duration") or escalation.DEFAULT_WAIT_SECONDS
    body = run(lambda: schemas.NotificationRuleIn.model_validate(fields))
    title = next(title for important, _, title in LISTS if important == body.important)
    path = _path(request, user_id)
    return attempt(request, path, f"Step added to {title.lower()}.", lambda: directory.create_rule(request.store, body))


def rule_action(request: Request, user_id: str, rule_id: str, action: str) -> Response:
    check_rules(request, user_id)
    rule = directory.load(request.store, directory.RULES, rule_id)
    if rule.user_id != user_id:
        raise logic.not_found()
    path = _path(request, user_id)
    if action == "delete":
        return attempt(request, path, "Step deleted.", lambda: directory.delete_rule(request.store, rule_id))
    order = [r.id for r in _rules(request, user_id) if r.important == rule.important]
    return move(
        request,
        path,
        "step",
        order,
        rule_id,
        action,
        lambda position: directory.update_rule(
            request.store, rule_id, schemas.NotificationRulePatch(position=position)
        ),
    )


ROUTES: list[Route] = [
    ("GET", r"/profile", own_profile),
    ("GET", r"/users/([\w-]+)/profile", user_profile),
    ("POST", r"/users/([\w-]+)/profile", save_contacts),
    ("POST", r"/users/([\w-]+)/rules", add_rule),
    ("POST", r"/users/([\w-]+)/rules/([\w-]+)/(up|down|delete)", rule_action),
]
