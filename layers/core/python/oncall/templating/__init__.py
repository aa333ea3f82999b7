"""Jinja2 templating for integrations, routes and appearance: the Grafana OnCall template contract.

Templates are written by users, so every render runs in a sandbox (:mod:`.sandbox`) that keeps it within a
budget of its own, checked by the render itself at every step (:mod:`.budget`):

* CPU time: :data:`RENDER_TIME_BUDGET` seconds of the rendering thread's CPU time (so a busy machine does not
  fail cheap templates);
* memory: no value longer than :data:`~.limits.VALUE_MAX_SIZE` characters, measured before it is built
  (:mod:`.guards`, :mod:`.sizes`), and no more than :data:`~.limits.KEPT_MAX_SIZE` characters stored in lists,
  dicts and captured blocks;
* output: collected only up to the length limit, then truncated with ``".."``.

Behaviour follows ``docs/reference/grafana-oncall-behaviour.md`` sections 1.4 and 1.5 (filters, limits,
error classes, truthiness).
"""

from __future__ import annotations

import functools
from typing import Any, Final

from .budget import Budget, RenderTimeout, current
from .limits import (
    RENDER_TIME_BUDGET,
    RESULT_MAX_LENGTH,
    TEMPLATE_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    TemplateError,
    TemplateProblem,
    TemplateWarning,
    describe,
    problem_from,
)

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

_COMPILED_CACHE_SIZE: Final[int] = 512
_TRUTHY: Final[frozenset[str]] = frozenset({"1", "true", "ok"})


@functools.cache
def _environment() -> Any:
    """The sandboxed Jinja2 environment, built by the first template compiled: a cold start that renders nothing
    (a heartbeat, a refused token) imports neither Jinja2 nor the sandbox."""
    from .sandbox import build

    return build()


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
            # Import now, outside the render's budget: its first import is not the template's cost.
            __import__(module)
    environment = _environment()
    try:
        return environment.from_string(template)
    except Exception as exc:  # TemplateSyntaxError, TemplateAssertionError, RecursionError, ...
        return describe(exc)  # a template that does not compile is always an Error, never a Warning


def _compiled(template: str) -> Any:
    if len(template) > TEMPLATE_MAX_LENGTH:
        raise TemplateError(f"Template exceeds length limit ({len(template)} > {TEMPLATE_MAX_LENGTH})")
    compiled = _compile(template)
    if isinstance(compiled, str):
        raise TemplateError(compiled)
    return compiled


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


def render(template: str, *, max_length: int | None = None, **context: object) -> str:
    """Render ``template`` in the sandbox with ``context`` as its variables.

    Raises :class:`TemplateError` or :class:`TemplateWarning`. A result longer than ``max_length``
    (default :data:`RESULT_MAX_LENGTH`) is cut and ``".."`` appended. The output is returned as is:
    no stripping and no ``"None"`` -> null conversion (callers decide that).
    """
    compiled = _compiled(template)
    limit = RESULT_MAX_LENGTH if max_length is None else max_length
    seconds = RENDER_TIME_BUDGET
    previous = current.budget  # a render within a render (a filter of a caller's) gets its budget back after
    current.budget = Budget(seconds)
    try:
        return _collect(compiled, context, limit)
    except RenderTimeout:
        raise TemplateError(f"render time budget exceeded ({seconds:g} s of CPU time)") from None
    except Exception as exc:
        raise problem_from(exc) from exc
    finally:
        current.budget = previous


def render_or_fallback(template: str, *, max_length: int | None = None, **context: object) -> str:
    """Like :func:`render`, but a problem yields its fallback text (what appearance templates show)."""
    try:
        return render(template, max_length=max_length, **context)
    except TemplateProblem as problem:
        return problem.fallback


def is_truthy(rendered: object) -> bool:
    """OnCall's ``templated_value_is_truthy``: stripped, lower-cased, one of "1", "true", "ok"."""
    return isinstance(rendered, str) and rendered.strip().lower() in _TRUTHY


def render_condition(template: str | None, **context: Any) -> bool:
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
