"""Every key of the single table, built here and nowhere else (the access patterns: :mod:`oncall.store.schema`).

``Key`` values are primary keys (``PK``/``SK``); collection names are GSI1 partitions (``GSI1PK``), listed by
their ``GSI1SK``; due partitions are sparse GSI3 partitions sorted by due time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from oncall.ports import GroupKey

Key = dict[str, str]

META: Final = "META"  # the sort key of an entity's own item

# Entity kinds: an entity ``<kind>#<id>`` / ``META``.
USER: Final = "USER"
TEAM: Final = "TEAM"
CHAIN: Final = "CHAIN"
POLICY: Final = "POLICY"
RULE: Final = "RULE"
WEBHOOK: Final = "WEBHOOK"
SCHEDULE: Final = "SCHEDULE"
SHIFT: Final = "SHIFT"

# GSI1 collections.
INTEGRATIONS: Final = "INTEGRATIONS"
ROUTES: Final = "ROUTES"
HEARTBEATS: Final = "HEARTBEATS"
USERS: Final = "USERS"
TEAMS: Final = "TEAMS"
CHAINS: Final = "CHAINS"
WEBHOOKS: Final = "WEBHOOKS"
SCHEDULES: Final = "SCHEDULES"
API_KEYS: Final = "APIKEYS"

# Sparse GSI3 partitions of things due at a time.
HEARTBEAT_DUE: Final = "HEARTBEAT_DUE"
ESCALATION_START_DUE: Final = "ESCALATION_START_DUE"


def stamp(moment: datetime) -> str:
    """Fixed-width UTC timestamp: sorts lexically in time order (pydantic's ISO output drops zero micros)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entity(kind: str, entity_id: str) -> Key:
    return {"PK": f"{kind}#{entity_id}", "SK": META}


def policies_of(chain_id: str) -> str:
    """The collection of a chain's steps."""
    return f"POLICIES#{chain_id}"


def rules_of(user_id: str) -> str:
    """The collection of a person's notification rules."""
    return f"RULES#{user_id}"


def shifts_of(schedule_id: str | None) -> str:
    """The collection of a schedule's shifts ("-": shifts in no schedule)."""
    return f"SHIFTS#{schedule_id or '-'}"


# --- integrations -------------------------------------------------------------------------------------------------


def integration_partition(integration_id: str) -> str:
    return f"INT#{integration_id}"


def integration(integration_id: str) -> Key:
    return {"PK": integration_partition(integration_id), "SK": META}


def config_stamp(integration_id: str) -> Key:
    return {"PK": integration_partition(integration_id), "SK": "STAMP"}


def route(integration_id: str, route_id: str) -> Key:
    return {"PK": integration_partition(integration_id), "SK": f"ROUTE#{route_id}"}


def route_ref(route_id: str) -> Key:
    return {"PK": f"ROUTE#{route_id}", "SK": "REF"}


def heartbeat(integration_id: str) -> Key:
    return {"PK": integration_partition(integration_id), "SK": "HEARTBEAT"}


def token(token_hash: str) -> Key:
    return {"PK": f"TOKEN#{token_hash}", "SK": "TOKEN"}


def integration_name(team_id: str | None, name: str) -> Key:
    """The claim of an integration name in a team ("-": no team): names compare exactly, as OnCall's do."""
    return {"PK": f"INTNAME#{team_id or '-'}", "SK": name}


def paging_integration(team_id: str | None) -> Key:
    """Which integration a team ("-": pages without a team) is paged through."""
    return {"PK": f"PAGING#{team_id or '-'}", "SK": "INTEGRATION"}


def entity_name(kind: str, name: str) -> Key:
    """The claim of a name among the entities of a kind whose names are unique (chains; exact match)."""
    return {"PK": f"NAME#{kind}", "SK": name}


# DynamoDB's limits on key values, in bytes of UTF-8 (a partition key, a sort key)
_KEY_BYTES: Final = {"PK": 2048, "SK": 1024}


def addressable(key: Key) -> bool:
    """Whether DynamoDB takes ``key`` as a key at all: each part 1 byte to its limit of UTF-8. Stored keys always
    are, so a key that is not holds nothing. Ids and names in requests may be any string: reading one that cannot
    be a key answers "none", not DynamoDB's refusal."""
    try:
        return all(0 < len(value.encode("utf-8")) <= _KEY_BYTES.get(part, 1024) for part, value in key.items())
    except UnicodeEncodeError:  # a lone surrogate
        return False


def layout_step(name: str) -> Key:
    """The mark that a lazy layout step (:mod:`oncall.store.integrations`) ran on this table."""
    return {"PK": "LAYOUT", "SK": name}


# --- alert groups -------------------------------------------------------------------------------------------------


def sequence(key: GroupKey) -> Key:
    """Where a grouping key's current sequence number is kept (absent until its first group closes)."""
    return {"PK": f"KEY#{key.integration_id}#{key.route_id}#{key.distinction}", "SK": "SEQ"}


def group_partition(group_id: str) -> str:
    return f"GROUP#{group_id}"


def group(group_id: str) -> Key:
    return {"PK": group_partition(group_id), "SK": META}


ALERT_PREFIX: Final = "ALERT#"
TIMELINE_PREFIX: Final = "LOG#"


def alert(group_id: str, alert_id: str) -> Key:
    return {"PK": group_partition(group_id), "SK": f"{ALERT_PREFIX}{alert_id}"}


def alerts_since(moment: datetime) -> str:
    """The sort key from which a group's alerts are at least as new as ``moment`` (ids start with the time)."""
    return f"{ALERT_PREFIX}A{int(moment.timestamp() * 1e9):020d}"


def timeline(group_id: str, at: datetime, suffix: str) -> Key:
    return {"PK": group_partition(group_id), "SK": f"{TIMELINE_PREFIX}{stamp(at)}#{suffix}"}


NOTE_PREFIX: Final = "NOTE#"
RESOLUTION_NOTES: Final = "RESOLUTION_NOTES"  # the GSI2 partition of every resolution note, by creation time


def resolution_note(group_id: str, note_id: str) -> Key:
    """A resolution note lives in its group's partition (deleted with the group), found by id through GSI1."""
    return {"PK": group_partition(group_id), "SK": f"{NOTE_PREFIX}{note_id}"}


def note_lookup(note_id: str) -> str:
    """The GSI1 partition that finds a resolution note by its id."""
    return f"{NOTE_PREFIX}{note_id}"


def claim(group_id: str, effect: str) -> Key:
    return {"PK": group_partition(group_id), "SK": f"SENT#{effect}"}


def resolved_groups_of(integration_id: str) -> str:
    """The GSI2 partition of an integration's resolved groups."""
    return f"RESOLVED#{integration_id}"


def groups_in_state(state: str) -> str:
    """The GSI3 partition of the groups in a state."""
    return f"STATE#{state}"


def request(integration_id: str, fingerprint: str) -> Key:
    """The progress of one request body with several alerts (a retry of it continues where it stopped)."""
    return {"PK": f"REQUEST#{integration_id}#{fingerprint}", "SK": "REQUEST"}


def deferred_start(group_id: str, generation: int) -> Key:
    return {"PK": f"DEFERRED_START#{group_id}", "SK": f"G{generation}"}


# --- access ---------------------------------------------------------------------------------------------------------


def api_key(key_hash: str) -> Key:
    return {"PK": f"APIKEY#{key_hash}", "SK": "APIKEY"}


def auth_epoch() -> Key:
    """The account's auth epoch (:mod:`oncall.store.epoch`)."""
    return {"PK": "AUTH", "SK": "EPOCH"}


def counter(name: str, window: int) -> Key:
    return {"PK": f"COUNTER#{name}", "SK": f"W#{window}"}


def audit_day(day: str) -> str:
    """The partition of one UTC day of the audit log."""
    return f"AUDIT#{day}"


# --- insights: counters per hour (oncall.store.insights) --------------------------------------------------------
INSIGHTS_PREFIX: Final = "INSIGHTS#"


def insights_hour(moment: datetime) -> str:
    """The hour bucket of a moment, ``2026-12-07T11``: sorts in time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")


def insights_month(hour: str) -> str:
    """The partition of an hour bucket's counters: one per month, so a 30-day read is one or two queries."""
    return f"{INSIGHTS_PREFIX}{hour[:7]}"


def insights_of_integration(moment: datetime, integration_id: str) -> Key:
    hour = insights_hour(moment)
    return {"PK": insights_month(hour), "SK": f"{hour}#INT#{integration_id}"}


def insights_of_user(moment: datetime, user_id: str) -> Key:
    hour = insights_hour(moment)
    return {"PK": insights_month(hour), "SK": f"{hour}#USER#{user_id}"}
