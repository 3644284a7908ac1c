"""The LLM back-end of the `QA` tool: a `TextGenerator` answers from the context with LUMOS's QA prompt.

LUMOS ran its QA tool on GPT-3.5 (chat completions, temperature 0). `QA_INSTRUCTION` mirrors the
wording of its prompt (allenai/lumos, `eval/hotpotqa/qa_tool.py`, `QAActions.QA`): answer from the
context with one brief entity, starting with `Answer: `, or `No answer`. LUMOS then asked again
without the context; lumos does not (a closed-book retry would let the model's memory answer
questions the corpus cannot), so `No answer` comes back as `unknown`.

Where it runs: in the env's process, not in the bounded tool worker (a model needs more memory
than the worker's 2 GiB address space, and loading it per call would take longer than any call).
The call is bounded by `reader_timeout_s` of `QAToolConfig` (`TimedReader`), not by the
executor's `tool_timeout_s`; a call that runs past it is a `ToolError` observation ("the QA
reader gave no answer within N s"), and the episode goes on. Generation is greedy, stops at the
first newline and is at most `max_new_tokens` long.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Sequence

from lumos_envs.execution.errors import ToolError
from lumos_envs.protocols import TextGenerator

QA_INSTRUCTION = (
    "Please answer the following question according to the context. Please answer with one brief "
    "entity, beginning with 'Answer: '. If the answer can't be found in the context, answer 'No answer'. "
    "No more details and explanations.\n\nQuestion: {question}\nContext: {context}\n"
)
"""the user turn (wording after LUMOS's QA tool prompt); `{question}` and `{context}` are filled in"""
TULU_WRAP = "<|user|>\n{content}\n<|assistant|>\n"
"""how the user turn is serialised for a generator without `generate_chat` (the Tulu format)"""
MAX_PROMPT_CONTEXT_CHARS = 6000
"""context characters put into the prompt"""
NO_ANSWER = "unknown"
"""what the tool returns when the model says `No answer` or says nothing"""

_ANSWER_PREFIX = re.compile(r"^\s*(?:the\s+)?answer\b(?:\s+to\s+(?:this|the)\s+question)?(?:\s+is)?\s*[:\-]?\s*", re.IGNORECASE)
"""`Answer: `, and what small models write instead (`The answer to this question is: `)"""


class LLMReader:
    """A `Reader` over a `TextGenerator` (conversations through `generate_chat` where the back-end has it).

    Args:
        generator: the back-end (`agents.backends`), or anything with `generate`.
        max_new_tokens: longest answer, in tokens.
        instruction: the user turn, with `{question}` and `{context}`.
    """

    def __init__(self, generator: TextGenerator, *, max_new_tokens: int = 32, instruction: str = QA_INSTRUCTION) -> None:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        self.generator = generator
        self.max_new_tokens = max_new_tokens
        self.instruction = instruction

    def prompt(self, contexts: Sequence[str], question: str) -> str:
        """The user turn for this question."""
        context = "\n".join(contexts)[:MAX_PROMPT_CONTEXT_CHARS]
        return self.instruction.format(context=context, question=question)

    def answer(self, contexts: Sequence[str], question: str) -> str:
        """The answer after `Answer: `, `unknown` for `No answer` or an empty generation."""
        content = self.prompt(contexts, question)
        options: dict[str, Any] = dict(max_new_tokens=self.max_new_tokens, stop=("\n",), temperature=0.0, n=1, seed=0)
        chat = getattr(self.generator, "generate_chat", None)
        if callable(chat):
            (generations,) = chat([[{"role": "user", "content": content}]], **options)
        else:
            (generations,) = self.generator.generate([TULU_WRAP.format(content=content)], **options)
        return parse_answer(generations[0].text if generations else "")


def parse_answer(text: str) -> str:
    """`Answer: Bonn.` -> `Bonn`; `The answer to this question is: "India"` -> `India`;
    `No answer` or nothing -> `unknown`."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return NO_ANSWER
    answer = _ANSWER_PREFIX.sub("", lines[0], count=1).strip().rstrip(".").strip().strip('"“”').strip()
    if not answer or answer.lower().startswith(("no answer", "unknown")):
        return NO_ANSWER
    return answer


class TimedReader:
    """A reader whose calls give up after `timeout_s` seconds (a `ToolError`, so the env goes on).

    The call runs in one background thread per `TimedReader`; Python cannot stop a thread, so a
    call that timed out finishes in the background and the next call waits for it within its own
    time limit. Readers are called one at a time, as the env calls its tools.
    """

    def __init__(self, reader: Any, timeout_s: float) -> None:
        if not timeout_s > 0:
            raise ValueError(f"reader_timeout_s must be > 0, got {timeout_s}")
        self.reader = reader
        self.timeout_s = timeout_s
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def answer(self, contexts: Sequence[str], question: str) -> str:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-reader")
            future: Future[str] = self._pool.submit(self.reader.answer, list(contexts), question)
        try:
            return future.result(timeout=self.timeout_s)
        except FutureTimeout:
            raise ToolError(f"the QA reader gave no answer within {self.timeout_s:g} s (reader_timeout_s); "
                            "try a shorter context or question") from None

    def __getstate__(self) -> dict[str, Any]:  # a thread pool does not pickle; a fresh one starts on use
        return {"reader": self.reader, "timeout_s": self.timeout_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["reader"], state["timeout_s"])  # type: ignore[misc]
