"""Shared helpers of the infra tests (a uniquely named module: ``conftest`` names clash across test folders)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
# Deploy-time settings also readable from the environment (infra/config.py); the tests pin the defaults.
CONFIG_ENV_VARS = tuple(
    f"TOCSIN_{key.upper()}"
    for key in (
        "retention_days", "rate_limit", "log_retention_days", "ingest_throttle", "api_throttle", "web_throttle",
        "api_throttle_rate", "api_throttle_burst", "alarm_email", "deadman_url", "escalation_concurrency",
        "sms_spend_limit_usd", "tracing", "domain_name", "certificate_arn", "hosted_zone_id", "hosted_zone_name",
        "email_from", "inbound_email_domain", "voice_origination",
    )
)  # fmt: skip
# The session template is synthesized with an e-mail sender, so that the SES permissions can be checked, and
# an inbound e-mail domain, so that the SES receipt rule, mail bucket and email_ingest function exist.
# And a pool of End User Messaging phone numbers that places phone calls.
VOICE_POOL = "pool-0123456789abcdef0123456789abcdef"
TEST_CONTEXT = {
    "email_from": "oncall@example.com",
    "inbound_email_domain": "alerts.example.com",
    "voice_origination": VOICE_POOL,
}
# The partition, region and account the tests resolve ARNs with (``resolve(value, PSEUDO)``).
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "111122223333"}
# A careful deployment: alarm addresses, a dead-man's switch, a custom domain in a Route 53 zone, X-Ray, its own
# ingest limit; no reserved concurrency (a small account) and neither e-mail sender nor inbound domain.
OPTIONS_CONTEXT = {
    "alarm_email": "oncall@example.com, sre@example.com",
    "deadman_url": "https://hc-ping.com/5f3c0a8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
    "domain_name": "oncall.example.com",
    "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
    "hosted_zone_name": "example.com",
    "tracing": "true",
    "escalation_concurrency": "0",
    "ingest_throttle": "300/600",
    "sms_spend_limit_usd": "50",
}


def as_list(value: Any) -> list[Any]:
    """A template field that holds one value or a list of them (IAM's Action, Resource), as a list."""
    return value if isinstance(value, list) else [value]


def cdk_json_context() -> dict[str, Any]:
    return json.loads((REPO_ROOT / "cdk.json").read_text())["context"]


def resolve(value: Any, values: Mapping[str, str]) -> Any:
    """Resolve the intrinsic functions of a template value into a concrete one.

    ``values`` maps ``Ref`` targets (``"AWS::Region"``, a logical id) and ``Fn::GetAtt`` pairs spelled
    ``"<logical id>.<attribute>"`` to strings; anything else unresolved raises ``KeyError``.
    """
    if isinstance(value, list):
        return [resolve(v, values) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        return values[value["Ref"]]
    if set(value) == {"Fn::GetAtt"}:
        logical_id, attribute = value["Fn::GetAtt"]
        return values[f"{logical_id}.{attribute}"]
    if set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(resolve(part, values) for part in parts)
    if any(key.startswith("Fn::") for key in value):
        raise KeyError(f"unsupported intrinsic {value!r}")
    return {k: resolve(v, values) for k, v in value.items()}


def state_machine_definition(template_json: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """The ASL of the template's one state machine, its ``Fn::Join``/``Fn::GetAtt`` filled in from ``values``."""
    (machine,) = [r for r in template_json["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    definition: dict[str, Any] = json.loads(resolve(machine["Properties"]["DefinitionString"], values))
    return definition


@dataclass
class Synthesized:
    app: Any
    stack: Any  # infra.stack.TocsinStack
    outdir: Path
    template: Any  # aws_cdk.assertions.Template
    template_json: dict[str, Any]
    nag_error: BaseException | None
    nag_report: dict[str, Any] | None

    def resources(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.template_json["Resources"].items() if r["Type"] == cfn_type}

    def logical_id(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child)

    def statements(self, role: Any) -> list[dict[str, Any]]:
        """The IAM statements of the policies attached to ``role``."""
        role_id = self.logical_id(role)
        return [
            statement
            for policy in self.resources("AWS::IAM::Policy").values()
            if {"Ref": role_id} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]

    def actions(self, role: Any, prefix: str = "") -> set[str]:
        """The actions ``role`` is granted (those starting with ``prefix``)."""
        return {a for s in self.statements(role) for a in as_list(s["Action"]) if a.startswith(prefix)}

    def grants(self, role: Any, action: str) -> list[Any]:
        """The resources (as template values) on which ``role`` is allowed ``action``."""
        return [
            resource
            for statement in self.statements(role)
            if statement["Effect"] == "Allow" and action in as_list(statement["Action"])
            for resource in as_list(statement["Resource"])
        ]

    def environment(self, fn: Any) -> dict[str, Any]:
        """The environment variables of a :class:`infra.functions.TocsinFunction`."""
        resource = self.resources("AWS::Lambda::Function")[self.logical_id(fn.function)]
        variables: dict[str, Any] = resource["Properties"]["Environment"]["Variables"]
        return variables
