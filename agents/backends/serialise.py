"""How a conversation becomes the exact prompt string a model sees, shared by every back-end.

The transformers back-end (`TransformersBackend.format_chat`) and the server back-end in
completions mode (`OpenAICompatBackend`) must send a model the same characters for the same
conversation and prompt style, or a served checkpoint would see a different prompt than the one
it was trained or evaluated with. Both call `format_conversation` here; `resolve_prompt_style`
turns `auto` into a concrete style the same way for both.

Styles: `tulu` (the LUMOS checkpoints' training format; the tokenizer adds BOS), `lumos-eval`
(LUMOS's evaluation scripts: no `</s>` after assistant turns, no BOS), `template` (the
tokenizer's chat template, which writes its own special tokens).
"""

from __future__ import annotations

from typing import Any, Literal

from agents.backends.base import Conversation
from agents.prompts import lumos_eval_prompt, tulu_prompt

PromptStyle = Literal["auto", "tulu", "template", "lumos-eval"]
PROMPT_STYLES: tuple[str, ...] = ("auto", "tulu", "template", "lumos-eval")
TULU_EOS = "</s>"
"""the end-of-turn text of the Tulu format when the tokenizer names no EOS (LLaMA's)"""


def resolve_prompt_style(style: str, tokenizer: Any | None, name: str) -> str:
    """A concrete prompt style for `style` (`auto`: Tulu for LUMOS checkpoints and tokenizers
    without a chat template, else the template).

    Raises:
        ValueError: an unknown style.
    """
    if style not in PROMPT_STYLES:
        raise ValueError(f"prompt_style must be auto, tulu, template or lumos-eval, got {style!r}")
    if style != "auto":
        return style
    has_template = bool(getattr(tokenizer, "chat_template", None))
    return "template" if has_template and "lumos" not in name.lower() else "tulu"


def format_conversation(conversation: Conversation, style: str, tokenizer: Any | None = None) -> str:
    """The prompt string for a conversation, ending where the assistant's turn starts.

    `tokenizer` gives the Tulu format's EOS text and the chat template; only `template` needs it.

    Raises:
        ValueError: `template` without a tokenizer, or `auto` (resolve it first).
    """
    if style == "tulu":
        return tulu_prompt(conversation, eos=(getattr(tokenizer, "eos_token", None) if tokenizer is not None else None) or TULU_EOS)
    if style == "lumos-eval":
        return lumos_eval_prompt(conversation)
    if style != "template":
        raise ValueError(f"cannot serialise with prompt style {style!r} (resolve auto first)")
    if tokenizer is None:
        raise ValueError("prompt style 'template' needs the model's tokenizer (its chat template)")
    messages = [{"role": m["role"], "content": m["content"]} for m in conversation]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def adds_special_tokens(style: str) -> bool:
    """Whether prompt strings of `style` are tokenised with the tokenizer's special tokens (BOS):
    only the Tulu format relies on them; templates write their own and LUMOS's eval scripts add none."""
    return style == "tulu"


def record_prompt_style(record: Any | None) -> str | None:
    """The prompt style a model folder's `lumos_model.json` asks for (its `prompt_style`, else a
    `tulu`/`template` chat format), or None when it names none."""
    if record is None:
        return None
    if record.prompt_style and record.prompt_style != "auto":
        return str(record.prompt_style)
    if record.chat_format in ("tulu", "template"):
        return str(record.chat_format)
    return None
