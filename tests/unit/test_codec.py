"""The codec of the domain's dataclasses: items written before the models were dataclasses (pydantic's JSON) read
back the same, and what it writes is what pydantic wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from oncall.codec import from_json, to_json
from oncall.models import AlertGroup, LabelMatch, Route, Templates

AT = datetime(2026, 12, 7, 14, 20, 5, tzinfo=UTC)


def test_datetimes_are_written_as_pydantic_wrote_them() -> None:
    paris = timezone(timedelta(hours=1))
    group = AlertGroup(
        id="g", integration_id="i", route_id="r", distinction="d", created_at=AT,
        resolved_at=AT + timedelta(microseconds=120_000), silenced_until=datetime(2026, 1, 2, 3, 4, 5, tzinfo=paris),
    )  # fmt: skip
    data = to_json(group, exclude_none=True)
    assert data["created_at"] == "2026-12-07T14:20:05Z"
    assert data["resolved_at"] == "2026-12-07T14:20:05.120000Z"
    assert data["silenced_until"] == "2026-01-02T03:04:05+01:00"


def test_an_item_reads_back_with_its_keys_ignored_and_numbers_as_ints() -> None:
    item = {
        "PK": "GROUP#g", "SK": "META", "GSI3PK": "STATE#firing", "label_pairs": {"a:b"},
        "id": "g", "integration_id": "i", "route_id": "r", "distinction": "d", "created_at": "2026-12-07T14:20:05Z",
        "alerts_count": Decimal(3), "labels": {"a": "b"}, "is_open": True,
    }  # fmt: skip
    group = from_json(AlertGroup, item)
    assert group.created_at == AT and group.alerts_count == 3 and type(group.alerts_count) is int
    assert group.labels == {"a": "b"} and group.resolved_at is None and group.version == 0


def test_defaults_are_left_out_and_restored() -> None:
    group = AlertGroup(id="g", integration_id="i", route_id="r", distinction="d", created_at=AT, labels={"a": "b"})
    data = to_json(group, exclude_none=True, exclude_defaults=True)
    assert data == {"id": "g", "integration_id": "i", "route_id": "r", "distinction": "d",
                    "created_at": "2026-12-07T14:20:05Z", "labels": {"a": "b"}}  # fmt: skip
    assert from_json(AlertGroup, data) == group


def test_nested_dataclasses_round_trip() -> None:
    route = Route(id="r", integration_id="i", routing_type="labels", routing_labels=[LabelMatch(key="k", value="v")])
    data = to_json(route)
    assert data["routing_labels"] == [{"key": "k", "value": "v"}]
    assert from_json(Route, data) == route
    templates = Templates(title="{{ payload.title }}", channels={"slack": {"title": "t"}})
    assert from_json(Templates, to_json(templates, exclude_none=True)) == templates
