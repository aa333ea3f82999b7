"""Start and stop: what the local stack's long-running parts share.

:class:`Service` gives a part with ``start()`` and ``stop()`` the ``with`` statement (started on entry, stopped on
exit whatever happened). :class:`LoopThread` is a part whose work is one loop in a daemon thread (the heartbeat
sweep, the stream poller, the terminal's activity lines): the thread starts once, and ``stop`` sets the event the
loop waits on, then waits a bounded time for the thread (a handler in the middle of a call may take a moment).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


class Service(ABC):
    @abstractmethod
    def start(self) -> Self: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class LoopThread(Service):
    """Runs :meth:`_loop` in a daemon thread called ``thread_name`` from :meth:`start` until :meth:`stop`.

    The loop ends when ``self._stop`` is set (wait on it between rounds: ``self._stop.wait(seconds)``). A subclass
    says whether it runs at all (``enabled``) and what it sets up before its thread starts (``_prepare``).
    """

    thread_name = "loop"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return True

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("already started")
        if self.enabled:
            self._prepare()
            self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _prepare(self) -> None:
        """What must be ready before the thread starts (called by :meth:`start`, in the caller's thread)."""

    @abstractmethod
    def _loop(self) -> None: ...
