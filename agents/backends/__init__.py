"""Model back-ends: each implements `lumos_envs.protocols.TextGenerator` (and `generate_chat`).

`ScriptedBackend` (canned outputs, for tests and the oracle), `TransformersBackend` (a local causal
LM), `OpenAICompatBackend` (an OpenAI-compatible HTTP server such as vLLM), and `tiny` (builds a
tiny causal LM and tokenizer for CPU tests). Heavy imports happen inside the modules that need them.
"""

from agents.backends.base import BackendError, ChatGenerator, GenerationConfig, generate_conversations
from agents.backends.scripted import ScriptedBackend

__all__ = ["BackendError", "ChatGenerator", "GenerationConfig", "ScriptedBackend", "generate_conversations"]
