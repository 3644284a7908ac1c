"""Typed per-episode records of what the agent's modules were asked and said (for the rollouts store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lumos_envs.protocols import Generation

ModuleName = Literal["planner", "grounder", "integrated", "cot"]


@dataclass
class ModuleCall:
    """One module call for one episode: the conversation sent and the generation acted on."""

    module: ModuleName
    messages: list[dict[str, str]]
    """the conversation, the last user turn included"""
    prompt: Any
    """what the back-end received (the serialised string, or the conversation for chat back-ends)"""
    generation: Generation
    """the sample acted on (the first of `n`)"""
    samples: tuple[Generation, ...] = ()
    """all `n` samples"""


@dataclass
class FormatError:
    """Model output that broke the LUMOS format, and what the agent did about it."""

    module: ModuleName
    text: str
    reason: str
    handling: str


@dataclass
class EpisodeTrace:
    """Everything one episode slot produced, in order."""

    task_id: str = ""
    formulation: str = "iterative"
    subgoals: list[str] = field(default_factory=list)
    """subgoal lines as grounded (`Subgoal k: ...`)"""
    actions: list[str] = field(default_factory=list)
    """action texts sent to the env, the final answer included"""
    calls: list[ModuleCall] = field(default_factory=list)
    format_errors: list[FormatError] = field(default_factory=list)
    invalid_actions: int = 0
    """steps the env reported as invalid (`info["invalid_action"]`)"""
    stop_reason: str = ""
    """`planner_stop`, `max_subgoals`, `format_error`, `onetime_done`, `no_plan`, ..."""
