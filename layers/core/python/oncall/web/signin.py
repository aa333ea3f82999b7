"""Signing in and out of the web console, and finding the signed-in user of a request.

The sign-in form is protected against login CSRF by a signed pre-session pair (:mod:`oncall.web.session`):
rendering the form sets the ``tocsin_signin`` cookie and puts the matching token in the form; a POST without the
matching pair is refused (403) before the API key is even looked at, and no session is issued.
"""

from __future__ import annotations

from oncall import access
from oncall.errors import Throttled, TocsinError
from oncall.web import session
from oncall.web.base import UI, Request, Response, page, redirect

EXPIRED_FORM = "The form expired; reload the page."


def signin_page(request: Request, status: int = 200, message: str | None = None) -> Response:
    """The form, with a fresh pre-session nonce in its cookie and the nonce's token in the form."""
    nonce = session.new_signin_nonce(request.now)
    result = page(
        request,
        "signin.html",
        status,
        message=message,
        next=request.local_target("next", "") if request.method == "POST" else request.first("next") or "",
        signin_csrf=session.signin_token(nonce, request.container.signing_key()),
    )
    result["cookies"] = [session.signin_cookie(nonce, secure=request.secure)]
    return result


def signin(request: Request) -> Response:
    nonce = session.read_cookie(request.event.get("cookies"), session.SIGNIN_COOKIE_NAME)
    if not session.check_signin_token(
        nonce, request.form.get("csrf_token"), request.container.signing_key(), request.now
    ):
        return signin_page(request, 403, EXPIRED_FORM)
    secret = request.form.get("api_key", "")
    authenticator = request.container.authenticator
    try:
        actor, key = authenticator.authenticate(secret)
        authenticator.throttle(key, request.now)
    except TocsinError as denied:
        return signin_page(request, 429 if isinstance(denied, Throttled) else 401, "That API key is not valid.")
    token = session.issue(key.key_hash, actor.user_id, request.now, request.container.signing_key())
    target = request.local_target("next", f"{UI}/groups")
    return redirect(
        target,
        [session.cookie(token, secure=request.secure), session.cleared_signin_cookie(secure=request.secure)],
    )


def signout(request: Request) -> Response:
    return redirect(f"{UI}/signin", [session.cleared_cookie(secure=request.secure)])


def load_session(request: Request) -> bool:
    """Sets ``request.actor`` from a valid session cookie whose API key and user still exist."""
    token = session.read_cookie(request.event.get("cookies"))
    try:
        claims = session.verify(token, request.container.signing_key(), request.now)
    except session.InvalidSession:
        return False
    key = request.store.api_keys.by_hash(claims.key_hash)
    if key is None or key.user_id != claims.user_id:
        return False  # the key was revoked
    user = request.store.users.get(key.user_id)
    if user is None:
        return False
    request.actor = access.principal(user)
    request.token = token or ""
    request.key_id = key.id
    request.key_hash = key.key_hash
    return True
