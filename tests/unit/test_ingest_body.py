"""How a request body becomes a payload (or a clear refusal)."""

from __future__ import annotations

import pytest
from oncall.ingest import MAX_BODY_BYTES, IngestError, PayloadTooLarge, parse_body
from oncall.settings import InvalidSetting, RateLimit


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b'{"a": 1}', "application/json", {"a": 1}),
        (b"[1, 2]", None, [1, 2]),
        (b'"text"', "text/plain", "text"),
        (b'{"a": 1, "a": 2}', None, {"a": 2}),  # duplicated keys: the last wins, as in every JSON parser we know
        (b"a=1&b=two", "application/x-www-form-urlencoded; charset=utf-8", {"a": "1", "b": "two"}),
        ('{"city": "Zürich"}'.encode(), "application/json", {"city": "Zürich"}),
    ],
)
def test_accepted_bodies(body: bytes, content_type: str | None, expected: object) -> None:
    assert parse_body(body, content_type) == expected


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"", None, "Payload is required"),
        (b"   ", "application/json", "Payload is required"),
        (b"{oops", None, "Payload is not valid JSON"),
        (b'{"a": "\xff"}', None, "not valid UTF-8"),
        (b"--x\r\n", "multipart/form-data; boundary=x", "File uploads are not allowed"),
        (b"[" * 50_000 + b"]" * 50_000, None, "nested too deeply"),
    ],
)
def test_refused_bodies(body: bytes, content_type: str | None, message: str) -> None:
    with pytest.raises(IngestError, match=message) as refused:
        parse_body(body, content_type)
    assert refused.value.status == 400


def test_size_limit_is_exact() -> None:
    at_limit = b'"' + b"a" * (MAX_BODY_BYTES - 2) + b'"'
    assert len(parse_body(at_limit, None)) == MAX_BODY_BYTES - 2
    with pytest.raises(PayloadTooLarge) as refused:
        parse_body(at_limit + b" ", None)
    assert refused.value.status == 413


def test_rate_limit_setting() -> None:
    assert RateLimit.parse("300/300") == RateLimit(300, 300)
    assert RateLimit.parse("10", default_seconds=300) == RateLimit(10, 300)
    with pytest.raises(InvalidSetting, match="TOCSIN_RATE_LIMIT must look like 300/60"):
        RateLimit.parse("ten per minute", "TOCSIN_RATE_LIMIT")
    with pytest.raises(InvalidSetting, match="must be positive"):
        RateLimit.parse("0/60")
