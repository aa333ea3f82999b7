"""Test-run wiring shared by every folder: how the tests are spread over pytest-xdist workers.

``make test`` runs ``pytest -n <workers> --dist loadgroup``. Every worker has its own session fixtures (DynamoDB
Local, the local stack), so tests that share an expensive session fixture are kept on one worker: the CDK app
is synthesized once, in the worker that runs the infrastructure tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_INFRA = Path(__file__).parent / "infra"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _INFRA in Path(item.fspath).parents:
            item.add_marker(pytest.mark.xdist_group("infra"))
