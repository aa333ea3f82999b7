"""The CDK app: the ``Tocsin`` stack with cdk-nag's AwsSolutions checks (used by ``app.py`` and the tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Tags, Validations
from cdk_nag import AwsSolutionsChecks

from infra.stack import TocsinStack

STACK_NAME = "Tocsin"


def build_app(
    *, context: Mapping[str, Any] | None = None, outdir: str | None = None, nag: bool = True
) -> tuple[App, TocsinStack]:
    app = App(context=dict(context) if context is not None else None, outdir=outdir)
    stack = TocsinStack(app, STACK_NAME)
    Tags.of(app).add("project", "tocsin")
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app, stack
