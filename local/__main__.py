"""``python -m local`` (``make run``): DynamoDB Local + the table + an admin API key + the Step Functions
emulation (escalations) + the gateway on uvicorn.

Environment (each also a command-line option, see ``--help``):
    PORT               gateway port on 127.0.0.1 (8080)
    DYNAMODB_PORT      DynamoDB Local port (8000; 0 picks a free one)
    TOCSIN_SFN_PORT    Step Functions emulation port on 127.0.0.1 (0: a free one)
    TOCSIN_TIME_SCALE  factor on every escalation wait and retry delay (1.0; e.g. 0.01 for demos and tests)
    TOCSIN_LOCAL_DIR   state directory (.local/): dynamodb/ (persisted tables), dynamodb.log, api_key,
                       signing_key, stepfunctions.json (running escalations: resumed by the next start)
    TOCSIN_WORKERS     uvicorn worker processes (2)
    TOCSIN_ACCESS_LOG  1 to log every request (off by default: it costs throughput)
    TOCSIN_API_KEY     admin API key to provision (else the one in <dir>/api_key, else a new one)
    TOCSIN_TABLE       table name (tocsin)

Escalations run in this (main) process: ``local.aws`` serves StartExecution/StopExecution to the workers'
handlers (``AWS_ENDPOINT_URL_SFN``) and runs each execution's loop with the escalation_step handler.
"""

from __future__ import annotations

import argparse
import copy
import logging
import logging.config
import os
import secrets
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from oncall.http_routes import ROUTES
from oncall.store import schema
from uvicorn.config import LOGGING_CONFIG

from local import REPO_ROOT
from local.aws import STATE_MACHINE_ARN, TIME_SCALE_ENV, LocalStepFunctions, time_scale_from_env
from local.mail import MailServer
from local.outbox import Outbox
from local.dynamodb import DynamoDBLocal, boto_env, ensure_table

log = logging.getLogger("local")
# Lambda settings of the CDK stack that make sense on a laptop: no CloudWatch metrics, quiet logs.
HANDLER_DEFAULTS = {
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "tocsin-local",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


@dataclass(frozen=True)
class Settings:
    port: int
    dynamodb_port: int
    local_dir: Path
    workers: int
    access_log: bool
    table_name: str
    sfn_port: int = 0
    time_scale: float = 1.0
    smtp_port: int = 2525

    @property
    def outbox_file(self) -> Path:
        return self.local_dir / "outbox.jsonl"

    @property
    def api_key_file(self) -> Path:
        return self.local_dir / "api_key"

    @property
    def signing_key_file(self) -> Path:
        return self.local_dir / "signing_key"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def parse_args(argv: list[str] | None = None) -> Settings:
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m local", description="Run Tocsin locally.")
    parser.add_argument("--port", type=int, default=int(env.get("PORT", "8080")))
    parser.add_argument("--dynamodb-port", type=int, default=int(env.get("DYNAMODB_PORT", "8000")))
    parser.add_argument("--sfn-port", type=int, default=int(env.get("TOCSIN_SFN_PORT") or "0"))
    parser.add_argument("--time-scale", type=float, default=time_scale_from_env())
    parser.add_argument("--smtp-port", type=int, default=int(env.get("TOCSIN_SMTP_PORT") or "2525"))
    parser.add_argument("--local-dir", type=Path, default=Path(env.get("TOCSIN_LOCAL_DIR", REPO_ROOT / ".local")))
    parser.add_argument("--workers", type=int, default=int(env.get("TOCSIN_WORKERS", "2")))
    parser.add_argument(
        "--access-log", action=argparse.BooleanOptionalAction, default=env.get("TOCSIN_ACCESS_LOG", "") == "1"
    )
    args = parser.parse_args(argv)
    return Settings(
        smtp_port=args.smtp_port,
        port=args.port,
        dynamodb_port=args.dynamodb_port,
        local_dir=args.local_dir.resolve(),
        workers=max(1, args.workers),
        access_log=args.access_log,
        table_name=env.get(schema.TABLE_NAME_ENV, schema.DEFAULT_TABLE_NAME),
        sfn_port=args.sfn_port,
        time_scale=args.time_scale,
    )


def write_secret(path: Path, value: str) -> None:
    """Write atomically with mode 0600 (never briefly world-readable)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to a leftover file
        os.write(fd, (value + "\n").encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def provision_api_key(settings: Settings, endpoint: str) -> str | None:
    try:
        from oncall.bootstrap import ensure_admin_api_key  # lazy: the module may not exist yet
    except ModuleNotFoundError as exc:
        if exc.name != "oncall.bootstrap":
            raise  # a dependency of bootstrap is missing: that is a real error
        log.warning("oncall.bootstrap is not available: no admin API key provisioned")
        return None
    stored = settings.api_key_file.read_text().strip() if settings.api_key_file.exists() else None
    key = ensure_admin_api_key(settings.table_name, endpoint, os.environ.get("TOCSIN_API_KEY") or stored or None)
    write_secret(settings.api_key_file, key)
    return key


def escalation_env(settings: Settings, sfn: LocalStepFunctions) -> dict[str, str]:
    """What the handlers (workers and the escalation runner) need to start, stop and run escalations."""
    return {
        "AWS_ENDPOINT_URL_SFN": sfn.endpoint,  # botocore: AWS_ENDPOINT_URL_<service id "SFN">
        "TOCSIN_STATE_MACHINE_ARN": STATE_MACHINE_ARN,
        TIME_SCALE_ENV: repr(settings.time_scale),
    }


def local_defaults(settings: Settings) -> dict[str, str]:
    """Settings the deployed stack gets from CDK, with local values (an explicit environment variable wins)."""
    key = settings.signing_key_file.read_text().strip() if settings.signing_key_file.exists() else ""
    if not key and not os.environ.get("TOCSIN_SIGNING_KEY"):
        key = secrets.token_urlsafe(48)
        write_secret(settings.signing_key_file, key)
    return {
        "TOCSIN_PUBLIC_URL": settings.base_url,  # links in notifications point at the local gateway
        "TOCSIN_SIGNING_KEY": key,  # signs action links (AWS: the Secrets Manager secret)
        "TOCSIN_NOTIFIER": "local",  # the local SMTP sink / outbox instead of SES and SNS
        "TOCSIN_OUTBOX": str(settings.outbox_file),  # what was "sent": GET /local/outbox
        "TOCSIN_SMTP_HOST": "127.0.0.1",
        "TOCSIN_SMTP_PORT": str(settings.smtp_port),
    }


def banner(settings: Settings, api_key: str | None, ddb: DynamoDBLocal, sfn: LocalStepFunctions | None = None) -> str:
    base = settings.base_url
    routes = "".join(f"  {r.function:<9}  {r.method:<4} {base}{r.path}\n" for r in ROUTES)
    key = api_key or "(none: oncall.bootstrap is missing)"
    return (
        f"\nTocsin local stack\n"
        f"  base URL   {base}\n"
        f"{routes}"
        f"  API key    {key}   (send as header 'Authorization: <key>'; stored in {settings.api_key_file})\n"
        f"  DynamoDB   {ddb.endpoint}   (table {settings.table_name}, data in {ddb.data_dir})\n"
        + (
            f"  SMTP       127.0.0.1:{settings.smtp_port}   (sink for e-mail; everything sent: {base}/local/outbox)\n"
            f"  SFN        {sfn.endpoint}   (escalations: time scale {sfn.time_scale:g}, "
            f"running ones kept in {sfn.state_file})\n"
            if sfn is not None
            else ""
        )
        + "Ctrl-C stops everything.\n"
    )


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM unwinds like Ctrl-C, so `finally` stops DynamoDB Local


def _check_port_free(port: int, variable: str = "PORT") -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise SystemExit(f"port {port} is not free ({exc.strerror}); set {variable} to another port") from None


def log_config() -> dict[str, Any]:
    config = copy.deepcopy(LOGGING_CONFIG)
    for name in ("local", "oncall"):  # gateway errors (handler tracebacks) and the domain's own logs
        config["loggers"][name] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    logging.config.dictConfig(log_config())
    signal.signal(signal.SIGTERM, _raise_interrupt)
    _check_port_free(settings.port)  # fail before the 2 s DynamoDB start, not after
    if settings.sfn_port:
        _check_port_free(settings.sfn_port, "TOCSIN_SFN_PORT")
    settings.local_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    ddb = DynamoDBLocal(
        settings.local_dir / "dynamodb", settings.dynamodb_port, log_path=settings.local_dir / "dynamodb.log"
    )
    mail = MailServer("127.0.0.1", settings.smtp_port, outbox=Outbox(settings.outbox_file))
    sfn = LocalStepFunctions(
        "127.0.0.1",
        settings.sfn_port,
        time_scale=settings.time_scale,
        state_file=settings.local_dir / "stepfunctions.json",
    )
    try:
        ddb.start()
        ensure_table(ddb.endpoint, settings.table_name)
        # Workers are spawned processes: they inherit this environment, and so do the handlers in them.
        os.environ.update(boto_env(ddb.endpoint, settings.table_name))
        for name, value in {**HANDLER_DEFAULTS, **local_defaults(settings)}.items():
            if value:
                os.environ.setdefault(name, value)
        mail.start()  # escalation steps send e-mail here: it must listen before they run
        # Escalations: serve the API first, export its endpoint, then resume the executions of the last run
        # (their handlers call this API too).
        sfn.start(resume=False)
        os.environ.update(escalation_env(settings, sfn))
        sfn.resume()
        api_key = provision_api_key(settings, ddb.endpoint)
        print(banner(settings, api_key, ddb, sfn), flush=True)
        uvicorn.run(
            "local.gateway:create_app",
            factory=True,
            host="127.0.0.1",
            port=settings.port,
            workers=settings.workers,
            access_log=settings.access_log,
            proxy_headers=False,  # sourceIp must be the real peer, as on API Gateway
            log_config=log_config(),
            timeout_graceful_shutdown=5,
        )
    except KeyboardInterrupt:
        pass
    finally:
        sfn.stop()  # running escalations stay in stepfunctions.json for the next start
        mail.stop()
        ddb.stop()
        log.info("DynamoDB Local stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
