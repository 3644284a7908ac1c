"""Model back-ends for tools, named by spec strings: `llm:smollm2`, `openai:URL#MODEL`, `transformers:PATH`.

`lumos_envs` never imports `agents` (`spec/contract.md`, "Models inside tools"), yet its QA
reader and VQA tool may need a model. This module is the meeting point: a registry of factories
keyed by the spec's scheme (the text before the first `:`), one table for text generators
(`TextGenerator`, used by the LLM QA reader) and one for VQA models (an object with
`answer(VQAQuery) -> str`). `agents` fills the tables when it is imported (`agents/tool_models.py`);
any package may register its own schemes, or declare a module in the entry-point group
`lumos_envs.model_resolvers`, which is imported the first time a scheme is not found.

Env kwargs stay strings (`reader="llm:smollm2"`), so envs stay picklable for Ray actors and
vector-env workers; a spec is resolved lazily, at the first tool call that needs the model, and
the model is cached per process (`shared_state`), so every env in a process shares one copy.
"""

from __future__ import annotations

import importlib
import logging
import threading
from importlib.metadata import entry_points
from typing import Any, Callable

from lumos_envs.cache import shared_state
from lumos_envs.protocols import TextGenerator

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "lumos_envs.model_resolvers"
"""entry-point group whose modules register resolvers when imported"""

TextGeneratorFactory = Callable[[str], TextGenerator]
"""builds a text generator from the spec's part after `scheme:`"""
VQAModelFactory = Callable[[str], Any]
"""builds a VQA model (`answer(query) -> str`) from the spec's part after `scheme:`"""

_text_generators: dict[str, TextGeneratorFactory] = {}
_vqa_models: dict[str, VQAModelFactory] = {}
_lock = threading.Lock()
_plugins_loaded = False


def register_text_generator(scheme: str, factory: TextGeneratorFactory, *, replace: bool = False) -> None:
    """Make `scheme:REST` specs resolve to `factory(REST)`.

    Raises:
        ValueError: the scheme is not a lowercase identifier, or is taken and `replace` is False.
    """
    _register(_text_generators, "text generator", scheme, factory, replace)


def register_vqa_model(scheme: str, factory: VQAModelFactory, *, replace: bool = False) -> None:
    """Make `scheme:REST` VQA specs resolve to `factory(REST)` (same rules as text generators)."""
    _register(_vqa_models, "VQA model", scheme, factory, replace)


def known_text_generator_schemes() -> list[str]:
    """Registered text-generator schemes, sorted."""
    _load_plugins()
    return sorted(_text_generators)


def known_vqa_model_schemes() -> list[str]:
    """Registered VQA-model schemes, sorted."""
    _load_plugins()
    return sorted(_vqa_models)


def split_spec(spec: str) -> tuple[str, str]:
    """`"llm:smollm2"` -> `("llm", "smollm2")`.

    Raises:
        ValueError: no scheme, or nothing after it.
    """
    scheme, sep, rest = spec.strip().partition(":")
    if not sep or not scheme or not rest.strip():
        raise ValueError(f"a model spec is SCHEME:NAME (e.g. llm:smollm2, openai:URL#MODEL, transformers:PATH), got {spec!r}")
    return scheme.lower(), rest.strip()


def resolve_text_generator(spec: str) -> TextGenerator:
    """The process-wide text generator for a spec, built on first use.

    Raises:
        ValueError: a malformed spec or an unknown scheme (the message names the known ones).
    """
    scheme, rest = split_spec(spec)
    factory = _lookup(_text_generators, "text generator", scheme, spec)
    return shared_state("text_generator", f"{scheme}:{rest}", lambda: factory(rest))


def resolve_vqa_model(spec: str) -> Any:
    """The process-wide VQA model for a spec, built on first use (same errors as text generators)."""
    scheme, rest = split_spec(spec)
    factory = _lookup(_vqa_models, "VQA model", scheme, spec)
    return shared_state("vqa_model_resolved", f"{scheme}:{rest}", lambda: factory(rest))


def check_text_generator_spec(spec: str) -> None:
    """Check a spec without building anything (an env checks its `reader=` when it is made).

    Raises:
        ValueError: as `resolve_text_generator`.
    """
    scheme, _ = split_spec(spec)
    _lookup(_text_generators, "text generator", scheme, spec)


def check_vqa_model_spec(spec: str) -> None:
    """Check a VQA spec without building anything (same errors as `resolve_vqa_model`)."""
    scheme, _ = split_spec(spec)
    _lookup(_vqa_models, "VQA model", scheme, spec)


# ---------------------------------------------------------------------------------------------


def _register(table: dict[str, Callable[[str], Any]], kind: str, scheme: str, factory: Callable[[str], Any], replace: bool) -> None:
    if not scheme.isidentifier() or scheme != scheme.lower():
        raise ValueError(f"a {kind} scheme must be a lowercase identifier, got {scheme!r}")
    if not callable(factory):
        raise TypeError(f"the {kind} factory for {scheme!r} must be callable, got {type(factory).__name__}")
    with _lock:
        if scheme in table and not replace and table[scheme] is not factory:
            raise ValueError(f"{kind} scheme {scheme!r} is already registered (pass replace=True to override it)")
        table[scheme] = factory


def _lookup(table: dict[str, Callable[[str], Any]], kind: str, scheme: str, spec: str) -> Callable[[str], Any]:
    if scheme not in table:
        _load_plugins()
    if scheme not in table:
        known = ", ".join(f"{s}:" for s in sorted(table)) or "none registered"
        hint = "" if table else " (import agents, which registers llm: and openai:)"
        raise ValueError(f"unknown {kind} scheme {scheme!r} in {spec!r}; known schemes: {known}{hint}")
    return table[scheme]


def _load_plugins() -> None:
    """Import the modules named in the `lumos_envs.model_resolvers` entry points, once."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            importlib.import_module(point.value.partition(":")[0])
        except ImportError as error:  # a broken plugin must not hide the registered schemes
            logger.warning("model resolver plugin %s could not be imported: %s", point.value, error)
