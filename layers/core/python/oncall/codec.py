"""The one codec between the domain's dataclasses (:mod:`oncall.models`) and plain JSON values: table items, step
function state, the API's and the console's dicts.

:func:`to_json` writes what pydantic's ``model_dump(mode="json")`` wrote before the models were dataclasses (UTC
datetimes end in ``Z``), so items stored earlier read back the same. :func:`from_json` ignores keys that are not
fields (an item's keys and index attributes), turns ISO strings into datetimes and DynamoDB's numbers into ints,
and builds nested dataclasses. Each class's plan is made once, on its first use, from its type hints.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

T = TypeVar("T")
Decode = Callable[[Any], Any]

_MISSING = dataclasses.MISSING
_plans: dict[type, list[tuple[str, Decode | None]]] = {}
_defaults: dict[type, dict[str, Any]] = {}


def iso(value: datetime) -> str:
    """``2026-01-02T03:04:05Z``: pydantic's JSON form of a datetime (``+00:00`` written as ``Z``)."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _decoder(hint: Any) -> Decode | None:
    """How to turn a JSON value into a value of type ``hint``; None: as it is."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        given = [arg for arg in args if arg is not type(None)]
        inner = _decoder(given[0]) if len(given) == 1 else None
        return None if inner is None else (lambda value: None if value is None else inner(value))
    if hint is datetime:
        return _datetime
    if hint is int:
        return int  # DynamoDB's numbers come back as Decimal
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return lambda value: value if isinstance(value, hint) else from_json(hint, value)
    if origin is list and args:
        item = _decoder(args[0])
        return None if item is None else (lambda value: [item(v) for v in value])
    return None


def _plan(cls: type) -> list[tuple[str, Decode | None]]:
    plan = _plans.get(cls)
    if plan is None:
        hints = typing.get_type_hints(cls)
        plan = _plans[cls] = [(f.name, _decoder(hints[f.name])) for f in dataclasses.fields(cls) if f.init]
    return plan


def from_json(cls: type[T], data: Mapping[str, Any]) -> T:
    """An instance of the dataclass ``cls`` from a JSON object (or a table item); missing fields take defaults."""
    kwargs = {}
    for name, decode in _plan(cls):
        if name in data:
            value = data[name]
            kwargs[name] = value if decode is None or value is None else decode(value)
    return cls(**kwargs)


def fields_of(instance: Any) -> dict[str, Any]:
    """The dataclass ``instance``'s fields as they are (no conversion, nested dataclasses kept): a shallow dict."""
    return {f.name: getattr(instance, f.name) for f in dataclasses.fields(instance)}


def _defaults_of(cls: type) -> dict[str, Any]:
    found = _defaults.get(cls)
    if found is None:
        found = _defaults[cls] = {}
        for f in dataclasses.fields(cls):
            if f.default is not _MISSING:
                found[f.name] = f.default
            elif f.default_factory is not _MISSING:
                found[f.name] = f.default_factory()
    return found


def _value(value: Any, exclude_none: bool, exclude_defaults: bool) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json(value, exclude_none=exclude_none, exclude_defaults=exclude_defaults)
    if isinstance(value, list | tuple | set | frozenset):
        return [_value(v, exclude_none, exclude_defaults) for v in value]
    if isinstance(value, dict):
        return {k: _value(v, exclude_none, exclude_defaults) for k, v in value.items()}
    return value


def to_json(
    instance: Any,
    *,
    include: Collection[str] | None = None,
    exclude: Collection[str] = (),
    exclude_none: bool = False,
    exclude_defaults: bool = False,
) -> dict[str, Any]:
    """The dataclass ``instance`` as a JSON object: its fields (or those in ``include``, less ``exclude``); nested
    dataclasses likewise, with the same ``exclude_none`` and ``exclude_defaults``."""
    defaults = _defaults_of(type(instance)) if exclude_defaults else {}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(instance):
        name = f.name
        if (include is not None and name not in include) or name in exclude:
            continue
        value = getattr(instance, name)
        if (exclude_none and value is None) or (name in defaults and value == defaults[name]):
            continue
        out[name] = _value(value, exclude_none, exclude_defaults)
    return out
