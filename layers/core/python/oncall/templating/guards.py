"""Size rules of operators, of ``str.format`` and of the methods a template calls: the length of what an
operation would build, computed from its inputs before it runs.

Each of these is one call that nothing can interrupt once started (``'a' * 10**9``, ``'{:>1000000000}'.format(1)``,
``('\\t' * 50000).expandtabs(50000)``), so its result is measured first and refused past
:data:`~.limits.VALUE_MAX_SIZE`. What list and dict methods store is charged to the render's budget.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from string import Formatter
from typing import Any, Final

from jinja2.exceptions import SecurityError
from jinja2.runtime import LoopContext
from jinja2.utils import Namespace, generate_lorem_ipsum
from markupsafe import Markup

from . import limits
from .budget import Budget, current
from .sizes import check, check_rendered, check_total, rendered_size

CONTAINERS: Final[tuple[type[Any], ...]] = (
    list,
    tuple,
    dict,
    set,
    frozenset,
    Namespace,
    type({}.keys()),
    type({}.values()),
    type({}.items()),
)
_STR_OR_CONTAINERS: Final[tuple[type[Any], ...]] = (str, *CONTAINERS)
_SEQUENCES: Final = (str, bytes, list, tuple)
_LOG10_2: Final = math.log10(2)
_FORMAT_MAX_LENGTH: Final = 4096  # strftime/strptime formats: CPython sizes strftime's buffer from its format
# What list and dict methods store is charged to the budget: the characters of a string, or 8 per slot (the
# items already exist: what a template builds is charged where it is built).
_SLOT: Final = 8

# (the method's object, its name, positional arguments, keyword arguments, the render's budget)
MethodRule = Callable[[Any, str, tuple[Any, ...], dict[str, Any], Budget], None]


def size_of(value: Any) -> int:
    """Characters ``str(value)`` writes (see :func:`.sizes.rendered_size`)."""
    return len(value) if isinstance(value, str) else rendered_size(value)


def arg(args: tuple[Any, ...], kwargs: dict[str, Any], position: int, name: str, default: Any = None) -> Any:
    """An argument of a call, given by position or by name."""
    if len(args) > position:
        return args[position]
    return kwargs.get(name, default)


def check_comparison(left: Any, right: Any) -> None:
    """Comparing two nested structures walks both in one C call; one that repeats itself is far bigger than it
    looks (a list holding the same list twice, nested 60 times, compares 2**60 pairs)."""
    if isinstance(left, CONTAINERS) and isinstance(right, CONTAINERS):
        check(rendered_size(left) + rendered_size(right), "comparison")


def check_hashed(value: Any) -> None:
    """A tuple used as a dict key is hashed all the way down, in one C call."""
    if isinstance(value, (tuple, frozenset)):
        check_rendered(value, "key")


def check_datetime_format(form: Any) -> None:
    if isinstance(form, str) and len(form) > _FORMAT_MAX_LENGTH:
        raise SecurityError(f"a date format may be at most {_FORMAT_MAX_LENGTH} characters long")


# -------------------------------------------------------------------------------------------- operators


def _int_digits_exceed(bits: float) -> bool:
    # Integers keep to OnCall's RESULT_MAX_LENGTH digits: multiplying bigger ones is one long C call.
    return bits * _LOG10_2 > limits.RESULT_MAX_LENGTH


def check_binop(operation: str, left: Any, right: Any) -> None:
    """Refuse ``*``, ``**``, ``+`` and ``%`` whose result would be too long, before computing it."""
    if operation == "%":
        if isinstance(left, str):
            check_percent(left, right, escapes=isinstance(left, Markup))
        return
    too_long = False
    if operation == "*":
        if isinstance(left, int) and isinstance(right, _SEQUENCES):
            left, right = right, left
        if isinstance(left, _SEQUENCES) and isinstance(right, int):
            check(len(left) * right, "*")
        elif isinstance(left, int) and isinstance(right, int):
            too_long = _int_digits_exceed(abs(left).bit_length() + abs(right).bit_length())
    elif operation == "**":
        # |left| >= 2, so the result has at least right*log10(2) digits; testing that first also keeps
        # the float multiplication from overflowing for huge exponents.
        too_long = (
            isinstance(left, int)
            and isinstance(right, int)
            and right > 1
            and abs(left) > 1
            and (_int_digits_exceed(right) or right * math.log10(abs(left)) > limits.RESULT_MAX_LENGTH)
        )
    elif isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):  # "+"
        check(len(left) + len(right), "+")
    if too_long:
        raise limits.too_long(operation, limits.RESULT_MAX_LENGTH)


# A printf-style conversion: mapping key, flags, width, precision, type. Widths and precisions (also "*" ones
# taken from the arguments) and the arguments decide how long the result is, before anything is written.
# (Patterns are compiled by re's cache on first use: templates rarely format, and ingest imports this module.)
_PERCENT_SPEC: Final = r"%(?:\(([^)]*)\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])"


def check_percent(template: str, args: Any, *, escapes: bool = False) -> None:
    """``'%0100000000d' % 1``, or ``('%s' * 9999) % ((x,) * 9999)``: one C call that writes it all."""
    positional = list(args) if isinstance(args, tuple) else [args]
    size = len(template)
    for key, width, precision, kind in re.findall(_PERCENT_SPEC, template):
        if kind == "%":
            continue
        numbers = [0]
        for part in (width, precision):
            if part == "*":
                star = positional.pop(0) if positional else 0
                numbers.append(abs(star) if isinstance(star, int) else 0)
            elif part:
                numbers.append(int(part))
        argument = args.get(key) if key and isinstance(args, dict) else positional.pop(0) if positional else None
        if kind in "sra":
            written = size_of(argument)
        elif isinstance(argument, int):
            written = argument.bit_length() // 3 + 3  # octal is the longest
        else:
            written = 330  # a float as %f: up to 309 digits
        size += max(*numbers, written)
        check_total(size * (6 if escapes else 1), "%")  # Markup % escapes each argument
    check(size * (6 if escapes else 1), "%")


class BoundedFormatter(Formatter):
    """``str.format`` for templates (mixed into Jinja's sandboxed formatters): widths, precisions and the total
    length are checked field by field, before each is written."""

    _FIELD_WIDTH: Final = r"(\d+)?[,_]?(?:\.(\d+))?[a-zA-Z%]?$"

    def vformat(self, format_string: Any, args: Any, kwargs: Any) -> str:
        self._written = len(format_string) if isinstance(format_string, str) else 0
        return super().vformat(format_string, args, kwargs)

    def format_field(self, value: Any, format_spec: str) -> Any:
        current.budget.tick()
        match = re.search(self._FIELD_WIDTH, format_spec)
        numbers = [int(n) for n in match.groups() if n] if match else []
        written = max(*numbers, size_of(value)) + len(format_spec)
        self._written += written
        check_total(self._written, "format")
        current.budget.tick(written >> 12)
        return super().format_field(value, format_spec)

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion in ("r", "a"):
            check_rendered(value, "format")
        return super().convert_field(value, conversion)


# ---------------------------------------------------------------------------------------------- methods


def _width(target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> None:
    width = arg(args, kwargs, 0, "width")
    if isinstance(width, int):
        check(width, name)


def _expandtabs(target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> None:
    tabsize = arg(args, kwargs, 0, "tabsize", 8)
    tabs = target.count("\t") if isinstance(target, str) else target.count(b"\t")
    check(len(target) + tabs * (tabsize if isinstance(tabsize, int) and tabsize > 0 else 0), name)


def _replace(target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> None:
    check_replace(target, arg(args, kwargs, 0, "old"), arg(args, kwargs, 1, "new"), arg(args, kwargs, 2, "count", -1))


def _join(target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> None:
    items = args[0] if args else ()
    if isinstance(items, (list, tuple)):
        check(sum(len(i) for i in items if isinstance(i, (str, bytes))) + len(items) * len(target), name)


def _translate(target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> None:
    table = args[0] if args else None
    longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1) if isinstance(table, dict) else 1
    check(len(target) * max(longest, 1), name)


def _scaled(factor: int, ascii_factor: int | None = None) -> MethodRule:
    def rule(target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> None:
        exact = ascii_factor is not None and target.isascii()
        check(len(target) * (ascii_factor if exact else factor), name)  # type: ignore[operator]

    return rule


def check_replace(text: str | bytes, old: Any, new: Any, count: Any = -1) -> None:
    kind = str if isinstance(text, str) else bytes
    if not isinstance(old, kind) or not isinstance(new, kind) or len(new) <= len(old):
        return
    needle: Any = old  # of the text's kind, as checked above
    found = text.count(needle) if needle else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    check(len(text) + found * (len(new) - len(old)), "replace")


def _stored(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes)) else _SLOT


def _append(target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> None:
    if args:
        budget.keep(_stored(args[-1]))


def _extend(target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> None:
    if args:
        added = args[0]
        budget.keep(_SLOT * (len(added) if isinstance(added, _STR_OR_CONTAINERS) else 1))


def _compares(target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> None:
    for value in args:
        check_comparison(value, target)


def _sort(target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> None:
    check_rendered(target, "sort")


def _update(target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> None:
    added = args[0] if args else ()
    budget.keep(_SLOT * (len(kwargs) + (len(added) if isinstance(added, _STR_OR_CONTAINERS) else 1)))


def _setdefault(target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> None:
    if args:
        check_hashed(args[0])
        budget.keep(_SLOT + (_stored(args[1]) if len(args) > 1 else 0))


def _key(target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> None:
    if args:
        check_hashed(args[0])


def _fromkeys(target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> None:
    if args and isinstance(args[0], _STR_OR_CONTAINERS):
        value = args[1] if len(args) > 1 else None
        check(size_of(args[0]) + len(args[0]) * (size_of(value) + 4), name)


def _changed(target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> None:
    for value in args:  # loop.changed() compares with the previous values
        check_rendered(value, "changed")


_TEXT_METHODS: Final[dict[str, MethodRule]] = {
    **dict.fromkeys(("center", "ljust", "rjust", "zfill"), _width),
    **dict.fromkeys(("upper", "lower", "title", "capitalize", "casefold", "swapcase"), _scaled(3, 1)),  # "ﬃ" -> "FFI"
    **dict.fromkeys(("split", "rsplit", "splitlines"), _scaled(5)),  # ['a', 'b', ...]
    **dict.fromkeys(("encode", "hex"), _scaled(4)),
    "expandtabs": _expandtabs,
    "replace": _replace,
    "join": _join,
    "translate": _translate,
}
# (type of the method's object, method name) -> the method's rule
_METHOD_RULES: Final[dict[tuple[type, str], MethodRule]] = {
    **{(kind, name): rule for kind in (str, Markup, bytes) for name, rule in _TEXT_METHODS.items()},
    **dict.fromkeys(((list, "append"), (list, "insert")), _append),
    (list, "extend"): _extend,
    **dict.fromkeys(((list, "index"), (list, "count"), (list, "remove")), _compares),
    (list, "sort"): _sort,
    (dict, "update"): _update,
    (dict, "setdefault"): _setdefault,
    **dict.fromkeys(((dict, "get"), (dict, "pop")), _key),
    (dict, "fromkeys"): _fromkeys,
    (LoopContext, "changed"): _changed,
}


def check_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> tuple[Any, ...]:
    """The size rule of a call from a template. Returns the arguments to call with: an iterator given to
    ``str.join`` or ``list.extend`` is read into a list first, so that what it adds can be measured."""
    target = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", None)
    rule = _METHOD_RULES.get((type(target), name))  # type: ignore[arg-type]
    if rule is None:
        if obj is generate_lorem_ipsum:  # the lipsum() global: n paragraphs of up to max words
            n, most = arg(args, kwargs, 0, "n", 5), arg(args, kwargs, 3, "max", 100)
            if isinstance(n, int) and isinstance(most, int):
                check(n * most * 12, "lipsum")
        return args
    if name in ("join", "extend") and args and not isinstance(args[0], (str, bytes, *CONTAINERS)):
        args = (list(args[0]), *args[1:])
    rule(target, name, args, kwargs, budget)  # type: ignore[arg-type]
    return args
