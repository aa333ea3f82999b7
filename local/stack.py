"""The whole local stack (``python -m local``) as a subprocess, for end-to-end tests and benchmarks.

Usage::

    with LocalStack() as stack:
        httpx.post(f"{stack.base_url}/integrations/v1/webhook/<token>/", json={...})
        httpx.get(f"{stack.base_url}/api/v1/alert_groups", headers={"Authorization": stack.api_key})

Escalations wait ``wait_seconds`` times ``time_scale`` (``LocalStack(time_scale=0.01)``: a 60 s wait takes
0.6 s). ``stack.stepfunctions()`` is a boto3 client of the stack's Step Functions emulation, e.g. to describe an
escalation's execution (ARN prefix ``stack.execution_arn_prefix``); ``stack.scheduler()`` one of its
EventBridge Scheduler emulation (the maintenance windows' end schedules, group ``tocsin``). ``env`` adds or
overrides any variable, e.g. ``TOCSIN_HEARTBEAT_SWEEP_SECONDS`` (how often the heartbeat sweep runs).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import httpx
from oncall.inbound_email import LOCAL_DOMAIN
from oncall.settings import Env

from local import REPO_ROOT
from local.dynamodb import free_port


class LocalStack:
    """Runs ``python -m local`` on free ports with its own state directory (a temporary one by default)."""

    def __init__(
        self,
        local_dir: Path | None = None,
        *,
        workers: int | None = None,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 60.0,
        time_scale: float | None = None,
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if local_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="tocsin-local-")
            local_dir = Path(self._tmp.name)
        self.local_dir = local_dir
        self.workers = workers
        self.extra_env = dict(env or {})
        if time_scale is not None:
            self.extra_env.setdefault("TOCSIN_TIME_SCALE", repr(time_scale))
        self.startup_timeout = startup_timeout
        self.port = 0
        self.dynamodb_port = 0
        self.smtp_port = 0  # mail to <token>@<inbound_domain> sent here becomes alerts (inbound_email integrations)
        self.inbound_domain = LOCAL_DOMAIN
        self.sfn_port = 0
        self.scheduler_port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dynamodb_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.dynamodb_port}"

    @property
    def sfn_endpoint(self) -> str:
        """The Step Functions emulation (``local.aws``) that runs the stack's escalations."""
        return f"http://127.0.0.1:{self.sfn_port}"

    @property
    def scheduler_endpoint(self) -> str:
        """The EventBridge Scheduler emulation (``local.scheduler``) that ends the stack's maintenance windows."""
        return f"http://127.0.0.1:{self.scheduler_port}"

    def scheduler(self) -> Any:
        """A boto3 ``scheduler`` client of the emulation (GetSchedule, ListSchedules, CreateSchedule, ...)."""
        import boto3

        return boto3.client(
            "scheduler",
            endpoint_url=self.scheduler_endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    @property
    def execution_arn_prefix(self) -> str:
        """``<prefix><execution name>`` is an escalation's execution ARN (names are ``<group id>-g<generation>``)."""
        from local.aws import STATE_MACHINE_ARN

        return STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:", 1) + ":"

    def stepfunctions(self) -> Any:
        """A boto3 ``stepfunctions`` client of the emulation (DescribeExecution, StopExecution, StartExecution)."""
        import boto3

        return boto3.client(
            "stepfunctions",
            endpoint_url=self.sfn_endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    @property
    def api_key(self) -> str:
        path = self.local_dir / "api_key"
        if not path.exists():
            raise RuntimeError(f"no API key in {path} (is oncall.bootstrap available?)\n{self.output()}")
        return path.read_text().strip()

    @property
    def log_path(self) -> Path:
        return self.local_dir / "stack.log"

    def output(self) -> str:
        """Everything the stack printed (banner, uvicorn, handler logs)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> Self:
        self.local_dir.mkdir(parents=True, exist_ok=True)
        self.port, self.dynamodb_port, self.sfn_port = free_port(), free_port(), free_port()
        self.smtp_port = free_port()
        self.scheduler_port = free_port()
        env = {
            **os.environ,
            "PORT": str(self.port),
            "DYNAMODB_PORT": str(self.dynamodb_port),
            "TOCSIN_SFN_PORT": str(self.sfn_port),
            "TOCSIN_SMTP_PORT": str(self.smtp_port),
            Env.INBOUND_EMAIL_DOMAIN: self.inbound_domain,
            "TOCSIN_SCHEDULER_PORT": str(self.scheduler_port),
            "TOCSIN_LOCAL_DIR": str(self.local_dir),
            **({"TOCSIN_WORKERS": str(self.workers)} if self.workers else {}),  # else python -m local's default
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        self.sfn_port = int(env["TOCSIN_SFN_PORT"])  # unless env= chose one
        self.smtp_port = int(env["TOCSIN_SMTP_PORT"])
        self.inbound_domain = env[Env.INBOUND_EMAIL_DOMAIN]
        self.scheduler_port = int(env["TOCSIN_SCHEDULER_PORT"])
        self._log = open(self.log_path, "ab")  # noqa: SIM115  a file, not a pipe: nobody must drain it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local"],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the local stack exited with code {self.process.returncode}:\n{self.output()}")
                try:
                    if client.get(f"{self.base_url}/local/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"the local stack was not healthy within {self.startup_timeout} s:\n{self.output()}"
                    )
                time.sleep(0.1)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (uvicorn drains, DynamoDB Local stops), SIGKILL after ``timeout``."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()  # DynamoDB Local still dies with us: it has a parent-death signal
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
