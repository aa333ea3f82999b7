"""Direct paging from the console ("page someone", as in Grafana OnCall) and adding responders to an alert group.

Both forms call the API's use case (:func:`oncall.api.responders.page`, ``POST /api/v1/escalation/``) with the
API's permission for it, so the console and the API refuse the same things with the same messages: users or a
team, not both; a team from outside it only when it is ``contactable``; only people join an existing alert group,
and not a resolved one. A new page is a new alert group on the direct paging integration (the team's, if a team
is paged); each paged user is notified with their personal notification rules.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import quote

from oncall import access, escalation, paging, schemas
from oncall.api import logic, responders
from oncall.models import User
from oncall.web.base import Request, Response, Route, back, page, problem_text, require
from pydantic import ValidationError

PERMISSION: Final = access.required_permission("POST", "escalation")  # the API's, for the same use case
# the API's field names in its messages -> what the forms call them
FIELD_NAMES: Final = {
    "users": "Users",
    "team": "Team",
    "title": "Title",
    "message": "Message",
    "source_url": "Source URL",
    "alert_group_id": "Alert group",
}
EMPTY_FORM: Final[dict[str, Any]] = {
    "title": "",
    "message": "",
    "source_url": "",
    "users": [],
    "important": False,
    "team": "",
    "important_team_escalation": False,
}


def may_page(request: Request) -> bool:
    return bool(request.actor and access.has(request.actor, PERMISSION))


def _services(request: Request) -> escalation.Services:
    """As the API builds them: this environment's store and executor (paged people's rules run there)."""
    return escalation.Services(
        request.store,
        request.container.executor,
        notifier=None,
        public_url=request.base_url,
        signing_key=request.container.signing_key,
        clock=request.container.clock,
    )


def _users(request: Request) -> list[User]:
    return sorted(request.store.users.list(), key=lambda u: u.username.lower())


def responders_context(request: Request) -> dict[str, Any]:
    """What a group's page needs for its "Add responders" form (nothing for those who may not page)."""
    if not may_page(request):
        return {"can_page": False, "page_users": []}
    return {"can_page": True, "page_users": _users(request)}


def _checked(request: Request, name: str) -> bool:
    """A checkbox: ticked when posted with any value."""
    return request.optional(name) is not None


def _paged_users(request: Request) -> list[dict[str, Any]] | None:
    """The chosen users as the API's ``users`` (each with the one "important" checkbox), None for none."""
    important = _checked(request, "important")
    return [{"id": user_id, "important": important} for user_id in request.values("users")] or None


def _notice(request: Request, body: schemas.EscalationIn) -> str:
    """``Paged alice, bob (important).`` or ``Paged team db.``: names as stored (the use case found them)."""
    if body.team:
        team = request.store.teams.get(body.team)
        important = " (important)" if body.important_team_escalation else ""
        return f"Paged team {team.name if team else body.team}{important}."
    names = {u.id: u.username for u in _users(request)}
    paged = body.users or []
    important = " (important)" if any(u.important for u in paged) else ""
    return f"Paged {', '.join(names.get(u.id, u.id) for u in paged)}{important}."


def _refusal(error: ValidationError | logic.ApiError) -> tuple[int, str]:
    """A refused page as (status, message); a server-side failure is raised on (the handler answers it)."""
    if isinstance(error, logic.ApiError):
        if error.status >= 500:
            raise error
        return error.status, problem_text(error, FIELD_NAMES)
    return 400, problem_text(error, FIELD_NAMES)


def page_form(
    request: Request, status: int = 200, form_error: str | None = None, form: dict[str, Any] | None = None
) -> Response:
    """The "Page someone" form; people without the paging permission see why there is none."""
    assert request.actor is not None
    context: dict[str, Any] = {"can_page": may_page(request), "page_users": [], "page_teams": [], "hidden_teams": 0}
    if context["can_page"]:
        teams = sorted(request.store.teams.list(), key=lambda t: t.name.lower())
        actor = request.actor
        pageable = [t for t in teams if paging.may_page(t, actor.role, actor.teams)]
        context |= {"page_users": _users(request), "page_teams": pageable, "hidden_teams": len(teams) - len(pageable)}
    return page(request, "page.html", status, form_error=form_error, form=form or EMPTY_FORM, **context)


def page_someone(request: Request) -> Response:
    """A new page: a new alert group, then its page with who was paged."""
    require(request, PERMISSION)
    assert request.actor is not None
    form = {
        "title": request.form.get("title", ""),
        "message": request.form.get("message", ""),
        "source_url": request.form.get("source_url", ""),
        "users": request.values("users"),
        "important": _checked(request, "important"),
        "team": request.form.get("team", ""),
        "important_team_escalation": _checked(request, "important_team_escalation"),
    }
    try:
        body = schemas.EscalationIn.model_validate(
            {
                "title": request.optional("title"),
                "message": request.optional("message"),
                "source_url": request.optional("source_url"),
                "users": _paged_users(request),
                "team": request.optional("team"),
                "important_team_escalation": form["important_team_escalation"],
            }
        )
        group = responders.page(_services(request), request.info(), request.actor, body, request.now)
    except (ValidationError, logic.ApiError) as error:
        status, message = _refusal(error)
        return page_form(request, status, form_error=message, form=form)
    return back(request, f"/groups/{quote(group['id'])}", notice=_notice(request, body))


def add_responders(request: Request, group_id: str) -> Response:
    """People paged into an existing alert group, then back to its page with who was paged. A refusal is raised
    with the API's status and message: the handler shows it on the form's page, and audits nothing."""
    require(request, PERMISSION)
    assert request.actor is not None
    try:
        body = schemas.EscalationIn.model_validate(
            {
                "alert_group_id": group_id,
                "users": _paged_users(request),
                "team": request.optional("team"),  # not on the form; the use case refuses one as the API does
            }
        )
        responders.page(_services(request), request.info(), request.actor, body, request.now)
    except (ValidationError, logic.ApiError) as error:
        status, message = _refusal(error)
        raise logic.ApiError.detail(message, status) from error
    return back(request, f"/groups/{quote(group_id)}", notice=_notice(request, body))


ROUTES: list[Route] = [
    ("GET", r"/page", page_form),
    ("POST", r"/page", page_someone),
    ("POST", r"/groups/([\w-]+)/responders", add_responders),
]
