"""Every filter and test of the sandbox, behind its size rule and charging the render's budget.

A filter is one call: Jinja's ``indent``, ``center``, ``batch``, ``tojson(indent=...)`` build their whole result
at once, and most filters first write their input out with ``str()``. Each rule here measures what the filter
would write from its arguments and refuses it past :data:`~.limits.VALUE_MAX_SIZE`, before it runs.

Every guarded filter and test takes the context (Jinja's ``pass_context``): that keeps Jinja's optimizer from
running it at compile time on constant arguments ("constant folding"), where ``{{ 'x\\ny'|indent(10**8) }}``
took seconds and hundreds of MiB just to be saved, outside any budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter
from jinja2.utils import _PassArg, pass_context

from . import limits
from .budget import current
from .guards import CONTAINERS, arg, check_comparison, check_datetime_format, check_percent, check_replace, size_of
from .sizes import JSON, Layout, check, check_rendered

# (environment, value, positional arguments, keyword arguments)
Rule = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], None]

# Jinja's wordwrap and urlize walk their input word by word in Python, in one call: their inputs are kept to
# what they handle in a few tens of milliseconds.
_WORD_FILTER_MAX_INPUT: Final = 1 << 17
TOJSON_PRETTY: Final = Layout(json=True, indent=4, ensure_ascii=False, item_separator=1)


def _escaped_size(value: Any) -> int:
    if not isinstance(value, str):
        return 6 * size_of(value)
    specials = value.count("&") + value.count('"') + value.count("'")
    return len(value) + 4 * specials + 3 * (value.count("<") + value.count(">"))  # &amp; &#34; &lt;


def _case_size(value: Any) -> int:
    # Unicode case mappings may triple a character ("ﬃ".upper() == "FFI"); ASCII text keeps its length.
    return len(value) if isinstance(value, str) and value.isascii() else 3 * size_of(value)


def _stringified(env: Any, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Filters that write their input out with ``str()`` first (the default for a filter not listed)."""
    if not isinstance(value, str):
        check_rendered(value, "filter")


def _compared(env: Any, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Filters that compare or hash the items of their input."""
    if isinstance(value, CONTAINERS):
        check_rendered(value, "filter")


def _scaled(size: Callable[[Any], int], operation: str) -> Rule:
    def rule(env: Any, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        check(size(value), operation)

    return rule


def _center(env: Any, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    width = arg(args, kwargs, 0, "width", 80)
    check(max(size_of(value), width if isinstance(width, int) else 0), "center")


def _indent(env: Any, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    width = arg(args, kwargs, 0, "width", 4)  # a number of spaces, or the indentation itself
    indention = len(width) if isinstance(width, str) else max(width, 0) if isinstance(width, int) else 0
    size = size_of(value)
    lines = value.count("\n") + 1 if isinstance(value, str) else size + 1
    check(size + lines * indention, "indent")


def _word_filter_input(value: Any, operation: str) -> int:
    size = size_of(value)
    if size > _WORD_FILTER_MAX_INPUT:
        raise SecurityError(f"input of {operation!r} is longer than {_WORD_FILTER_MAX_INPUT} characters")
    return size


def _wordwrap(env: Any, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    size = _word_filter_input(value, "wordwrap")
    width = arg(args, kwargs, 0, "width", 79)
    wrapstring = arg(args, kwargs, 2, "wrapstring") or env.newline_sequence
    paragraphs = value.count("\n") + 1 if isinstance(value, str) else size + 1
    # every line but a paragraph's last holds at least half the width, or a word longer than it
    lines = 2 * size // max(width if isinstance(width, int) else 1, 1) + paragraphs
    check(size + lines * size_of(wrapstring), "wordwrap")


def _urlize(env: Any, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    _word_filter_input(value, "urlize")
    text = value if isinstance(value, str) else str(value)
    # a word that may be a link is written twice (href and text), with its attributes
    links = sum(1 for word in text.split() if "." in word or "@" in word or ":" in word)
    attributes = sum(size_of(arg(args, kwargs, i, name) or "") for i, name in ((2, "target"), (3, "rel")))
    check(3 * _escaped_size(text) + links * (64 + attributes), "urlize")


def _replace(env: Any, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    _stringified(env, value, args, kwargs)
    old, new, count = arg(args, kwargs, 0, "old"), arg(args, kwargs, 1, "new"), arg(args, kwargs, 2, "count")
    check_replace(str(value), str(old), str(new), -1 if count is None else count)  # as Jinja's replace reads them


def _attribute_values(env: Any, value: Any, attribute: Any) -> Any:
    return value if attribute is None else [make_attrgetter(env, attribute)(item) for item in value]


def _join(env: Any, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    separator = size_of(arg(args, kwargs, 0, "d", ""))
    if isinstance(value, str):
        check(len(value) * (1 + separator), "join")
        return
    items = _attribute_values(env, value, arg(args, kwargs, 1, "attribute"))
    check(sum(size_of(item) for item in items) + max(len(items) - 1, 0) * separator, "join")


def _sum(env: Any, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    start = arg(args, kwargs, 1, "start", 0)
    if isinstance(start, (int, float)):
        return
    # Adding up lists copies the total at every item: a few items only, then.
    if len(value) > 1000:
        raise SecurityError("'sum' adds up at most 1000 lists")
    items = _attribute_values(env, value, arg(args, kwargs, 0, "attribute"))
    check(size_of(start) + sum(size_of(item) for item in items), "sum")


def _tojson(env: Any, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    indent = arg(args, kwargs, 0, "indent")  # a number of spaces, or the indentation itself, as json.dumps
    if indent is None:
        layout = Layout(json=True, html_safe=True)
    else:
        width = len(indent) if isinstance(indent, str) else indent if isinstance(indent, int) else 0
        layout = Layout(json=True, html_safe=True, indent=max(width, 0), item_separator=1)
    check_rendered(value, "tojson", layout)


def _batch(env: Any, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    linecount, fill_with = arg(args, kwargs, 0, "linecount"), arg(args, kwargs, 1, "fill_with")
    if fill_with is None or not isinstance(linecount, int) or linecount <= 0:
        return
    partial = len(value) % linecount  # the last batch is padded with fill_with up to linecount
    padding = linecount - partial if partial else 0
    check(size_of(value) + padding * (size_of(fill_with) + 2), "batch")


def _slice(env: Any, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    slices, fill_with = arg(args, kwargs, 0, "slices"), arg(args, kwargs, 1, "fill_with")
    if isinstance(slices, int):  # a list per slice, in a Python loop, even with nothing to put in it
        filler = size_of(fill_with) + 2 if fill_with is not None else 0
        check(size_of(value) + max(slices, 0) * (4 + filler), "slice")


def _list(env: Any, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if isinstance(value, str):
        check(5 * len(value), "list")  # a string per character: ['a', 'b', ...]


def _truncate(env: Any, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    check(size_of(value) + size_of(arg(args, kwargs, 2, "end", "...")), "truncate")


def _format(env: Any, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    _stringified(env, value, args, kwargs)
    check_percent(value if isinstance(value, str) else str(value), kwargs or args)


def _xmlattr(env: Any, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    check(6 * size_of(value) + 4 * (len(value) if isinstance(value, dict) else 0), "xmlattr")


def _datetime_format(env: Any, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    check_datetime_format(arg(args, kwargs, 0, "format"))


def _parse_json(env: Any, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    # JSON text becomes objects of up to ~30 times its size ("[[],[],...]"): a payload's worth of text at most
    if isinstance(value, (str, bytes)) and len(value) > limits.VALUE_MAX_SIZE // 4:
        raise SecurityError(f"parse_json reads at most {limits.VALUE_MAX_SIZE // 4} characters")


# Filters without a size of their own: cheap, shallow, or lazy (map and select call guarded filters and tests
# per item).
_UNMEASURED: Final = (
    "abs",
    "attr",
    "count",
    "d",
    "default",
    "filesizeformat",
    "first",
    "float",
    "int",
    "items",
    "last",
    "length",
    "map",
    "random",
    "reject",
    "rejectattr",
    "reverse",
    "round",
    "select",
    "selectattr",
    "b64decode",
    "datetimeparse",
    "iso8601_to_time",
    "regex_match",
    "regex_replace",
    "regex_search",
    "timedeltaparse",
    "timestamp_to_datetime",
)
FILTER_RULES: Final[dict[str, Rule | None]] = {
    **dict.fromkeys(_UNMEASURED, None),
    **dict.fromkeys(("dictsort", "groupby", "max", "min", "sort", "unique"), _compared),
    **dict.fromkeys(("safe", "string", "striptags", "trim", "wordcount"), _stringified),
    **dict.fromkeys(("capitalize", "lower", "title", "upper"), _scaled(_case_size, "filter")),
    **dict.fromkeys(("e", "escape", "forceescape"), _scaled(_escaped_size, "escape")),
    **dict.fromkeys(("datetimeformat", "datetimeformat_as_timezone"), _datetime_format),
    "batch": _batch,
    "center": _center,
    "format": _format,
    "indent": _indent,
    "join": _join,
    "list": _list,
    "replace": _replace,
    "slice": _slice,
    "sum": _sum,
    "tojson": _tojson,
    "truncate": _truncate,
    "urlencode": _scaled(lambda value: 12 * size_of(value), "urlencode"),
    "urlize": _urlize,
    "wordwrap": _wordwrap,
    "xmlattr": _xmlattr,
    # The pretty printer writes through a bounded stream (filters.pprint), but first writes every nested part
    # out again, in Python, to see whether it fits on a line: small values only, then.
    "pprint": _scaled(lambda value: 16 * size_of(value), "pprint"),
    "tojson_pretty": lambda env, value, args, kwargs: check_rendered(value, "tojson_pretty", TOJSON_PRETTY),
    "json_dumps": lambda env, value, args, kwargs: check_rendered(value, "json_dumps", JSON),
    "parse_json": _parse_json,
}
# Filters whose rule needs their input as a list: given an iterator (the result of map, say), it is read first.
_MATERIALIZED: Final = frozenset({"batch", "join", "slice", "sum"})
_SIZED: Final = (str, list, tuple, dict)


def _call(func: Callable[..., Any], pass_arg: Any, context: Any, value: Any, args: Any, kwargs: Any) -> Any:
    if pass_arg is None:
        return func(value, *args, **kwargs)
    if pass_arg is _PassArg.context:
        return func(context, value, *args, **kwargs)
    if pass_arg is _PassArg.eval_context:
        return func(context.eval_ctx, value, *args, **kwargs)
    return func(context.environment, value, *args, **kwargs)


def guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` behind its size rule. Its cost is charged before and after it runs, by the length of its input,
    so that the render reads its clock around a filter that may take milliseconds."""
    rule = FILTER_RULES.get(name, _stringified)
    materialize = name in _MATERIALIZED
    pass_arg = _PassArg.from_obj(func)

    @pass_context
    def guarded(context: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        budget = current.budget
        cost = 1 + (len(value) >> 6 if isinstance(value, _SIZED) else 0)
        budget.tick(cost)
        if materialize and not isinstance(value, _SIZED):
            value = list(value)
        if rule is not None:
            rule(context.environment, value, args, kwargs)
        result = _call(func, pass_arg, context, value, args, kwargs)
        budget.tick(cost)
        return result

    guarded.__name__ = getattr(func, "__name__", name)
    guarded.__doc__ = func.__doc__
    return guarded


# Tests that compare their value with their argument: two nested structures are measured first.
_COMPARING_TESTS: Final = frozenset(
    ("==", "!=", "<", "<=", ">", ">=", "eq", "equalto", "ne", "lt", "lessthan", "le", "gt", "greaterthan", "ge", "in")
)


def guard_test(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Like :func:`guard_filter`, for a test."""
    compares = name in _COMPARING_TESTS
    pass_arg = _PassArg.from_obj(func)

    @pass_context
    def guarded(context: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        current.budget.tick()
        if compares and args:
            check_comparison(value, args[0])
        return _call(func, pass_arg, context, value, args, kwargs)

    guarded.__name__ = getattr(func, "__name__", name)
    return guarded
