"""The Jinja2 environment templates run in: Jinja's sandbox (attribute checks) plus the render's budget.

On top of :class:`jinja2.sandbox.SandboxedEnvironment`:

* every attribute and item access, call, operator, filter, test, comparison, loop iteration and buffered output
  charges the render's :class:`~.budget.Budget`, so the render stops once its CPU time is spent;
* every operation that builds a value (operators, filters, str/list/dict methods, ``~``, ``str.format``,
  printing a list or dict) has its result measured first and refused past the length limit (:mod:`.guards`);
* nothing a template calls runs at compile time: filters and tests take the context, which keeps Jinja's
  optimizer from running them on constant arguments (saving ``{{ 'x'|indent(10**8) }}`` took seconds and
  hundreds of MiB; now it compiles in microseconds and its render is refused).
"""

from __future__ import annotations

import operator
import types
from collections.abc import Callable, Iterable, Iterator, Sized
from functools import update_wrapper
from typing import Any, Final, NoReturn

from jinja2 import BaseLoader, nodes
from jinja2.compiler import CodeGenerator, Frame, operators, optimizeconst
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import SandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from markupsafe import Markup

from . import filters as oncall_filters
from .budget import Budget, current
from .filter_rules import guard_filter, guard_test
from .guards import (
    CONTAINERS,
    BoundedFormatter,
    check_binop,
    check_call,
    check_comparison,
    check_hashed,
    size_of,
)
from .sizes import check, check_rendered


def _metered(iterable: nodes.Expr) -> nodes.Call:
    """``environment.iterate(<iterable>)``, the iterable of a ``{% for %}``. Jinja allows no node types of our own,
    so it is a call of an environment attribute, which the code generator writes out as a plain call."""
    return nodes.Call(nodes.EnvironmentAttribute("iterate"), [iterable], [], None, None, lineno=iterable.lineno)


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator (3.1.6, pinned), with the budget's hooks where Jinja writes plain Python."""

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # ``~`` through the environment, so ``{% set ns.x = ns.x ~ ns.x %}`` cannot double past any limit.
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

    def visit_Call(self, node: nodes.Call, frame: Frame, forward_caller: bool = False) -> None:
        if isinstance(node.node, nodes.EnvironmentAttribute) and node.node.name == "iterate":
            self.write("environment.iterate(")  # see _metered
            self.visit(node.args[0], frame)
            self.write(")")
            return
        super().visit_Call(node, frame, forward_caller=forward_caller)

    def buffer(self, frame: Frame) -> None:
        # Output captured by macros, call blocks, set blocks and filter blocks is charged as it is buffered.
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.output_buffer()")

    @optimizeconst
    def visit_Compare(self, node: nodes.Compare, frame: Frame) -> None:
        # Comparing two nested structures walks both in one C call: measured first (environment.compare).
        if len(node.ops) == 1:
            self.write("environment.compare(")
            self.visit(node.expr, frame)
            self.write(f", {node.ops[0].op!r}, ")
            self.visit(node.ops[0].expr, frame)
            self.write(")")
            return
        self.write("(environment.comparable(")  # a chain: each operand measured as it is evaluated
        self.visit(node.expr, frame)
        self.write(")")
        for op in node.ops:
            self.write(f" {operators[op.op]} environment.comparable(")
            self.visit(op.expr, frame)
            self.write(")")
        self.write(")")

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self.write("{")
        for idx, item in enumerate(node.items):
            if idx:
                self.write(", ")
            if isinstance(item.key, nodes.Const):
                self.visit(item.key, frame)
            else:  # a tuple key is hashed all the way down
                self.write("environment.dict_key(")
                self.visit(item.key, frame)
                self.write(")")
            self.write(": ")
            self.visit(item.value, frame)
        self.write("}")


_COMPARISONS: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gteq": operator.ge,
    "lt": operator.lt,
    "lteq": operator.le,
    "in": lambda left, right: left in right,
    "notin": lambda left, right: left not in right,
}
_SIZED: Final[tuple[type[Sized], ...]] = (
    list,
    tuple,
    str,
    dict,
    type({}.keys()),
    type({}.values()),
    type({}.items()),
)


class _OutputBuffer(list):  # type: ignore[type-arg]
    """What a macro, a call block, a set block or a filter block writes, kept until it is joined: charged."""

    __slots__ = ()

    def append(self, text: str) -> None:
        current.budget.keep(len(text))
        list.append(self, text)

    def extend(self, texts: Iterable[str]) -> None:
        texts = tuple(texts)
        current.budget.keep(sum(len(text) for text in texts))
        list.extend(self, texts)


def _ticking(iterable: Iterable[Any], budget: Budget) -> Iterator[Any]:
    for item in iterable:
        budget.tick()
        yield item


class _Formatter(BoundedFormatter, SandboxedFormatter):
    pass


class _EscapeFormatter(BoundedFormatter, SandboxedEscapeFormatter):
    pass


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}``: a list or dict is written out by str() in one C call, so it is measured first."""
    if type(value) is not str and isinstance(value, CONTAINERS):
        check_rendered(value, "output")
    return value


class Environment(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _CodeGenerator

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in list(tree.find_all(nodes.For)):
            assert isinstance(loop.iter, nodes.Expr)  # what a for loop iterates is an expression
            loop.iter = _metered(loop.iter).set_environment(self)
        return tree

    def handle_exception(self, source: str | None = None) -> NoReturn:
        if source is None:
            # A runtime error: only its message is shown, so Jinja's rewriting of the traceback (compiling a frame
            # per template frame: a second for a deep macro recursion) is skipped. Called from an except block.
            raise
        super().handle_exception(source)

    # -- the hooks of the generated code; the most frequent ones charge their step inline (Budget.tick)

    def getattr(self, obj: Any, attribute: str) -> Any:
        budget = current.budget
        budget.steps -= 1
        if budget.steps <= 0:
            budget.check()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        budget = current.budget
        budget.steps -= 1
        if budget.steps <= 0:
            budget.check()
        if type(argument) is tuple:
            check_hashed(argument)
        return super().getitem(obj, argument)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = current.budget
        budget.steps -= 1
        if budget.steps <= 0:
            budget.check()
        args = check_call(__obj, args, kwargs, budget)
        if not __self.is_safe_callable(__obj):  # SandboxedEnvironment.call, inline (the most frequent hook)
            raise SecurityError(f"{__obj!r} is not safely callable")
        return __context.call(__obj, *args, **kwargs)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        current.budget.tick()
        check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def guarded_join(self, join: Callable[[Iterable[Any]], str], parts: tuple[Any, ...]) -> str:
        current.budget.tick(len(parts))
        check(sum(size_of(part) for part in parts), "~")
        return join(parts)

    def iterate(self, iterable: Any) -> Any:
        budget = current.budget
        if isinstance(iterable, _SIZED):
            budget.tick(len(iterable) + 1)  # charged up front: the loop body may be empty
            return iterable
        if isinstance(iterable, Undefined):
            return iterable
        return _ticking(iterable, budget)

    def output_buffer(self) -> list[str]:
        return _OutputBuffer()

    def compare(self, left: Any, op: str, right: Any) -> Any:
        budget = current.budget
        budget.steps -= 1
        if budget.steps <= 0:
            budget.check()
        if isinstance(left, CONTAINERS) and isinstance(right, CONTAINERS):
            check_comparison(left, right)
        return _COMPARISONS[op](left, right)

    def comparable(self, value: Any) -> Any:
        current.budget.tick()
        if isinstance(value, CONTAINERS):
            check_rendered(value, "comparison")
        return value

    def dict_key(self, key: Any) -> Any:
        check_hashed(key)
        return key

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja's (3.1) sandboxed ``str.format``/``format_map``, with formatters that measure every field."""
        if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) or value.__name__ not in (
            "format",
            "format_map",
        ):
            return None
        f_self: Any = value.__self__
        if not isinstance(f_self, str):
            return None
        str_type: type[str] = type(f_self)
        is_format_map = value.__name__ == "format_map"
        formatter = _EscapeFormatter(self, escape=f_self.escape) if isinstance(f_self, Markup) else _Formatter(self)
        vformat = formatter.vformat

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs:
                    raise TypeError("format_map() takes no keyword arguments")
                if len(args) != 1:
                    raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
                kwargs = args[0]
                args = ()
            return str_type(vformat(f_self, args, kwargs))

        return update_wrapper(wrapper, value)


def build() -> Environment:
    env = Environment(loader=BaseLoader(), finalize=_finalize)  # default Undefined, no trim_blocks, as OnCall
    env.filters.update(oncall_filters.ONCALL_FILTERS)
    env.filters["pprint"] = oncall_filters.pprint
    env.filters = {name: guard_filter(name, func) for name, func in env.filters.items()}
    env.tests = {name: guard_test(name, func) for name, func in env.tests.items()}  # type: ignore[arg-type]  # jinja2 types its tests as builtins.function
    env.globals["time"] = oncall_filters.now
    env.globals["range"] = oncall_filters.restricted_range
    return env
