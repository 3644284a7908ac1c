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

from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping, Sequence

from agents.backends.base import BackendError, Conversation
from agents.prompts import GROUND_INSTRUCTION, PLAN_INSTRUCTION, lumos_eval_prompt, tulu_prompt

PromptStyle = Literal["auto", "tulu", "template", "lumos-eval"]
PROMPT_STYLES: tuple[str, ...] = ("auto", "tulu", "template", "lumos-eval")
TULU_EOS = "</s>"
"""the end-of-turn text of the Tulu format when the tokenizer names no EOS (LLaMA's)"""
MIN_ROOM = 8
"""a prompt must leave at least this many positions (or max_new_tokens, if smaller) to generate"""


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


@dataclass(frozen=True)
class FittedConversation:
    """A conversation as it fits a model's context: its prompt ids and what was dropped."""

    ids: list[int]
    """the prompt ids of `conversation`"""
    conversation: list[Mapping[str, str]]
    """the turns kept (the whole conversation when nothing was dropped)"""
    demonstration_turns: int = 0
    """in-context demonstration turns dropped (those before the conversation's own first turn)"""
    dropped_turns: int = 0
    """older turns of the conversation itself dropped"""

    @property
    def was_cut(self) -> bool:
        return bool(self.demonstration_turns or self.dropped_turns)


def fit_conversation(conversation: Conversation, encode: Callable[[Sequence[Mapping[str, str]]], list[int]],
                     window: int | None, max_new_tokens: int, name: str = "") -> FittedConversation:
    """Shorten a conversation to leave room to generate in `window` positions, the same way for
    every back-end: drop the in-context demonstrations, then the oldest turn pairs, but keep the
    conversation's first LUMOS turn (the instruction and `Task:`) and its current turn.

    `encode` gives the prompt ids of a list of turns (serialised in the model's prompt style).

    Raises:
        BackendError: even the instruction and current turn do not fit.
    """
    messages = list(conversation)
    ids = encode(messages)
    need = min(MIN_ROOM, max_new_tokens)
    if window is None or window - len(ids) >= need:
        return FittedConversation(ids, messages)
    anchor = _first_lumos_turn(messages)
    kept = messages[anchor:]
    while True:
        ids = encode(kept)
        if window - len(ids) >= need:
            break
        if len(kept) <= 2:
            what = "its instruction turn and its current turn" if len(kept) == 2 else "its one turn"
            raise BackendError(f"a conversation of {len(ids)} tokens does not fit {name or 'the model'}'s "
                               f"{window} positions even with only {what}; use a model with a longer context")
        kept = [kept[0], *kept[3:]] if len(kept) > 3 else [kept[0], kept[-1]]  # drop the oldest turn pair
    return FittedConversation(ids, kept, anchor, len(messages) - anchor - len(kept))


def _first_lumos_turn(messages: Sequence[Any]) -> int:
    """Index of the conversation's own first turn: the last user turn that opens with a LUMOS
    instruction (in-context demonstrations before it open with one too); 0 when there is none."""
    anchor = 0
    for i, message in enumerate(messages):
        content = str(message.get("content", ""))
        if message.get("role") == "user" and (content.startswith(PLAN_INSTRUCTION) or content.startswith(GROUND_INSTRUCTION[:60])):
            anchor = i
    return anchor
