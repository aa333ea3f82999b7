"""Heartbeat sweep and maintenance windows in the synthesized template (the session template of conftest.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_testlib import PSEUDO, Synthesized, as_list, resolve
from oncall.settings import Env

from infra import maintenance
from infra.data import INGEST_TABLE_ACTIONS, READ_WRITE_TABLE_ACTIONS
from infra.functions import TocsinFunction

SCHEDULES_ARN = "arn:aws:scheduler:eu-west-1:111122223333:schedule/Tocsin-maintenance/*"
GROUP_NAME = "Tocsin-maintenance"


def _fn_arn(synth: Synthesized, fn: TocsinFunction) -> dict[str, Any]:
    return {"Fn::GetAtt": [synth.logical_id(fn.function), "Arn"]}


@pytest.fixture(scope="module")
def check(synth: Synthesized) -> TocsinFunction:
    fn: TocsinFunction = synth.stack.heartbeat.check
    return fn


@pytest.fixture(scope="module")
def end(synth: Synthesized) -> TocsinFunction:
    fn: TocsinFunction = synth.stack.maintenance.end
    return fn


@pytest.fixture(scope="module")
def api(synth: Synthesized) -> TocsinFunction:
    fn: TocsinFunction = synth.stack.ingest_api.functions["api"]
    return fn


# --- heartbeat sweep ----------------------------------------------------------------------------------------


def test_a_rate_1_minute_rule_invokes_heartbeat_check(synth: Synthesized, check: TocsinFunction) -> None:
    rules = {
        rule_id: rule["Properties"]
        for rule_id, rule in synth.resources("AWS::Events::Rule").items()
        if any(t["Arn"] == _fn_arn(synth, check) for t in rule["Properties"].get("Targets", []))
    }
    ((rule_id, props),) = rules.items()
    assert rule_id == synth.logical_id(synth.stack.heartbeat.rule)
    assert props["ScheduleExpression"] == "rate(1 minute)"
    assert props["State"] == "ENABLED"
    (target,) = props["Targets"]
    assert target["Arn"] == _fn_arn(synth, check)
    assert "Input" not in target  # the scheduled event itself
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 60  # the next sweep supersedes an old event
    # EventBridge may invoke the function, from this rule only.
    permissions = [
        p["Properties"]
        for p in synth.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == _fn_arn(synth, check)
    ]
    assert permissions == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": _fn_arn(synth, check),
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]},
        }
    ]


def test_heartbeat_check_function_is_not_retried_by_lambda(synth: Synthesized, check: TocsinFunction) -> None:
    props = synth.resources("AWS::Lambda::Function")[synth.logical_id(check.function)]["Properties"]
    assert (props["Timeout"], props["MemorySize"]) == (60, 512)
    (config,) = [
        c["Properties"]
        for c in synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": synth.logical_id(check.function)}
    ]
    assert config["MaximumRetryAttempts"] == 0  # the domain re-arms; the next sweep retries
    assert config["MaximumEventAgeInSeconds"] == 60


def test_heartbeat_check_has_the_ingest_profile_and_runs_escalations(synth: Synthesized, check: TocsinFunction) -> None:
    actions = synth.actions(check.role)
    assert {a for a in actions if a.startswith("dynamodb:")} == set(INGEST_TABLE_ACTIONS)
    assert actions - set(INGEST_TABLE_ACTIONS) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:SendMessage",  # failed invocations are kept (infra/failures.py)
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "states:StartExecution",
        "states:StopExecution",
    }
    # The due-time sweep is a Query on GSI3 (and GSI3 only has to be readable, by name, not index/*).
    index_resources = json.dumps(synth.grants(check.role, "dynamodb:Query"))
    assert "/index/GSI3" in index_resources and "/index/*" not in index_resources
    env = synth.environment(check)
    assert "TOCSIN_STATE_MACHINE_ARN" in env
    assert not {k for k in env if k in (Env.SCHEDULE_GROUP, Env.MAINTENANCE_END_ARN)}


# --- maintenance windows ------------------------------------------------------------------------------------


def test_one_schedule_group_for_the_maintenance_ends_and_no_schedule_at_deploy_time(synth: Synthesized) -> None:
    ((group_id, group),) = synth.resources("AWS::Scheduler::ScheduleGroup").items()
    assert group["Properties"]["Name"] == GROUP_NAME
    assert group["DeletionPolicy"] == "Delete"  # pending schedules go with the stack (and their target)
    assert group_id == synth.logical_id(synth.stack.maintenance.group)
    assert not synth.resources("AWS::Scheduler::Schedule")  # the api creates one per window at run time


def test_scheduler_role_is_assumable_by_scheduler_of_this_group_and_invokes_maintenance_end_only(
    synth: Synthesized, end: TocsinFunction
) -> None:
    role = synth.stack.maintenance.role
    props = synth.resources("AWS::IAM::Role")[synth.logical_id(role)]["Properties"]
    group_id = synth.logical_id(synth.stack.maintenance.group)
    assert props["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
            "Condition": {
                "StringEquals": {
                    "aws:SourceAccount": {"Ref": "AWS::AccountId"},
                    "aws:SourceArn": {"Fn::GetAtt": [group_id, "Arn"]},
                }
            },
        }
    ]
    assert "ManagedPolicyArns" not in props
    assert synth.actions(role) == {"lambda:InvokeFunction"}
    assert synth.grants(role, "lambda:InvokeFunction") == [_fn_arn(synth, end)]  # no "<arn>:*"


def test_maintenance_end_function_reads_and_writes_items_and_stops_escalations(
    synth: Synthesized, end: TocsinFunction
) -> None:
    props = synth.resources("AWS::Lambda::Function")[synth.logical_id(end.function)]["Properties"]
    assert props["Timeout"] == 60
    actions = synth.actions(end.role)
    assert {a for a in actions if a.startswith("dynamodb:")} == set(READ_WRITE_TABLE_ACTIONS)
    assert actions - set(READ_WRITE_TABLE_ACTIONS) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:SendMessage",  # failed invocations are kept (infra/failures.py)
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }  # the groups it resolves stop escalating through the table's stream
    assert "TOCSIN_STATE_MACHINE_ARN" not in synth.environment(end)


def test_api_creates_and_deletes_the_groups_schedules_and_passes_the_scheduler_role_only(
    synth: Synthesized, api: TocsinFunction, end: TocsinFunction
) -> None:
    for action in maintenance.SCHEDULE_ACTIONS:
        assert [resolve(r, PSEUDO) for r in synth.grants(api.role, action)] == [SCHEDULES_ARN]
    assert {a for a in synth.actions(api.role) if a.startswith("scheduler:")} == set(maintenance.SCHEDULE_ACTIONS)
    role_arn = {"Fn::GetAtt": [synth.logical_id(synth.stack.maintenance.role), "Arn"]}
    (pass_role,) = [s for s in synth.statements(api.role) if "iam:PassRole" in as_list(s["Action"])]
    assert pass_role["Resource"] == role_arn
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
    env = synth.environment(api)
    assert env[Env.SCHEDULE_GROUP] == GROUP_NAME
    assert env[Env.MAINTENANCE_END_ARN] == _fn_arn(synth, end)
    assert env[Env.SCHEDULER_ROLE_ARN] == role_arn


def test_no_scheduler_wildcard_action_and_no_pass_role_on_star_anywhere(synth: Synthesized) -> None:
    holders = set()
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = as_list(statement["Action"])
            assert "scheduler:*" not in actions and "iam:*" not in actions, statement
            if "iam:PassRole" in actions:
                assert "*" not in json.dumps(statement["Resource"]), statement
            if any(a.startswith(("scheduler:", "iam:")) for a in actions):
                holders.update(r["Ref"] for r in policy["Properties"]["Roles"])
    # the api and the web console (maintenance start/stop) only
    assert holders == {synth.logical_id(synth.stack.ingest_api.functions[name].role) for name in ("api", "web")}


def test_env_names_are_the_ones_oncall_scheduler_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    from oncall.scheduler import EventBridgeScheduler, scheduler_for
    from oncall.settings import Settings

    monkeypatch.setenv(Env.SCHEDULE_GROUP, "g")
    monkeypatch.setenv(Env.MAINTENANCE_END_ARN, "arn:aws:lambda:eu-west-1:1:function:end")
    monkeypatch.setenv(Env.SCHEDULER_ROLE_ARN, "arn:aws:iam::1:role/r")
    scheduler = scheduler_for(Settings.from_env())
    assert isinstance(scheduler, EventBridgeScheduler)
    assert (scheduler.group, scheduler.target_arn, scheduler.role_arn) == (
        "g",
        "arn:aws:lambda:eu-west-1:1:function:end",
        "arn:aws:iam::1:role/r",
    )


# --- alarms -------------------------------------------------------------------------------------------------


def test_alarms_on_both_functions_the_rule_and_dropped_window_ends(
    synth: Synthesized, check: TocsinFunction, end: TocsinFunction
) -> None:
    alarms = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]
    watched = {(a["Namespace"], a["MetricName"], json.dumps(a.get("Dimensions"))) for a in alarms if "MetricName" in a}
    for fn in (check, end):
        dims = json.dumps([{"Name": "FunctionName", "Value": {"Ref": synth.logical_id(fn.function)}}])
        assert ("AWS/Lambda", "Errors", dims) in watched
        assert ("AWS/Lambda", "Throttles", dims) in watched
    rule_id = synth.logical_id(synth.stack.heartbeat.rule)
    assert ("AWS/Events", "FailedInvocations", json.dumps([{"Name": "RuleName", "Value": {"Ref": rule_id}}])) in watched
    group = json.dumps([{"Name": "ScheduleGroup", "Value": GROUP_NAME}])
    assert ("AWS/Scheduler", "InvocationDroppedCount", group) in watched
    descriptions = [a["AlarmDescription"] for a in alarms]
    assert any(d.startswith("Tocsin heartbeat_check function") for d in descriptions)
    assert any(d.startswith("Tocsin maintenance_end function") for d in descriptions)
