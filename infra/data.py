"""The single DynamoDB table, defined from ``oncall.store.schema`` (the same definition the local stack uses)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.sources import schema

# IAM actions per access profile. DynamoDB authorizes TransactWriteItems through the actions of its parts
# (PutItem, UpdateItem, DeleteItem, ConditionCheckItem); "dynamodb:TransactWriteItems" is not an IAM action.
INGEST_TABLE_ACTIONS: tuple[str, ...] = (
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:ConditionCheckItem",
)
READ_WRITE_TABLE_ACTIONS: tuple[str, ...] = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
)
INDEX_ACTIONS: tuple[str, ...] = ("dynamodb:Query",)

_KEY_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
}


class DataStore(Construct):
    """On-demand table with PITR, TTL on raw alerts, AWS-managed encryption, a stream of every change (read by the
    escalation starter, ``infra/escalation_start.py``); retained on stack deletion."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # The boto3 CreateTable request of schema.py is the reference; the CDK table mirrors it exactly.
        request = schema.create_table_request(schema.DEFAULT_TABLE_NAME)
        types = {a["AttributeName"]: _KEY_TYPES[a["AttributeType"]] for a in request["AttributeDefinitions"]}

        def key(key_schema: Sequence[dict[str, str]], key_type: str) -> dynamodb.Attribute:
            (name,) = [k["AttributeName"] for k in key_schema if k["KeyType"] == key_type]
            return dynamodb.Attribute(name=name, type=types[name])

        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=key(request["KeySchema"], "HASH"),
            sort_key=key(request["KeySchema"], "RANGE"),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=schema.TTL_ATTRIBUTE,
            # Every change, with the item before and after: the escalation starter follows the groups' changes.
            stream=dynamodb.StreamViewType(request["StreamSpecification"]["StreamViewType"]),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.index_names: list[str] = []
        for index in request["GlobalSecondaryIndexes"]:
            projection = index["Projection"]
            self.table.add_global_secondary_index(
                index_name=index["IndexName"],
                partition_key=key(index["KeySchema"], "HASH"),
                sort_key=key(index["KeySchema"], "RANGE"),
                projection_type=_PROJECTIONS[projection["ProjectionType"]],
                non_key_attributes=projection.get("NonKeyAttributes"),
            )
            self.index_names.append(index["IndexName"])

    @property
    def index_arns(self) -> list[str]:
        """One ARN per index, by name: no ``index/*`` wildcard in any policy."""
        return [f"{self.table.table_arn}/index/{name}" for name in self.index_names]

    def grant(
        self, grantee: iam.IGrantable, table_actions: Sequence[str], index_actions: Sequence[str] = INDEX_ACTIONS
    ) -> None:
        """Grant exactly ``table_actions`` on the table and ``index_actions`` on each of its indexes."""
        iam.Grant.add_to_principal(grantee=grantee, actions=list(table_actions), resource_arns=[self.table.table_arn])
        if index_actions and self.index_names:
            iam.Grant.add_to_principal(grantee=grantee, actions=list(index_actions), resource_arns=self.index_arns)

    def grant_ingest(self, grantee: iam.IGrantable) -> None:
        """Ingest: point reads, the integration Query, conditional puts/updates and transactions; no scan or delete."""
        self.grant(grantee, INGEST_TABLE_ACTIONS)

    def grant_read_write(self, grantee: iam.IGrantable) -> None:
        """Management API: item reads and writes on the table, Query on the indexes (no Scan, no table admin)."""
        self.grant(grantee, READ_WRITE_TABLE_ACTIONS)
