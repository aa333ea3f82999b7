"""The console's security headers and its sign-in return address, through the real web handler (issue #16.6)."""

from __future__ import annotations

from types import ModuleType
from urllib.parse import urlencode

import pytest

from tests.integration.web_browser import Browser

EXPECTED = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def test_every_console_response_carries_a_strict_content_security_policy(web: ModuleType, admin_key: str) -> None:
    anonymous = Browser(web)
    responses = {
        "sign-in page": anonymous.call("GET", "/ui/signin"),
        "redirect to sign in": anonymous.call("GET", "/ui/groups"),
        "root redirect": anonymous.call("GET", "/"),
        "static file": anonymous.call("GET", "/ui/static/htmx.min.js"),
        "unknown static file": anonymous.call("GET", "/ui/static/nope.js"),
        "not the console": anonymous.call("GET", "/elsewhere"),
        "post without session": anonymous.call("POST", "/ui/integrations", {}),
    }
    browser = Browser(web)
    responses["signed in"] = browser.sign_in(admin_key)
    responses["page"] = browser.call("GET", "/ui/integrations")
    responses["htmx fragment"] = browser.call("GET", "/ui/groups", **{"hx-request": "true"})
    responses["not found page"] = browser.call("GET", "/ui/nothing-here")
    responses["expired form"] = browser.call("POST", "/ui/integrations", {"csrf_token": "forged"})
    for name, response in responses.items():
        headers = response["headers"]
        assert {k: headers.get(k) for k in EXPECTED} == EXPECTED, name
    assert "<script>" not in responses["page"]["body"]  # nothing inline for the policy to refuse
    assert "<script src=" in responses["page"]["body"]


@pytest.mark.parametrize(
    "target",
    [
        "/ui/groups\r\nSet-Cookie: stolen=1",
        "/ui/groups\nX-Injected: 1",
        "/ui/\tgroups",
        "/ui/groups x",
        "https://evil.example/ui/",
        "//evil.example/ui/",
        "/\\evil.example",
        "/ui\\..\\..\\evil",
        "javascript:alert(1)",
        "/uievil",
        "/ui/é",
        "",
    ],
)
def test_sign_in_with_an_unsafe_return_address_goes_home(web: ModuleType, admin_key: str, target: str) -> None:
    browser = Browser(web)
    token = browser.csrf("/ui/signin?" + urlencode({"next": target}))
    response = browser.call("POST", "/ui/signin", {"api_key": admin_key, "csrf_token": token, "next": target})
    assert response["statusCode"] == 303 and response["headers"]["Location"] == "/ui/groups"


def test_sign_in_returns_to_a_page_of_the_console(web: ModuleType, admin_key: str) -> None:
    browser = Browser(web)
    token = browser.csrf("/ui/signin")
    target = "/ui/groups?state=firing&started_at=2026-01-01T00:00:00_2026-02-01T00:00:00"
    response = browser.call("POST", "/ui/signin", {"api_key": admin_key, "csrf_token": token, "next": target})
    assert response["statusCode"] == 303 and response["headers"]["Location"] == target
