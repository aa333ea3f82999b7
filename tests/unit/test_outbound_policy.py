"""Which URLs may be saved as webhook and calendar URLs (oncall.outbound.check_url): the host read as a resolver
reads it, in every notation, without DNS; the settings of the local stack allow loopback and plain http only."""

from __future__ import annotations

import pytest
from oncall.outbound import ALLOW_HTTP_ENV, ALLOW_LOOPBACK_ENV, Policy, Refused, check_url


def reason(url: str, policy: Policy | None = None) -> str | None:
    try:
        check_url(url, policy or Policy())
    except Refused as error:
        return error.reason
    return None


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/services/T000/B000/XXXX",
        "https://8.8.8.8/",
        "https://134744072/",  # 8.8.8.8 in decimal: public whatever the notation
        "https://0x8.0x8.0x8.0x8/",
        "https://010.010.010.010/",  # octal
        "https://[2606:4700:4700::1111]/",
        "https://[::ffff:8.8.8.8]/",  # IPv4-mapped public address
        "https://[2002:808:808::1]/",  # 6to4 of a public address
        "https://123.example.com/",  # a name whose first label is a number
        "https://user:secret@hooks.example.com:8443/x?y=1",
    ],
)
def test_public_urls_are_accepted(url: str) -> None:
    assert reason(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/",
        "https://127.255.255.254/",
        "https://10.1.2.3/",
        "https://172.16.0.1/",
        "https://192.168.0.1/",
        "https://169.254.169.254/",
        "https://100.64.0.1/",  # carrier-grade NAT
        "https://198.18.0.1/",  # benchmarking
        "https://224.0.0.251/",  # multicast
        "https://240.0.0.1/",  # reserved
        "https://255.255.255.255/",
        "https://0.0.0.0/",
        "https://0/",
        "https://0x7f000001/",
        "https://0X7F.1/",
        "https://2130706433/",
        "https://127.1/",
        "https://0177.0.0.1/",
        "https://0251.0376.0251.0376/",  # 169.254.169.254 in octal
        "https://localhost/",
        "https://LOCALHOST./",
        "https://anything.localhost/",
        "https://127.0.0.1./",
        "https://\uff11\uff12\uff17.0.0.1/",  # full-width digits: 127.0.0.1 once normalised as IDNA does
        "https://[::1]/",
        "https://[::]/",
        "https://[fd00::1]/",
        "https://[fe80::1%25eth0]/",
        "https://[fec0::1]/",  # site-local
        "https://[ff02::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:7f00:1]/",
        "https://[::127.0.0.1]/",  # IPv4-compatible
        "https://[64:ff9b::10.0.0.1]/",  # NAT64
        "https://[2002:c0a8:0101::1]/",  # 6to4 of 192.168.1.1
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
        "https://public.example@127.0.0.1/",  # what looks like the host is the user name
    ],
)
def test_private_addresses_in_any_notation_are_refused(url: str) -> None:
    assert reason(url) == "private address"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://files.example.com/x", "not an http(s) URL"),
        ("file:///etc/passwd", "not an http(s) URL"),
        ("gopher://127.0.0.1:6379/_INFO", "not an http(s) URL"),
        ("https://", "invalid URL"),
        ("https://[::1", "invalid URL"),
        ("https://hooks.example.com:99999/", "invalid URL"),
        ("https://hooks.example.com/a b", "invalid URL"),
        ("https://hooks.example.com/\r\nX-Injected: 1", "invalid URL"),
        ("https://evil.example\\@127.0.0.1/", "invalid URL"),
        ("https://1.2.3.4.5/", "invalid URL"),  # ends in a number, yet no address: browsers refuse it too
        ("https://256.0.0.1/", "invalid URL"),
        ("https://0x100000000/", "invalid URL"),
        ("https://08.0.0.1/", "invalid URL"),  # 8 is no octal digit
        ("http://hooks.example.com/", "plain http"),
    ],
)
def test_other_urls_are_refused_with_their_reason(url: str, expected: str) -> None:
    assert reason(url) == expected


def test_the_local_stack_settings_allow_loopback_and_http_and_nothing_else_private() -> None:
    local = Policy.from_env({ALLOW_HTTP_ENV: "1", ALLOW_LOOPBACK_ENV: "1"})
    assert local == Policy(allow_http=True, allow_loopback=True)
    for url in ("http://127.0.0.1:9000/hook", "http://localhost:9000/", "http://[::1]/", "http://2130706433/"):
        assert reason(url, local) is None, url
    for url in ("http://169.254.169.254/", "http://10.0.0.1/", "http://0.0.0.0/", "http://[fd00::1]/"):
        assert reason(url, local) == "private address", url
    assert Policy.from_env({}) == Policy() == Policy.from_env({ALLOW_HTTP_ENV: "0", ALLOW_LOOPBACK_ENV: ""})


def test_a_refusal_says_why_without_quoting_the_url() -> None:
    with pytest.raises(Refused) as caught:
        check_url("https://169.254.169.254/latest/meta-data/?token=secret", Policy())
    assert str(caught.value) == "refused: private address"
    assert "169.254" not in caught.value.message and "secret" not in caught.value.message
    assert caught.value.message.startswith("This URL points to a private address")
