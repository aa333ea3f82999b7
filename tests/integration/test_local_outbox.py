"""The local outbox file and the gateway's ``GET /local/outbox``."""

from __future__ import annotations

import multiprocessing
import warnings
from pathlib import Path

import pytest

from local.gateway import create_app
from local.outbox import Outbox

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette 1.x nudges towards httpx2; httpx is the client we pin
    from starlette.testclient import TestClient

WRITERS = 4
RECORDS_EACH = 200


def _write(path: str, writer: int) -> None:
    outbox = Outbox(Path(path))
    for n in range(RECORDS_EACH):
        outbox.append({"channel": "sms", "to": f"writer-{writer}", "text": f"{n} " + "x" * 3000})


def test_records_come_back_in_order_with_a_time(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "sub" / "outbox.jsonl")
    stored = outbox.append({"channel": "sms", "to": "+15555550100", "text": "Zürich ✓"})
    outbox.append({"channel": "webhook", "to": "https://x.example/", "body": {"a": [1]}, "status": 200})
    records = outbox.records()
    assert records[0] == stored == {"at": stored["at"], "channel": "sms", "to": "+15555550100", "text": "Zürich ✓"}
    assert records[1]["body"] == {"a": [1]}
    assert outbox.records(since=1) == records[1:]
    assert outbox.records(since=2) == []
    assert outbox.records(since=99) == []


def test_a_missing_file_is_an_empty_outbox(tmp_path: Path) -> None:
    assert Outbox(tmp_path / "none.jsonl").records() == []


def test_a_partly_written_last_line_is_not_a_record_yet(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.jsonl")
    outbox.append({"channel": "sms", "to": "a", "text": "t"})
    with outbox.path.open("ab") as file:
        file.write(b'{"channel": "sm')
    assert len(outbox.records()) == 1


def test_an_unreadable_line_keeps_its_index(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.jsonl")
    outbox.path.write_bytes(b"not json\n")
    outbox.append({"channel": "sms", "to": "a", "text": "t"})
    first, second = outbox.records()
    assert first == {"channel": "unreadable", "line": "not json"}
    assert outbox.records(since=1) == [second]


def test_negative_since_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Outbox(tmp_path / "o.jsonl").records(since=-1)


def test_processes_appending_at_once_never_mix_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "o.jsonl"
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_write, args=(str(path), writer)) for writer in range(WRITERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(30)
        assert process.exitcode == 0
    records = Outbox(path).records()
    assert len(records) == WRITERS * RECORDS_EACH
    for writer in range(WRITERS):
        mine = [int(r["text"].split()[0]) for r in records if r["to"] == f"writer-{writer}"]
        assert mine == list(range(RECORDS_EACH))  # all there, each writer's in its own order


def test_gateway_serves_the_outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "outbox.jsonl"
    monkeypatch.setenv("TOCSIN_OUTBOX", str(path))
    client = TestClient(create_app({}))
    assert client.get("/local/outbox").json() == {"records": []}
    outbox = Outbox(path)
    outbox.append({"channel": "sms", "to": "+15555550100", "text": "one"})
    outbox.append({"channel": "sms", "to": "+15555550100", "text": "two"})
    response = client.get("/local/outbox")
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["records"]] == ["one", "two"]
    assert [r["text"] for r in client.get("/local/outbox?since=1").json()["records"]] == ["two"]
    assert client.get("/local/outbox?since=5").json() == {"records": []}


@pytest.mark.parametrize("since", ["-1", "x", "1.5", ""])
def test_gateway_refuses_a_bad_since(since: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOCSIN_OUTBOX", str(tmp_path / "outbox.jsonl"))
    response = TestClient(create_app({})).get(f"/local/outbox?since={since}")
    assert response.status_code == 400
    assert "since" in response.json()["message"]
