"""How long a value is once written out, measured before anything is written.

A string's length is known; a list, tuple or dict is written by ``str()`` (or ``json.dumps``) in one C call that
nothing can interrupt, and a structure that holds the same value twice at every level (``[x, x]`` nested thirty
times) writes out to gigabytes from a few hundred bytes. :func:`rendered_size` walks such values once per distinct
part, stops as soon as a limit is passed, and charges its walk to the render's budget.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import date, datetime, time, timedelta, tzinfo
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any, Final, NamedTuple

from jinja2.runtime import Undefined
from jinja2.utils import Namespace

from . import limits
from .budget import current

_CHUNK: Final = 1 << 16  # long strings are measured in pieces, so measuring never allocates much
_LOG10_2: Final = math.log10(2)
_SMALL_REPR: Final = (date, datetime, time, timedelta, tzinfo)
_VIEWS: Final[tuple[type[Collection[Any]], ...]] = (type({}.keys()), type({}.values()), type({}.items()))
_CONTAINERS: Final[tuple[type[Any], ...]] = (list, tuple, dict, set, frozenset, Namespace, *_VIEWS)
_OTHER: Final = 256  # an object of another type (a macro, a loop, a function) writes a short description


class Layout(NamedTuple):
    """How a value is written: as ``str()`` does (``json=False``) or as JSON with these options."""

    json: bool = False
    indent: int = 0  # JSON: characters per nesting level; 0 writes one line
    ensure_ascii: bool = True
    html_safe: bool = False  # Jinja's tojson also writes < > & ' as \\u00XX
    item_separator: int = 2  # len(", "), or len(",") with an indent
    key_separator: int = 2  # len(": ")


STR: Final = Layout()
JSON: Final = Layout(json=True)


class _Exceeded(Exception):
    pass


def rendered_size(value: Any, limit: int = limits.VALUE_MAX_SIZE, layout: Layout = STR) -> int:
    """``len(str(value))``, or the length of its JSON in ``layout``: exact for strings, an upper bound for the rest,
    and ``limit + 1`` as soon as it is known to be past ``limit``.

    A part repeated by reference counts once per occurrence, as writing it out repeats it, but is measured once.
    """
    if type(value) is str and not layout.json:
        return len(value)
    measure = _Measure(limit, layout)
    try:
        return measure.size(value, 0, top=True)
    except _Exceeded:
        return limit + 1


def int_digits(value: int) -> int:
    return int(abs(value).bit_length() * _LOG10_2) + 2


class _Measure:
    def __init__(self, limit: int, layout: Layout) -> None:
        self.limit = limit
        self.layout = layout
        self.known: dict[tuple[int, int], int] = {}
        self.open: set[int] = set()  # containers being measured: one inside itself is written as [...]
        self.made: list[Any] = []  # lists made here (of a dict view): alive while measuring, so their ids are too
        self.visited = 0

    def leaf(self, value: Any) -> int:
        """The length of what is not a string or a container."""
        if isinstance(value, (bool, type(None))):
            return 5
        if isinstance(value, int):
            return int_digits(value)
        if isinstance(value, float):
            return len(repr(value)) + (0 if not self.layout.json or math.isfinite(value) else 5)  # JSON: Infinity
        if isinstance(value, (bytes, bytearray)):
            return 4 * len(value) + 14
        if isinstance(value, _SMALL_REPR):
            return len(repr(value)) + 2
        return 16 if isinstance(value, Undefined) else _OTHER

    def unwrapped(self, value: Any) -> tuple[Any, int]:
        """A container's items as a list, tuple, set or dict, and the length of what str() writes around them."""
        if isinstance(value, Namespace):
            return object.__getattribute__(value, "_Namespace__attrs"), 13  # <Namespace {...}>
        if isinstance(value, _VIEWS):
            items = list(value)
            self.made.append(items)
            return items, 14  # dict_items([...])
        if isinstance(value, (list, dict)):
            return value, 0
        return value, 11 if isinstance(value, frozenset) else 3  # frozenset({...}); (x,) or set()

    def size(self, value: Any, depth: int, top: bool = False) -> int:
        """One Python frame per level of nesting, as str() itself needs, so whatever it can write is measured."""
        if type(value) is str and not top and not self.layout.json and value.isascii() and value.isprintable():
            # the common case, inline: exact, and without allocating
            quotes = value.count("'") if "'" in value and '"' in value else 0
            return len(value) + 2 + value.count("\\") + quotes
        if isinstance(value, str):
            return self.string(value, top)
        if not isinstance(value, _CONTAINERS):
            return self.leaf(value)

        layout = self.layout
        key = (id(value), depth if layout.indent else 0)
        known = self.known.get(key)
        if known is not None:
            return known
        if key[0] in self.open:
            return 5
        value, wrapper = self.unwrapped(value)
        pairs = isinstance(value, dict)
        count = len(value)
        self.visited += count
        if self.visited >= 256:
            current.budget.tick(self.visited)
            self.visited = 0
        size = wrapper + 2 + count * (layout.item_separator + (layout.key_separator if pairs else 0))
        if layout.indent and count:
            # each item on its own line, one level deeper; the closing bracket on a line of its own
            size += count * (1 + layout.indent * (depth + 1)) + 1 + layout.indent * depth
        limit = self.limit
        self.open.add(key[0])
        try:
            for item in value.items() if pairs else value:
                if pairs:
                    item_key, item = item
                    size += self.size(item_key, depth + 1)
                    if layout.json and not isinstance(item_key, str):
                        size += 2  # JSON writes every key as a string
                size += self.size(item, depth + 1)
                if size > limit:
                    raise _Exceeded
        finally:
            self.open.discard(key[0])
        self.known[key] = size
        return size

    def string(self, value: str, top: bool) -> int:
        layout = self.layout
        length = len(value)
        if length > self.limit:
            raise _Exceeded
        if not layout.json:
            if top:
                return length
            wrapper = 0 if type(value) is str else 8  # Markup('...')
            if value.isascii() and value.isprintable():  # the common case, exact and without allocating
                quotes = value.count("'") if "'" in value and '"' in value else 0
                return length + 2 + value.count("\\") + quotes + wrapper
            encode: Any = repr
        elif value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
            # nothing to escape (the common case): exact without writing it
            specials = sum(value.count(c) for c in "<>&'") if layout.html_safe else 0
            return length + 2 + 5 * specials
        else:
            wrapper = 0
            encode = encode_basestring_ascii if layout.ensure_ascii else encode_basestring
        size = 2 + wrapper + sum(len(encode(value[i : i + _CHUNK])) - 2 for i in range(0, length, _CHUNK))
        if not layout.json:
            size += value.count("'")  # a piece may pick other quotes than the whole string
        elif layout.html_safe:
            size += 5 * sum(value.count(c) for c in "<>&'")
        return size


def check(size: int, operation: str) -> None:
    """Refuse an operation whose result would be ``size`` characters long, before it runs; else charge the
    render's budget for writing it (a step per 4 KiB: a loop of big but allowed values still reads the clock)."""
    check_total(size, operation)
    current.budget.tick(1 + (size >> 12))


def check_total(size: int, operation: str) -> None:
    """Refuse a result that, written piece by piece, has grown to ``size`` characters (each piece is charged)."""
    if size > limits.VALUE_MAX_SIZE:
        raise limits.too_long(operation)


def check_rendered(value: Any, operation: str, layout: Layout = STR) -> None:
    """Refuse to write ``value`` out (as ``str()`` does, or as JSON) if that would pass the limit."""
    check(rendered_size(value, limits.VALUE_MAX_SIZE, layout), operation)
