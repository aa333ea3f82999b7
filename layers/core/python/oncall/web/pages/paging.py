"""Direct paging from the console ("page someone", as in Grafana OnCall) and adding responders to an alert group.

Both forms call the API's use case (:func:`oncall.services.paging.page`, ``POST /api/v1/escalation/``), so the
console and the API refuse the same things with the same messages: users or a team, not both; a team from outside
it only when it is ``contactable``; only people join an existing alert group, and not a resolved one. A new page is
a new alert group on the direct paging integration (the team's, if a team is paged); each paged user is notified
with their personal notification rules.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import quote

from oncall import http, schemas
from oncall.errors import InvalidInput, PermissionDenied, TocsinError
from oncall.services import paging, policy
from oncall.services.paging import PagingChoices
from oncall.services.policy import Action, Resource
from oncall.web.base import Request, Response, Route, back, page, problem_text
from pydantic import ValidationError

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
    """Whether the pages show the paging forms (the use case decides again when one is posted)."""
    return policy.allows(request.principal, Resource.PAGING, Action.CREATE)


def responders_context(request: Request) -> dict[str, Any]:
    """What a group's page needs for its "Add responders" form (nothing for those who may not page)."""
    if not may_page(request):
        return {"can_page": False, "page_users": []}
    return {"can_page": True, "page_users": paging.choices(request.ports, request.principal).users}


def _checked(request: Request, name: str) -> bool:
    """A checkbox: ticked when posted with any value."""
    return request.optional(name) is not None


def _paged_users(request: Request) -> list[dict[str, Any]] | None:
    """The chosen users as the API's ``users`` (each with the one "important" checkbox), None for none."""
    important = _checked(request, "important")
    return [{"id": user_id, "important": important} for user_id in request.values("users")] or None


def _notice(choices: PagingChoices, body: schemas.EscalationIn) -> str:
    """``Paged alice, bob (important).`` or ``Paged team db.``: names as stored (the use case found them)."""
    if body.team:
        names = {t.id: t.name for t in choices.teams}
        important = " (important)" if body.important_team_escalation else ""
        return f"Paged team {names.get(body.team, body.team)}{important}."
    names = {u.id: u.username for u in choices.users}
    paged = body.users or []
    important = " (important)" if any(u.important for u in paged) else ""
    return f"Paged {', '.join(names.get(u.id, u.id) for u in paged)}{important}."


def _warned(warnings: list[str]) -> list[str]:
    return [f"Warning: {w}." for w in warnings]


def _refusal(error: ValidationError | TocsinError) -> tuple[int, str]:
    """A refused page as (status, message), fields named as the forms name them."""
    status = 400 if isinstance(error, ValidationError) else http.status_of(error)
    return status, problem_text(error, FIELD_NAMES)


def page_form(
    request: Request, status: int = 200, form_error: str | None = None, form: dict[str, Any] | None = None
) -> Response:
    """The "Page someone" form; people without the paging permission see why there is none."""
    context: dict[str, Any] = {"can_page": may_page(request), "page_users": [], "page_teams": [], "hidden_teams": 0}
    if context["can_page"]:
        choices = paging.choices(request.ports, request.principal)
        context |= {"page_users": choices.users, "page_teams": choices.teams, "hidden_teams": choices.hidden}
    return page(request, "page.html", status, form_error=form_error, form=form or EMPTY_FORM, **context)


def page_someone(request: Request) -> Response:
    """A new page: a new alert group, then its page with who was paged."""
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
        paged = paging.page(request.ports, request.principal, body)
    except (ValidationError, InvalidInput, PermissionDenied) as error:
        status, message = _refusal(error)
        return page_form(request, status, form_error=message, form=form)
    notice = " ".join([_notice(paging.choices(request.ports, request.principal), body), *_warned(paged.warnings)])
    return back(request, f"/groups/{quote(paged.group.id)}", notice=notice)


def add_responders(request: Request, group_id: str) -> Response:
    """People paged into an existing alert group, then back to its page with who was paged. A refusal is raised
    with the API's status and message: the handler shows it on the form's page, and audits nothing."""
    try:
        body = schemas.EscalationIn.model_validate(
            {
                "alert_group_id": group_id,
                "users": _paged_users(request),
                "team": request.optional("team"),  # not on the form; the use case refuses one as the API does
            }
        )
        paged = paging.page(request.ports, request.principal, body)
    except (ValidationError, InvalidInput) as error:
        raise InvalidInput(_refusal(error)[1]) from error
    notice = " ".join([_notice(paging.choices(request.ports, request.principal), body), *_warned(paged.warnings)])
    return back(request, f"/groups/{quote(group_id)}", notice=notice)


ROUTES: list[Route] = [
    ("GET", r"/page", page_form),
    ("POST", r"/page", page_someone),
    ("POST", r"/groups/([\w-]+)/responders", add_responders),
]
