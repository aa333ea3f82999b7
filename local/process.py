"""A child process the local stack or a test runs: spawned with its output in a log, made to die with its parent,
started only once it answers (bounded), stopped with SIGTERM and, after a timeout, SIGKILL.

Subclasses say what to run (:meth:`command`), how to tell it is ready (:meth:`ready`) and what to prepare first
(:meth:`prepare`: ports, configuration files). DynamoDB Local (``local.dynamodb``), the whole local stack
(``local.stack``) and the tests' Prometheus and Alertmanager (``tests.support.processes``) are such processes.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Self

from local.lifecycle import Service

log = logging.getLogger(__name__)


def parent_death_signal(sig: int) -> Callable[[], None] | None:
    """A ``preexec_fn``: Linux sends the child ``sig`` when its parent dies, so a killed run leaves nothing behind."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork: the child only calls it
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, sig)

    return preexec


class ManagedProcess(Service):
    name = "process"
    death_signal: int = signal.SIGKILL  # what the child gets when its parent dies
    poll_interval = 0.1

    def __init__(
        self,
        *,
        startup_timeout: float = 30.0,
        log_path: Path | None = None,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        new_session: bool = False,
    ) -> None:
        self.startup_timeout = startup_timeout
        self.log_path = log_path  # None: a temporary file, gone with the process object
        self.cwd = cwd
        self.env = env
        self.new_session = new_session  # out of the terminal's process group: Ctrl-C reaches only the parent
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None
        self._log: IO[bytes] | None = None

    # --- what subclasses say -----------------------------------------------------------------------------------
    def command(self) -> list[str]:
        raise NotImplementedError

    def prepare(self) -> None:
        """Called before the process starts: choose ports, write configuration files."""

    def ready(self) -> bool:
        """Whether the process answers (called until it does, or dies, or the startup timeout passes)."""
        raise NotImplementedError

    # --- running ---------------------------------------------------------------------------------------------
    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not started")
        return self.process.pid

    def start(self) -> Self:
        if self.process is not None:
            raise RuntimeError(f"{self.name} is already started")
        self.prepare()
        command = self.command()
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # noqa: SIM115  closed in stop()
        else:
            self._log = tempfile.TemporaryFile()  # noqa: SIM115  closed in stop()
        started = time.monotonic()
        self.process = subprocess.Popen(
            command,
            cwd=self.cwd,
            env=None if self.env is None else dict(self.env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=self.new_session,
            preexec_fn=parent_death_signal(self.death_signal),
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        while True:
            # Death first: an answer must come from our process, not from a stale one on the same port.
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.process.returncode} during startup:\n{self.output()}"
                )
            if self.ready():
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} was not ready within {self.startup_timeout:g} s:\n{self.output()}")
            time.sleep(self.poll_interval)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s (pid %d) ignored SIGTERM for %.0f s; killing it", self.name, process.pid, timeout)
                process.kill()
                process.wait(timeout)
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None

    def output(self, tail: int | None = None) -> str:
        """What the process printed so far (its log), for error messages."""
        if self.log_path is not None:
            text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        elif self._log is not None:
            self._log.flush()
            self._log.seek(0)
            text = self._log.read().decode(errors="replace")
        else:
            text = ""
        return text[-tail:] if tail else text
