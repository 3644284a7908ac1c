"""The observer rule for gold plans: a gold plan is one an observer of the episode could write.

Gold plans become oracle trajectories and then SFT data, so a plan that states what it has not
computed yet teaches the agent to leak the answer. `audit_gold_plan` checks one task's plan
against three rules and returns the breaches as `Leak`s (an empty list is a clean plan):

- **subgoal text** (`subgoal_result`): every number in subgoal k is known before it (below),
  and no result that subgoal k or a later one computes is stated in it: not a text result
  (`Confirm that R3 was born in Town B.` before `Town B` is found), nor a number that is only a
  cued constant and also the answer or this subgoal's own result (`there are 12 months`, when
  12 is the answer and `months ... a year` its only cue), unless the subgoal's actions type it;
- **action arguments** (`unobserved_literal`, `restated_result`), for every tool: every number
  is known; no text result that the observer has not seen yet appears in a literal (`QA(...,
  Question: Was Jo Kay born in Town B?)` before `Town B` is found); and a literal that restates
  an earlier result, a number or a text (`Question: Where was Jo Kay born?` after `R3 = Jo
  Kay`), must be that result's variable, since a fixed plan cannot know a value before it is
  computed. Exceptions: a value the task text itself writes, a cued constant (`* 10 / 100`
  after a result of 100), and SQL, whose statements name the tables that SHOW TABLES printed
  (`TEXT_RESTATING_TOOLS`). Lookup tools get more (`TOOL_ARGUMENT_RULES`): `phrase` tools
  (`KnowledgeQuery`, `Click`) need the whole literal in an earlier text, `words` tools
  (`Search`) each of its words; quoted strings (`'Aberdeen'` in SQL) are phrases for every tool;
- **final answer** (`literal_answer`): the answer is a variable some action of the plan
  assigned, never a literal (`Answer(72)`), and that action computes it: it does not type one
  number (`R2 = Calculator(84)`, `NUMBER_ECHOING_TOOLS`) nor the answer's own value, unless the
  task states that value.

**Known numbers** (`ObserverKnowledge`). A number is *stated* when the task or an earlier
observation writes it: a numeral as a whole token by value (`9` is not in `19` or `R9`;
`$1,200` is `1200`), a percent also as a fraction (`20%` -> 0.2), a number word (`NUMBER_WORDS`:
`twelve`, `twenty-five`, `five hundred`, `dozen`, `half` and `halfway` -> 2 and 1/2, `twice` -> 2,
`couples` -> 2, `a fifth` -> 5 and 1/5, `two and a half`, `two and half`, `an hour and a half` -> 1.5,
`fifty percent` -> 0.5), and a written fraction by its value too (`1/2 a gallon` -> 0.5). A constant is *cued* when the texts give a reason to type it:
`%`/`percent` -> 100 and 0.01, `both` -> 2, `time and a half` -> 1.5, `back and forth` -> 2
(`CONSTANT_CUES`, `PHRASE_CUES`), and a unit factor only for a conversion between two units the
texts name (`UNIT_CONVERSIONS`, `UNIT_FORMS`): `minutes ... hours` makes 60 and 1/60 known,
`minutes ... a day` the chain's 60, 24 and 1440, while `day`, `dollars` or `year` alone make
nothing known (no 24, 100, 12, 52 or 365). `ALWAYS_KNOWN` is just 1 (the whole, one more); 0, 2,
10, 100 and every other constant need a statement or a cue. Text matching is case-insensitive,
punctuation ignored, plurals as their singular (`'cat'` is in `cats and dogs`).

The observations come from replaying the plan through the task's env (`replay_gold_plan`,
done here with the env directly: `lumos_envs` never imports `rollouts`), or are given by hand
(`audit_gold_plan(task, observations=[...])`), which is how tests write negative cases.
`audit_task_source` audits the first N tasks of a source.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterable, Literal, Mapping, Sequence

from lumos_envs.actions import SQL_TOOL, ActionSyntaxError, Action, find_refs, is_variable, parse_actions
from lumos_envs.domains import Domain
from lumos_envs.execution.executor import FINAL_ACTION
from lumos_envs.tasks.base import GoldSubgoal, Task, TaskSource

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
    "hundred": (100,), "hundreds": (100,), "thousand": (1000,), "thousands": (1000,), "million": (10**6,),
    "dozen": (12,), "dozens": (12,), "score": (20,),
    "half": (2, Fraction(1, 2)), "halves": (2, Fraction(1, 2)), "halved": (2, Fraction(1, 2)),
    "twice": (2,), "double": (2,), "doubled": (2,), "doubles": (2,), "triple": (3,), "tripled": (3,),
    "triples": (3,), "thrice": (3,), "quadruple": (4,), "quadrupled": (4,),
    "pair": (2,), "pairs": (2,), "couple": (2,), "couples": (2,), "twins": (2,), "halfway": (2, Fraction(1, 2)),
    **{word: (n, Fraction(1, n)) for n, forms in (
        (3, ("third", "thirds")), (4, ("quarter", "quarters", "fourth", "fourths")), (5, ("fifth", "fifths")),
        (6, ("sixth", "sixths")), (7, ("seventh", "sevenths")), (8, ("eighth", "eighths")),
        (9, ("ninth", "ninths")), (10, ("tenth", "tenths")), (12, ("twelfth", "twelfths")),
        (100, ("hundredth", "hundredths")),
    ) for word in forms},
}
"""words that write a number (`twelve`, `dozen`; `half` -> 2 and 1/2, `twice` -> 2, `a fifth` ->
5 and 1/5): what they say is *stated*, like a numeral"""

CONSTANT_CUES: Mapping[str, tuple[int | Fraction, ...]] = {
    "%": (100, Fraction(1, 100)), "percent": (100, Fraction(1, 100)), "percentage": (100, Fraction(1, 100)),
    "percentages": (100, Fraction(1, 100)), "both": (2,),
}
"""words that let an observer type a constant they do not write: a percent is a hundredth
(`R1 * 100`, `20 * 0.01`), `both` is two of something"""

PHRASE_CUES: Mapping[str, tuple[int | Fraction, ...]] = {
    "time and a half": (Fraction(3, 2),), "round trip": (2,), "back and forth": (2,),
    "there and back": (2,), "each way": (2,),
}
"""phrases that cue a constant (`time and a half` -> 1.5, `back and forth` -> 2 legs)"""

UNIT_CONVERSIONS: tuple[tuple[str, str, int], ...] = (
    ("second", "minute", 60), ("minute", "hour", 60), ("hour", "day", 24), ("day", "week", 7),
    ("day", "month", 30), ("week", "month", 4), ("day", "year", 365), ("week", "year", 52),
    ("month", "year", 12), ("year", "decade", 10), ("year", "century", 100),
    ("inch", "foot", 12), ("foot", "yard", 3), ("foot", "mile", 5280),
    ("millimeter", "centimeter", 10), ("centimeter", "meter", 100), ("meter", "kilometer", 1000),
    ("ounce", "pound", 16), ("pound", "ton", 2000), ("gram", "kilogram", 1000), ("milliliter", "liter", 1000),
    ("cup", "pint", 2), ("pint", "quart", 2), ("quart", "gallon", 4), ("cup", "quart", 4), ("cup", "gallon", 16),
    ("cent", "dollar", 100), ("cent", "nickel", 5), ("cent", "dime", 10), ("cent", "quarter", 25),
    ("nickel", "dollar", 20), ("dime", "dollar", 10), ("quarter", "dollar", 4),
)
"""standard conversions (smaller unit, larger unit, how many smaller units make one larger one);
GSM8K's conventions included (30 days and 4 weeks to a month)"""

UNIT_FORMS: Mapping[str, tuple[str, ...]] = {
    **{form: (unit,) for unit, forms in (
        ("second", ("second", "seconds", "sec", "secs")), ("minute", ("minute", "minutes", "min", "mins")),
        ("hour", ("hour", "hours", "hr", "hrs", "hourly")), ("day", ("day", "days", "daily")),
        ("week", ("week", "weeks", "weekly")), ("month", ("month", "months", "monthly")),
        ("year", ("year", "years", "yearly", "annual", "annually")), ("decade", ("decade", "decades")),
        ("century", ("century", "centuries")), ("inch", ("inch", "inches")), ("foot", ("foot", "feet", "ft")),
        ("yard", ("yard", "yards")), ("mile", ("mile", "miles")),
        ("millimeter", ("millimeter", "millimeters", "millimetre", "millimetres", "mm")),
        ("centimeter", ("centimeter", "centimeters", "centimetre", "centimetres", "cm")),
        ("meter", ("meter", "meters", "metre", "metres")),
        ("kilometer", ("kilometer", "kilometers", "kilometre", "kilometres", "km")),
        ("ounce", ("ounce", "ounces", "oz")), ("pound", ("pound", "pounds", "lb", "lbs")), ("ton", ("ton", "tons")),
        ("gram", ("gram", "grams")), ("kilogram", ("kilogram", "kilograms", "kg", "kilo", "kilos")),
        ("milliliter", ("milliliter", "milliliters", "millilitre", "millilitres", "ml")),
        ("liter", ("liter", "liters", "litre", "litres")), ("cup", ("cup", "cups")), ("pint", ("pint", "pints")),
        ("quart", ("quart", "quarts")), ("gallon", ("gallon", "gallons")),
        ("cent", ("cent", "cents", "penny", "pennies", "\u00a2")), ("nickel", ("nickel", "nickels")),
        ("dime", ("dime", "dimes")), ("quarter", ("quarter", "quarters")),
        ("dollar", ("dollar", "dollars", "$")),
    ) for form in forms},
    "mph": ("mile", "hour"), "kph": ("kilometer", "hour"),
    **{day: ("day", "week") for name in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                                          "sunday", "weekday", "weekend") for day in (name, f"{name}s")},
    **{month: ("month",) for month in ("january", "february", "april", "june", "july", "august", "september",
                                       "october", "november", "december")},
}
"""how texts name the units of `UNIT_CONVERSIONS`: a rate such as `mph` names two, a weekday
(`Saturdays`, `weekends`) names days of a week, a month's name a month (`may` and `march` are
left out, as are one-letter abbreviations such as `m`, `g`, `l`: they are too often something else)"""

SHORT_UNIT_FORMS: Mapping[str, str] = {"m": "meter", "g": "gram", "l": "liter"}
"""one-letter unit abbreviations, counted only right after a number (`125 g`, `2 m`)"""

ALWAYS_KNOWN: frozenset[Fraction] = frozenset((Fraction(1),))
"""the one constant an observer may type with no cue: the whole (`1 - R2`), one more or fewer
(`R1 + 1`); every other number must be stated, observed, or cued (`CONSTANT_CUES`,
`PHRASE_CUES`, a conversion between two units the texts name)"""

_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![0-9])|(?<![A-Za-z0-9_.])\.\d+(?![0-9])")
_PERCENT = re.compile(r"(?<![A-Za-z0-9_.])(\d[\d,]*(?:\.\d+)?|\.\d+)\s*(?:%|percent\b)", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+|%")
_QUOTED = re.compile(r"'([^']+)'|\"([^\"]+)\"")
_RESULT_PART = re.compile(r"(?:^|;\s)(R\d+)\s=\s")
_FRACTION = re.compile(r"-?(\d+)/(\d+)")
_TENS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
_UNITS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen"
_COMPOUND_NUMBER = re.compile(
    rf"\b(?:(?P<tens>{_TENS})[- ])?(?P<units>{_UNITS}|{_TENS}|\d+)(?:\s+(?P<scale>hundred|thousand|million))?\b"
)
_AND_A_HALF = re.compile(r"\b([a-z]+|\d+) and (?:a )?half\b")
_ONE_AND_A_HALF = re.compile(r"\ban? [a-z]+ and (?:a )?half\b")
_WRITTEN_FRACTION = re.compile(r"(?<![\d/.,])(\d+)/([1-9]\d*)(?![\d/])")
_WORD_PERCENT = re.compile(rf"\b(?:(?P<tens>{_TENS})[- ])?(?P<units>{_UNITS}|{_TENS}|hundred)\s*(?:%|percent\b)")
_SHORT_UNIT = re.compile(r"(?<=\d)\s?([mgl])\b")
_UNIT_TOKEN = re.compile(r"[a-z]+|[$\u00a2]")


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
    return list(_number_spans(text))


@functools.lru_cache(maxsize=1 << 16)
def _number_spans(text: str) -> tuple[tuple[str, Fraction, int, int], ...]:
    return tuple((m.group(), Fraction(m.group().replace(",", "")), m.start(), m.end()) for m in _NUMBER.finditer(text))


def known_numbers(text: str) -> set[Fraction]:
    """Every number an observer of `text` knows: its numbers (percents as fractions too), the
    values of its number words (`NUMBER_WORDS`) and the constants it cues (`CONSTANT_CUES`,
    `PHRASE_CUES`, conversions between two units it names); `ALWAYS_KNOWN` is not added."""
    known = ObserverKnowledge()
    known.add(text)
    return known.stated | known.cued


class ObserverKnowledge:
    """What an observer has seen so far: numbers, normalised texts, words and units.

    A number is *stated* when a text writes it (a numeral, a percent, a number word) and *cued*
    when a text makes it a constant anyone may type (`%` -> 100 and 0.01, `both` -> 2, `time
    and a half` -> 1.5, 60 once the texts name both minutes and hours). Unit constants need
    both units: `day` alone makes 24 known no more than `dollars` makes 100; `hours ... a day`
    does, and so do the steps of a chained conversion (`minutes ... a day`: 60, 24 and 1440).
    """

    def __init__(self) -> None:
        self.stated: set[Fraction] = set()
        self.cued: set[Fraction] = set()
        self.texts: list[str] = []
        self.words: set[str] = set()
        self.units: set[str] = set()

    def add(self, text: str) -> None:
        facts = _text_facts(text)
        self.stated |= facts.stated
        self.cued |= facts.cued
        self.words |= facts.words
        if not facts.units <= self.units:
            self.units |= facts.units
            self.cued |= _conversion_constants(frozenset(self.units))
        self.texts.append(facts.stemmed)

    def has_number(self, value: Fraction) -> bool:
        """Whether an observer may write `value`: stated, cued or `ALWAYS_KNOWN`."""
        return value in self.stated or value in self.cued or value in ALWAYS_KNOWN

    def states(self, value: Fraction) -> bool:
        """Whether a text wrote `value` (a cued constant is not stated: it can be a result)."""
        return value in self.stated

    def has_phrase(self, phrase: str) -> bool:
        needle = _stemmed(phrase.strip().strip("%"))  # `'%computer%'`: SQL wildcards are not words
        return not needle or any(f" {needle} " in f" {text} " for text in self.texts)


@dataclass(frozen=True)
class _TextFacts:
    """What one text tells an observer, on its own (`ObserverKnowledge.add` merges these)."""

    stated: frozenset[Fraction]
    cued: frozenset[Fraction]
    """constants its words and phrases cue (unit factors need the units of every text, so they
    are worked out when the texts are merged)"""
    words: frozenset[str]
    units: frozenset[str]
    stemmed: str


_WORD_VALUES = {word: tuple(Fraction(n) for n in values) for word, values in NUMBER_WORDS.items()}
_CUE_VALUES = {word: tuple(Fraction(n) for n in values) for word, values in CONSTANT_CUES.items()}
_PHRASE_VALUES = {phrase: tuple(Fraction(n) for n in values) for phrase, values in PHRASE_CUES.items()}


@functools.lru_cache(maxsize=1 << 16)
def _text_facts(text: str) -> _TextFacts:
    """`_TextFacts` of a text, cached: the question is read by the converter and twice by the
    audit, and observations such as `R1 = 24` repeat across a dataset's plans."""
    stated: set[Fraction] = {value for _, value in numbers_in(text)}
    # `10%` and `10 percent` make 0.1 known too
    stated.update(Fraction(m.group(1).replace(",", "")) / 100 for m in _PERCENT.finditer(text))
    cued: set[Fraction] = set()
    words: set[str] = set()
    lowered = text.lower()
    for word in _WORD.findall(lowered):
        words.add(_stem(word))
        stated.update(_WORD_VALUES.get(word, ()))
        cued.update(_CUE_VALUES.get(word, ()))
    for match in _COMPOUND_NUMBER.finditer(lowered):  # `twenty-five`, `five hundred`, `3 thousand`
        tens, units, scale = match.group("tens"), match.group("units"), match.group("scale")
        value = (NUMBER_WORDS[tens][0] if tens else 0) + (
            (NUMBER_WORDS[units][0] if units in NUMBER_WORDS else int(units)) if units else 0)
        stated.add(Fraction(value * NUMBER_WORDS[scale][0] if scale else value))
    for match in _AND_A_HALF.finditer(lowered):  # `two and a half`, `3 and a half` -> 2.5, 3.5
        head = match.group(1)
        whole = Fraction(head) if head.isdigit() else Fraction(NUMBER_WORDS[head][0]) if head in NUMBER_WORDS else None
        if whole is not None:
            stated.add(whole + Fraction(1, 2))
    if _ONE_AND_A_HALF.search(lowered):  # `an hour and a half`, `a pound and half` -> 1.5
        stated.add(Fraction(3, 2))
    # `1/2 a gallon` -> 0.5: a fraction the text writes, as `20%` is 0.2
    stated.update(Fraction(int(m.group(1)), int(m.group(2))) for m in _WRITTEN_FRACTION.finditer(text))
    for match in _WORD_PERCENT.finditer(lowered):  # `fifty percent` -> 0.5, as `50 percent` is
        tens, units = match.group("tens"), match.group("units")
        stated.add(Fraction((NUMBER_WORDS[tens][0] if tens else 0) + NUMBER_WORDS[units][0], 100))
    normalised = f" {_normalise(text)} "
    for phrase, values in _PHRASE_VALUES.items():
        if f" {phrase} " in normalised:
            cued.update(values)
    units = {unit for token in _UNIT_TOKEN.findall(lowered) for unit in UNIT_FORMS.get(token, ())}
    units.update(SHORT_UNIT_FORMS[m.group(1)] for m in _SHORT_UNIT.finditer(lowered))
    return _TextFacts(frozenset(stated), frozenset(cued), frozenset(words), frozenset(units), _stemmed(text))


@dataclass(frozen=True)
class _Result:
    """One value the plan computes, and the subgoal (1-based) whose observation shows it."""

    name: str
    value: str
    subgoal: int
    number: Fraction | None
    """the value when it is one number"""
    phrase: str | None
    """the normalised value when it is a short text (`Jo Kay`), the kind a literal can restate"""


class _Auditor:
    def __init__(self, task: Task, trace: ReplayTrace, rules: Mapping[str, ArgumentRule]) -> None:
        assert task.plan is not None
        self.task, self.plan, self.trace, self.rules = task, task.plan, trace, rules
        self.task_known = ObserverKnowledge()
        self.task_known.add(trace.task_text or task.question)
        self.results = self._results()
        self.answer = next((r for r in self.results if r.name == self.plan.answer.strip()), None)
        self.leaks: list[Leak] = []

    def _results(self) -> list[_Result]:
        found: list[_Result] = []
        for number, observation in enumerate(self.trace.observations, start=1):
            values = self.trace.results[number - 1] if number <= len(self.trace.results) else _parse_results(observation)
            for name, value in values.items():
                found.append(_Result(name, value, number, _one_number(value), _short_phrase(value)))
        return found

    def run(self) -> list[Leak]:
        known = ObserverKnowledge()
        known.add(self.trace.task_text or self.task.question)
        assigned: set[str] = set()
        for number, subgoal in enumerate(self.plan.subgoals, start=1):
            self._check_subgoal_text(number, subgoal, known)
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
                    self._check_action(number, action, action_text, known)
                    if self.answer is not None and self.answer.name in action.outputs:
                        self._check_answer_is_computed(number, action, action_text)
                    assigned.update(action.outputs)
            if number <= len(self.trace.observations):
                known.add(self.trace.observations[number - 1])
                for result in self.results:
                    if result.subgoal == number:
                        known.add(result.value)
        self._check_answer(self.plan.answer.strip(), assigned, f"{FINAL_ACTION}({self.plan.answer})")
        return self.leaks

    def _unseen(self, number: int) -> list[_Result]:
        """Results an observer has not seen before subgoal `number`: its own and later ones."""
        return [r for r in self.results if r.subgoal >= number]

    def _check_subgoal_text(self, number: int, subgoal: GoldSubgoal, known: ObserverKnowledge) -> None:
        text = subgoal.text
        typed = {value for action in subgoal.actions for _, value in numbers_in(_without_refs(action.split("=", 1)[-1]))}
        own = {r.number for r in self.results if r.subgoal == number and r.number is not None} - typed
        answer = self.answer.number if self.answer is not None and self.answer.subgoal >= number else None
        for raw, value in numbers_in(_without_refs(text)):
            if not known.has_number(value):
                self._leak("subgoal_result", number, text, raw)
            elif (value == answer or value in own) and not known.states(value):
                # a cued constant that is also what this subgoal (or the plan) computes, and not
                # an operand its actions type: the text states the result (`she gets 100
                # nickels` where 100 is only cued by `quarters ... nickels`)
                self._leak("subgoal_result", number, text, raw)
        for result in self._unseen(number):
            if result.phrase and not known.has_phrase(result.value) and _contains_phrase(text, result.phrase):
                self._leak("subgoal_result", number, text, result.value)

    def _check_action(self, number: int, action: Action, action_text: str, known: ObserverKnowledge) -> None:
        rule = self.rules.get(action.tool, "numbers")
        earlier = [r for r in self.results if r.subgoal < number]
        earlier_phrases = {r.phrase for r in earlier if r.phrase}
        earlier_numbers = {r.number for r in earlier if r.number is not None}
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
                self._check_text_results(number, action, action_text, piece, known, earlier_phrases)
            for quoted in _QUOTED.finditer(arg.text):
                phrase = quoted.group(1) or quoted.group(2)
                if not known.has_phrase(phrase):
                    self._leak("unobserved_literal", number, action_text, phrase)
            for raw, value in numbers_in(_without_quotes(_without_refs(arg.text))):
                if not known.has_number(value):
                    self._leak("unobserved_literal", number, action_text, raw)
                elif value in earlier_numbers and not (self.task_known.states(value) or value in self.task_known.cued):
                    # a cued constant has a reason of its own (`* 10 / 100` after a result of 100)
                    self._leak("restated_result", number, action_text, raw)

    def _check_text_results(self, number: int, action: Action, action_text: str, piece: str,
                            known: ObserverKnowledge, earlier_phrases: set[str]) -> None:
        """Text values of results inside a literal: unseen ones leak, seen ones must be variables."""
        for result in self._unseen(number):
            if result.name in action.outputs and result.phrase == _stemmed(action.arg_text):
                continue  # a tool that echoes its input (`SetEquation(x + 6 = 9)` -> `x + 6 = 9`)
            if result.phrase and not known.has_phrase(result.value) and _contains_phrase(piece, result.phrase):
                self._leak("unobserved_literal", number, action_text, result.value)
        if action.tool in TEXT_RESTATING_TOOLS or self.task_known.has_phrase(piece):
            return
        for phrase in earlier_phrases:
            if _contains_phrase(piece, phrase) and not self.task_known.has_phrase(phrase):
                self._leak("restated_result", number, action_text, piece)
                return

    def _check_answer_is_computed(self, number: int, action: Action, action_text: str) -> None:
        """The action that assigns the answer computes it: it is not one typed number, and no
        literal of it is the answer's own value unless the task states that value."""
        assert self.answer is not None
        if action.tool in NUMBER_ECHOING_TOOLS and _one_number(action.arg_text) is not None:
            self._leak("literal_answer", number, action_text, action.arg_text.strip())
            return
        value = self.answer.number
        if value is None or self.task_known.states(value):
            return
        for raw, literal in numbers_in(_without_quotes(_without_refs(action.arg_text))):
            if literal == value:
                self._leak("literal_answer", number, action_text, raw)

    def _check_answer(self, answer: str, assigned: set[str], text: str) -> None:
        if not is_variable(answer) or answer not in assigned:
            self._leak("literal_answer", None, text, answer)

    def _leak(self, rule: LeakRule, subgoal: int | None, text: str, literal: str) -> None:
        leak = Leak(self.task.id, rule, subgoal, text, literal)
        if leak not in self.leaks:
            self.leaks.append(leak)


TEXT_RESTATING_TOOLS: frozenset[str] = frozenset({SQL_TOOL})
"""tools whose literals may retype an earlier text result: a SQL statement names the tables and
columns that SHOW TABLES and DESCRIBE printed (it cannot take a variable in their place)"""

NUMBER_ECHOING_TOOLS: frozenset[str] = frozenset({"Calculator", "Define"})
"""tools that give a lone number back as it is: an answer they assign from one typed number
(`R1 = Calculator(72)`) was typed, not computed (`Count(36)` counts one item, and is computed)"""

MAX_RESULT_PHRASE_WORDS = 8
"""longest text result (in words) that the audit looks for inside literals; longer results are
pages and paragraphs, which a literal quotes from (a title, a product id), not restates"""


# ---------------------------------------------------------------------------------------------
# Helpers


@functools.lru_cache(maxsize=1 << 15)
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


def _one_number(text: str) -> Fraction | None:
    """The value of a text that is one number (`9`, `$1,200`, `2/3`), else None."""
    stripped = text.strip().lstrip("$")
    fraction = _FRACTION.fullmatch(stripped)
    if fraction:
        numerator, denominator = int(fraction.group(1)), int(fraction.group(2))
        sign = -1 if stripped.startswith("-") else 1
        return sign * Fraction(numerator, denominator) if denominator else None
    found = numbers_in(stripped)
    if len(found) == 1 and _normalise(stripped) == _normalise(found[0][0]):
        sign = -1 if stripped.startswith("-") else 1
        return sign * found[0][1]
    return None


def _short_phrase(value: str) -> str | None:
    """A text result's normalised phrase, when it is short words with a letter (`Jo Kay`)."""
    phrase = _stemmed(value)
    if len(phrase) < 3 or not re.search(r"[a-z]", phrase) or len(phrase.split()) > MAX_RESULT_PHRASE_WORDS:
        return None
    if _one_number(value) is not None:
        return None
    return phrase


@functools.lru_cache(maxsize=4096)
def _conversion_constants(units: frozenset[str]) -> frozenset[Fraction]:
    """The factors (and their reciprocals) of the conversions between any two of `units`: each
    step of the shortest chain of `UNIT_CONVERSIONS` between them, and the chain's product
    (cached: a dataset's texts name few sets of units)."""
    graph = _conversion_graph()
    constants: set[Fraction] = set()
    for start in units:
        paths: dict[str, list[Fraction]] = {start: []}
        queue = [start]
        for unit in queue:  # breadth first: the shortest chain to every reachable unit
            for following, factor in graph.get(unit, ()):
                if following not in paths:
                    paths[following] = [*paths[unit], factor]
                    queue.append(following)
        for end in units - {start}:
            steps = paths.get(end)
            if not steps:
                continue
            product = Fraction(1)
            for factor in steps:
                constants.update((factor, 1 / factor))
                product *= factor
            constants.update((product, 1 / product))
    return frozenset(constants)


@functools.lru_cache(maxsize=1)
def _conversion_graph() -> dict[str, list[tuple[str, Fraction]]]:
    graph: dict[str, list[tuple[str, Fraction]]] = {}
    for small, large, factor in UNIT_CONVERSIONS:
        graph.setdefault(small, []).append((large, Fraction(factor)))
        graph.setdefault(large, []).append((small, 1 / Fraction(factor)))
    return graph


def _contains_phrase(text: str, phrase: str) -> bool:
    return f" {phrase} " in f" {_stemmed(text)} "


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
