"""Infra tests: the CDK app is synthesized once per session and set of settings (every jsii App costs seconds)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
for _path in (_HERE.parents[1], _HERE):  # the repo root (for ``infra``) and this folder (``infra_testlib``)
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from infra_testlib import CONFIG_ENV_VARS, OPTIONS_CONTEXT, TEST_CONTEXT, Synthesized, cdk_json_context  # noqa: E402


def _synthesize(tmp_path_factory: pytest.TempPathFactory, context: dict[str, object], name: str) -> Synthesized:
    from aws_cdk.assertions import Template

    from infra.application import build_app

    saved = {name: os.environ.pop(name) for name in CONFIG_ENV_VARS if name in os.environ}
    try:
        outdir = tmp_path_factory.mktemp(name)
        app, stack = build_app(context={**cdk_json_context(), **context}, outdir=str(outdir))
        nag_error: BaseException | None = None
        try:
            app.synth()  # runs the cdk-nag AwsSolutions plugin; raises on unacknowledged findings
        except Exception as exc:  # reported by test_cdk_nag_has_no_unacknowledged_findings
            nag_error = exc
        report_file = outdir / "validation-report.json"
        nag_report = json.loads(report_file.read_text()) if report_file.exists() else None
        if nag_error is not None:
            # The template is still needed by the other tests: synthesize again without the plugin.
            app, stack = build_app(
                context={**cdk_json_context(), **context},
                outdir=str(tmp_path_factory.mktemp(f"{name}.nonag")),
                nag=False,
            )
        template = Template.from_stack(stack)
        return Synthesized(
            app=app,
            stack=stack,
            outdir=outdir if nag_error is None else Path(app.outdir),
            template=template,
            template_json=template.to_json(),
            nag_error=nag_error,
            nag_report=nag_report,
        )
    finally:
        os.environ.update(saved)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The stack as most deployments have it (see TEST_CONTEXT)."""
    return _synthesize(tmp_path_factory, TEST_CONTEXT, "cdk.out")


@pytest.fixture(scope="session")
def synth_options(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The stack with every optional setting of a careful deployment (see OPTIONS_CONTEXT)."""
    return _synthesize(tmp_path_factory, OPTIONS_CONTEXT, "cdk.out.options")
