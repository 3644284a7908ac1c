"""The LUMOS prompt strings, spec-exact (`spec/lumos_formats.md`), and the functions that fill them.

The planner, the grounder, the SFT-record builder and the baselines build every prompt through
this module, so the strings the public LUMOS checkpoints were trained on live in one place. The
strings keep LUMOS's quirks on purpose (`Calculator` listed twice for complex QA, the space before
`\\n` after the task in grounding prompts, WebShop's action list without an Oxford comma, the
`execution`/`executed` wording that differs between turns): the checkpoints expect them.

Sources: the spec above, LUMOS's `data/process_for_train.py` (SFT conversion) and
`eval/*/run_eval.py` (inference prompts); Tulu serialisation as in open-instruct's
`encode_with_messages_format`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Literal, Mapping, Sequence

Message = dict[str, str]
"""One chat turn: `{"role": "user" | "assistant" | "system", "content": ...}`."""

# ---------------------------------------------------------------------------------------------
# planning module

PLAN_INSTRUCTION = "Please provide a reasonable subgoal-based plan to solve the given task.\n"
"""First line of every planning conversation (every domain, both formulations)."""

KEEP_PLANNING = "No, I will keep planning. "
"""Prefix of every LUMOS-I planner turn after the first (removed before grounding)."""

STOP_PLANNING = "Yes, I will stop planning."
"""The LUMOS-I planner's last turn: the agent then submits the final answer."""

SUBGOAL_SEPARATOR = "; "
"""LUMOS-O joins subgoals, and every grounder joins actions, with this."""

FeedbackStyle = Literal["result", "web", "webshop"]
"""How the planner's feedback turn reads: `result` (maths, QA, ...: `The executed result for
Subgoal k is R. Should we stop planning?`), `web` (Mind2Web: `We have already <subgoal>. Should we
stop planning?`), `webshop` (the unseen WebShop task: no `Should we stop planning?` suffix)."""


def plan_first_turn(task: str) -> str:
    """The planner's first user turn: `...plan...\\nTask: {task}; Initial Environment Description: None.`"""
    return f"{PLAN_INSTRUCTION}Task: {task}; Initial Environment Description: None."


def clean_result(result: str) -> str:
    """A result as LUMOS puts it in the feedback turn: whitespace and trailing periods stripped."""
    return str(result).strip().strip(".")


def plan_feedback_turn(index: int, result: str, style: FeedbackStyle = "result", subgoal: str = "") -> str:
    """The user turn after subgoal `index` ran.

    Args:
        index: the subgoal number k (1-based).
        result: the value of the subgoal's last action (`info["last_result"]`).
        style: see `FeedbackStyle`.
        subgoal: the subgoal text (without `Subgoal k: `), needed for the `web` style only.
    """
    if style == "web":
        text = subgoal.strip()
        text = text[:1].lower() + text[1:]
        return f"We have already {text}".strip(".").strip() + ". Should we stop planning?"
    if style == "webshop":
        # LUMOS's WebShop evaluation sends the result with no period and no question.
        return f"The executed result for Subgoal {index} is {result}".strip()
    return f"The executed result for Subgoal {index} is {clean_result(result)}".strip() + ". Should we stop planning?"


def subgoal_line(index: int, text: str) -> str:
    """`Subgoal {index}: {text}`: how a subgoal appears in planner output and grounder prompts."""
    return f"Subgoal {index}: {text.strip()}"


def iterative_plan_turn(index: int, text: str) -> str:
    """The LUMOS-I planner's assistant turn for subgoal `index` (`No, I will keep planning. ` after the first)."""
    line = subgoal_line(index, text)
    return line if index == 1 else KEEP_PLANNING + line


def onetime_plan_turn(subgoals: Sequence[str]) -> str:
    """The LUMOS-O planner's single assistant turn: all `Subgoal k: ...` joined by `; `."""
    return SUBGOAL_SEPARATOR.join(subgoal_line(i, text) for i, text in enumerate(subgoals, start=1))


_SUBGOAL = re.compile(r"Subgoal\s+(\d+)\s*:\s*")


@dataclass(frozen=True)
class PlanOutput:
    """What one planner turn said, read leniently from model text."""

    subgoals: tuple[tuple[int, str], ...] = ()
    """(index, text) pairs, text without the `Subgoal k: ` prefix"""
    stop: bool = False
    """whether the turn is (or contains) `Yes, I will stop planning.`"""
    error: str | None = None
    """why the text does not follow the LUMOS format, or None"""


def parse_plan_turn(text: str) -> PlanOutput:
    """Read a planner turn: `Subgoal k: ...` (several joined by `; ` for LUMOS-O), optionally
    prefixed by `No, I will keep planning. `, or `Yes, I will stop planning.`.

    Malformed text gives a `PlanOutput` with `error` set, never an exception.
    """
    stripped = text.strip()
    if STOP_PLANNING.rstrip(".") in stripped:
        error = None if stripped == STOP_PLANNING else f"expected exactly {STOP_PLANNING!r}"
        return PlanOutput(stop=True, error=error)
    body = stripped[len(KEEP_PLANNING.strip()) :].strip() if stripped.startswith(KEEP_PLANNING.strip()) else stripped
    matches = list(_SUBGOAL.finditer(body))
    if not matches:
        return PlanOutput(error="no 'Subgoal k: ...' found")
    subgoals = []
    for match, following in zip(matches, matches[1:] + [None]):
        end = following.start() if following is not None else len(body)
        piece = body[match.end() : end].strip()
        if piece.endswith(";"):
            piece = piece[:-1].rstrip()
        subgoals.append((int(match.group(1)), piece))
    error = None
    if matches[0].start() != 0:
        error = "text before the first 'Subgoal k:'"
    elif any(not piece for _, piece in subgoals):
        error = "empty subgoal text"
    return PlanOutput(subgoals=tuple(subgoals), error=error)


def strip_keep_planning(text: str) -> str:
    """A planner turn without `No, I will keep planning. ` (what the grounder is given)."""
    return text.split(KEEP_PLANNING.strip())[-1].strip()


# ---------------------------------------------------------------------------------------------
# grounding module

GROUND_INSTRUCTION = (
    "Please ground the given subgoal to corresponding executable actions for solving the given task. "
    "The grounded actions must be the one in available action list.\n\n"
)
"""First block of every grounder conversation."""


@dataclass(frozen=True)
class ActionBlock:
    """The action list and interface block of a grounding prompt."""

    action_list: str
    """e.g. `'Calculator', 'SetEquation', ..., and 'Define'` (without the closing period)"""
    interfaces: str
    """e.g. `Calculator(formula): Calculate the input formula; ...` (with its closing period)"""
    tool_names: frozenset[str] = frozenset()
    """the tools the block describes (used to match an env's tools to a LUMOS domain block)"""

    def render(self) -> str:
        """`The available action list is {list}.\\n{interfaces}\\n\\n`."""
        return f"The available action list is {self.action_list}.\n{self.interfaces}\n\n"


MATHS_BLOCK = ActionBlock(
    action_list="'Calculator', 'SetEquation', 'SolveEquation', 'Count', 'SolveInequality', 'Code', and 'Define'",
    interfaces=(
        "Calculator(formula): Calculate the input formula; SetEquation(equation): Set up an equation to be solved; "
        "SolveEquation(equation): Solve the previous set equation; Count(list): Count the number of elements in the "
        "given list; SolveInequality(inequality): Solve the previous set inequality; Code(pseudo_code): Generate a "
        "Python function that corresponds to the pseudo code; Define(variable/number): Define a variable or a number "
        "for latter usage."
    ),
    tool_names=frozenset({"Calculator", "SetEquation", "SolveEquation", "Count", "SolveInequality", "Code", "Define"}),
)

COMPLEX_QA_BLOCK = ActionBlock(
    action_list="'KnowledgeQuery', 'ParagraphRetrieve', 'QA', 'Calculator', and 'Code'",
    interfaces=(
        "Calculator(formula): Calculate the input formula; KnowledgeQuery(query): Capture the relevant webpages "
        "according to the query; ParagraphRetrieve(context, query): Given a query, retrieve the most relevant "
        "paragraphs from the given context; QA(context, query): Given context, answer the given query; "
        "Calculator(formula): Calculate the input formula; Code(pseudo_code): Generate a Python function that "
        "corresponds to the pseudo code."
    ),
    tool_names=frozenset({"KnowledgeQuery", "ParagraphRetrieve", "QA", "Calculator", "Code"}),
)

WEB_AGENT_BLOCK = ActionBlock(
    action_list="'CLICK', 'TYPE', 'SELECT'",
    interfaces=(
        "CLICK(Env, Query): Click the relevant html region in Env according to Query; TYPE(Env, Query, Text): Type "
        "Text into the relevant html region in Env according to Query; SELECT(Env, Query, Text): Select the value "
        "Text of the relevant selection box in Env according to Query."
    ),
    tool_names=frozenset({"CLICK", "TYPE", "SELECT"}),
)

WEBSHOP_BLOCK = ActionBlock(
    action_list="'Search', 'FeatureRetrieve', 'Pick' and 'Click'",
    interfaces=(
        "Search(Query): Search related items according to the Query; FeatureRetrieve(Feature_list, Query): Select "
        "the most relevant features from Feature_list according to Query; Pick(Item_names, Item_features, Query): "
        "Pick the most relevant item from Item_names according to Query, Item_names and Item_features; Click(Item): "
        "Click the Item to check more information."
    ),
    tool_names=frozenset({"Search", "FeatureRetrieve", "Pick", "Click"}),
)
"""As in LUMOS's WebShop evaluation (`eval/webshop/run_eval.py`)."""

LUMOS_BLOCKS: dict[str, ActionBlock] = {
    "maths": MATHS_BLOCK,
    "complex_qa": COMPLEX_QA_BLOCK,
    "web_agent": WEB_AGENT_BLOCK,
    "webshop": WEBSHOP_BLOCK,
}
"""LUMOS data domain -> its verbatim block."""

GROUNDING_WITH_RESULTS = frozenset({"complex_qa"})
"""LUMOS domains whose later grounding turns carry earlier subgoals' results (spec: complex_qa only)."""


def format_action_list(names: Sequence[str]) -> str:
    """`'A', 'B', and 'C'` (the maths/QA style); `'A'` and `'A' and 'B'` for short lists."""
    quoted = [f"'{name}'" for name in names]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def action_block_for_tools(tools: Iterable[Mapping[str, str]]) -> ActionBlock:
    """The grounding block for an env's tools (`info["tools"]`: `name` and `interface` each).

    When the tool names are exactly a LUMOS domain's, the spec's verbatim block is used (so public
    checkpoints see what they were trained on); otherwise the block is built from the interfaces in
    the same shape.
    """
    tool_list = [dict(t) for t in tools]
    names = [t["name"] for t in tool_list]
    for block in LUMOS_BLOCKS.values():
        if frozenset(names) == block.tool_names:
            return block
    interfaces = "; ".join(t["interface"].strip().rstrip(".") for t in tool_list)
    return ActionBlock(format_action_list(names), interfaces + "." if interfaces else "", frozenset(names))


def ground_first_turn(block: ActionBlock, task: str, subgoal: str | Sequence[str]) -> str:
    """The grounder's first user turn.

    Args:
        block: the action list and interfaces.
        task: the task text.
        subgoal: LUMOS-I: one subgoal line (`Subgoal k: ...`); LUMOS-O: the list of subgoal lines
            (joined by `; ` as `Subgoals to be grounded: ...`).
    """
    head = GROUND_INSTRUCTION + block.render() + f"Task: {task} \n"
    if isinstance(subgoal, str):
        return head + f"Subgoal to be grounded: {subgoal}\n"
    return head + f"Subgoals to be grounded: {SUBGOAL_SEPARATOR.join(subgoal)}\n"


def ground_later_turn(subgoal: str, results: Sequence[tuple[int, str]] | None = None) -> str:
    """A LUMOS-I grounder user turn after the first.

    Args:
        subgoal: the subgoal line (`Subgoal k: ...`).
        results: for domains in `GROUNDING_WITH_RESULTS`: (subgoal index, result) of every earlier
            subgoal, in order; None elsewhere.
    """
    if results is None:
        return f"Subgoal to be grounded: {subgoal}\n"
    text = f"Subgoal to be grounded: {subgoal} The grounding could be based on the following results:"
    for index, result in results:
        text += f" The execution result for Subgoal {index} is {result}"
    return text + "\n"


# ---------------------------------------------------------------------------------------------
# chat serialisation

TULU_EOS = "</s>"
"""End-of-turn marker after each assistant turn in the Tulu format (LLaMA's eos)."""


def tulu_prompt(messages: Sequence[Mapping[str, str]], *, add_generation_prompt: bool = True, eos: str = TULU_EOS) -> str:
    """Serialise a conversation as the LUMOS checkpoints saw it (open-instruct's Tulu format).

    `<|user|>\\n{user}\\n<|assistant|>\\n{assistant}</s>\\n<|user|>\\n...`; contents are stripped
    as open-instruct does; with `add_generation_prompt` the text ends with `<|assistant|>\\n`.
    """
    return _role_tagged(messages, assistant_end=eos + "\n", add_generation_prompt=add_generation_prompt, format_name="Tulu format")


def lumos_eval_prompt(messages: Sequence[Mapping[str, str]], *, add_generation_prompt: bool = True) -> str:
    """Serialise a conversation as LUMOS's own evaluation scripts build prompts (allenai/lumos `eval/`).

    It differs from the training format (`tulu_prompt`): an assistant turn ends with a blank line
    and no `</s>` (`<|assistant|>\\n{assistant}\\n\\n<|user|>\\n...`), and the scripts tokenise
    without special tokens, so no BOS either. Contents are stripped, as the scripts do.
    """
    return _role_tagged(messages, assistant_end="\n\n", add_generation_prompt=add_generation_prompt,
                        format_name="the LUMOS evaluation format")


def _role_tagged(messages: Sequence[Mapping[str, str]], *, assistant_end: str, add_generation_prompt: bool, format_name: str) -> str:
    """`<|role|>\\n{content}` turns, the two LUMOS serialisations differing only in how an assistant turn ends."""
    parts = []
    for message in messages:
        role, content = message["role"], str(message["content"]).strip()
        if role == "assistant":
            parts.append(f"<|assistant|>\n{content}{assistant_end}")
        elif role in ("user", "system"):
            parts.append(f"<|{role}|>\n{content}\n")
        else:
            raise ValueError(f"{format_name} supports roles system, user, assistant; got {role!r}")
    if add_generation_prompt:
        parts.append("<|assistant|>\n")
    return "".join(parts)


TULU_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|assistant|>\n' }}{% generation %}{{ message['content'] | trim }}{{ eos_token }}{% endgeneration %}{{ '\n' }}"
    "{% elif message['role'] == 'user' or message['role'] == 'system' %}"
    "{{ '<|' + message['role'] + '|>\n' + (message['content'] | trim) + '\n' }}"
    "{% else %}{{ raise_exception('unsupported role ' + message['role']) }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)
"""The Tulu format as a tokenizer chat template, with `{% generation %}` markers around assistant
text (TRL's assistant-only loss reads them); renders exactly `tulu_prompt` when eos is `</s>`."""
