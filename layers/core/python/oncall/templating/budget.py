"""The budget of one render: CPU time and kept memory, checked by the render itself.

Every step the sandbox controls (attribute and item access, calls, operators, filters, tests, loop iterations,
buffered output) charges the budget of the render running on this thread; every ``CHECK_EVERY`` steps it reads
the thread's CPU clock and stops the render once the budget is spent. No step can be long: operations that
build big values are refused before they run (see :mod:`.sizes`), so the clock is read at least every few
milliseconds of work, and a Python-level loop cannot outrun the budget.

The budget is CPU time of the rendering thread, not wall time: under a burst a cheap grouping template kept off
the CPU must not time out and open a group of its own.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Final

from . import limits

CHECK_EVERY: Final = 1024  # steps between two reads of the thread's CPU clock (a system call)


class RenderTimeout(BaseException):
    """The render's CPU time is spent. A BaseException, so ``except Exception`` in a filter cannot swallow it."""


class Budget:
    """The budget of one render. Its clock is first read at its first check: a render that is over within
    ``CHECK_EVERY`` steps (most are) never reads it, and one that is not gets at most that many steps extra."""

    __slots__ = ("deadline", "kept", "seconds", "steps")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline: float | None = None if seconds > 0 else math.inf
        self.steps = CHECK_EVERY
        self.kept = 0

    def tick(self, steps: int = 1) -> None:
        """Charge ``steps`` units of work; read the clock once enough have been done."""
        self.steps -= steps
        if self.steps <= 0:
            self.check()

    def check(self) -> None:
        """Read the clock now (also before and after a step that may take milliseconds)."""
        self.steps = CHECK_EVERY
        if time.thread_time() > self._deadline():
            raise RenderTimeout

    def remaining(self) -> float:
        return self._deadline() - time.thread_time()

    def _deadline(self) -> float:
        if self.deadline is None:
            self.deadline = time.thread_time() + self.seconds
        return self.deadline

    def keep(self, size: int) -> None:
        """Charge ``size`` characters the render stores (appends to a list, buffers for a macro)."""
        self.kept += size
        if self.kept > limits.KEPT_MAX_SIZE:
            raise limits.too_much_kept()
        self.tick(1 + (size >> 12))


class _Unlimited(Budget):
    """Outside a render (Jinja folding an attribute lookup at compile time): nothing to charge."""

    def keep(self, size: int) -> None:
        pass


class _Current(threading.local):
    budget: Budget = _Unlimited(0)


current: Final = _Current()  # .budget: the budget of the render running on this thread
