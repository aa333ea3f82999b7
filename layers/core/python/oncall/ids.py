"""Public ids, secret tokens and their hashes.

Ids look like Grafana OnCall's public ids (a type prefix + 12 characters of an unambiguous alphabet), so
existing API clients that store them keep working. Tokens and API keys are random secrets; only their SHA-256
is ever stored, and comparisons of secrets happen on hashes looked up by key, never by scanning.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from datetime import UTC, datetime, timedelta
from typing import Final

ALPHABET: Final = "ABCDEFGHIJKLMNPQRSTUVWXYZ123456789"
TOKEN_ALPHABET: Final = string.ascii_letters + string.digits
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

INTEGRATION: Final = "C"
ROUTE: Final = "R"
ALERT_GROUP: Final = "I"
ALERT: Final = "A"
USER: Final = "U"
TEAM: Final = "T"
API_KEY: Final = "K"
NOTIFICATION_RULE: Final = "N"
ESCALATION_CHAIN: Final = "F"
ESCALATION_POLICY: Final = "E"
WEBHOOK: Final = "WH"
RESOLUTION_NOTE: Final = "M"


def new_id(prefix: str, length: int = 12) -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(length))


def derived_id(prefix: str, *parts: str) -> str:
    """An id computed from ``parts``: the same parts always give the same id, so writers that race to create the
    thing it names agree on its key (first writer wins)."""
    number = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()[:16], "big")
    chars = []
    for _ in range(12):
        number, index = divmod(number, len(ALPHABET))
        chars.append(ALPHABET[index])
    return prefix + "".join(chars)


def group_id(integration_id: str, route_id: str, distinction: str, sequence: int) -> str:
    """The id of the ``sequence``-th alert group of a grouping key (integration, route, md5 of the grouping id)."""
    return derived_id(ALERT_GROUP, integration_id, route_id, distinction, str(sequence))


def new_sortable_id(prefix: str, at: datetime) -> str:
    """An id that sorts by creation time ``at`` (alerts are listed newest first and counted by time range)."""
    return f"{prefix}{(at - _EPOCH) // timedelta(microseconds=1) * 1000:020d}{new_id('', 6)}"


def sortable_id_time(sortable_id: str) -> datetime:
    """The creation time a :func:`new_sortable_id` carries (to microseconds)."""
    return _EPOCH + timedelta(microseconds=int(sortable_id[1:21]) // 1000)


def new_token(length: int = 25) -> str:
    """An ingest token: 25 alphanumerics as OnCall uses, so migrated senders see the same URL shape."""
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(length))


def new_api_key() -> str:
    return "tcs_" + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
