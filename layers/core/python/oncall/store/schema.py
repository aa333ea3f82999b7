"""The one DynamoDB table: its key schema, indexes and item layout.

This module is the single definition used by the CDK stack (``infra/data.py``), the local stack and the tests.
It must stay free of boto3 and CDK imports.

Access patterns (all single-table, ``PK``/``SK`` strings):

| pattern                                   | how                                                                    |
|-------------------------------------------|------------------------------------------------------------------------|
| integration by ingest token               | GetItem ``TOKEN#<sha256(token)>`` / ``TOKEN`` -> integration id, type  |
| integration + routes + config stamp       | Query ``INT#<id>`` (items ``META``, ``ROUTE#<id>``, ``STAMP``)         |
| rate limit + config version (per sync)    | UpdateItem ``INT#<id>`` / ``STAMP`` (returns the config version)       |
| route by id                               | GetItem ``ROUTE#<id>`` / ``REF`` -> integration id                     |
| list integrations                         | Query GSI1 ``INTEGRATIONS`` (sorted by name)                           |
| integration holding a name in a team      | GetItem ``INTNAME#<team or ->`` / ``<name>`` -> integration id: the    |
|                                           | claim, written with the integration on condition nobody holds it       |
| chain, team, user or webhook holding a    | GetItem ``NAME#<kind>`` / ``<name>`` (``CHAIN``, ``TEAM``, ``USER``:   |
| name (names are unique)                   | username, ``WEBHOOK``) -> entity id, written likewise                  |
| a team's direct paging integration        | GetItem ``PAGING#<team or ->`` / ``INTEGRATION`` -> integration id,    |
|                                           | written with it on condition it is absent (first writer wins)          |
| group                                     | GetItem ``GROUP#<id>`` / ``META``                                      |
| open group of (integration, route, key)   | GetItem ``GROUP#<id(key, n)>``: the id derives from the key and its    |
|                                           | sequence number ``n`` (``KEY#<int>#<route>#<md5>`` / ``SEQ``, absent   |
|                                           | until the key's first group closes), so creating it is one conditional |
|                                           | PutItem (first writer wins) and appending one conditional UpdateItem   |
| alerts of a group, newest first           | Query ``GROUP#<id>`` begins_with ``ALERT#``, descending                |
| timeline of a group                       | Query ``GROUP#<id>`` begins_with ``LOG#``                              |
| groups in a state, newest first           | Query GSI3 ``STATE#<state>`` (every group is in one of the four)       |
| groups newest first                       | the four state partitions of GSI3, merged                              |
| resolved groups of an integration         | Query GSI2 ``RESOLVED#<int>`` (sparse: resolved groups only); its open |
|                                           | groups are the open state partitions filtered by integration           |
| a request's progress (several alerts)     | GetItem ``REQUEST#<int>#<fingerprint>`` / ``REQUEST`` (expires)        |
| heartbeats due for a check (sparse)       | Query GSI3 ``HEARTBEAT_DUE`` with ``GSI3SK <= now``                    |
| escalation starts to retry (sparse)       | Query GSI3 ``ESCALATION_START_DUE`` (``DEFERRED_START#<group>``/``G<n>``)|
| API key                                   | GetItem ``APIKEY#<sha256(key)>`` / ``APIKEY``                          |
| insights counters of a period (ADD-kept)  | Query ``INSIGHTS#<yyyy-mm>`` SK BETWEEN ``<yyyy-mm-ddTHH>`` .. ``~``   |
|   per hour x integration / person         | items ``<hour>#INT#<id>`` (groups, acknowledged, ack_seconds, resolved,|
|                                           | resolve_seconds) and ``<hour>#USER#<id>`` (notifications)              |
| groups begun in a period (noisiest)       | Query GSI1 ``GROUPS`` with ``GSI1SK`` BETWEEN two stamps               |
| auth epoch (revocations reach caches)     | GetItem ``AUTH`` / ``EPOCH`` (consistent, <= 1/s per container); ADD 1 |
|                                           | after every revoking write (keys, users, teams, tokens)                |

Write units (``bench/ingest.py`` counts them with ``ReturnConsumedCapacity``): GSI2 and GSI3 project only the keys
and the attributes group listings filter on, none of which an appended alert changes, so appending costs no index
write; a group item stays under 1 KB and an alert item's content is compressed above 1 KB. A new group is one
PutItem of the group (table + its GSI3 entry) and one of the alert; an alert into an open group one UpdateItem of
the group's counters and one PutItem of the alert. No transaction on that path (transactions bill twice).

Every change of the table is on its stream (``NEW_AND_OLD_IMAGES``): the escalation starter
(``functions/escalation_start``) starts and stops escalations from the changes of group items, so a group that is
stored escalates even if the function that stored it dies the next instant.

Raw alerts carry ``ttl`` (epoch seconds) so DynamoDB expires them after the retention period; groups are kept, and
so are request records until their ``ttl``.

Layout history: pre-1.0 the layout changes without migration (there are no deployments to migrate). The layout of
this version (group ids derived from grouping keys, ``KEY#`` sequence items instead of ``OPEN#`` pointers,
compressed alert content) does not read tables written before it: start the local stack on a fresh ``.local/``.
Name claims and paging pointers came later and need no fresh table: the first writer that needs them backfills them
from the listing, once, and marks the table (``LAYOUT`` / ``INTEGRATION_KEYS``, ``LAYOUT`` / ``<KIND>_NAMES``), so a
deployed table and a kept ``.local/`` get them without a deploy step (:mod:`oncall.store.integrations`,
:class:`oncall.store.entities.NamedCollection`).
"""

from __future__ import annotations

from typing import Any, Final

TABLE_NAME_ENV: Final = "TOCSIN_TABLE"
DEFAULT_TABLE_NAME: Final = "tocsin"

PK: Final = "PK"
SK: Final = "SK"
TTL_ATTRIBUTE: Final = "ttl"
# Days after which DynamoDB expires a raw alert (its ``ttl``); the deployment's ``retention_days`` setting
# (``TOCSIN_RETENTION_DAYS``) overrides it. One default for the stack, the local stack and the README.
RETENTION_DAYS_ENV: Final = "TOCSIN_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS: Final = 90

# Overloaded global secondary indexes: (index name, partition key attribute, sort key attribute).
GSI1: Final = ("GSI1", "GSI1PK", "GSI1SK")
GSI2: Final = ("GSI2", "GSI2PK", "GSI2SK")
GSI3: Final = ("GSI3", "GSI3PK", "GSI3SK")
INDEXES: Final = (GSI1, GSI2, GSI3)
# What each index projects beyond the keys (None: every attribute). GSI1 lists whole entities (collections); GSI2
# and GSI3 list groups (then read in one BatchGetItem) and due times, so they carry only what listings filter on:
# an alert appended to a group changes none of it, so it writes no index entry.
GROUP_FILTER_ATTRIBUTES: Final = ("id", "integration_id", "route_id", "team_id", "root_alert_group_id", "label_pairs")
PROJECTIONS: Final[dict[str, tuple[str, ...] | None]] = {
    "GSI1": None,
    "GSI2": GROUP_FILTER_ATTRIBUTES,
    "GSI3": GROUP_FILTER_ATTRIBUTES,
}
# The table's stream: the escalation starter needs each group's state before and after a change.
STREAM_VIEW_TYPE: Final = "NEW_AND_OLD_IMAGES"
# The records the escalation starter gets (a Lambda event filter, applied by the local stack's poller too):
# changes of group items only, not of their alerts, timeline or claims.
GROUP_CHANGES_FILTER: Final = {"dynamodb": {"Keys": {"PK": {"S": [{"prefix": "GROUP#"}]}, "SK": {"S": ["META"]}}}}
# How the escalation starter reads the stream (the event source mapping; the local stack's poller reads alike): up to
# this many records per invocation; a failing batch is split in two (bisect) and retried this many times, then its
# place in the stream goes to the failure queue.
STREAM_BATCH_SIZE: Final = 100
STREAM_RETRY_ATTEMPTS: Final = 10


def projection(index_name: str) -> dict[str, Any]:
    attributes = PROJECTIONS[index_name]
    if attributes is None:
        return {"ProjectionType": "ALL"}
    return {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(attributes)}


def create_table_request(table_name: str) -> dict[str, Any]:
    """CreateTable parameters for boto3 (local stack and tests); the CDK construct mirrors them."""
    attributes = [PK, SK] + [attr for _, pk, sk in INDEXES for attr in (pk, sk)]
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in attributes],
        "KeySchema": [
            {"AttributeName": PK, "KeyType": "HASH"},
            {"AttributeName": SK, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": name,
                "KeySchema": [
                    {"AttributeName": pk, "KeyType": "HASH"},
                    {"AttributeName": sk, "KeyType": "RANGE"},
                ],
                "Projection": projection(name),
            }
            for name, pk, sk in INDEXES
        ],
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE},
    }
