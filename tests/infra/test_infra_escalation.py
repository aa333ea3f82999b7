"""The escalation loop in the synthesized template: state machine, escalation_step, permissions, secret, route."""

from __future__ import annotations

from typing import Any

import pytest
from infra_testlib import PSEUDO, TEST_CONTEXT, VOICE_POOL, Synthesized, resolve, state_machine_definition
from oncall.settings import Env

from infra.config import TocsinConfig
from infra.data import READ_WRITE_TABLE_ACTIONS
from infra.functions import TocsinFunction
from infra.sources import http_routes

STATE_MACHINE_ARN = "arn:aws:states:eu-west-1:111122223333:stateMachine:Tocsin-escalation"
EXECUTIONS_ARN = "arn:aws:states:eu-west-1:111122223333:execution:Tocsin-escalation:*"


def _resolved(value: Any) -> Any:
    return resolve(value, PSEUDO)


@pytest.fixture(scope="module")
def definition(synth: Synthesized) -> dict[str, Any]:
    step_id = synth.logical_id(synth.stack.escalation.step.function)
    return state_machine_definition(synth.template_json, {f"{step_id}.Arn": "arn:aws:lambda:::function:step"})


# --- the state machine --------------------------------------------------------------------------------------


def test_one_standard_state_machine_with_a_stack_derived_name(synth: Synthesized) -> None:
    (machine,) = synth.resources("AWS::StepFunctions::StateMachine").values()
    props = machine["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    assert props["StateMachineName"] == "Tocsin-escalation"
    # Everybody refers to it by the ARN built from that name (no dependency cycle with escalation_step).
    assert _resolved(synth.stack.resolve(synth.stack.escalation.state_machine_arn)) == STATE_MACHINE_ARN
    assert props["TracingConfiguration"] == {"Enabled": False}
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ERROR"
    assert logging["IncludeExecutionData"] is False
    (log_group_id,) = [k for k in synth.resources("AWS::Logs::LogGroup") if k.startswith("EscalationLogs")]
    assert logging["Destinations"] == [
        {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group_id, "Arn"]}}}
    ]
    log_group = synth.resources("AWS::Logs::LogGroup")[log_group_id]["Properties"]
    assert log_group["LogGroupName"].startswith("/aws/vendedlogs/states/")
    assert log_group["RetentionInDays"] == 30


def test_definition_is_the_runstep_choice_wait_loop(definition: dict[str, Any]) -> None:
    assert definition["StartAt"] == "RunStep"
    states = definition["States"]
    assert set(states) == {"RunStep", "IsDone", "Wait", "Done"}
    run_step = states["RunStep"]
    assert run_step["Type"] == "Task"
    assert run_step["Resource"] == "arn:aws:lambda:::function:step"  # payload_response_only: the function itself
    assert "ResultPath" not in run_step and "OutputPath" not in run_step  # the output replaces the state
    assert "Parameters" not in run_step and "InputPath" not in run_step  # the function gets the whole state
    assert run_step["Next"] == "IsDone"
    assert states["IsDone"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.done", "BooleanEquals": True, "Next": "Done"}],
        "Default": "Wait",
    }
    assert states["Wait"] == {"Type": "Wait", "SecondsPath": "$.wait_seconds", "Next": "RunStep"}
    assert states["Done"] == {"Type": "Succeed"}
    assert definition["TimeoutSeconds"] == 7 * 24 * 3600


def test_runstep_retries_lambda_errors_and_task_failures_three_times_with_backoff(definition: dict[str, Any]) -> None:
    (retry,) = definition["States"]["RunStep"]["Retry"]
    assert {"States.TaskFailed", "Lambda.ServiceException", "Lambda.TooManyRequestsException"} <= set(
        retry["ErrorEquals"]
    )
    assert (retry["MaxAttempts"], retry["IntervalSeconds"], retry["BackoffRate"]) == (3, 2, 2)
    assert "Catch" not in definition["States"]["RunStep"]  # exhausted retries fail the execution (alarm)


def test_state_machine_may_invoke_only_escalation_step(synth: Synthesized) -> None:
    step_id = synth.logical_id(synth.stack.escalation.step.function)
    role = synth.stack.escalation.state_machine.role
    assert synth.grants(role, "lambda:InvokeFunction") == [
        {"Fn::GetAtt": [step_id, "Arn"]},
        {"Fn::Join": ["", [{"Fn::GetAtt": [step_id, "Arn"]}, ":*"]]},
    ]
    actions = synth.actions(role)
    assert {a for a in actions if not a.startswith("logs:")} == {"lambda:InvokeFunction"}


# --- escalation_step ----------------------------------------------------------------------------------------


def test_escalation_step_function(synth: Synthesized) -> None:
    step = synth.stack.escalation.step
    props = synth.resources("AWS::Lambda::Function")[synth.logical_id(step.function)]["Properties"]
    assert (props["Runtime"], props["Architectures"], props["Timeout"]) == ("python3.12", ["arm64"], 60)
    assert props["Handler"] == "handler.handler"
    env = synth.environment(step)
    assert env["TOCSIN_EMAIL_FROM"] == TEST_CONTEXT["email_from"]
    assert _resolved(env["TOCSIN_STATE_MACHINE_ARN"]) == STATE_MACHINE_ARN
    api_id = synth.logical_id(synth.stack.ingest_api.http_api)
    assert env["TOCSIN_PUBLIC_URL"] == {"Fn::GetAtt": [api_id, "ApiEndpoint"]}  # https://<id>.execute-api..., no "/"
    (secret_id,) = synth.resources("AWS::SecretsManager::Secret")
    assert env["TOCSIN_SIGNING_SECRET_ARN"] == {"Ref": secret_id}


def test_escalation_step_permissions(synth: Synthesized) -> None:
    role = synth.stack.escalation.step.role
    actions = synth.actions(role)
    assert {a for a in actions if a.startswith("dynamodb:")} == set(READ_WRITE_TABLE_ACTIONS)
    assert actions - set(READ_WRITE_TABLE_ACTIONS) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "secretsmanager:GetSecretValue",
        "states:StartExecution",
        "states:StopExecution",
        "ses:SendEmail",
        "ses:SendRawEmail",
        "sns:Publish",
        "sms-voice:SendVoiceMessage",
    }
    # SES: only as the configured sender (its address or its domain, whichever is the verified identity), with the
    # configuration set that reports bounces, complaints and delays (infra/notifications.py).
    for action in ("ses:SendEmail", "ses:SendRawEmail"):
        assert sorted(_resolved(r) for r in synth.grants(role, action)) == [
            "arn:aws:ses:eu-west-1:111122223333:configuration-set/Tocsin-notifications",
            "arn:aws:ses:eu-west-1:111122223333:identity/example.com",
            "arn:aws:ses:eu-west-1:111122223333:identity/oncall@example.com",
        ]
    assert synth.grants(role, "sns:Publish") == ["*"]  # SMS to phone numbers: no resource ARN exists
    # phone calls: only from the configured pool (End User Messaging SMS and Voice v2)
    assert [_resolved(r) for r in synth.grants(role, "sms-voice:SendVoiceMessage")] == [
        f"arn:aws:sms-voice:eu-west-1:111122223333:pool/{VOICE_POOL}"
    ]
    (secret_id,) = synth.resources("AWS::SecretsManager::Secret")
    assert synth.grants(role, "secretsmanager:GetSecretValue") == [{"Ref": secret_id}]


@pytest.mark.parametrize("name", ["api", "web", "escalation_step", "escalation_start", "heartbeat_check"])
def test_functions_start_and_stop_executions_of_the_one_state_machine(synth: Synthesized, name: str) -> None:
    fn = {
        "escalation_step": synth.stack.escalation.step,
        "escalation_start": synth.stack.starter.start,
        "heartbeat_check": synth.stack.heartbeat.check,
    }.get(name) or synth.stack.ingest_api.functions[name]
    assert [_resolved(r) for r in synth.grants(fn.role, "states:StartExecution")] == [STATE_MACHINE_ARN]
    assert [_resolved(r) for r in synth.grants(fn.role, "states:StopExecution")] == [EXECUTIONS_ARN]
    assert _resolved(synth.environment(fn)["TOCSIN_STATE_MACHINE_ARN"]) == STATE_MACHINE_ARN


# --- the link-signing secret and the /actions route ---------------------------------------------------------


def test_signing_key_secret_is_generated_and_read_by_api_web_and_escalation_step_only(synth: Synthesized) -> None:
    ((secret_id, secret),) = synth.resources("AWS::SecretsManager::Secret").items()
    generated = secret["Properties"]["GenerateSecretString"]
    assert generated["PasswordLength"] >= 32
    assert generated["ExcludePunctuation"] is True
    assert "SecretString" not in secret["Properties"]  # never in the template
    readers = set()
    functions = [c for c in synth.stack.node.find_all() if isinstance(c, TocsinFunction)]
    assert len(functions) >= 3
    for fn in functions:
        name = fn.spec.name
        if synth.grants(fn.role, "secretsmanager:GetSecretValue"):
            readers.add(name)
            assert synth.environment(fn)["TOCSIN_SIGNING_SECRET_ARN"] == {"Ref": secret_id}
        else:
            assert "TOCSIN_SIGNING_SECRET_ARN" not in synth.environment(fn)
    assert readers == {"api", "escalation_step", "web"}  # web: signs its session cookies with the key


def test_actions_route_is_served_by_the_api_function(synth: Synthesized) -> None:
    assert http_routes.HttpRoute("ANY", "/actions/{token}", "api") in http_routes.ROUTES
    routes = {r["Properties"]["RouteKey"]: r for r in synth.resources("AWS::ApiGatewayV2::Route").values()}
    route = routes["ANY /actions/{token}"]["Properties"]
    integration_id = route["Target"]["Fn::Join"][1][1]["Ref"]
    integration = synth.resources("AWS::ApiGatewayV2::Integration")[integration_id]["Properties"]
    api_fn = synth.logical_id(synth.stack.ingest_api.functions["api"].function)
    assert integration["IntegrationUri"] == {"Fn::GetAtt": [api_fn, "Arn"]}


def test_the_step_functions_settings_are_what_the_container_reads(synth: Synthesized) -> None:
    from oncall.settings import Settings

    env = synth.environment(synth.stack.escalation.step)
    plain = {name: value if isinstance(value, str) else "resolved-at-deploy" for name, value in env.items()}
    settings = Settings.from_env(plain)
    assert settings.email_from == TEST_CONTEXT["email_from"]
    assert settings.state_machine_arn and settings.signing_secret_arn and settings.public_url


def test_alarm_descriptions_name_the_escalation(synth: Synthesized) -> None:
    descriptions = [a["Properties"]["AlarmDescription"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]
    assert any("escalation executions failed" in d for d in descriptions)
    assert any("timed out" in d for d in descriptions)
    assert any(d.startswith("Tocsin escalation_step function") for d in descriptions)


def test_phone_calls_are_placed_only_when_a_voice_origination_is_configured(
    synth: Synthesized, synth_options: Synthesized
) -> None:
    step_id = synth.logical_id(synth.stack.escalation.step.function)
    variables = synth.template_json["Resources"][step_id]["Properties"]["Environment"]["Variables"]
    assert variables[Env.VOICE_ORIGINATION] == VOICE_POOL
    assert synth_options.grants(synth_options.stack.escalation.step.role, "sms-voice:SendVoiceMessage") == []


@pytest.mark.parametrize(
    ("origination", "valid"),
    [
        ("+15550100123", True),
        ("phone-0123456789abcdef0123456789abcdef", True),
        ("arn:aws:sms-voice:eu-west-1:111122223333:pool/pool-0123456789abcdef0123456789abcdef", True),
        ("0155501001", False),
        ("pool-*", False),
        ("arn:aws:sms-voice:eu-west-1:111122223333:pool/*", False),
    ],
)
def test_the_voice_origination_setting_is_checked(origination: str, valid: bool) -> None:
    if valid:
        assert TocsinConfig(voice_origination=origination).voice_origination == origination
    else:
        with pytest.raises(ValueError, match="voice_origination must be"):
            TocsinConfig(voice_origination=origination)
