"""Shared helpers of the infra tests (a uniquely named module: ``conftest`` names clash across test folders)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
# Deploy-time settings also readable from the environment (infra/config.py); the tests pin the defaults.
CONFIG_ENV_VARS = (
    "TOCSIN_RETENTION_DAYS",
    "TOCSIN_RATE_LIMIT",
    "TOCSIN_LOG_RETENTION_DAYS",
    "TOCSIN_API_THROTTLE_RATE",
    "TOCSIN_API_THROTTLE_BURST",
    "TOCSIN_ALARM_EMAIL",
)


def cdk_json_context() -> dict[str, Any]:
    return json.loads((REPO_ROOT / "cdk.json").read_text())["context"]


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
