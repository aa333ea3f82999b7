"""The local SMTP server (aiosmtpd): the mail sink of the local stack, and its inbound-email entry.

Mail to ``inbound_domain`` goes, raw, to the ``inbound`` callable, as SES receiving would hand it over (no
handler: refused with 550 at RCPT). Every other mail is what Tocsin sent: it lands in the outbox, one
``email`` record per envelope recipient. A failure while handling a mail answers 451 (the sender may retry)
and is logged; the server keeps serving.
"""

from __future__ import annotations

import asyncio
import email
import logging
import socket
from collections.abc import Callable, Coroutine
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any, Self

from aiosmtpd.controller import Controller

from local.lifecycle import Service
from local.outbox import Outbox

log = logging.getLogger(__name__)

Inbound = Callable[[bytes, list[str]], None]


class MailServer(Service):
    """``port=0`` picks a free port; ``port`` tells which once started."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 2525,
        *,
        outbox: Outbox,
        inbound: Inbound | None = None,
        inbound_domain: str | None = None,
    ) -> None:
        if inbound is not None and not inbound_domain:
            raise ValueError("an inbound handler needs the inbound_domain it serves")
        self.host = host
        self.port = port
        self._handler = _Handler(outbox, inbound, inbound_domain.lower() if inbound_domain else None)
        self._controller: _Controller | None = None

    def start(self) -> Self:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.create_server((self.host, self.port), family=family)  # a taken port fails here, at once
        self.port = sock.getsockname()[1]
        try:
            controller = _Controller(self._handler, sock)
            controller.start()  # returns once the server answers
        except BaseException:
            sock.close()
            raise
        self._controller = controller
        log.info("SMTP server on %s:%d", self.host, self.port)
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


class _Controller(Controller):
    """Serves on a socket bound beforehand: aiosmtpd's own bind reports a taken port only after its 5 s
    ready timeout, and cannot tell which port ``0`` picked."""

    def __init__(self, handler: _Handler, sock: socket.socket) -> None:
        host, port = sock.getsockname()[:2]
        # A fixed greeting name: aiosmtpd would otherwise look up the machine's FQDN on every connection.
        super().__init__(handler, hostname=host, port=port, server_hostname="localhost")
        self._sock = sock

    def _create_server(self) -> Coroutine[Any, Any, asyncio.Server]:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)


class _Handler:
    """aiosmtpd handler hooks (``handle_RCPT``, ``handle_DATA``)."""

    def __init__(self, outbox: Outbox, inbound: Inbound | None, inbound_domain: str | None) -> None:
        self.outbox = outbox
        self.inbound = inbound
        self.inbound_domain = inbound_domain

    def is_inbound(self, address: str) -> bool:
        return self.inbound_domain is not None and address.rpartition("@")[2].lower() == self.inbound_domain

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if self.is_inbound(address) and self.inbound is None:
            return "550 5.1.1 No inbound e-mail handler for this domain"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content
        inbound = [address for address in envelope.rcpt_tos if self.is_inbound(address)]
        others = [address for address in envelope.rcpt_tos if not self.is_inbound(address)]
        try:
            # Off the event loop: the handlers block (file locks, the email_ingest function and its DynamoDB).
            if inbound and self.inbound is not None:
                await asyncio.to_thread(self.inbound, raw, inbound)
            if others:
                await asyncio.to_thread(self._store, raw, envelope.mail_from, others)
        except Exception:
            log.exception("could not handle mail from %s to %s", envelope.mail_from, envelope.rcpt_tos)
            return "451 4.3.0 Local error while handling the message, try again later"
        return "250 Message accepted for delivery"

    def _store(self, raw: bytes, mail_from: str, recipients: list[str]) -> None:
        message = email.message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
        fields = {
            "from": str(message["from"] or mail_from),
            "subject": str(message["subject"] or ""),
            "text": _body_text(message),
            "size": len(raw),
        }
        for recipient in recipients:
            self.outbox.append({"channel": "email", "to": recipient, **fields})


def _body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    if part is not None:
        return _content(part)
    part = message.get_body(preferencelist=("html",))
    return _html_to_text(_content(part)) if part is not None else ""


def _content(part: EmailMessage) -> str:
    try:
        content = str(part.get_content())
    except (LookupError, ValueError):  # an unknown charset or broken encoding: show what we can
        payload = part.get_payload(decode=True)
        content = payload.decode(errors="replace") if isinstance(payload, bytes) else ""
    return content.replace("\r\n", "\n")  # SMTP's line ends


class _TextExtractor(HTMLParser):
    _BLOCKS = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "pre"})
    _HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__()
        self.pieces: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self.hidden += 1
        elif tag in self._BLOCKS:
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self.hidden = max(self.hidden - 1, 0)
        elif tag in self._BLOCKS:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.pieces.append(data)


def _html_to_text(markup: str) -> str:
    """Readable text of an HTML body: good enough to read a notification, not a renderer."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.pieces).splitlines())
    return "\n".join(line for line in lines if line)
