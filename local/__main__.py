"""``python -m local`` (``make run``): DynamoDB Local + the table + an admin API key + the Step Functions
emulation (escalations) + the gateway on uvicorn. ``python -m local --help`` lists every setting and its meaning
(each option's environment variable, and the settings only the environment sets: :data:`ENVIRONMENT_ONLY`).

Escalations run in this (main) process: ``local.streams`` reads the table's stream into the escalation_start
handler, as AWS's event source mapping does, which starts and stops executions to match each stored change of a
group; ``local.aws`` serves StartExecution/StopExecution (``AWS_ENDPOINT_URL_SFN``) and runs each execution's loop
with the escalation_step handler. So do
maintenance ends (``local.scheduler``: CreateSchedule/DeleteSchedule via ``AWS_ENDPOINT_URL_SCHEDULER``, each
``at(...)`` schedule fires maintenance_end) and the heartbeat sweep (heartbeat_check every interval). The
terminal shows one line per new alert group and per notification sent (``local.activity``).
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
import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Final

import uvicorn
from oncall import inbound_email, outbound
from oncall.http_routes import ROUTES, THROTTLE_CLASSES
from oncall.settings import RUNTIME_ENVIRONMENT, Env
from oncall.store import schema
from uvicorn.config import LOGGING_CONFIG

from local import REPO_ROOT
from local.activity import Activity
from local.aws import STATE_MACHINE_ARN, TIME_SCALE_ENV, LocalStepFunctions, time_scale_from_env
from local.dynamodb import DynamoDBLocal, boto_env, ensure_table
from local.dynamodb import client as dynamodb_client
from local.mail import MailServer
from local.outbox import Outbox
from local.scheduler import HeartbeatSweep, LocalScheduler, scheduler_env, sweep_seconds_from_env
from local.streams import StreamPoller, poll_seconds_from_env
from local.throttle import STATE_ENV, Throttle, env_name, parse_setting, reset_state, throttles_from_env

log = logging.getLogger("local")
# Lambda settings of the CDK stack that make sense on a laptop: no CloudWatch metrics, quiet logs.
# One process: DynamoDB Local, not the gateway, bounds throughput on a laptop, and a second worker costs
# ~60-100 MiB of idle memory (its own interpreter, boto3 and handler environments) for no measured gain
# (docs/performance.md, "Footprint").
DEFAULT_WORKERS = 1
HANDLER_DEFAULTS = {
    **RUNTIME_ENVIRONMENT,
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
    inbound_domain: str = inbound_email.LOCAL_DOMAIN
    scheduler_port: int = 0
    heartbeat_sweep_seconds: float = 60.0
    stream_poll_seconds: float = 0.2
    throttles: dict[str, Throttle] = field(default_factory=dict)  # route class -> limit of each of its routes

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

    @property
    def url_file(self) -> Path:
        """Where the ``tocsin`` CLI finds this stack."""
        return self.local_dir / "url"

    @property
    def throttle_file(self) -> Path:
        return self.local_dir / "throttle.state"


def _throttle_option(text: str) -> tuple[str, Throttle | None]:
    name, sep, value = text.partition("=")
    if not sep or name not in THROTTLE_CLASSES:
        raise argparse.ArgumentTypeError(
            f"expected <{'|'.join(THROTTLE_CLASSES)}>=<rate>/<burst> or =off, got {text!r}"
        )
    try:
        return name, parse_setting(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


# Settings only the environment sets (the options' own variables are in their help): name, meaning.
ENVIRONMENT_ONLY: Final = (
    ("TOCSIN_API_KEY", "the admin API key to provision (default: the one in <local dir>/api_key, else a new one)"),
    ("TOCSIN_TABLE", f"the DynamoDB table's name ({schema.DEFAULT_TABLE_NAME})"),
    ("TOCSIN_SIGNING_KEY", "the key that signs notifications' action links (default: <local dir>/signing_key)"),
    ("TOCSIN_DYNAMODB_JAVA_OPTS", "DynamoDB Local's JVM options, replacing local.dynamodb.JAVA_OPTS"),
    (
        "TOCSIN_OUTBOUND_ALLOW_HTTP, TOCSIN_OUTBOUND_ALLOW_LOOPBACK",
        "webhooks and calendar imports may use plain http and reach 127.0.0.1 / ::1 (both 1 here; 0 gives "
        "AWS's rule: https to public addresses only)",
    ),
    ("TOCSIN_DEADMAN_URL", "the minute sweep GETs this URL after each sweep: the dead-man's switch (none)"),
    (
        "TOCSIN_STREAM_POLL_SECONDS",
        "how often the escalation starter reads the table's stream when idle (0.2; where it got to: streams.json)",
    ),
    ("TOCSIN_RETENTION_DAYS", f"days after which raw alerts expire ({schema.DEFAULT_RETENTION_DAYS})"),
)


def _wrap(text: str, indent: str = "") -> str:
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent)


def _epilog() -> str:
    lines = "\n".join(f"  {name}\n{_wrap(meaning, '      ')}" for name, meaning in ENVIRONMENT_ONLY)
    files = _wrap(
        "Files in the local dir: dynamodb/ (the tables), dynamodb.log, api_key, signing_key, url (where the "
        "`tocsin` CLI finds this stack while it runs), outbox.jsonl (everything sent: GET /local/outbox, `tocsin "
        "outbox`), stepfunctions.json and its .journal (running escalations, resumed by the next start), "
        "schedules.json (pending maintenance ends, fired by the next start)."
    )
    return f"environment only:\n{lines}\n\n{files}"


def parse_args(argv: list[str] | None = None) -> Settings:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="python -m local",
        description=_wrap(
            "Run Tocsin on this machine: the same handlers as on AWS behind a local HTTP gateway, with DynamoDB "
            "Local and emulations of Step Functions, EventBridge Scheduler and SES (an SMTP sink). Every option "
            "has an environment variable (named first in its help); an option given wins."
        ),
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add(
        "--port",
        type=int,
        default=int(env.get("PORT", "8080")),
        help="PORT: the gateway's port on 127.0.0.1: API, ingest, console at /ui (%(default)s)",
    )
    add(
        "--dynamodb-port",
        type=int,
        default=int(env.get("DYNAMODB_PORT", "8000")),
        help="DYNAMODB_PORT: DynamoDB Local's port (%(default)s; 0 picks a free one)",
    )
    add(
        "--sfn-port",
        type=int,
        default=int(env.get("TOCSIN_SFN_PORT") or "0"),
        help="TOCSIN_SFN_PORT: the Step Functions emulation's port (escalations; 0: a free one)",
    )
    add(
        "--time-scale",
        type=float,
        default=time_scale_from_env(),
        help="TOCSIN_TIME_SCALE: factor on every escalation wait and retry delay and on the time until a "
        "maintenance window ends (%(default)s; 0.01 for demos and tests)",
    )
    add(
        "--smtp-port",
        type=int,
        default=int(env.get("TOCSIN_SMTP_PORT") or "2525"),
        help="TOCSIN_SMTP_PORT: the SMTP sink's port: e-mail sent lands in the outbox; mail to the inbound "
        "domain becomes alerts (%(default)s)",
    )
    add(
        "--inbound-domain",
        default=env.get(Env.INBOUND_EMAIL_DOMAIN) or inbound_email.LOCAL_DOMAIN,
        help=f"{Env.INBOUND_EMAIL_DOMAIN}: mail to <token>@<domain> on the SMTP port is an alert of that "
        "inbound_email integration (%(default)s)",
    )
    add(
        "--scheduler-port",
        type=int,
        default=int(env.get("TOCSIN_SCHEDULER_PORT") or "0"),
        help="TOCSIN_SCHEDULER_PORT: the EventBridge Scheduler emulation's port (maintenance ends; 0: a free one)",
    )
    add(
        "--heartbeat-sweep-seconds",
        type=float,
        default=sweep_seconds_from_env(),
        help="TOCSIN_HEARTBEAT_SWEEP_SECONDS: how often heartbeat_check runs (%(default)s, not scaled; 0: never)",
    )
    add(
        "--local-dir",
        type=Path,
        default=Path(env.get("TOCSIN_LOCAL_DIR", REPO_ROOT / ".local")),
        help="TOCSIN_LOCAL_DIR: the state directory, kept between runs (.local/ of the checkout; files below)",
    )
    add(
        "--workers",
        type=int,
        default=int(env.get("TOCSIN_WORKERS") or DEFAULT_WORKERS),
        help="TOCSIN_WORKERS: uvicorn worker processes (%(default)s: the gateway runs in this process)",
    )
    add(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=env.get("TOCSIN_ACCESS_LOG", "") == "1",
        help="TOCSIN_ACCESS_LOG=1: log every request (off by default: it costs throughput)",
    )
    add(
        "--throttle",
        type=_throttle_option,
        action="append",
        default=[],
        metavar="CLASS=RATE/BURST",
        help="TOCSIN_INGEST_THROTTLE, TOCSIN_API_THROTTLE, TOCSIN_WEB_THROTTLE: limit each route of a class "
        "(ingest, api, web) as API Gateway does, '<rate>/<burst>' or 'off'; repeatable (default: no limit)",
    )
    args = parser.parse_args(argv)
    throttles = throttles_from_env(env)
    for name, throttle in args.throttle:
        if throttle is None:
            throttles.pop(name, None)
        else:
            throttles[name] = throttle
    return Settings(
        smtp_port=args.smtp_port,
        inbound_domain=args.inbound_domain.lower(),
        port=args.port,
        dynamodb_port=args.dynamodb_port,
        local_dir=args.local_dir.resolve(),
        workers=max(1, args.workers),
        access_log=args.access_log,
        table_name=env.get(schema.TABLE_NAME_ENV, schema.DEFAULT_TABLE_NAME),
        sfn_port=args.sfn_port,
        time_scale=args.time_scale,
        scheduler_port=args.scheduler_port,
        heartbeat_sweep_seconds=args.heartbeat_sweep_seconds,
        stream_poll_seconds=poll_seconds_from_env(),
        throttles=throttles,
    )


def throttle_env(settings: Settings) -> dict[str, str]:
    """What the gateway workers read: each class's limit ("off" for none) and the shared buckets' file."""
    env = {
        env_name(name): str(settings.throttles[name]) if name in settings.throttles else "off"
        for name in THROTTLE_CLASSES
    }
    env[STATE_ENV] = str(settings.throttle_file)
    return env


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
        "TOCSIN_OUTBOX": str(settings.outbox_file),  # what was "sent": GET /local/outbox
        "TOCSIN_SMTP_HOST": "127.0.0.1",
        "TOCSIN_SMTP_PORT": str(settings.smtp_port),
        Env.INBOUND_EMAIL_DOMAIN: settings.inbound_domain,  # the api shows integrations' <token>@<domain>
        # Webhooks and calendars on this machine (test receivers), over plain http: loopback only, never a private
        # network (AWS: neither, https to public addresses only).
        outbound.ALLOW_HTTP_ENV: "1",
        outbound.ALLOW_LOOPBACK_ENV: "1",
    }


def inbound_mail(settings: Settings) -> Callable[[bytes, list[str]], None]:
    """What the SMTP server does with mail for the inbound domain: the email_ingest use case, in-process (AWS:
    SES -> S3 -> the email_ingest function). No spam or virus verdicts locally."""
    services: list[Any] = []
    lock = threading.Lock()

    def deliver(raw: bytes, recipients: list[str]) -> None:
        from oncall.container import Container

        with lock:  # made at the first mail, once DynamoDB Local and the escalation endpoint are in the environment
            if not services:
                services.append(Container().ingest)
        for delivery in inbound_email.receive(services[0], raw, recipients, domain=settings.inbound_domain):
            if delivery.outcome == "stored":  # the use case logs what it ignores or drops
                groups = ", ".join(stored.group_id for stored in delivery.stored)
                log.info("inbound mail to %s stored in alert group %s", delivery.recipient, groups)

    return deliver


def banner(
    settings: Settings,
    api_key: str | None,
    ddb: DynamoDBLocal,
    sfn: LocalStepFunctions | None = None,
    schedules: LocalScheduler | None = None,
) -> str:
    base = settings.base_url
    routes = "".join(
        f"  {r.function:<9}  {r.method:<4} {base}{r.path}"
        + (f"   (throttled {settings.throttles[r.function]}/s)" if r.function in settings.throttles else "")
        + "\n"
        for r in ROUTES
    )
    key = api_key or "(none: oncall.bootstrap is missing)"
    return (
        f"\nTocsin local stack\n"
        f"  base URL   {base}\n"
        f"{routes}"
        f"  API key    {key}   (send as header 'Authorization: <key>'; stored in {settings.api_key_file})\n"
        f"  DynamoDB   {ddb.endpoint}   (table {settings.table_name}, data in {ddb.data_dir})\n"
        + (
            f"  SMTP       127.0.0.1:{settings.smtp_port}   (sink for e-mail; everything sent: {base}/local/outbox)\n"
            f"  Inbound    <token>@{settings.inbound_domain} to 127.0.0.1:{settings.smtp_port}   "
            "(alerts of inbound_email integrations)\n"
            f"  SFN        {sfn.endpoint}   (escalations: time scale {sfn.time_scale:g}, "
            f"running ones kept in {sfn.state_file})\n"
            if sfn is not None
            else ""
        )
        + (
            f"  Scheduler  {schedules.endpoint}   (maintenance ends, kept in {schedules.state_file}; heartbeat "
            + (
                f"sweep every {settings.heartbeat_sweep_seconds:g} s)\n"
                if settings.heartbeat_sweep_seconds
                else "sweep off)\n"
            )
            if schedules is not None
            else ""
        )
        + "Ctrl-C stops everything.\n"
    )


def _say(line: str) -> None:
    print(line, flush=True)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM unwinds like Ctrl-C, so `finally` stops DynamoDB Local


def _check_port_free(port: int, variable: str = "PORT") -> None:
    """Bind as the servers will (SO_REUSEADDR, as uvicorn sets it): connections of a stopped run that linger in
    TIME_WAIT do not count, only a program listening there now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise SystemExit(
                f"port {port} is in use by another program ({exc.strerror}): stop it (another `make run`?), "
                f"or set {variable} to a free port"
            ) from None


def log_config() -> dict[str, Any]:
    config = copy.deepcopy(LOGGING_CONFIG)
    for name in ("local", "oncall"):  # gateway errors (handler tracebacks) and the domain's own logs
        config["loggers"][name] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    # Each execution's start and end would drown the lines a person reads (local.activity): warnings only.
    config["loggers"]["oncall.executor"] = {"handlers": ["default"], "level": "WARNING", "propagate": False}
    return config


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    logging.config.dictConfig(log_config())
    signal.signal(signal.SIGTERM, _raise_interrupt)
    _check_port_free(settings.port)  # fail before the 2 s DynamoDB start, not after
    if settings.sfn_port:
        _check_port_free(settings.sfn_port, "TOCSIN_SFN_PORT")
    if settings.scheduler_port:
        _check_port_free(settings.scheduler_port, "TOCSIN_SCHEDULER_PORT")
    settings.local_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    ddb = DynamoDBLocal(
        settings.local_dir / "dynamodb", settings.dynamodb_port, log_path=settings.local_dir / "dynamodb.log"
    )
    mail = MailServer(
        "127.0.0.1",
        settings.smtp_port,
        outbox=Outbox(settings.outbox_file),
        inbound=inbound_mail(settings),
        inbound_domain=settings.inbound_domain,
    )
    sfn = LocalStepFunctions(
        "127.0.0.1",
        settings.sfn_port,
        time_scale=settings.time_scale,
        state_file=settings.local_dir / "stepfunctions.json",
    )
    schedules = LocalScheduler(
        "127.0.0.1",
        settings.scheduler_port,
        time_scale=settings.time_scale,
        state_file=settings.local_dir / "schedules.json",
    )
    sweep = HeartbeatSweep(settings.heartbeat_sweep_seconds)
    poller: StreamPoller | None = None
    activity: Activity | None = None
    try:
        ddb.start()
        ensure_table(ddb.endpoint, settings.table_name)
        # Workers are spawned processes: they inherit this environment, and so do the handlers in them.
        os.environ.update(boto_env(ddb.endpoint, settings.table_name))
        for name, value in {**HANDLER_DEFAULTS, **local_defaults(settings)}.items():
            if value:
                os.environ.setdefault(name, value)
        reset_state(settings.throttle_file)  # every route's bucket full, then shared by the gateway's workers
        os.environ.update(throttle_env(settings))
        mail.start()  # escalation steps send e-mail here: it must listen before they run
        # Escalations: serve the API first, export its endpoint, then resume the executions of the last run
        # (their handlers call this API too).
        sfn.start(resume=False)
        os.environ.update(escalation_env(settings, sfn))
        sfn.resume()
        from oncall.store.dynamodb import DynamoStore

        store = DynamoStore(settings.table_name, client=dynamodb_client(ddb.endpoint))
        activity = Activity(store, Outbox(settings.outbox_file), settings.base_url, _say, now=datetime.now(UTC))
        # The escalation starter: every stored change of a group, from the stream (where the last run stopped);
        # the terminal's lines of new groups come from the same reading.
        poller = StreamPoller(
            ddb.endpoint,
            settings.table_name,
            state_file=settings.local_dir / "streams.json",
            poll_seconds=settings.stream_poll_seconds,
            observe=activity.groups_changed,
        ).start()
        # Maintenance ends and the heartbeat sweep: same order (their handlers call both APIs).
        schedules.start(resume=False)
        os.environ.update(scheduler_env(schedules))
        schedules.resume()
        sweep.start()
        api_key = provision_api_key(settings, ddb.endpoint)
        settings.url_file.write_text(settings.base_url + "\n")
        print(banner(settings, api_key, ddb, sfn, schedules), flush=True)
        activity.start()
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
            # Longer than clients' idle pools (httpx: 5 s, uvicorn's default too): a server closing an idle
            # connection just as a client reuses it makes "Server disconnected without sending a response".
            timeout_keep_alive=65,
        )
    except KeyboardInterrupt:
        pass
    finally:
        if poller is not None:
            poller.stop()  # how far it read stays in streams.json for the next start
        if activity is not None:
            activity.stop(timeout=2)
        settings.url_file.unlink(missing_ok=True)
        sweep.stop()
        schedules.stop()  # pending schedules stay in schedules.json for the next start
        sfn.stop()  # running escalations stay in stepfunctions.json for the next start
        mail.stop()
        ddb.stop()
        log.info("DynamoDB Local stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
