"""Assertions on the synthesized ``Tocsin`` template (built once per session in conftest.py)."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match
from infra_testlib import Synthesized, as_list

from infra.data import INGEST_TABLE_ACTIONS, READ_WRITE_TABLE_ACTIONS
from infra.functions import TocsinFunction
from infra.layer import bytecode_python
from infra.sources import http_routes, schema


def _all_functions(synth: Synthesized) -> dict[str, TocsinFunction]:
    """Every Tocsin function of the stack, by name (the folder under functions/)."""
    return {c.spec.name: c for c in synth.stack.node.find_all() if isinstance(c, TocsinFunction)}


def _function(synth: Synthesized, name: str) -> TocsinFunction:
    return _all_functions(synth)[name]


# --- data ---------------------------------------------------------------------------------------------------


def test_table_matches_schema(synth: Synthesized) -> None:
    (table,) = synth.resources("AWS::DynamoDB::Table").values()
    props = table["Properties"]
    request = schema.create_table_request("ignored")
    assert props["KeySchema"] == request["KeySchema"]
    assert props["KeySchema"] == [
        {"AttributeName": schema.PK, "KeyType": "HASH"},
        {"AttributeName": schema.SK, "KeyType": "RANGE"},
    ]
    key = lambda d: d["AttributeName"]  # noqa: E731
    assert sorted(props["AttributeDefinitions"], key=key) == sorted(request["AttributeDefinitions"], key=key)
    assert props["GlobalSecondaryIndexes"] == request["GlobalSecondaryIndexes"]
    assert [
        (g["IndexName"], *(k["AttributeName"] for k in g["KeySchema"])) for g in props["GlobalSecondaryIndexes"]
    ] == [tuple(index) for index in schema.INDEXES]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": schema.TTL_ATTRIBUTE, "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}  # AWS-managed key
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


# --- layer --------------------------------------------------------------------------------------------------


def test_layer_is_python312_arm64_and_holds_oncall_and_deps(synth: Synthesized) -> None:
    ((_layer_id, layer),) = synth.resources("AWS::Lambda::LayerVersion").items()
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assets = json.loads(next(synth.outdir.glob("Tocsin.assets.json")).read_text())["files"]
    (asset,) = [a for a in assets.values() if a.get("displayName") == "CoreLayer/Layer/Code"]
    root = synth.outdir / asset["source"]["path"] / "python"
    assert (root / "oncall" / "store" / "schema.py").is_file()
    assert (root / "oncall" / "http_routes.py").is_file()
    for dist in ("aws_lambda_powertools", "boto3", "jinja2", "pydantic", "pydantic_core", "regex"):
        assert (root / dist).is_dir(), dist
    assert list(root.glob("pydantic_core/_pydantic_core.cpython-312-aarch64-linux-gnu.so")), "cp312 arm64 wheel"
    # only bytecode of the Lambda runtime's version (none at all where no CPython 3.12 built the layer)
    compiled = {p.name.split(".")[-2] for p in root.rglob("__pycache__/*.pyc")}
    assert compiled == ({"cpython-312"} if bytecode_python() else set()), compiled


def test_every_function_is_python312_arm64_with_the_layer_and_env(synth: Synthesized) -> None:
    (layer_id,) = synth.resources("AWS::Lambda::LayerVersion")
    (table_id,) = synth.resources("AWS::DynamoDB::Table")
    functions = synth.resources("AWS::Lambda::Function")
    assert len(functions) == len(_all_functions(synth)) >= 3
    for fn in functions.values():
        props = fn["Properties"]
        assert props["Runtime"] == "python3.12"
        assert props["Architectures"] == ["arm64"]
        assert props["Layers"] == [{"Ref": layer_id}]
        assert props["Handler"] == "handler.handler"
        assert 10 <= props["Timeout"] <= 60
        env = props["Environment"]["Variables"]
        assert env[schema.TABLE_NAME_ENV] == {"Ref": table_id}
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Tocsin"
        assert env["POWERTOOLS_SERVICE_NAME"].startswith("tocsin-")
        assert env["TOCSIN_RETENTION_DAYS"] == str(schema.DEFAULT_RETENTION_DAYS)
        assert env["TOCSIN_RATE_LIMIT"] == "300/300"
        assert "Ref" in props["LoggingConfig"]["LogGroup"]  # explicit log group, no logRetention custom resource
    ingest = functions[synth.logical_id(_function(synth, "ingest").function)]
    assert ingest["Properties"]["MemorySize"] == 512
    api = functions[synth.logical_id(_function(synth, "api").function)]
    assert api["Properties"]["Timeout"] <= 29  # the HTTP API integration timeout is 30 s
    step = functions[synth.logical_id(_function(synth, "escalation_step").function)]
    assert step["Properties"]["Timeout"] == 60


def test_log_groups_have_retention_and_no_log_retention_custom_resource(synth: Synthesized) -> None:
    groups = synth.resources("AWS::Logs::LogGroup")
    assert len(groups) == len(_all_functions(synth)) + 2  # one per function + API access logs + state machine
    assert all(g["Properties"]["RetentionInDays"] == 30 for g in groups.values())
    assert not synth.resources("Custom::LogRetention")


# --- IAM ----------------------------------------------------------------------------------------------------


def test_ingest_role_is_least_privilege(synth: Synthesized) -> None:
    fn = _function(synth, "ingest")
    statements = synth.statements(fn.role)
    dynamodb = synth.actions(fn.role, "dynamodb:")
    assert dynamodb == set(INGEST_TABLE_ACTIONS)
    assert {
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
        "dynamodb:ConditionCheckItem",
    } <= dynamodb
    assert not {a for a in dynamodb if "*" in a}
    assert not dynamodb & {"dynamodb:Scan", "dynamodb:DeleteTable", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
    assert synth.actions(fn.role) - dynamodb == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }  # no Step Functions: the escalation starter starts escalations from the table's stream
    # Index access is Query only, one ARN per index of schema.py (no index/* wildcard).
    (index_statement,) = [s for s in statements if any("/index/" in json.dumps(r) for r in as_list(s["Resource"]))]
    assert as_list(index_statement["Action"]) == ["dynamodb:Query"]
    index_names = [r["Fn::Join"][1][1].removeprefix("/index/") for r in index_statement["Resource"]]
    assert sorted(index_names) == sorted(name for name, _pk, _sk in schema.INDEXES)
    assert len(index_statement["Resource"]) == len(schema.INDEXES)


def test_api_role_reads_and_writes_items_only(synth: Synthesized) -> None:
    fn = _function(synth, "api")
    dynamodb = synth.actions(fn.role, "dynamodb:")
    assert dynamodb == set(READ_WRITE_TABLE_ACTIONS)
    assert not dynamodb & {"dynamodb:*", "dynamodb:Scan", "dynamodb:DeleteTable", "dynamodb:UpdateTable"}


def test_no_wildcards_but_the_acknowledged_ones_and_no_managed_policies(synth: Synthesized) -> None:
    """Wildcard resources exist only where IAM or CDK needs them; each one is acknowledged to cdk-nag."""
    step_id = synth.logical_id(synth.stack.escalation.step.function)
    executions = json.dumps(synth.stack.resolve(synth.stack.escalation.executions_arn))
    schedules = json.dumps(synth.stack.resolve(synth.stack.maintenance.schedules_arn))
    allowed = {
        # (statement actions, the wildcard resource)
        (("states:StopExecution",), executions),
        (("sns:Publish",), json.dumps("*")),
        (("lambda:InvokeFunction",), json.dumps({"Fn::Join": ["", [{"Fn::GetAtt": [step_id, "Arn"]}, ":*"]]})),
        # The api creates and deletes maintenance-end schedules (named at run time) of the one schedule group.
        (("scheduler:CreateSchedule", "scheduler:DeleteSchedule"), schedules),
        # The escalation starter's event source mapping finds the table's stream (no resource-level permission).
        (("dynamodb:ListStreams",), json.dumps("*")),
    }
    if synth.stack.inbound_email is not None:  # email_ingest reads the raw mail SES stores under inbound/
        mail = synth.stack.resolve(synth.stack.inbound_email.bucket.arn_for_objects("inbound/*"))
        allowed.add((("s3:GetObject",), json.dumps(mail)))
        failed = synth.stack.resolve(synth.stack.inbound_email.bucket.arn_for_objects("failed/*"))
        allowed.add((("s3:PutObject",), json.dumps(failed)))  # and keeps a mail that became no alert
    log_delivery = {
        "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    }  # fmt: skip
    for role in synth.resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]  # no AWSLambdaBasicExecutionRole
    found = set()
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = tuple(sorted(as_list(statement["Action"])))
            assert all("*" not in a for a in actions), statement
            for resource in as_list(statement["Resource"]):
                if "*" not in json.dumps(resource):
                    continue
                if set(actions) == log_delivery and resource == "*":
                    found.add(("logs delivery", "*"))
                    continue
                assert (actions, json.dumps(resource)) in allowed, statement
                found.add((actions, json.dumps(resource)))
    assert found == allowed | {("logs delivery", "*")}


# --- HTTP API -----------------------------------------------------------------------------------------------


def test_every_route_of_http_routes_exists_and_targets_its_function(synth: Synthesized) -> None:
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"] for r in synth.resources("AWS::ApiGatewayV2::Route").values()
    }
    assert set(routes) == {f"{r.method} {r.path}" for r in http_routes.ROUTES}
    assert {"POST /integrations/v1/{type}/{token}", "ANY /api/v1/{proxy+}"} <= set(routes)
    integrations = synth.resources("AWS::ApiGatewayV2::Integration")
    for route in http_routes.ROUTES:
        target = routes[f"{route.method} {route.path}"]["Target"]
        integration_id = target["Fn::Join"][1][1]["Ref"]
        integration = integrations[integration_id]["Properties"]
        assert integration["IntegrationType"] == "AWS_PROXY"
        assert integration["PayloadFormatVersion"] == "2.0"
        fn_id = synth.logical_id(_function(synth, route.function).function)
        assert integration["IntegrationUri"] == {"Fn::GetAtt": [fn_id, "Arn"]}


def test_default_stage_throttles_per_route_and_logs_without_the_token_path(synth: Synthesized) -> None:
    (stage,) = synth.resources("AWS::ApiGatewayV2::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == "$default"
    assert props["AutoDeploy"] is True
    assert set(props["RouteSettings"]) == {r.key for r in http_routes.ROUTES}  # details: test_infra_never_down.py
    log_format = props["AccessLogSettings"]["Format"]
    assert "$context.requestId" in log_format
    assert "$context.path" not in log_format  # the path holds the integration token
    json.loads(log_format)
    (access_logs_id,) = [k for k in synth.resources("AWS::Logs::LogGroup") if "AccessLogs" in k]
    assert props["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": [access_logs_id, "Arn"]}


# --- observability and outputs ------------------------------------------------------------------------------


def test_alarms_on_function_errors_throttles_and_api_5xx_notify_the_ssl_only_topic(synth: Synthesized) -> None:
    (topic_id,) = synth.resources("AWS::SNS::Topic")
    alarms = list(synth.resources("AWS::CloudWatch::Alarm").values())
    watched = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"], json.dumps(a["Properties"].get("Dimensions")))
        for a in alarms
        if "MetricName" in a["Properties"]
    }
    for name, fn in _all_functions(synth).items():
        dims = json.dumps([{"Name": "FunctionName", "Value": {"Ref": synth.logical_id(fn.function)}}])
        assert ("AWS/Lambda", "Errors", dims) in watched, name
        assert ("AWS/Lambda", "Throttles", dims) in watched, name
    api_id = synth.logical_id(synth.stack.ingest_api.http_api)
    assert ("AWS/ApiGateway", "5xx", json.dumps([{"Name": "ApiId", "Value": {"Ref": api_id}}])) in watched
    machine = json.dumps(
        [{"Name": "StateMachineArn", "Value": {"Ref": synth.logical_id(synth.stack.escalation.state_machine)}}]
    )
    assert ("AWS/States", "ExecutionsFailed", machine) in watched
    assert ("AWS/States", "ExecutionsTimedOut", machine) in watched
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
        # no traffic is no problem, except for the minute sweep: it must run (test_infra_never_down.py)
        expected = "breaching" if "SweepsCompleted" in json.dumps(alarm) else "notBreaching"
        assert alarm["Properties"]["TreatMissingData"] == expected
    synth.template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_outputs(synth: Synthesized) -> None:
    outputs = synth.template_json["Outputs"]
    (table_id,) = synth.resources("AWS::DynamoDB::Table")
    assert outputs["TableName"]["Value"] == {"Ref": table_id}
    url = outputs["ApiUrl"]["Value"]["Fn::Join"][1]
    assert url[0] == "https://" and url[-1] == "/"
    assert outputs["StateMachineArn"]["Value"] == {"Ref": synth.logical_id(synth.stack.escalation.state_machine)}


# --- checks -------------------------------------------------------------------------------------------------

# Every acknowledgement is individual and justified in the construct that needs it.
_STOP_EXECUTIONS = (
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>"
    ":execution:Tocsin-escalation:*]"
)
EXPECTED_ACKNOWLEDGEMENTS = {
    # Every route authenticates in its function (integration token, API key, signed action link).
    *(
        ("AwsSolutions-APIG4", f"Tocsin/Http/Gateway/{r.method}{r.path.replace('/', '--')}/Resource")
        for r in http_routes.ROUTES
    ),
    ("AwsSolutions-L1", "Tocsin/Http/Ingest/Function/Resource"),
    ("AwsSolutions-L1", "Tocsin/Http/Api/Function/Resource"),
    ("AwsSolutions-L1", "Tocsin/Http/Web/Function/Resource"),
    ("AwsSolutions-L1", "Tocsin/Escalation/Step/Function/Resource"),
    ("AwsSolutions-L1", "Tocsin/Heartbeat/Check/Function/Resource"),
    ("AwsSolutions-L1", "Tocsin/Maintenance/End/Function/Resource"),
    ("AwsSolutions-L1", "Tocsin/EscalationStarter/Start/Function/Resource"),
    # StopExecution takes execution ARNs, named at run time: only this state machine's executions.
    (_STOP_EXECUTIONS, "Tocsin/Http/Api/Role/DefaultPolicy/Resource"),
    (_STOP_EXECUTIONS, "Tocsin/Http/Web/Role/DefaultPolicy/Resource"),
    (_STOP_EXECUTIONS, "Tocsin/Escalation/Step/Role/DefaultPolicy/Resource"),
    (_STOP_EXECUTIONS, "Tocsin/Heartbeat/Check/Role/DefaultPolicy/Resource"),
    (_STOP_EXECUTIONS, "Tocsin/EscalationStarter/Start/Role/DefaultPolicy/Resource"),
    # dynamodb:ListStreams (the starter's event source mapping finds the table's stream) has no resource ARN.
    ("AwsSolutions-IAM5[Resource::*]", "Tocsin/EscalationStarter/Start/Role/DefaultPolicy/Resource"),
    # CreateSchedule/DeleteSchedule of the maintenance windows' schedules, named at run time, in one group.
    (
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>"
        ":schedule/Tocsin-maintenance/*]",
        "Tocsin/Http/Api/Role/DefaultPolicy/Resource",
    ),
    (
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>"
        ":schedule/Tocsin-maintenance/*]",
        "Tocsin/Http/Web/Role/DefaultPolicy/Resource",
    ),
    # sns:Publish to phone numbers (SMS) has no resource ARN.
    ("AwsSolutions-IAM5[Resource::*]", "Tocsin/Escalation/Step/Role/DefaultPolicy/Resource"),
    # Step Functions: CloudWatch Logs delivery actions (no resource-level permissions) and CDK's "<fn>:*".
    ("AwsSolutions-IAM5[Resource::*]", "Tocsin/Escalation/StateMachine/Role/DefaultPolicy/Resource"),
    (
        "AwsSolutions-IAM5[Resource::<EscalationStepFunction7F042905.Arn>:*]",
        "Tocsin/Escalation/StateMachine/Role/DefaultPolicy/Resource",
    ),
    ("AwsSolutions-SF1", "Tocsin/Escalation/StateMachine/Resource"),  # ERROR-level logging
    ("AwsSolutions-SF2", "Tocsin/Escalation/StateMachine/Resource"),  # no X-Ray
    ("AwsSolutions-SMG4", "Tocsin/SigningKey/Secret/Resource"),  # no automatic rotation of the link key
    # Inbound e-mail: email_ingest reads the raw mail under inbound/ (keys are SES message ids); the mail bucket,
    # written by SES and read by email_ingest only, has no server access logs.
    ("AwsSolutions-L1", "Tocsin/InboundEmail/Ingest/Function/Resource"),
    (
        "AwsSolutions-IAM5[Resource::<InboundEmailMailBucket09521212.Arn>/inbound/*]",
        "Tocsin/InboundEmail/Ingest/Role/DefaultPolicy/Resource",
    ),
    ("AwsSolutions-S1", "Tocsin/InboundEmail/MailBucket/Resource"),
    # ... and keeps a mail that became no alert under failed/ (its SES message id).
    (
        "AwsSolutions-IAM5[Resource::<InboundEmailMailBucket09521212.Arn>/failed/*]",
        "Tocsin/InboundEmail/Ingest/Role/DefaultPolicy/Resource",
    ),
    # The failure queue is itself the dead-letter queue of failed asynchronous invocations.
    ("AwsSolutions-SQS3", "Tocsin/Failures/FailedInvocations/Resource"),
}


def test_cdk_nag_has_no_unacknowledged_findings(synth: Synthesized) -> None:
    report = json.dumps(synth.nag_report, indent=1) if synth.nag_report else "(no report)"
    assert synth.nag_error is None, f"cdk-nag AwsSolutions failed: {synth.nag_error}\n{report}"
    assert synth.nag_report is not None
    (plugin,) = synth.nag_report["pluginReports"]
    assert plugin["pluginName"] == "AwsSolutions"
    assert plugin["conclusion"] == "success"
    assert plugin["violations"] == []
    acknowledged = set()
    for suppressed in plugin["suppressedViolations"]:
        assert len(suppressed["reason"]) > 60, suppressed  # a concrete reason, not a placeholder
        for construct in suppressed["violatingConstructs"]:
            acknowledged.add((suppressed["ruleName"], construct["constructPath"]))
    assert acknowledged == EXPECTED_ACKNOWLEDGEMENTS


def test_cfn_lint_is_clean(synth: Synthesized) -> None:
    from cfnlint.api import ManualArgs, lint

    matches = lint(
        json.dumps(synth.template_json),
        config=ManualArgs(ignore_checks=["W3005"]),
    )
    assert not matches, "\n".join(str(m) for m in matches)
