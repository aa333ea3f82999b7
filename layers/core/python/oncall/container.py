"""The adapters of the ports that a Lambda container keeps between invocations, each created on first use.

Every handler module holds its own ``Container`` (module state is per execution environment, and tests load
fresh copies of a handler to start from empty caches).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from oncall.clock import SYSTEM_CLOCK, Clock

if TYPE_CHECKING:
    from oncall.access import Authenticator
    from oncall.executor import Executor
    from oncall.scheduler import Scheduler
    from oncall.store.dynamodb import DynamoStore


class Container:
    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock  # the one source of time of this environment's use cases
        self._store: DynamoStore | None = None
        self._authenticator: Authenticator | None = None
        self._executor: Executor | None = None
        self._scheduler: Scheduler | None = None

    def store(self) -> DynamoStore:
        if self._store is None:
            from oncall.store.dynamodb import DynamoStore

            self._store = DynamoStore()
        return self._store

    def authenticator(self) -> Authenticator:
        if self._authenticator is None:
            from oncall.access import Authenticator

            self._authenticator = Authenticator(self.store())
        return self._authenticator

    def executor(self) -> Executor:
        if self._executor is None:
            from oncall.executor import executor_from_env

            self._executor = executor_from_env()
        return self._executor

    def scheduler(self) -> Scheduler:
        if self._scheduler is None:
            from oncall.scheduler import scheduler_from_env

            self._scheduler = scheduler_from_env()
        return self._scheduler
