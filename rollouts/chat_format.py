"""How training serialises a conversation for one model, so that it equals the model's inference prompt.

`TransformersBackend.format_chat` decides what a model sees at inference (its prompt style:
`tulu` for the LUMOS checkpoints and any tokenizer without a chat template, `template` for the
tokenizer's own chat template, `lumos-eval` for LUMOS's evaluation scripts). Training must feed the
same string, with the loss on the assistant's text and its end token only. `resolve_chat_format`
picks, for a tokenizer and its folder's `lumos_model.json` record:

- no chat template (the LUMOS checkpoints): the Tulu template with `{% generation %}` markers
  (`agents.prompts.TULU_CHAT_TEMPLATE`), tokenised with the tokenizer's special tokens (BOS), as
  the `tulu` style feeds it;
- a template with generation markers: used as it is;
- a template without them: the same template with markers inserted around the assistant content
  and its end token (`add_generation_markers`: ChatML's one-expression form, as SmolLM2 ships it),
  or TRL's patched template for the families TRL knows, accepted only if it renders every probe
  conversation exactly as the original;
- anything else: no template change; the assistant tokens are found by rendering each prefix
  (`prefix-masks`), which works for any template that renders prefixes as prefixes.

`tokenize_conversation` then gives the ids and the assistant mask of a conversation exactly as
training feeds them (the ids of the prompt part equal `backend.encode(backend.format_chat(...))`).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from agents.prompts import TULU_CHAT_TEMPLATE

logger = logging.getLogger(__name__)

_GENERATION_MARKER = re.compile(r"\{%-?\s*generation\s*-?%\}")

_Q = r"""(['"])"""
_NL = r"(?:\n|\\n)"
_CHATML_TURN = re.compile(
    r"\{\{-?\s*" + _Q + r"<\|im_start\|>\1\s*\+\s*message\[" + _Q + r"role\2\]\s*\+\s*" + _Q + _NL + r"\3\s*\+\s*"
    r"message\[" + _Q + r"content\4\](?:\s*\|\s*trim)?\s*\+\s*" + _Q + r"<\|im_end\|>\5\s*\+\s*" + _Q + _NL + r"\6\s*-?\}\}"
)
"""ChatML's turn as one expression: `{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}`"""

PROBE_CONVERSATIONS: tuple[tuple[dict[str, str], ...], ...] = (
    ({"role": "user", "content": "Task: 2 + 3"}, {"role": "assistant", "content": "R1 = Calculator(2 + 3)"}),
    ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "a\nb"}, {"role": "assistant", "content": "Subgoal 1: x."},
     {"role": "user", "content": "The executed result for Subgoal 1 is 5. Should we stop planning?"},
     {"role": "assistant", "content": "Yes, I will stop planning."}),
)
"""conversations a patched template must render exactly as the original (with and without a generation prompt)"""


@dataclass(frozen=True)
class ChatFormat:
    """The serialisation training uses for one model, chosen to equal its inference prompt."""

    prompt_style: str
    """the inference prompt style (`tulu`, `template`, `lumos-eval`), recorded with the trained model"""
    chat_format: str
    """`tulu` or `template`, for `lumos_model.json`"""
    template: str | None
    """a chat template with `{% generation %}` markers, or None (masks from prefixes of the model's own template)"""
    source: str
    """`tulu`, `model` (markers already there), `model+markers` (inserted), `trl` (TRL's patched template) or `prefix-masks`"""
    add_special_tokens: bool
    """whether prompt strings are tokenised with the tokenizer's special tokens (BOS), as inference does"""

    def to_json(self) -> dict[str, Any]:
        return {"prompt_style": self.prompt_style, "chat_format": self.chat_format, "source": self.source,
                "add_special_tokens": self.add_special_tokens}


def has_generation_markers(template: Any) -> bool:
    """Whether a chat template (a string, a dict of named templates, or a tokenizer) marks assistant text."""
    if template is not None and not isinstance(template, (str, dict)):
        template = getattr(template, "chat_template", None)
    text = template if isinstance(template, str) else json.dumps(template or "")
    return bool(_GENERATION_MARKER.search(text))


def add_generation_markers(template: str) -> str | None:
    """The template with `{% generation %}` around each assistant turn's content and end token, or None
    when its form is not one lumos knows how to patch. The caller checks the rendering is unchanged."""
    match = _CHATML_TURN.search(template)
    if match is None:
        return None
    original = match.group(0)
    content = "message['content'] | trim" if "trim" in original else "message['content']"
    patched = (
        "{% if message['role'] == 'assistant' %}{{ '<|im_start|>assistant\\n' }}"
        "{% generation %}{{ " + content + " + '<|im_end|>' }}{% endgeneration %}{{ '\\n' }}"
        "{% else %}" + original + "{% endif %}"
    )
    return template[: match.start()] + patched + template[match.end():]


def renders_like(tokenizer: Any, template: str, original: str | None) -> bool:
    """Whether `template` renders every probe conversation exactly as `original` (both with and
    without a generation prompt after each prefix that ends with a user turn)."""
    for conversation in PROBE_CONVERSATIONS:
        messages = [dict(m) for m in conversation]
        cases = [(messages, False)] + [(messages[:i], True) for i in range(1, len(messages)) if messages[i - 1]["role"] == "user"]
        for case, generation_prompt in cases:
            try:
                a = tokenizer.apply_chat_template(case, tokenize=False, add_generation_prompt=generation_prompt, chat_template=template)
                b = tokenizer.apply_chat_template(case, tokenize=False, add_generation_prompt=generation_prompt, chat_template=original)
            except Exception as error:  # noqa: BLE001 - a template that raises on a probe is not usable here
                logger.debug("probe rendering failed: %s", error)
                return False
            if a != b:
                return False
    return True


def inference_style(tokenizer: Any, record: Any, name: str) -> str:
    """The prompt style `TransformersBackend.from_pretrained` resolves for this folder (same rules)."""
    if record is not None and getattr(record, "prompt_style", "auto") not in ("", "auto"):
        return str(record.prompt_style)
    if record is not None and getattr(record, "chat_format", "auto") in ("tulu", "template"):
        return str(record.chat_format)
    has_template = bool(getattr(tokenizer, "chat_template", None))
    return "template" if has_template and "lumos" not in name.lower() else "tulu"


def resolve_chat_format(tokenizer: Any, record: Any = None, name: str = "") -> ChatFormat:
    """The training serialisation for a tokenizer (see the module docstring)."""
    style = inference_style(tokenizer, record, name)
    if style in ("tulu", "lumos-eval"):
        # LUMOS trains on Tulu; `lumos-eval` is how its scripts *evaluate* (no </s>, no BOS), not a training format
        return ChatFormat(style, "tulu", TULU_CHAT_TEMPLATE, "tulu", True)
    original = getattr(tokenizer, "chat_template", None)
    if isinstance(original, dict):
        original = original.get("default")
    if not original:
        raise ValueError(f"{name or 'the model'} is set to prompt style 'template' but its tokenizer has no chat template")
    if has_generation_markers(original):
        return ChatFormat(style, "template", original, "model", False)
    patched = add_generation_markers(original)
    if patched is not None and renders_like(tokenizer, patched, original):
        return ChatFormat(style, "template", patched, "model+markers", False)
    try:
        from trl.chat_template_utils import get_training_chat_template

        trl_template = get_training_chat_template(tokenizer)
    except (ValueError, ImportError, TypeError):
        trl_template = None
    if trl_template and has_generation_markers(trl_template) and renders_like(tokenizer, trl_template, original):
        return ChatFormat(style, "template", trl_template, "trl", False)
    logger.warning("the chat template of %s has no {%% generation %%} markers lumos can add: assistant tokens are found "
                   "by rendering each prefix", name or "the model")
    return ChatFormat(style, "template", None, "prefix-masks", False)


def render(tokenizer: Any, fmt: ChatFormat, messages: Sequence[Mapping[str, str]], *, add_generation_prompt: bool = False) -> str:
    """The conversation as training (and, for a prefix ending in a user turn, inference) writes it."""
    return tokenizer.apply_chat_template([dict(m) for m in messages], tokenize=False, add_generation_prompt=add_generation_prompt,
                                         chat_template=fmt.template)


def encode(tokenizer: Any, fmt: ChatFormat, text: str) -> list[int]:
    """The ids of a rendered string, exactly as `TransformersBackend.encode` makes them."""
    return list(tokenizer(text, add_special_tokens=fmt.add_special_tokens)["input_ids"])


def tokenize_conversation(tokenizer: Any, fmt: ChatFormat, messages: Sequence[Mapping[str, str]]) -> dict[str, list[int]]:
    """`input_ids` and `assistant_masks` (1 on assistant content and end tokens) of one conversation.

    Raises:
        ValueError: the template renders no assistant tokens, or a prefix not as a prefix.
    """
    conversation = [{"role": m["role"], "content": m["content"]} for m in messages]
    if fmt.template is not None:
        out = tokenizer.apply_chat_template(conversation, tokenize=True, return_dict=True, return_assistant_tokens_mask=True,
                                            chat_template=fmt.template)
        ids, mask = list(out["input_ids"]), list(out["assistant_masks"])
        if fmt.add_special_tokens:
            full = encode(tokenizer, fmt, render(tokenizer, fmt, conversation))
            start = _find(full, ids)
            if start is None:
                raise ValueError("the tokenizer's special tokens change the ids of the rendered conversation")
            mask = [0] * start + mask + [0] * (len(full) - start - len(ids))
            ids = full
    else:
        ids = encode(tokenizer, fmt, render(tokenizer, fmt, conversation))
        mask = [0] * len(ids)
        for i, message in enumerate(conversation):
            if message["role"] != "assistant":
                continue
            prompt = encode(tokenizer, fmt, render(tokenizer, fmt, conversation[:i], add_generation_prompt=True))
            upto = encode(tokenizer, fmt, render(tokenizer, fmt, conversation[: i + 1]))
            if ids[: len(upto)] != upto or upto[: len(prompt)] != prompt:
                raise ValueError("the chat template does not render a conversation's prefixes as prefixes; "
                                 "add {% generation %} markers to it for training")
            mask[len(prompt): len(upto)] = [1] * (len(upto) - len(prompt))
    if 1 not in mask:
        raise ValueError("a training conversation has no assistant tokens under this chat template")
    return {"input_ids": ids, "assistant_masks": mask}


def tokenize_preference(tokenizer: Any, fmt: ChatFormat, prompt: Sequence[Mapping[str, str]],
                        completion: Sequence[Mapping[str, str]]) -> tuple[list[int], list[int]]:
    """One side of a preference pair as ids: the inference prompt's ids (as `TransformersBackend.encode`
    makes them) and the completion's, up to and including its end token.

    Raises:
        ValueError: the template does not render the prompt as a prefix of prompt + completion.
    """
    prompt_ids = encode(tokenizer, fmt, render(tokenizer, fmt, prompt, add_generation_prompt=True))
    whole = encode(tokenizer, fmt, render(tokenizer, fmt, list(prompt) + list(completion)))
    if whole[: len(prompt_ids)] != prompt_ids:
        raise ValueError("the chat template does not render the prompt as a prefix of prompt + completion")
    rest = whole[len(prompt_ids):]
    eos = tokenizer.eos_token_id
    if eos is not None and eos in rest:
        rest = rest[: len(rest) - rest[::-1].index(eos)]  # what follows the end token (a newline) is the next turn's
    return prompt_ids, rest


def _find(haystack: list[int], needle: list[int]) -> int | None:
    for start in range(0, len(haystack) - len(needle) + 1):
        if haystack[start: start + len(needle)] == needle:
            return start
    return None
