"""``/actions/{token}``: acknowledge or resolve an alert group from the link in a notification.

A GET only shows what the link will do (mail scanners and chat unfurlers fetch links; they must not
acknowledge anything); the button on that page POSTs back to the same URL, which acts.
"""

from __future__ import annotations

import html
from datetime import datetime

from oncall import links
from oncall.api.logic import ApiError, apply_action
from oncall.clock import Clock
from oncall.executor import Executor
from oncall.ports import Store

VERBS = {"acknowledge": "Acknowledge", "resolve": "Resolve", "confirm": "Confirm you are still on it"}
PAST = {"acknowledge": "acknowledged", "resolve": "resolved", "confirm": "still acknowledged by you"}


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} - Tocsin</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}"
        "button{font-size:1.2rem;padding:.6rem 1.4rem}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )


def _claims(token: str, key: bytes, now: datetime) -> links.LinkClaims | tuple[int, str]:
    try:
        claims = links.verify(token, key, now)
    except links.InvalidLink as error:
        message = "This link has expired." if error.reason == "expired" else "This link is not valid."
        return 410 if error.reason == "expired" else 404, _page("Link not usable", f"<p>{message}</p>")
    if claims.action not in VERBS:
        return 404, _page("Link not usable", "<p>This link is not valid.</p>")
    return claims


def confirm(store: Store, token: str, key: bytes, now: datetime) -> tuple[int, str]:
    claims = _claims(token, key, now)
    if isinstance(claims, tuple):
        return claims
    group = store.groups.get(claims.group_id)
    if group is None:
        return 404, _page("Alert group not found", "<p>The alert group no longer exists.</p>")
    verb = VERBS[claims.action]
    body = (
        f"<p><strong>{html.escape(group.title or 'Alert')}</strong> is <em>{group.state_at(now).value}</em> "
        f"({group.alerts_count} alerts).</p>"
        f'<form method="post"><button type="submit">{verb}</button></form>'
    )
    return 200, _page(f"{verb} alert group", body)


def perform(store: Store, executor: Executor, token: str, key: bytes, clock: Clock) -> tuple[int, str]:
    claims = _claims(token, key, clock.now())
    if isinstance(claims, tuple):
        return claims
    try:
        group = apply_action(store, executor, claims.group_id, claims.action, claims.user_id or "link", clock)
    except ApiError as error:
        detail = str(error.body.get("detail", "The action is not possible."))
        return error.status, _page("Nothing changed", f"<p>{html.escape(detail)}</p>")
    past = PAST[claims.action]
    return 200, _page(
        f"Alert group {past}", f"<p><strong>{html.escape(group.title or 'Alert')}</strong> is now {past}.</p>"
    )
