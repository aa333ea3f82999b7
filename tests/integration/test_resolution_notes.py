"""Resolution notes as OnCall's ``/api/v1/resolution_notes/`` and on the console's alert group page, through the
real api and web handlers on DynamoDB Local; who may write them is the policy table's answer."""

from __future__ import annotations

import re
from types import ModuleType

from oncall.services import policy
from oncall.services.policy import Action, Principal, Resource

from tests.integration.conftest import Invoke, post_alert
from tests.integration.web_browser import Browser


def _group(api: Invoke, ingest_handler: ModuleType, title: str = "Disk full") -> str:
    status, integration = api("POST", "/api/v1/integrations/", {"name": f"Notes {title}", "type": "webhook"})
    assert status == 201, integration
    assert post_alert(ingest_handler, integration["link"], {"title": title})[0] == 200
    groups = api("GET", "/api/v1/alert_groups/", query=f"integration_id={integration['id']}")[1]["results"]
    return str(groups[0]["id"])


def _key(api: Invoke, role: str) -> str:
    status, user = api("POST", "/api/v1/users/", {"username": f"notes-{role}", "role": role})
    assert status == 201, user
    status, key = api("POST", "/api/v1/api_keys/", {"name": "notes", "user_id": user["id"]})
    assert status == 201, key
    return str(key["key"])


def test_resolution_notes_api_as_oncall(api: Invoke, ingest_handler: ModuleType) -> None:
    first, second = _group(api, ingest_handler), _group(api, ingest_handler, "CPU hot")
    status, note = api("POST", "/api/v1/resolution_notes/", {"alert_group_id": first, "text": "Rotated the logs."})
    assert status == 201, note
    assert set(note) == {"id", "alert_group_id", "author", "source", "created_at", "text"}
    assert note["alert_group_id"] == first and note["text"] == "Rotated the logs." and note["source"] == "api"
    assert note["author"] == "UADMIN"
    assert api("POST", "/api/v1/resolution_notes/", {"alert_group_id": second, "text": "Fan died."})[0] == 201

    # listed all, or by alert group; read by id
    status, page = api("GET", "/api/v1/resolution_notes/")
    assert status == 200 and page["count"] == 2 and {"next", "previous", "page_size"} <= set(page)
    only = api("GET", "/api/v1/resolution_notes/", query=f"alert_group_id={first}")[1]["results"]
    assert [n["id"] for n in only] == [note["id"]]
    assert api("GET", f"/api/v1/resolution_notes/{note['id']}/") == (200, note)

    # change the text (PUT), delete
    status, changed = api("PUT", f"/api/v1/resolution_notes/{note['id']}/", {"text": "Rotated and compressed."})
    assert status == 200 and changed["text"] == "Rotated and compressed." and changed["id"] == note["id"]
    assert api("DELETE", f"/api/v1/resolution_notes/{note['id']}/")[0] == 204
    assert api("GET", f"/api/v1/resolution_notes/{note['id']}/")[0] == 404
    assert api("DELETE", f"/api/v1/resolution_notes/{note['id']}/")[0] == 404

    # bad input: a clear 400, nothing stored
    status, body = api("POST", "/api/v1/resolution_notes/", {"alert_group_id": "INOPE", "text": "x"})
    assert status == 400 and "alert_group_id" in body, body
    assert api("POST", "/api/v1/resolution_notes/", {"alert_group_id": first, "text": ""})[0] == 400
    assert api("POST", "/api/v1/resolution_notes/", {"alert_group_id": first})[0] == 400
    assert api("GET", "/api/v1/resolution_notes/")[1]["count"] == 1

    # a note goes with its alert group
    assert api("DELETE", f"/api/v1/alert_groups/{second}/", {"mode": "delete"})[0] == 204
    assert api("GET", "/api/v1/resolution_notes/")[1]["count"] == 0


def test_who_may_write_resolution_notes_is_the_policy_tables_answer(api: Invoke, ingest_handler: ModuleType) -> None:
    group_id = _group(api, ingest_handler)
    status, note = api("POST", "/api/v1/resolution_notes/", {"alert_group_id": group_id, "text": "By the admin."})
    assert status == 201
    for role in ("viewer", "editor"):
        key = _key(api, role)
        caller = Principal(f"U{role}", role, role)  # type: ignore[arg-type]
        wanted = {
            action: 2 if policy.allows(caller, Resource.RESOLUTION_NOTES, action) else 4
            for action in (Action.READ, Action.CREATE, Action.UPDATE, Action.DELETE)
        }
        assert api("GET", "/api/v1/resolution_notes/", key_header=key)[0] // 100 == wanted[Action.READ]
        body = {"alert_group_id": group_id, "text": f"By a {role}."}
        assert api("POST", "/api/v1/resolution_notes/", body, key_header=key)[0] // 100 == wanted[Action.CREATE]
        path = f"/api/v1/resolution_notes/{note['id']}/"
        assert api("PUT", path, {"text": "x"}, key_header=key)[0] // 100 == wanted[Action.UPDATE]
        assert wanted[Action.CREATE] == (2 if role == "editor" else 4)  # viewers read, editors write


def test_notes_on_the_console_group_page(
    web: ModuleType, api: Invoke, ingest_handler: ModuleType, admin_key: str
) -> None:
    group_id = _group(api, ingest_handler)
    browser = Browser(web)
    browser.sign_in(admin_key)
    page = browser.call("GET", f"/ui/groups/{group_id}")["body"]
    assert "No resolution notes yet." in page and 'id="note-form"' in page
    token = browser.csrf(f"/ui/groups/{group_id}")
    added = browser.call("POST", f"/ui/groups/{group_id}/notes", {"csrf_token": token, "text": "Disk <b>grew</b>."})
    assert added["statusCode"] == 303 and added["headers"]["Location"].startswith(f"/ui/groups/{group_id}?notice=")
    (note,) = api("GET", "/api/v1/resolution_notes/", query=f"alert_group_id={group_id}")[1]["results"]
    assert note["text"] == "Disk <b>grew</b>." and note["source"] == "web"
    page = browser.call("GET", added["headers"]["Location"])["body"]
    assert "Resolution note added." in page
    assert "<p>Disk &lt;b&gt;grew&lt;/b&gt;.</p>" in page and re.search(r"<small>admin · <time", page)
    # an empty note is refused with the reason, nothing stored
    empty = browser.call(
        "POST",
        f"/ui/groups/{group_id}/notes",
        {"csrf_token": token, "text": ""},
        referer=f"https://tocsin.test/ui/groups/{group_id}",
    )
    assert empty["statusCode"] == 303 and "error=" in empty["headers"]["Location"]
    deleted = browser.call("POST", f"/ui/groups/{group_id}/notes/{note['id']}/delete", {"csrf_token": token})
    assert deleted["statusCode"] == 303
    assert api("GET", "/api/v1/resolution_notes/", query=f"alert_group_id={group_id}")[1]["count"] == 0
