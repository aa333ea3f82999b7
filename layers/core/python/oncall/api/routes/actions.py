"""``/actions/{token}``: acknowledge or resolve an alert group (or confirm an acknowledgement) from the signed link
in a notification, without signing in: the signature is the proof (:func:`oncall.services.alert_groups.link_caller`).

A GET only shows what the link will do (mail scanners and chat unfurlers fetch links; they must not acknowledge
anything); the button on that page POSTs back to the same URL, which acts.
"""

from __future__ import annotations

import html
from typing import Final

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import http, links
from oncall.api.request import ports_of
from oncall.errors import NotFound, TocsinError, Unavailable
from oncall.services import alert_groups

PATH: Final = "/actions/<token>"
VERBS: Final = {"acknowledge": "Acknowledge", "resolve": "Resolve", "confirm": "Confirm you are still on it"}
PAST: Final = {"acknowledge": "acknowledged", "resolve": "resolved", "confirm": "still acknowledged by you"}


def _page(status: int, title: str, body: str) -> Response[str]:
    text = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} - Tocsin</title>"
        '<link rel="stylesheet" href="/ui/static/console.css"></head>'  # the console's one stylesheet: no inline CSS
        f'<body class="action-page"><main><h1>{html.escape(title)}</h1>{body}</main></body></html>'
    )
    return Response(status, "text/html; charset=utf-8", text, headers={"Cache-Control": "no-store"})


def _unusable(error: links.InvalidLink) -> Response[str]:
    if error.reason == "expired":
        return _page(410, "Link not usable", "<p>This link has expired.</p>")
    if error.reason == "revoked":
        text = "<p>This link no longer works: the person it was sent to was deleted or lost their role.</p>"
        return _page(410, "Link not usable", text)
    return _page(404, "Link not usable", "<p>This link is not valid.</p>")


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    @api.get(PATH, include_in_schema=False)
    def action_link_page(token: str) -> Response[str]:
        try:
            link = alert_groups.open_link(ports_of(api), token)
        except links.InvalidLink as error:
            return _unusable(error)
        except NotFound:
            return _page(404, "Alert group not found", "<p>The alert group no longer exists.</p>")
        verb, group = VERBS[link.action], link.group
        body = (
            f"<p><strong>{html.escape(group.title or 'Alert')}</strong> is <em>{link.state.value}</em> "
            f"({group.alerts_count} alert{'' if group.alerts_count == 1 else 's'}).</p>"
            f'<form method="post"><button type="submit" class="act-{link.action}">{verb}</button></form>'
        )
        return _page(200, f"{verb} alert group", body)

    @api.post(PATH, include_in_schema=False)
    def action_link_submit(token: str) -> Response[str]:
        try:
            link = alert_groups.follow_link(ports_of(api), token)
        except links.InvalidLink as error:
            return _unusable(error)
        except Unavailable:
            raise
        except TocsinError as refused:
            return _page(http.status_of(refused), "Nothing changed", f"<p>{html.escape(refused.message)}</p>")
        past, title = PAST[link.action], link.group.title or "Alert"
        return _page(200, f"Alert group {past}", f"<p><strong>{html.escape(title)}</strong> is now {past}.</p>")

    return api
