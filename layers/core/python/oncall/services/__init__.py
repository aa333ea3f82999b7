"""The use cases: one module per aggregate, called by the management API's routers and by the web console alike.

A request goes::

    HTTP edge (oncall.api.routes.<resource> | oncall.web.pages.<resource>)  -- parses, maps the answer
      -> use case (oncall.services.<aggregate>)  -- authorizes the caller (services.policy), once, then works
        -> repositories (oncall.store, through oncall.ports)  -- own every key of the one table
          -> DynamoDB

Every use case takes the environment's :class:`Ports` and the caller (:class:`~oncall.services.policy.Principal`)
first, checks the caller against the policy table itself, and returns pydantic models (domain models or the views
defined next to it), never dicts: the OnCall-shaped JSON of the API and the console's pages are made at the edge.
Refusals are :mod:`oncall.errors`, which the edges turn into statuses through one table (``oncall.http.STATUS``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from oncall.clock import Clock
    from oncall.executor import Executor
    from oncall.outbound.client import Client
    from oncall.ports import Store
    from oncall.scheduler import Scheduler
    from oncall.settings import Settings


class Ports(Protocol):
    """What use cases reach of the outside world (a handler's :class:`~oncall.container.Container` is one)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def store(self) -> Store: ...
    @property
    def executor(self) -> Executor: ...
    @property
    def scheduler(self) -> Scheduler: ...
    @property
    def outbound(self) -> Client: ...
    def signing_key(self) -> bytes: ...
