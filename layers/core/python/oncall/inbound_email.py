"""Inbound e-mail: a mail to ``<token>@<inbound domain>`` becomes an alert of that ``inbound_email`` integration.

The payload is Grafana OnCall's: ``{"subject", "message", "sender"}``, where ``subject`` is the decoded subject
stripped, ``message`` the text/plain body stripped or, when there is none (Alertmanager's e-mail notifier sends an
HTML-only ``multipart/alternative``), the HTML body as readable text (block elements on their own lines, links as
``text (href)``), and ``sender`` the bare address of ``From``. The type's default templates group by the
upper-cased subject and resolve when the upper-cased message is ``OK``.

Addresses: the token is the local part of the *envelope* recipient (SES receipt ``recipients``, SMTP ``RCPT TO``),
compared case-sensitively (tokens are mixed-case; the domain is not); a ``+tag`` suffix is ignored, so
``<token>+db@<domain>`` reaches the same integration. Each token gets one alert per mail, however many of its
addresses the mail was sent to.

Parsing never raises: a malformed message gives what can be read (``""`` for the rest). Mail that SES marked as
spam or virus (verdict ``FAIL``) is dropped and logged. Unknown tokens, tokens of another integration type and
mail over the integration's rate limit are ignored and logged (mail has no status code to answer with); a storage
failure raises after the other recipients were handled, so the caller retries (Lambda's asynchronous retries, an
SMTP 451): delivery is at least once.
"""

from __future__ import annotations

import contextlib
import email
import email.header
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, Final, Literal

from oncall.settings import Env

if TYPE_CHECKING:
    from oncall.ingest import IngestService, Stored

logger = logging.getLogger(__name__)

TYPE: Final = "inbound_email"
LOCAL_DOMAIN: Final = "inbound.tocsin.localhost"  # the default of the local stack (python -m local)
# Bounds that keep an alert item well under DynamoDB's 400 KB (payload + rendered message) and the HTML parser fast.
MAX_SUBJECT_CHARS: Final = 2_000
MAX_MESSAGE_CHARS: Final = 32_000
MAX_HTML_CHARS: Final = 1_000_000
TRUNCATED: Final = "\n[... truncated]"
# RFC 5321 caps a local part at 64 octets; our tokens are 25 alphanumerics (OnCall's were too).
_TOKEN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_REJECTING_VERDICTS: Final = ("spam", "virus")

Outcome = Literal["stored", "unknown_token", "wrong_type", "rate_limited", "rejected", "dropped", "failed"]


@dataclass(frozen=True)
class ParsedMail:
    subject: str = ""
    message: str = ""
    sender: str = ""
    readable: bool = True  # False: the parser gave up; the alert is empty and the raw mail worth keeping

    def payload(self) -> dict[str, str]:
        """The alert payload, in Grafana OnCall's shape."""
        return {"subject": self.subject, "message": self.message, "sender": self.sender}


@dataclass(frozen=True)
class Delivery:
    """What became of a mail for one recipient token. ``recipient`` is masked (``<first 4>…@<domain>``): the
    token is a secret and is never logged or returned."""

    recipient: str
    outcome: Outcome
    stored: tuple[Stored, ...] = field(default=())
    reason: str = ""


def address(integration_type: str, token: str | None, token_hint: str | None, domain: str | None) -> str | None:
    """The integration's e-mail address for the API: in full when the token is known (on creation and token
    regeneration, like the ingest ``link``), else masked with the token hint (``Ab3x…@<domain>``); None for other
    types or when no inbound domain is configured (``domain``: the deployment's setting)."""
    if integration_type != TYPE:
        return None
    domain = _normalize_domain(domain or "")
    if not domain:
        return None
    if token:
        return f"{token}@{domain}"
    return f"{token_hint}…@{domain}" if token_hint else None


# --- recipients ---------------------------------------------------------------------------------------------------


def _normalize_domain(domain: str) -> str:
    return domain.strip().rstrip(".").lower()


def token_from_recipients(recipients: Iterable[str], domain: str) -> list[str]:
    """The tokens of the recipients at ``domain`` (case-insensitive), in order and without repeats.

    The local part is taken as is (case-sensitive, surrounding quotes removed) up to a ``+``: ``Tok+db@d`` and
    ``Tok@d`` give ``Tok``. Recipients of other domains and local parts that cannot be a token are skipped.
    """
    wanted = _normalize_domain(domain)
    tokens: list[str] = []
    for recipient in recipients:
        _, parsed = parseaddr(recipient or "")
        local, at, host = (parsed or recipient or "").strip().rpartition("@")
        if not at or _normalize_domain(host) != wanted:
            continue
        token = local.strip().strip('"').split("+", 1)[0]
        if _TOKEN.match(token) and token not in tokens:
            tokens.append(token)
    return tokens


def _mask(token: str, domain: str) -> str:
    return f"{token[:4]}…@{domain}"


# --- parsing --------------------------------------------------------------------------------------------------


def parse(raw: bytes) -> ParsedMail:
    """Subject, readable body and sender of a raw RFC 5322 message; never raises."""
    try:
        message = email.message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
    except Exception:  # the parser is lenient; this is belt and braces
        logger.warning("unparsable message (%d bytes)", len(raw), exc_info=True)
        return ParsedMail(readable=False)
    return ParsedMail(
        subject=_limit(_subject(message), MAX_SUBJECT_CHARS),
        message=_limit(_body(message), MAX_MESSAGE_CHARS),
        sender=_sender(message),
    )


def _clean(text: str) -> str:
    """Undo the parser's surrogate escapes (raw 8-bit bytes in headers or bodies: decoded as UTF-8, else U+FFFD;
    lone surrogates cannot be stored) and drop control characters other than tab and newline."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return _CONTROL.sub("", text)


def _limit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)].rstrip() + TRUNCATED


def _header(message: Message, name: str) -> str:
    """A header's decoded value ("" if absent); one the policy cannot parse falls back to its raw value."""
    try:
        return _clean(str(message[name] or ""))
    except Exception:
        return _raw_header(message, name)


def _raw_header(message: Message, name: str) -> str:
    """A header's value as sent, unfolded, its RFC 2047 encoded words decoded where possible."""
    for key, value in message.raw_items():
        if key.lower() == name:
            text = re.sub(r"\r?\n", "", str(value))
            with contextlib.suppress(Exception):  # undecodable words stay as they are
                text = str(email.header.make_header(email.header.decode_header(text)))
            return _clean(text)
    return ""


def _subject(message: Message) -> str:
    # Unfolded (in case the policy did not); whitespace that held a fold or a tab becomes one space.
    return re.sub(r"[ \t]*[\t\r\n][ \t\r\n]*", " ", _header(message, "subject")).strip()


def _sender(message: Message) -> str:
    """The addr-spec of From (else Sender, else Return-Path)."""
    for name in ("from", "sender", "return-path"):
        try:
            addresses = getattr(message[name], "addresses", ())
            if addresses and addresses[0].domain:
                return _clean(addresses[0].addr_spec)
        except Exception:
            pass
        # Unparsable for the policy (e.g. an unquoted display name with special characters): the last
        # <address>, else the first plain address, of the value as sent.
        raw = _raw_header(message, name)
        angle = re.findall(r"<([^<>\s]+@[^<>\s]+)>", raw)
        if angle:
            return str(angle[-1])
        plain = [spec for _, spec in getaddresses([raw]) if "@" in spec]
        if plain:
            return plain[0]
    return ""


def _body(message: EmailMessage) -> str:
    plain = _part(message, "plain")
    text = _text(plain).strip() if plain is not None else ""
    if text:
        return text
    html = _part(message, "html")
    return html_to_text(_text(html)) if html is not None else ""


def _part(message: EmailMessage, subtype: str) -> Message | None:
    """The body part of ``subtype`` (attachments excluded), else (a forwarded message/rfc822, a structure that
    confuses ``get_body``) the first text part of that subtype anywhere that is not an attachment."""
    with contextlib.suppress(Exception):
        body = message.get_body(preferencelist=(subtype,))
        if body is not None:
            return body
    try:
        for part in message.walk():
            if part.get_content_type() == f"text/{subtype}" and part.get_content_disposition() != "attachment":
                return part
    except Exception:
        pass
    return None


def _text(part: Message) -> str:
    """A text part's content as str: its declared charset (a body labelled ASCII is tried as UTF-8 first, a
    common mislabelling), else UTF-8 with U+FFFD for what does not decode."""
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if not isinstance(data, bytes):
        payload = part.get_payload()
        return _clean(payload.replace("\r\n", "\n")) if isinstance(payload, str) else ""
    charset = (part.get_content_charset() or "utf-8").lower()
    text: str | None = None
    for candidate in ["utf-8", charset] if charset in ("us-ascii", "ascii") else [charset]:
        try:
            text = data.decode(candidate)
            break
        except (LookupError, UnicodeDecodeError):
            continue
    if text is None:
        try:
            text = data.decode(charset, errors="replace")
        except LookupError:  # an unknown charset
            text = data.decode("utf-8", errors="replace")
    return _clean(text.replace("\r\n", "\n"))


# --- HTML to text ---------------------------------------------------------------------------------------------


def html_to_text(markup: str) -> str:
    """Plain text of an HTML body, as Grafana OnCall's inbound e-mail makes it (``html_to_plaintext`` of
    ``engine/apps/email/inbound.py``, here on the standard library's parser): block elements on their own lines,
    ``<br>`` a line break, links as ``text (href)``, list items as ``* item``, ``<hr>`` as 32 dashes, every line
    stripped and empty lines dropped; scripts, styles and comments are left out."""
    if not markup or not markup.strip():
        return ""
    converter = _PlainText()
    try:
        converter.feed(markup[:MAX_HTML_CHARS])
        converter.close()
    except Exception:  # the parser is lenient; never lose the mail over its rendering
        logger.warning("HTML body could not be converted; tags stripped instead", exc_info=True)
        converter.parts = [re.sub(r"<[^>]*>", "\n", markup[:MAX_HTML_CHARS])]
    text = "".join(converter.parts)
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


# Elements browsers render on their own line (display: block, list-item, table, table-row), as OnCall lists them.
_BLOCK_TAGS: Final = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "html",
        "legend",
        "li",
        "listing",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "plaintext",
        "pre",
        "search",
        "section",
        "summary",
        "table",
        "tr",
        "ul",
        "xmp",
    ]
)
_HIDDEN_TAGS: Final = frozenset({"script", "style", "template"})  # text BeautifulSoup's get_text leaves out


class _PlainText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str | None] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self.hidden += 1
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("* ")
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "hr":
            self.parts.append("-" * 32 + "\n")
        elif tag == "a":
            self.links.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self.hidden = max(0, self.hidden - 1)
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href:
                self.parts.append(f" ({href})")
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


# --- the use case ---------------------------------------------------------------------------------------------


def rejected_by(verdicts: Mapping[str, Any] | None) -> list[str]:
    """The names of the SES verdicts that reject the mail (``spam``/``virus`` with status ``FAIL``). Accepts
    ``{"spam": "FAIL"}`` and SES receipt shapes (``{"spamVerdict": {"status": "FAIL"}}``)."""
    failed: list[str] = []
    for name, value in (verdicts or {}).items():
        status = value.get("status") if isinstance(value, Mapping) else value
        kind = name.removesuffix("Verdict").lower()
        if kind in _REJECTING_VERDICTS and str(status or "").upper() == "FAIL":
            failed.append(kind)
    return failed


def receive(
    service: IngestService,
    raw: bytes,
    recipients: Iterable[str],
    *,
    domain: str | None,
    verdicts: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    parsed: ParsedMail | None = None,
) -> list[Delivery]:
    """Ingest one received mail for each ``inbound_email`` integration it is addressed to.

    ``service`` is the ingest service (token cache, configuration cache, rate limits); ``recipients`` the envelope
    recipients; ``domain`` the deployment's inbound domain; ``parsed``: ``raw`` already parsed by the caller.
    Returns one :class:`Delivery` per recipient token at the domain.
    """
    from oncall.ingest import IngestError, RateLimited, UnknownToken  # the local stack imports this module early

    domain = _normalize_domain(domain or "")
    if not domain:
        raise ValueError(f"no inbound e-mail domain: set {Env.INBOUND_EMAIL_DOMAIN}")
    tokens = token_from_recipients(list(recipients), domain)
    if not tokens:
        logger.info("mail with no recipient at %s ignored", domain)
        return []
    failed = rejected_by(verdicts)
    if failed:
        reason = f"SES {' and '.join(failed)} verdict FAIL"
        logger.warning("mail dropped (%s) for %d recipient(s)", reason, len(tokens))
        return [Delivery(_mask(t, domain), "dropped", reason=reason) for t in tokens]
    mail = parsed or parse(raw)
    payload = mail.payload()
    deliveries: list[Delivery] = []
    error: Exception | None = None
    for token in tokens:
        recipient = _mask(token, domain)
        try:
            stored = service.receive_payload(TYPE, token, payload, now=now).stored
        except RateLimited as exc:
            deliveries.append(Delivery(recipient, "rate_limited", reason=str(exc)))
        except UnknownToken:
            deliveries.append(Delivery(recipient, "unknown_token", reason="no integration has this token"))
        except IngestError as exc:
            outcome: Outcome = "wrong_type" if str(exc).startswith("This url is for") else "rejected"
            reason = "the token belongs to an integration of another type" if outcome == "wrong_type" else str(exc)
            deliveries.append(Delivery(recipient, outcome, reason=reason))
        except Exception as exc:  # storage: retry the whole mail once the others are done
            logger.exception("mail to %s could not be stored", recipient)
            deliveries.append(Delivery(recipient, "failed", reason=type(exc).__name__))
            error = error or exc
        else:
            deliveries.append(Delivery(recipient, "stored", tuple(stored)))
            continue
        if deliveries[-1].outcome != "failed":
            logger.warning("mail to %s ignored: %s", recipient, deliveries[-1].reason)
    if error is not None:
        raise error
    return deliveries
