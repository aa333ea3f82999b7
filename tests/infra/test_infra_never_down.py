"""Never silently down on AWS: alarms that reach someone (and say so when they cannot), a dead-man's switch,
per-route throttles and reserved concurrency against alert storms, failures kept, observability, a stable URL.

``synth`` is the stack as most deployments have it; ``synth_options`` the one with every optional setting of a
careful deployment (``infra_testlib.OPTIONS_CONTEXT``)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Annotations, Match, Template
from infra_testlib import OPTIONS_CONTEXT, REPO_ROOT, Synthesized

from infra.config import TocsinConfig
from infra.domain import CustomDomain
from infra.functions import TocsinFunction
from infra.observability import NO_DESTINATION_WARNING, Observability
from infra.sources import http_routes, schema, telemetry


def _functions(synth: Synthesized) -> dict[str, TocsinFunction]:
    return {c.spec.name: c for c in synth.stack.node.find_all() if isinstance(c, TocsinFunction)}


def _function_props(synth: Synthesized, name: str) -> dict[str, Any]:
    fn = _functions(synth)[name].function
    return dict(synth.template_json["Resources"][synth.logical_id(fn)]["Properties"])


def _alarms(synth: Synthesized) -> list[dict[str, Any]]:
    return [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]


def _watched(alarm: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, metric, dimensions) of an alarm, of each metric of a metric-math alarm."""
    if "MetricName" in alarm:
        return [(alarm["Namespace"], alarm["MetricName"], {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])})]
    found = []
    for query in alarm["Metrics"]:
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            found.append((metric["Namespace"], metric["MetricName"], dims))
    return found


def _alarm(synth: Synthesized, namespace: str, metric: str, **dimensions: Any) -> dict[str, Any]:
    matching = [a for a in _alarms(synth) if (namespace, metric, dimensions) in _watched(a)]
    assert len(matching) == 1, (namespace, metric, dimensions)
    return matching[0]


def _service(function: str) -> str:
    return telemetry.service_name(function)


# --- alarms reach someone -----------------------------------------------------------------------------------------


def test_without_an_alarm_address_deploy_and_console_say_alarms_reach_nobody(synth: Synthesized) -> None:
    assert not synth.resources("AWS::SNS::Subscription")
    assert synth.template_json["Outputs"]["AlarmsReachNobody"]["Value"] == NO_DESTINATION_WARNING
    Annotations.from_stack(synth.stack).has_warning("/Tocsin/Observability", Match.string_like_regexp("reach nobody"))
    web = _function_props(synth, "web")["Environment"]["Variables"]
    assert web["TOCSIN_ALARM_DESTINATION"] == "none"  # the console's header warns (oncall.web.base)


def test_alarm_addresses_are_subscribed_and_nothing_warns(synth_options: Synthesized) -> None:
    subscriptions = synth_options.resources("AWS::SNS::Subscription").values()
    (topic_id,) = synth_options.resources("AWS::SNS::Topic")
    assert sorted((s["Properties"]["Protocol"], s["Properties"]["Endpoint"]) for s in subscriptions) == [
        ("email", "oncall@example.com"),
        ("email", "sre@example.com"),
    ]
    assert all(s["Properties"]["TopicArn"] == {"Ref": topic_id} for s in subscriptions)
    assert "AlarmsReachNobody" not in synth_options.template_json["Outputs"]
    assert not Annotations.from_stack(synth_options.stack).find_warning("*", Match.string_like_regexp("reach nobody"))
    web = _function_props(synth_options, "web")["Environment"]["Variables"]
    assert web["TOCSIN_ALARM_DESTINATION"] == "2 e-mail addresses"


def test_every_alarm_notifies_the_topic_both_ways(synth: Synthesized, synth_options: Synthesized) -> None:
    for stack in (synth, synth_options):
        (topic_id,) = stack.resources("AWS::SNS::Topic")
        for alarm in _alarms(stack):
            assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": topic_id}], alarm["AlarmDescription"]
            assert len(alarm["AlarmDescription"]) > 40  # says what broke for the person paged


def test_the_sweep_pings_the_dead_mans_switch_and_failing_pings_alarm(
    synth: Synthesized, synth_options: Synthesized
) -> None:
    env = _function_props(synth_options, "heartbeat_check")["Environment"]["Variables"]
    assert env["TOCSIN_DEADMAN_URL"] == OPTIONS_CONTEXT["deadman_url"]
    failing = _alarm(synth_options, "Tocsin", telemetry.DEADMAN_PINGS_FAILED, service=_service("heartbeat_check"))
    assert (failing["Threshold"], failing["Statistic"]) == (3, "Sum")
    assert "TOCSIN_DEADMAN_URL" not in _function_props(synth, "heartbeat_check")["Environment"]["Variables"]
    assert not [a for a in _alarms(synth) if "DeadmanPingsFailed" in json.dumps(a)]


def test_a_sweep_that_stops_alarms_even_without_data(synth: Synthesized) -> None:
    stopped = _alarm(synth, "Tocsin", telemetry.SWEEPS, service=_service("heartbeat_check"))
    assert stopped["ComparisonOperator"] == "LessThanThreshold" and stopped["Threshold"] == 1
    assert stopped["TreatMissingData"] == "breaching"  # no data is exactly what a dead sweep looks like
    assert stopped["Period"] == 300


def test_escalations_that_do_not_start_alarm_on_the_age_of_the_oldest(synth: Synthesized) -> None:
    late = _alarm(synth, "Tocsin", telemetry.OLDEST_DEFERRED_START_AGE, service=_service("heartbeat_check"))
    assert (late["Statistic"], late["Period"], late["Threshold"]) == ("Maximum", 60, 180)
    assert late["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_notification_failures_alarm_per_channel(synth: Synthesized) -> None:
    for channel in telemetry.CHANNELS:
        failed = _alarm(
            synth, "Tocsin", telemetry.NOTIFICATIONS_FAILED, service=_service("escalation_step"), channel=channel
        )
        assert (failed["Threshold"], failed["Statistic"]) == (1, "Sum")


def test_ses_reports_bounces_complaints_and_delays_of_notification_emails(synth: Synthesized) -> None:
    (config_set,) = synth.resources("AWS::SES::ConfigurationSet").values()
    name = config_set["Properties"]["Name"]
    assert name == "Tocsin-notifications"
    (destination,) = synth.resources("AWS::SES::ConfigurationSetEventDestination").values()
    props = destination["Properties"]["EventDestination"]
    assert props["Enabled"] is True
    assert sorted(props["MatchingEventTypes"]) == ["bounce", "complaint", "deliveryDelay", "reject", "renderingFailure"]
    dims = props["CloudWatchDestination"]["DimensionConfigurations"]
    assert dims == [
        {"DimensionName": "ses:configuration-set", "DimensionValueSource": "messageTag", "DefaultDimensionValue": name}
    ]
    for metric in ("Bounce", "Complaint", "Reject", "DeliveryDelay", "RenderingFailure"):
        _alarm(synth, "AWS/SES", metric, **{"ses:configuration-set": name})
    step = _functions(synth)["escalation_step"]
    assert _function_props(synth, "escalation_step")["Environment"]["Variables"]["TOCSIN_SES_CONFIGURATION_SET"] == name
    policies = json.dumps([p for p in synth.resources("AWS::IAM::Policy").values()])
    assert f":configuration-set/{name}" in policies and synth.logical_id(step.role) in policies


def test_without_an_email_sender_there_is_no_configuration_set(synth_options: Synthesized) -> None:
    assert not synth_options.resources("AWS::SES::ConfigurationSet")
    env = _function_props(synth_options, "escalation_step")["Environment"]["Variables"]
    assert "TOCSIN_SES_CONFIGURATION_SET" not in env


def test_sms_spend_alarms_before_sns_stops_sending(synth: Synthesized, synth_options: Synthesized) -> None:
    assert _alarm(synth, "AWS/SNS", "SMSMonthToDateSpentUSD")["Threshold"] == 0.8  # SNS's default limit: 1 USD
    assert _alarm(synth_options, "AWS/SNS", "SMSMonthToDateSpentUSD")["Threshold"] == 40


def test_dynamodb_throttles_of_the_table_and_each_index_alarm(synth: Synthesized) -> None:
    (table_id,) = synth.resources("AWS::DynamoDB::Table")
    table = {"Ref": table_id}
    [alarm] = [a for a in _alarms(synth) if any(m == "ReadThrottleEvents" for _, m, _ in _watched(a))]
    watched = _watched(alarm)
    for kind in ("ReadThrottleEvents", "WriteThrottleEvents"):
        assert ("AWS/DynamoDB", kind, {"TableName": table}) in watched
        for index, _, _ in schema.INDEXES:
            assert ("AWS/DynamoDB", kind, {"TableName": table, "GlobalSecondaryIndexName": index}) in watched
    (expression,) = [q["Expression"] for q in alarm["Metrics"] if "Expression" in q]
    assert expression.count("FILL(") == len(watched) == 2 * (1 + len(schema.INDEXES))
    assert alarm["Threshold"] == 1


def test_step_functions_failures_throttles_and_timeouts_alarm(synth: Synthesized) -> None:
    machine = {"Ref": synth.logical_id(synth.stack.escalation.state_machine)}
    for metric in ("ExecutionsFailed", "ExecutionThrottled", "ExecutionsTimedOut"):
        _alarm(synth, "AWS/States", metric, StateMachineArn=machine)


def test_a_stream_consumer_is_watched_by_its_iterator_age() -> None:
    """The stream and its consumer arrive with the stream-driven escalation starter; the alarm is ready for it."""
    stack = Stack(App(), "Probe")
    observability = Observability(stack, "Observability", alarm_emails=["oncall@example.com"])
    consumer = lambda_.Function(
        stack,
        "Consumer",
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
    )
    observability.watch_stream_consumer("StreamConsumerLag", consumer)
    template = Template.from_stack(stack)
    function = {"Ref": stack.get_logical_id(consumer.node.default_child)}
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/Lambda",
            "MetricName": "IteratorAge",
            "Dimensions": [{"Name": "FunctionName", "Value": function}],
            "Statistic": "Maximum",
            "Threshold": 120_000,  # ms
            "EvaluationPeriods": 2,
        },
    )


# --- an alert storm does not lock responders out ---------------------------------------------------------------


def test_each_route_has_the_throttle_of_its_class(synth: Synthesized, synth_options: Synthesized) -> None:
    for stack, ingest in ((synth, http_routes.THROTTLES["ingest"]), (synth_options, http_routes.Throttle(300, 600))):
        (stage_id, stage) = next(iter(stack.resources("AWS::ApiGatewayV2::Stage").items()))
        throttles = {**http_routes.THROTTLES, "ingest": ingest}
        expected = {
            route.key: {
                "ThrottlingRateLimit": throttles[route.function].rate,
                "ThrottlingBurstLimit": throttles[route.function].burst,
            }
            for route in http_routes.ROUTES
        }
        assert stage["Properties"]["RouteSettings"] == expected
        assert "DefaultRouteSettings" not in stage["Properties"]  # no stage-wide limit shared by every route
        routes = stack.resources("AWS::ApiGatewayV2::Route")
        assert set(routes) <= set(stage["DependsOn"]), stage_id  # route settings name existing routes
    ingest_routes = [r for r in http_routes.ROUTES if r.function == "ingest"]
    assert {r.function for r in http_routes.ROUTES} == set(http_routes.THROTTLES) and len(ingest_routes) == 5


def test_escalation_and_the_sweep_have_reserved_concurrency(synth: Synthesized, synth_options: Synthesized) -> None:
    reserved = {name: _function_props(synth, name).get("ReservedConcurrentExecutions") for name in _functions(synth)}
    assert reserved == {
        "ingest": None,
        "api": None,
        "web": None,
        "escalation_step": 20,  # escalations and notifications: a storm cannot take them
        "escalation_start": 5,  # the starter of every escalation (from the table's stream)
        "heartbeat_check": 1,  # the sweep: missing heartbeats, deferred starts, the dead-man's switch
        "maintenance_end": None,
        "email_ingest": None,
    }
    props = [_function_props(synth_options, name) for name in _functions(synth_options)]
    # escalation_concurrency=0: for accounts whose concurrency quota is small
    assert not [p for p in props if "ReservedConcurrentExecutions" in p]


# --- failures are kept -------------------------------------------------------------------------------------------


def test_every_asynchronously_invoked_function_keeps_its_failures(synth: Synthesized) -> None:
    (queue_id, queue) = next(iter(synth.resources("AWS::SQS::Queue").items()))
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    configs = {
        c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
        for c in synth.resources("AWS::Lambda::EventInvokeConfig").values()
    }
    functions = _functions(synth)
    asynchronous = {"heartbeat_check", "maintenance_end", "email_ingest"}  # EventBridge, Scheduler, SES (Event)
    assert set(configs) == {synth.logical_id(functions[name].function) for name in asynchronous}
    for config in configs.values():
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    (rule,) = synth.resources("AWS::Events::Rule").values()
    (target,) = rule["Properties"]["Targets"]
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}  # undeliverable sweeps too
    queue_name = {"Fn::GetAtt": [queue_id, "QueueName"]}
    kept = _alarm(synth, "AWS/SQS", "ApproximateNumberOfMessagesVisible", QueueName=queue_name)
    assert kept["Threshold"] == 1
    synth.template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_inbound_mail_that_became_no_alert_is_kept_as_long_as_alerts(synth: Synthesized) -> None:
    (bucket,) = synth.resources("AWS::S3::Bucket").values()
    rules = {r["Id"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert (rules["ExpireRawMail"]["Prefix"], rules["ExpireRawMail"]["ExpirationInDays"]) == ("inbound/", 30)
    assert (rules["ExpireFailedMail"]["Prefix"], rules["ExpireFailedMail"]["ExpirationInDays"]) == (
        "failed/",
        schema.DEFAULT_RETENTION_DAYS,
    )
    env = _function_props(synth, "email_ingest")["Environment"]["Variables"]
    assert env["TOCSIN_MAIL_FAILED_PREFIX"] == "failed/"
    _alarm(synth, "Tocsin", telemetry.INBOUND_MAIL_FAILED, service=_service("email_ingest"))


# --- observability ------------------------------------------------------------------------------------------------


def test_tracing_is_off_by_default_and_on_everywhere_with_the_flag(
    synth: Synthesized, synth_options: Synthesized
) -> None:
    for name in _functions(synth):
        props = _function_props(synth, name)
        assert "TracingConfig" not in props and "TOCSIN_TRACING" not in props["Environment"]["Variables"]
    for name in _functions(synth_options):
        props = _function_props(synth_options, name)
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Environment"]["Variables"]["TOCSIN_TRACING"] == "1"
    (machine,) = synth_options.resources("AWS::StepFunctions::StateMachine").values()
    assert machine["Properties"]["TracingConfiguration"] == {"Enabled": True}
    (machine,) = synth.resources("AWS::StepFunctions::StateMachine").values()
    assert machine["Properties"].get("TracingConfiguration", {"Enabled": False}) == {"Enabled": False}


def test_the_layer_holds_the_xray_sdk_for_the_tracing_flag(synth: Synthesized) -> None:
    assets = json.loads(next(synth.outdir.glob("Tocsin.assets.json")).read_text())["files"]
    (asset,) = [a for a in assets.values() if a.get("displayName") == "CoreLayer/Layer/Code"]
    root = synth.outdir / asset["source"]["path"] / "python"
    assert (root / "aws_xray_sdk").is_dir() and (root / "wrapt").is_dir()


def test_metrics_namespace_and_service_are_the_ones_the_alarms_watch(synth: Synthesized) -> None:
    for name in _functions(synth):
        env = _function_props(synth, name)["Environment"]["Variables"]
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Tocsin" == telemetry.DEFAULT_NAMESPACE
        assert env["POWERTOOLS_SERVICE_NAME"] == _service(name)


# --- stable URLs --------------------------------------------------------------------------------------------------


def test_a_custom_domain_gives_monitors_and_links_a_url_that_survives_redeploys(synth_options: Synthesized) -> None:
    (domain,) = synth_options.resources("AWS::ApiGatewayV2::DomainName").values()
    props = domain["Properties"]
    assert props["DomainName"] == "oncall.example.com"
    (config,) = props["DomainNameConfigurations"]
    assert config["EndpointType"] == "REGIONAL" and config["SecurityPolicy"] == "TLS_1_2"
    ((cert_id, cert),) = synth_options.resources("AWS::CertificateManager::Certificate").items()
    assert config["CertificateArn"] == {"Ref": cert_id}
    assert cert["Properties"]["DomainName"] == "oncall.example.com"
    assert cert["Properties"]["ValidationMethod"] == "DNS"
    assert cert["Properties"]["DomainValidationOptions"] == [
        {"DomainName": "oncall.example.com", "HostedZoneId": "Z0123456789ABCDEFGHIJ"}
    ]
    (mapping,) = synth_options.resources("AWS::ApiGatewayV2::ApiMapping").values()
    api_id = synth_options.logical_id(synth_options.stack.ingest_api.http_api)
    stage_id = synth_options.logical_id(synth_options.stack.ingest_api.stage)
    assert mapping["Properties"]["ApiId"] == {"Ref": api_id} and mapping["Properties"]["Stage"] == "$default"
    assert stage_id in mapping["DependsOn"]
    (record,) = synth_options.resources("AWS::Route53::RecordSet").values()
    assert (record["Properties"]["Name"], record["Properties"]["Type"]) == ("oncall.example.com.", "A")
    assert record["Properties"]["HostedZoneId"] == "Z0123456789ABCDEFGHIJ"
    outputs = synth_options.template_json["Outputs"]
    assert outputs["ApiUrl"]["Value"] == "https://oncall.example.com/"
    assert "ApiDomainTarget" in outputs
    # links in notifications use the stable URL too
    for name in ("escalation_step",):
        env = _function_props(synth_options, name)["Environment"]["Variables"]
        assert env["TOCSIN_PUBLIC_URL"] == "https://oncall.example.com"


def test_a_custom_domain_with_an_existing_certificate_and_no_zone() -> None:
    app = App()
    stack = Stack(app, "Probe", env={"region": "eu-west-1", "account": "123456789012"})
    api = apigwv2.HttpApi(stack, "Api", create_default_stage=False)
    stage = apigwv2.HttpStage(stack, "Stage", http_api=api, auto_deploy=True)
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"
    domain = CustomDomain(
        stack,
        "Domain",
        config=TocsinConfig(domain_name="oncall.example.org", certificate_arn=arn),
        http_api=api,
        stage=stage,
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::CertificateManager::Certificate", 0)
    template.resource_count_is("AWS::Route53::RecordSet", 0)  # the deployer points a CNAME at ApiDomainTarget
    template.has_resource_properties(
        "AWS::ApiGatewayV2::DomainName",
        {"DomainName": "oncall.example.org", "DomainNameConfigurations": [Match.object_like({"CertificateArn": arn})]},
    )
    assert domain.url == "https://oncall.example.org/"


def test_the_readme_and_the_stack_have_one_retention_default(synth: Synthesized) -> None:
    for name in _functions(synth):
        env = _function_props(synth, name)["Environment"]["Variables"]
        assert env[schema.RETENTION_DAYS_ENV] == str(schema.DEFAULT_RETENTION_DAYS)
    readme = (REPO_ROOT / "README.md").read_text()
    row = re.search(r"^\| `retention_days`.*$", readme, re.M)
    assert row is not None
    assert f"| `{schema.DEFAULT_RETENTION_DAYS}` |" in row[0]


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"api_throttle_rate": "50"}, "replaced by ingest_throttle"),
        ({"ingest_throttle": "fast"}, "setting ingest_throttle"),
        ({"alarm_email": "ops@example.com, not-an-address"}, "alarm_email"),
        ({"deadman_url": "ftp://example.com/x"}, "deadman_url"),
        ({"domain_name": "oncall.example.com", "hosted_zone_id": "Z123"}, "go together"),
        ({"domain_name": "oncall.example.com", "hosted_zone_id": "Z123", "hosted_zone_name": "other.org"}, "not in"),
        ({"certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/x"}, "need domain_name"),
        ({"tracing": "maybe"}, "setting tracing"),
        ({"escalation_concurrency": "-1"}, "escalation_concurrency"),
    ],
)
def test_bad_settings_are_refused_with_a_message(context: dict[str, str], message: str) -> None:
    app = App(context=context)
    with pytest.raises(ValueError, match=message):
        TocsinConfig.from_scope(app)


def test_the_stack_with_every_option_passes_cdk_nag_and_cfn_lint(synth_options: Synthesized) -> None:
    from cfnlint.api import ManualArgs, lint

    report = json.dumps(synth_options.nag_report, indent=1) if synth_options.nag_report else "(no report)"
    assert synth_options.nag_error is None, f"cdk-nag AwsSolutions failed: {synth_options.nag_error}\n{report}"
    assert synth_options.nag_report is not None
    (plugin,) = synth_options.nag_report["pluginReports"]
    assert (plugin["conclusion"], plugin["violations"]) == ("success", [])
    tracing = [s for s in plugin["suppressedViolations"] if "X-Ray" in s["reason"]]
    assert tracing  # the X-Ray permissions' wildcard is acknowledged with its reason
    matches = lint(json.dumps(synth_options.template_json), config=ManualArgs(ignore_checks=["W3005"]))
    assert not matches, "\n".join(str(m) for m in matches)
