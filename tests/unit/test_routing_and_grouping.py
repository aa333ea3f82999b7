"""Route selection and grouping keys: the cases OnCall users rely on."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from oncall import grouping, integration_types, templating
from oncall.models import Integration, LabelMatch, Route, Templates
from oncall.routing import select_route, validate_routing_term

EXAMPLES = Path(__file__).resolve().parents[2] / "layers/core/python/oncall/examples"


def integration(kind: str = "webhook", **templates: str) -> Integration:
    return Integration(
        id="C1", name="Test", type=kind, token_hash="h", templates=Templates(**templates), created_at=datetime.now(UTC)
    )


def route(
    rid: str,
    term: str | None = None,
    kind: str = "regex",
    labels: list[tuple[str, str]] = (),
    position: int = 0,
    default: bool = False,
) -> Route:
    return Route(
        id=rid,
        integration_id="C1",
        routing_type=kind,
        routing_regex=term,
        position=position,
        is_default=default,
        routing_labels=[LabelMatch(key=k, value=v) for k, v in labels],
    )


DEFAULT = route("default", default=True)


def test_regex_routes_match_the_json_dumped_payload() -> None:
    routes = [route("r1", "test alert"), DEFAULT]
    assert select_route(routes, {"title": "test alert"}, {}).id == "r1"
    assert select_route(routes, {"title": "other"}, {}).id == "default"


def test_regex_sees_python_json_dumps_formatting() -> None:
    # OnCall users write filters against `"key": "value"` with a space after the colon.
    routes = [route("r1", '"severity": "critical"'), DEFAULT]
    assert select_route(routes, {"severity": "critical"}, {}).id == "r1"


def test_first_matching_route_wins_in_order() -> None:
    routes = [route("a", "db", position=0), route("b", "db", position=1), DEFAULT]
    assert select_route(routes, {"m": "db"}, {}).id == "a"


def test_invalid_regex_never_matches() -> None:
    assert select_route([route("bad", "("), DEFAULT], {"m": "("}, {}).id == "default"


def test_catastrophic_route_regex_gives_up_instead_of_hanging() -> None:
    routes = [route("evil", "(a+)+$"), DEFAULT]
    assert select_route(routes, {"m": "a" * 40 + "!"}, {}).id == "default"


@pytest.mark.parametrize(("payload", "expected"), [({"foo": "bar"}, "j"), ({"foo": "baz"}, "default"), ({}, "default")])
def test_jinja_routes(payload: dict[str, Any], expected: str) -> None:
    routes = [route("j", '{{ payload.foo == "bar" }}', kind="jinja2"), DEFAULT]
    assert select_route(routes, payload, {}).id == expected


@pytest.mark.parametrize(
    ("labels", "alert_labels", "matches"),
    [
        ([("a", "b")], {"a": "b"}, True),
        ([("a", "b")], {"a": "b", "c": "d"}, True),
        ([("a", "b"), ("c", "d")], {"a": "b"}, False),
        ([("a", "b")], {"a": "x"}, False),
        ([("a", "b")], {}, False),
        ([], {"a": "b"}, False),  # an empty label filter never matches
    ],
)
def test_label_routes_need_every_pair(
    labels: list[tuple[str, str]], alert_labels: dict[str, str], matches: bool
) -> None:
    routes = [route("l", kind="labels", labels=labels), DEFAULT]
    assert (select_route(routes, {}, alert_labels).id == "l") is matches


def test_jinja_routes_see_labels() -> None:
    routes = [route("j", '{{ labels.severity == "critical" }}', kind="jinja2"), DEFAULT]
    assert select_route(routes, {}, {"severity": "critical"}).id == "j"


def test_routing_term_validation_messages() -> None:
    assert validate_routing_term("regex", "x" * 1025) == "Expression is too long"
    assert validate_routing_term("regex", "ok.*") is None
    assert validate_routing_term("regex", None) == "This field is required."
    assert "Template Error" in (validate_routing_term("jinja2", "{{ payload.") or "")


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def test_alertmanager_example_groups_by_group_key() -> None:
    payload = json.loads((EXAMPLES / "alertmanager.json").read_text())
    signals = grouping.signals(integration("alertmanager"), payload, {})
    assert signals.distinction == "e0e673edf66d25e9e8f8acc90f1585ca" == md5('{}:{alertname="InstanceDown"}')
    assert not signals.is_resolve and not signals.is_acknowledge
    assert grouping.signals(integration("alertmanager"), payload | {"status": "resolved"}, {}).is_resolve


def test_per_alert_grouping_uses_the_alertname() -> None:
    signals = grouping.signals(integration("grafana"), {"labels": {"alertname": "KubeJobCompletion"}}, {})
    assert signals.distinction == "c6bf5494a2d3052459b4dac837e41455"


def test_webhook_groups_heartbeats_by_alert_uid_and_everything_else_by_the_whole_payload() -> None:
    hook = integration("webhook")
    beat = {"alert_uid": "7973c835", "is_oncall_heartbeat": True, "state": "alerting"}
    restored = beat | {"state": "ok"}
    assert grouping.signals(hook, beat, {}).distinction == grouping.signals(hook, restored, {}).distinction
    assert grouping.signals(hook, restored, {}).is_resolve
    a = grouping.signals(hook, {"message": "a"}, {}).distinction
    assert a == grouping.signals(hook, {"message": "a"}, {}).distinction
    assert a != grouping.signals(hook, {"message": "b"}, {}).distinction


def test_empty_or_failing_grouping_and_demo_alerts_never_group() -> None:
    elast = integration("elastalert")
    assert grouping.signals(elast, {}, {}).distinction != grouping.signals(elast, {}, {}).distinction
    broken = integration("webhook", grouping_id="{{ payload.a.b.c }}")
    assert grouping.signals(broken, {}, {}).distinction != grouping.signals(broken, {}, {}).distinction
    am = integration("alertmanager")
    payload = {"groupKey": "k"}
    assert grouping.signals(am, payload, {}, is_demo=True).distinction != grouping.signals(am, payload, {}).distinction


def test_template_override_replaces_the_default_and_empty_means_default() -> None:
    custom = integration("alertmanager", grouping_id="{{ payload.x }}")
    assert grouping.signals(custom, {"x": "KubeJobCompletion"}, {}).distinction == md5("KubeJobCompletion")
    emptied = integration("alertmanager", grouping_id="")
    assert grouping.signals(emptied, {"groupKey": "g"}, {}).distinction == md5("g")


def test_labels_static_then_templated_at_most_fifteen() -> None:
    integ = replace(
        integration(),
        static_labels={f"s{i}": "v" for i in range(10)},
        label_templates={f"t{i}": "{{ payload.sev }}" for i in range(10)} | {"empty": "{{ payload.none }}"},
    )
    labels = grouping.alert_labels(integ, {"sev": "high"})
    assert len(labels) == 15 and labels["s0"] == "v" and labels["t0"] == "high"


def test_legacy_label_hash_ignores_ends_at() -> None:
    a = {"labels": {"alertname": "A", "x": "1"}, "endsAt": "0001-01-01T00:00:00Z", "status": "firing"}
    b = a | {"endsAt": "2024-01-01T00:00:00Z", "status": "resolved"}
    assert grouping.label_set_hash(a) == grouping.label_set_hash(b)


@pytest.mark.parametrize("kind", sorted(integration_types.TYPES))
def test_every_default_template_compiles(kind: str) -> None:
    for name in integration_types.TEMPLATE_NAMES:
        template = integration_types.TYPES[kind].default(name)
        if template:
            templating.validate(template)


@pytest.mark.parametrize("kind", sorted(integration_types.TYPES))
def test_demo_types_have_an_example_payload_and_render_a_title(kind: str) -> None:
    example = integration_types.example_payload(kind)
    if not integration_types.TYPES[kind].demo_enabled:
        assert example is None
        return
    assert isinstance(example, dict) and example
    title = integration_types.TYPES[kind].default("title")
    assert title and templating.render(title, payload=example).strip()
    assert not templating.render(title, payload=example).startswith("Template")
