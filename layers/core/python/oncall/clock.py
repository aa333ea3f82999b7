"""The domain's one source of the current time.

Use cases never read the wall clock themselves: they are given a :class:`Clock`. A handler's container holds
:data:`SYSTEM_CLOCK`; tests and the escalation simulation hold clocks of their own, so no test depends on the
date it runs on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final, Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant (timezone-aware, UTC)."""
        ...


class SystemClock:
    """The wall clock of the machine: the only place the domain reads it."""

    def now(self) -> datetime:
        return datetime.now(UTC)


SYSTEM_CLOCK: Final[Clock] = SystemClock()
