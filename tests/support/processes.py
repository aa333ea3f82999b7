"""Real monitoring processes for end-to-end tests: Debian's Prometheus and Alertmanager on loopback, and a tiny
metrics exporter whose value a test sets.

Each process gets its own free port on 127.0.0.1, its own directory (config, storage, log), a parent-death
signal (a killed test run leaves nothing behind) and a bounded start and stop::

    with MetricExporter() as exporter, Alertmanager(tmp / "am", config) as am, Prometheus(tmp / "prom", ...) as prom:
        exporter.set(1)

Configuration files are written as JSON, which every YAML parser reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self, TypeVar

import httpx

from local.dynamodb import free_port
from local.lifecycle import Service
from local.process import ManagedProcess

T = TypeVar("T")

# A request to the local stack: a first one loads its function in a worker (a cold start), which took over 10 s
# on a loaded machine.
HTTP_TIMEOUT = 60.0

ALERTMANAGER_BINARIES = ("prometheus-alertmanager", "alertmanager")
PROMETHEUS_BINARIES = ("prometheus",)


def which(*names: str) -> str | None:
    """The first of ``names`` on PATH (Debian installs Alertmanager as ``prometheus-alertmanager``)."""
    for name in names:
        if found := shutil.which(name):
            return found
    return None


def wait_for(
    condition: Callable[[], T | None], timeout: float = 20.0, what: str = "the condition", interval: float = 0.2
) -> T:
    """Poll ``condition`` until it returns something truthy; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc: Linux only)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # "pid (comm) state ppid ...": comm may contain spaces and parentheses, so split after the last ")".
        fields = stat.rpartition(")")[2].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def rss_kib(pid: int | str = "self", field: str = "VmRSS") -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak resident) of a process, in KiB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/status")


class HttpServer(ManagedProcess):
    """A server process on 127.0.0.1:``port`` with its log in ``workdir``; ready when ``ready_path`` says 200."""

    ready_path = "/-/ready"

    def __init__(self, workdir: Path, *, startup_timeout: float = 30.0) -> None:
        super().__init__(startup_timeout=startup_timeout, log_path=workdir / f"{self.name}.log", cwd=workdir)
        self.workdir = workdir
        self.port = 0
        self._probe: httpx.Client | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def configure(self) -> None:
        """Write configuration files (called with ``port`` chosen)."""

    def prepare(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.configure()
        self._probe = httpx.Client(timeout=2.0)

    def ready(self) -> bool:
        assert self._probe is not None
        with contextlib.suppress(httpx.TransportError):
            return self._probe.get(self.url + self.ready_path).status_code == 200
        return False

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)
        if self._probe is not None:
            self._probe.close()
            self._probe = None


class Alertmanager(HttpServer):
    """``prometheus-alertmanager`` with gossip clustering off (nothing listens beyond loopback)."""

    name = "alertmanager"

    def __init__(self, workdir: Path, config: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(workdir, **kwargs)
        self.config = config
        binary = which(*ALERTMANAGER_BINARIES)
        if binary is None:
            raise FileNotFoundError("prometheus-alertmanager is not installed (make system)")
        self.binary = binary

    def configure(self) -> None:
        (self.workdir / "alertmanager.yml").write_text(json.dumps(self.config, indent=2))

    def command(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.workdir / 'alertmanager.yml'}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            f"--web.external-url={self.url}",
            "--cluster.listen-address=",  # no gossip: no listener on other interfaces
            "--log.level=info",
        ]


class Prometheus(HttpServer):
    """``prometheus`` evaluating ``rules`` every ``interval``, sending to ``alertmanager_url``.

    ``--rules.alert.resend-delay=2s``: with the default (1 min), an alert first sent before the Alertmanager
    was discovered would wait a minute for its next send.
    """

    name = "prometheus"

    def __init__(
        self,
        workdir: Path,
        *,
        scrape_targets: list[str],
        rules: list[dict[str, Any]],
        alertmanager_url: str,
        interval: str = "1s",
        **kwargs: Any,
    ) -> None:
        super().__init__(workdir, **kwargs)
        binary = which(*PROMETHEUS_BINARIES)
        if binary is None:
            raise FileNotFoundError("prometheus is not installed (make system)")
        self.binary = binary
        self.scrape_targets = scrape_targets
        self.rules = rules
        self.alertmanager_url = alertmanager_url
        self.interval = interval

    def configure(self) -> None:
        (self.workdir / "rules.yml").write_text(json.dumps({"groups": [{"name": "tocsin", "rules": self.rules}]}))
        config = {
            "global": {"scrape_interval": self.interval, "evaluation_interval": self.interval},
            "rule_files": [str(self.workdir / "rules.yml")],
            "alerting": {
                "alertmanagers": [{"static_configs": [{"targets": [self.alertmanager_url.removeprefix("http://")]}]}]
            },
            "scrape_configs": [{"job_name": "tocsin-test", "static_configs": [{"targets": self.scrape_targets}]}],
        }
        (self.workdir / "prometheus.yml").write_text(json.dumps(config, indent=2))

    def command(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            f"--web.external-url={self.url}",
            "--rules.alert.resend-delay=2s",
            "--log.level=info",
        ]


class MetricExporter(Service):
    """Serves ``/metrics`` on 127.0.0.1 with one gauge (``tocsin_test_value``) whose value ``set`` changes."""

    def __init__(self, metric: str = "tocsin_test_value", value: float = 0) -> None:
        self.metric = metric
        self.value = value
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = f"# TYPE {exporter.metric} gauge\n{exporter.metric} {exporter.value:g}\n".encode()
                self.send_response(200 if self.path.startswith("/metrics") else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: Prometheus scrapes every second

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def target(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def set(self, value: float) -> None:
        self.value = value

    def start(self) -> Self:
        self._thread = threading.Thread(target=self.server.serve_forever, name="metric-exporter", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(5)
            self._thread = None
        self.server.server_close()


def kill(pid: int, sig: int = signal.SIGKILL, timeout: float = 10.0) -> None:
    """Send ``sig`` and wait (bounded) until the process is gone (a zombie counts as gone)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.05)
    raise TimeoutError(f"process {pid} still alive {timeout:g} s after signal {sig}")
