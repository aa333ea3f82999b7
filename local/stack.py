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
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from oncall.inbound_email import LOCAL_DOMAIN
from oncall.settings import Env

from local import REPO_ROOT
from local.dynamodb import free_ports
from local.process import ManagedProcess


class LocalStack(ManagedProcess):
    """Runs ``python -m local`` on free ports with its own state directory (a temporary one by default)."""

    name = "the local stack"
    death_signal = signal.SIGTERM  # uvicorn drains, DynamoDB Local stops (it has a parent-death signal of its own)

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
        super().__init__(startup_timeout=startup_timeout, log_path=local_dir / "stack.log", cwd=REPO_ROOT)
        self.local_dir = local_dir
        self.workers = workers
        self.extra_env = dict(env or {})
        if time_scale is not None:
            self.extra_env.setdefault("TOCSIN_TIME_SCALE", repr(time_scale))
        self.port = 0
        self.dynamodb_port = 0
        self.smtp_port = 0  # mail to <token>@<inbound_domain> sent here becomes alerts (inbound_email integrations)
        self.inbound_domain = LOCAL_DOMAIN
        self.sfn_port = 0
        self.scheduler_port = 0
        self._health: httpx.Client | None = None

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

    def prepare(self) -> None:
        self.local_dir.mkdir(parents=True, exist_ok=True)
        self.port, self.dynamodb_port, self.sfn_port, self.smtp_port, self.scheduler_port = free_ports(5)
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
        self.env = env
        self._health = httpx.Client(timeout=2.0)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "local"]

    def ready(self) -> bool:
        assert self._health is not None
        try:
            return self._health.get(f"{self.base_url}/local/health").status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (uvicorn drains, DynamoDB Local stops), SIGKILL after ``timeout``."""
        super().stop(timeout)
        if self._health is not None:
            self._health.close()
            self._health = None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
