"""Outgoing webhooks: entities of the ``WEBHOOKS`` collection, each with the last response it got."""

from __future__ import annotations

from oncall.models import OutgoingWebhook, WebhookResponse
from oncall.store import keys
from oncall.store.entities import Collection
from oncall.store.table import Table


class DynamoWebhooks(Collection[OutgoingWebhook]):
    def __init__(self, table: Table) -> None:
        super().__init__(table, keys.WEBHOOK, OutgoingWebhook, keys.WEBHOOKS, lambda w: w.name.lower())

    def record_response(self, webhook_id: str, response: WebhookResponse) -> None:
        """Set the webhook's last response, in place: an edit made meanwhile is kept (and a deleted webhook
        stays deleted)."""
        with self.table.lost_race():
            self.table.call(
                "update_item",
                Key=self.table.item(keys.entity(self.kind, webhook_id)),
                UpdateExpression="SET last_response = :response",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues={":response": self.table.value(response.model_dump(mode="json"))},
            )
