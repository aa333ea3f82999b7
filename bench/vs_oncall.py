"""Tocsin against Grafana OnCall OSS, side by side on this machine (``make bench-vs-oncall``).

Performance goals are ratios against OnCall measured in one run on the same machine, because absolute figures on
a shared 2-core box are noise. This builds OnCall's engine (uWSGI + Celery + Redis + SQLite) with the team's anchor
scripts, used in place (``../shared/bench/oncall-anchor/``: setup.sh, bench.py, wait_idle.sh, footprint.sh,
start_worker.sh), starts Tocsin's local stack on free ports next to it, and then:

1. footprint: both at their defaults (OnCall's worker at concurrency 1), idle, fresh and then after a 40-alert
   warm-up: PSS of every process;
2. for each pair, each workload runs against OnCall, then against Tocsin (the same Alertmanager payloads from the
   anchor's bench.py, the same number of senders and pacing); each pair's ratios are computed from those two
   adjacent runs, with the load average at the time;
3. footprint again, both idle after the runs; the ingest handler's cold import time.

End to end means POST -> the alert is stored and visible. OnCall answers 200 after only enqueueing, so its time
ends at the ``alerts_alert`` row's ``created_at`` (the anchor's bench.py polls SQLite). Tocsin answers 200 only
after the alert is stored, so its time ends at the 200; every alert is then counted back through the API.

    ONCALL_SOURCE=/path/to/grafana-oncall(.git) make bench-vs-oncall     # builds OnCall into BENCH_DIR once
    .venv/bin/python bench/vs_oncall.py --pairs 3 --oncall-concurrency 1

OnCall listens on the anchor's fixed ports (uWSGI 127.0.0.1:8080, Redis 6379): they must be free. Everything
this starts is stopped at the end, also on an error or Ctrl-C. Results: the ``vs_oncall`` section of
bench/results.json and the table in docs/performance.md between its markers.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import (
    REPO,
    LocalStack,
    cold_import_ms,
    process_tree,
    save_section,
    send_all,
    stack_footprint,
)

ANCHOR_COMMIT: Final = "3666186a"  # v1.16.8-1, the archived head the anchor's figures were measured at
ONCALL_BASE: Final = "http://127.0.0.1:8080"  # fixed in the anchor scripts, as is Redis on 6379
ONCALL_PORTS: Final = {"uWSGI": 8080, "Redis": 6379}
DOC: Final = REPO / "docs/performance.md"
DOC_START: Final = "<!-- bench-vs-oncall:start -->"
DOC_END: Final = "<!-- bench-vs-oncall:end -->"
# Tocsin's limiters are not what this measures; the anchor lifts OnCall's (CUSTOM_RATELIMITS) the same way.
TOCSIN_ENV: Final = {"TOCSIN_RATE_LIMIT": f"{10**9}/300", "TOCSIN_API_RATE_LIMIT": f"{10**9}/60"}
# Settings of the local stack this run leaves at their defaults unless the environment sets them (recorded then).
TOCSIN_SETTINGS: Final = ("TOCSIN_WORKERS", "TOCSIN_DYNAMODB_JAVA_OPTS")


@dataclass(frozen=True)
class Workload:
    name: str
    alerts: int
    senders: int
    grouping: str  # the anchor's bench.py: "distinct" (a new group each) or "same" (all in one group)
    rate: float = 0.0  # requests/s in total; 0: as fast as answered


WORKLOADS: Final = (
    Workload("new_groups", 800, 8, "distinct"),
    Workload("one_group", 800, 8, "same"),
    Workload("paced_20_per_s", 600, 2, "distinct", 20.0),
)
WARM_UP: Final = Workload("warm_up", 40, 8, "distinct")
FOOTPRINT_STATES: Final = {
    "fresh": "fresh (no request yet), defaults",
    "warm": "idle after a 40-alert warm-up, defaults (the goal)",
    "after_runs": "idle after the runs",
}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def stop_tree(root: int, sig: signal.Signals, timeout: float = 30.0) -> None:
    """Signal ``root`` (which stops its own children), wait for the whole tree, SIGKILL what is left by pid."""
    if not _alive(root):
        return
    pids = process_tree(root)
    with contextlib.suppress(ProcessLookupError):
        os.kill(root, sig)
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# --- Grafana OnCall, built and driven by the anchor scripts -----------------------------------------------------


class OnCall:
    """The anchor's OnCall engine in ``bench_dir``: built by setup.sh, driven by bench.py, both run in place."""

    PROCESSES: Final = (  # pid file (where footprint.sh and cpu_snap.py look), its command, how to stop it
        ("worker.pid", b"celery", signal.SIGTERM),
        ("uwsgi-master.pid", b"uwsgi", signal.SIGINT),  # uWSGI stops on INT (TERM reloads without die-on-term)
        ("redis.pid", b"redis-server", signal.SIGTERM),
    )

    def __init__(self, anchor: Path, bench_dir: Path, fixture: Path) -> None:
        self.anchor = anchor
        self.dir = bench_dir
        self.fixture = fixture
        self.concurrency = 0
        self._children: list[subprocess.Popen[bytes]] = []

    @property
    def built(self) -> bool:
        ready = (self.dir / "venv/bin/uwsgi", self.dir / "uwsgi-bench.ini", self.dir / "env.sh", self.dir / "token.txt")
        return all(path.exists() for path in ready) and bool(self.token)

    @property
    def token(self) -> str:
        path = self.dir / "token.txt"
        return path.read_text().strip() if path.exists() else ""

    @property
    def commit(self) -> str:
        path = self.dir / "commit.txt"
        return path.read_text().strip() if path.exists() else "unknown"

    def build(self, source: Path) -> None:
        """setup.sh in place. Its step 6 also copies two files of a PostgreSQL variant that the anchor folder
        does not ship (pg_setup.sh, env-pg.sh), which stops it under ``set -e``: that one copy is dropped on the
        fly; the script runs with ``$0`` = its real path, so it finds its sibling files."""
        script = self.anchor / "setup.sh"
        text = script.read_text().replace(" $HERE/pg_setup.sh $HERE/env-pg.sh", "")
        print(f"building Grafana OnCall from {source} into {self.dir} (setup.sh; 15+ minutes with a cold pip cache)")
        self.dir.mkdir(parents=True, exist_ok=True)
        log = self.dir / "setup.log"
        with log.open("ab") as out:
            result = subprocess.run(
                ["bash", "-c", text, str(script), str(source)],
                env={**os.environ, "BENCH_DIR": str(self.dir)},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=3600,
                check=False,
            )
        self.stop()  # setup.sh leaves Redis, uWSGI and a worker running; start() starts them afresh
        if result.returncode != 0 or not self.built:
            tail = log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"setup.sh failed (exit {result.returncode}); its log: {log}\n{tail}")

    def start(self, concurrency: int) -> None:
        """Redis, uWSGI and a Celery worker as setup.sh starts them; the anchor's fixed ports must be free."""
        busy = [f"{name} {port}" for name, port in ONCALL_PORTS.items() if _port_open(port)]
        if busy:
            raise SystemExit(
                f"ports in use: {', '.join(busy)}. The OnCall anchor needs them (fixed in its scripts): stop what "
                "listens there (another OnCall, or a Tocsin `make run` on 8080) and run again."
            )
        self._spawn(
            "redis.pid",
            ["redis-server", "--bind", "127.0.0.1", "--port", "6379", "--save", "", "--appendonly", "no"],
            "redis.log",
        )
        self._spawn("uwsgi-master.pid", ["bash", "-c", f'source "{self.dir}/env.sh" && exec uwsgi --ini "$1"', "uwsgi",
                                         str(self.dir / "uwsgi-bench.ini")], "uwsgi.log")  # fmt: skip
        self.start_worker(concurrency)
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{ONCALL_BASE}/health/", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"OnCall's uWSGI did not answer /health/ within 120 s: see {self.dir}/uwsgi.log")
            time.sleep(0.5)

    def start_worker(self, concurrency: int) -> None:
        """(Re)start the Celery worker with embedded beat at ``concurrency`` (the anchor's start_worker.sh)."""
        self._stop_one("worker.pid")
        self._spawn(
            "worker.pid", [str(self.anchor / "start_worker.sh"), str(concurrency)], f"worker-c{concurrency}.log"
        )
        self.concurrency = concurrency

    def _spawn(self, pid_file: str, command: list[str], log: str) -> None:
        with (self.dir / log).open("ab") as out:
            process = subprocess.Popen(
                command,
                cwd=self.dir,
                env={**os.environ, "BENCH_DIR": str(self.dir)},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._children.append(process)
        (self.dir / pid_file).write_text(f"{process.pid}\n")  # each command execs, so this is the process itself

    def _stop_one(self, pid_file: str) -> None:
        """Stop the process of ``pid_file`` and its children, if it is still the one that file names: a pid
        left from an earlier run may belong to another process by now."""
        path = self.dir / pid_file
        command, sig = next((c, s) for f, c, s in self.PROCESSES if f == pid_file)
        if path.exists() and (text := path.read_text().strip()).isdigit():
            with contextlib.suppress(OSError):
                if command in Path(f"/proc/{text}/cmdline").read_bytes():
                    stop_tree(int(text), sig)
            path.unlink(missing_ok=True)  # uWSGI removes its own (vacuum)

    def stop(self) -> None:
        for pid_file, _, _ in self.PROCESSES:
            self._stop_one(pid_file)
        for process in self._children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)  # reap
        self._children.clear()

    def _env(self) -> dict[str, str]:
        return {**os.environ, "BENCH_DIR": str(self.dir), "PATH": f"{self.dir / 'venv/bin'}:{os.environ['PATH']}"}

    def wait_idle(self) -> None:
        """The anchor's wait_idle.sh: every Celery queue empty (at most 300 s), then 3 s more."""
        subprocess.run([str(self.anchor / "wait_idle.sh")], env=self._env(), check=True, timeout=400,
                       stdout=subprocess.DEVNULL)  # fmt: skip

    def run(self, workload: Workload, label: str) -> dict[str, Any]:
        """The anchor's bench.py, in place, under OnCall's venv (it needs the redis client). Its payload fixture
        is looked up two folders above the script plus ``shared/``, which only exists in some layouts: the
        fixture next to the anchor is passed in."""
        code = (
            "import importlib.util, sys; "
            "spec = importlib.util.spec_from_file_location('anchor_bench', sys.argv[1]); "
            "bench = importlib.util.module_from_spec(spec); spec.loader.exec_module(bench); "
            "bench.FIXTURE = sys.argv[2]; sys.argv = [sys.argv[1], *sys.argv[3:]]; bench.main()"
        )
        args = ["--base", ONCALL_BASE, "--token", self.token, "--db", str(self.dir / "data/oncall.db"),
                "--n", str(workload.alerts), "--concurrency", str(workload.senders), "--grouping", workload.grouping,
                "--rate", str(workload.rate), "--timeout", "900", "--label", label]  # fmt: skip
        output = subprocess.run(
            [str(self.dir / "venv/bin/python"), "-c", code, str(self.anchor / "bench.py"), str(self.fixture), *args],
            env=self._env(), capture_output=True, text=True, timeout=1900, check=True,
        ).stdout  # fmt: skip
        figures: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
        return figures

    def footprint(self) -> dict[str, Any]:
        """The anchor's footprint.sh (PSS from smaps_rollup of Redis, the uWSGI tree and the Celery tree)."""
        output = subprocess.run(
            [str(self.anchor / "footprint.sh")], env=self._env(), capture_output=True, text=True, check=True, timeout=60
        ).stdout
        line = re.compile(r"^\s+(\S+)\s+pid=\S+\s+rss=\s*\d+ kB pss=\s*(\d+) kB", re.M)  # one per process
        per_process = [(name, int(pss)) for name, pss in line.findall(output)]
        groups: dict[str, int] = {}
        for name, pss in per_process:
            groups[name] = groups.get(name, 0) + pss
        return {
            "processes": len(per_process),
            "pss_mib": round(sum(groups.values()) / 1024, 1),
            **{f"{name}_pss_mib": round(kib / 1024, 1) for name, kib in groups.items()},
        }


# --- Tocsin, driven with the same payloads ----------------------------------------------------------------------


def load_anchor_bench(anchor: Path) -> ModuleType:
    """The anchor's bench.py as a module: its payload builder and percentile, so both sides share them."""
    spec = importlib.util.spec_from_file_location("oncall_anchor_bench", anchor / "bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Tocsin:
    def __init__(self, stack: LocalStack, anchor_bench: ModuleType, fixture: Path) -> None:
        self.stack = stack
        self.anchor_bench = anchor_bench
        self.base_payload = json.loads(fixture.read_text())

    def _api(self) -> httpx.Client:
        return httpx.Client(base_url=self.stack.base_url, headers={"Authorization": self.stack.api_key}, timeout=60)

    def run(self, workload: Workload, label: str) -> dict[str, Any]:
        """One workload into a new alertmanager integration; every alert answered 200 is then counted back."""
        with self._api() as api:
            created = api.post("/api/v1/integrations/", json={"name": f"bench {label}", "type": "alertmanager"})
            created.raise_for_status()
            integration = created.json()
        run_id = uuid.uuid4().hex[:8]
        pct = self.anchor_bench.pct
        bodies = [
            self.anchor_bench.build_payload(self.base_payload, run_id, n, workload.grouping)[1].encode()
            for n in range(workload.alerts)
        ]
        started = time.time()
        sent = send_all(integration["link"], bodies, workload.senders, time.monotonic() + 900, workload.rate)
        statuses: dict[str, int] = {}
        for s in sent:
            statuses[str(s.status)] = statuses.get(str(s.status), 0) + 1
        stored = [s for s in sent if s.status == 200]  # a 200 is sent only once the alert is stored
        e2e = [s.seconds for s in stored]
        http = [s.seconds for s in sent]
        last = max((s.started + s.seconds for s in stored), default=started)
        found = self._count_back(integration["id"], workload)
        return {
            "label": label,
            "n": workload.alerts,
            "concurrency": workload.senders,
            "grouping": workload.grouping,
            "rate_limit_req_s": workload.rate,
            "http_status": statuses,
            "http_p50_ms": round(pct(http, 50) * 1000, 1),
            "http_p99_ms": round(pct(http, 99) * 1000, 1),
            "alerts_found": found,
            "alerts_missing": len(stored) - found,
            "e2e_p50_ms": round(pct(e2e, 50) * 1000, 1) if e2e else None,
            "e2e_p90_ms": round(pct(e2e, 90) * 1000, 1) if e2e else None,
            "e2e_p99_ms": round(pct(e2e, 99) * 1000, 1) if e2e else None,
            "e2e_max_ms": round(max(e2e) * 1000, 1) if e2e else None,
            "e2e_span_s": round(last - started, 3),
            "e2e_alerts_per_s": round(len(stored) / (last - started), 1) if stored else None,
        }

    def _count_back(self, integration_id: str, workload: Workload) -> int:
        """Alerts visible through the API: the integration's groups, or the one group's ``alerts_count``."""
        with self._api() as api:
            page = api.get("/api/v1/alert_groups/", params={"integration_id": integration_id, "perpage": 1}).json()
            if workload.grouping == "distinct":
                return int(page["count"])
            if not page["results"]:
                return 0
            group = api.get(f"/api/v1/alert_groups/{page['results'][0]['id']}").json()
            return int(group["alerts_count"]) if page["count"] == 1 else -int(page["count"])  # several: a bug


# --- the run ----------------------------------------------------------------------------------------------------


def ratios(oncall: dict[str, Any], tocsin: dict[str, Any]) -> dict[str, Any]:
    """Tocsin's end-to-end throughput as a multiple of OnCall's; OnCall's p99 as a multiple of Tocsin's."""

    def div(a: float | None, b: float | None) -> float | None:
        return round(a / b, 1) if a and b else None

    return {
        "alerts_per_s_x": div(tocsin["e2e_alerts_per_s"], oncall["e2e_alerts_per_s"]),
        "p99_one_in": div(oncall["e2e_p99_ms"], tocsin["e2e_p99_ms"]),
    }


def goals(pairs: list[dict[str, Any]], footprint: dict[str, Any]) -> dict[str, Any]:
    """The team's goals, judged on every pair (``None``: not measured in this run)."""

    def every(workload: str, key: str, bound: float) -> bool | None:
        values = [p["ratios"][key] for p in pairs if p["workload"] == workload]
        return all(v is not None and v >= bound for v in values) if values else None

    warm = footprint["warm"]["ratio"]
    return {
        "new_groups_alerts_per_s_at_least_15x": every("new_groups", "alerts_per_s_x", 15),
        "one_group_p99_at_most_one_100th": every("one_group", "p99_one_in", 100),
        "idle_pss_at_most_a_quarter": warm is not None and warm <= 0.25,
    }


def measure_footprint(results: dict[str, Any], when: str, oncall: OnCall, stack: LocalStack, settle: float) -> None:
    """Both sides' idle PSS after ``settle`` seconds, into ``results["footprint"][when]``."""
    time.sleep(settle)
    both = {"oncall": oncall.footprint(), "tocsin": stack_footprint(stack), "loadavg": load_average()}
    both["ratio"] = (
        round(both["tocsin"]["pss_mib"] / both["oncall"]["pss_mib"], 2) if both["oncall"]["pss_mib"] else None
    )
    results["footprint"][when] = both
    print(f"idle footprint, {when}:", json.dumps(both), flush=True)


def markdown(results: dict[str, Any]) -> str:
    """The table docs/performance.md shows between its markers."""

    def ms(value: float | None) -> str:
        return "-" if value is None else (f"{value / 1000:.1f} s" if value >= 10_000 else f"{value:.0f} ms")

    def times(value: float | None) -> str:
        return "-" if value is None else f"{value}x"

    def one_in(value: float | None) -> str:
        return "-" if value is None else f"1/{value:.0f}" if value >= 10 else f"1/{value}"

    overrides = "".join(f" with {name}={value!r}" for name, value in results["tocsin_overrides"].items())
    lines = [
        f"Run of {results['finished_at']}: Tocsin `{results['tocsin_commit']}`{overrides} against OnCall "
        f"`{results['oncall_commit'][:8]}` (uWSGI 5 processes, Celery worker at concurrency "
        f"{results['oncall_worker_concurrency']}, Redis, SQLite), {results['machine_cores']} cores; each line one "
        "pair of adjacent runs (OnCall, then Tocsin), with the load average (1 min) before each.",
        "",
        "| pair | workload | load OnCall / Tocsin | OnCall alerts/s | Tocsin alerts/s | ratio | OnCall p99 "
        "| Tocsin p99 | p99 ratio | lost (OnCall / Tocsin) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in results["pairs"]:
        o, t, r = p["oncall"], p["tocsin"], p["ratios"]
        lines.append(
            f"| {p['pair']} | {p['workload']} | {o['loadavg_before'][0]:.1f} / {t['loadavg_before'][0]:.1f} "
            f"| {o['e2e_alerts_per_s']} | {t['e2e_alerts_per_s']} | {times(r['alerts_per_s_x'])} "
            f"| {ms(o['e2e_p99_ms'])} | {ms(t['e2e_p99_ms'])} | {one_in(r['p99_one_in'])} "
            f"| {o['alerts_missing']} / {t['alerts_missing']} |"
        )
    lines += ["", "| idle PSS (whole process tree) | OnCall | Tocsin | ratio |", "|---|---|---|---|"]
    for when, label in FOOTPRINT_STATES.items():
        f = results["footprint"].get(when)
        if f:
            tocsin = f["tocsin"]
            lines.append(
                f"| {label} | {f['oncall']['pss_mib']:.0f} MiB ({f['oncall']['processes']} processes) "
                f"| {tocsin['pss_mib']:.0f} MiB ({tocsin['processes']} processes; DynamoDB Local "
                f"{tocsin['dynamodb_local_pss_mib']:.0f}) | {f['ratio']} |"
            )
    cold = results.get("cold_import_ingest")
    goal = results["goals"]
    lines += [
        "",
        f"Cold import of the ingest handler: median {cold['median_ms']} ms." if cold else "",
        "Goals: new groups >= 15x in every pair: **{}**; one group p99 <= 1/100 in every pair: **{}**; idle PSS "
        "<= 1/4: **{}**.".format(
            *("met" if v else "not met" if v is not None else "not measured" for v in goal.values())
        ),
    ]
    return "\n".join(line for line in lines if line is not None)


def update_doc(table: str) -> None:
    text = DOC.read_text()
    start, end = text.find(DOC_START), text.find(DOC_END)
    if start < 0 or end < start:
        print(f"{DOC} has no {DOC_START} ... {DOC_END} markers: the table is only printed")
        return
    DOC.write_text(text[: start + len(DOC_START)] + "\n" + table + "\n" + text[end:])


@contextlib.contextmanager
def running(oncall: OnCall) -> Iterator[OnCall]:
    try:
        yield oncall
    finally:
        oncall.stop()


def git_commit() -> str:
    result = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    return result.stdout.strip() + ("+changes" if dirty else "")


def main() -> None:
    env = os.environ
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--oncall-source",
        type=Path,
        default=env.get("ONCALL_SOURCE") or None,
        help="grafana/oncall at 3666186a: a bare git dir or a checkout (ONCALL_SOURCE); needed to build",
    )
    parser.add_argument(
        "--bench-dir",
        type=Path,
        default=Path(env.get("BENCH_DIR") or Path.home() / "oncall-bench"),
        help="where OnCall is built and run, outside the repository (BENCH_DIR, ~/oncall-bench)",
    )
    parser.add_argument(
        "--anchor",
        type=Path,
        default=Path(env.get("ONCALL_ANCHOR") or REPO.parent / "shared/bench/oncall-anchor"),
        help="the anchor scripts (ONCALL_ANCHOR, ../shared/bench/oncall-anchor)",
    )
    parser.add_argument("--pairs", type=int, default=2, help="OnCall-then-Tocsin pairs of each workload")
    parser.add_argument(
        "--workloads",
        default=",".join(w.name for w in WORKLOADS),
        help=f"comma-separated subset of {', '.join(w.name for w in WORKLOADS)}",
    )
    parser.add_argument(
        "--oncall-concurrency",
        type=int,
        default=2,
        help="Celery worker concurrency during the runs (2 is its best here; 1 its default)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every workload's alerts (smoke runs)")
    parser.add_argument("--idle-seconds", type=float, default=20, help="settling time before an idle footprint")
    parser.add_argument("--output", type=Path, default=REPO / "bench/results.json")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite the table in docs/performance.md")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so every process started here is stopped

    anchor, bench_dir = args.anchor.resolve(), args.bench_dir.resolve()
    if not (anchor / "bench.py").is_file():
        raise SystemExit(f"the OnCall anchor scripts are not in {anchor}: set ONCALL_ANCHOR to their folder")
    if bench_dir == REPO or REPO in bench_dir.parents:
        raise SystemExit(f"BENCH_DIR {bench_dir} is inside the repository; OnCall's code must stay out of it")
    selected = [
        replace(w, alerts=max(1, round(w.alerts * args.scale)))
        for w in WORKLOADS
        if w.name in args.workloads.split(",")
    ]
    fixture = anchor.parent.parent / "fixtures/payloads/alertmanager.json"
    oncall = OnCall(anchor, bench_dir, fixture)
    if not oncall.built:
        source = args.oncall_source
        if source is None or not source.exists():
            raise SystemExit(
                f"Grafana OnCall is not built in {bench_dir} and ONCALL_SOURCE is "
                + (f"{source}, which does not exist" if source else "not set")
                + f". Point it at grafana/oncall at {ANCHOR_COMMIT} (v1.16.8-1), a bare git dir or a checkout:\n"
                "  ONCALL_SOURCE=/path/to/oncall.git make bench-vs-oncall\n"
                f"It is built once into BENCH_DIR ({bench_dir}; needs root for apt-get, 15+ minutes cold)."
            )
        oncall.build(source.resolve())
    if not oncall.commit.startswith(f"commit {ANCHOR_COMMIT}"):
        print(f"warning: OnCall in {bench_dir} is not the anchor's commit {ANCHOR_COMMIT}: {oncall.commit}")

    anchor_bench = load_anchor_bench(anchor)
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine_cores": os.cpu_count(),
        "oncall_commit": oncall.commit.removeprefix("commit "),
        "tocsin_commit": git_commit(),
        "oncall_worker_concurrency": args.oncall_concurrency,
        "tocsin_overrides": {name: env[name] for name in TOCSIN_SETTINGS if env.get(name)},
        "workloads": [asdict(w) for w in selected],
        "footprint": {},
        "pairs": [],
    }
    with running(oncall), LocalStack(env=TOCSIN_ENV) as stack:
        # Both at their defaults: Tocsin's stack as `make run` starts it (TOCSIN_WORKERS, DynamoDB Local's JVM
        # flags), OnCall's worker at concurrency 1. Fresh, before any request; then idle after a small warm-up,
        # the state a deployment idles in (OnCall's uWSGI processes grow on their first requests, then stay so).
        oncall.start(concurrency=1)
        tocsin = Tocsin(stack, anchor_bench, fixture)
        measure_footprint(results, "fresh", oncall, stack, args.idle_seconds)
        oncall.run(WARM_UP, "warm-up")
        tocsin.run(WARM_UP, "warm-up")
        oncall.wait_idle()
        measure_footprint(results, "warm", oncall, stack, args.idle_seconds)
        if args.oncall_concurrency != oncall.concurrency:
            oncall.start_worker(args.oncall_concurrency)
            oncall.run(WARM_UP, "warm-up of the worker")
        for pair in range(1, args.pairs + 1):
            for workload in selected:
                runs: dict[str, Any] = {"pair": pair, "workload": workload.name}
                for name, side in (("oncall", oncall), ("tocsin", tocsin)):
                    oncall.wait_idle()  # OnCall's fan-out tasks of the previous run must not load the next one
                    before = load_average()
                    figures = side.run(workload, f"{name} {workload.name} #{pair}")
                    runs[name] = {**figures, "loadavg_before": before, "loadavg_after": load_average()}
                runs["ratios"] = ratios(runs["oncall"], runs["tocsin"])
                results["pairs"].append(runs)
                print(json.dumps({"pair": pair, "workload": workload.name, **runs["ratios"],
                                  "oncall_alerts_per_s": runs["oncall"]["e2e_alerts_per_s"],
                                  "tocsin_alerts_per_s": runs["tocsin"]["e2e_alerts_per_s"],
                                  "oncall_p99_ms": runs["oncall"]["e2e_p99_ms"],
                                  "tocsin_p99_ms": runs["tocsin"]["e2e_p99_ms"],
                                  "loadavg": runs["tocsin"]["loadavg_before"]}), flush=True)  # fmt: skip
        oncall.wait_idle()
        measure_footprint(results, "after_runs", oncall, stack, args.idle_seconds)
    results["cold_import_ingest"] = cold_import_ms("ingest")
    results["goals"] = goals(results["pairs"], results["footprint"])
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    save_section(args.output, "vs_oncall", results)
    table = markdown(results)
    print(table)
    if not args.no_doc:
        update_doc(table)


if __name__ == "__main__":
    main()
