"""OnCall's pagination over the use cases' results: page numbers over small lists, cursors over alert groups and
alerts (with ``next``/``previous`` URLs), and the page-size query parameters. An edge concern: use cases return
lists and store pages, never URLs."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

from oncall.api.request import RequestInfo
from oncall.errors import InvalidInput, NotFound

T = TypeVar("T")
MAX_PAGE_SIZE = 100


class CountedPage(Protocol):
    """A page of a listing as the use cases return it: items, how many match in all, the next page's cursor."""

    @property
    def items(self) -> Sequence[Any]: ...
    @property
    def count(self) -> int: ...
    @property
    def cursor(self) -> str | None: ...


def page_size(request: RequestInfo, default: int) -> int:
    raw = request.first("perpage") or request.first("page_size")
    if raw is None:
        return default
    try:
        size = int(raw)
    except ValueError as error:
        raise InvalidInput.field("perpage", "A valid integer is required.") from error
    return max(1, min(size, MAX_PAGE_SIZE))


def _decode_api_cursor(raw: str | None) -> list[str | None]:
    if not raw:
        return []
    try:
        trail = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except ValueError as error:
        raise InvalidInput.field("cursor", "Invalid cursor.") from error
    if not isinstance(trail, list) or not all(step is None or isinstance(step, str) for step in trail):
        raise InvalidInput.field("cursor", "Invalid cursor.")
    return trail


def _encode_api_cursor(trail: list[str | None]) -> str:
    return base64.urlsafe_b64encode(json.dumps(trail).encode()).decode().rstrip("=")


def _page_url(request: RequestInfo, trail: list[str | None]) -> str:
    query = {k: v for k, v in request.query.items() if k not in ("cursor", "page")}
    pairs = [(k, value) for k, values in query.items() for value in values]
    if trail:
        pairs.append(("cursor", _encode_api_cursor(trail)))
    encoded = urlencode(pairs)
    return f"{request.base_url}{request.path}" + (f"?{encoded}" if encoded else "")


def paginate_cursor(
    request: RequestInfo, size: int, fetch: Callable[[int, str | None], CountedPage], convert: Callable[[Any], Any]
) -> dict[str, Any]:
    """Cursor pagination dressed as OnCall's page-number pagination (``next``/``previous`` are URLs).

    The cursor carries the trail of store cursors of the pages before, so ``previous`` works too. ``fetch(limit,
    store cursor)`` raises ValueError for a store cursor it did not make.
    """
    trail = _decode_api_cursor(request.first("cursor"))
    try:
        page = fetch(size, trail[-1] if trail else None)
    except ValueError as error:
        raise InvalidInput.field("cursor", "Invalid cursor.") from error
    count = page.count
    number = len(trail) + 1
    next_url = _page_url(request, [*trail, page.cursor]) if page.cursor else None
    previous_url = _page_url(request, trail[:-1]) if trail else None
    return {
        "count": count,
        "next": next_url,
        "previous": previous_url,
        "results": [convert(i) for i in page.items],
        "current_page_number": number,
        "page_size": size,
        "total_pages": max(1, math.ceil(count / size)),
    }


def paginate_list(request: RequestInfo, items: list[T], default_size: int, convert: Any) -> dict[str, Any]:
    """Page-number pagination over a list already in memory (integrations, routes: small sets)."""
    size = page_size(request, default_size)
    raw_page = request.first("page") or "1"
    try:
        number = max(1, int(raw_page))
    except ValueError as error:
        raise InvalidInput.field("page", "A valid integer is required.") from error
    total_pages = max(1, math.ceil(len(items) / size))
    if number > total_pages:
        raise NotFound("Invalid page.")

    def url(n: int) -> str:
        query = {k: v for k, v in request.query.items() if k != "page"}
        pairs = [(k, value) for k, values in query.items() for value in values] + [("page", str(n))]
        return f"{request.base_url}{request.path}?{urlencode(pairs)}"

    chunk = items[(number - 1) * size : number * size]
    return {
        "count": len(items),
        "next": url(number + 1) if number < total_pages else None,
        "previous": url(number - 1) if number > 1 else None,
        "results": [convert(i) for i in chunk],
        "current_page_number": number,
        "page_size": size,
        "total_pages": total_pages,
    }
