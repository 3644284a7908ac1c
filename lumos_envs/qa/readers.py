"""Which reader answers `QA(context, query)`: chosen by a string, built at the first QA call.

The QA env and the multimodal env both take `reader=`:

- `"extractive"` (default): the bundled extractive reader (`reader.py`), no LLM;
- `"llm:smollm2"`, `"llm:PATH"`: a local causal LM; `"openai:URL#MODEL"`: an OpenAI-compatible
  server. These resolve through `lumos_envs.resolvers` (filled by `agents`) and run as the LLM
  reader (`llm.py`) in the env's process, each call bounded by `reader_timeout_s`;
- a `Reader` object or a `TextGenerator` (wrapped in the LLM reader), for code and tests.

A string stays a string until the first QA call (`LazyReader`), so an env pickles without its
model and a process that never asks a question never loads one.
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

from lumos_envs.protocols import TextGenerator
from lumos_envs.qa.reader import Reader

EXTRACTIVE = "extractive"
DEFAULT_READER_TIMEOUT_S = 60.0
"""default limit of one LLM reader call, seconds (a CPU model reads a 6,000-character context in seconds)"""

ReaderArgument = str | Reader | TextGenerator
"""What `reader=` accepts."""


class LazyReader:
    """A reader named by a spec string, built on its first `answer` and kept (per env)."""

    def __init__(self, spec: str, *, timeout_s: float = DEFAULT_READER_TIMEOUT_S, device: str = "cpu") -> None:
        self.spec = spec
        self.timeout_s = timeout_s
        self.device = device
        self._reader: Reader | None = None
        self._lock = threading.Lock()

    @property
    def is_llm(self) -> bool:
        return self.spec != EXTRACTIVE

    def resolve(self) -> Reader:
        """The reader itself (loading its model on the first call)."""
        with self._lock:
            if self._reader is None:
                self._reader = _build(self.spec, self.timeout_s, self.device)
            return self._reader

    def answer(self, contexts: Sequence[str], question: str) -> str:
        return self.resolve().answer(contexts, question)

    def __getstate__(self) -> dict[str, Any]:  # pickles as its spec; the model is rebuilt where it is used
        return {"spec": self.spec, "timeout_s": self.timeout_s, "device": self.device}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["spec"], timeout_s=state["timeout_s"], device=state["device"])  # type: ignore[misc]


def make_reader(reader: ReaderArgument, *, timeout_s: float = DEFAULT_READER_TIMEOUT_S, device: str = "cpu") -> Reader:
    """The reader for `reader=`; a spec string is checked now and built at first use.

    Raises:
        ValueError: a string that is neither `extractive` nor `SCHEME:NAME` with a registered scheme.
        TypeError: an object that is neither a reader nor a text generator.
    """
    if not timeout_s > 0:
        raise ValueError(f"reader_timeout_s must be > 0, got {timeout_s}")
    if isinstance(reader, str):
        spec = reader.strip()
        if spec != EXTRACTIVE:
            _check_spec(spec)
        return LazyReader(spec, timeout_s=timeout_s, device=device)
    if hasattr(reader, "answer"):
        return reader  # type: ignore[return-value]
    if isinstance(reader, TextGenerator):
        from lumos_envs.qa.llm import LLMReader, TimedReader

        return TimedReader(LLMReader(reader), timeout_s)
    raise TypeError(f"reader must be 'extractive', 'llm:NAME', 'openai:URL#MODEL', a Reader or a TextGenerator, got {type(reader).__name__}")


def _check_spec(spec: str) -> None:
    from lumos_envs.resolvers import check_text_generator_spec, split_spec

    try:
        split_spec(spec)
    except ValueError:
        raise ValueError(f"reader must be 'extractive', 'llm:NAME_OR_PATH' or 'openai:URL#MODEL', got {spec!r}") from None
    check_text_generator_spec(spec)


def _build(spec: str, timeout_s: float, device: str) -> Reader:
    if spec == EXTRACTIVE:
        from lumos_envs.embedding import default_embedder
        from lumos_envs.qa.reader import ExtractiveReader

        return ExtractiveReader(default_embedder(device))
    from lumos_envs.qa.llm import LLMReader, TimedReader
    from lumos_envs.resolvers import resolve_text_generator

    return TimedReader(LLMReader(resolve_text_generator(spec)), timeout_s)
