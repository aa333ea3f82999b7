"""Driving the web console's real handler as a browser does, for the integration tests of its pages."""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

from oncall.web import session

from tests.integration.conftest import (
    Context,
    http_event,
)


class Browser:
    """Calls the web handler like a browser: keeps cookies (sent to the paths they are set for), signs in through
    the sign-in form (its pre-session cookie and token), reads the CSRF token from pages."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.cookies: dict[str, tuple[str, str]] = {}  # name -> (value, path)

    @property
    def cookie(self) -> str | None:
        """The session cookie's value."""
        return self.cookies.get(session.COOKIE_NAME, ("", ""))[0] or None

    @cookie.setter
    def cookie(self, value: str | None) -> None:
        if value:
            self.cookies[session.COOKIE_NAME] = (value, session.COOKIE_PATH)
        else:
            self.cookies.pop(session.COOKIE_NAME, None)

    def call(
        self, method: str, path: str, form: dict[str, str | list[str]] | None = None, **headers: str
    ) -> dict[str, Any]:
        path, _, query = path.partition("?")
        event = http_event(
            method,
            path,
            raw_body=urlencode(form, doseq=True) if form is not None else None,
            headers={"content-type": "application/x-www-form-urlencoded", **headers},
            query=query,
        )
        sent = [f"{name}={value}" for name, (value, scope) in self.cookies.items() if path.startswith(scope)]
        if sent:
            event["cookies"] = sent
        response: dict[str, Any] = self.module.handler(event, Context())
        for cookie in response.get("cookies", []):
            pair, *attributes = [part.strip() for part in cookie.split(";")]
            name, _, value = pair.partition("=")
            scope = next((a.split("=", 1)[1] for a in attributes if a.startswith("Path=")), "/")
            if value and "Max-Age=0" not in attributes:
                self.cookies[name] = (value, scope)
            else:
                self.cookies.pop(name, None)
        return response

    def sign_in(self, key: str, **headers: str) -> dict[str, Any]:
        """Opens the sign-in page (its cookie and token), then submits the form."""
        token = self.csrf("/ui/signin", **headers)
        return self.call("POST", "/ui/signin", {"api_key": key, "csrf_token": token}, **headers)

    def csrf(self, path: str = "/ui/groups", **headers: str) -> str:
        page = self.call("GET", path, **headers)["body"]
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, page
        return match[1]
