"""Web console sessions: a signed, expiring token in a cookie, and per-session CSRF tokens.

A session token is ``base64url(claims JSON) "." base64url(HMAC-SHA256(key, "session:" + first part))``, signed
with the deployment's link-signing key (:func:`oncall.links.signing_key`). The ``session:`` prefix keeps session
tokens and action-link tokens apart although they share the key. Claims: the API key's hash (``h``, so a revoked
key ends its sessions), the user id (``u``), the expiry (``e``, Unix seconds) and a nonce (``n``).

The CSRF token of a session is ``HMAC-SHA256(key, "csrf:" + session token)``: every form carries it in a hidden
field and every POST is checked against the session cookie (constant-time comparison).

The sign-in form has no session yet, so it is protected by a signed pre-session pair (login CSRF): ``GET
/ui/signin`` sets the short-lived ``tocsin_signin`` cookie (``HttpOnly``, ``SameSite=Strict``, ``Path=/ui/signin``)
holding a nonce ``"<expiry>.<random>"``, and the form carries ``HMAC-SHA256(key, "signin:" + nonce)``. A POST
signs in only with a matching, unexpired pair: another site can neither read the token nor set the cookie.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from oncall import signing

COOKIE_NAME: Final = "tocsin_session"
COOKIE_PATH: Final = "/ui"
SESSION_TTL: Final = timedelta(hours=12)
MAX_TOKEN_LENGTH: Final = 1024
SIGNIN_COOKIE_NAME: Final = "tocsin_signin"
SIGNIN_COOKIE_PATH: Final = "/ui/signin"
SIGNIN_TTL: Final = timedelta(minutes=30)


class InvalidSession(Exception):
    """Missing, forged, altered or expired session."""


@dataclass(frozen=True)
class SessionClaims:
    key_hash: str
    user_id: str
    expires_at: datetime


def issue(key_hash: str, user_id: str, now: datetime, key: bytes, ttl: timedelta = SESSION_TTL) -> str:
    claims = {"h": key_hash, "u": user_id, "e": int((now + ttl).timestamp()), "n": secrets.token_urlsafe(8)}
    body = signing.b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{body}.{signing.purpose_mac(key, 'session', body)}"


def verify(token: str | None, key: bytes, now: datetime) -> SessionClaims:
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise InvalidSession("no session")
    body, _, signature = token.partition(".")
    if not signing.matches(signing.purpose_mac(key, "session", body), signature):
        raise InvalidSession("invalid session")
    try:
        claims = json.loads(signing.b64url_decode(body))
        expires_at = datetime.fromtimestamp(int(claims["e"]), tz=now.tzinfo)
        parsed = SessionClaims(key_hash=str(claims["h"]), user_id=str(claims["u"]), expires_at=expires_at)
    except (ValueError, TypeError, KeyError, OverflowError, OSError):
        raise InvalidSession("invalid session") from None
    if now >= parsed.expires_at:
        raise InvalidSession("session expired")
    return parsed


def csrf_token(session_token: str, key: bytes) -> str:
    return signing.purpose_mac(key, "csrf", session_token)


def check_csrf(session_token: str, submitted: str | None, key: bytes) -> bool:
    return signing.matches(csrf_token(session_token, key), submitted)


def new_signin_nonce(now: datetime, ttl: timedelta = SIGNIN_TTL) -> str:
    """The sign-in cookie's value: its expiry (Unix seconds) and a random part, both covered by the token."""
    return f"{int((now + ttl).timestamp())}.{secrets.token_urlsafe(18)}"


def signin_token(nonce: str, key: bytes) -> str:
    return signing.purpose_mac(key, "signin", nonce)


def check_signin_token(nonce: str | None, submitted: str | None, key: bytes, now: datetime) -> bool:
    """The sign-in form's token matches the sign-in cookie's nonce, and the nonce has not expired."""
    if not nonce or not submitted or not nonce.isascii() or not submitted.isascii() or len(nonce) > 100:
        return False
    if not signing.matches(signin_token(nonce, key), submitted):
        return False
    expiry, _, _ = nonce.partition(".")
    try:
        return int(expiry) > now.timestamp()
    except ValueError:
        return False


def signin_cookie(nonce: str, *, secure: bool, max_age: int = int(SIGNIN_TTL.total_seconds())) -> str:
    parts = [
        f"{SIGNIN_COOKIE_NAME}={nonce}",
        f"Path={SIGNIN_COOKIE_PATH}",
        "HttpOnly",
        "SameSite=Strict",
        f"Max-Age={max_age}",
    ]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def cleared_signin_cookie(*, secure: bool) -> str:
    return signin_cookie("", secure=secure, max_age=0)


def flash_signature(notice: str, error: str, key: bytes) -> str:
    """Signs the message a redirect passes to the next page, so a crafted link cannot put words on our pages."""
    return signing.purpose_mac(key, "flash", f"{notice}\n{error}")


def check_flash(notice: str, error: str, submitted: str | None, key: bytes) -> bool:
    return signing.matches(flash_signature(notice, error, key), submitted)


def cookie(token: str, *, secure: bool, max_age: int = int(SESSION_TTL.total_seconds())) -> str:
    parts = [f"{COOKIE_NAME}={token}", f"Path={COOKIE_PATH}", "HttpOnly", "SameSite=Lax", f"Max-Age={max_age}"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def cleared_cookie(*, secure: bool) -> str:
    return cookie("", secure=secure, max_age=0)


def read_cookie(cookies: list[str] | None, cookie_name: str = COOKIE_NAME) -> str | None:
    for raw in cookies or []:
        for part in raw.split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name == cookie_name and value:
                return value
    return None
