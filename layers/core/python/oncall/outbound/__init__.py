"""Requests to URLs that users give (outgoing webhooks, personal webhooks, calendar imports): one guarded way out.

A URL typed by a user must not turn Tocsin into a proxy into its own network (SSRF): the instance metadata service
(169.254.169.254), the Lambda runtime API (127.0.0.1:9001), anything in a VPC, nor a port scanner whose results
show up on a group's timeline. So every such request goes through :class:`oncall.outbound.client.Client`, and every
such URL is checked with :func:`check_url` when it is saved.

- **Which targets**: public unicast addresses only (:func:`~oncall.outbound.policy.is_public`): no loopback,
  private, link-local, carrier-grade NAT, multicast, unspecified or reserved address, nor an IPv6 form that carries
  one (IPv4-mapped, IPv4-compatible, NAT64, 6to4; Teredo is not global). A name with one such address among its
  addresses is refused as a whole. Hosts written as numbers in any notation that resolvers accept
  (``2130706433``, ``0x7f000001``, ``127.1``, ``0177.0.0.1``, ``0``) and ``localhost`` names are read as the
  address they stand for, never handed to DNS, so the save-time check and the send-time check agree.
- **https only** unless ``TOCSIN_OUTBOUND_ALLOW_HTTP=1``; loopback (and nothing else private) only with
  ``TOCSIN_OUTBOUND_ALLOW_LOOPBACK=1``. The local stack sets both, so its tests receive webhooks on 127.0.0.1;
  the deployed functions get neither, so AWS is https to public addresses.
- **At save time** (:func:`check_url`, in the API's schemas): the scheme, and hosts that are addresses. No DNS:
  a name's addresses may change after it is saved (so send time decides), and answering "this name resolves to a
  private address" at save time would let any user probe the internal DNS.
- **At send time**, the client resolves a host once (through an injectable resolver), checks every address, and
  connects to a checked address, while the Host header, TLS SNI and the certificate check stay on the name. There
  is no second lookup that a rebinding DNS server could answer with a private address. This sits in an httpcore
  network backend, the layer that opens connections, so nothing above it (redirects, retries, connection reuse)
  can reach an address that was not checked.
- **Redirects** are followed only when the caller asks (calendar imports; webhooks never, as before), at most 3,
  and each hop is checked like the first URL: by the URL check, then by the backend when it connects.
- **Limits**: a connect timeout (3 s), a timeout per read and write (10 s), a deadline for the whole request with
  its redirects (20 s, so a server dripping one byte at a time cannot hold a Lambda), and a cap on the body read
  (in chunks; reading stops past it). A DNS lookup is bounded by the resolver's own timeouts, as in httpx.
  Proxies from the environment are ignored (a proxy would connect where the check did not look).
- **Errors** are short and never quote the URL's path or what the target answered: ``str(Refused)`` is
  ``"refused: private address"``, which is what a timeline shows.

Cold starts: this package imports no httpx (the API checks URLs with it on every save); the client module does, so
callers import it when they send, as they did httpx before.
"""

from oncall.outbound.policy import (
    ALLOW_HTTP_ENV,
    ALLOW_LOOPBACK_ENV,
    Policy,
    Refused,
    check_url,
    is_public,
    literal_address,
)

__all__ = ["ALLOW_HTTP_ENV", "ALLOW_LOOPBACK_ENV", "Policy", "Refused", "check_url", "is_public", "literal_address"]
