"""Key builders of the single table (see :mod:`oncall.store.schema` for the access patterns)."""

from __future__ import annotations

from datetime import UTC, datetime

from oncall.ports import GroupKey


def stamp(moment: datetime) -> str:
    """Fixed-width UTC timestamp: sorts lexically in time order (pydantic's ISO output drops zero micros)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def integration(integration_id: str) -> dict[str, str]:
    return {"PK": f"INT#{integration_id}", "SK": "META"}


def config_stamp(integration_id: str) -> dict[str, str]:
    return {"PK": f"INT#{integration_id}", "SK": "STAMP"}


def route(integration_id: str, route_id: str) -> dict[str, str]:
    return {"PK": f"INT#{integration_id}", "SK": f"ROUTE#{route_id}"}


def route_ref(route_id: str) -> dict[str, str]:
    return {"PK": f"ROUTE#{route_id}", "SK": "REF"}


def token(token_hash: str) -> dict[str, str]:
    return {"PK": f"TOKEN#{token_hash}", "SK": "TOKEN"}


def pointer(key: GroupKey) -> dict[str, str]:
    return {"PK": f"OPEN#{key.integration_id}#{key.route_id}#{key.distinction}", "SK": "OPEN"}


def group(group_id: str) -> dict[str, str]:
    return {"PK": f"GROUP#{group_id}", "SK": "META"}


def alert(group_id: str, alert_id: str) -> dict[str, str]:
    return {"PK": f"GROUP#{group_id}", "SK": f"ALERT#{alert_id}"}


def timeline(group_id: str, at: datetime, suffix: str) -> dict[str, str]:
    return {"PK": f"GROUP#{group_id}", "SK": f"LOG#{stamp(at)}#{suffix}"}


def api_key(key_hash: str) -> dict[str, str]:
    return {"PK": f"APIKEY#{key_hash}", "SK": "APIKEY"}


def heartbeat(integration_id: str) -> dict[str, str]:
    return {"PK": f"INT#{integration_id}", "SK": "HEARTBEAT"}


def deferred_start(group_id: str, generation: int) -> dict[str, str]:
    return {"PK": f"DEFERRED_START#{group_id}", "SK": f"G{generation}"}
