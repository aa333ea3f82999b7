"""Inbound e-mail without storage: MIME parsing, HTML to text, recipient tokens, verdicts and the use case's
decisions (with a fake ingest service)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from oncall.inbound_email import (
    MAX_MESSAGE_CHARS,
    TRUNCATED,
    ParsedMail,
    address,
    html_to_text,
    parse,
    receive,
    rejected_by,
    token_from_recipients,
)
from oncall.ingest import IngestError, Outcome, RateLimited, Stored, UnknownToken
from oncall.ports import StoreError
from oncall.settings import Env

from tests.support.mail import compose

DOMAIN = "inbound.example.com"

# What Alertmanager 0.25's default email template sends (email.tmpl, trimmed): an HTML-only multipart/alternative
# with a layout table, a CSS block, a title, entities, <strong> and links.
ALERTMANAGER_HTML = """\
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta name="viewport" content="width=device-width" />
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<title>[FIRING:1] HighLatency api (warning)</title>
<style>
body { font-family: "Helvetica Neue", Helvetica, Arial, sans-serif; font-size: 14px; }
.alert.alert-warning { background-color: #E6522C; }
a.btn-primary { color: #FFF; }
</style>
</head>
<body itemscope itemtype="http://schema.org/EmailMessage">
<table class="body-wrap">
  <tr>
    <td></td>
    <td class="container" width="600">
      <div class="content">
        <table class="main" width="100%" cellpadding="0" cellspacing="0">
          <tr>
            <td class="alert alert-warning">
              1 alert for alertname=HighLatency service=api
            </td>
          </tr>
          <tr>
            <td class="content-wrap">
              <table width="100%" cellpadding="0" cellspacing="0">
                <tr>
                  <td class="content-block">
                    <a href="http://am.example:9093/#/alerts?receiver=ops" class="btn-primary">View in Alertmanager</a>
                  </td>
                </tr>
                <tr>
                  <td class="content-block">
                    <strong>[1] Firing</strong>
                  </td>
                </tr>
                <tr>
                  <td class="content-block">
                    <strong>Labels</strong><br />
                    alertname = HighLatency<br />
                    instance = api-1:8080<br />
                    severity = warning<br />
                    <strong>Annotations</strong><br />
                    summary = p99 latency above 500&nbsp;ms &amp; rising<br />
                    <a href="http://prom.example:9090/graph?g0.expr=latency_p99+%3E+0.5&amp;g0.tab=1">Source</a><br />
                  </td>
                </tr>
              </table>
            </td>
          </tr>
        </table>
        <div class="footer">
          <table width="100%">
            <tr>
              <td class="aligncenter content-block"><a href='http://am.example:9093'>Sent by Alertmanager</a></td>
            </tr>
          </table>
        </div>
      </div>
    </td>
    <td></td>
  </tr>
</table>
</body>
</html>
"""
# As OnCall's converter makes it: the title first, every line stripped, blank lines dropped, &nbsp; kept.
ALERTMANAGER_TEXT = """\
[FIRING:1] HighLatency api (warning)
1 alert for alertname=HighLatency service=api
View in Alertmanager (http://am.example:9093/#/alerts?receiver=ops)
[1] Firing
Labels
alertname = HighLatency
instance = api-1:8080
severity = warning
Annotations
summary = p99 latency above 500\xa0ms & rising
Source (http://prom.example:9090/graph?g0.expr=latency_p99+%3E+0.5&g0.tab=1)
Sent by Alertmanager (http://am.example:9093)"""


def mail(
    subject: str = "Disk full on db-1",
    text: str | None = "/var is at 99%\n",
    html: str | None = None,
    sender: str = "Monitor <monitor@example.org>",
) -> EmailMessage:
    return compose(sender, f"tok@{DOMAIN}", subject, text, html)


# --- parse ----------------------------------------------------------------------------------------------------


def test_plain_text_mail() -> None:
    parsed = parse(mail(subject="  Disk full on db-1  ", text="\n  /var is at 99%  \n\n").as_bytes())
    assert parsed == ParsedMail(subject="Disk full on db-1", message="/var is at 99%", sender="monitor@example.org")
    assert parsed.payload() == {
        "subject": "Disk full on db-1",
        "message": "/var is at 99%",
        "sender": "monitor@example.org",
    }


def test_alertmanager_html_only_mail_becomes_readable_text() -> None:
    """Alertmanager's email notifier: multipart/alternative with a single text/html part, quoted-printable."""
    headers = (
        b"From: alertmanager@example.org\r\n"
        b"To: Tok3n+db@inbound.example.com\r\n"
        b"Subject: [FIRING:1] HighLatency api (warning)\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="b7c3"\r\n'
        b"\r\n"
        b"--b7c3\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n"
        b"Content-Type: text/html; charset=UTF-8\r\n"
        b"\r\n"
    )
    raw = headers + _quoted_printable(ALERTMANAGER_HTML) + b"\r\n--b7c3--\r\n"
    parsed = parse(raw)
    assert parsed.subject == "[FIRING:1] HighLatency api (warning)"
    assert parsed.sender == "alertmanager@example.org"
    assert parsed.message == ALERTMANAGER_TEXT
    for noise in ("**", "|", "](", "<", "font-family"):
        assert noise not in parsed.message


def _quoted_printable(text: str) -> bytes:
    import quopri

    return quopri.encodestring(text.encode("utf-8")).replace(b"\n", b"\r\n")


def test_multipart_alternative_prefers_the_text_part() -> None:
    parsed = parse(mail(text="plain words\n", html="<p>html <b>words</b></p>").as_bytes())
    assert parsed.message == "plain words"


def test_an_empty_text_part_falls_back_to_the_html_part() -> None:
    parsed = parse(mail(text="  \n", html="<p>Disk <b>full</b></p><p>on db-1</p>").as_bytes())
    assert parsed.message == "Disk full\non db-1"


@pytest.mark.parametrize(
    ("charset", "cte"),
    [("iso-8859-1", "quoted-printable"), ("iso-8859-1", "base64"), ("shift_jis", "base64"), ("utf-8", "8bit")],
)
def test_body_charsets_and_transfer_encodings(charset: str, cte: str) -> None:
    text = "ディスク容量が不足しています" if charset == "shift_jis" else "Température élevée à Zürich"
    data = text.encode(charset)
    body = base64.encodebytes(data) if cte == "base64" else _qp(data) if cte == "quoted-printable" else data
    raw = (
        f"From: a@example.org\r\nSubject: x\r\nContent-Type: text/plain; charset={charset}\r\n"
        f"Content-Transfer-Encoding: {cte}\r\n\r\n"
    ).encode() + body
    assert parse(raw).message == text


def _qp(data: bytes) -> bytes:
    import quopri

    return quopri.encodestring(data)


def test_quoted_printable_soft_line_breaks_are_joined() -> None:
    raw = (
        b"Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"CPU usage on db-1 is above 95% for the last fif=\r\nteen minutes =E2=80=94 check it\r\n"
    )
    assert parse(raw).message == "CPU usage on db-1 is above 95% for the last fifteen minutes — check it"


def test_encoded_and_folded_subjects() -> None:
    raw = (
        b"From: =?iso-8859-1?q?J=F6rg?= <jorg@example.org>\r\n"
        b"Subject: =?utf-8?q?[FIRING:1]_Temp=C3=A9rature?=\r\n"
        b" =?utf-8?b?IMOpbGV2w6llIMOgIFrDvHJpY2g=?=\r\n"
        b"\t(critical)\r\n"
        b"\r\n"
        b"body\r\n"
    )
    parsed = parse(raw)
    assert parsed.subject == "[FIRING:1] Température élevée à Zürich (critical)"
    assert parsed.sender == "jorg@example.org"


def test_raw_utf8_and_shift_jis_encoded_word_subjects() -> None:
    assert parse("Subject: Überlast auf db-1\r\n\r\nx".encode()).subject == "Überlast auf db-1"
    assert parse(b"Subject: =?shift_jis?B?g2WDWINn?=\r\n\r\nx").subject == "テスト"


def test_attachments_are_ignored() -> None:
    message = mail(text="see the attached graph\n")
    message.add_attachment(b"%PDF-1.4 binary", maintype="application", subtype="pdf", filename="graph.pdf")
    message.add_attachment("log line 1\nlog line 2\n", filename="db-1.log")  # a text/plain attachment
    parsed = parse(message.as_bytes())
    assert parsed.message == "see the attached graph"


def test_a_mail_whose_only_text_is_an_attachment_has_an_empty_message() -> None:
    message = EmailMessage()
    message["Subject"] = "Nightly report"
    message.add_attachment("col1,col2\n1,2\n", filename="report.csv")
    assert parse(message.as_bytes()) == ParsedMail(subject="Nightly report", message="", sender="")


def test_a_forwarded_alert_is_read_from_the_attached_message() -> None:
    forward = EmailMessage()
    forward["Subject"] = "Fwd: Disk full on db-1"
    forward.set_content(mail())  # a bare message/rfc822 body: get_body() finds no text part
    assert parse(forward.as_bytes()).message == "/var is at 99%"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Monitor <monitor@example.org>", "monitor@example.org"),
        ('"Ops, Team" <ops@example.org>', "ops@example.org"),
        ("plain@example.org", "plain@example.org"),
        ("'Alex Smith' via [TEST] mail <test@example.com>", "test@example.com"),  # unquoted specials
        ("undisclosed-recipients:;", ""),
    ],
)
def test_sender_is_the_bare_address(header: str, expected: str) -> None:
    assert parse(f"From: {header}\r\nSubject: x\r\n\r\nbody".encode()).sender == expected


def test_sender_falls_back_to_sender_then_return_path() -> None:
    assert parse(b"Sender: s@example.org\r\nReturn-Path: <r@example.org>\r\n\r\nx").sender == "s@example.org"
    assert parse(b"Return-Path: <r@example.org>\r\n\r\nx").sender == "r@example.org"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\r\n\r\n",
        b"not a mail at all \x00\xff\xfe\x80",
        b"Subject: only headers",
        b"Subject: =?utf-8?q?broken_=E2=28?= word\r\n\r\nx",
        b"Subject: =?x-unknown?q?abc?=\r\n\r\nx",
        b"From: <<<@>>>\r\nSubject: x\r\n\r\nbody",
        b"Content-Type: multipart/mixed\r\n\r\n--nob\r\nContent-Type: text/plain\r\n\r\nhi\r\n--nob--\r\n",
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nnever closed',
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not*base64===\r\n",
        b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\ncaf\xc3\xa9",
        b"Content-Type: text/html\r\n\r\n<p><b><i>unclosed <a href='javascript:alert(1)'>x",
        b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nnested",
        b"Subject: \xff\xfe raw bytes\r\nFrom: \xe9t\xe9@example.org\r\n\r\n\xff body",
        b'Content-Type: multipart/alternative; boundary="x"\r\n\r\n--x\r\n--x\r\n--x--',
        b"Content-Type: text/plain\r\n" + b"X-Long: " + b"a" * 100_000 + b"\r\n\r\nbody",
    ],
)
def test_malformed_messages_never_raise_and_give_storable_strings(raw: bytes) -> None:
    parsed = parse(raw)
    for value in (parsed.subject, parsed.message, parsed.sender):
        assert isinstance(value, str)
        value.encode("utf-8")  # no lone surrogates: the payload must be storable (JSON, DynamoDB)
        assert "\x00" not in value


def test_an_unknown_charset_is_read_as_utf8() -> None:
    assert parse(b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\ncaf\xc3\xa9").message == "café"


def test_an_ascii_label_on_utf8_bytes_is_read_as_utf8() -> None:
    raw = b"Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9"
    assert parse(raw).message == "café"


def test_huge_bodies_are_truncated() -> None:
    parsed = parse(mail(text="x" * (MAX_MESSAGE_CHARS * 2)).as_bytes())
    assert len(parsed.message) == MAX_MESSAGE_CHARS
    assert parsed.message.endswith(TRUNCATED)


# --- HTML to text ---------------------------------------------------------------------------------------------


# OnCall's test_amazon_ses_validated_pass_html (engine/apps/email/tests/test_inbound_email.py): its HTML and the text
# its converter makes of it.
ONCALL_HTML = """\
    <html>
        <title>title</title>
        <body>
            <div>
                <h1>h1</h1>
                <br><br><br>
                <p>p<b>b</b><i>i</i> <span>span</span></p> <p>new line</p> <hr>
                <a href="https://example.com">link</a>
                <ul>
                    <li>li1</li>
                    <li>li2</li>
                </ul>
                <table>
                    <tr>
                        <td>td1</td>
                        <td>td2</td>
                    </tr>
                </table>
            </div>
        </body>
    </html>
    """
ONCALL_TEXT = "\n".join(
    ["title", "h1", "pbi span", "new line", "-" * 32, "link (https://example.com)", "* li1", "* li2", "td1", "td2"]
)


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        (ONCALL_HTML, ONCALL_TEXT),
        ("<p>one</p><p>two</p>", "one\ntwo"),
        ("<div>one</div><div>two</div>", "one\ntwo"),
        ("line<br>break", "line\nbreak"),
        ("line<br/>break<br />again", "line\nbreak\nagain"),
        (
            'see <a href="https://grafana.example/d/1?a=1&amp;b=2">the dashboard</a>.',
            "see the dashboard (https://grafana.example/d/1?a=1&b=2).",
        ),
        ('<a href="https://x.example/">https://x.example/</a>', "https://x.example/ (https://x.example/)"),
        ('<a name="top">anchor</a> <a href="">empty</a>', "anchor empty"),  # no href, no parentheses
        ("<h1>Title</h1><p>text</p>", "Title\ntext"),
        ("<b>bold</b> <i>it</i> <em>em</em> <code>code</code>", "bold it em code"),
        ("<ul><li>one</li><li>two</li></ul>", "* one\n* two"),
        ("<p>Disks:</p><ul><li>db-1</li><li>db-2</li></ul>", "Disks:\n* db-1\n* db-2"),
        ("above<hr>below", "above\n--------------------------------\nbelow"),
        ("<table><tr><th>name</th><th>value</th></tr><tr><td>cpu</td><td>93%</td></tr></table>", "namevalue\ncpu93%"),
        ("<style>p {color: red}</style><script>var x = 1;</script><!-- note --><p>visible</p>", "visible"),
        ("a&nbsp;b &lt;c&gt; &amp; &eacute;", "a\xa0b <c> & é"),
        ("<p>  indented  </p>\n\n\n<p>\tspaced</p>", "indented\nspaced"),
        # More cases whose expected text is what OnCall's own converter (engine/apps/email/inbound.py,
        # html_to_plaintext, run under its pinned beautifulsoup4) made of the markup:
        ('<a href="mailto:ops@example.org">ops@example.org</a>', "ops@example.org (mailto:ops@example.org)"),
        ('<a href="javascript:alert(1)">click</a> <a href="#top">top</a>', "click (javascript:alert(1)) top (#top)"),
        (
            '<a href="https://x.example/img"><img src="https://x.example/i.png" alt="graph"></a>',
            "(https://x.example/img)",
        ),
        ("<a>no href</a> <a href=''>empty</a>", "no href empty"),
        ("<ol><li>first</li><li>second<ul><li>nested</li></ul></li></ol>", "* first\n* second\n* nested"),
        ("<p>1. not a list</p><p>- not a bullet</p><p>C:\\dir\\-x</p>", "1. not a list\n- not a bullet\nC:\\dir\\-x"),
        (
            "<table>\n<tr>\n<th>name</th>\n<th>value</th>\n</tr>\n<tr>\n<td>cpu</td>\n<td>93%</td>\n</tr>\n</table>",
            "name\nvalue\ncpu\n93%",
        ),
        ("<p>before</p><hr/><p>after</p>", "before\n--------------------------------\nafter"),
        ("<pre>  indented\n    code</pre>", "indented\ncode"),
        ("<blockquote>quoted</blockquote>tail", "quoted\ntail"),
        ("<dl><dt>term</dt><dd>definition</dd></dl>", "term\ndefinition"),
        ("<html><head><title>Disk full</title></head><body><p>on db-1</p></body></html>", "Disk full\non db-1"),
        ("<style>p {color: red}</style><script>var x = 1;</script><p>visible</p>", "visible"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_html_to_text(markup: str, expected: str) -> None:
    assert html_to_text(markup) == expected


# --- recipients -----------------------------------------------------------------------------------------------


def test_tokens_of_the_domain_keep_their_case_and_drop_plus_tags() -> None:
    recipients = [
        f"AbC123+db@{DOMAIN}",
        f"<AbC123@{DOMAIN.upper()}>",  # the same token again (domain case and angle brackets do not matter)
        f"Team <XyZ789@{DOMAIN}.>",  # display name, trailing dot of an absolute domain
        "AbC123@other.example.com",  # another domain
        f"abc123@{DOMAIN}",  # tokens are case-sensitive: another token
        f'"quoted"@{DOMAIN}',
        f"has space@{DOMAIN}",
        f"{'x' * 65}@{DOMAIN}",  # longer than a local part may be
        f"+onlytag@{DOMAIN}",
        "no-at-sign",
        "",
    ]
    assert token_from_recipients(recipients, DOMAIN) == ["AbC123", "XyZ789", "abc123", "quoted"]
    assert token_from_recipients(recipients, "INBOUND.example.com.") == ["AbC123", "XyZ789", "abc123", "quoted"]
    assert token_from_recipients(recipients, "example.com") == []  # no subdomain matching


@pytest.mark.parametrize(
    ("verdicts", "rejected"),
    [
        (None, []),
        ({}, []),
        ({"spam": "PASS", "virus": "PASS"}, []),
        ({"spam": "GRAY", "virus": "PROCESSING_FAILED"}, []),  # SES could not tell: keep the alert
        ({"spam": "FAIL", "virus": "PASS"}, ["spam"]),
        ({"spamVerdict": {"status": "PASS"}, "virusVerdict": {"status": "FAIL"}}, ["virus"]),
        ({"spam": "fail", "virus": "FAIL", "dmarc": "FAIL"}, ["spam", "virus"]),  # DMARC/SPF/DKIM never reject
        ({"spam": None}, []),
    ],
)
def test_rejecting_verdicts(verdicts: dict[str, Any] | None, rejected: list[str]) -> None:
    assert rejected_by(verdicts) == rejected


def test_address_shown_in_full_with_the_token_else_masked() -> None:
    domain = "Alerts.Example.com"
    assert address("inbound_email", "AbC123xyz", "AbC1", domain) == "AbC123xyz@alerts.example.com"
    assert address("inbound_email", None, "AbC1", domain) == "AbC1…@alerts.example.com"
    assert address("inbound_email", None, None, domain) is None
    assert address("webhook", "AbC123xyz", "AbC1", domain) is None
    assert address("inbound_email", "AbC123xyz", "AbC1", None) is None  # no inbound domain: no address


# --- the use case with a fake ingest service ------------------------------------------------------------------


class FakeService:
    """Stands in for IngestService: records payloads, or raises what ``errors`` says for a token."""

    def __init__(self, errors: dict[str, Exception] | None = None) -> None:
        self.errors = errors or {}
        self.calls: list[tuple[str, str, Any]] = []

    def receive_payload(self, type_slug: str, token: str, payload: Any, now: datetime | None = None) -> Outcome:
        self.calls.append((type_slug, token, payload))
        if token in self.errors:
            raise self.errors[token]
        return Outcome([Stored(f"I{token}", "A1", created_group=True, resolved_group=False)])


NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
RAW = mail().as_bytes()


def test_receive_ingests_once_per_token_with_the_oncall_payload() -> None:
    service = FakeService()
    deliveries = receive(
        service,  # type: ignore[arg-type]
        RAW,
        [f"Tok1@{DOMAIN}", f"Tok1+x@{DOMAIN}", f"Tok2@{DOMAIN}", "Tok3@elsewhere.example"],
        domain=DOMAIN,
        now=NOW,
    )
    payload = {"subject": "Disk full on db-1", "message": "/var is at 99%", "sender": "monitor@example.org"}
    assert service.calls == [("inbound_email", "Tok1", payload), ("inbound_email", "Tok2", payload)]
    assert [(d.recipient, d.outcome) for d in deliveries] == [
        (f"Tok1…@{DOMAIN}", "stored"),
        (f"Tok2…@{DOMAIN}", "stored"),
    ]
    assert deliveries[0].stored[0].group_id == "ITok1"


def test_receive_drops_spam_and_viruses_without_parsing_or_ingesting() -> None:
    service = FakeService()
    deliveries = receive(service, RAW, [f"Tok1@{DOMAIN}"], domain=DOMAIN, verdicts={"spam": "FAIL"})  # type: ignore[arg-type]
    assert service.calls == []
    assert [(d.outcome, d.reason) for d in deliveries] == [("dropped", "SES spam verdict FAIL")]


def test_receive_ignores_unknown_tokens_other_types_and_rate_limited_mail(caplog: pytest.LogCaptureFixture) -> None:
    service = FakeService(
        {
            "Unknown1": UnknownToken("Integration key was not found. Permission denied."),
            "Webhook1": IngestError("This url is for integration with webhook"),
            "Busy1": RateLimited("Rate-limiting has been applied", retry_after=10),
        }
    )
    recipients = [f"{t}@{DOMAIN}" for t in ("Unknown1", "Webhook1", "Busy1", "Good1")]
    deliveries = receive(service, RAW, recipients, domain=DOMAIN)  # type: ignore[arg-type]
    assert [d.outcome for d in deliveries] == ["unknown_token", "wrong_type", "rate_limited", "stored"]
    assert "Unknown1" not in caplog.text and "Webhook1" not in caplog.text  # tokens are never logged
    assert "Unkn…@" in caplog.text


def test_receive_raises_a_storage_failure_after_handling_the_other_recipients() -> None:
    service = FakeService({"Broken1": StoreError("DynamoDB unavailable")})
    with pytest.raises(StoreError):
        receive(service, RAW, [f"Broken1@{DOMAIN}", f"Good1@{DOMAIN}"], domain=DOMAIN)  # type: ignore[arg-type]
    assert [call[1] for call in service.calls] == ["Broken1", "Good1"]


def test_receive_without_a_recipient_of_the_domain_does_nothing() -> None:
    service = FakeService()
    assert receive(service, RAW, ["someone@example.org"], domain=DOMAIN) == []  # type: ignore[arg-type]
    assert service.calls == []


def test_receive_needs_a_domain() -> None:
    with pytest.raises(ValueError, match=Env.INBOUND_EMAIL_DOMAIN):
        receive(FakeService(), RAW, [f"Tok1@{DOMAIN}"], domain=None)  # type: ignore[arg-type]
    outcomes = [d.outcome for d in receive(FakeService(), RAW, [f"Tok1@{DOMAIN}"], domain=DOMAIN)]  # type: ignore[arg-type]
    assert outcomes == ["stored"]
