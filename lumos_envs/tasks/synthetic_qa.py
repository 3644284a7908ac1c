"""Bundled multi-hop QA families (`synthetic:FAMILY`) over the fictional world, with gold LUMOS plans.

As in reasoning-gym: a config (`SyntheticQAConfig`) and a source whose item `i` comes from
`Random(f"{family}/{seed}/{i}/{attempt}")` (`base.item_rng`), so any item can be rebuilt alone and
two seeds never share an item; `part=train|validation|test` keeps a masked-question-disjoint part. The world is fixed
(`WorldConfig()`, built once per process and shared); items pick entities from it. Every hop of
a plan is LUMOS's three-action pattern `KnowledgeQuery` -> `ParagraphRetrieve` -> `QA`; later
hops refer to earlier answers by variable (`KnowledgeQuery(R3)`, `Query: Where was R3 born?`).
Each item's metadata lists its gold paragraphs (`Title-k`, one per hop) for retrieval recall.

Training families (split `train`): `qa_bridge` (2-hop), `qa_comparison` (two lookups, then QA
over the two values), `qa_yesno` (StrategyQA-like, implicit steps decided by Calculator).
Held-out families (split `heldout`) differ in question type and relation: `qa_compositional`
(3-4 hops, MuSiQue-like, through population, employer and headquarters relations never asked in
training) and `qa_difference` (numeric answers: years between two foundings).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Literal

from lumos_envs.cache import shared_state
from lumos_envs.domains import Domain
from lumos_envs.qa.corpus import Corpus
from lumos_envs.qa.world import FACT_PARAGRAPH, World, WorldConfig, build_world, render_corpus
from lumos_envs.tasks.base import GeneratedTaskSource, GoldPlan, GoldSubgoal, Task, check_part

MAX_DRAWS = 200
"""redraws an item may make to meet its constraints (distinct values to compare, ...)"""


def bundled_world() -> World:
    """The default world, built once per process."""
    return shared_state("qa_world", "default", lambda: build_world(WorldConfig()))


def bundled_corpus() -> Corpus:
    """The default world's articles (training phrasings), built once per process."""
    world = bundled_world()  # outside the loader: `shared_state` calls must not nest
    return shared_state("qa_world_corpus", "default", lambda: render_corpus(world, "train"))


# ---------------------------------------------------------------------------------------------
# Plan building


@dataclass
class QAPlanBuilder:
    """Writes LUMOS hops (KnowledgeQuery, ParagraphRetrieve, QA) and Calculator steps."""

    subgoals: list[GoldSubgoal] = field(default_factory=list)
    gold_paragraphs: list[str] = field(default_factory=list)
    next_var: int = 1

    def hop(self, subgoal: str, entity: str, question: str, gold_paragraph: str) -> str:
        """One lookup; `entity` and `question` may hold variables. Returns the answer variable."""
        page, paragraph, answer = (self._var() for _ in range(3))
        self.subgoals.append(GoldSubgoal(subgoal, (
            f"{page} = KnowledgeQuery({entity})",
            f"{paragraph} = ParagraphRetrieve({page}, Query: {question})",
            f"{answer} = QA([{paragraph}], Question: {question})",
        )))
        self.gold_paragraphs.append(gold_paragraph)
        return answer

    def step(self, subgoal: str, tool: str, argument: str) -> str:
        var = self._var()
        self.subgoals.append(GoldSubgoal(subgoal, (f"{var} = {tool}({argument})",)))
        return var

    def build(self, answer: str) -> GoldPlan:
        return GoldPlan(subgoals=tuple(self.subgoals), answer=answer)

    def _var(self) -> str:
        name = f"R{self.next_var}"
        self.next_var += 1
        return name


@dataclass(frozen=True)
class _Draft:
    question: str
    answer: str
    builder: QAPlanBuilder
    template: str


def _para(title: str, fact: str) -> str:
    return f"{title}-{FACT_PARAGRAPH[fact]}"


# ---------------------------------------------------------------------------------------------
# Templates (each draws entities from the world and writes question, answer and plan)


def _bridge_creator_birthplace(w: World, rng: random.Random) -> _Draft:
    title = rng.choice(sorted(w.works))
    work = w.works[title]
    b = QAPlanBuilder()
    r1 = b.hop(f"Find out who created {title}.", title, f"Who created {title}?", _para(title, "work_intro"))
    r2 = b.hop("Find out where that person was born.", r1, f"Where was {r1} born?", _para(work.creator, "birth"))
    return _Draft(f"In which city was the creator of {title} born?", w.people[work.creator].birth_city, b, "creator_birthplace")


def _bridge_event_country(w: World, rng: random.Random) -> _Draft:
    name = rng.choice(sorted(w.events))
    event = w.events[name]
    b = QAPlanBuilder()
    r1 = b.hop(f"Find out where the {name} was held.", name, f"Where was the {name} held?", _para(name, "event"))
    b.hop("Find out which country that city is in.", r1, f"In which country is {r1}?", _para(event.city, "city_intro"))
    return _Draft(f"In which country was the {name} held?", w.cities[event.city].country, b, "event_country")


def _bridge_founder_birth_year(w: World, rng: random.Random) -> _Draft:
    name = rng.choice(sorted(w.orgs))
    org = w.orgs[name]
    b = QAPlanBuilder()
    r1 = b.hop(f"Find out who founded {name}.", name, f"Who founded {name}?", _para(name, "org_founded"))
    b.hop("Find out when that person was born.", r1, f"When was {r1} born?", _para(org.founder, "birth"))
    return _Draft(f"When was the founder of {name} born?", str(w.people[org.founder].birth_year), b, "founder_birth_year")


def _pair(rng: random.Random, names: list[str], value: Callable[[str], int]) -> tuple[str, str]:
    for _ in range(MAX_DRAWS):
        first, second = rng.sample(names, 2)
        if value(first) != value(second):
            return first, second
    raise RuntimeError("could not draw two entities with different values")


def _comparison_birth(w: World, rng: random.Random) -> _Draft:
    p1, p2 = _pair(rng, sorted(w.people), lambda n: w.people[n].birth_year)
    question = f"Who was born earlier, {p1} or {p2}?"
    b = QAPlanBuilder()
    r1 = b.hop(f"Find out when {p1} was born.", p1, f"When was {p1} born?", _para(p1, "birth"))
    r2 = b.hop(f"Find out when {p2} was born.", p2, f"When was {p2} born?", _para(p2, "birth"))
    r3 = b.step("Compare the two birth years.", "QA", f"[{r1}, {r2}], Question: {question}")
    answer = p1 if w.people[p1].birth_year < w.people[p2].birth_year else p2
    return _Draft(question, answer, b, "born_earlier")


def _comparison_published(w: World, rng: random.Random) -> _Draft:
    t1, t2 = _pair(rng, sorted(w.works), lambda n: w.works[n].year)
    question = f"Which was published first, {t1} or {t2}?"
    b = QAPlanBuilder()
    r1 = b.hop(f"Find out when {t1} was first published.", t1, f"When was {t1} first published?", _para(t1, "work_year"))
    r2 = b.hop(f"Find out when {t2} was first published.", t2, f"When was {t2} first published?", _para(t2, "work_year"))
    b.step("Compare the two years.", "QA", f"[{r1}, {r2}], Question: {question}")
    answer = t1 if w.works[t1].year < w.works[t2].year else t2
    return _Draft(question, answer, b, "published_first")


def _yesno_attend(w: World, rng: random.Random) -> _Draft:
    person = rng.choice(sorted(w.people))
    event = rng.choice(sorted(w.events))
    p, e = w.people[person], w.events[event]
    b = QAPlanBuilder()
    r1 = b.hop(f"Find out when {person} was born.", person, f"When was {person} born?", _para(person, "birth"))
    r2 = b.hop(f"Find out when {person} died.", person, f"When did {person} die?", _para(person, "death"))
    r3 = b.hop(f"Find out when the {event} took place.", event, f"When was the {event} held?", _para(event, "event"))
    b.step(f"Determine whether the {event} fell within the lifetime of {person}.", "Calculator", f"({r3} - {r1}) * ({r2} - {r3}) > 0")
    answer = "yes" if p.birth_year < e.year < p.death_year else "no"
    return _Draft(f"Could {person} have seen the {event} in person?", answer, b, "attend_event")


def _yesno_org_older(w: World, rng: random.Random) -> _Draft:
    org = rng.choice(sorted(w.orgs))
    person = rng.choice(sorted(w.people))
    for _ in range(MAX_DRAWS):
        if w.orgs[org].founded != w.people[person].birth_year:
            break
        person = rng.choice(sorted(w.people))
    b = QAPlanBuilder()
    r1 = b.hop(f"Find out when {org} was founded.", org, f"When was {org} founded?", _para(org, "org_founded"))
    r2 = b.hop(f"Find out when {person} was born.", person, f"When was {person} born?", _para(person, "birth"))
    b.step(f"Determine whether {org} was founded before {person} was born.", "Calculator", f"{r1} < {r2}")
    answer = "yes" if w.orgs[org].founded < w.people[person].birth_year else "no"
    return _Draft(f"Could {person} have been born into a world that already had {org}?", answer, b, "org_older")


def _compositional_population(w: World, rng: random.Random) -> _Draft:
    title = rng.choice(sorted(w.works))
    creator = w.works[title].creator
    city = w.people[creator].birth_city
    b = QAPlanBuilder()
    r1 = b.hop(f"Find out who created {title}.", title, f"Who created {title}?", _para(title, "work_intro"))
    r2 = b.hop("Find out where that person was born.", r1, f"Where was {r1} born?", _para(creator, "birth"))
    b.hop("Find out the population of that city.", r2, f"What is the population of {r2}?", _para(city, "population"))
    return _Draft(f"How many people live in the birthplace of the creator of {title}?", str(w.cities[city].population), b,
                  "creator_birthplace_population")


def _compositional_employer_country(w: World, rng: random.Random) -> _Draft:
    title = rng.choice(sorted(w.works))
    creator = w.works[title].creator
    org = w.people[creator].employer
    city = w.orgs[org].headquarters
    b = QAPlanBuilder()
    r1 = b.hop(f"Find out who created {title}.", title, f"Who created {title}?", _para(title, "work_intro"))
    r2 = b.hop("Find out which organisation that person worked for.", r1, f"Which organisation did {r1} work for?",
               _para(creator, "employer"))
    r3 = b.hop("Find out where that organisation is headquartered.", r2, f"Where is {r2} headquartered?", _para(org, "org_intro"))
    b.hop("Find out which country that city is in.", r3, f"In which country is {r3}?", _para(city, "city_intro"))
    return _Draft(f"In which country is the headquarters of the organisation that employed the creator of {title}?",
                  w.cities[city].country, b, "creator_employer_country")


def _compositional_founder_country(w: World, rng: random.Random) -> _Draft:
    org = rng.choice(sorted(w.orgs))
    founder = w.orgs[org].founder
    city = w.people[founder].birth_city
    b = QAPlanBuilder()
    r1 = b.hop(f"Find out who founded {org}.", org, f"Who founded {org}?", _para(org, "org_founded"))
    r2 = b.hop("Find out where that person was born.", r1, f"Where was {r1} born?", _para(founder, "birth"))
    b.hop("Find out which country that city is in.", r2, f"In which country is {r2}?", _para(city, "city_intro"))
    return _Draft(f"In which country was the founder of {org} born?", w.cities[city].country, b, "founder_country")


def _difference_orgs(w: World, rng: random.Random) -> _Draft:
    o1, o2 = _pair(rng, sorted(w.orgs), lambda n: w.orgs[n].founded)
    b = QAPlanBuilder()
    r1 = b.hop(f"Find out when {o1} was founded.", o1, f"When was {o1} founded?", _para(o1, "org_founded"))
    r2 = b.hop(f"Find out when {o2} was founded.", o2, f"When was {o2} founded?", _para(o2, "org_founded"))
    r3 = b.step("Calculate the number of years between the two foundings.", "Calculator", f"abs({r2} - {r1})")
    return _Draft(f"How many years apart were {o1} and {o2} founded?", str(abs(w.orgs[o1].founded - w.orgs[o2].founded)), b,
                  "orgs_years_apart")


def _difference_city_person(w: World, rng: random.Random) -> _Draft:
    person = rng.choice(sorted(w.people))
    city = w.people[person].birth_city
    b = QAPlanBuilder()
    r1 = b.hop(f"Find out where {person} was born.", person, f"Where was {person} born?", _para(person, "birth"))
    r2 = b.hop("Find out when that city was founded.", r1, f"When was {r1} founded?", _para(city, "city_founded"))
    r3 = b.hop(f"Find out when {person} was born.", person, f"When was {person} born?", _para(person, "birth"))
    b.step("Calculate the years between the founding and the birth.", "Calculator", f"{r3} - {r2}")
    return _Draft(f"How many years after the founding of the city where {person} was born did {person} come into the world?",
                  str(w.people[person].birth_year - w.cities[city].founded), b, "city_age_at_birth")


@dataclass(frozen=True)
class QAFamilyInfo:
    """A generator family: its split, a one-line description and its templates."""

    name: str
    split: Literal["train", "heldout"]
    description: str
    templates: tuple[Callable[[World, random.Random], _Draft], ...]


QA_FAMILIES: dict[str, QAFamilyInfo] = {
    info.name: info
    for info in (
        QAFamilyInfo("qa_bridge", "train", "2-hop bridge questions (creator's birthplace, event's country, founder's birth year)",
                     (_bridge_creator_birthplace, _bridge_event_country, _bridge_founder_birth_year)),
        QAFamilyInfo("qa_comparison", "train", "which of two entities comes first (birth years, publication years)",
                     (_comparison_birth, _comparison_published)),
        QAFamilyInfo("qa_yesno", "train", "StrategyQA-like yes/no questions with implicit steps, decided by Calculator",
                     (_yesno_attend, _yesno_org_older)),
        QAFamilyInfo("qa_compositional", "heldout", "3-4 hop MuSiQue-like chains through population, employer, headquarters",
                     (_compositional_population, _compositional_employer_country, _compositional_founder_country)),
        QAFamilyInfo("qa_difference", "heldout", "numeric answers: years between two dates found by lookups",
                     (_difference_orgs, _difference_city_person)),
    )
}
"""family name -> its split, description and templates"""

FAMILIES = QA_FAMILIES
"""the name `tasks/registry.py` reads"""


@dataclass(frozen=True)
class SyntheticQAConfig:
    """Settings for one generated QA family."""

    family: str = "qa_bridge"
    """a key of `QA_FAMILIES`"""
    size: int = 200
    """number of tasks the source reports"""
    seed: int = 0
    """item i is built from Random(f"{family}/{seed}/{i}/{attempt}")"""
    part: str = "all"
    """`train`, `validation` or `test` (parts share no masked question), or `all` draws"""

    def __post_init__(self) -> None:
        if self.family not in QA_FAMILIES:
            raise ValueError(f"unknown QA family {self.family!r}; known: {', '.join(QA_FAMILIES)}")
        check_part(self.family, self.part)
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"size must be an integer >= 1, got {self.size!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")


class SyntheticQASource(GeneratedTaskSource):
    """A lazily built task source for one family over the bundled world; exposes `corpus`."""

    def __init__(self, config: SyntheticQAConfig) -> None:
        super().__init__(config.family, config.size, config.seed, f"synthetic-{config.family}-", config.part)
        self.config = config
        self.info = QA_FAMILIES[config.family]

    @property
    def corpus(self) -> Corpus:
        """The document collection the questions are about (the bundled world's articles)."""
        return bundled_corpus()

    def _draw(self, rng: random.Random, index: int) -> Task:
        draft = rng.choice(self.info.templates)(bundled_world(), rng)
        plan = draft.builder.build(draft.builder.subgoals[-1].actions[-1].split(" = ", 1)[0])
        return Task(
            id=f"{self.id_prefix}{index}",
            domain=Domain.QA,
            source=self.name,
            split=self.info.split,
            question=draft.question,
            answer=draft.answer,
            plan=plan,
            metadata={"family": self.family, "template": draft.template, "seed": self.seed, "index": index,
                      "gold_paragraphs": tuple(draft.builder.gold_paragraphs),
                      "num_hops": len(draft.builder.gold_paragraphs)},
        )


def load_synthetic_qa(family: str, size: int = 200, seed: int = 0, part: str = "all") -> SyntheticQASource:
    """The task source for `synthetic:{family}` (`?part=test` for its masked-question-disjoint test part).

    Raises:
        ValueError: for an unknown family (the message lists the known ones) or a bad size, seed or part.
    """
    return SyntheticQASource(SyntheticQAConfig(family=family, size=size, seed=seed, part=part))


load_family = load_synthetic_qa
"""the name `tasks/registry.py` calls"""


def build_item(family: str, seed: int, index: int, part: str = "all") -> Task:
    """Build item `index` of `family` for `seed` from scratch."""
    return load_synthetic_qa(family, size=index + 1, seed=seed, part=part)[index]
