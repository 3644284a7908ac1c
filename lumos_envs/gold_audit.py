"""The observer rule for gold plans: a gold plan is one an observer of the episode could write.

Gold plans become oracle trajectories and then SFT data, so a plan that states what it has not
computed yet teaches the agent to leak the answer. `audit_gold_plan` checks one task's plan
against three rules and returns the breaches as `Leak`s (an empty list is a clean plan):

- **subgoal text** (`subgoal_result`): every number in subgoal k appears in the task text or in
  an observation of subgoals 1..k-1 (`Calculate: Janet sells 16 - 3 - 4 = 9 duck eggs a day.`
  states the 9 before R1 computes it);
- **action arguments** (`unobserved_literal`, `restated_result`): every literal argument appears
  in the task text or in an earlier observation; and a literal that is exactly an earlier result
  (but not in the task text) must be written as that result's variable, since a fixed plan
  cannot know a value before it is computed (`KnowledgeQuery(Jo Kay)` after `R3 = Jo Kay`);
- **final answer** (`literal_answer`): the answer is a variable some action of the plan
  assigned, never a literal (`Answer(72)`).

Matching is domain-agnostic and works on the `Task` record plus the text of the observations:
numbers match as whole tokens by value (`9` is not in `19` or `R9`; `$1,200` is `1200`; the
number words of `NUMBER_WORDS` and the constants of `COMMON_CONSTANTS` count as known); a
tool's argument is checked by its `ArgumentRule` (`TOOL_ARGUMENT_RULES`, default `numbers`):
`phrase` tools (`KnowledgeQuery`, `Click`) need the whole literal as a substring, `words` tools
(`Search`) need each word as a whole word, case-insensitive, punctuation ignored, plurals as
their singular (`'cat'` is in `cats and dogs`). Quoted
strings (`'Aberdeen'` in SQL) are phrases under every rule.

The observations come from replaying the plan through the task's env (`replay_gold_plan`,
done here with the env directly: `lumos_envs` never imports `rollouts`), or are given by hand
(`audit_gold_plan(task, observations=[...])`), which is how tests write negative cases.
`audit_task_source` audits the first N tasks of a source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterable, Literal, Mapping, Sequence

from lumos_envs.actions import ActionSyntaxError, Action, find_refs, is_variable, parse_actions
from lumos_envs.domains import Domain
from lumos_envs.execution.executor import FINAL_ACTION
from lumos_envs.tasks.base import Task, TaskSource

LeakRule = Literal["subgoal_result", "unobserved_literal", "restated_result", "literal_answer", "unparsable_action"]
"""which rule a `Leak` breaks"""

ArgumentRule = Literal["numbers", "phrase", "words"]
"""how a tool's literal arguments are checked: numbers (and quoted strings) only, the whole
literal as a phrase, or each word as a whole word"""

TOOL_ARGUMENT_RULES: Mapping[str, ArgumentRule] = {
    "KnowledgeQuery": "phrase",
    "Click": "phrase",
    "Search": "words",
}
"""tools whose argument is a lookup key (a page title, a product id, search words); every other
tool's arguments are formulas or questions, checked for numbers and quoted strings"""

NUMBER_WORDS: Mapping[str, tuple[int | Fraction, ...]] = {
    "zero": (0,), "one": (1,), "two": (2,), "three": (3,), "four": (4,), "five": (5,), "six": (6,),
    "seven": (7,), "eight": (8,), "nine": (9,), "ten": (10,), "eleven": (11,), "twelve": (12,),
    "thirteen": (13,), "fourteen": (14,), "fifteen": (15,), "sixteen": (16,), "seventeen": (17,),
    "eighteen": (18,), "nineteen": (19,), "twenty": (20,), "thirty": (30,), "forty": (40,),
    "fifty": (50,), "sixty": (60,), "seventy": (70,), "eighty": (80,), "ninety": (90,),
    "hundred": (100,), "thousand": (1000,), "million": (10**6,), "dozen": (12,), "dozens": (12,),
    "half": (2, Fraction(1, 2)), "halves": (2, Fraction(1, 2)), "halved": (2,), "twice": (2,),
    "double": (2,), "doubled": (2,), "triple": (3,), "tripled": (3,), "thrice": (3,),
    "quarter": (4, Fraction(1, 4)), "quarters": (4, Fraction(1, 4)), "third": (3,), "thirds": (3,),
    "fourth": (4,), "fifth": (5,), "tenth": (10,), "percent": (100,), "%": (100,),
    "pair": (2,), "pairs": (2,), "couple": (2,), "week": (7,), "weeks": (7,), "hour": (60,),
    "hours": (60,), "minute": (60,), "minutes": (60,), "year": (12, 52, 365), "years": (12, 52, 365),
    "day": (24,), "days": (24,), "foot": (12,), "feet": (12,), "yard": (3,), "yards": (3,),
    "dollar": (100,), "dollars": (100,), "pound": (16,), "pounds": (16,), "gallon": (4,),
    "gallons": (4,),
}
"""words that make a number known to an observer (`half` -> 2 and 1/2, `week` -> 7 days, the
standard unit factors of the units the text names)"""

COMMON_CONSTANTS: frozenset[Fraction] = frozenset(Fraction(n) for n in (0, 1, 2, 10, 100))
"""numbers any observer may write in a formula without seeing them (`1 - R2`, `R1 / 2`, `* 100`
for a percent); subgoal text may only use `SUBGOAL_CONSTANTS`, since there `10` may be a result"""

SUBGOAL_CONSTANTS: frozenset[Fraction] = frozenset((Fraction(0), Fraction(1)))
"""numbers a subgoal text may hold without seeing them (`1/2 of the apples`, `1 time`)"""

_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![0-9])|(?<![A-Za-z0-9_.])\.\d+(?![0-9])")
_PERCENT = re.compile(r"(?<![A-Za-z0-9_.])(\d[\d,]*(?:\.\d+)?|\.\d+)\s*(?:%|percent\b)", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+|%")
_QUOTED = re.compile(r"'([^']+)'|\"([^\"]+)\"")
_RESULT_PART = re.compile(r"(?:^|;\s)(R\d+)\s=\s")


@dataclass(frozen=True)
class Leak:
    """One breach of the observer rule in a task's gold plan."""

    task_id: str
    rule: LeakRule
    subgoal: int | None
    """1-based subgoal number, or None for the final answer"""
    text: str
    """the subgoal text or action that breaks the rule"""
    literal: str
    """the number, phrase or answer that an observer could not have written"""

    def __str__(self) -> str:
        where = f"subgoal {self.subgoal}" if self.subgoal is not None else "answer"
        return f"{self.task_id}: {self.rule} in {where}: {self.literal!r} in {self.text!r}"


@dataclass(frozen=True)
class ReplayTrace:
    """What an observer of a gold-plan episode sees: the task text and one observation per subgoal."""

    task_text: str
    """the text of `Task: {task}` (plus the env's first observation where it differs)"""
    observations: tuple[str, ...]
    """observation after subgoal k (index k-1), as the env rendered it"""
    results: tuple[Mapping[str, str], ...] = ()
    """variable -> value per subgoal (`info["results"]`); parsed from the observations when empty"""
    errors: tuple[str | None, ...] = ()
    """the env's error per subgoal, None where the step ran (replay failures are not leaks)"""


# ---------------------------------------------------------------------------------------------
# Public API


def audit_gold_plan(
    task: Task,
    observations: Sequence[str] | ReplayTrace | None = None,
    *,
    env: Any = None,
    tool_rules: Mapping[str, ArgumentRule] | None = None,
) -> list[Leak]:
    """Check `task.plan` against the observer rule; an empty list means the plan is clean.

    Args:
        task: the task whose gold plan is audited (a task without a plan has no leaks).
        observations: what the env showed after each subgoal (a list of texts, hand-written in
            tests, or a `ReplayTrace`). When None, the plan is replayed through `env`.
        env: a lumos env (or a `gym.make` wrapper of one) whose task source holds `task`;
            used only when `observations` is None. None builds the domain's env over `[task]`,
            which suits tasks that need nothing beyond their own record (maths).
        tool_rules: argument rules by tool name, on top of `TOOL_ARGUMENT_RULES`.

    Returns:
        The leaks in plan order (subgoal text first, then its actions, then the answer).
    """
    if task.plan is None:
        return []
    if isinstance(observations, ReplayTrace):
        trace = observations
    elif observations is not None:
        trace = ReplayTrace(task.question, tuple(observations))
    else:
        trace = replay_gold_plan(task, env)
    rules = {**TOOL_ARGUMENT_RULES, **(tool_rules or {})}
    return _Auditor(task, trace, rules).run()


def replay_gold_plan(task: Task, env: Any = None) -> ReplayTrace:
    """Run `task`'s gold plan through an env, one step per subgoal, and record what it showed.

    Args:
        env: as in `audit_gold_plan`; it is reset with `options={"task_id": task.id}`.

    Raises:
        ValueError: if the task has no gold plan.
    """
    if task.plan is None:
        raise ValueError(f"task {task.id!r} has no gold plan to replay")
    own_env = env is None
    if own_env:
        env = make_env_for(task.domain, [task])
    try:
        first, info = env.reset(options={"task_id": task.id})
        task_text = str(info["task"]["question"])
        first_text = _observation_text(first)
        if first_text and first_text != task_text:
            task_text = f"{task_text}\n{first_text}"
        observations: list[str] = []
        results: list[dict[str, str]] = []
        errors: list[str | None] = []
        for subgoal in task.plan.subgoals:
            observation, _, terminated, truncated, info = env.step(subgoal.action_line())
            observations.append(_observation_text(observation))
            results.append({str(k): str(v) for k, v in (info.get("results") or {}).items()})
            errors.append(info.get("last_error"))
            if terminated or truncated:
                break
    finally:
        if own_env:
            env.close()
    return ReplayTrace(task_text, tuple(observations), tuple(results), tuple(errors))


def audit_task_source(
    tasks: TaskSource,
    *,
    limit: int | None = None,
    env: Any = None,
    tool_rules: Mapping[str, ArgumentRule] | None = None,
    **env_kwargs: Any,
) -> list[Leak]:
    """Audit the gold plans of the first `limit` tasks of a source (all when None).

    One env is built over the whole source (so QA corpora, WebShop catalogs and SQL databases
    come with it) unless `env` is given; `env_kwargs` go to `gym.make`.
    """
    count = len(tasks) if limit is None else min(limit, len(tasks))
    if count == 0:
        return []
    own_env = env is None
    leaks: list[Leak] = []
    try:
        for index in range(count):
            task = tasks[index]
            if task.plan is None:
                continue  # nothing to audit (and sources without plans need no env)
            if env is None:
                env = make_env_for(task.domain, tasks, **env_kwargs)
            leaks.extend(audit_gold_plan(task, env=env, tool_rules=tool_rules))
    finally:
        if own_env and env is not None:
            env.close()
    return leaks


ENV_FOR_DOMAIN: Mapping[Domain, str] = {
    Domain.MATH: "lumos/Math-v0",
    Domain.QA: "lumos/QA-v0",
    Domain.WEBSHOP: "lumos/WebShop-v0",
    Domain.MULTIMODAL: "lumos/Multimodal-v0",
    Domain.SQL: "lumos/SQL-v0",
}
"""the env that replays a domain's gold plans"""


def make_env_for(domain: Domain | str, tasks: TaskSource | Sequence[Task], **env_kwargs: Any) -> Any:
    """The domain's env over `tasks` (the unwrapped env: the audit needs no checker wrappers)."""
    import gymnasium as gym

    import lumos_envs  # noqa: F401  (registers the env ids)

    return gym.make(ENV_FOR_DOMAIN[Domain(domain)], tasks=tasks, disable_env_checker=True, **env_kwargs).unwrapped


def numbers_in(text: str) -> list[tuple[str, Fraction]]:
    """The numbers of a text as whole tokens: (as written, value); `R9`, `x2` and `19` hold no 9."""
    return [(raw, value) for raw, value, _, _ in number_spans(text)]


def number_spans(text: str) -> list[tuple[str, Fraction, int, int]]:
    """`numbers_in` with each number's start and end offsets."""
    return [(m.group(), Fraction(m.group().replace(",", "")), m.start(), m.end()) for m in _NUMBER.finditer(text)]


def known_numbers(text: str) -> set[Fraction]:
    """Every number an observer of `text` knows: its numbers, percents as fractions too, and the
    values of its number and unit words (`NUMBER_WORDS`); `COMMON_CONSTANTS` are not added (the
    audit allows them in action arguments, never in subgoal text)."""
    known = _Known()
    known.add(text)
    return set(known.numbers)


# ---------------------------------------------------------------------------------------------
# The checks


@dataclass
class _Known:
    """What an observer has seen so far: numbers, normalised text, and result values."""

    numbers: set[Fraction] = field(default_factory=set)
    texts: list[str] = field(default_factory=list)
    words: set[str] = field(default_factory=set)

    def add(self, text: str) -> None:
        self.numbers.update(value for _, value in numbers_in(text))
        # `10%` and `10 percent` make 0.1 known too
        self.numbers.update(Fraction(m.group(1).replace(",", "")) / 100 for m in _PERCENT.finditer(text))
        lowered = text.lower()
        for word in _WORD.findall(lowered):
            self.words.add(_stem(word))
            self.numbers.update(Fraction(n) for n in NUMBER_WORDS.get(word, ()))
        self.texts.append(_stemmed(text))

    def has_number(self, value: Fraction, *, constants: bool = True) -> bool:
        return value in self.numbers or value in (COMMON_CONSTANTS if constants else SUBGOAL_CONSTANTS)

    def has_phrase(self, phrase: str) -> bool:
        needle = _stemmed(phrase.strip().strip("%"))  # `'%computer%'`: SQL wildcards are not words
        return not needle or any(f" {needle} " in f" {text} " for text in self.texts)


class _Auditor:
    def __init__(self, task: Task, trace: ReplayTrace, rules: Mapping[str, ArgumentRule]) -> None:
        assert task.plan is not None
        self.task, self.plan, self.trace, self.rules = task, task.plan, trace, rules
        self.task_known = _Known()
        self.task_known.add(trace.task_text or task.question)
        self.leaks: list[Leak] = []

    def run(self) -> list[Leak]:
        known = _Known()
        known.add(self.trace.task_text or self.task.question)
        earlier_results: dict[str, str] = {}
        assigned: set[str] = set()
        for number, subgoal in enumerate(self.plan.subgoals, start=1):
            for raw, value in numbers_in(subgoal.text):
                if not known.has_number(value, constants=False):  # `10` in a subgoal may be a result
                    self._leak("subgoal_result", number, subgoal.text, raw)
            for action_text in subgoal.actions:
                try:
                    actions = parse_actions(action_text, self.task.domain)
                except ActionSyntaxError:
                    self._leak("unparsable_action", number, action_text, action_text)
                    continue
                for action in actions:
                    if action.tool == FINAL_ACTION:
                        self._check_answer(action.arg_text.strip(), assigned, action_text)
                        continue
                    self._check_action(number, action, action_text, known, earlier_results)
                    assigned.update(action.outputs)
            if number <= len(self.trace.observations):
                observation = self.trace.observations[number - 1]
                known.add(observation)
                results = self.trace.results[number - 1] if number <= len(self.trace.results) else _parse_results(observation)
                for value in results.values():
                    known.add(value)
                earlier_results.update(results)
        self._check_answer(self.plan.answer.strip(), assigned, f"{FINAL_ACTION}({self.plan.answer})")
        return self.leaks

    def _check_action(self, number: int, action: Action, action_text: str, known: _Known,
                      earlier_results: Mapping[str, str]) -> None:
        rule = self.rules.get(action.tool, "numbers")
        literal_values = {_normalise(v) for v in earlier_results.values()}
        for arg in action.args:
            for piece in _literal_pieces(arg.text):
                if rule == "phrase":
                    if not known.has_phrase(piece):
                        self._leak("unobserved_literal", number, action_text, piece)
                        continue
                elif rule == "words":
                    for word in _WORD.findall(piece.lower()):
                        if _stem(word) not in known.words and not word.replace(".", "").isdigit():
                            self._leak("unobserved_literal", number, action_text, word)
                if rule != "numbers" and _normalise(piece) in literal_values and not self.task_known.has_phrase(piece):
                    self._leak("restated_result", number, action_text, piece)
            for quoted in _QUOTED.finditer(arg.text):
                phrase = quoted.group(1) or quoted.group(2)
                if not known.has_phrase(phrase):
                    self._leak("unobserved_literal", number, action_text, phrase)
            result_numbers = _result_numbers(earlier_results)
            for raw, value in numbers_in(_without_quotes(_without_refs(arg.text))):
                if not known.has_number(value):
                    self._leak("unobserved_literal", number, action_text, raw)
                elif value in result_numbers and not self.task_known.has_number(value):
                    self._leak("restated_result", number, action_text, raw)

    def _check_answer(self, answer: str, assigned: set[str], text: str) -> None:
        if not is_variable(answer) or answer not in assigned:
            self._leak("literal_answer", None, text, answer)

    def _leak(self, rule: LeakRule, subgoal: int | None, text: str, literal: str) -> None:
        leak = Leak(self.task.id, rule, subgoal, text, literal)
        if leak not in self.leaks:
            self.leaks.append(leak)


# ---------------------------------------------------------------------------------------------
# Helpers


def _stem(word: str) -> str:
    """A plural's singular, roughly (`cats` -> `cat`, `boxes` -> `box`): `'cat'` is in `cats and dogs`."""
    if len(word) > 4 and word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _stemmed(text: str) -> str:
    return " ".join(_stem(word) for word in _normalise(text).split())


def _normalise(text: str) -> str:
    """Lower case, punctuation as spaces, single spaces: `Women's Pumps` ~ `women s pumps`."""
    return " ".join(re.sub(r"[^0-9a-z%]+", " ", text.lower()).split())


def _without_refs(text: str) -> str:
    for ref in sorted(find_refs(text), key=len, reverse=True):
        text = re.sub(rf"(?<![A-Za-z0-9_]){ref}(?![A-Za-z0-9_])", " ", text)
    return text


def _without_quotes(text: str) -> str:
    return _QUOTED.sub(" ", text)


def _literal_pieces(text: str) -> list[str]:
    """The literal parts of an argument: the text between variable references and list brackets."""
    pieces = re.split(r"(?<![A-Za-z0-9_])R\d+(?![A-Za-z0-9_])|[\[\],]", text) if find_refs(text) else [text]
    return [p.strip() for p in pieces if _normalise(p)]


def _result_numbers(results: Mapping[str, str]) -> set[Fraction]:
    """Values of results that are one number each (`R1 = 9`), the ones a plan must not retype."""
    values = set()
    for value in results.values():
        found = numbers_in(value)
        if len(found) == 1 and _normalise(value) == _normalise(found[0][0]):
            values.add(found[0][1])
    return values


def _parse_results(observation: str) -> dict[str, str]:
    """`R1 = 18; R2 = 36` -> {"R1": "18", "R2": "36"} (for hand-written observations)."""
    marks = list(_RESULT_PART.finditer(observation))
    results = {}
    for mark, following in zip(marks, [*marks[1:], None]):
        end = following.start() if following is not None else len(observation)
        results[mark.group(1)] = observation[mark.end(): end].strip()
    return results


def _observation_text(observation: Any) -> str:
    if isinstance(observation, str):
        return observation
    if isinstance(observation, Mapping):
        return str(observation.get("text", ""))
    return str(observation)


def leaks_by_rule(leaks: Iterable[Leak]) -> dict[str, int]:
    """Counts of leaks per rule (for reports)."""
    counts: dict[str, int] = {}
    for leak in leaks:
        counts[leak.rule] = counts.get(leak.rule, 0) + 1
    return counts
