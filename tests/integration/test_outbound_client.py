"""The guarded HTTP client (oncall.outbound) on real sockets: SSRF forms, DNS rebinding, redirects, TLS on the name,
the size cap and timeouts.

No request leaves this machine. Names are resolved by a stub resolver, so any address form is tested without DNS,
and the ``network`` fixture routes every TCP connection the client opens to the receiver on 127.0.0.1 while it
records the address the connection was for: a "public" address is reached, and a refused one shows no connection.
"""

from __future__ import annotations

import ipaddress
import itertools
import socket
import ssl
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx
import pytest
import trustme
from oncall.notify.channels import AwsNotifier, NotificationFailed
from oncall.outbound import Policy, Refused
from oncall.outbound.client import MAX_REDIRECTS, Client, ResponseTooLarge
from oncall.outbound.policy import IPAddress
from oncall.schedules import ical

from tests.support.receiver import Receiver, drip, redirect, reply, silence

PUBLIC = "93.184.215.14"  # a public address; `network` takes connections to it to the receiver
PUBLIC_2 = "93.184.215.15"

# What the issue found reachable, written as a URL's host: refused before anything is resolved or connected.
PRIVATE_URLS = [
    "http://169.254.169.254/latest/meta-data/",  # instance metadata
    "http://10.0.0.1/",
    "http://[fd00::1]/",
    "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",  # Lambda's runtime API
    "http://0x7f000001/",
    "http://2130706433/",
    "http://127.1/",
    "http://0/",
    "http://localhost./",
    "http://[::ffff:127.0.0.1]/",
    "http://0177.0.0.1/",
    "https://[::ffff:a9fe:a9fe]/",  # the metadata service, IPv4-mapped in hex
    "https://[2002:a9fe:a9fe::1]/",  # ... as 6to4
    "https://[64:ff9b::a9fe:a9fe]/",  # ... through NAT64
    "https://100.64.0.1/",  # carrier-grade NAT
    "https://[fe80::1]/",
    "https://224.0.0.1/",
    "https://[::]/",
    "https://0.0.0.0/",
]
# Names a resolver answers with a private address: refused once resolved, before connecting.
PRIVATE_NAMES: dict[str, list[str]] = {
    "metadata.test": ["169.254.169.254"],
    "vpc.test": ["10.0.0.1"],
    "office.test": ["192.168.1.10"],
    "ula.test": ["fd00::1"],
    "runtime.test": ["127.0.0.1"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "sixtofour.test": ["2002:a9fe:a9fe::1"],
    "nat64.test": ["64:ff9b::a00:1"],
    "cgnat.test": ["100.64.0.1"],
    "linklocal.test": ["fe80::1"],
    "multicast.test": ["224.0.0.1"],
    "unspecified.test": ["0.0.0.0"],
    "teredo.test": ["2001:0:4136:e378:8000:63bf:3fff:fdd2"],
    "mixed.test": [PUBLIC, "10.0.0.1"],  # one private answer among public ones is enough
}
PUBLIC_NAMES: dict[str, list[str]] = {"hooks.test": [PUBLIC], "calendar.test": [PUBLIC], "other.test": [PUBLIC_2]}


class StubResolver:
    """Names to addresses from a table, counting lookups; ``then`` answers later lookups of a name (rebinding)."""

    def __init__(self, table: dict[str, list[str]], then: dict[str, list[str]] | None = None) -> None:
        self.table = table
        self.then = then or {}
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[IPAddress]:
        answers = self.then if host in self.lookups and host in self.then else self.table
        self.lookups.append(host)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ipaddress.ip_address(address) for address in answers[host]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def route_connections(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connection goes to ``receiver`` on 127.0.0.1; returns the (address, port) each one was for."""
    connections: list[tuple[str, int]] = []
    real = socket.create_connection

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        connections.append(address)
        return real(("127.0.0.1", receiver.port), *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return connections


@pytest.fixture
def network(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    return route_connections(receiver, monkeypatch)


def client(policy: Policy | None = None, **names: list[str]) -> tuple[Client, StubResolver]:
    """A client allowing plain http (the receiver has no TLS) that knows the names above and ``names``."""
    resolver = StubResolver({**PRIVATE_NAMES, **PUBLIC_NAMES, **names})
    return Client(policy or Policy(allow_http=True), resolver=resolver), resolver


def refused(call: Callable[[], object]) -> str:
    with pytest.raises(Refused) as caught:
        call()
    return str(caught.value)


# --- which targets --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_every_private_address_form_is_refused_before_connecting(url: str, network: list[tuple[str, int]]) -> None:
    guarded, resolver = client()
    assert refused(lambda: guarded.request("GET", url)) == "refused: private address"
    assert network == [] and resolver.lookups == []


@pytest.mark.parametrize("name", sorted(PRIVATE_NAMES))
def test_a_name_resolving_to_a_private_address_is_refused_before_connecting(
    name: str, network: list[tuple[str, int]]
) -> None:
    guarded, resolver = client()
    assert refused(lambda: guarded.request("POST", f"https://{name}/hook", json={})) == "refused: private address"
    assert network == [] and resolver.lookups == [name]


def test_a_public_name_is_reached_at_its_checked_address_with_its_own_host_header(
    receiver: Receiver, network: list[tuple[str, int]]
) -> None:
    guarded, resolver = client()
    answer = guarded.request("POST", f"http://hooks.test:{receiver.port}/hook", json={"a": 1})
    assert (answer.status_code, answer.content) == (200, b"ok")
    assert network == [(PUBLIC, receiver.port)] and resolver.lookups == ["hooks.test"]
    [seen] = receiver.received
    assert (seen.method, seen.path, seen.headers["host"], seen.body) == (
        "POST",
        "/hook",
        f"hooks.test:{receiver.port}",
        b'{"a":1}',
    )


def test_a_rebinding_resolver_cannot_reach_the_private_address(
    receiver: Receiver, network: list[tuple[str, int]]
) -> None:
    """Public at the first lookup, the metadata service at any later one: the connection goes where the checked
    answer said, and the next request, which looks up again, is refused."""
    resolver = StubResolver({"rebind.test": [PUBLIC]}, then={"rebind.test": ["169.254.169.254"]})
    guarded = Client(Policy(allow_http=True), resolver=resolver)
    assert guarded.request("GET", f"http://rebind.test:{receiver.port}/").status_code == 200
    assert network == [(PUBLIC, receiver.port)] and resolver.lookups == ["rebind.test"]
    assert refused(lambda: guarded.request("GET", f"http://rebind.test:{receiver.port}/")) == "refused: private address"
    assert network == [(PUBLIC, receiver.port)]


def test_loopback_is_allowed_only_by_its_setting_and_allows_nothing_else_private(receiver: Receiver) -> None:
    url = f"http://127.0.0.1:{receiver.port}/hook"
    assert refused(lambda: client(Policy(allow_http=True))[0].request("POST", url, json={}))
    local, _ = client(Policy(allow_http=True, allow_loopback=True), **{"receiver.test": ["127.0.0.1"]})
    assert local.request("POST", url, json={}).status_code == 200
    assert local.request("POST", f"http://receiver.test:{receiver.port}/hook", json={}).status_code == 200
    assert local.request("POST", f"http://localhost:{receiver.port}/hook", json={}).status_code == 200
    for private in ("http://169.254.169.254/", "http://10.0.0.1/", "http://0/", "https://vpc.test/"):
        assert refused(lambda url=private: local.request("GET", url)) == "refused: private address"
    assert len(receiver.received) == 3


def test_plain_http_is_refused_unless_allowed(network: list[tuple[str, int]]) -> None:
    guarded, _ = client(Policy())
    assert refused(lambda: guarded.request("GET", "http://hooks.test/")) == "refused: plain http"
    assert network == []


# --- redirects ------------------------------------------------------------------------------------------------


def test_every_redirect_is_checked_like_the_first_url(receiver: Receiver, network: list[tuple[str, int]]) -> None:
    port = receiver.port
    receiver.routes |= {
        "/to-metadata": redirect("http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
        "/to-decimal": redirect(f"http://2130706433:{port}/"),
        "/to-private-name": redirect(f"http://vpc.test:{port}/"),
        "/to-runtime-api": redirect("http://127.0.0.1:9001/2018-06-01/runtime/invocation/next", status=307),
        "/to-file": redirect("file:///etc/passwd"),
    }
    guarded, _ = client()
    for path in receiver.routes:
        reason = refused(
            lambda p=path: guarded.request("GET", f"http://calendar.test:{port}{p}", follow_redirects=True)
        )
        assert reason == ("refused: not an http(s) URL" if path == "/to-file" else "refused: private address")
    assert network == [(PUBLIC, port)] * len(receiver.routes)  # only ever the first hop


def test_redirects_to_public_addresses_are_followed_three_times_at_most(
    receiver: Receiver, network: list[tuple[str, int]]
) -> None:
    port = receiver.port
    hops = [f"/hop{n}" for n in range(MAX_REDIRECTS + 2)]
    for here, there in itertools.pairwise(hops):
        receiver.routes[here] = redirect(f"http://other.test:{port}{there}")
    receiver.routes[hops[-1]] = reply(200, b"arrived")
    guarded, _ = client()
    answer = guarded.request("GET", f"http://calendar.test:{port}{hops[1]}", follow_redirects=True)
    assert (answer.content, answer.url) == (b"arrived", f"http://other.test:{port}{hops[-1]}")
    assert network[0] == (PUBLIC, port) and set(network[1:]) == {(PUBLIC_2, port)}
    with pytest.raises(httpx.TooManyRedirects):
        guarded.request("GET", f"http://calendar.test:{port}{hops[0]}", follow_redirects=True)
    assert guarded.request("GET", f"http://calendar.test:{port}{hops[0]}").status_code == 302  # not asked to follow


def test_a_calendar_import_refuses_a_redirect_to_a_private_address(receiver: Receiver, network: Any) -> None:
    receiver.routes["/team.ics"] = redirect("http://169.254.169.254/latest/meta-data/")
    guarded, _ = client()
    with pytest.raises(ical.IcalError) as caught:
        ical.fetch(f"http://calendar.test:{receiver.port}/team.ics", client=guarded)
    assert str(caught.value).startswith("Fetching the calendar failed: This URL points to a private address")


# --- TLS stays on the name --------------------------------------------------------------------------------------


@pytest.fixture
def tls_receiver() -> Iterator[tuple[Receiver, ssl.SSLContext]]:
    """A receiver with a certificate for hooks.test only, and a client context trusting its test CA."""
    authority = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("hooks.test").configure_cert(server)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    with Receiver(tls=server) as running:
        yield running, trusting


def test_tls_to_the_checked_address_verifies_the_certificate_of_the_name(
    tls_receiver: tuple[Receiver, ssl.SSLContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver, trusting = tls_receiver
    connections = route_connections(receiver, monkeypatch)
    guarded = Client(Policy(), resolver=StubResolver(PUBLIC_NAMES), ssl_context=trusting)
    answer = guarded.request("POST", f"https://hooks.test:{receiver.port}/hook", json={})
    assert answer.status_code == 200 and connections == [(PUBLIC, receiver.port)]
    assert receiver.server_names == ["hooks.test"]  # SNI: the name, not the address connected to
    assert receiver.received[0].headers["host"] == f"hooks.test:{receiver.port}"
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        guarded.request("POST", f"https://other.test:{receiver.port}/hook", json={})  # same server, other name
    assert len(receiver.received) == 1


# --- limits ---------------------------------------------------------------------------------------------------


def test_the_body_is_read_up_to_the_cap_and_no_further(receiver: Receiver, network: Any) -> None:
    receiver.routes |= {"/exact": reply(200, b"x" * 1000), "/over": reply(200, b"x" * 1001)}
    guarded, _ = client()
    assert len(guarded.request("GET", f"http://hooks.test:{receiver.port}/exact", max_bytes=1000).content) == 1000
    with pytest.raises(ResponseTooLarge):
        guarded.request("GET", f"http://hooks.test:{receiver.port}/over", max_bytes=1000)


def test_a_calendar_larger_than_its_cap_is_refused(receiver: Receiver, network: Any) -> None:
    receiver.routes["/huge.ics"] = reply(200, b"BEGIN:VCALENDAR\r\n" + b"X" * ical.MAX_BYTES)
    guarded, _ = client()
    with pytest.raises(ical.IcalError, match="larger than 2 MiB"):
        ical.fetch(f"http://calendar.test:{receiver.port}/huge.ics", client=guarded)


def test_a_server_that_never_answers_times_out(receiver: Receiver, network: Any) -> None:
    receiver.routes["/silent"] = silence(3)
    guarded = Client(Policy(allow_http=True), resolver=StubResolver(PUBLIC_NAMES), timeout=httpx.Timeout(0.3))
    with pytest.raises(httpx.ReadTimeout):
        guarded.request("GET", f"http://hooks.test:{receiver.port}/silent")


def test_a_slow_drip_answer_is_cut_at_the_deadline(receiver: Receiver, network: Any) -> None:
    """One byte every 50 ms keeps each read under its timeout; the whole answer would take 5 s."""
    receiver.routes["/drip"] = drip(b"x" * 100, interval=0.05)
    guarded = Client(Policy(allow_http=True), resolver=StubResolver(PUBLIC_NAMES), deadline=0.5)
    with pytest.raises(httpx.ReadTimeout):
        guarded.request("GET", f"http://hooks.test:{receiver.port}/drip")


# --- webhooks ---------------------------------------------------------------------------------------------------


def test_a_webhook_to_a_private_address_fails_at_once_with_a_short_reason(network: Any) -> None:
    resolver = StubResolver(PRIVATE_NAMES)
    sleeps: list[float] = []
    notifier = AwsNotifier(http=Client(Policy(), resolver=resolver), sleep=sleeps.append)
    with pytest.raises(NotificationFailed) as caught:
        notifier.webhook("https://metadata.test/latest/meta-data/?token=secret", {"title": "x"})
    assert str(caught.value) == "refused: private address (metadata.test)"  # no path, no query: no secret
    assert resolver.lookups == ["metadata.test"] and sleeps == [] and network == []  # not retried
