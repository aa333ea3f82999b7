"""Hostile input through the real ingest handler on DynamoDB Local: every bad body is a clear 4xx, every odd but
valid one is stored, and hostile templates cost their time budget and a "Template Error" title, never a 500.

(The rate limit's 429 with Retry-After, other integrations unaffected, is in test_ingest_flow.py.)
"""

from __future__ import annotations

import base64
import json
from types import ModuleType
from typing import Any

import pytest
from oncall.ingest import MAX_BODY_BYTES
from oncall.templating import RENDER_TIME_BUDGET

from tests.integration.conftest import Context, Invoke, http_event, post_alert
from tests.support.cpu import thread_cpu


def create(api: Invoke, kind: str, **extra: Any) -> dict[str, Any]:
    status, body = api("POST", "/api/v1/integrations/", {"name": f"hostile {kind}", "type": kind, **extra})
    assert status == 201, body
    return dict(body)


def groups(api: Invoke, integration: dict[str, Any]) -> list[dict[str, Any]]:
    status, body = api("GET", "/api/v1/alert_groups/", query=f"integration_id={integration['id']}")
    assert status == 200, body
    return list(body["results"])


def alerts(api: Invoke, group_id: str) -> list[dict[str, Any]]:
    status, body = api("GET", "/api/v1/alerts/", query=f"alert_group_id={group_id}&perpage=100")
    assert status == 200, body
    return list(body["results"])


def post_bytes(module: ModuleType, link: str, body: bytes, content_type: str | None) -> tuple[int, Any]:
    """POST raw bytes (base64 in the event, as API Gateway sends a binary body)."""
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    kind, token = path.rstrip("/").split("/")[-2:]
    headers = {"content-type": content_type} if content_type is not None else {}
    event = http_event("POST", path, headers=headers, path_parameters={"type": kind, "token": token})
    if content_type is None:
        del event["headers"]["content-type"]
    event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    response = module.handler(event, Context())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def exact_size_body(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes."""
    head, tail = b'{"title": "big", "message": "', b'"}'
    return head + b"m" * (size - len(head) - len(tail)) + tail


# --- size -----------------------------------------------------------------------------------------------------


def test_a_body_of_exactly_256_kib_is_stored_and_one_byte_more_is_413(api: Invoke, ingest_handler: ModuleType) -> None:
    integration = create(api, "formatted_webhook")
    at_limit = exact_size_body(MAX_BODY_BYTES)
    assert len(at_limit) == MAX_BODY_BYTES == 256 * 1024
    status, body = post_bytes(ingest_handler, integration["link"], at_limit, "application/json")
    assert status == 200, body
    [group] = groups(api, integration)
    [alert] = alerts(api, group["id"])
    assert alert["payload"] == json.loads(at_limit)  # stored whole, not truncated

    status, body = post_bytes(ingest_handler, integration["link"], exact_size_body(MAX_BODY_BYTES + 1), None)
    assert status == 413 and "too large" in body["detail"]
    assert len(groups(api, integration)) == 1


def test_a_multibyte_body_at_the_limit_is_stored(api: Invoke, ingest_handler: ModuleType) -> None:
    """256 KiB of 4-byte characters: the limit counts bytes, and the stored copy (UTF-8, not escaped) fits."""
    integration = create(api, "webhook")
    head, tail = b'{"message": "', b'"}'
    emoji = "\N{FIRE}".encode()
    count = (MAX_BODY_BYTES - len(head) - len(tail)) // len(emoji)
    body = head + emoji * count + tail
    status, answer = post_bytes(ingest_handler, integration["link"], body, "application/json")
    assert status == 200, answer
    [group] = groups(api, integration)
    assert alerts(api, group["id"])[0]["payload"]["message"] == "\N{FIRE}" * count


def test_a_body_that_grows_when_stored_is_refused_or_stored_never_a_5xx(
    api: Invoke, ingest_handler: ModuleType
) -> None:
    integration = create(api, "webhook")
    numbers = b"1E5," * ((MAX_BODY_BYTES - 20) // 4)
    body = b'{"values": [' + numbers.rstrip(b",") + b"]}"
    assert len(body) <= MAX_BODY_BYTES
    status, answer = post_bytes(ingest_handler, integration["link"], body, "application/json")
    assert status == 413 and "once stored" in answer["detail"], (status, answer)


# --- shape ----------------------------------------------------------------------------------------------------


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"n": value}
    return value


def test_deep_nesting_is_a_400_and_nesting_the_parser_accepts_is_stored(
    api: Invoke, ingest_handler: ModuleType
) -> None:
    integration = create(api, "webhook")
    too_deep = b"[" * 100_000 + b"]" * 100_000
    status, body = post_bytes(ingest_handler, integration["link"], too_deep, "application/json")
    assert status == 400 and "nested too deeply" in body["detail"]

    status, body = post_alert(ingest_handler, integration["link"], {"message": "depth 200", "x": nested(200)})
    assert status == 200, body
    [group] = groups(api, integration)
    assert alerts(api, group["id"])[0]["payload"]["x"] == nested(200)


def test_a_deeply_nested_payload_does_not_break_the_group_listing(api: Invoke, ingest_handler: ModuleType) -> None:
    """Deeper than 240 levels is refused at the door (real alerts are shallow), so what is stored can always be
    served: one alert must never break the listing of groups."""
    integration = create(api, "webhook")
    status, body = post_alert(ingest_handler, integration["link"], {"message": "depth 500", "x": nested(500)})
    assert status == 400 and "nested too deeply" in body["detail"]
    post_alert(ingest_handler, integration["link"], {"message": "shallow"})
    assert api("GET", "/api/v1/alert_groups/")[0] == 200
    assert len(groups(api, integration)) == 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"message": "caf\xe9"}', id="latin-1"),
        pytest.param(b'{"message": "\xff\xfe"}', id="invalid-bytes"),
        pytest.param(b'{"message": "\xed\xa0\x80"}', id="encoded-surrogate"),
        pytest.param(b"\xef\xbb\xbf\xff", id="bom-then-garbage"),
    ],
)
def test_invalid_utf8_is_a_400(api: Invoke, ingest_handler: ModuleType, body: bytes) -> None:
    integration = create(api, "webhook")
    status, answer = post_bytes(ingest_handler, integration["link"], body, "application/json")
    assert status == 400 and "UTF-8" in answer["detail"], answer
    assert groups(api, integration) == []


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="f"\r\n\r\n1\r\n--x--', 400),
        ("application/x-www-form-urlencoded", b"title=Disk+full&state=alerting", 200),
        ("text/plain", b'{"title": "JSON sent as text"}', 200),
        ("application/xml", b"<alert><title>x</title></alert>", 400),
        ("image/png", b"\x89PNG\r\n\x1a\n", 400),
        ("application/json; charset=utf-16", '{"title": "utf-16"}'.encode("utf-16"), 400),
        (None, b'{"title": "no content type"}', 200),
        ("", b'{"title": "empty content type"}', 200),
        ("application/json", b"", 400),
        ("application/json", b"null", 200),
        ("application/json", b'"just a string"', 200),
    ],
)
def test_content_types(
    api: Invoke, ingest_handler: ModuleType, content_type: str | None, body: bytes, expected: int
) -> None:
    integration = create(api, "webhook")
    status, answer = post_bytes(ingest_handler, integration["link"], body, content_type)
    assert status == expected, answer
    assert len(groups(api, integration)) == (1 if expected == 200 else 0)


def test_duplicated_keys_keep_the_last_value(api: Invoke, ingest_handler: ModuleType) -> None:
    integration = create(api, "formatted_webhook")
    body = b'{"alert_uid": "a", "title": "first", "title": "second", "state": "alerting", "state": "ok"}'
    status, answer = post_bytes(ingest_handler, integration["link"], body, "application/json")
    assert status == 200, answer
    [group] = groups(api, integration)
    assert group["title"] == "second"
    assert group["state"] == "resolved"  # the last "state" (ok) is the one the resolve template sees


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"message": "NaN", "value": float("nan"), "max": float("inf")}, id="nan-infinity"),
        pytest.param({"message": "big", "value": 10**4000}, id="int-4000-digits"),
        pytest.param({"message": "\u0000\u0001 control \u200b\u202e"}, id="control-characters"),
        pytest.param({"": "", " ": {"": []}}, id="empty-keys"),
    ],
)
def test_odd_but_valid_json_is_stored(api: Invoke, ingest_handler: ModuleType, payload: Any) -> None:
    integration = create(api, "webhook")
    status, answer = post_alert(ingest_handler, integration["link"], raw_body=json.dumps(payload))
    assert status == 200, answer
    assert len(groups(api, integration)) == 1


def test_an_integer_over_python_digit_limit_is_a_400(api: Invoke, ingest_handler: ModuleType) -> None:
    integration = create(api, "webhook")
    body = b'{"value": ' + b"9" * 5000 + b"}"
    status, answer = post_bytes(ingest_handler, integration["link"], body, "application/json")
    assert status == 400, answer


def test_a_lone_surrogate_escape_is_stored(api: Invoke, ingest_handler: ModuleType) -> None:
    """``"\\ud800"`` is valid JSON but no valid UTF-8: it must not break storage (DynamoDB wants UTF-8)."""
    integration = create(api, "webhook")
    status, answer = post_bytes(ingest_handler, integration["link"], b'{"message": "\\ud800 x"}', "application/json")
    assert status == 200, answer
    [group] = groups(api, integration)
    assert len(alerts(api, group["id"])) == 1


def test_thousands_of_alertmanager_labels(api: Invoke, ingest_handler: ModuleType) -> None:
    integration = create(api, "alertmanager")
    labels = {f"label_{i:04d}": f"value {i}" for i in range(2500)}
    labels["alertname"] = "ManyLabels"
    payload = {
        "status": "firing",
        "groupKey": '{}:{alertname="ManyLabels"}',
        "receiver": "tocsin",
        "version": "4",
        "groupLabels": labels,
        "commonLabels": labels,
        "commonAnnotations": {},
        "alerts": [{"status": "firing", "labels": labels, "annotations": {}, "generatorURL": "http://p/graph"}],
    }
    body = json.dumps(payload).encode()
    assert 100_000 < len(body) <= MAX_BODY_BYTES
    status, answer = post_bytes(ingest_handler, integration["link"], body, "application/json")
    assert status == 200, answer
    [group] = groups(api, integration)
    assert group["title"].startswith("[1 firing] ManyLabels label_0000=value 0")
    assert len(group["title"]) <= 502  # the title limit (500) and ".."
    status, _ = post_bytes(
        ingest_handler, integration["link"], json.dumps({**payload, "status": "resolved"}).encode(), None
    )
    assert status == 200
    assert groups(api, integration)[0]["state"] == "resolved"


# --- templates ------------------------------------------------------------------------------------------------

BOMBS = {  # each must end as a Template Error (or Warning): none may render, hang or crash
    "loop": "{% for a in payload.xs %}{% for b in payload.xs %}{% for c in payload.xs %}"
    "{% endfor %}{% endfor %}{% endfor %}",
    "busy": "{% set ns = namespace(n=0) %}{% for a in payload.xs %}{% for b in payload.xs %}"
    "{% for c in payload.xs %}{% set ns.n = ns.n + 1 %}{% endfor %}{% endfor %}{% endfor %}{{ ns.n }}",
    "multiply": "{{ 'a' * 10 ** 9 }}",
    "power": "{{ 9 ** 9999999 }}",
    "doubling": "{% set ns = namespace(x='ab') %}{% for i in payload.xs %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}",
    "recursion": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "regex": "{{ payload.text | regex_search('(a|aa)+$') }}",
    "escape": "{{ payload.__class__.__mro__[1].__subclasses__() }}",
    "range": "{% for i in range(10 ** 9) %}x{% endfor %}",
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_template_bombs_cost_their_budget_and_store_the_alert(
    api: Invoke, ingest_handler: ModuleType, name: str
) -> None:
    ingest_handler.service().sync_seconds = 0  # see the new templates at once
    integration = create(api, "formatted_webhook")
    bomb = BOMBS[name]
    templates = {"web": {"title": bomb, "message": bomb}, "grouping_key": bomb, "source_link": bomb}
    status, body = api("PUT", f"/api/v1/integrations/{integration['id']}/", {"templates": templates})
    assert status == 200, body

    payload = {"xs": list(range(300)), "text": "a" * 40 + "!", "title": "t", "state": "alerting"}
    for attempt in range(2):
        with thread_cpu() as spent:  # the budget's clock: CPU time, which a loaded machine does not stretch
            status, answer = post_alert(ingest_handler, integration["link"], payload)
        assert status == 200, (attempt, answer)
        # title, message, grouping key and source link may each spend the budget; never more
        assert spent() < 4 * RENDER_TIME_BUDGET + 0.5, (name, spent())
    # A grouping key that fails means "no grouping" (as in OnCall): each alert opens its own group.
    stored = groups(api, integration)
    assert len(stored) == 2
    for group in stored:
        assert group["title"].startswith(("Template Error: ", "Template Warning: ")), (name, group["title"])
        [alert] = alerts(api, group["id"])
        assert alert["payload"] == payload
