"""Schemathesis against the local stack: generated requests for every documented operation get no 5xx and
responses that match the OpenAPI document generated from our pydantic models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from local.stack import LocalStack


@pytest.fixture(scope="module")
def schema_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("schemathesis"), workers=1) as running:
        yield running


@pytest.mark.e2e
@pytest.mark.timeout(480)  # ~1,000 requests through the real stack: 1-2.5 min on a loaded 2-core machine
def test_api_conforms_to_its_openapi_document(schema_stack: LocalStack) -> None:
    schema = schemathesis.openapi.from_url(f"{schema_stack.base_url}/api/v1/openapi.json")
    schema.config.update(base_url=schema_stack.base_url, headers={"Authorization": schema_stack.api_key})
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40  # every resource of the API is documented

    for operation in operations:

        @given(case=operation.as_strategy())
        # derandomize: the same examples on every CI run (a longer random run found nothing: 150 per operation)
        @settings(
            max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True
        )
        def exercise(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])

        try:
            exercise()
        except Exception as error:  # collect every operation's failure, then report them together
            failures[operation.label] = str(error)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
