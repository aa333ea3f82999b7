"""Signed, expiring action links: acknowledge, resolve or silence an alert group from a phone, without signing in.

A token is ``base64url(claims JSON) "." base64url(HMAC-SHA256(key, first part))``, both without padding. The
MAC covers the encoded claims exactly as sent, so there is one valid spelling of each token. Links are bearer
credentials: whoever holds one can act until it expires, hence the short default lifetime (24 hours), or until
its recipient is deleted or loses a role it had when the link was sent (the ``r`` claim; checked by
:func:`oncall.services.alert_groups.open_link`).

A link must act only on an explicit confirmation (a POST from the page its GET shows): mail scanners and chat
unfurlers fetch every URL in a message.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from oncall import signing
from oncall.settings import Env, Settings

ACTIONS: Final = frozenset({"acknowledge", "resolve", "silence", "confirm"})  # confirm: answer an ack reminder
DEFAULT_TTL: Final = timedelta(hours=24)
MAX_TOKEN_LENGTH: Final = 1024  # ours are ~150 characters; longer input is not worth decoding


class InvalidLink(Exception):
    """The token cannot be used; ``reason`` is ``"expired"``, ``"invalid"`` (forged, altered or garbage) or
    ``"revoked"`` (its recipient was deleted or demoted since it was sent)."""

    def __init__(self, reason: Literal["expired", "invalid", "revoked"]) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LinkClaims:
    action: str
    group_id: str
    user_id: str | None  # who the link was sent to; None for links sent to a channel
    expires_at: datetime
    role: str | None = None  # the recipient's role when it was sent


def sign(
    action: str, group_id: str, user_id: str | None, expires_at: datetime, key: bytes, role: str | None = None
) -> str:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    _check(key, expires_at)
    claims: dict[str, Any] = {"a": action, "g": group_id, "e": int(expires_at.timestamp())}
    if user_id is not None:
        claims["u"] = user_id
    if role is not None:
        claims["r"] = role
    body = signing.b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{body}.{signing.mac(key, body)}"


def verify(token: str, key: bytes, now: datetime) -> LinkClaims:
    """The token's claims; :class:`InvalidLink` for anything else (an expired link only if it is genuine)."""
    _check(key, now)
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise InvalidLink("invalid")
    body, _, signature = token.partition(".")
    if not signing.matches(signing.mac(key, body), signature):
        raise InvalidLink("invalid")
    try:
        claims = _parse(body)
    except (ValueError, TypeError, KeyError, OverflowError, OSError):  # OSError: timestamp out of range
        raise InvalidLink("invalid") from None  # signed by us, so only a key shared with other software gets here
    if now >= claims.expires_at:
        raise InvalidLink("expired")
    return claims


def action_url(base_url: str, token: str) -> str:
    return f"{base_url}/actions/{token}"


def group_page_url(base_url: str, group_id: str) -> str:
    """The web console's page of an alert group: e-mails' "Open in Tocsin" and the API's ``permalinks.web``
    (the console asks to sign in first when needed, then comes back to it)."""
    return f"{base_url}/ui/groups/{group_id}"


def signing_key(settings: Settings) -> bytes:
    """The deployment's link-signing key: ``TOCSIN_SIGNING_KEY``, else the Secrets Manager secret it names."""
    if settings.signing_key:
        return settings.signing_key.encode()
    if settings.signing_secret_arn:
        return _secret(settings.signing_secret_arn)
    raise RuntimeError(f"no key to sign action links: set {Env.SIGNING_KEY} (local) or {Env.SIGNING_SECRET_ARN} (AWS)")


@functools.cache  # one Secrets Manager call per process; failures are not cached
def _secret(arn: str) -> bytes:
    import boto3

    response = boto3.client("secretsmanager").get_secret_value(SecretId=arn)
    value: bytes = response["SecretString"].encode() if "SecretString" in response else response["SecretBinary"]
    if not value:
        raise RuntimeError(f"the signing key secret {arn} is empty")
    return value


def _check(key: bytes, moment: datetime) -> None:
    if not key:
        raise ValueError("empty signing key")
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one (UTC)")


def _parse(body: str) -> LinkClaims:
    claims = json.loads(signing.b64url_decode(body))
    if not isinstance(claims, dict):
        raise ValueError("claims are not an object")
    action, group_id, user_id, expires, role = claims["a"], claims["g"], claims.get("u"), claims["e"], claims.get("r")
    valid = (
        action in ACTIONS
        and isinstance(group_id, str)
        and bool(group_id)
        and (user_id is None or isinstance(user_id, str))
        and (role is None or isinstance(role, str))
        and isinstance(expires, int)
        and not isinstance(expires, bool)
    )
    if not valid:
        raise ValueError("unexpected claims")
    return LinkClaims(action, group_id, user_id, datetime.fromtimestamp(expires, UTC), role)
