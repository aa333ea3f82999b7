"""Fault injection for tests: a named point where the process is killed (SIGKILL) when ``TOCSIN_FAULT`` names it.

A test sets the variable for a process it started (the local stack, a handler in a subprocess) to prove that what
must survive the death of a function at that point does, e.g. that a group stored by an ingest that dies before it
answers still escalates. Nothing sets it in a deployment; unset, a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
from typing import Final

FAULT_ENV: Final = "TOCSIN_FAULT"
AFTER_STORE: Final = "ingest.after_store"  # an alert and its group are stored, the sender has no answer yet


def point(name: str) -> None:
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
