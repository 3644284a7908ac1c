"""Errors raised by tools; the executor turns them into observations, never into exceptions out of step()."""

from __future__ import annotations


class ToolError(Exception):
    """A tool could not do what it was asked: bad input, unsupported syntax, no solution.

    The message is shown to the agent as the observation, so it should say what is wrong and,
    where possible, how to fix it.
    """


class ToolTimeout(ToolError):
    """A bounded tool call ran past its time limit and its worker was killed."""


class ToolResourceError(ToolError):
    """A bounded tool call exceeded its memory or output limit, or its worker died."""
