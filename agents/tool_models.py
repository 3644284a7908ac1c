"""The model back-ends that tools may name by string, registered in `lumos_envs.resolvers`.

`lumos_envs` cannot import `agents`, so a tool's model spec (the QA env's `reader="llm:smollm2"`)
is resolved through the registry that this module fills when `agents` is imported:

- `llm:NAME_OR_PATH`: a local causal LM through `TransformersBackend` (a lumos tiny-model folder
  through `load_tiny_backend`); `NAME` is a named model of `agents.models` (`smollm2`, prepared
  on first use), otherwise a model folder.
- `openai:URL#MODEL`: an OpenAI-compatible server in chat mode (`URL` the root including `/v1`),
  as LUMOS called GPT-3.5 for its QA tool.

Factories import their back-end when called, so importing `agents` stays light.
"""

from __future__ import annotations

from lumos_envs.protocols import TextGenerator
from lumos_envs.resolvers import register_text_generator


def local_text_generator(name_or_path: str) -> TextGenerator:
    """`llm:NAME_OR_PATH` -> a transformers back-end on the CPU, no remote code.

    Raises:
        ValueError: no such named model or folder (`agents.models.resolve_model`).
    """
    from agents.backends.tiny import load_tiny_backend, read_tiny_options
    from agents.backends.transformers import TransformersBackend
    from agents.models import resolve_model

    path = resolve_model(name_or_path)
    if read_tiny_options(path):
        return load_tiny_backend(path)
    return TransformersBackend.from_pretrained(path)


def openai_text_generator(rest: str) -> TextGenerator:
    """`openai:URL#MODEL` -> an OpenAI-compatible back-end in chat mode.

    Raises:
        ValueError: `#MODEL` is missing or the URL is not http(s).
    """
    from agents.backends.openai_compat import OpenAICompatBackend, OpenAICompatConfig

    url, sep, model = rest.rpartition("#")
    if not sep or not url.strip() or not model.strip():
        raise ValueError(f"an OpenAI-compatible spec is openai:URL#MODEL (e.g. openai:http://127.0.0.1:8000/v1#qwen), got openai:{rest}")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"the URL of openai:URL#MODEL must start with http:// or https://, got {url!r}")
    return OpenAICompatBackend(OpenAICompatConfig(base_url=url.rstrip("/"), model=model.strip(), mode="chat"))


register_text_generator("llm", local_text_generator, replace=True)
register_text_generator("openai", openai_text_generator, replace=True)
