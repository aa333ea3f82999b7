"""The limits of a template and of one render, and the problems a template can have (OnCall's error classes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Final

from oncall.settings import environment

if TYPE_CHECKING:
    from jinja2.exceptions import SecurityError

_LIMITS = environment().template_limits  # the deployment's (oncall.settings.Env.TEMPLATE_*), read once
TEMPLATE_MAX_LENGTH: int = _LIMITS.template_max_length
RESULT_MAX_LENGTH: int = _LIMITS.result_max_length
TITLE_MAX_LENGTH: int = _LIMITS.title_max_length
# Seconds of CPU time (of the rendering thread) one render may use; 0 or less disables the time limit (debugging).
RENDER_TIME_BUDGET: float = _LIMITS.time_budget

# Characters of any one value a render builds or prints (a string, or a list or dict as str() or JSON writes it).
# A 512 KiB payload pretty-printed as JSON fits; a result past it is refused before it is allocated.
VALUE_MAX_SIZE: Final[int] = max(2**21, RESULT_MAX_LENGTH)
# What a render may store in total beyond single values, in characters (8 per list or dict slot): appended to
# lists and dicts, buffered by macros, set blocks and filter blocks. With VALUE_MAX_SIZE this keeps a render's
# memory to a few tens of MiB at the very most.
KEPT_MAX_SIZE: Final[int] = 2 * VALUE_MAX_SIZE
# OnCall's regex timeout; a regex gets the smaller of this and what is left of the render's budget.
REGEX_TIMEOUT: Final[float] = 2.0


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
    """Security violation, syntax/assertion error, a limit exceeded or an unexpected failure."""

    prefix = "Template Error"


class TemplateWarning(TemplateProblem):
    """The template is valid but did not fit the data (TypeError, KeyError, ValueError, UndefinedError)."""

    prefix = "Template Warning"


def describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def problem_from(exc: Exception) -> TemplateProblem:
    from jinja2.exceptions import UndefinedError  # imported by the render that failed

    if isinstance(exc, TemplateProblem):
        return exc
    if isinstance(exc, (UndefinedError, TypeError, KeyError, ValueError)):
        return TemplateWarning(describe(exc))
    # SecurityError, TemplateSyntaxError, TemplateAssertionError and anything unexpected
    # (ZeroDivisionError, OverflowError, RecursionError, regex.error, MemoryError, ...).
    return TemplateError(describe(exc))


def too_long(operation: str, limit: int | None = None) -> SecurityError:
    """The refusal of an operation whose result would be longer than ``limit`` (:data:`VALUE_MAX_SIZE`)."""
    from jinja2.exceptions import SecurityError

    return SecurityError(f"result of {operation!r} would exceed the length limit ({limit or VALUE_MAX_SIZE})")


def too_much_kept() -> SecurityError:
    from jinja2.exceptions import SecurityError

    return SecurityError(f"the template stores more than {KEPT_MAX_SIZE} characters (render memory limit)")
