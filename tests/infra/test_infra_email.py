"""Inbound e-mail in the synthesized template: SES receipt rule -> S3 (raw mail) -> email_ingest (session template,
synthesized with ``inbound_email_domain`` set, see infra_testlib.TEST_CONTEXT)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_testlib import TEST_CONTEXT, Synthesized, as_list

from infra.config import TocsinConfig
from infra.data import INGEST_TABLE_ACTIONS
from infra.email import MAIL_PREFIX

DOMAIN = TEST_CONTEXT["inbound_email_domain"]


def _only(synth: Synthesized, cfn_type: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = synth.resources(cfn_type).items()
    return logical_id, resource


def _ids(synth: Synthesized) -> tuple[str, str]:
    inbound = synth.stack.inbound_email
    assert inbound is not None
    return synth.logical_id(inbound.bucket), synth.logical_id(inbound.ingest.function)


def _objects_arn(bucket_id: str, prefix: str = MAIL_PREFIX) -> dict[str, Any]:
    return {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{prefix}*"]]}


def test_receipt_rule_stores_the_raw_mail_then_invokes_email_ingest(synth: Synthesized) -> None:
    bucket_id, fn_id = _ids(synth)
    rule_set_id, rule_set = _only(synth, "AWS::SES::ReceiptRuleSet")
    assert rule_set["Properties"]["RuleSetName"] == "Tocsin-inbound"
    _, rule = _only(synth, "AWS::SES::ReceiptRule")
    assert rule["Properties"]["RuleSetName"] == {"Ref": rule_set_id}
    props = rule["Properties"]["Rule"]
    assert props["Recipients"] == [DOMAIN]  # every address of the domain, no other domain
    assert props["Enabled"] is True
    assert props["ScanEnabled"] is True  # spam and virus verdicts for email_ingest
    assert props["Actions"] == [  # in this order: the object exists when the function runs
        {"S3Action": {"BucketName": {"Ref": bucket_id}, "ObjectKeyPrefix": MAIL_PREFIX}},
        {"LambdaAction": {"FunctionArn": {"Fn::GetAtt": [fn_id, "Arn"]}, "InvocationType": "Event"}},
    ]
    # SES checks both permissions when the rule is created.
    (policy_id,) = synth.resources("AWS::S3::BucketPolicy")
    (permission_id,) = [
        k
        for k, r in synth.resources("AWS::Lambda::Permission").items()
        if r["Properties"]["Principal"] == "ses.amazonaws.com"
    ]
    assert {policy_id, permission_id} <= set(rule["DependsOn"])
    assert synth.template_json["Outputs"]["InboundEmailRuleSet"]["Value"] == "Tocsin-inbound"


def test_mail_bucket_is_private_encrypted_tls_only_and_expires_mail(synth: Synthesized) -> None:
    bucket_id, _ = _ids(synth)
    bucket = synth.resources("AWS::S3::Bucket")[bucket_id]
    props = bucket["Properties"]
    assert props["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    rule = rules["ExpireRawMail"]
    assert (rule["Status"], rule["Prefix"], rule["ExpirationInDays"]) == ("Enabled", MAIL_PREFIX, 30)
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert set(rules) == {"ExpireRawMail", "ExpireFailedMail"}  # mail that became no alert is kept longer
    assert bucket["DeletionPolicy"] == "Retain"


def test_bucket_policy_denies_plain_http_and_lets_only_this_accounts_ses_put_under_the_prefix(
    synth: Synthesized,
) -> None:
    bucket_id, _ = _ids(synth)
    _, policy = _only(synth, "AWS::S3::BucketPolicy")
    assert policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Action"] == "s3:*"
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "ses.amazonaws.com"}
    assert allow["Action"] == "s3:PutObject"
    assert allow["Resource"] == _objects_arn(bucket_id)
    assert allow["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_only_this_accounts_ses_may_invoke_email_ingest(synth: Synthesized) -> None:
    _, fn_id = _ids(synth)
    permissions = [
        r["Properties"]
        for r in synth.resources("AWS::Lambda::Permission").values()
        if r["Properties"]["FunctionName"] == {"Fn::GetAtt": [fn_id, "Arn"]}
    ]
    assert permissions == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [fn_id, "Arn"]},
            "Principal": "ses.amazonaws.com",
            "SourceAccount": {"Ref": "AWS::AccountId"},
        }
    ]


def test_email_ingest_function_settings_and_retries(synth: Synthesized) -> None:
    bucket_id, fn_id = _ids(synth)
    props = synth.resources("AWS::Lambda::Function")[fn_id]["Properties"]
    assert (props["Runtime"], props["Architectures"], props["MemorySize"], props["Timeout"]) == (
        "python3.12",
        ["arm64"],
        512,
        30,
    )
    env = props["Environment"]["Variables"]
    assert env["TOCSIN_MAIL_BUCKET"] == {"Ref": bucket_id}
    assert env["TOCSIN_MAIL_PREFIX"] == MAIL_PREFIX
    assert env["TOCSIN_INBOUND_EMAIL_DOMAIN"] == DOMAIN
    assert "TOCSIN_STATE_MACHINE_ARN" not in env  # its groups escalate from the table's stream, not from here
    (config,) = [
        r["Properties"]
        for r in synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if r["Properties"]["FunctionName"] == {"Ref": fn_id}
    ]
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (2, 6 * 3600)


def test_email_ingest_role_is_least_privilege(synth: Synthesized) -> None:
    inbound = synth.stack.inbound_email
    assert inbound is not None
    bucket_id, _ = _ids(synth)
    statements = synth.statements(inbound.ingest.role)
    actions = {a for s in statements for a in as_list(s["Action"])}
    dynamodb = {a for a in actions if a.startswith("dynamodb:")}
    assert dynamodb == set(INGEST_TABLE_ACTIONS)  # exactly what the HTTP ingest function has
    assert actions - dynamodb == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:GetObject",
        "s3:PutObject",  # the copy of a mail that became no alert, under failed/
        "sqs:SendMessage",  # the on-failure destination (infra/failures.py)
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }  # no Step Functions: escalations start from the table's stream
    (s3_statement,) = [s for s in statements if "s3:GetObject" in as_list(s["Action"])]
    assert as_list(s3_statement["Action"]) == ["s3:GetObject"]
    assert s3_statement["Resource"] == _objects_arn(bucket_id)
    (kept,) = [s for s in statements if "s3:PutObject" in as_list(s["Action"])]
    assert as_list(kept["Action"]) == ["s3:PutObject"]
    assert kept["Resource"] == _objects_arn(bucket_id, "failed/")


def test_api_shows_addresses_of_the_domain(synth: Synthesized) -> None:
    api_id = synth.logical_id(synth.stack.ingest_api.functions["api"].function)
    env = synth.resources("AWS::Lambda::Function")[api_id]["Properties"]["Environment"]["Variables"]
    assert env["TOCSIN_INBOUND_EMAIL_DOMAIN"] == DOMAIN


def test_email_ingest_errors_and_throttles_alarm(synth: Synthesized) -> None:
    _, fn_id = _ids(synth)
    dims = [{"Name": "FunctionName", "Value": {"Ref": fn_id}}]
    metrics = {
        a["Properties"]["MetricName"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Dimensions") == dims
    }
    assert metrics == {"Errors", "Throttles"}


def test_inbound_email_domain_setting() -> None:
    assert TocsinConfig().inbound_email_domain is None  # default: no SES receipt rule, no bucket, no function
    assert TocsinConfig(inbound_email_domain="alerts.example.com").inbound_email_domain == "alerts.example.com"
    for bad in ("localhost", "*.example.com", "a@example.com", "example..com", "-x.example.com"):
        with pytest.raises(ValueError, match="inbound_email_domain"):
            TocsinConfig(inbound_email_domain=bad)


def test_nothing_for_inbound_email_without_the_setting(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``inbound_email_domain`` the stack has no SES receipt rule, mail bucket or email_ingest function."""
    monkeypatch.delenv("TOCSIN_INBOUND_EMAIL_DOMAIN", raising=False)
    from aws_cdk.assertions import Template
    from infra_testlib import cdk_json_context

    from infra.application import build_app

    context = {**cdk_json_context(), **{k: v for k, v in TEST_CONTEXT.items() if k != "inbound_email_domain"}}
    _app, stack = build_app(context=context, outdir=str(tmp_path), nag=False)
    assert stack.inbound_email is None
    template = json.dumps(Template.from_stack(stack).to_json())
    for absent in ("AWS::SES::ReceiptRule", "AWS::S3::Bucket", "TOCSIN_INBOUND_EMAIL_DOMAIN", "email_ingest"):
        assert absent not in template


def test_the_layer_bundles_the_parser(synth: Synthesized) -> None:
    assets = json.loads(next(synth.outdir.glob("Tocsin.assets.json")).read_text())["files"]
    (layer,) = [a for a in assets.values() if a.get("displayName") == "CoreLayer/Layer/Code"]
    root = synth.outdir / layer["source"]["path"] / "python"
    assert (root / "oncall" / "inbound_email.py").is_file()
    (code,) = [a for a in assets.values() if a.get("displayName") == "InboundEmail/Ingest/Function/Code"]
    assert (synth.outdir / code["source"]["path"] / "handler.py").is_file()
