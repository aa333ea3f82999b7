"""Users and API keys.

Users: everyone sees the list; admins create users and change their role (:func:`oncall.api.directory.
create_user` / :func:`~oncall.api.directory.update_user`, as ``POST`` / ``PATCH /api/v1/users/``).

API keys follow the API's rule (:func:`oncall.api.directory.check_key_owner`): every user, viewers included,
creates, lists and revokes their own keys; admins also see every user's keys, revoke any of them and create keys
for any user. A key acts with its user's role, so a new key never gives more than its user already has. The
secret is shown once, in the response that creates the key. Revoking the key a session was signed in with ends
that session.
"""

from __future__ import annotations

from typing import Any, Final

from oncall import schemas
from oncall.errors import InvalidInput
from oncall.services import api_keys, people
from oncall.services.api_keys import NewKey
from oncall.services.policy import Action, Resource, allows
from oncall.web import session
from oncall.web.base import Request, Response, Route, back, flash_url, page, problem_text, redirect
from pydantic import ValidationError

ROLES: Final = ("viewer", "editor", "admin")


# --- users ----------------------------------------------------------------------------------------------------------


def users_page(
    request: Request, status: int = 200, form_error: str | None = None, form: dict[str, Any] | None = None
) -> Response:
    caller = request.principal
    users = people.list_users(request.ports, caller)
    teams = sorted(people.list_teams(request.ports, caller), key=lambda t: t.name.lower())
    names = {t.id: t.name for t in teams}
    team_names = {u.id: ", ".join(names.get(t, t) for t in u.teams) for u in users}
    return page(
        request,
        "users.html",
        status,
        users=sorted(users, key=lambda u: u.username.lower()),
        team_names=team_names,
        teams=teams,
        roles=ROLES,
        profiles={  # the others' profiles the caller opens (their own is "My profile")
            u.id
            for u in users
            if u.id != caller.user_id and allows(caller, Resource.USERS, Action.READ_PROFILE, owner=u.id)
        },
        can_create=allows(caller, Resource.USERS, Action.CREATE),
        can_change_roles=allows(caller, Resource.USERS, Action.UPDATE),
        form_error=form_error,
        form=form or {"role": "editor", "teams": []},
    )


def create_user(request: Request) -> Response:
    form = {
        "username": request.form.get("username", "").strip(),
        "email": request.form.get("email", "").strip(),
        "role": request.form.get("role", "editor"),
        "teams": request.values("teams"),
    }
    try:
        body = schemas.UserIn(
            username=form["username"], email=form["email"] or None, role=form["role"], teams=form["teams"]
        )
        created = people.create_user(request.ports, request.principal, body)
    except (ValidationError, InvalidInput) as error:
        return users_page(request, 400, form_error=problem_text(error), form=form)
    return back(request, "/users", notice=f"User {created.username} created ({created.role}).")


def change_role(request: Request, user_id: str) -> Response:
    try:
        body = schemas.UserPatch(role=request.form.get("role") or "")  # "" is refused, None would clear it
    except ValidationError as error:
        return users_page(request, 400, form_error=problem_text(error))
    updated = people.update_user(request.ports, request.principal, user_id, body)
    return back(request, "/users", notice=f"{updated.username} is now {updated.role}.")


# --- API keys -------------------------------------------------------------------------------------------------------


def keys_page(
    request: Request, status: int = 200, created: NewKey | None = None, form_error: str | None = None
) -> Response:
    caller = request.principal
    users = sorted(people.list_users(request.ports, caller), key=lambda u: u.username.lower())
    visible = api_keys.list_keys(request.ports, caller)
    return page(
        request,
        "keys.html",
        status,
        mine=[k for k in visible if k.user_id == caller.user_id],
        others=[k for k in visible if k.user_id != caller.user_id],
        manages_others=api_keys.manages_anyones_keys(caller),
        usernames={u.id: u.username for u in users},
        users=users,
        created=created,
        session_key_id=request.key_id,
        form_error=form_error,
    )


def create_key(request: Request) -> Response:
    try:
        body = schemas.ApiKeyIn(name=request.form.get("name", "").strip(), user_id=request.form.get("user_id") or None)
    except ValidationError as error:
        return keys_page(request, 400, form_error=problem_text(error))
    return keys_page(request, 201, created=api_keys.create_key(request.ports, request.principal, body))


def revoke_key(request: Request, key_id: str) -> Response:
    key = api_keys.revoke_key(request.ports, request.principal, key_id)
    if key.id == request.key_id:
        notice = f"The key {key.name} of this session was revoked: sign in with another key."
        return redirect(flash_url(request, "/signin", notice=notice), [session.cleared_cookie(secure=request.secure)])
    return back(request, "/keys", notice=f"Key {key.name} ({key.prefix}…) revoked.")


ROUTES: list[Route] = [
    ("GET", r"/users", users_page),
    ("POST", r"/users", create_user),
    ("POST", r"/users/([\w-]+)/role", change_role),
    ("GET", r"/keys", keys_page),
    ("POST", r"/keys", create_key),
    ("POST", r"/keys/([\w-]+)/revoke", revoke_key),
]
