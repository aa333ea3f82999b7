"""The local stack's notifier: real SMTP to the local mail sink, SMS and phone calls into the outbox, webhooks
sent (through the product's guarded client) and recorded. The local stack puts it into every handler's container
(:func:`local.functions.load_handler`); on AWS the container's own notifier sends through SES and SNS."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from oncall.notify.channels import TIMEOUT, NotificationFailed, WebhookAnswer, WebhookCall, WebhookFailed, Webhooks
from oncall.notify.compose import Notification

from local.outbox import Outbox

if TYPE_CHECKING:
    from oncall.outbound.client import Client

SMTP_HOST_ENV: Final = "TOCSIN_SMTP_HOST"
SMTP_PORT_ENV: Final = "TOCSIN_SMTP_PORT"
EMAIL_FROM_ENV: Final = "TOCSIN_EMAIL_FROM"
LOCAL_SENDER: Final = "tocsin@localhost"


class LocalNotifier:
    def __init__(
        self,
        outbox: Outbox,
        *,
        smtp_host: str = "127.0.0.1",
        smtp_port: int = 2525,
        sender: str = LOCAL_SENDER,
        http: Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.outbox = outbox
        self.smtp_host, self.smtp_port, self.sender = smtp_host, smtp_port, sender
        self.webhooks = Webhooks(http, sleep=sleep)

    @classmethod
    def from_env(cls) -> LocalNotifier:
        """As the local stack configures its processes (``local/__main__.py``)."""
        return cls(
            Outbox.from_env(),
            smtp_host=os.environ.get(SMTP_HOST_ENV) or "127.0.0.1",
            smtp_port=int(os.environ.get(SMTP_PORT_ENV) or 2525),
            sender=os.environ.get(EMAIL_FROM_ENV) or LOCAL_SENDER,
        )

    def email(self, to: str, notification: Notification) -> None:
        import smtplib
        from email.message import EmailMessage

        message = EmailMessage()
        try:
            message["From"] = self.sender
            message["To"] = to
        except ValueError:  # e.g. a line break: header injection
            raise NotificationFailed("invalid e-mail address") from None
        message["Subject"] = notification.subject
        message.set_content(notification.text)
        message.add_alternative(notification.html, subtype="html")
        sink = f"{self.smtp_host}:{self.smtp_port}"
        try:
            with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=TIMEOUT) as smtp:
                smtp.send_message(message, to_addrs=[to])
        except smtplib.SMTPResponseException as error:
            raise NotificationFailed(f"the mail sink at {sink} answered {error.smtp_code}") from error
        except smtplib.SMTPRecipientsRefused as error:
            raise NotificationFailed(f"the mail sink at {sink} refused the recipient") from error
        except OSError as error:  # smtplib.SMTPException included
            raise NotificationFailed(f"could not send through the mail sink at {sink}") from error

    def sms(self, to: str, notification: Notification) -> None:
        self.outbox.append({"channel": "sms", "to": to, "text": notification.sms})

    def phone_call(self, to: str, notification: Notification) -> None:
        self.outbox.append({"channel": "phone_call", "to": to, "text": notification.voice})

    def webhook(self, url: str, body: dict[str, Any], *, headers: dict[str, str] | None = None) -> int:
        record = {"channel": "webhook", "to": url, "body": body}
        try:
            status = self.webhooks.post(url, body, headers)
        except NotificationFailed as error:
            self.outbox.append({**record, "error": str(error)})
            raise
        self.outbox.append({**record, "status": status})
        return status

    def call_webhook(self, call: WebhookCall) -> WebhookAnswer:
        body = call.json if call.content is None else call.content.decode("utf-8", "replace")
        record = {"channel": "webhook", "to": call.url, "method": call.method, "body": body}
        try:
            answer = self.webhooks.send(call)
        except WebhookFailed as error:
            self.outbox.append({**record, "error": str(error)})
            raise
        self.outbox.append({**record, "status": answer.status})
        return answer
