"""What the local AWS API emulations (:mod:`local.aws`, :mod:`local.scheduler`) share.

:class:`ApiServer` serves JSON over HTTP/1.1 to botocore from a daemon thread; each emulation keeps its protocol
(how an operation is addressed, how an error is shaped) in the ``dispatch`` callable it hands over.
:func:`load_records` and :func:`save_records` keep an emulation's records in a JSON file under ``.local/`` so that a
restarted local stack carries on where it stopped.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# (HTTP method, path with query, request headers, body) -> (status, extra response headers, JSON document)
Dispatch = Callable[[str, str, Message, bytes], tuple[int, Mapping[str, str], Any]]


class ApiError(Exception):
    """An error answer of an AWS API: ``code`` is the AWS error type, ``message`` its text."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ApiServer:
    """Serves ``dispatch`` on ``http://host:port`` (0 picks a free port, known after :meth:`start`).

    Requests with a method outside ``methods`` get 501, as :class:`BaseHTTPRequestHandler` answers a method it
    has no ``do_*`` for. Every response carries ``content_type``, its length and an ``x-amzn-RequestId``.
    """

    def __init__(
        self,
        dispatch: Dispatch,
        *,
        content_type: str,
        methods: tuple[str, ...],
        name: str,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.dispatch = dispatch
        self.content_type = content_type
        self.methods = methods
        self.name = name
        self.host = host
        self.port = port
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("already started")
        self._server = _HttpServer((self.host, self.port), self)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: ApiServer) -> None:
        self.api = api
        super().__init__(address, _RequestHandler)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    server: _HttpServer

    def _handle(self) -> None:
        api = self.server.api
        if self.command not in api.methods:
            self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method ({self.command!r})")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, document = api.dispatch(self.command, self.path, self.headers, body)
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", api.content_type)
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


def load_records(path: Path | None, key: str, parse: Callable[[Any], T], what: str) -> list[T] | None:
    """The records :func:`save_records` wrote under ``key``: None if there is no file, or if it is unreadable
    (logged; the emulation then starts afresh rather than not at all)."""
    if path is None or not path.exists():
        return None
    try:
        saved = json.loads(path.read_text())
        return [parse(item) for item in saved[key]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring the unreadable %s %s: %s", what, path, exc)
        return None


def save_records(path: Path, key: str, records: Iterable[dict[str, Any]]) -> None:
    """Write ``{"version": 1, key: records}`` through a temporary file, so that a crash never leaves half a file."""
    document = {"version": 1, key: list(records)}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document))
    os.replace(tmp, path)
