"""Contract tests of the OnCall Terraform provider against the real API handler on DynamoDB Local (issue #17.3).

For every OnCall resource of grafana/terraform-provider-grafana: create, read back, update, read back, delete, with
the provider's exact request bodies (as its Go client library serialises them) and its way of reading the answers
(:mod:`tests.integration.terraform_provider`): every answer decodes into the client's structs, and the state the
provider's ``Read`` makes of it equals what was configured, so ``terraform plan`` shows no drift. The data sources'
look-ups answer too. Outgoing webhooks and phone-call notification rules have their own module.
"""

from __future__ import annotations

from typing import Any

from tests.integration import terraform_provider as tf
from tests.integration.conftest import Invoke

V1 = "/api/v1"


def _write(api: Invoke, method: str, path: str, body: dict[str, Any], go_type: tf.GoType) -> dict[str, Any]:
    status, answer = api(method, path, body)
    assert status == (201 if method == "POST" else 200), answer
    tf.decodes(answer, go_type)
    return answer


def _gone(api: Invoke, path: str) -> None:
    assert api("DELETE", path)[0] == 204
    assert api("GET", path)[0] == 404  # the provider then drops the resource from its state (WarnMissing)


def _chain(api: Invoke, name: str) -> str:
    return _write(api, "POST", f"{V1}/escalation_chains/", {"name": name, "team_id": ""}, tf.ESCALATION_CHAIN)["id"]


# --- grafana_oncall_integration -------------------------------------------------------------------------------------


def _integration_state(read: dict[str, Any]) -> dict[str, Any]:
    route = read["default_route"]
    return {
        "name": read["name"],
        "type": read["type"],
        "team_id": read["team_id"] or "",
        "templates": tf.templates_state(read["templates"]),
        "labels": tf.labels_state(read["labels"]),
        "dynamic_labels": tf.labels_state(read["dynamic_labels"]),
        "default_route": {
            "escalation_chain_id": route["escalation_chain_id"],
            **tf.route_messengers_state(route, {"slack", "telegram", "msteams"}),
        },
    }


def test_integration(api: Invoke) -> None:
    first, second = _chain(api, "Integration first"), _chain(api, "Integration second")
    templates = {
        "grouping_key": "{{ payload.group_id }}",
        "resolve_signal": '{{ payload.state == "OK" }}',
        "acknowledge_signal": None,
        "source_link": None,
        "slack": {"title": "Slack {{ payload.title }}", "message": None, "image_url": None},
        "web": {"title": "Web {{ payload.title }}", "message": "{{ payload.message }}", "image_url": None},
        "msteams": {"title": "Teams", "message": "{{ payload.message }}", "image_url": "https://img.example.com/a"},
        "telegram": {"title": None, "message": "Telegram {{ payload.message }}", "image_url": None},
        "phone_call": {"title": "Call {{ payload.title }}"},
        "sms": {"title": "SMS {{ payload.title }}"},
        "email": {"title": "Mail {{ payload.title }}", "message": "{{ payload.message }}"},
        "mobile_app": {"title": "App", "message": None},
    }
    create = {
        "team_id": "",
        "name": "Terraform integration",
        "type": "webhook",
        "templates": templates,
        "default_route": {
            "id": "",
            "escalation_chain_id": first,
            "slack": {"channel_id": "C0SLACK", "enabled": True},
            "telegram": {"id": "TG1", "enabled": False},
            "msteams": {"id": "MS1", "enabled": True},
        },
        "labels": [
            {"key": {"name": "team"}, "value": {"name": "databases"}},
            {"key": {"name": "tier"}, "value": {"name": "1"}},
        ],
        "dynamic_labels": [{"key": {"name": "severity"}, "value": {"name": "{{ payload.severity }}"}}],
    }
    created = _write(api, "POST", f"{V1}/integrations/", create, tf.INTEGRATION)
    path = f"{V1}/integrations/{created['id']}/"
    expected_templates = [
        {
            "grouping_key": "{{ payload.group_id }}",
            "resolve_signal": '{{ payload.state == "OK" }}',
            "slack": [{"title": "Slack {{ payload.title }}"}],
            "web": [{"title": "Web {{ payload.title }}", "message": "{{ payload.message }}"}],
            "microsoft_teams": [
                {"title": "Teams", "message": "{{ payload.message }}", "image_url": "https://img.example.com/a"}
            ],
            "telegram": [{"message": "Telegram {{ payload.message }}"}],
            "email": [{"title": "Mail {{ payload.title }}", "message": "{{ payload.message }}"}],
            "phone_call": [{"title": "Call {{ payload.title }}"}],
            "sms": [{"title": "SMS {{ payload.title }}"}],
            "mobile_app": [{"title": "App"}],
        }
    ]
    assert _integration_state(tf.read(api, path, tf.INTEGRATION)) == {
        "name": "Terraform integration",
        "type": "webhook",
        "team_id": "",
        "templates": expected_templates,
        "labels": [{"key": "team", "value": "databases"}, {"key": "tier", "value": "1"}],
        "dynamic_labels": [{"key": "severity", "value": "{{ payload.severity }}"}],
        "default_route": {
            "escalation_chain_id": first,
            "slack": [{"channel_id": "C0SLACK", "enabled": True}],
            "telegram": [{"id": "TG1", "enabled": False}],
            "msteams": [{"id": "MS1", "enabled": True}],
        },
    }
    assert created["link"]  # the provider keeps the ingest URL from the create answer (Computed)

    update = {
        "name": "Terraform integration (renamed)",
        "team_id": "",
        "templates": {
            **templates,
            "sms": None,
            "slack": {"title": None, "message": "Only a message", "image_url": None},
        },
        "default_route": {
            "id": created["default_route"]["id"],
            "escalation_chain_id": second,
            "slack": {"channel_id": None, "enabled": False},
            "telegram": {"id": "TG2", "enabled": True},
            "msteams": {"id": None, "enabled": False},
        },
        "labels": [{"key": {"name": "team"}, "value": {"name": "web"}}],
    }
    _write(api, "PUT", path, update, tf.INTEGRATION)
    state = _integration_state(tf.read(api, path, tf.INTEGRATION))
    assert state["name"] == "Terraform integration (renamed)" and state["type"] == "webhook"
    assert state["templates"] == [
        {
            **{k: v for k, v in expected_templates[0].items() if k != "sms"},
            "slack": [{"message": "Only a message"}],
        }
    ]
    assert state["labels"] == [{"key": "team", "value": "web"}]
    assert state["dynamic_labels"] == [{"key": "severity", "value": "{{ payload.severity }}"}]  # not in the update
    assert state["default_route"] == {
        "escalation_chain_id": second,
        "slack": [{"channel_id": None, "enabled": False}],
        "telegram": [{"id": "TG2", "enabled": True}],
        "msteams": [{"id": None, "enabled": False}],
    }
    listed = tf.read(api, f"{V1}/integrations/?name=Terraform%20integration%20(renamed)", tf.page_of(tf.INTEGRATION))
    assert [i["id"] for i in listed["results"]] == [created["id"]]  # the integration data source's look-up
    _gone(api, path)


# --- grafana_oncall_route -------------------------------------------------------------------------------------------


def _route_state(read: dict[str, Any], configured: set[str]) -> dict[str, Any]:
    return {
        "integration_id": read["integration_id"],
        "escalation_chain_id": read["escalation_chain_id"] or "",
        "routing_type": read["routing_type"],
        "routing_regex": read["routing_regex"],
        "position": read["position"],
        **tf.route_messengers_state(read, configured),
    }


def test_routes(api: Invoke) -> None:
    chain = _chain(api, "Routes")
    integration = _write(
        api, "POST", f"{V1}/integrations/", {"team_id": "", "name": "Routed", "type": "webhook"}, tf.INTEGRATION
    )
    routes = []
    for position, (kind, term) in enumerate(
        (("regex", "database"), ("jinja2", '{{ payload.severity == "critical" }}'))
    ):
        create = {
            "integration_id": integration["id"],
            "escalation_chain_id": chain,
            "position": position,
            "routing_regex": term,
            "routing_type": kind,
            "slack": {"channel_id": "C0ROUTE", "enabled": True},
            "telegram": {"id": None, "enabled": False},
            "msteams": {"id": "MS-ROUTE", "enabled": True},
            "manual_order": True,
        }
        routes.append(_write(api, "POST", f"{V1}/routes/", create, tf.ROUTE)["id"])
        assert _route_state(tf.read(api, f"{V1}/routes/{routes[-1]}/", tf.ROUTE), {"slack", "msteams"}) == {
            "integration_id": integration["id"],
            "escalation_chain_id": chain,
            "routing_type": kind,
            "routing_regex": term,
            "position": position,
            "slack": [{"channel_id": "C0ROUTE", "enabled": True}],
            "msteams": [{"id": "MS-ROUTE", "enabled": True}],
        }

    # Terraform swaps positions (manual_order), updating both routes: the result does not depend on their order
    for route, position in ((routes[1], 0), (routes[0], 1)):
        update = {
            "escalation_chain_id": chain,
            "position": position,
            "routing_regex": "database" if route == routes[0] else '{{ payload.severity == "critical" }}',
            "routing_type": "regex" if route == routes[0] else "jinja2",
            "slack": {"channel_id": None, "enabled": False},
            "telegram": {"id": "TG-ROUTE", "enabled": True},
            "msteams": {"id": "MS-ROUTE", "enabled": True},
            "manual_order": True,
        }
        _write(api, "PUT", f"{V1}/routes/{route}/", update, tf.ROUTE)
    first = _route_state(tf.read(api, f"{V1}/routes/{routes[0]}/", tf.ROUTE), {"slack", "telegram", "msteams"})
    assert first == {
        "integration_id": integration["id"],
        "escalation_chain_id": chain,
        "routing_type": "regex",
        "routing_regex": "database",
        "position": 1,
        "slack": [{"channel_id": None, "enabled": False}],
        "telegram": [{"id": "TG-ROUTE", "enabled": True}],
        "msteams": [{"id": "MS-ROUTE", "enabled": True}],
    }
    assert tf.read(api, f"{V1}/routes/{routes[1]}/", tf.ROUTE)["position"] == 0
    listed = tf.read(api, f"{V1}/routes/?integration_id={integration['id']}", tf.page_of(tf.ROUTE))
    assert [r["id"] for r in listed["results"] if not r["is_the_last_route"]] == [routes[1], routes[0]]
    for route in routes:
        _gone(api, f"{V1}/routes/{route}/")


# --- grafana_oncall_escalation_chain and grafana_oncall_escalation --------------------------------------------------


def test_escalation_chain_and_escalations(api: Invoke) -> None:
    created = _write(api, "POST", f"{V1}/escalation_chains/", {"name": "TF chain", "team_id": ""}, tf.ESCALATION_CHAIN)
    chain = created["id"]
    assert tf.read(api, f"{V1}/escalation_chains/{chain}/", tf.ESCALATION_CHAIN) == {**created, "name": "TF chain"}
    _write(api, "PUT", f"{V1}/escalation_chains/{chain}/", {"name": "TF chain 2", "team_id": ""}, tf.ESCALATION_CHAIN)
    assert tf.read(api, f"{V1}/escalation_chains/{chain}/", tf.ESCALATION_CHAIN)["name"] == "TF chain 2"
    found = tf.read(api, f"{V1}/escalation_chains/?name=TF%20chain%202", tf.page_of(tf.ESCALATION_CHAIN))
    assert [c["id"] for c in found["results"]] == [chain]  # the escalation chain data source's look-up

    schedule = api("POST", f"{V1}/schedules/", {"name": "Escalated", "type": "calendar", "time_zone": "UTC"})[1]["id"]
    user = "UADMIN"
    # (configuration, what the provider's Read puts in state): the provider sends `important` with every step and
    # `persons_to_notify` for both person steps (OnCall keeps one list of persons for them)
    window = {"notify_if_time_from": "09:00:00Z", "notify_if_time_to": "18:00:00Z"}
    steps: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"type": "wait", "duration": 300}, {"duration": 300}),
        ({"type": "notify_persons", "persons_to_notify": [user]}, {"persons_to_notify": [user], "important": True}),
        (
            {"type": "notify_person_next_each_time", "persons_to_notify": [user]},
            {"persons_to_notify_next_each_time": [user], "important": True},
        ),
        (
            {"type": "notify_on_call_from_schedule", "notify_on_call_from_schedule": schedule},
            {"notify_on_call_from_schedule": schedule, "important": True},
        ),
        ({"type": "notify_if_time_from_to", **window}, window),
        ({"type": "resolve"}, {}),
    ]
    created_steps = []
    for position, (config, state) in enumerate(steps):
        body = {"escalation_chain_id": chain, "position": position, "manual_order": True, "important": True, **config}
        step = _write(api, "POST", f"{V1}/escalation_policies/", body, tf.ESCALATION)
        read = tf.read(api, f"{V1}/escalation_policies/{step['id']}/", tf.ESCALATION)
        assert read["type"] == config["type"] and read["position"] == position
        provider_state = {k: v for k, v in read.items() if k not in ("id", "escalation_chain_id", "position", "type")}
        # a field the step type does not use is not returned, so the provider keeps the configured value: no drift
        assert provider_state == state or provider_state == {**state, "important": True}, (config, read)
        created_steps.append(step["id"])

    wait, queue = created_steps[0], created_steps[2]
    update = {"position": 0, "type": "wait", "duration": 600, "manual_order": True, "important": False}
    _write(api, "PUT", f"{V1}/escalation_policies/{wait}/", update, tf.ESCALATION)
    assert tf.read(api, f"{V1}/escalation_policies/{wait}/", tf.ESCALATION)["duration"] == 600
    other = api("POST", f"{V1}/users/", {"username": "tf-queue"})[1]["id"]
    update = {"position": 2, "type": "notify_person_next_each_time", "persons_to_notify": [user, other]}
    _write(
        api,
        "PUT",
        f"{V1}/escalation_policies/{queue}/",
        {**update, "manual_order": True, "important": True},
        tf.ESCALATION,
    )
    read = tf.read(api, f"{V1}/escalation_policies/{queue}/", tf.ESCALATION)
    assert read["persons_to_notify_next_each_time"] == [user, other]
    listed = tf.read(api, f"{V1}/escalation_policies/?escalation_chain_id={chain}", tf.page_of(tf.ESCALATION))
    assert [s["id"] for s in listed["results"]] == created_steps
    for step in created_steps:
        _gone(api, f"{V1}/escalation_policies/{step}/")
    _gone(api, f"{V1}/escalation_chains/{chain}/")


# --- grafana_oncall_schedule and grafana_oncall_on_call_shift -------------------------------------------------------


def _shift_state(read: dict[str, Any]) -> dict[str, Any]:
    """resourceOnCallShiftRead; an Optional int of the SDK (level, start_rotation_from_user_index) reads 0 as unset."""
    read = {**read, "start_rotation_from_user_index": read.get("start_rotation_from_user_index") or None}
    names = ("team_id", "name", "type", "level", "start", "until", "duration", "frequency", "week_start", "interval")
    more = (
        "users",
        "rolling_users",
        "by_day",
        "by_month",
        "by_monthday",
        "time_zone",
        "start_rotation_from_user_index",
    )
    return {name: read.get(name) for name in names + more}


def test_schedule_and_on_call_shifts(api: Invoke) -> None:
    alice = api("POST", f"{V1}/users/", {"username": "tf-alice", "email": "alice@example.com"})[1]["id"]
    bob = api("POST", f"{V1}/users/", {"username": "tf-bob", "email": "bob@example.com"})[1]["id"]
    rotation = {
        "team_id": "",
        "type": "rolling_users",
        "name": "Weekdays",
        "level": 1,
        "start": "2026-01-05T09:00:00",
        "duration": 28800,
        "until": None,
        "frequency": "weekly",
        "users": None,
        "interval": 1,
        "week_start": "MO",
        "by_day": ["MO", "TU", "WE", "TH", "FR"],
        "by_month": None,
        "by_monthday": None,
        "source": 3,
        "rolling_users": [[alice], [bob]],
        "time_zone": "Europe/Berlin",
        "start_rotation_from_user_index": None,
    }
    shift = _write(api, "POST", f"{V1}/on_call_shifts/", rotation, tf.SHIFT)["id"]
    expected = {k: v for k, v in rotation.items() if k != "source"}
    state = _shift_state(tf.read(api, f"{V1}/on_call_shifts/{shift}/", tf.SHIFT))
    assert state == {**expected, "team_id": None, "by_month": state["by_month"], "by_monthday": state["by_monthday"]}
    assert not state["by_month"] and not state["by_monthday"]  # none configured: [] or null is no change in a set
    single = {
        "team_id": "",
        "type": "single_event",
        "name": "Maintenance night",
        "level": 0,
        "start": "2026-02-01T22:00:00",
        "duration": 21600,
        "until": None,
        "frequency": None,
        "users": [alice],
        "interval": None,
        "by_day": None,
        "by_month": None,
        "by_monthday": None,
        "source": 3,
        "rolling_users": None,
        "time_zone": None,
        "start_rotation_from_user_index": None,
    }
    event = _write(api, "POST", f"{V1}/on_call_shifts/", single, tf.SHIFT)["id"]
    read = tf.read(api, f"{V1}/on_call_shifts/{event}/", tf.SHIFT)
    assert (read["type"], read["start"], read["duration"], read["users"]) == (
        "single_event",
        "2026-02-01T22:00:00",
        21600,
        [alice],
    )

    create = {
        "team_id": "",
        "name": "TF schedule",
        "type": "calendar",
        "ical_url_primary": None,
        "ical_url_overrides": None,
        "enable_web_overrides": True,
        "time_zone": "Europe/Berlin",
        "slack": {"channel_id": "C0SCHED", "user_group_id": "S0GROUP"},
        "shifts": [shift, event],
    }
    schedule = _write(api, "POST", f"{V1}/schedules/", create, tf.SCHEDULE)["id"]
    read = tf.read(api, f"{V1}/schedules/{schedule}/", tf.SCHEDULE)
    assert (read["name"], read["type"], read["time_zone"], read["enable_web_overrides"]) == (
        "TF schedule",
        "calendar",
        "Europe/Berlin",
        True,
    )
    assert read["slack"] == {"channel_id": "C0SCHED", "user_group_id": "S0GROUP"}
    assert sorted(read["shifts"]) == sorted([shift, event]) and read["team_id"] is None

    update = {**create, "name": "TF schedule 2", "enable_web_overrides": False, "shifts": [shift]}
    del update["slack"]  # omitempty: a schedule without a slack block sends none
    _write(api, "PUT", f"{V1}/schedules/{schedule}/", update, tf.SCHEDULE)
    read = tf.read(api, f"{V1}/schedules/{schedule}/", tf.SCHEDULE)
    assert (read["name"], read["enable_web_overrides"], read["shifts"]) == ("TF schedule 2", False, [shift])
    found = tf.read(api, f"{V1}/schedules/?name=TF%20schedule%202", tf.page_of(tf.SCHEDULE))
    assert [s["id"] for s in found["results"]] == [schedule]  # the schedule data source's look-up

    changed = {**rotation, "name": "Weekdays (late)", "start": "2026-01-05T10:00:00", "until": "2026-12-31T23:59:59"}
    _write(api, "PUT", f"{V1}/on_call_shifts/{shift}/", changed, tf.SHIFT)
    state = _shift_state(tf.read(api, f"{V1}/on_call_shifts/{shift}/", tf.SHIFT))
    assert (state["name"], state["start"], state["until"]) == (
        "Weekdays (late)",
        "2026-01-05T10:00:00",
        "2026-12-31T23:59:59",
    )
    assert state["rolling_users"] == [[alice], [bob]] and state["by_day"] == ["MO", "TU", "WE", "TH", "FR"]
    for path in (f"on_call_shifts/{shift}", f"on_call_shifts/{event}", f"schedules/{schedule}"):
        _gone(api, f"{V1}/{path}/")


# --- grafana_oncall_user_notification_rule --------------------------------------------------------------------------


def test_user_notification_rules(api: Invoke) -> None:
    rules = []
    for position, (kind, duration, important) in enumerate(
        (("notify_by_email", None, False), ("wait", 300, False), ("notify_by_sms", None, True))
    ):
        body: dict[str, Any] = {
            "user_id": "UADMIN",
            "type": kind,
            "manual_order": True,
            "position": position if not important else 0,
        }
        if duration:
            body["duration"] = duration
        if important:
            body["important"] = True  # omitempty: only sent when true
        rule = _write(api, "POST", f"{V1}/personal_notification_rules/", body, tf.NOTIFICATION_RULE)
        read = tf.read(api, f"{V1}/personal_notification_rules/{rule['id']}/", tf.NOTIFICATION_RULE)
        # readFromID: a duration of 0 (or null) is no duration
        assert (read["user_id"], read["type"], read["important"], read.get("duration") or None) == (
            "UADMIN",
            kind,
            important,
            duration,
        )
        rules.append(rule["id"])
    wait = rules[1]
    update = {"type": "wait", "duration": 900, "position": 1, "manual_order": True}
    _write(api, "PUT", f"{V1}/personal_notification_rules/{wait}/", update, tf.NOTIFICATION_RULE)
    read = tf.read(api, f"{V1}/personal_notification_rules/{wait}/", tf.NOTIFICATION_RULE)
    assert (read["type"], read["duration"], read["position"]) == ("wait", 900, 1)
    for rule in rules:
        _gone(api, f"{V1}/personal_notification_rules/{rule}/")


# --- data sources ---------------------------------------------------------------------------------------------------


def test_data_sources_answer(api: Invoke) -> None:
    team = api("POST", f"{V1}/teams/", {"name": "TF team", "email": "team@example.com"})[1]
    found = tf.read(api, f"{V1}/teams/?name=TF%20team", tf.page_of(tf.TEAM))
    assert [t["id"] for t in found["results"]] == [team["id"]]
    user = api("POST", f"{V1}/users/", {"username": "tf-user", "email": "tf@example.com"})[1]
    found = tf.read(api, f"{V1}/users/?username=tf-user", tf.page_of(tf.USER))
    assert [(u["id"], u["email"], u["role"]) for u in found["results"]] == [(user["id"], "tf@example.com", "editor")]
    everyone = tf.read(api, f"{V1}/users/", tf.page_of(tf.USER))  # grafana_oncall_users
    assert {u["username"] for u in everyone["results"]} >= {"tf-user"}
    # Tocsin has no Slack: the look-ups answer, with nothing found (the provider then reports it clearly)
    assert tf.read(api, f"{V1}/slack_channels/?channel_name=alerts", tf.page_of(tf.SLACK_CHANNEL))["results"] == []
    assert tf.read(api, f"{V1}/user_groups/?slack_handle=sre", tf.page_of(tf.USER_GROUP))["results"] == []
    assert tf.read(api, f"{V1}/slack_channels/", tf.page_of(tf.SLACK_CHANNEL))["count"] == 0


def test_the_deprecated_actions_list_outgoing_webhooks(api: Invoke) -> None:
    """grafana_oncall_action (older providers): ``GET /actions/?name=`` finds an outgoing webhook's id."""
    hook = api("POST", f"{V1}/webhooks/", {"name": "Ticketing", "url": "https://tickets.example.com/hook"})[1]
    found = tf.read(api, f"{V1}/actions/?name=Ticketing", tf.page_of({"id": str, "name": str, "team_id": str}))
    assert [(a["id"], a["name"]) for a in found["results"]] == [(hook["id"], "Ticketing")]
    assert tf.read(api, f"{V1}/actions/?name=nothing", tf.page_of({"id": str}))["results"] == []
