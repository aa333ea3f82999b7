"""Test-run wiring shared by every folder: how the tests are spread over pytest-xdist workers.

``make test`` runs ``pytest -n <workers> --dist loadgroup``. Every worker builds its own session and module
fixtures (DynamoDB Local, a local stack, a seeded world), so tests that share an expensive fixture are kept on one
worker: the CDK app is synthesized once, in the worker that runs the infrastructure tests, and the tests of a
module with module-scoped fixtures run on one worker, which builds them once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_INFRA = Path(__file__).parent / "infra"
# Modules whose tests are shards of one long job, spread over the workers on purpose: their module fixture (a
# seeded world, seconds) is cheap beside the minutes of work a single worker would take.
SPREAD: frozenset[str] = frozenset({"test_hostile_requests.py", "test_policy_routes.py"})


def _group(item: pytest.Item) -> str | None:
    path = Path(item.fspath)
    if _INFRA in path.parents:
        return "infra"
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.values() if info is not None else ()
    if path.name not in SPREAD and any(d.scope == "module" for chain in defs for d in chain):
        return path.stem
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups into the test ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        group = _group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
