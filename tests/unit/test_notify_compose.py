"""What a person receives about an alert group: subject, e-mail bodies, SMS, Slack and generic webhook bodies."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

from oncall.notify import Notification, compose
from oncall.notify.compose import SLACK_TEXT_LIMIT, SMS_LIMIT

BASE = "https://abcdefghij.execute-api.eu-west-1.amazonaws.com"
ACK = f"{BASE}/actions/eyJhIjoiYWNrbm93bGVkZ2UiLCJnIjoiSUFCQ0RFRkdISktMTSIsImUiOjE3OTk5OTk5OTl9.c2lnbmF0dXJl"
RESOLVE = f"{BASE}/actions/eyJhIjoicmVzb2x2ZSIsImciOiJJQUJDREVGR0hKS0xNIiwiZSI6MTc5OTk5OTk5OX0.c2lnbmF0dXJl"
CONSOLE = f"{BASE}/alert_groups/IABCDEFGHJKLM"


def make(**overrides: Any) -> Notification:
    args: dict[str, Any] = {
        "group_title": "Disk full",
        "group_id": "IABCDEFGHJKLM",
        "integration_name": "Prometheus",
        "state": "firing",
        "alerts_count": 3,
        "message": "/var is at 99%",
        "source_link": "https://grafana.example/d/disk",
        "ack_url": ACK,
        "resolve_url": RESOLVE,
        "console_url": CONSOLE,
        "important": False,
    }
    return compose(**{**args, **overrides})


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [value or "" for name, value in attrs if tag == "a" and name == "href"]


def parse(markup: str) -> Links:
    parser = Links()
    parser.feed(markup)
    return parser


# --- subject --------------------------------------------------------------------------------------------------


def test_subject_names_the_product_importance_title_and_count() -> None:
    assert make(important=True).subject == "[Tocsin] [important] Disk full (3 alerts)"
    assert make().subject == "[Tocsin] Disk full (3 alerts)"
    assert make(alerts_count=1).subject == "[Tocsin] Disk full (1 alert)"


def test_subject_shows_a_state_other_than_firing() -> None:
    assert make(state="resolved", important=True).subject == "[Tocsin] [important] [resolved] Disk full (3 alerts)"


def test_subject_is_one_line_even_for_a_multi_line_title() -> None:
    subject = make(group_title="Disk full\r\non db-1\n\tand db-2").subject
    assert subject == "[Tocsin] Disk full on db-1 and db-2 (3 alerts)"


def test_an_untitled_group_is_named_by_its_id() -> None:
    assert make(group_title="  ").subject == "[Tocsin] Alert group IABCDEFGHJKLM (3 alerts)"


def test_a_very_long_title_is_shortened() -> None:
    subject = make(group_title="x" * 1000).subject
    assert len(subject) < 200
    assert subject.endswith("… (3 alerts)")


# --- plain text and HTML e-mail -------------------------------------------------------------------------------


def test_text_has_the_message_the_source_and_the_action_links() -> None:
    text = make().text
    assert "Disk full" in text
    assert "Prometheus · firing · 3 alerts" in text
    assert "/var is at 99%" in text
    assert "Source: https://grafana.example/d/disk" in text
    assert f"Acknowledge: {ACK}" in text
    assert f"Resolve: {RESOLVE}" in text
    assert f"Open in Tocsin: {CONSOLE}" in text
    assert "do not forward" in text


def test_text_leaves_out_what_is_missing() -> None:
    text = make(message=None, source_link=None, ack_url=None, resolve_url=None).text
    assert "Source" not in text
    assert "Acknowledge" not in text
    assert "forward" not in text  # no bearer links, nothing to warn about
    assert CONSOLE in text


def test_html_escapes_every_value() -> None:
    hostile = '<script>alert(1)</script> & "quotes"'
    markup = make(group_title=hostile, message=hostile, integration_name=hostile).html
    assert "<script>" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;" in markup
    assert "script" not in parse(markup).tags


def test_html_links_the_actions_and_the_source() -> None:
    hrefs = parse(make().html).hrefs
    assert hrefs == ["https://grafana.example/d/disk", ACK, RESOLVE, CONSOLE]


def test_html_does_not_link_a_source_that_is_not_a_web_address() -> None:
    markup = make(source_link="javascript:alert(document.cookie)").html
    assert "javascript:" not in parse(markup).hrefs
    assert "Source: javascript:alert(document.cookie)" in markup  # still shown, as text


def test_html_escapes_quotes_in_links() -> None:
    link = 'https://x.example/?q="><img/src=x/onerror=alert(1)>'
    markup = make(source_link=link).html
    assert "<img" not in markup
    assert parse(markup).hrefs[0] == link


def test_html_is_a_whole_document_with_a_language_and_a_title() -> None:
    markup = make().html
    assert markup.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in markup
    assert "<title>[Tocsin] Disk full (3 alerts)</title>" in markup


# --- SMS ------------------------------------------------------------------------------------------------------


def test_sms_has_the_title_and_the_whole_ack_link() -> None:
    sms = make(ack_url=f"{BASE}/actions/tok").sms
    assert sms == f"Tocsin: Disk full (3 alerts) Ack: {BASE}/actions/tok"
    assert len(sms) <= SMS_LIMIT


def test_sms_shortens_the_title_to_fit_one_message() -> None:
    sms = make(group_title="Disk full on the primary database of the billing cluster " * 3, ack_url=f"{BASE}/a/t").sms
    assert SMS_LIMIT - 2 <= len(sms) <= SMS_LIMIT
    assert sms.endswith(f"... (3 alerts) Ack: {BASE}/a/t")  # "…" is not in the GSM alphabet
    assert sms.isascii()


def test_sms_keeps_a_long_link_whole() -> None:
    sms = make(group_title="Disk full on the primary database of the billing cluster").sms
    assert sms.endswith(f"Ack: {ACK}")
    assert "Disk full on the prim" in sms


def test_sms_without_an_ack_link_points_to_the_group() -> None:
    assert make(ack_url=None, important=True).sms == f"Tocsin IMPORTANT: Disk full (3 alerts) {CONSOLE}"


# --- Slack ----------------------------------------------------------------------------------------------------


def test_slack_body_has_fallback_text_a_section_and_link_buttons() -> None:
    body = make().slack_json
    assert body["text"] == "[Tocsin] Disk full (3 alerts)"
    section, actions = body["blocks"]
    assert section["type"] == "section"
    assert section["text"]["type"] == "mrkdwn"
    assert section["text"]["text"].startswith(f"*<{CONSOLE}|Disk full>*\nPrometheus · firing · 3 alerts")
    assert "/var is at 99%" in section["text"]["text"]
    assert actions["type"] == "actions"
    buttons = {button["action_id"]: button for button in actions["elements"]}
    assert buttons["acknowledge"]["url"] == ACK
    assert buttons["acknowledge"]["text"] == {"type": "plain_text", "text": "Acknowledge"}
    assert buttons["resolve"]["url"] == RESOLVE
    assert buttons["open"]["url"] == CONSOLE
    assert all(button["type"] == "button" for button in buttons.values())


def test_slack_escapes_its_control_characters() -> None:
    text = make(group_title="a <b> & c", message="<!channel> & <@U123>").slack_json["blocks"][0]["text"]["text"]
    assert "a &lt;b&gt; &amp; c" in text
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in text  # no mass mention from an alert payload
    assert "<!channel>" not in text


def test_slack_has_no_actions_block_without_links() -> None:
    blocks = make(ack_url=None, resolve_url=None, console_url=None, source_link=None).slack_json["blocks"]
    assert [block["type"] for block in blocks] == ["section"]
    assert blocks[0]["text"]["text"].startswith("*Disk full*")


def test_slack_leaves_out_links_slack_would_reject() -> None:
    body = make(source_link="ftp://files.example/x", resolve_url="javascript:void(0)").slack_json
    assert "Source: ftp://files.example/x" in body["blocks"][0]["text"]["text"]
    assert [button["action_id"] for button in body["blocks"][1]["elements"]] == ["acknowledge", "open"]


def test_slack_section_stays_within_the_block_kit_limit() -> None:
    text = make(message="& " * 5000).slack_json["blocks"][0]["text"]["text"]
    assert len(text) <= SLACK_TEXT_LIMIT
    assert text.endswith("&amp; …") or text.endswith("&amp;…")  # never half an entity


# --- generic webhook ------------------------------------------------------------------------------------------


def test_webhook_body_describes_the_group_and_its_links() -> None:
    body = make(important=True).webhook_json
    assert body == {
        "event": {"type": "escalation", "important": True},
        "alert_group": {
            "id": "IABCDEFGHJKLM",
            "title": "Disk full",
            "state": "firing",
            "alerts_count": 3,
            "permalink": CONSOLE,
        },
        "integration": {"name": "Prometheus"},
        "message": "/var is at 99%",
        "source_link": "https://grafana.example/d/disk",
        "links": {"acknowledge": ACK, "resolve": RESOLVE, "console": CONSOLE},
    }
    assert json.loads(json.dumps(body)) == body
