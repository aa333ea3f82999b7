"""Calendar feed URLs: ``?token=`` on the iCal exports, for calendar apps that cannot send an API key header
(OnCall's schedule export tokens do the same).

A token names the API key it was made with (by its hash, never the secret) and the one feed it reads, signed with
the deployment's signing key: ``<key hash>.<base64url HMAC-SHA256(key, "feed:<kind>:<id>:<key hash>")>``. It
reads only that feed, acts with that key's user, and stops working when the key is revoked.
"""

from __future__ import annotations

from typing import Final, Literal

from oncall import signing

FeedKind = Literal["schedule", "user"]
MAX_TOKEN_LENGTH: Final = 200
FEED_PATHS: Final[dict[FeedKind, str]] = {  # below /api/v1/
    "schedule": "schedules/{id}/export",
    "user": "users/{id}/schedule_export",
}


class InvalidFeedToken(Exception):
    pass


def _signature(kind: FeedKind, entity_id: str, key_hash: str, signing_key: bytes) -> str:
    return signing.purpose_mac(signing_key, "feed", f"{kind}:{entity_id}:{key_hash}")


def feed_token(kind: FeedKind, entity_id: str, key_hash: str, signing_key: bytes) -> str:
    return f"{key_hash}.{_signature(kind, entity_id, key_hash, signing_key)}"


def feed_url(base_url: str, kind: FeedKind, entity_id: str, token: str) -> str:
    return f"{base_url}/api/v1/{FEED_PATHS[kind].format(id=entity_id)}?token={token}"


def key_hash_of(token: str, kind: FeedKind, entity_id: str, signing_key: bytes) -> str:
    """The hash of the API key a valid token of this feed was made with."""
    if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise InvalidFeedToken("invalid feed token")
    key_hash, _, signature = token.partition(".")
    expected = _signature(kind, entity_id, key_hash, signing_key)
    if not key_hash or not signing.matches(expected, signature):
        raise InvalidFeedToken("invalid feed token")
    return key_hash
