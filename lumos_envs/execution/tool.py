"""Tool declarations: a LUMOS tool is a plain typed function plus its LUMOS name and interface string.

The interface string is what the grounding prompt shows the model, so it is copied verbatim from
LUMOS (see `agents/prompts.py`); the function's own docstring is for people. The parameter list is
read from the function's signature so the two cannot drift apart (as aviary's `Tool.from_function`).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable, Literal, Sequence, Union

ToolResult = Union[str, Sequence[str]]
"""A tool returns one value as text, or several (one per output variable, e.g. SolveEquation)."""

Substitution = Literal["math", "text"]
"""How variable values are put into a tool's arguments: `math` wraps compound values in
parentheses (so `2*R1` with `R1 = x-3` means `2*(x-3)`) and turns `R4(R5, R6)` into a function
application; `text` inserts values as they are."""


@dataclass(frozen=True)
class Tool:
    """A tool the execution module can run.

    Attributes:
        name: LUMOS spelling, e.g. `Calculator`.
        interface: the LUMOS interface string, e.g. `Calculator(formula): Calculate the input formula`.
        fn: the implementation; takes its parameters as text and returns `ToolResult`;
            raises `ToolError` for bad input. Must be a module-level function when `bounded` can
            be true, so the worker process can import it by `target`.
        params: parameter names from the signature (a `*items` parameter makes the tool variadic).
        variadic: whether the last parameter collects any number of arguments.
        substitution: how variable references are filled in (see `Substitution`).
        bounded: whether a call runs in a killable worker process: `True`, `False`, or a predicate
            over the call's arguments (e.g. "the formula is not cheap"). Cheap calls stay in-process.
    """

    name: str
    interface: str
    fn: Callable[..., ToolResult]
    params: tuple[str, ...] = ()
    variadic: bool = False
    substitution: Substitution = "text"
    bounded: bool | Callable[..., bool] = False
    description: str = field(default="", compare=False)

    @property
    def target(self) -> str:
        """`module:function`, how a worker process finds the implementation."""
        return f"{self.fn.__module__}:{self.fn.__qualname__}"

    def needs_worker(self, args: Sequence[str]) -> bool:
        """Whether this call with these (substituted) arguments must run in a worker process."""
        if callable(self.bounded):
            return bool(self.bounded(*args))
        return bool(self.bounded)


def tool(
    *,
    name: str,
    interface: str,
    substitution: Substitution = "text",
    bounded: bool | Callable[..., bool] = False,
) -> Callable[[Callable[..., ToolResult]], Tool]:
    """Declare a function as a LUMOS tool; the decorated name becomes a `Tool`.

    The function keeps working as a plain function through `Tool.fn`.
    """

    def wrap(fn: Callable[..., ToolResult]) -> Tool:
        params: list[str] = []
        variadic = False
        for p in inspect.signature(fn).parameters.values():
            if p.kind is inspect.Parameter.VAR_POSITIONAL:
                params.append(p.name)
                variadic = True
            elif p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
                params.append(p.name)
        return Tool(
            name=name,
            interface=interface,
            fn=fn,
            params=tuple(params),
            variadic=variadic,
            substitution=substitution,
            bounded=bounded,
            description=inspect.getdoc(fn) or "",
        )

    return wrap
