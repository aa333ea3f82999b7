"""Outgoing webhooks: entities of the ``WEBHOOKS`` collection, whose names are unique (claimed like chains'), each
with the last response it got; and, in each alert group's partition, the last response of each webhook for that
group (``WHRESP#<webhook id>``), which later webhooks of the group see as ``responses`` (OnCall's way to chain them:
create a ticket, then close it)."""

from __future__ import annotations

from typing import Final

from oncall.directory import OutgoingWebhook, WebhookResponse
from oncall.store import keys
from oncall.store.entities import NamedCollection
from oncall.store.table import Table

RESPONSE_PREFIX: Final = "WHRESP#"


class DynamoWebhooks(NamedCollection[OutgoingWebhook]):
    def __init__(self, table: Table) -> None:
        super().__init__(table, keys.WEBHOOK, OutgoingWebhook, keys.WEBHOOKS)

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
        if response.status_code is not None:  # an answer, which the group's next webhooks may use
            item = {"PK": keys.group_partition(response.group_id), "SK": f"{RESPONSE_PREFIX}{webhook_id}"}
            self.table.put_item({**item, "content": response.content or ""})

    def responses(self, group_id: str) -> dict[str, str]:
        """Webhook id -> the body of its last answer for the group."""
        partition = self.table.partition(keys.group_partition(group_id), RESPONSE_PREFIX)
        return {data["SK"].removeprefix(RESPONSE_PREFIX): str(data.get("content", "")) for data in partition}
