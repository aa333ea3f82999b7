"""The CPU time a piece of work costs the calling thread: the clock a render's budget counts."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def thread_cpu() -> Iterator[Callable[[], float]]:
    """``with thread_cpu() as spent: ...`` then ``spent()``: the thread's CPU seconds inside the block (or so far).

    The cyclic garbage collector is paused inside: late in a run a test worker holds the objects of thousands of
    tests, and one full collection of that heap (most of a second) is charged to whatever allocates when it starts.
    That is the worker's cost, not the render's; a Lambda's heap is small.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    started = time.thread_time()
    ended: float | None = None
    try:
        yield lambda: (ended if ended is not None else time.thread_time()) - started
    finally:
        ended = time.thread_time()
        if was_enabled:
            gc.enable()
