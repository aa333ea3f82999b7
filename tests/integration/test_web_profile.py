"""The web console's profile page on DynamoDB Local: contact points and settings, personal notification rules.

Every change is made through the console's forms (the real web handler) and checked through the real API; the
permissions are checked against the API's answers to the same change, and an escalation is run on the rules the
console set.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from oncall import schemas
from oncall.bootstrap import ADMIN_USER_ID
from pydantic import ValidationError

from tests.integration.conftest import Invoke
from tests.integration.escalation_world import START, World
from tests.integration.web_browser import Browser

PHONE = "+4915123456789"


def _person(api: Invoke, username: str, role: str = "editor", **fields: Any) -> tuple[dict[str, Any], str]:
    """A user (made through the API) and the secret of a new API key of theirs."""
    status, user = api("POST", "/api/v1/users/", {"username": username, "role": role, **fields})
    assert status == 201, user
    status, key = api("POST", "/api/v1/api_keys/", {"name": "web", "user_id": user["id"]})
    assert status == 201, key
    return dict(user), str(key["key"])


def _browser(web: ModuleType, key: str) -> Browser:
    browser = Browser(web)
    assert browser.sign_in(key)["statusCode"] == 303
    return browser


def _post(browser: Browser, path: str, form: dict[str, str] | None = None, page: str = "/ui/profile") -> dict[str, Any]:
    """Submit a form from ``page`` (the referer, where a refusal leads back) with the session's CSRF token."""
    token = browser.csrf("/ui/users")
    return browser.call("POST", path, {"csrf_token": token, **(form or {})}, referer=f"https://tocsin.test{page}")


def _flash(response: dict[str, Any]) -> dict[str, str]:
    assert response["statusCode"] == 303, response
    query = parse_qs(urlsplit(response["headers"]["Location"]).query)
    return {k: v[0] for k, v in query.items() if k != "sig"}


def _page(browser: Browser, path: str) -> str:
    response = browser.call("GET", path)
    assert response["statusCode"] == 200, response
    return html.unescape(response["body"])


def _section(page: str, section_id: str) -> str:
    match = re.search(rf'<section[^>]*id="{section_id}".*?</section>', page, re.S)
    assert match, (section_id, page)
    return match[0]


def _rules(api: Invoke, user_id: str) -> list[tuple[str, bool, int, int | None]]:
    """The user's rules as the API lists them: (type, important, position, duration), in order."""
    status, listing = api("GET", "/api/v1/personal_notification_rules/", query=f"user_id={user_id}")
    assert status == 200, listing
    rules = sorted(listing["results"], key=lambda r: (r["important"], r["position"]))
    return [(r["type"], r["important"], r["position"], r["duration"]) for r in rules]


def _rule_ids(api: Invoke, user_id: str, important: bool = False) -> list[str]:
    listing = api("GET", "/api/v1/personal_notification_rules/", query=f"user_id={user_id}")[1]["results"]
    return [r["id"] for r in sorted(listing, key=lambda r: r["position"]) if r["important"] == important]


def _add(browser: Browser, user_id: str, rule_type: str, important: bool = False, **extra: str) -> dict[str, Any]:
    form = {"type": rule_type, "important": "true" if important else "false", "duration": "300", **extra}
    return _post(browser, f"/ui/users/{user_id}/rules", form)


def _contacts(**fields: str) -> dict[str, str]:
    return {"email": "", "phone_number": "", "webhook_url": "", "webhook_format": "json", "timezone": "UTC", **fields}


def test_a_responder_gets_pageable_and_orders_their_rules(web: ModuleType, admin_key: str, api: Invoke) -> None:
    alice, alice_key = _person(api, "alice")
    admin, me = _browser(web, admin_key), _browser(web, alice_key)

    # an admin sets her contact points and settings (the API lets only admins change users)
    page = _page(admin, f"/ui/users/{alice['id']}/profile")
    assert "<h1>Profile of alice</h1>" in page and 'action="/ui/users/' in page
    contacts = _contacts(email="alice@example.com", phone_number=PHONE, timezone="Europe/Berlin")
    saved = _post(admin, f"/ui/users/{alice['id']}/profile", contacts, f"/ui/users/{alice['id']}/profile")
    assert _flash(saved) == {"notice": "alice's contact points and settings were saved."}
    assert saved["headers"]["Location"].startswith(f"/ui/users/{alice['id']}/profile?")
    user = api("GET", f"/api/v1/users/{alice['id']}/")[1]
    assert (user["email"], user["phone_number"], user["timezone"], user["webhook_url"]) == (
        "alice@example.com",
        PHONE,
        "Europe/Berlin",
        None,
    )

    # she sees them (and could change them herself), and builds her own rules
    page = _page(me, "/ui/profile")
    assert "<h1>My profile</h1>" in page and 'name="phone_number" type="tel"' in page and PHONE in page
    assert "No steps: Tocsin's default applies: E-mail alice@example.com." in _section(page, "default-rules")
    assert f"E-mail alice@example.com, then SMS {PHONE}" in _section(page, "important-rules")
    for rule_type in ("notify_by_email", "wait", "notify_by_sms"):
        assert _flash(_add(me, alice["id"], rule_type)) == {"notice": "Step added to default notifications."}
    assert _flash(_add(me, alice["id"], "notify_by_sms", important=True)) == {
        "notice": "Step added to important notifications."
    }
    assert _rules(api, alice["id"]) == [
        ("notify_by_email", False, 0, None),
        ("wait", False, 1, 300),
        ("notify_by_sms", False, 2, None),
        ("notify_by_sms", True, 0, None),
    ]
    page = _page(me, "/ui/profile")
    default, important = _section(page, "default-rules"), _section(page, "important-rules")
    assert default.index("E-mail alice@example.com") < default.index("Wait 5 min") < default.index(f"SMS {PHONE}")
    assert f"SMS {PHONE}" in important and "E-mail" not in important.split("</table>")[0]
    assert 'id="warnings"' not in page

    # reorder: the SMS step up, before the wait; the first step cannot go further up
    email, wait, sms = _rule_ids(api, alice["id"])
    moved = _post(me, f"/ui/users/{alice['id']}/rules/{sms}/up")
    assert _flash(moved) == {"notice": "Step moved up."} and moved["headers"]["Location"].startswith("/ui/profile?")
    assert _rule_ids(api, alice["id"]) == [email, sms, wait]
    assert _flash(_post(me, f"/ui/users/{alice['id']}/rules/{email}/up"))["notice"] == "The step is already first."
    assert _flash(_post(me, f"/ui/users/{alice['id']}/rules/{email}/down")) == {"notice": "Step moved down."}
    assert _rule_ids(api, alice["id"]) == [sms, email, wait]
    assert _rule_ids(api, alice["id"], important=True) == [_rule_ids(api, alice["id"], True)[0]]  # untouched

    # delete the wait
    assert _flash(_post(me, f"/ui/users/{alice['id']}/rules/{wait}/delete")) == {"notice": "Step deleted."}
    assert _rules(api, alice["id"]) == [
        ("notify_by_sms", False, 0, None),
        ("notify_by_email", False, 1, None),
        ("notify_by_sms", True, 0, None),
    ]
    default = _section(_page(me, "/ui/profile"), "default-rules")
    assert default.index(f"SMS {PHONE}") < default.index("E-mail alice@example.com") and "Wait 5 min" not in default

    # the users page links to the profiles
    assert f'href="/ui/users/{alice["id"]}/profile"' in _page(admin, "/ui/users")
    listing = _page(me, "/ui/users")
    assert 'href="/ui/profile">My profile</a>' in listing and "/profile" not in listing.replace('"/ui/profile"', "")


def test_an_invalid_phone_number_shows_the_models_message_and_stores_nothing(
    web: ModuleType, admin_key: str, api: Invoke
) -> None:
    bob, _ = _person(api, "bob", email="bob@example.com")
    admin = _browser(web, admin_key)
    path = f"/ui/users/{bob['id']}/profile"
    form = _contacts(email="new@example.com", phone_number="0151 2345678")
    refused = _post(admin, path, form, path)
    with pytest.raises(ValidationError) as caught:
        schemas.UserPatch(phone_number="0151 2345678")
    message = caught.value.errors()[0]["msg"]
    page = html.unescape(refused["body"])
    assert refused["statusCode"] == 400 and f"Phone number: {message}" in page
    assert 'value="0151 2345678"' in page and 'value="new@example.com"' in page  # what was typed stays
    assert api("PATCH", f"/api/v1/users/{bob['id']}/", {"phone_number": "0151 2345678"}) == (
        400,
        {"phone_number": [message]},
    )  # the API's answer to the same change
    user = api("GET", f"/api/v1/users/{bob['id']}/")[1]
    assert (user["email"], user["phone_number"]) == ("bob@example.com", None)

    # a crafted wait outside the API's bounds: its message, on the page it came from; nothing stored
    short = _post(admin, f"/ui/users/{bob['id']}/rules", {"type": "wait", "important": "false", "duration": "7"}, path)
    assert _flash(short) == {"error": "duration: Ensure this value is greater than or equal to 60."}
    assert short["headers"]["Location"].startswith(f"{path}?")
    assert _rules(api, bob["id"]) == []


def test_only_admins_open_or_change_someone_elses_profile(web: ModuleType, admin_key: str, api: Invoke) -> None:
    olga, _ = _person(api, "olga", email="olga@example.com")
    status, olga_rule = api("POST", "/api/v1/personal_notification_rules/", {"user_id": olga["id"], "type": "wait"})
    assert status == 201, olga_rule
    vera, vera_key = _person(api, "vera", "viewer")
    eddie, eddie_key = _person(api, "eddie", "editor")

    def api_as(key: str) -> Invoke:
        return lambda method, path, body=None, **kw: api(method, path, body, key_header=key, **kw)

    for key in (vera_key, eddie_key):
        browser, as_them = _browser(web, key), api_as(key)
        assert browser.call("GET", f"/ui/users/{olga['id']}/profile")["statusCode"] == 403
        attempts = [
            (f"/ui/users/{olga['id']}/profile", _contacts(email="evil@example.com")),
            (f"/ui/users/{olga['id']}/rules", {"type": "notify_by_sms", "important": "false"}),
            (f"/ui/users/{olga['id']}/rules/{olga_rule['id']}/delete", {}),
            (f"/ui/users/{olga['id']}/rules/{olga_rule['id']}/down", {}),
        ]
        for path, form in attempts:
            assert _post(browser, path, form)["statusCode"] == 403, path
        # the API refuses the same changes
        assert as_them("PATCH", f"/api/v1/users/{olga['id']}/", {"email": "evil@example.com"})[0] == 403
        sms = {"user_id": olga["id"], "type": "notify_by_sms"}
        assert as_them("POST", "/api/v1/personal_notification_rules/", sms)[0] == 403
        assert as_them("DELETE", f"/api/v1/personal_notification_rules/{olga_rule['id']}/")[0] == 403
    assert api("GET", f"/api/v1/users/{olga['id']}/")[1]["email"] == "olga@example.com"
    assert _rules(api, olga["id"]) == [("wait", False, 0, 300)]

    # their own profile: both open it and set their own contact points (not their role); rules need an editor
    viewer, editor = _browser(web, vera_key), _browser(web, eddie_key)
    for browser, user, key in ((viewer, vera, vera_key), (editor, eddie, eddie_key)):
        page = _page(browser, "/ui/profile")
        assert "<h1>My profile</h1>" in page and 'name="phone_number"' in page
        saved = _post(browser, f"/ui/users/{user['id']}/profile", _contacts(phone_number=PHONE), "/ui/profile")
        assert _flash(saved) == {"notice": "Your contact points and settings were saved."}
        assert api("GET", f"/api/v1/users/{user['id']}/")[1]["phone_number"] == PHONE
        assert api_as(key)("PATCH", f"/api/v1/users/{user['id']}/", {"timezone": "Europe/Paris"})[0] == 200
        assert api_as(key)("PATCH", f"/api/v1/users/{user['id']}/", {"role": "admin"})[0] == 403
        assert api("GET", f"/api/v1/users/{user['id']}/")[1]["role"] == user["role"]
    assert "Add to default notifications" not in _page(viewer, "/ui/profile")
    assert "Viewers cannot change their notification rules" in _page(viewer, "/ui/profile")
    assert _add(viewer, vera["id"], "notify_by_email")["statusCode"] == 403
    viewer_rule = {"user_id": vera["id"], "type": "notify_by_email"}
    assert api_as(vera_key)("POST", "/api/v1/personal_notification_rules/", viewer_rule)[0] == 403
    assert _rules(api, vera["id"]) == []
    assert "Add to default notifications" in _page(editor, "/ui/profile")
    assert _flash(_add(editor, eddie["id"], "notify_by_email"))["notice"] == "Step added to default notifications."
    assert _rules(api, eddie["id"]) == [("notify_by_email", False, 0, None)]

    # an admin: anyone's profile, contact points and rules
    admin = _browser(web, admin_key)
    path = f"/ui/users/{olga['id']}/profile"
    assert "Save contact points and settings" in _page(admin, path)
    assert _flash(_post(admin, path, _contacts(email="olga@example.com", phone_number=PHONE), path))["notice"]
    assert api("GET", f"/api/v1/users/{olga['id']}/")[1]["phone_number"] == PHONE
    assert _flash(_add(admin, olga["id"], "notify_by_sms", important=True))["notice"]
    assert _flash(_post(admin, f"/ui/users/{olga['id']}/rules/{olga_rule['id']}/delete", page=path))["notice"]
    assert _rules(api, olga["id"]) == [("notify_by_sms", True, 0, None)]
    assert admin.call("GET", "/ui/users/UNOSUCHUSER/profile")["statusCode"] == 404
    assert _page(admin, f"/ui/users/{ADMIN_USER_ID}/profile").count("<h1>My profile</h1>") == 1


def test_the_warning_for_a_missing_contact_point_is_what_escalation_does(
    web: ModuleType, admin_key: str, api: Invoke, world: World
) -> None:
    carol, carol_key = _person(api, "carol", email="carol@example.com")
    sam, _ = _person(api, "sam")  # no contact point at all
    admin, me = _browser(web, admin_key), _browser(web, carol_key)
    # carol: SMS, wait 5 min, e-mail (set in the console); no phone number yet
    for rule_type in ("notify_by_sms", "wait", "notify_by_email"):
        assert _flash(_add(me, carol["id"], rule_type))["notice"]
    page = _page(me, "/ui/profile")
    warnings = _section(page, "warnings")
    skipped = "SMS steps are skipped because you have no phone number; the alert group's timeline says"
    assert f"Default notifications: {skipped} “SMS to carol not sent: no SMS address”" in warnings
    assert "Important notifications: SMS steps are skipped" in warnings  # Tocsin's default for important: e-mail, SMS
    assert "SMS (no phone number: skipped)" in _section(page, "default-rules")
    sam_page = _page(admin, f"/ui/users/{sam['id']}/profile")
    assert "Default notifications: E-mail steps are skipped because sam has no e-mail address" in sam_page
    assert "“e-mail to sam not sent: no e-mail address”" in sam_page

    integration = world.integration(
        world.chain({"type": "notify_persons", "persons_to_notify": [carol["id"], sam["id"]]})
    )
    group = world.alert(integration)
    world.executor.run(world.services)
    assert world.notifier.sent == [(START + timedelta(minutes=5), "email", "carol@example.com")]
    timeline = world.timeline(group)
    assert "SMS to carol not sent: no SMS address" in timeline
    assert "e-mail to sam not sent: no e-mail address" in timeline

    # with a phone number (set by an admin) the warning goes and the console's rules page her in order
    path = f"/ui/users/{carol['id']}/profile"
    assert _flash(_post(admin, path, _contacts(email="carol@example.com", phone_number=PHONE), path))["notice"]
    assert "SMS steps are skipped" not in _page(me, "/ui/profile")
    world.notifier.sent.clear()
    world.clock.current = START + timedelta(hours=1)
    world.alert(integration, uid="2")
    world.executor.run(world.services)
    assert world.notifier.sent == [
        (START + timedelta(hours=1), "sms", PHONE),
        (START + timedelta(hours=1, minutes=5), "email", "carol@example.com"),
    ]


def test_a_personal_webhook_url_is_write_only_yet_still_delivers(
    web: ModuleType, admin_key: str, api: Invoke, world: World
) -> None:
    """A Slack incoming-webhook URL lets whoever has it post: the API and the console say that one is set, to
    everyone (its owner and admins too), never what it is; writes that leave it out or send the mask keep it."""
    secret = "https://hooks.slack.example/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
    dana, dana_key = _person(api, "dana", email="dana@example.com")
    _, vic_key = _person(api, "vic", role="viewer")
    path = f"/api/v1/users/{dana['id']}/"
    status, saved = api("PATCH", path, {"webhook_url": secret, "webhook_format": "slack"}, key_header=dana_key)
    assert (status, saved["webhook_url"]) == (200, schemas.MASK)
    for key in (dana_key, vic_key, None):  # herself, a viewer, the admin
        shown = api("GET", path, key_header=key)[1] if key else api("GET", path)[1]
        assert shown["webhook_url"] == schemas.MASK and shown["webhook_format"] == "slack"
        listing = api("GET", "/api/v1/users/", key_header=key) if key else api("GET", "/api/v1/users/")
        assert secret not in str(listing) and secret not in str(api("GET", "/api/v1/users/current/", key_header=key))

    # a write without the field, and the read object written back whole (the mask in it), keep the URL
    assert api("PATCH", path, {"timezone": "Europe/Berlin"}, key_header=dana_key)[1]["webhook_url"] == schemas.MASK
    read = api("GET", path)[1]
    assert api("PUT", path, read)[0] == 200
    assert api("POST", "/api/v1/users/", {"username": "eve", "webhook_url": schemas.MASK})[0] == 400

    # the console: set, not shown; an empty field keeps it
    me, admin = _browser(web, dana_key), _browser(web, admin_key)
    mine, theirs = _page(me, "/ui/profile"), _page(admin, f"/ui/users/{dana['id']}/profile")
    assert "One is set; it is a secret, so it is not shown: empty keeps it." in mine
    assert 'name="webhook_url_clear"' in mine and 'name="webhook_url_clear"' in theirs
    for page in (mine, theirs):
        assert secret not in page and "hooks.slack.example" not in page
    kept = _contacts(email="dana@example.com", webhook_format="slack", timezone="Europe/Berlin")
    assert _flash(_post(me, f"/ui/users/{dana['id']}/profile", kept))["notice"] == (
        "Your contact points and settings were saved."
    )

    # ... and the notification goes to the URL itself
    world.rule(dana["id"], type="notify_by_webhook")
    page = _page(me, "/ui/profile")
    assert "Webhook to the personal webhook URL (slack format)" in _section(page, "default-rules")
    assert secret not in page
    world.alert(world.integration(world.chain({"type": "notify_persons", "persons_to_notify": [dana["id"]]})))
    world.executor.run(world.services)
    assert [(channel, to) for _, channel, to in world.notifier.sent] == [("webhook", secret)]
    assert world.notifier.bodies[0]["blocks"]  # the Slack format

    # a new URL replaces it, the box removes it, and so does null through the API
    other = "https://hooks.slack.example/services/T000/B000/YYYYYYYYYYYYYYYYYYYYYYYY"
    assert _flash(_post(me, f"/ui/users/{dana['id']}/profile", {**kept, "webhook_url": other}))["notice"]
    assert world.store.users.get(dana["id"]).webhook_url == other  # type: ignore[union-attr]
    assert _flash(_post(me, f"/ui/users/{dana['id']}/profile", {**kept, "webhook_url_clear": "on"}))["notice"]
    assert api("GET", path)[1]["webhook_url"] is None
    assert "None is set." in _page(me, "/ui/profile")
    api("PATCH", path, {"webhook_url": secret})
    assert api("PATCH", path, {"webhook_url": None}, key_header=dana_key)[1]["webhook_url"] is None
