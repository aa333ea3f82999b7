"""The escalation starter in the synthesized template: the table's stream, the event source mapping that feeds
``escalation_start`` (filter, batching, partial failures, bisect, retries, on-failure destination), its alarms and
its permissions; and that ingest no longer talks to Step Functions."""

from __future__ import annotations

import json
from typing import Any

from infra_testlib import Synthesized

from infra.sources import schema


def _mapping(synth: Synthesized) -> dict[str, Any]:
    (mapping,) = synth.resources("AWS::Lambda::EventSourceMapping").values()
    properties: dict[str, Any] = mapping["Properties"]
    return properties


def test_the_table_streams_every_change_with_both_images(synth: Synthesized) -> None:
    (table,) = synth.resources("AWS::DynamoDB::Table").values()
    assert table["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_the_stream_feeds_the_starter_group_changes_only(synth: Synthesized) -> None:
    mapping = _mapping(synth)
    starter_id = synth.logical_id(synth.stack.starter.start.function)
    table_id = synth.logical_id(synth.stack.data.table)
    assert mapping["FunctionName"] == {"Ref": starter_id}
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert mapping["StartingPosition"] == "TRIM_HORIZON"  # nothing stored before the starter's first run is lost
    [pattern] = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    assert pattern == schema.GROUP_CHANGES_FILTER  # the same filter the local stack's poller applies
    assert pattern["dynamodb"]["Keys"]["SK"]["S"] == ["META"]  # not an alert, timeline entry or claim


def test_failures_are_retried_by_halves_and_then_kept(synth: Synthesized) -> None:
    mapping = _mapping(synth)
    assert mapping["BatchSize"] == schema.STREAM_BATCH_SIZE
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]  # Powertools' partial batch response
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == schema.STREAM_RETRY_ATTEMPTS
    queue_id = synth.logical_id(synth.stack.failures.queue)
    assert mapping["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}
    }  # the FailedInvocations queue, whose alarm pages while it holds anything


def test_the_starter_is_watched_for_errors_and_lag(synth: Synthesized) -> None:
    starter_id = synth.logical_id(synth.stack.starter.start.function)
    watched = {
        alarm["Properties"]["MetricName"]
        for alarm in synth.resources("AWS::CloudWatch::Alarm").values()
        if {"Name": "FunctionName", "Value": {"Ref": starter_id}} in alarm["Properties"].get("Dimensions", [])
    }
    assert {"Errors", "IteratorAge"} <= watched


def test_the_starter_reads_the_stream_and_runs_executions_only(synth: Synthesized) -> None:
    actions = synth.actions(synth.stack.starter.start.role)
    stream = {"dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream", "dynamodb:ListStreams"}
    assert stream <= actions
    # On the table itself: a start Step Functions refused is deferred to the minute sweep (PutItem); the insights
    # counters of the changes it followed are claimed (PutItem) and added to (UpdateItem).
    assert {a for a in actions if a.startswith("dynamodb:")} - stream == {"dynamodb:PutItem", "dynamodb:UpdateItem"}
    assert {"states:StartExecution", "states:StopExecution"} <= actions
    props = synth.resources("AWS::Lambda::Function")[synth.logical_id(synth.stack.starter.start.function)]
    assert props["Properties"]["Handler"] == "handler.handler"


def test_ingest_no_longer_calls_step_functions(synth: Synthesized) -> None:
    for fn in (synth.stack.ingest_api.functions["ingest"], synth.stack.maintenance.end):
        assert not {a for a in synth.actions(fn.role) if a.startswith("states:")}
        env = synth.resources("AWS::Lambda::Function")[synth.logical_id(fn.function)]["Properties"]["Environment"]
        assert "TOCSIN_STATE_MACHINE_ARN" not in env["Variables"]
