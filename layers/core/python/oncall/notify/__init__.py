"""Notifying people: what they receive (:mod:`.compose`) and how it is sent (:mod:`.channels`).

Importing this package is cheap: boto3, httpx and smtplib are imported by the channels on first use.
"""

from oncall.notify.compose import Notification, compose

__all__ = ["Notification", "compose"]
