"""VQA back-ends: who answers `VQA(image, question)` for the env.

- `learned` (default): the CNN scene parser lumos trains itself (`vqa_model.py`) plus the
  symbolic question reader (`questions.py`).
- `oracle`: reads the task's image spec; for upper bounds and tests only, never the default.
- `TransformersVQABackend`: any transformers image-text-to-text model the user has locally
  (`vqa_backend="transformers:/path/to/model"`), `trust_remote_code` off; the one choice for
  real images (A-OKVQA, ScienceQA), where `learned` and `oracle` are refused. `transformers:` is
  a scheme of `lumos_envs.resolvers`, so other packages can add VQA schemes of their own.

A back-end gets a `VQAQuery` (the observation-size image, the full-size image, the spec when the
image was generated) and returns the answer text, or raises `ToolError`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from lumos_envs.execution.errors import ToolError
from lumos_envs.multimodal.questions import answer_question
from lumos_envs.multimodal.scene import ImageSpec
from lumos_envs.resolvers import check_vqa_model_spec, register_vqa_model, resolve_vqa_model, split_spec


@dataclass(frozen=True)
class VQAQuery:
    """What a VQA back-end may look at."""

    image: np.ndarray
    """uint8 (128, 128, 3): the env's image observation"""
    question: str
    full_image: Image.Image | None = None
    """the image at its own size (loaded datasets), else None"""
    spec: ImageSpec | None = None
    """the generator's description of the image (bundled tasks only)"""


@runtime_checkable
class VQABackend(Protocol):
    name: str

    def answer(self, query: VQAQuery) -> str: ...


class OracleVQABackend:
    """Answers from the image spec: perfect perception. Tests and upper bounds only."""

    name = "oracle"

    def answer(self, query: VQAQuery) -> str:
        if query.spec is None:
            raise ToolError("the oracle VQA back-end needs a generated image (it reads the scene description)")
        return answer_question(query.spec, query.question)


class LearnedVQABackend:
    """lumos's own trained scene parser + question reader; trains on first use (cached)."""

    name = "learned"

    def __init__(self, config: Any = None) -> None:
        self.config = config

    def answer(self, query: VQAQuery) -> str:
        from lumos_envs.multimodal.vqa_model import load_scene_parser

        spec = load_scene_parser(self.config).parse(query.image[None])[0]
        return answer_question(spec, query.question)


VQA_PROMPT = "{question}\nAnswer with a single word or a short phrase."
"""the text turn a transformers VQA model gets beside the image (`{question}` is filled in)"""


class TransformersVQABackend:
    """A local transformers image-text-to-text model (a folder with a processor: LLaVA, SmolVLM,
    Qwen2-VL, ...), `trust_remote_code` off, safetensors weights; loaded on the first question.

    Runs in the env's process (a model does not fit the bounded tool worker); a call is one greedy
    `generate` of at most `max_new_tokens` tokens. The processor's chat template formats the turn
    (an image part and the question); a processor without one gets `<image>` and the question.

    Args:
        model_path: the model folder (`vqa_backend="transformers:PATH"`).
        device: where the model runs (`cpu`, `cuda`, ...).
        max_new_tokens: longest answer, in tokens.
    """

    name = "transformers"

    def __init__(self, model_path: str, *, device: str = "cpu", max_new_tokens: int = 16) -> None:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        self.model_path = model_path
        self.device = device
        self.max_new_tokens = max_new_tokens
        self._model: Any = None
        self._processor: Any = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._model is None:
                from transformers import AutoModelForImageTextToText, AutoProcessor

                try:
                    self._processor = AutoProcessor.from_pretrained(self.model_path, trust_remote_code=False)
                    model = AutoModelForImageTextToText.from_pretrained(self.model_path, trust_remote_code=False,
                                                                        use_safetensors=True)
                except (OSError, ValueError) as error:
                    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                    raise ToolError(f"cannot load the VQA model {self.model_path}: {first}") from None
                self._model = model.to(self.device).eval()
            return self._model, self._processor

    def answer(self, query: VQAQuery) -> str:
        import torch

        model, processor = self._load()
        image = query.full_image if query.full_image is not None else Image.fromarray(query.image)
        question = VQA_PROMPT.format(question=query.question)
        if getattr(processor, "chat_template", None):
            messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
            text = processor.apply_chat_template(messages, add_generation_prompt=True)
        else:
            text = f"{getattr(processor, 'image_token', '<image>')}{question}"
        inputs = processor(images=image.convert("RGB"), text=text, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            output = model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        decoded = processor.batch_decode(output[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        lines = [line.strip() for line in (decoded[0] if decoded else "").splitlines() if line.strip()]
        if not lines:
            raise ToolError("the VQA model gave no answer")
        return lines[0]


class ResolvedVQABackend:
    """A VQA back-end named by a spec (`transformers:PATH`, or a scheme another package registers
    in `lumos_envs.resolvers`), built at its first question and shared per process; the env keeps
    only the string, so it pickles without a model."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.name = split_spec(spec)[0]

    def answer(self, query: VQAQuery) -> str:
        return resolve_vqa_model(self.spec).answer(query)


def make_vqa_backend(spec: str | VQABackend) -> VQABackend:
    """`learned`, `oracle`, `SCHEME:PATH` (`transformers:PATH`), or a back-end object passed through.

    Raises:
        ValueError: an unknown name or scheme (the message names the known ones).
    """
    if not isinstance(spec, str):
        if not isinstance(spec, VQABackend):
            raise TypeError(f"vqa_backend must be a name or have answer(query), got {type(spec).__name__}")
        return spec
    if spec == "learned":
        return LearnedVQABackend()
    if spec == "oracle":
        return OracleVQABackend()
    try:
        check_vqa_model_spec(spec)
    except ValueError as error:
        raise ValueError(f"vqa_backend must be 'learned', 'oracle' or 'transformers:PATH' ({error})") from None
    return ResolvedVQABackend(spec)


register_vqa_model("transformers", TransformersVQABackend, replace=True)
