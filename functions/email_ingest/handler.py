"""email_ingest Lambda: the SES receipt rule's Lambda action (after its S3 action stored the raw message).

Event: ``Records[].ses.mail`` (``messageId``, ``commonHeaders``, ``destination``) and ``Records[].ses.receipt``
(``recipients``, ``spamVerdict``, ``virusVerdict``). The raw MIME is read from ``s3://$TOCSIN_MAIL_BUCKET/
$TOCSIN_MAIL_PREFIX<messageId>`` and handed to ``oncall.inbound_email.receive``. Invoked asynchronously (``Event``):
an exception makes Lambda retry the event (twice), so only storage failures raise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import inbound_email
from oncall.container import Container
from oncall.ingest import IngestService

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = Logger()
container = Container()  # this environment's settings, store and executor
_s3: S3Client | None = None


def service() -> IngestService:
    """Created on first use and kept: token, configuration and grouping caches, rate-limit counts."""
    return container.ingest


def s3() -> S3Client:
    global _s3
    if _s3 is None:
        import boto3
        from botocore.config import Config

        _s3 = boto3.client("s3", config=Config(connect_timeout=2, read_timeout=10, retries={"mode": "standard"}))
    return _s3


def read_message(message_id: str) -> bytes | None:
    """The raw message the receipt rule's S3 action stored; None if it is not there (nothing to retry)."""
    bucket, key = container.settings.email_bucket, container.settings.email_prefix + message_id
    client = s3()
    try:
        body: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except client.exceptions.NoSuchKey:
        logger.error("raw message not found in the mail bucket", extra={"key": key})
        return None
    return body


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for record in event.get("Records", []):
        ses = record.get("ses", {})
        mail, receipt = ses.get("mail", {}), ses.get("receipt", {})
        message_id = str(mail.get("messageId", ""))
        logger.append_keys(message_id=message_id)
        verdicts = {name: receipt.get(f"{name}Verdict", {}).get("status") for name in ("spam", "virus")}
        recipients = receipt.get("recipients") or mail.get("destination") or []
        raw = read_message(message_id) if message_id and not inbound_email.rejected_by(verdicts) else b""
        if raw is None:
            continue
        deliveries = inbound_email.receive(service(), raw, recipients, verdicts=verdicts)
        for delivery in deliveries:
            logger.info(
                "inbound mail",
                extra={
                    "recipient": delivery.recipient,
                    "outcome": delivery.outcome,
                    "reason": delivery.reason,
                    "groups": [s.group_id for s in delivery.stored],
                },
            )
        results.extend({"recipient": d.recipient, "outcome": d.outcome} for d in deliveries)
    return {"deliveries": results}
