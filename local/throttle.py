"""API Gateway's per-route throttling, for the local gateway: the limits of ``oncall.http_routes``.

Each route has a token bucket of ``burst`` tokens that refills at ``rate`` per second (API Gateway's
``ThrottlingBurstLimit`` and ``ThrottlingRateLimit``); a request takes a token or is answered 429 ``{"message":
"Too Many Requests"}`` without reaching the function. A route's limit is the one of its class (the function that
serves it), as the CDK stack sets it.

Locally the limits are off unless asked for, so tests and benchmarks that burst ingest measure Tocsin, not the
throttle: ``TOCSIN_INGEST_THROTTLE``, ``TOCSIN_API_THROTTLE``, ``TOCSIN_WEB_THROTTLE`` (``<rate>/<burst>``, the
variables ``cdk deploy`` also reads; ``off`` or unset: no limit), or ``python -m local --throttle ingest=5/10``.

The gateway runs in several uvicorn worker processes, so the buckets live in a small shared file
(``<local dir>/throttle.state``, memory-mapped, one slot of two doubles per route, taken under ``flock``): the stack
as a whole admits what API Gateway would, whichever worker a request lands on. ``time.monotonic`` is one clock
for every process of the machine.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Final

from oncall.http_routes import ROUTES, THROTTLE_CLASSES, HttpRoute, Throttle

STATE_ENV: Final = "TOCSIN_THROTTLE_STATE"
_SLOT: Final = struct.Struct("<dd")  # tokens, time of the last refill (0: never used, the bucket is full)


def env_name(route_class: str) -> str:
    return f"TOCSIN_{route_class.upper()}_THROTTLE"


def parse_setting(text: str | None) -> Throttle | None:
    """``<rate>/<burst>`` -> a throttle; ``off``, empty or unset -> none."""
    if text is None or text.strip().lower() in ("", "off"):
        return None
    return Throttle.parse(text)


def throttles_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Throttle]:
    """Route class -> throttle, for the classes whose ``TOCSIN_<CLASS>_THROTTLE`` sets one."""
    environ = os.environ if environ is None else environ
    found = {name: parse_setting(environ.get(env_name(name))) for name in THROTTLE_CLASSES}
    return {name: throttle for name, throttle in found.items() if throttle is not None}


def take(tokens: float, stamp: float, now: float, throttle: Throttle) -> tuple[bool, float, float]:
    """One request against a bucket: (admitted, tokens left, new stamp)."""
    if stamp <= 0.0:
        tokens = float(throttle.burst)
    else:
        tokens = min(float(throttle.burst), tokens + max(0.0, now - stamp) * throttle.rate)
    if tokens >= 1.0:
        return True, tokens - 1.0, now
    return False, tokens, now


class Throttler:
    """The buckets of ``routes`` under ``throttles`` (route class -> limit), in memory or in a shared file."""

    def __init__(
        self,
        throttles: Mapping[str, Throttle],
        routes: Iterable[HttpRoute] = ROUTES,
        *,
        state_file: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        ordered = list(routes)
        self.limits = {route.key: throttles[route.function] for route in ordered if route.function in throttles}
        self._slots = {route.key: index for index, route in enumerate(ordered)}
        self._clock = clock
        self._lock = threading.Lock()
        self._file: int | None = None
        size = _SLOT.size * max(1, len(ordered))
        if state_file is not None and self.limits:
            self._file = os.open(state_file, os.O_RDWR | os.O_CREAT, 0o600)
            if os.fstat(self._file).st_size < size:
                os.ftruncate(self._file, size)
            self._memory: mmap.mmap | bytearray = mmap.mmap(self._file, size)
        else:
            self._memory = bytearray(size)

    @property
    def enabled(self) -> bool:
        return bool(self.limits)

    def admit(self, route_key: str) -> bool:
        throttle = self.limits.get(route_key)
        if throttle is None:
            return True
        offset = self._slots[route_key] * _SLOT.size
        with self._lock:
            if self._file is not None:
                fcntl.flock(self._file, fcntl.LOCK_EX)
            try:
                tokens, stamp = _SLOT.unpack_from(self._memory, offset)
                admitted, tokens, stamp = take(tokens, stamp, self._clock(), throttle)
                _SLOT.pack_into(self._memory, offset, tokens, stamp)
            finally:
                if self._file is not None:
                    fcntl.flock(self._file, fcntl.LOCK_UN)
        return admitted

    def close(self) -> None:
        if self._file is not None:
            if isinstance(self._memory, mmap.mmap):
                self._memory.close()
            os.close(self._file)
            self._file = None


def reset_state(path: Path) -> None:
    """Every bucket full again (a new run of the local stack)."""
    path.write_bytes(b"")
