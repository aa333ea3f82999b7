"""The base of the pydantic models (API schemas, people, chains, webhooks, schedules): each builds its validator and
serializer on first use instead of when its module is imported, so a cold start pays for the models its first
request uses, not for all of them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class LazyModel(BaseModel):
    model_config = ConfigDict(defer_build=True)
