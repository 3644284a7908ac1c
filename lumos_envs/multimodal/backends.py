"""VQA back-ends: who answers `VQA(image, question)` for the env.

- `learned` (default): the CNN scene parser lumos trains itself (`vqa_model.py`) plus the
  symbolic question reader (`questions.py`).
- `oracle`: reads the task's image spec; for upper bounds and tests only, never the default.
- `TransformersVQABackend`: any transformers `visual-question-answering` model the user has
  locally (`vqa_backend="transformers:/path/to/model"`), `trust_remote_code` off.

A back-end gets a `VQAQuery` (the observation-size image, the full-size image, the spec when the
image was generated) and returns the answer text, or raises `ToolError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from lumos_envs.execution.errors import ToolError
from lumos_envs.multimodal.questions import answer_question
from lumos_envs.multimodal.scene import ImageSpec


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


class TransformersVQABackend:
    """A local transformers visual-question-answering pipeline (e.g. a ViLT or BLIP folder)."""

    name = "transformers"

    def __init__(self, model_path: str, pipeline: Callable[..., Any] | None = None, device: str | int = -1) -> None:
        self.model_path = model_path
        self._pipeline = pipeline
        self.device = device

    def _pipe(self) -> Callable[..., Any]:
        if self._pipeline is None:
            from transformers import pipeline

            self._pipeline = pipeline("visual-question-answering", model=self.model_path,
                                      trust_remote_code=False, device=self.device)
        return self._pipeline

    def answer(self, query: VQAQuery) -> str:
        image = query.full_image if query.full_image is not None else Image.fromarray(query.image)
        result = self._pipe()(image=image, question=query.question, top_k=1)
        if isinstance(result, list):
            result = result[0] if result else {}
        answer = result.get("answer") if isinstance(result, dict) else None
        if not isinstance(answer, str):
            raise ToolError("the VQA model gave no answer")
        return answer.strip()


def make_vqa_backend(spec: str | VQABackend) -> VQABackend:
    """`learned`, `oracle`, `transformers:PATH`, or a back-end object passed through."""
    if not isinstance(spec, str):
        if not isinstance(spec, VQABackend):
            raise TypeError(f"vqa_backend must be a name or have answer(query), got {type(spec).__name__}")
        return spec
    if spec == "learned":
        return LearnedVQABackend()
    if spec == "oracle":
        return OracleVQABackend()
    if spec.startswith("transformers:") and len(spec) > len("transformers:"):
        return TransformersVQABackend(spec.partition(":")[2])
    raise ValueError(f"vqa_backend must be 'learned', 'oracle' or 'transformers:PATH', got {spec!r}")
