"""The LLM back-end of the `QA` tool: a `TextGenerator` (local transformers, OpenAI-compatible,
scripted) answers from the context with a short QA prompt.

LUMOS ran its QA tool on GPT-3.5 with an instruction to answer from the given context only;
`QA_PROMPT` follows that shape in the Tulu serialisation the LUMOS checkpoints use. Generation is
greedy, one line, `max_new_tokens` long, so a call stays bounded; the generator's own timeouts
apply (the back-ends of `agents.backends` have them).
"""

from __future__ import annotations

from typing import Sequence

from lumos_envs.protocols import TextGenerator

QA_PROMPT = (
    "<|user|>\nAnswer the question based on the given context. Give only the answer: a short span "
    "(a name, a date, a number) or True/False for a yes/no question.\n\n"
    "Context: {context}\n\nQuestion: {question}\n<|assistant|>\n"
)
"""the QA prompt; `{context}` is the paragraphs' text, `{question}` the query"""
MAX_PROMPT_CONTEXT_CHARS = 6000
"""context characters put into the prompt"""


class LLMReader:
    """A `Reader` over a `TextGenerator`."""

    def __init__(self, generator: TextGenerator, *, max_new_tokens: int = 32, prompt: str = QA_PROMPT) -> None:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        self.generator = generator
        self.max_new_tokens = max_new_tokens
        self.prompt = prompt

    def answer(self, contexts: Sequence[str], question: str) -> str:
        """The first line of the generator's greedy answer, stripped."""
        context = "\n\n".join(contexts)[:MAX_PROMPT_CONTEXT_CHARS]
        prompt = self.prompt.format(context=context, question=question)
        (generations,) = self.generator.generate(
            [prompt], max_new_tokens=self.max_new_tokens, stop=("\n",), temperature=0.0, n=1, seed=0)
        text = generations[0].text if generations else ""
        return text.strip().splitlines()[0].strip() if text.strip() else ""
