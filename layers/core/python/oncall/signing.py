"""The HMAC-SHA256 primitive behind every signed token of the deployment (action links, console sessions and forms,
calendar feed URLs), all signed with the one link-signing key (:func:`oncall.links.signing_key`). A ``purpose``
prefix keeps one kind of token from passing for another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mac(key: bytes, text: str) -> str:
    """base64url of HMAC-SHA256(key, text)."""
    if not key:
        raise ValueError("empty signing key")
    return b64url(hmac.new(key, text.encode(), hashlib.sha256).digest())


def purpose_mac(key: bytes, purpose: str, body: str) -> str:
    return mac(key, f"{purpose}:{body}")


def matches(expected: str, submitted: str | None) -> bool:
    """Constant-time comparison of a signature with what a client sent (anything non-ASCII never matches)."""
    if not submitted or not submitted.isascii():
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())
