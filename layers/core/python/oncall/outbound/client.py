"""The guarded HTTP client (see :mod:`oncall.outbound` for why it is built this way).

Imports httpx (~100 ms): callers import this module on first use, never at a Lambda's start.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpcore
import httpx

from oncall.outbound.policy import PRIVATE, IPAddress, Policy, Refused, check_url, literal_address

Resolver = Callable[[str, int], Sequence[IPAddress]]

MAX_REDIRECTS: Final = 3
CONNECT_TIMEOUT: Final = 3.0
TIMEOUT: Final = 10.0  # each read and each write
DEADLINE: Final = 20.0  # one request end to end, redirects included: a slow-drip server cannot stretch it
MAX_BYTES: Final = 1024 * 1024
MAX_ADDRESSES: Final = 3  # addresses of a host tried in turn, so a host cannot multiply the connect timeout


class ResponseTooLarge(Exception):
    """The body of the answer was longer than the request allowed; reading stopped there."""


@dataclass(frozen=True)
class Reply:
    """An answer, read (at most ``max_bytes`` of it) and closed."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    encoding: str | None  # the charset of Content-Type, if any
    url: str  # where it came from, after redirects

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        try:
            return self.content.decode(self.encoding or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", errors="replace")


def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The host's addresses from the system resolver (``getaddrinfo``), in its order of preference."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


class Client:
    """Requests to user-given URLs, under a :class:`Policy` (default: from the environment).

    Seams for tests: ``resolver`` maps names to addresses without DNS; ``transport`` (an ``httpx.MockTransport``)
    replaces the network, and with it the check of the addresses connected to (URLs are still checked);
    ``ssl_context`` trusts a test certificate authority.
    """

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        resolver: Resolver = system_resolver,
        transport: httpx.BaseTransport | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: httpx.Timeout | None = None,
        deadline: float = DEADLINE,
    ) -> None:
        self.policy = policy or Policy.from_env()
        self._resolver = resolver
        self._transport = transport
        self._ssl_context = ssl_context
        self._timeout = timeout or httpx.Timeout(TIMEOUT, connect=CONNECT_TIMEOUT)
        self._deadline = deadline

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        follow_redirects: bool = False,
        read_body: bool = True,
        max_bytes: int = MAX_BYTES,
        truncate: bool = False,
    ) -> Reply:
        """Send one request (and follow up to 3 redirects if asked, each one checked like the first URL).

        Raises :class:`Refused` (the URL or an address of its host is not allowed), :class:`ResponseTooLarge`,
        ``httpx.TooManyRedirects``, ``httpx.InvalidURL``, ``ValueError`` (a header or body that cannot be sent) or
        another ``httpx.HTTPError`` (``TimeoutException``, ``ConnectError``, ...). 3xx, 4xx and 5xx are answers.
        ``truncate``: keep the first ``max_bytes`` of a longer body instead of raising :class:`ResponseTooLarge`.
        """
        check_url(url, self.policy)
        own = self._transport is None
        transport = self._transport or _GuardedTransport(
            self._tls(), self.policy, self._resolver, time.monotonic() + self._deadline
        )
        http = httpx.Client(transport=transport, timeout=self._timeout, trust_env=False)  # no proxy from the env
        try:
            request = http.build_request(method, url, headers=headers, json=json, content=content)
            for _ in range(MAX_REDIRECTS + 1):
                response = http.send(request, stream=True)
                try:
                    if not follow_redirects or response.next_request is None:
                        return _read(response, read_body, max_bytes, truncate)
                    request = response.next_request  # httpx's: method, body and Authorization as browsers do
                finally:
                    response.close()
                check_url(str(request.url), self.policy)
            raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects", request=request)
        finally:
            if own:
                http.close()

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()  # certifi's CA bundle: ~20 ms, once per client
        return self._ssl_context


def _read(response: httpx.Response, read_body: bool, max_bytes: int, truncate: bool = False) -> Reply:
    body = bytearray()
    if read_body:
        for chunk in response.iter_bytes():  # decoded: a compressed chunk counts as what it expands to
            body += chunk
            if len(body) > max_bytes:
                if truncate:
                    del body[max_bytes:]
                    break
                raise ResponseTooLarge(f"the answer is longer than {max_bytes} bytes")
    return Reply(response.status_code, response.headers, bytes(body), response.charset_encoding, str(response.url))


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport over a connection pool whose network backend is :class:`_GuardedNetwork`. httpx 0.28
    takes no network backend (encode/httpx#3749 adds it), so the pool is replaced after httpx built its own."""

    def __init__(self, ssl_context: ssl.SSLContext, policy: Policy, resolver: Resolver, deadline: float) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, network_backend=_GuardedNetwork(policy, resolver, deadline)
        )


class _GuardedNetwork(httpcore.NetworkBackend):
    """Connects to a host only through addresses the policy allows, from one lookup, and to exactly those: no second
    lookup that a rebinding DNS server could answer differently. TLS (SNI, certificate) stays on the host's name,
    which httpcore passes to ``start_tls``; the Host header stays the URL's."""

    def __init__(self, policy: Policy, resolver: Resolver, deadline: float) -> None:
        self._policy = policy
        self._resolver = resolver
        self._deadline = deadline
        self._system = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        error: httpcore.ConnectError | None = None
        for address in self._allowed_addresses(host, port)[:MAX_ADDRESSES]:
            try:
                stream = self._system.connect_tcp(
                    str(address),
                    port,
                    timeout=_within(self._deadline, timeout, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as failed:
                error = failed
                continue
            return _DeadlineStream(stream, self._deadline)
        raise error or httpcore.ConnectError("no address to connect to")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.NetworkStream:
        raise Refused(PRIVATE)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def _allowed_addresses(self, host: str, port: int) -> list[IPAddress]:
        literal = literal_address(host)  # 2130706433 and friends never reach the resolver
        if literal is not None:
            addresses = [literal]
        else:
            try:
                addresses = list(self._resolver(host, port))
            except OSError as failed:  # socket.gaierror: no such name, resolver unreachable
                raise httpcore.ConnectError("the host name could not be resolved") from failed
        if not addresses:
            raise httpcore.ConnectError("the host name has no address")
        if not all(self._policy.allows(address) for address in addresses):
            raise Refused(PRIVATE)  # one private address is enough: that name is not a public service
        return addresses


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every operation ends by the request's deadline, whatever httpx's per-operation timeouts."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _within(self._deadline, timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _within(self._deadline, timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        timeout = _within(self._deadline, timeout, httpcore.ConnectTimeout)
        self._stream = self._stream.start_tls(ssl_context, server_hostname, timeout)
        return self

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


def _within(deadline: float, timeout: float | None, error: type[Exception]) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise error("the request took longer than its deadline")
    return remaining if timeout is None else min(timeout, remaining)
