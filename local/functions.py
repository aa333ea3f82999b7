"""Lambda handlers for the local stack: loading ``functions/<name>/handler.py`` and a Lambda-like context."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from local import FUNCTIONS_DIR

Handler = Callable[[dict[str, Any], Any], Any]

ACCOUNT_ID: Final = "123456789012"  # AWS's documentation account id
REGION: Final = "us-east-1"


@dataclass
class LambdaContext:
    """The attributes of the Python runtime's context object that handlers and Powertools read."""

    function_name: str
    timeout_seconds: float = 30.0
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/[{self.function_version}]"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(function: str, functions_dir: Path = FUNCTIONS_DIR) -> Handler:
    """Import ``<functions_dir>/<function>/handler.py`` under a unique module name and return its ``handler``.

    Unique names, because every function's module is called ``handler`` and two gateways (tests) with different
    directories must not share one. Registered in ``sys.modules`` before executing it, as the importlib recipe
    says, since dataclasses and pydantic resolve annotations through it.
    """
    path = functions_dir / function / "handler.py"
    if not path.is_file():
        raise FileNotFoundError(f"no Lambda handler for function {function!r}: {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"tocsin_local_fn_{function}_{uuid.uuid4().hex}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)  # the Lambda "init" phase
    except BaseException:
        del sys.modules[spec.name]
        raise
    use_local_adapters(module)
    handler: Handler = module.handler
    return handler


def use_local_adapters(module: ModuleType) -> None:
    """Give a function's container the adapters that have no local twin of their own (SES and SNS: the local
    notifier), before its first invocation. Everything else the handler reaches as on AWS, through the endpoints
    and settings of the local stack's environment."""
    container = getattr(module, "container", None)
    if container is not None:
        from local.notifier import LocalNotifier

        container.notifier = LocalNotifier.from_env()


class HandlerRegistry:
    """function name -> handler, invoked the way Lambda does: one invocation per execution environment.

    A loaded handler module is an execution environment; concurrent requests get environments of their own
    (loaded on demand, then reused), because handlers keep per-invocation state on module globals (Powertools'
    resolver keeps the current event on its app). Injected callables (tests) are called as they are.
    """

    def __init__(self, handlers: Mapping[str, Handler] | None = None, functions_dir: Path = FUNCTIONS_DIR) -> None:
        self._injected: dict[str, Handler] = dict(handlers or {})
        self._functions_dir = functions_dir
        self._idle: dict[str, list[Handler]] = {}
        self._lock = threading.Lock()

    def invoke(self, function: str, event: Any, context: Any) -> Any:
        if (injected := self._injected.get(function)) is not None:
            return injected(event, context)
        handler = self._acquire(function)
        try:
            return handler(event, context)
        finally:
            with self._lock:
                self._idle[function].append(handler)

    def _acquire(self, function: str) -> Handler:
        with self._lock:
            idle = self._idle.setdefault(function, [])
            if idle:
                return idle.pop()
        # A new environment: its "init" runs outside the lock. A failed import is not kept (like a Lambda init
        # error): the next request tries again.
        return load_handler(function, self._functions_dir)
