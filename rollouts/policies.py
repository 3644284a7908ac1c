"""Building the agent a command runs from plain settings (model paths, formulation, sampling).

`AgentConfig` is shared by `lumos rollout`, `lumos eval` and `lumos improve`; `make_agent` turns it
into a policy: the oracle (gold plans), a LUMOS agent (planner and grounder back-ends, one model
for both by default: LUMOS's unified shape), or one of the paper's baselines.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from agents.agent import LumosAgent
from agents.backends.base import GenerationConfig
from agents.grounder import Grounder
from agents.planner import Planner

AgentKind = Literal["oracle", "lumos", "integrated", "cot"]


@dataclass
class AgentConfig:
    """Which agent runs, on which models, with which sampling."""

    agent: AgentKind = "oracle"
    """oracle (gold plans), lumos (planner + grounder), integrated or cot (the paper's baselines)"""
    model: str | None = None
    """model folder or hub id for every module (planner, grounder, baseline)"""
    planner_model: str | None = None
    """planner model; default: `model`"""
    grounder_model: str | None = None
    """grounder model; default: `model`"""
    formulation: Literal["iterative", "onetime"] = "iterative"
    """LUMOS-I (iterative) or LUMOS-O (one-time)"""
    temperature: float = 0.0
    """0 is greedy"""
    max_new_tokens: int = 96
    """longest module output, tokens"""
    max_subgoals: int = 10
    """LUMOS-I planning limit"""
    sample_seed: int | None = None
    """sampling seed (temperature > 0)"""
    batch_size: int = 16
    """prompts per forward pass of a local model"""
    demonstrations: Literal["auto", "on", "off"] = "auto"
    """LUMOS's in-context examples before WebShop prompts, as LUMOS evaluates its checkpoints.
    auto: on for transformers models, off for lumos's tiny models (never trained with them, and
    their short context would not hold them); on / off: always / never"""
    torch_threads: int = 1
    """CPU threads for local models; 1 by default because small-batch generation gains little from
    more and slows down badly when the cores are shared (envs, tool workers, other jobs)"""

    def __post_init__(self) -> None:
        if self.demonstrations not in ("auto", "on", "off"):
            raise ValueError(f"demonstrations must be 'auto', 'on' or 'off', got {self.demonstrations!r}")
        if self.agent != "oracle" and not (self.model or (self.planner_model and self.grounder_model)):
            raise ValueError(f"agent {self.agent!r} needs --model (or --planner-model and --grounder-model)")

    def info(self) -> dict[str, Any]:
        """What trajectories record about the agent (no secrets: model paths and settings only)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def _shows_demonstrations(config: AgentConfig, tiny: bool) -> bool:
    return config.demonstrations == "on" or (config.demonstrations == "auto" and not tiny)


def make_agent(config: AgentConfig) -> Any:
    """The policy `config` describes (local models are loaded once and shared between modules)."""
    if config.agent == "oracle":
        from agents.oracle import OracleAgent

        return OracleAgent(formulation=config.formulation)
    generation = GenerationConfig(max_new_tokens=config.max_new_tokens, temperature=config.temperature, seed=config.sample_seed)
    loaded: dict[str, Any] = {}
    tiny: set[str] = set()

    def backend(path: str) -> Any:
        if path not in loaded:
            import torch

            from agents.backends.transformers import TransformersBackend

            torch.set_num_threads(config.torch_threads)
            from agents.backends.tiny import TINY_OPTIONS_FILE, load_tiny_backend

            if (Path(path) / TINY_OPTIONS_FILE).is_file():  # a lumos tiny model (its own adapters)
                loaded[path] = load_tiny_backend(path, batch_size=config.batch_size)
                tiny.add(path)
            else:
                loaded[path] = TransformersBackend.from_pretrained(path, batch_size=config.batch_size)
        return loaded[path]

    if config.agent == "lumos":
        planner = Planner(backend(config.planner_model or config.model), generation)  # type: ignore[arg-type]
        grounder = Grounder(backend(config.grounder_model or config.model), generation)  # type: ignore[arg-type]
        return LumosAgent(planner, grounder, formulation=config.formulation, max_subgoals=config.max_subgoals,
                          demonstrations=None if _shows_demonstrations(config, bool(tiny)) else {})
    from agents.baselines import CoTAgent, IntegratedAgent

    if config.agent == "integrated":
        return IntegratedAgent(backend(config.model), generation, max_subgoals=config.max_subgoals)  # type: ignore[arg-type]
    return CoTAgent(backend(config.model), "cot", GenerationConfig(max_new_tokens=max(256, config.max_new_tokens), temperature=config.temperature))  # type: ignore[arg-type]
