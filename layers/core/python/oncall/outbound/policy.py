"""Which URLs and addresses Tocsin may send requests to: public addresses over https, by default.

Cheap to import (no httpx): the API checks URLs with :func:`check_url` when they are saved, and the guarded client
(:mod:`oncall.outbound.client`) checks every address it connects to with :meth:`Policy.allows`.
"""

from __future__ import annotations

import ipaddress
import os
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from oncall.settings import Env

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOW_HTTP_ENV: Final = Env.OUTBOUND_ALLOW_HTTP  # "1": plain http:// URLs too (the local stack)
ALLOW_LOOPBACK_ENV: Final = Env.OUTBOUND_ALLOW_LOOPBACK  # "1": 127.0.0.0/8 and ::1 too (the local stack)

# Short reasons, for a group's timeline ("refused: private address"), and what a form or the API says instead.
PRIVATE: Final = "private address"
PLAIN_HTTP: Final = "plain http"
NOT_HTTP: Final = "not an http(s) URL"
INVALID: Final = "invalid URL"
_MESSAGES: Final = {
    PRIVATE: "This URL points to a private address (this machine, a private network, link-local or cloud metadata "
    "addresses). Tocsin only sends requests to public addresses.",
    PLAIN_HTTP: "Use https:// (plain http is not allowed here).",
    NOT_HTTP: "Enter an https:// URL.",
    INVALID: "Enter a valid URL.",
}

_LOCALHOST: Final = ipaddress.IPv4Address("127.0.0.1")  # "localhost" and "*.localhost" are loopback (RFC 6761)
# Ranges that are not public although some Python versions' ``is_global`` says so (multicast is checked apart).
_NOT_PUBLIC: Final = (
    ipaddress.IPv4Network("100.64.0.0/10"),  # carrier-grade NAT (RFC 6598)
    ipaddress.IPv4Network("192.88.99.0/24"),  # 6to4 relay anycast (deprecated, RFC 7526)
    ipaddress.IPv6Network("fec0::/10"),  # site-local (deprecated, RFC 3879)
)
# IPv6 prefixes whose last 32 bits are an IPv4 address that the packet ends up at: judged by that address.
_IPV4_SUFFIXED: Final = (
    ipaddress.IPv6Network("::ffff:0:0/96"),  # IPv4-mapped
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated); :: and ::1 fall in it too
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64, well-known prefix (RFC 6052)
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # NAT64, local-use prefix (RFC 8215)
)


class Refused(Exception):
    """The URL, or an address its host resolves to, is one Tocsin does not send requests to.

    ``str(error)`` is short, for a timeline (``"refused: private address"``); ``message`` is a sentence for a form
    or an API field error. Neither quotes the URL (it often carries a secret) nor anything the target answered.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"refused: {reason}")
        self.reason = reason
        self.message = _MESSAGES[reason]


@dataclass(frozen=True)
class Policy:
    """Public addresses over https only, unless the environment allows plain http or loopback (the local stack)."""

    allow_http: bool = False
    allow_loopback: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Policy:
        return cls(allow_http=_flag(environ, ALLOW_HTTP_ENV), allow_loopback=_flag(environ, ALLOW_LOOPBACK_ENV))

    def allows(self, address: IPAddress) -> bool:
        if self.allow_loopback and _is_loopback(address):
            return True
        return is_public(address)


def check_url(url: str, policy: Policy | None = None) -> str:
    """``url`` if it may be called under ``policy`` (default: from the environment), else :class:`Refused`.

    A check of the text alone, without DNS: the scheme, and the host when it is an address in any notation a
    resolver accepts (``2130706433``, ``0x7f000001``, ``127.1``, ``0177.0.0.1``, ``[::ffff:127.0.0.1]``) or a
    localhost name. A name's addresses can change after it is saved, so names are checked when the request is made.
    """
    policy = policy or Policy.from_env()
    if not url.isprintable() or any(char.isspace() for char in url) or "\\" in url:
        raise Refused(INVALID)
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number from 0 to 65535)
    except ValueError:
        raise Refused(INVALID) from None
    if parts.scheme not in ("http", "https"):
        raise Refused(NOT_HTTP)
    if not host:
        raise Refused(INVALID)
    address = literal_address(host)
    if address is not None and not policy.allows(address):
        raise Refused(PRIVATE)
    if parts.scheme == "http" and not policy.allow_http:
        raise Refused(PLAIN_HTTP)
    return url


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` stands for without DNS, None for a name to resolve; :class:`Refused` for a host that
    ends in a number but is no IPv4 address (what a browser refuses too).

    IPv4 in the notations of WHATWG's URL standard, which are those of ``inet_aton`` that ``getaddrinfo`` accepts:
    one to four parts, each decimal, octal (leading 0) or hex (0x), the last filling the remaining bytes.
    """
    name = unicodedata.normalize("NFKC", host).strip("[]").rstrip(".").lower()
    if ":" in name:
        try:
            return ipaddress.IPv6Address(name)
        except ValueError:
            raise Refused(INVALID) from None
    if name == "localhost" or name.endswith(".localhost"):
        return _LOCALHOST
    parts = name.split(".")
    if not _is_number(parts[-1]):
        return None
    if len(parts) > 4:
        raise Refused(INVALID)
    numbers = [_number(part) for part in parts]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise Refused(INVALID)
    value = numbers[-1] + sum(n << (8 * (3 - i)) for i, n in enumerate(numbers[:-1]))
    return ipaddress.IPv4Address(value)


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is a public unicast address; an IPv6 address carrying an IPv4 one (mapped, compatible,
    NAT64, 6to4) is judged by the IPv4 address. Python's own lists change between versions, so the ranges they
    missed in some (carrier-grade NAT, multicast, site-local, these IPv6 forms) are checked here explicitly."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
    if address.is_multicast or address.is_reserved or any(address in network for network in _NOT_PUBLIC):
        return False
    return address.is_global


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in prefix for prefix in _IPV4_SUFFIXED):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_loopback(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and (mapped := address.ipv4_mapped) is not None:
        return mapped.is_loopback
    return address.is_loopback


def _is_number(part: str) -> bool:
    if part[:2] in ("0x", "0X"):
        return all(char in "0123456789abcdefABCDEF" for char in part[2:])
    return part.isascii() and part.isdigit()


def _number(part: str) -> int:
    if part[:2] in ("0x", "0X"):
        digits, base, allowed = part[2:], 16, "0123456789abcdef"
    elif len(part) > 1 and part.startswith("0"):
        digits, base, allowed = part[1:], 8, "01234567"
    else:
        digits, base, allowed = part, 10, "0123456789"
    if (not digits and base == 10) or any(char not in allowed for char in digits):
        raise Refused(INVALID)
    return int(digits, base) if digits else 0


def _flag(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
