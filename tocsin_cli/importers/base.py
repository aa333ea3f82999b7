"""What every importer shares: the Tocsin side (find by name, create once), the plan and the ingest URL table.

An importer reads its source with an ``httpx.Client`` (injected, so tests serve recorded responses), maps each
object and asks :class:`Run` to ensure it exists in Tocsin. ``Run`` looks the object up first (by name, and type
for integrations; users by e-mail) and reuses it, so a second run creates nothing new. With ``dry_run`` it only
reads Tocsin and records what it would do; objects it would create get placeholder ids (``<new team Ops>``).
Whatever cannot be mapped is recorded as ``skip`` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

CREATE, REUSE, SKIP = "create", "reuse", "skip"
REUSED_URL = "existing: use regenerate_token to get a new URL"


def same(**fields: Any) -> Callable[[dict[str, Any]], bool]:
    """What :meth:`Run.ensure` reuses: an existing object with these values."""
    return lambda item: all(item.get(name) == value for name, value in fields.items())


class ImportFailed(Exception):
    """The source (or Tocsin) could not be read at all."""


@dataclass
class Entry:
    kind: str
    source_id: str
    name: str
    action: str
    reason: str = ""
    tocsin_id: str | None = None


@dataclass
class IngestUrl:
    name: str
    old: str
    new: str


@dataclass
class Run:
    """One import into Tocsin (``tocsin``: an ``httpx.Client`` with Tocsin's base URL and API key)."""

    tocsin: httpx.Client
    dry_run: bool = False
    entries: list[Entry] = field(default_factory=list)
    urls: list[IngestUrl] = field(default_factory=list)
    refused: int = 0
    _lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _users_by_email: dict[str, dict[str, Any]] | None = None

    # --- Tocsin reads and writes --------------------------------------------------------------------------------

    def existing(self, path: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Every object of a Tocsin listing (all pages), cached for the run."""
        if params and any(str(v).startswith("<new ") for v in params.values()):
            return []  # the parent is only planned (dry run): it has no children yet
        key = path + "?" + "&".join(f"{k}={v}" for k, v in sorted((params or {}).items()))
        if key not in self._lists:
            items: list[dict[str, Any]] = []
            page = 1
            while True:
                body = self._request("GET", path, params={**(params or {}), "page": page, "perpage": 100})
                items.extend(body["results"])
                if not body.get("next"):
                    break
                page += 1
            self._lists[key] = items
        return self._lists[key]

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.tocsin.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise Refused(response)
        return response.json() if response.content else None

    # --- the plan ----------------------------------------------------------------------------------------------

    def record(
        self, kind: str, source_id: Any, name: str, action: str, reason: str = "", tocsin_id: str | None = None
    ) -> Entry:
        entry = Entry(kind, str(source_id), name, action, reason, tocsin_id)
        self.entries.append(entry)
        return entry

    def skip(self, kind: str, source_id: Any, name: str, reason: str) -> None:
        self.record(kind, source_id, name, SKIP, reason)

    def ensure(
        self,
        kind: str,
        source_id: Any,
        name: str,
        path: str,
        body: dict[str, Any],
        *,
        match: Callable[[dict[str, Any]], bool] | None = None,
        list_params: dict[str, str] | None = None,
        reason: str = "",
    ) -> tuple[str | None, dict[str, Any] | None]:
        """The Tocsin id of the object (reused or created; None if Tocsin refused it) and the create response
        (None when reused or planned)."""
        match = match or (lambda item: item.get("name") == name)
        found = next((item for item in self.existing(path, list_params) if match(item)), None)
        if found is not None:
            self.record(kind, source_id, name, REUSE, _join("found by name in Tocsin", reason), found["id"])
            return found["id"], None
        if self.dry_run:
            planned = f"<new {kind} {name}>"
            self.record(kind, source_id, name, CREATE, reason, planned)
            return planned, None
        try:
            created = self._request("POST", path, json=body)
        except Refused as refusal:
            self.refused += 1
            self.skip(kind, source_id, name, f"refused by Tocsin: {refusal}")
            return None, None
        self.existing(path, list_params).append(created)
        self.record(kind, source_id, name, CREATE, reason, created["id"])
        return created["id"], created

    def user_by_email(self, email: str) -> dict[str, Any] | None:
        if self._users_by_email is None:
            self._users_by_email = {u["email"].lower(): u for u in self.existing("/api/v1/users/") if u.get("email")}
        return self._users_by_email.get(email.lower())

    def ensure_user(
        self,
        source_id: Any,
        email: str | None,
        username: str,
        *,
        timezone: str | None = None,
        teams: list[str] | None = None,
    ) -> str | None:
        """Users are matched by e-mail: an existing Tocsin user is reused, a missing one created as editor."""
        if not email:
            self.skip("user", source_id, username, "no e-mail address to match a Tocsin user by")
            return None
        if found := self.user_by_email(email):
            self.record("user", source_id, email, REUSE, "same e-mail in Tocsin", found["id"])
            return str(found["id"])
        taken = {u["username"] for u in self.existing("/api/v1/users/")}
        body: dict[str, Any] = {
            "username": email if username in taken or not username else username,
            "email": email,
            "role": "editor",
            "teams": [t for t in teams or [] if t and not t.startswith("<new ")],
        }
        if timezone:
            body["timezone"] = timezone
        user_id, created = self.ensure(
            "user", source_id, email, "/api/v1/users/", body, match=lambda u: False, reason="role editor"
        )
        if created is not None and self._users_by_email is not None:
            self._users_by_email[email.lower()] = created
        return user_id

    # --- what every source has: schedules and their shifts, escalation chains and their steps, integrations -----

    def ensure_web_schedule(self, source_id: Any, name: str, time_zone: str | None, team_id: str | None) -> str | None:
        body = {"name": name, "type": "web", "time_zone": time_zone or "UTC", "team_id": team_id}
        schedule_id, _ = self.ensure("schedule", source_id, name, "/api/v1/schedules/", body)
        return schedule_id

    def ensure_shift(
        self, kind: str, source_id: Any, label: str, schedule_id: str, body: dict[str, Any], *, reason: str = ""
    ) -> None:
        """A shift of the schedule (``body`` without its ``schedule_id``), found by its name within the schedule."""
        self.ensure(
            kind,
            source_id,
            label,
            "/api/v1/on_call_shifts/",
            {**body, "schedule_id": schedule_id},
            match=same(name=body["name"]),
            list_params={"schedule_id": schedule_id},
            reason=reason,
        )

    def ensure_override(
        self, source_id: Any, label: str, schedule_id: str, name: str, user: str | None, start: str, end: str
    ) -> None:
        """``user`` on call from ``start`` to ``end`` (ISO 8601); skipped when that user was not imported."""
        if not user:
            self.skip("override", source_id, label, "its user was not imported")
            return
        begins, ends = datetime.fromisoformat(start), datetime.fromisoformat(end)
        body = {
            "name": name,
            "type": "override",
            "start": begins.isoformat(),
            "duration": int((ends - begins).total_seconds()),
            "users": [user],
        }
        self.ensure_shift("override", source_id, label, schedule_id, body)

    def ensure_chain(self, source_id: Any, name: str, team_id: str | None) -> tuple[str | None, bool]:
        """The escalation chain's Tocsin id, and whether its steps are to be added: only to a chain this run creates
        (or plans); a chain found by name keeps the steps it has."""
        body = {"name": name, "team_id": team_id}
        chain_id, created = self.ensure("escalation_chain", source_id, name, "/api/v1/escalation_chains/", body)
        return chain_id, chain_id is not None and (created is not None or chain_id.startswith("<new "))

    def add_step(self, chain_id: str, source_id: Any, label: str, step: dict[str, Any]) -> None:
        """A step at the end of a chain this run creates (steps have no name to find them by: always created)."""
        self.ensure(
            "escalation_policy",
            source_id,
            label,
            "/api/v1/escalation_policies/",
            {"escalation_chain_id": chain_id, **step},
            match=lambda p: False,
        )

    def ensure_integration(
        self, source_id: Any, body: dict[str, Any], *, reason: str = ""
    ) -> tuple[str | None, dict[str, Any] | None]:
        """The integration ``body`` describes, found by name and type: its id and the create response, if created
        (:meth:`ingest_url` tells its new URL)."""
        name, match = body["name"], same(name=body["name"], type=body["type"])
        return self.ensure("integration", source_id, name, "/api/v1/integrations/", body, match=match, reason=reason)

    def ingest_url(
        self,
        name: str,
        old: str,
        tocsin_id: str | None,
        created: dict[str, Any] | None,
        new_key: str = "link",
        prefix: str = "",
    ) -> None:
        if tocsin_id is None:
            new = "(not created: see the plan)"
        elif created is not None:
            new = prefix + str(created.get(new_key) or "")
        elif self.dry_run and tocsin_id.startswith("<new "):
            new = "(new URL shown by the real run)"
        else:
            new = REUSED_URL
        self.urls.append(IngestUrl(name, old, new))

    # --- summaries ---------------------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        out = {CREATE: 0, REUSE: 0, SKIP: 0}
        for entry in self.entries:
            out[entry.action] += 1
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "plan": [entry.__dict__ for entry in self.entries],
            "ingest_urls": [url.__dict__ for url in self.urls],
            "counts": self.counts(),
        }


class Refused(Exception):
    def __init__(self, response: httpx.Response) -> None:
        try:
            detail: Any = response.json()
        except ValueError:
            detail = response.text
        super().__init__(f"{response.status_code} {detail}")


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def fetch_json(http: httpx.Client, path: str, params: dict[str, Any] | None = None, optional: bool = False) -> Any:
    """One GET of the source API; ``optional`` answers None instead of failing (features the account lacks)."""
    try:
        response = http.get(path, params=params)
    except httpx.HTTPError as error:
        raise ImportFailed(f"cannot reach {http.base_url}{path}: {error}") from error
    if response.status_code >= 400:
        if optional:
            return None
        raise ImportFailed(f"{http.base_url}{path} answered {response.status_code}: {response.text[:300]}")
    return response.json()


def clamp_wait(seconds: float) -> int:
    """Tocsin's wait step lasts 60 s to a day."""
    return int(min(max(seconds, 60), 86_400))
