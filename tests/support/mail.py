"""Mail as monitoring tools send it, for the tests of inbound e-mail and of the local SMTP server."""

from __future__ import annotations

from email.message import EmailMessage


def compose(sender: str, to: str, subject: str, text: str | None = None, html: str | None = None) -> EmailMessage:
    """A plain-text mail, an HTML-only one, or both as multipart/alternative (text first, as mailers do)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    if text is not None:
        mail.set_content(text)
    if html is not None:
        if text is None:
            mail.set_content(html, subtype="html")
        else:
            mail.add_alternative(html, subtype="html")
    return mail
