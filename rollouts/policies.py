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


ModuleName = Literal["planner", "grounder"]


@dataclass
class AgentConfig:
    """Which agent runs, on which models, with which sampling.

    Model settings come in three spellings: `--model`, `--device`, ... for every module, and
    `--planner-...` / `--grounder-...` for one module (the LUMOS checkpoints are separate planner
    and grounder models, possibly on different devices). A module with an `api_base` calls an
    OpenAI-compatible server instead of loading weights.
    """

    agent: AgentKind = "oracle"
    """oracle (gold plans), lumos (planner + grounder), integrated or cot (the paper's baselines)"""
    model: str | None = None
    """model folder, hub id or named model (smollm2) for every module (planner, grounder, baseline)"""
    planner_model: str | None = None
    """planner model; default: `model`"""
    grounder_model: str | None = None
    """grounder model; default: `model`"""
    device: str = "auto"
    """where local models run: cpu, cuda, cuda:N or auto (cuda when there is one)"""
    planner_device: str | None = None
    """planner's device; default: `device`"""
    grounder_device: str | None = None
    """grounder's device; default: `device`"""
    dtype: str = "auto"
    """weights' dtype: auto (bfloat16 on CUDA, float32 on CPU, where bf16 is several times slower), float32, bfloat16, float16"""
    planner_dtype: str | None = None
    """planner's dtype; default: `dtype`"""
    grounder_dtype: str | None = None
    """grounder's dtype; default: `dtype`"""
    device_map: str | None = None
    """transformers device_map (e.g. auto) for models too large for one device; overrides device"""
    planner_device_map: str | None = None
    """planner's device_map; default: `device_map`"""
    grounder_device_map: str | None = None
    """grounder's device_map; default: `device_map`"""
    revision: str | None = None
    """hub revision (branch, tag or commit) of hub models"""
    planner_revision: str | None = None
    """planner's revision; default: `revision`"""
    grounder_revision: str | None = None
    """grounder's revision; default: `revision`"""
    prompt_style: Literal["auto", "tulu", "template", "lumos-eval"] = "auto"
    """prompt serialisation: auto (the model record's, else tulu for LUMOS checkpoints and models without a chat
    template, else the template), tulu (LUMOS training format), template, lumos-eval (LUMOS's evaluation scripts)"""
    planner_prompt_style: str | None = None
    """planner's prompt style; default: `prompt_style`"""
    grounder_prompt_style: str | None = None
    """grounder's prompt style; default: `prompt_style`"""
    api_base: str | None = None
    """OpenAI-compatible server for every module (e.g. http://127.0.0.1:8000/v1); weights are then not loaded here"""
    planner_api_base: str | None = None
    """planner's server; default: `api_base`"""
    grounder_api_base: str | None = None
    """grounder's server; default: `api_base`"""
    api_model: str | None = None
    """the model name the server knows; default: the module's --model"""
    planner_api_model: str | None = None
    """planner's server model name; default: `api_model`"""
    grounder_api_model: str | None = None
    """grounder's server model name; default: `api_model`"""
    api_key_env: str = "OPENAI_API_KEY"
    """environment variable holding the server's API key (the key itself is never stored)"""
    api_server: Literal["vllm", "generic"] = "vllm"
    """vllm: list prompts, n, token ids and logprobs in one request per batch; generic: one prompt per request, no ids"""
    api_mode: Literal["completions", "chat"] = "completions"
    """completions: lumos sends the exact serialised prompt; chat: the server applies its own template"""
    api_max_concurrency: int = 8
    """requests in flight at once per server"""
    formulation: Literal["iterative", "onetime"] = "iterative"
    """LUMOS-I (iterative) or LUMOS-O (one-time)"""
    temperature: float = 0.0
    """0 is greedy"""
    max_new_tokens: int = 512
    """longest module output, tokens (LUMOS's 512; capped at the model's context less the prompt)"""
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
    conversation_cache: int = 64
    """local models: conversations whose KV cache is kept between turns, so that a turn computes
    only its new tokens (least recently used dropped first; bounds memory; 0 keeps none)"""
    conversation_cache_mb: float = 2048
    """local models: the most memory, in MB, the kept conversation caches may hold together"""
    batching: Literal["padded", "continuous"] = "padded"
    """local models: `padded` batches through `generate` with prefix and conversation KV reuse;
    `continuous` uses transformers' continuous batching (rows leave the batch as they finish,
    prefix blocks shared; greedy decoding only)"""

    def __post_init__(self) -> None:
        if self.demonstrations not in ("auto", "on", "off"):
            raise ValueError(f"demonstrations must be 'auto', 'on' or 'off', got {self.demonstrations!r}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.conversation_cache < 0:
            raise ValueError(f"conversation_cache must be >= 0, got {self.conversation_cache}")
        if self.conversation_cache_mb <= 0:
            raise ValueError(f"conversation_cache_mb must be > 0, got {self.conversation_cache_mb}")
        if self.batching not in ("padded", "continuous"):
            raise ValueError(f"batching must be 'padded' or 'continuous', got {self.batching!r}")
        if self.batching == "continuous" and self.temperature > 0:
            raise ValueError("batching 'continuous' decodes greedily only: use --temperature 0 or --batching padded")
        if self.agent != "oracle":
            for module in ("planner", "grounder"):
                settings = self.module(module)  # type: ignore[arg-type]
                if not settings.model and not settings.api_base:
                    raise ValueError(f"agent {self.agent!r} needs --model (or --planner-model and --grounder-model, or --api-base)")
                if settings.api_base and not (settings.api_model or settings.model):
                    raise ValueError(f"--{module}-api-base needs --api-model (the name the server knows) or --model")

    def module(self, name: ModuleName) -> "ModuleSettings":
        """One module's model settings, its own overriding the shared ones."""
        own = lambda field_name: getattr(self, f"{name}_{field_name}")  # noqa: E731
        pick = lambda field_name: own(field_name) if own(field_name) is not None else getattr(self, field_name)  # noqa: E731
        return ModuleSettings(
            model=pick("model"), device=pick("device"), dtype=pick("dtype"), device_map=pick("device_map"),
            revision=pick("revision"), prompt_style=pick("prompt_style"), api_base=pick("api_base"),
            api_model=pick("api_model") or (pick("model") if pick("api_base") else None),
        )

    def info(self) -> dict[str, Any]:
        """What trajectories record about the agent (no secrets: model paths and settings only),
        with each module's model record (`models`) for readers such as the viewer."""
        data = {k: v for k, v in asdict(self).items() if v is not None}
        if self.agent != "oracle":
            data["models"] = {name: self.module(name).record() for name in ("planner", "grounder")}  # type: ignore[arg-type]
        return data


@dataclass(frozen=True)
class ModuleSettings:
    """Where one module's model comes from and how it is run."""

    model: str | None
    device: str = "auto"
    dtype: str = "auto"
    device_map: str | None = None
    revision: str | None = None
    prompt_style: str = "auto"
    api_base: str | None = None
    api_model: str | None = None

    def record(self) -> dict[str, Any]:
        """The model record trajectories carry: name, folder, tokenizer folder, `lumos_model.json`.

        Read from disk only (a named model that is not prepared yet points at where it will be)."""
        from agents.models import NAMED_MODELS, models_dir, read_model_record

        out: dict[str, Any] = {"name": self.model}
        if self.api_base:
            out.update(server=self.api_base, server_model=self.api_model)
        if self.model:
            named = NAMED_MODELS.get(self.model)
            path = models_dir() / named.folder if named else Path(self.model).expanduser()
            out.update(path=str(path), tokenizer=str(path))
            if path.is_dir():
                record = read_model_record(path)
                if record is not None:
                    out["record"] = record.to_json()
        return out


def _shows_demonstrations(config: AgentConfig, tiny: bool) -> bool:
    return config.demonstrations == "on" or (config.demonstrations == "auto" and not tiny)


def load_module_backend(settings: ModuleSettings, config: AgentConfig) -> tuple[Any, bool]:
    """The back-end of one module, and whether it is a lumos tiny model.

    A server module gets an `OpenAICompatBackend`; a folder whose record has tiny options loads as
    a tiny model (its own adapters); anything else as a transformers model with the module's device,
    dtype, device map, revision and prompt style.
    """
    if settings.api_base:
        from agents.backends.openai_compat import server_backend

        record = settings.record().get("record") or {}
        return server_backend(settings, config), record.get("tiny") is not None  # a served tiny model is still tiny
    import torch

    from agents.backends.tiny import load_tiny_backend
    from agents.backends.transformers import TransformersBackend
    from agents.models import read_model_record, resolve_model

    torch.set_num_threads(config.torch_threads)
    path = resolve_model(str(settings.model))
    record = read_model_record(path) if Path(path).is_dir() else None
    if record is not None and record.tiny is not None:
        return load_tiny_backend(path, batch_size=config.batch_size, conversation_cache_size=config.conversation_cache,
                                 conversation_cache_mb=config.conversation_cache_mb, batching=config.batching), True
    style = None if settings.prompt_style == "auto" else settings.prompt_style
    return TransformersBackend.from_pretrained(
        path, device=settings.device, dtype=settings.dtype, device_map=settings.device_map, revision=settings.revision,
        batch_size=config.batch_size, prompt_style=style,  # type: ignore[arg-type]
        conversation_cache_size=config.conversation_cache, conversation_cache_mb=config.conversation_cache_mb,
        batching=config.batching,
    ), False


def make_agent(config: AgentConfig) -> Any:
    """The policy `config` describes (a model used by both modules is loaded once and shared)."""
    if config.agent == "oracle":
        from agents.oracle import OracleAgent

        return OracleAgent(formulation=config.formulation)
    generation = GenerationConfig(max_new_tokens=config.max_new_tokens, temperature=config.temperature, seed=config.sample_seed)
    loaded: dict[ModuleSettings, tuple[Any, bool]] = {}

    def backend(name: ModuleName) -> Any:
        settings = config.module(name)
        if settings not in loaded:
            loaded[settings] = load_module_backend(settings, config)
        return loaded[settings][0]

    if config.agent == "lumos":
        planner = Planner(backend("planner"), generation)
        grounder = Grounder(backend("grounder"), generation)
        tiny = any(is_tiny for _, is_tiny in loaded.values())
        return LumosAgent(planner, grounder, formulation=config.formulation, max_subgoals=config.max_subgoals,
                          demonstrations=None if _shows_demonstrations(config, tiny) else {})
    from agents.baselines import CoTAgent, IntegratedAgent

    if config.agent == "integrated":
        return IntegratedAgent(backend("planner"), generation, max_subgoals=config.max_subgoals)
    return CoTAgent(backend("planner"), "cot", GenerationConfig(max_new_tokens=max(256, config.max_new_tokens), temperature=config.temperature))
