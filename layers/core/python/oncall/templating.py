"""Jinja2 templating for integrations, routes and appearance: the Grafana OnCall template contract.

Templates are written by users, so every render runs in a sandbox with three extra guards on top of
Jinja's own attribute checks:

* ``*``, ``**``, ``+`` and ``~`` refuse results that would blow up memory or CPU in a single C-level
  operation (``"a" * 10**9``, ``10 ** (10**10)``), which no timeout could interrupt;
* a CPU-time budget per render (:data:`RENDER_TIME_BUDGET`, the rendering thread's own CPU time, so that a
  busy machine does not fail cheap templates), enforced by one watchdog thread that raises an exception
  inside the rendering thread, so Python-level loops cannot hang a worker;
* output is collected only up to the length limit, then truncated with ``".."``.

Not covered: filters and methods that build big values in one call (``join``, ``replace``, ``center``,
``str.ljust``, ``list.extend`` in a loop) are bounded only by the time budget and process memory.

Behaviour follows ``docs/reference/grafana-oncall-behaviour.md`` sections 1.4 and 1.5 (filters, limits,
error classes, truthiness).
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import json
import math
import os
import queue
import re
import threading
import time as _time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final

from jinja2 import BaseLoader, nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

__all__ = [
    "RENDER_TIME_BUDGET",
    "RESULT_MAX_LENGTH",
    "TEMPLATE_MAX_LENGTH",
    "TITLE_MAX_LENGTH",
    "TemplateError",
    "TemplateProblem",
    "TemplateWarning",
    "is_truthy",
    "render",
    "render_condition",
    "render_or_fallback",
    "validate",
]


# --------------------------------------------------------------------------------------------- limits


def _env_number(name: str, default: float, kind: Callable[[str], float]) -> Any:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return kind(raw)
    except ValueError:
        # A typo in deployment config must be loud, not silently fall back to a default.
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


TEMPLATE_MAX_LENGTH: int = _env_number("TOCSIN_TEMPLATE_MAX_LENGTH", 50000, int)
RESULT_MAX_LENGTH: int = _env_number("TOCSIN_TEMPLATE_RESULT_MAX_LENGTH", 50000, int)
TITLE_MAX_LENGTH: int = _env_number("TOCSIN_TEMPLATE_TITLE_MAX_LENGTH", 500, int)
# Seconds of CPU time (of the rendering thread) one render may use; 0 or less disables the watchdog (debugging).
RENDER_TIME_BUDGET: float = _env_number("TOCSIN_TEMPLATE_TIME_BUDGET", 0.5, float)
# OnCall's regex timeout; we use the smaller of this and what is left of the render budget.
REGEX_TIMEOUT: Final[float] = 2.0
_COMPILED_CACHE_SIZE: Final[int] = 512
_TRUTHY: Final[frozenset[str]] = frozenset({"1", "true", "ok"})
_LOG10_2: Final[float] = math.log10(2)


# --------------------------------------------------------------------------------------------- errors


class TemplateProblem(Exception):
    """A template could not be rendered; :attr:`fallback` is the text OnCall shows instead."""

    prefix: ClassVar[str] = "Template Problem"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def fallback(self) -> str:
        return f"{self.prefix}: {self.message}"


class TemplateError(TemplateProblem):
    """Security violation, syntax/assertion error, time budget exceeded or unexpected failure."""

    prefix = "Template Error"


class TemplateWarning(TemplateProblem):
    """The template is valid but did not fit the data (TypeError, KeyError, ValueError, UndefinedError)."""

    prefix = "Template Warning"


class _RenderTimeout(BaseException):
    """Injected into a rendering thread by the watchdog.

    A BaseException so that ``except Exception`` in filters (or in Jinja) cannot swallow it.
    """


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _problem_from(exc: Exception) -> TemplateProblem:
    if isinstance(exc, TemplateProblem):
        return exc
    if isinstance(exc, (UndefinedError, TypeError, KeyError, ValueError)):
        return TemplateWarning(_describe(exc))
    # SecurityError, TemplateSyntaxError, TemplateAssertionError and anything unexpected
    # (ZeroDivisionError, OverflowError, RecursionError, regex.error, MemoryError, ...).
    return TemplateError(_describe(exc))


# ----------------------------------------------------------------------------- deadline (per thread)

_local = threading.local()  # .deadline: the thread-CPU-time deadline of the render running on this thread


def _regex_timeout() -> float:
    # The regex package measures its timeout in process CPU time (all threads): with other busy threads it
    # stops sooner than the render budget would, never later.
    deadline: float | None = getattr(_local, "deadline", None)
    if deadline is None:
        return REGEX_TIMEOUT
    return max(min(REGEX_TIMEOUT, deadline - _time.thread_time()), 0.001)


def _raise_if_budget_spent() -> None:
    """After a regex timeout: if the render budget rather than OnCall's 2 s regex timeout was the limit the regex
    got, report the budget (the regex counts process CPU time, so it may stop before the thread's budget is)."""
    deadline: float | None = getattr(_local, "deadline", None)
    if deadline is not None and deadline - _time.thread_time() < REGEX_TIMEOUT:
        raise _RenderTimeout


def _cpu_clock(ident: int) -> Callable[[], float]:
    """The CPU time of thread ``ident`` as the watchdog reads it (the wall clock where a system cannot)."""
    try:
        clock = _time.pthread_getcpuclockid(ident)
    except (AttributeError, OSError):
        return _time.monotonic
    return functools.partial(_time.clock_gettime, clock)


# ------------------------------------------------------------------------------------------- filters


def _datetimeformat(value: Any, format: str = "%H:%M / %d-%m-%Y") -> str | None:
    try:
        return value.strftime(format)  # type: ignore[no-any-return]
    except Exception:  # OnCall: None on any error
        return None


def _datetimeformat_as_timezone(
    value: Any,
    format: str = "%H:%M / %d-%m-%Y",
    tz: str = "UTC",
) -> str:
    from zoneinfo import ZoneInfo  # lazy: only templates that use the filter pay for it

    if isinstance(value, datetime) and value.tzinfo is None:
        # OnCall's servers run in UTC, so naive values are UTC there; don't depend on the host's TZ.
        value = value.replace(tzinfo=UTC)
    # Unknown zone -> ZoneInfoNotFoundError (a KeyError) -> warning, as pytz's error is in OnCall.
    return value.astimezone(ZoneInfo(tz)).strftime(format)  # type: ignore[no-any-return]


def _datetimeparse(value: Any, format: str = "%H:%M / %d-%m-%Y") -> datetime | None:
    try:
        return datetime.strptime(value, format)
    except Exception:  # OnCall: None on any error
        return None


def _iso8601_to_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


_TIMEDELTA_RE: Final[re.Pattern[str]] = re.compile(r"^([-+]?\d+)([smhdwMQy])$")
_TIMEDELTA_UNITS: Final[dict[str, str]] = {
    "s": "seconds",
    "m": "minutes",
    "h": "hours",
    "d": "days",
    "w": "weeks",
}


def _timedeltaparse(value: Any) -> timedelta | None:
    match = _TIMEDELTA_RE.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    unit = _TIMEDELTA_UNITS.get(match.group(2))
    if unit is None:  # M, Q, y have no fixed length
        return None
    try:
        return timedelta(**{unit: int(match.group(1))})
    except (OverflowError, ValueError):  # out of timedelta's range, or too many digits for int()
        return None


def _timestamp_to_datetime(value: Any) -> datetime:
    # Naive UTC: what OnCall's datetime.fromtimestamp gives on a UTC server, independent of host TZ.
    return datetime.fromtimestamp(value, tz=UTC).replace(tzinfo=None)


def _tojson_pretty(value: Any) -> str:
    return json.dumps(value, sort_keys=True, indent=4, separators=(",", ": "), ensure_ascii=False)


def _json_dumps(value: Any) -> str:
    return json.dumps(value)


def _regex_replace(value: Any, find: str, replace: str) -> str:
    import regex  # lazy: heavy, and most templates never use it

    try:
        return regex.sub(find, replace, value, timeout=_regex_timeout())  # type: ignore[no-any-return]
    except TimeoutError:
        _raise_if_budget_spent()
        raise


def _regex_match(value: Any, pattern: str) -> bool | None:
    import regex

    try:
        return bool(regex.match(pattern, value, timeout=_regex_timeout()))
    except TimeoutError:
        _raise_if_budget_spent()
        return None  # OnCall: None when the 2 s regex timeout hits


def _regex_search(value: Any, pattern: str) -> bool:
    import regex

    try:
        return bool(regex.search(pattern, value, timeout=_regex_timeout()))
    except TimeoutError:
        _raise_if_budget_spent()
        raise


def _b64decode(value: Any) -> str:
    import base64

    return base64.b64decode(value).decode("utf-8")


def _parse_json(value: Any) -> Any:
    return json.loads(value)


def _now() -> datetime:
    return datetime.now(UTC)


def _restricted_range(*args: Any, **kwargs: Any) -> Any:
    # Replaces the global only when *called*, so an unexecuted branch using range() still renders.
    raise SecurityError("use of 'range' is restricted")


# ------------------------------------------------------------------------------------ sandbox guards

_SIZED_SEQUENCES: Final = (str, bytes, list, tuple)


def _too_long(operator: str) -> SecurityError:
    return SecurityError(f"result of {operator!r} would exceed the length limit ({RESULT_MAX_LENGTH})")


def _int_digits_exceed(bits_estimate: float) -> bool:
    return bits_estimate * _LOG10_2 > RESULT_MAX_LENGTH


# A printf-style conversion: flags, width, precision. Widths and precisions (also "*" ones taken from the
# arguments) decide how long the result is before anything is computed.
_PERCENT_SPEC: Final = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[a-zA-Z%]")


def _check_percent(template: str, args: Any) -> None:
    """``'%0100000000d' % 1`` builds a huge string in one C call: refuse widths and precisions past the limit."""
    star_values = [a for a in (args if isinstance(args, tuple) else (args,)) if isinstance(a, int)]
    for match in _PERCENT_SPEC.finditer(template):
        for part in match.groups():
            star = max((abs(v) for v in star_values), default=0)
            if (star if part == "*" else int(part or 0)) > RESULT_MAX_LENGTH:
                raise _too_long("%")


# str methods and filters whose result length follows from their arguments: checked before they run, because
# each is one C call the watchdog cannot interrupt ("'a'|center(10**9)", "s.replace('a', 'b' * 40000)").
_WIDTH_METHODS: Final = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


def _check_sized_call(obj: Any, args: tuple[Any, ...]) -> None:
    target, name = getattr(obj, "__self__", None), getattr(obj, "__name__", "")
    if not isinstance(target, str):
        return
    if name in _WIDTH_METHODS and args and isinstance(args[0], int) and args[0] > RESULT_MAX_LENGTH:
        raise _too_long(name)
    if name == "replace" and len(args) >= 2:
        _check_replace(target, args[0], args[1])


def _check_replace(text: str, old: Any, new: Any) -> None:
    if isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
        count = text.count(old) if old else len(text) + 1
        if len(text) + count * (len(new) - len(old)) > RESULT_MAX_LENGTH:
            raise _too_long("replace")


def _guarded_replace(value: Any, old: Any, new: Any, count: int | None = None) -> str:
    text = str(value)
    _check_replace(text, str(old), str(new))
    return text.replace(str(old), str(new)) if count is None else text.replace(str(old), str(new), count)


def _guarded_center(value: Any, width: int = 80) -> str:
    if isinstance(width, int) and width > RESULT_MAX_LENGTH:
        raise _too_long("center")
    return str(value).center(width)


def _guarded_format(value: Any, *args: Any, **kwargs: Any) -> str:
    """Jinja's ``format`` filter (``value % args``) with the same width/precision guard as ``%``."""
    template = str(value)
    arguments: Any = kwargs or args
    _check_percent(template, arguments)
    return template % arguments


def _check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse before computing: these operators run as single C calls that nothing can interrupt.

    Rule for sequences: an operation may add at most RESULT_MAX_LENGTH items to its largest operand, so
    ``payload.big_text + "\\n"`` still works while repeated doubling stops once past the limit.
    """
    limit = RESULT_MAX_LENGTH
    if operator == "%":
        if isinstance(left, str):
            _check_percent(left, right)
        return
    if operator == "*":
        if isinstance(left, int) and isinstance(right, _SIZED_SEQUENCES):
            left, right = right, left
        if isinstance(left, _SIZED_SEQUENCES) and isinstance(right, int):
            too_long = len(left) * (right - 1) > limit
        else:
            too_long = (
                isinstance(left, int)
                and isinstance(right, int)
                and _int_digits_exceed(abs(left).bit_length() + abs(right).bit_length())
            )
    elif operator == "**":
        # |left| >= 2, so the result has at least right*log10(2) digits; testing that first also keeps
        # the float multiplication from overflowing for huge exponents.
        too_long = (
            isinstance(left, int)
            and isinstance(right, int)
            and right > 1
            and abs(left) > 1
            and (_int_digits_exceed(right) or right * math.log10(abs(left)) > limit)
        )
    else:  # "+"
        too_long = (
            isinstance(left, _SIZED_SEQUENCES)
            and isinstance(right, _SIZED_SEQUENCES)
            and min(len(left), len(right)) > limit
        )
    if too_long:
        raise _too_long(operator)


class _GuardedCodeGenerator(CodeGenerator):
    """Routes ``~`` (Jinja's string concatenation) through the environment so it can be checked too.

    Without this, ``{% set ns.x = ns.x ~ ns.x %}`` in a loop would double a string past any limit.
    Mirrors ``CodeGenerator.visit_Concat`` of Jinja 3.1.
    """

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.guarded_join({join}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Environment(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _GuardedCodeGenerator

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_sized_call(__obj, args)
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def guarded_join(self, join: Callable[[Iterable[Any]], str], parts: tuple[Any, ...]) -> str:
        result = join(parts)
        if len(result) > RESULT_MAX_LENGTH:  # rare: only then pay for measuring the parts
            longest = max(len(p) if isinstance(p, str) else len(str(p)) for p in parts)
            if len(result) - longest > RESULT_MAX_LENGTH:
                raise _too_long("~")
        return result


def _build_environment() -> _Environment:
    env = _Environment(loader=BaseLoader())  # default Undefined, no trim_blocks, as OnCall
    env.filters.update(
        {
            "datetimeformat": _datetimeformat,
            "datetimeformat_as_timezone": _datetimeformat_as_timezone,
            "datetimeparse": _datetimeparse,
            "iso8601_to_time": _iso8601_to_time,
            "timedeltaparse": _timedeltaparse,
            "timestamp_to_datetime": _timestamp_to_datetime,
            "tojson_pretty": _tojson_pretty,
            "json_dumps": _json_dumps,
            "regex_replace": _regex_replace,
            "regex_match": _regex_match,
            "regex_search": _regex_search,
            "b64decode": _b64decode,
            "parse_json": _parse_json,
            "format": _guarded_format,
            "replace": _guarded_replace,
            "center": _guarded_center,
        }
    )
    env.globals["time"] = _now
    env.globals["range"] = _restricted_range
    return env


_ENV: Final[_Environment] = _build_environment()


# ------------------------------------------------------------------------------------------ watchdog


REFIRE_SECONDS: Final = 0.05
MAX_FIRES: Final = 40  # 2 s of re-injection at most: never an endless stream into a thread that moved on


@dataclass
class _Render:
    ident: int  # the rendering thread
    cpu_time: Callable[[], float]  # that thread's CPU time
    cpu_deadline: float
    fired: int = 0


class _Watchdog:
    """One long-lived daemon thread enforcing render deadlines for every thread of the process.

    Per render the cost is a lock, a dict write and a heap push (arm), then a lock, a dict pop and
    dropping finished entries from the top of the heap (disarm). The thread is only woken when a new
    deadline is earlier than the one it sleeps until, so a steady stream of renders does not wake it.

    The exception can surface at any bytecode boundary of the rendering thread, including inside
    ``arm``/``disarm``. So those only use C-level primitives (``Lock`` whose ``with`` releases on any
    exception, dict, heapq, ``SimpleQueue.put``); a Python-level ``Condition`` could be interrupted
    between acquiring its lock and entering the ``with`` block and leave the lock held forever.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._wakeups: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._heap: list[tuple[float, int]] = []  # (monotonic time of the next look, token)
        self._armed: dict[int, _Render] = {}  # token -> the render, until disarmed
        self._fired: set[int] = set()  # armed tokens whose exception was injected at least once
        self._wake_at = math.inf  # when the thread will next look at the heap on its own
        self._thread: threading.Thread | None = None
        self._set_async_exc: Any = None  # ctypes PyThreadState_SetAsyncExc, bound when the thread starts
        self._ulong: Any = None
        self._timeout_exc: Any = None

    def _start(self) -> None:
        import ctypes  # lazy: only processes that render pay for it

        self._set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
        self._ulong = ctypes.c_ulong
        self._timeout_exc = ctypes.py_object(_RenderTimeout)
        self._thread = threading.Thread(target=self._run, name="tocsin-template-watchdog", daemon=True)
        self._thread.start()

    def arm(self, token: int, budget: float, cpu_deadline: float) -> None:
        """Watch the render ``token`` of this thread until its CPU time reaches ``cpu_deadline``.

        The first look is when the budget could be spent at the earliest (``budget`` of wall time from now);
        a render that was kept off the CPU meanwhile is looked at again when its remaining budget could be.
        """
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._start()
        ident = threading.get_ident()
        render = _Render(ident, _cpu_clock(ident), cpu_deadline)
        first_look = _time.monotonic() + budget
        with self._lock:
            self._armed[token] = render
            heapq.heappush(self._heap, (first_look, token))
            if first_look < self._wake_at:
                self._wake_at = first_look
                self._wakeups.put(None)

    def disarm(self, token: int) -> None:
        with self._lock:
            self._armed.pop(token, None)
            if token in self._fired:
                self._fired.discard(token)
                # The watchdog fired (it injects while holding this lock, so injection is complete). If
                # the exception has not surfaced yet, the render finished first: clear it so it cannot
                # land in the caller's unrelated code later. NULL clears a pending async exception.
                self._set_async_exc(self._ulong(threading.get_ident()), None)
            heap, armed = self._heap, self._armed
            while heap and heap[0][1] not in armed:  # keep the heap as small as the renders in flight
                heapq.heappop(heap)

    def _run(self) -> None:
        heap, armed, lock, wakeups = self._heap, self._armed, self._lock, self._wakeups
        while True:
            with lock:
                now = _time.monotonic()
                while heap:
                    deadline, token = heap[0]
                    if token not in armed:  # disarmed but still below an armed entry: drop it now
                        heapq.heappop(heap)
                    elif deadline <= now:
                        render = armed[token]
                        try:
                            left = render.cpu_deadline - render.cpu_time()
                        except OSError:  # the thread is gone (its render cannot be running)
                            heapq.heappop(heap)
                            del armed[token]
                            continue
                        if left > 0:  # the thread waited for the CPU: look again when the budget could be spent
                            heapq.heapreplace(heap, (now + max(left, 0.001), token))
                            continue
                        # Inject again every REFIRE_SECONDS until disarmed (an exception raised inside a gc
                        # callback or a __del__ is swallowed there), but only so often: should the render's
                        # disarm itself have been interrupted, the thread has moved on to other work.
                        render.fired += 1
                        if render.fired < MAX_FIRES:
                            heapq.heapreplace(heap, (now + REFIRE_SECONDS, token))
                        else:
                            heapq.heappop(heap)
                            del armed[token]
                        self._fired.add(token)
                        self._set_async_exc(self._ulong(render.ident), self._timeout_exc)
                    else:
                        break
                self._wake_at = heap[0][0] if heap else math.inf
                timeout = self._wake_at - now if heap else None
            with contextlib.suppress(queue.Empty):  # a timeout just means the next deadline is due
                wakeups.get(timeout=timeout)

    def after_fork_in_child(self) -> None:
        # The thread does not survive fork and its lock may have been held at the time: start afresh.
        self._reset()


_WATCHDOG: Final[_Watchdog] = _Watchdog()
_tokens = itertools.count()  # next() on itertools.count is atomic under the GIL
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_WATCHDOG.after_fork_in_child)


# ------------------------------------------------------------------------------------------- compile


# (text in the template, module a filter imports lazily). Matching the raw text also covers filters
# named as strings, e.g. map("regex_replace", ...). datetime.strptime imports _strptime on first use.
_LAZY_IMPORTS: Final[tuple[tuple[str, str], ...]] = (
    ("regex_", "regex"),
    ("b64decode", "base64"),
    ("as_timezone", "zoneinfo"),
    ("datetimeparse", "_strptime"),
)


@functools.lru_cache(maxsize=_COMPILED_CACHE_SIZE)
def _compile(template: str) -> Any:
    """Compiled template, or the error message of a template that does not compile.

    Failures are cached too, so a broken integration template is not recompiled for every alert; a new
    exception is built per raise so tracebacks do not pile up on one shared instance.
    """
    for marker, module in _LAZY_IMPORTS:
        if marker in template:
            # Import now, outside the time budget: the watchdog's exception landing inside the import
            # machinery could leave a module half-initialised for the whole process.
            __import__(module)
    try:
        return _ENV.from_string(template)
    except Exception as exc:  # TemplateSyntaxError, TemplateAssertionError, RecursionError, ...
        return _describe(exc)  # a template that does not compile is always an Error, never a Warning


def _compiled(template: str) -> Any:
    if len(template) > TEMPLATE_MAX_LENGTH:
        raise TemplateError(f"Template exceeds length limit ({len(template)} > {TEMPLATE_MAX_LENGTH})")
    compiled = _compile(template)
    if isinstance(compiled, str):
        raise TemplateError(compiled)
    return compiled


# -------------------------------------------------------------------------------------------- render


def _collect(compiled: Any, context: dict[str, Any], max_length: int) -> str:
    """Render, stopping once the output is past the limit: the rest would be truncated anyway."""
    parts: list[str] = []
    size = 0
    stream = compiled.generate(context)
    try:
        for part in stream:
            parts.append(part)
            size += len(part)
            if size > max_length:
                break
    finally:
        stream.close()
    result = "".join(parts)
    if len(result) > max_length:
        result = result[:max_length] + ".."
    return result


def _disarm(token: int) -> None:
    """Disarm, even when the watchdog's exception lands inside the call (it fires again until disarmed)."""
    while True:
        try:
            _WATCHDOG.disarm(token)
            return
        except _RenderTimeout:
            continue


def render(template: str, *, max_length: int | None = None, **context: object) -> str:
    """Render ``template`` in the sandbox with ``context`` as its variables.

    Raises :class:`TemplateError` or :class:`TemplateWarning`. A result longer than ``max_length``
    (default :data:`RESULT_MAX_LENGTH`) is cut and ``".."`` appended. The output is returned as is:
    no stripping and no ``"None"`` -> null conversion (callers decide that).
    """
    compiled = _compiled(template)
    limit = RESULT_MAX_LENGTH if max_length is None else max_length
    budget = RENDER_TIME_BUDGET
    if budget <= 0:
        try:
            return _collect(compiled, context, limit)
        except Exception as exc:
            raise _problem_from(exc) from exc

    token = next(_tokens)
    previous_deadline: float | None = getattr(_local, "deadline", None)
    try:
        try:
            deadline = _time.thread_time() + budget
            _local.deadline = deadline
            _WATCHDOG.arm(token, budget, deadline)
            return _collect(compiled, context, limit)
        finally:
            _disarm(token)
            _local.deadline = previous_deadline
    except _RenderTimeout:
        raise TemplateError(f"render time budget exceeded ({budget:g} s of CPU time)") from None
    except Exception as exc:
        raise _problem_from(exc) from exc


def render_or_fallback(template: str, *, max_length: int | None = None, **context: object) -> str:
    """Like :func:`render`, but a problem yields its fallback text (what appearance templates show)."""
    try:
        return render(template, max_length=max_length, **context)
    except TemplateProblem as problem:
        return problem.fallback


def is_truthy(rendered: object) -> bool:
    """OnCall's ``templated_value_is_truthy``: stripped, lower-cased, one of "1", "true", "ok"."""
    return isinstance(rendered, str) and rendered.strip().lower() in _TRUTHY


def render_condition(template: str | None, **context: object) -> bool:
    """Resolve/acknowledge conditions and jinja route filters: no template or any problem is False."""
    if not template:
        return False
    try:
        return is_truthy(render(template, **context))
    except TemplateProblem:
        return False


def validate(template: str) -> None:
    """Raise :class:`TemplateError` if ``template`` is too long or does not compile (API 400s)."""
    _compiled(template)
