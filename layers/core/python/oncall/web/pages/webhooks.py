"""Outgoing webhooks: the list with each one's last response (status, when, the start of what it answered),
creating and deleting them. Secrets are never shown: the use cases return them masked, and the page only says
that one is set. Every change goes through :mod:`oncall.services.webhooks`, which decides who may."""

from __future__ import annotations

from urllib.parse import quote

from oncall import schemas
from oncall.directory import WEBHOOK_TRIGGERS, OutgoingWebhook
from oncall.services import webhooks
from oncall.services.policy import Action, Resource, allows
from oncall.web.base import Request, Response, Route, back, may_change, page, run

EXCERPT = 300  # characters of a last response shown in the list


def _secrets(hook: OutgoingWebhook) -> list[str]:
    """Which secrets are set (their values are never on the page)."""
    named = [("authorization_header", "Authorization header"), ("password", "password")]
    found = [label for field, label in named if getattr(hook, field)]
    if hook.headers and schemas.MASK in hook.headers:
        found.append("secret headers")
    return found


def webhooks_page(request: Request) -> Response:
    teams = {t.id: t.name for t in request.store.teams.list()}
    integrations = {i.id: i.name for i in request.store.integrations.list()}
    rows = [
        {
            "hook": hook,
            "team": teams.get(hook.team_id, hook.team_id) if hook.team_id else None,
            "integrations": [integrations.get(i, i) for i in hook.integration_filter],
            "secrets": _secrets(hook),
            "last": hook.last_response,
            "excerpt": (hook.last_response.content or "")[:EXCERPT] if hook.last_response else "",
            "editable": may_change(request, Resource.WEBHOOKS, hook.team_id),
        }
        for hook in webhooks.list_webhooks(request.ports, request.principal)
    ]
    may_create = allows(request.principal, Resource.WEBHOOKS, Action.CREATE, teams=[None])
    return page(
        request,
        "webhooks.html",
        rows=rows,
        may_create=may_create,
        triggers=WEBHOOK_TRIGGERS,
        team_choices=sorted(teams.items(), key=lambda item: item[1].lower()),
    )


def create_webhook(request: Request) -> Response:
    form = request.form
    body = {
        "name": form.get("name", "").strip(),
        "url": form.get("url", "").strip(),
        "trigger_type": form.get("trigger_type") or "escalation",
        "http_method": form.get("http_method") or "POST",
        "data": request.optional("data"),
        "forward_all": not request.optional("data"),
        "authorization_header": request.optional("authorization_header"),
        "team_id": request.optional("team_id"),
    }
    made = run(
        lambda: webhooks.create_webhook(request.ports, request.principal, schemas.WebhookIn.model_validate(body))
    )
    return back(request, f"/webhooks#{quote(made.id)}", notice=f"Outgoing webhook “{made.name}” created.")


def delete_webhook(request: Request, webhook_id: str) -> Response:
    hook = run(lambda: webhooks.get_webhook(request.ports, request.principal, webhook_id))
    run(lambda: webhooks.delete_webhook(request.ports, request.principal, webhook_id))
    return back(request, "/webhooks", notice=f"Outgoing webhook “{hook.name}” deleted.")


ROUTES: list[Route] = [
    ("GET", r"/webhooks", webhooks_page),
    ("POST", r"/webhooks", create_webhook),
    ("POST", r"/webhooks/([\w-]+)/delete", delete_webhook),
]
