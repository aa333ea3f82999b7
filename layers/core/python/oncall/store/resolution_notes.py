"""Resolution notes: each in its alert group's partition (``GROUP#<id>`` / ``NOTE#<id>``, so deleting the group
deletes them), found by id through GSI1 (``NOTE#<id>``) and listed all together, oldest first, through GSI2
(``RESOLUTION_NOTES``, by creation time)."""

from __future__ import annotations

from oncall.codec import from_json, to_json
from oncall.models import ResolutionNote
from oncall.store import keys
from oncall.store.table import Table


class DynamoResolutionNotes:
    def __init__(self, table: Table) -> None:
        self.table = table

    def put(self, note: ResolutionNote) -> None:
        self.table.put_item(
            {
                **to_json(note, exclude_none=True),
                **keys.resolution_note(note.alert_group_id, note.id),
                "GSI1PK": keys.note_lookup(note.id),
                "GSI1SK": keys.NOTE_PREFIX,
                "GSI2PK": keys.RESOLUTION_NOTES,
                "GSI2SK": f"{keys.stamp(note.created_at)}#{note.id}",
            }
        )

    def get(self, note_id: str) -> ResolutionNote | None:
        found = next(iter(self.table.collection(keys.note_lookup(note_id))), None)
        return from_json(ResolutionNote, found) if found else None

    def of_group(self, group_id: str) -> list[ResolutionNote]:
        """A group's notes, oldest first."""
        notes = [
            from_json(ResolutionNote, data)
            for data in self.table.partition(keys.group_partition(group_id), keys.NOTE_PREFIX)
        ]
        return sorted(notes, key=lambda n: (n.created_at, n.id))

    def list(self) -> list[ResolutionNote]:
        """Every note, oldest first: their keys from GSI2 (which projects only keys and the groups' filter
        attributes, to keep ingest's index writes small), the notes themselves in batches; never a scan."""
        found = self.table.query_all(
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.RESOLUTION_NOTES}},
        )
        order = [{"PK": data["PK"], "SK": data["SK"]} for data in found]
        by_key = {(data["PK"], data["SK"]): data for data in self.table.batch_get(order)}
        return [from_json(ResolutionNote, by_key[k["PK"], k["SK"]]) for k in order if (k["PK"], k["SK"]) in by_key]

    def delete(self, note: ResolutionNote) -> None:
        self.table.delete_item(keys.resolution_note(note.alert_group_id, note.id))
