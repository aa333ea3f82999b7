"""The one DynamoDB table: its key schema, indexes and item layout.

This module is the single definition used by the CDK stack (``infra/data.py``), the local stack and the tests.
It must stay free of boto3 and CDK imports.

Access patterns (all single-table, ``PK``/``SK`` strings):

| pattern                                   | how                                                                    |
|-------------------------------------------|------------------------------------------------------------------------|
| integration by ingest token               | GetItem ``TOKEN#<sha256(token)>`` / ``TOKEN`` -> integration id, type  |
| integration + routes + config stamp       | Query ``INT#<id>`` (items ``META``, ``ROUTE#<id>``, ``STAMP``)         |
| rate limit + config version (per alert)   | UpdateItem ``INT#<id>`` / ``STAMP`` (returns the config version)       |
| route by id                               | GetItem ``ROUTE#<id>`` / ``REF`` -> integration id                     |
| list integrations                         | Query GSI1 ``INTEGRATIONS`` (sorted by name)                           |
| open group for (integration, route, key)  | GetItem ``OPEN#<int>#<route>#<md5>`` / ``OPEN``; created conditionally |
| group                                     | GetItem ``GROUP#<id>`` / ``META``                                      |
| alerts of a group, newest first           | Query ``GROUP#<id>`` begins_with ``ALERT#``, descending                |
| timeline of a group                       | Query ``GROUP#<id>`` begins_with ``LOG#``                              |
| groups newest first                       | Query GSI1 ``GROUPS``, descending on ``<created_at>#<id>``             |
| groups of an integration, newest first    | Query GSI2 ``INTGROUPS#<int>``                                         |
| groups in a state, newest first           | Query GSI3 ``STATE#<state>``                                           |
| heartbeats due for a check (sparse)       | Query GSI3 ``HEARTBEAT_DUE`` with ``GSI3SK <= now``                    |
| escalation starts to retry (sparse)       | Query GSI3 ``ESCALATION_START_DUE`` (``DEFERRED_START#<group>``/``G<n>``)|
| API key                                   | GetItem ``APIKEY#<sha256(key)>`` / ``APIKEY``                          |
| auth epoch (revocations reach caches)     | GetItem ``AUTH`` / ``EPOCH`` (consistent, <= 1/s per container); ADD 1 |
|                                           | after every revoking write (keys, users, teams, tokens)                |

Raw alerts carry ``ttl`` (epoch seconds) so DynamoDB expires them after the retention period; groups are kept.
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
                "Projection": {"ProjectionType": "ALL"},
            }
            for name, pk, sk in INDEXES
        ],
    }
