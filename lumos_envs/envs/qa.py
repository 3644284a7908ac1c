"""Multi-hop questions over an offline corpus with the LUMOS complex-QA actions. Registered as `lumos/QA-v0`."""

from __future__ import annotations

from typing import Any, Sequence

from lumos_envs.domains import Domain
from lumos_envs.envs.base import LumosEnv, TaskArgument
from lumos_envs.execution.tool import Tool
from lumos_envs.metrics_qa import qa_answer_metrics
from lumos_envs.qa.corpus import Corpus, load_jsonl_corpus
from lumos_envs.qa.readers import DEFAULT_READER_TIMEOUT_S, ReaderArgument, make_reader
from lumos_envs.tasks.base import Task, TaskSource


class QAEnv(LumosEnv):
    """
    ## Description
    One question per episode, answered from a document collection that the agent searches with
    LUMOS's complex-QA actions: `KnowledgeQuery(query)` (BM25 page search, returns
    `WikipediaPage(Title)` handles), `ParagraphRetrieve(context, query)` (dense MiniLM paragraph
    ranking within those pages, returns `Paragraph(Title-k)` handles), `QA(context, query)` (a
    reader answers from the paragraphs' text: the bundled extractive reader, or an LLM through the
    `TextGenerator` protocol, chosen by `reader=`), `Calculator(formula)` (arithmetic, comparisons such as `R7 < R8`
    give `True`/`False`) and `Code` (refused: lumos runs no generated code). The corpus is the bundled
    fictional world (default), the paragraphs of a HotpotQA/MuSiQue file, or a user's JSONL.

    ## Action Space
    `UnicodeText(0, 20000)`: one grounder output, one or more actions joined by `; `, e.g.
    `R1 = KnowledgeQuery(Varen Tolli); R2 = ParagraphRetrieve(R1, Query: Where was Varen Tolli born?); R3 = QA([R2], Question: Where was Varen Tolli born?)`,
    or the final `Answer(R3)`.

    ## Observation Space
    `UnicodeText(0, 200000)`: the question on reset; then this step's results
    (`R1 = WikipediaPage(Varen Tolli); R2 = Paragraph(Varen Tolli-1); R3 = Ostra`) or an error
    message saying what is wrong and how to fix it.

    ## Rewards
    0 on every step but the last. On `Answer(...)`: exact match after HotpotQA answer
    normalisation (lowercase; punctuation, articles and extra whitespace removed; `True`/`False`
    read as `yes`/`no` for yes/no questions). Truncation gives 0.

    ## Starting State
    Task `options["task_index"]` or `options["task_id"]`; otherwise one drawn with the reset seed.

    ## Episode End
    Terminates when `Answer(...)` runs; truncates after `max_steps` steps (invalid actions count).

    ## Info
    The common keys of `LumosEnv` (`task`, `tools`, `final_action`, `results`, `last_result`,
    `variables`, `invalid_action`, `last_error`, `step`; at the end `metrics` with `em` (the
    reward), `f1` (HotpotQA F1 with the yes/no rule) and `accuracy` (StrategyQA yes/no accuracy;
    equal to `em` for other answers), and `success`, `answer`; `gold` with `reveal_gold=True`).

    ## Arguments
    `tasks` (task source, list of `Task`, or spec such as `synthetic:qa_train`,
    `hotpotqa:PATH`, `musique:PATH`, `strategyqa:PATH?corpus=DOCS.jsonl`; default
    `synthetic:qa_train`), `corpus` (a `Corpus` or a JSONL path of `{"title", "text"}`; default:
    the task source's own corpus, else the bundled world), `reader` (`"extractive"` default;
    `"llm:smollm2"`, `"llm:PATH"` a local model, `"openai:URL#MODEL"` a server, resolved through
    `lumos_envs.resolvers` once `agents` is imported; or a `Reader`, or a `TextGenerator` for
    the LLM reader; strings are checked when the env is made and loaded at the first QA call),
    `reader_timeout_s=60.0` (one LLM reader call runs in this process, not in the bounded
    worker, and past this limit gives an error observation; `tool_timeout_s` does not apply to
    it), `dense=True` (MiniLM paragraph ranking, pages embedded on demand and cached on disk;
    False: BM25), `device="cpu"` (where MiniLM runs), `max_pages=2`, `max_paragraphs=2`,
    `max_steps=20`, `max_output_chars=2000`, `reveal_gold=False`.

    ## Version History
    - v0: initial version. ParagraphRetrieve ranks by the query and the paragraphs alone (it no
      longer adds the extractive reader's answer-type score) and returns 2 paragraphs by default
      (was 1); readers are chosen by string.
    """

    domain = Domain.QA
    default_tasks = "synthetic:qa_train"
    headline_metric = "em"

    def __init__(
        self,
        tasks: TaskArgument = None,
        *,
        corpus: Corpus | str | None = None,
        reader: ReaderArgument = "extractive",
        reader_timeout_s: float = DEFAULT_READER_TIMEOUT_S,
        dense: bool = True,
        device: str = "cpu",
        max_pages: int = 2,
        max_paragraphs: int = 2,
        **kwargs: Any,
    ) -> None:
        from lumos_envs.tools.qa import QAToolConfig

        self._corpus_argument = corpus
        self._tool_config = QAToolConfig(max_pages=max_pages, max_paragraphs=max_paragraphs, dense=dense,
                                         device=device, reader_timeout_s=reader_timeout_s)
        self._reader = make_reader(reader, timeout_s=reader_timeout_s, device=device)
        super().__init__(tasks, **kwargs)

    def make_tools(self) -> Sequence[Tool]:
        from lumos_envs.tools.qa import QAToolbox

        corpus = resolve_corpus(self._corpus_argument, self.tasks)
        self.toolbox = QAToolbox(corpus, self._reader, self._tool_config)
        return self.toolbox.tools()

    @property
    def corpus(self) -> Corpus:
        """The document collection the tools search."""
        return self.toolbox.corpus

    def score(self, answer: str, task: Task) -> dict[str, float]:
        return qa_answer_metrics(answer, task.answer)


def resolve_corpus(corpus: Corpus | str | None, tasks: TaskSource) -> Corpus:
    """The explicit corpus, else the task source's own (`.corpus`, also inside concatenated
    sources), else the bundled world."""
    if isinstance(corpus, Corpus):
        return corpus
    if isinstance(corpus, str):
        return load_jsonl_corpus(corpus)
    if corpus is not None:
        raise TypeError(f"corpus must be a Corpus or a JSONL path, got {type(corpus).__name__}")
    found = _source_corpus(tasks)
    if found is not None:
        return found
    if getattr(tasks, "needs_corpus", False):
        raise ValueError(
            f"{getattr(tasks, 'name', 'these tasks')} are questions without documents; give a collection with "
            "corpus=DOCS.jsonl or the task spec option ?corpus=DOCS.jsonl"
        )
    from lumos_envs.tasks.synthetic_qa import bundled_corpus

    return bundled_corpus()


def _source_corpus(tasks: TaskSource) -> Corpus | None:
    corpus = getattr(tasks, "corpus", None)
    if isinstance(corpus, Corpus):
        return corpus
    for source in getattr(tasks, "sources", ()):
        found = _source_corpus(source)
        if found is not None:
            return found
    return None
