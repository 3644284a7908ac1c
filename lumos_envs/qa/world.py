"""The bundled fictional world: entities, relations and encyclopedia-style articles about them.

Fictional on purpose, so no model can answer from memory. `build_world(WorldConfig)` draws
people, cities, organisations, works and events from `Random(config.seed)` with relations
(a work's creator, a person's birthplace and employer, an organisation's founder and
headquarters, an event's host city, a city's country) and numeric/date attributes (years,
populations, staff counts). Some entities get near-namesakes (`Varen Tolli` / `Varen Tolle`,
`Ostra` / `New Ostra`) whose facts differ, so retrieval must tell them apart.

`render_corpus(world, phrasing)` writes each entity as an article of several paragraphs. Every
fact has two disjoint pools of sentence patterns: `train` (the bundled corpus) and `heldout`
(never in the bundled corpus; used to check that the extractive reader reads prose instead of
matching the generator's sentences). Paragraphs also carry filler sentences with distractor
years and numbers.
"""

from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass, field
from typing import Literal

from lumos_envs.qa.corpus import Corpus, Document

Phrasing = Literal["train", "heldout"]

_ONSETS = ("b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "gr",
           "kr", "st", "th", "tr", "vel", "mor", "sal", "ost", "qu")
_VOWELS = ("a", "e", "i", "o", "u", "ae", "ia", "ou", "y")
_CODAS = ("", "", "n", "r", "l", "s", "th", "m", "nd", "rk", "x", "v")
_COUNTRIES_SUFFIX = ("ia", "mark", "land", "stan", "ora", "heim")
_OCCUPATIONS = ("painter", "novelist", "composer", "engineer", "architect", "astronomer", "poet", "botanist")
_WORK_KINDS = ("novel", "opera", "painting", "treatise", "symphony", "poem cycle")
_ORG_KINDS = (("Glassworks", "glassmaker"), ("Institute", "research institute"), ("Bank", "bank"),
              ("Shipyard", "shipbuilder"), ("Press", "publishing house"), ("Observatory", "observatory"),
              ("Conservatory", "music school"), ("Company", "trading company"))
_EVENT_KINDS = (("Festival", "festival"), ("Exhibition", "exhibition"), ("Regatta", "regatta"),
                ("Congress", "congress"), ("Fair", "trade fair"))
_ADJECTIVES = ("Silent", "Glass", "Copper", "Hollow", "Crimson", "Winter", "Drowned", "Amber", "Northern",
               "Broken", "Golden", "Pale", "Seventh", "Iron", "Quiet", "Lantern", "Salt", "Ivory")
_NOUNS = ("Orchard", "Harbour", "Lantern", "Meridian", "Garden", "Tide", "Cathedral", "Voyage", "Mirror",
          "Almanac", "Crossing", "Compass", "Tower", "Sonata", "Vineyard", "River", "Feather", "Clock")


@dataclass(frozen=True)
class WorldConfig:
    """Size and seed of a generated world."""

    seed: int = 0
    """the whole world comes from Random(seed)"""
    num_people: int = 48
    """people (a quarter of them get a near-namesake on top)"""
    num_cities: int = 18
    """cities (a quarter get a near-namesake on top)"""
    num_countries: int = 6
    """countries the cities lie in"""
    num_orgs: int = 18
    """organisations"""
    num_works: int = 36
    """creative works"""
    num_events: int = 12
    """events"""

    def __post_init__(self) -> None:
        for name in ("num_people", "num_cities", "num_countries", "num_orgs", "num_works", "num_events"):
            if getattr(self, name) < 2:
                raise ValueError(f"{name} must be >= 2, got {getattr(self, name)}")

    @classmethod
    def scaled(cls, factor: int, seed: int = 0) -> "WorldConfig":
        """A world `factor` times the default size (about 300 * factor paragraphs)."""
        base = cls()
        return cls(seed=seed, num_people=base.num_people * factor, num_cities=base.num_cities * factor,
                   num_countries=base.num_countries + factor, num_orgs=base.num_orgs * factor,
                   num_works=base.num_works * factor, num_events=base.num_events * factor)


@dataclass
class Person:
    name: str
    occupation: str
    birth_year: int
    death_year: int
    birth_city: str
    employer: str = ""


@dataclass
class City:
    name: str
    country: str
    population: int
    founded: int


@dataclass
class Organisation:
    name: str
    kind: str
    founded: int
    founder: str
    headquarters: str
    employees: int


@dataclass
class Work:
    title: str
    kind: str
    creator: str
    year: int


@dataclass
class Event:
    name: str
    kind: str
    city: str
    year: int


@dataclass
class World:
    """Entities by name; every name is unique across the world and is its article's title."""

    config: WorldConfig
    people: dict[str, Person] = field(default_factory=dict)
    cities: dict[str, City] = field(default_factory=dict)
    orgs: dict[str, Organisation] = field(default_factory=dict)
    works: dict[str, Work] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    countries: tuple[str, ...] = ()
    namesakes: dict[str, str] = field(default_factory=dict)
    """entity name -> its near-namesake's name"""


def build_world(config: WorldConfig = WorldConfig()) -> World:
    """Generate the world for a config (deterministic)."""
    rng = random.Random(config.seed)
    world = World(config=config)
    used: set[str] = set()
    world.countries = tuple(_unique_name(rng, used, lambda: _word(rng, 2).capitalize() + rng.choice(_COUNTRIES_SUFFIX))
                            for _ in range(config.num_countries))
    for _ in range(config.num_cities):
        name = _unique_name(rng, used, lambda: _word(rng, rng.choice((2, 3))).capitalize())
        world.cities[name] = City(name, rng.choice(world.countries), rng.randrange(5_000, 900_000, 10), rng.randrange(1000, 1700))
    for name in list(world.cities)[: max(1, config.num_cities // 4)]:
        twin = _unique_name(rng, used, lambda: f"{rng.choice(('New', 'Port', 'Upper'))} {name}")
        world.cities[twin] = City(twin, rng.choice(world.countries), rng.randrange(5_000, 900_000, 10), rng.randrange(1500, 1850))
        world.namesakes[name], world.namesakes[twin] = twin, name
    cities = list(world.cities)
    for _ in range(config.num_people):
        name = _unique_name(rng, used, lambda: f"{_word(rng, 2).capitalize()} {_word(rng, rng.choice((2, 3))).capitalize()}")
        world.people[name] = _person(rng, name, cities)
    for name in list(world.people)[: max(1, config.num_people // 4)]:
        first, last = name.split(" ", 1)
        twin = _unique_name(rng, used, lambda: f"{first} {last[:-1]}{rng.choice('aeiouy'.replace(last[-1], ''))}")
        world.people[twin] = _person(rng, twin, cities)
        world.namesakes[name], world.namesakes[twin] = twin, name
    people = list(world.people)
    for _ in range(config.num_orgs):
        suffix, kind = rng.choice(_ORG_KINDS)
        founder = rng.choice(people)
        base = rng.choice((founder.split(" ")[1], rng.choice(cities), _word(rng, 2).capitalize()))
        name = _unique_name(rng, used, lambda: f"{base} {suffix}" if rng.random() < 0.7 else f"{_word(rng, 2).capitalize()} {suffix}")
        born = world.people[founder].birth_year
        world.orgs[name] = Organisation(name, kind, born + rng.randrange(25, 50), founder, rng.choice(cities), rng.randrange(40, 20_000))
    orgs = list(world.orgs)
    for person in world.people.values():
        person.employer = rng.choice(orgs)
    for _ in range(config.num_works):
        if config.num_works <= len(_ADJECTIVES) * len(_NOUNS) // 4:
            title = _unique_name(rng, used, lambda: f"The {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}")
        else:  # large worlds run out of two-word titles
            title = _unique_name(rng, used, lambda: f"The {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} of {_word(rng, 2).capitalize()}")
        creator = rng.choice(people)
        born = world.people[creator].birth_year
        world.works[title] = Work(title, rng.choice(_WORK_KINDS), creator, born + rng.randrange(22, 60))
    for _ in range(config.num_events):
        suffix, kind = rng.choice(_EVENT_KINDS)
        name = _unique_name(rng, used, lambda: f"{rng.choice(_ADJECTIVES)} {_word(rng, 2).capitalize()} {suffix}")
        world.events[name] = Event(name, kind, rng.choice(cities), rng.randrange(1750, 1990))
    return world


def _person(rng: random.Random, name: str, cities: list[str]) -> Person:
    born = rng.randrange(1700, 1930)
    return Person(name, rng.choice(_OCCUPATIONS), born, born + rng.randrange(35, 90), rng.choice(cities))


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables)) + rng.choice(_CODAS)


def _unique_name(rng: random.Random, used: set[str], make) -> str:  # noqa: ANN001 - a zero-arg factory
    for _ in range(1000):
        name = make()
        if name.casefold() not in used:
            used.add(name.casefold())
            return name
    raise RuntimeError("could not draw a unique name; the world is too large for its name space")


# ---------------------------------------------------------------------------------------------
# Articles

# Each fact: (train patterns, heldout patterns). Fields are filled with str.format.
FACT_PATTERNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "intro_person": (
        ("{name} was a {occupation} from {country}.", "{name} was a {occupation} of some renown in {country}."),
        ("Remembered chiefly as a {occupation}, {name} came from {country}.", "{name} worked as a {occupation} in {country}."),
    ),
    "birth": (
        ("{name} was born in {city} in {year}.", "{name} was born in {year} in the city of {city}.",
         "Born in {city} in {year}, {name} grew up in a family of modest means."),
        ("{city} was the birthplace of {name}, who came into the world in {year}.",
         "The birth of {name} took place in {year}, in {city}."),
    ),
    "death": (
        ("{name} died in {year}.", "{name} spent the last years of life in retirement and died in {year}."),
        ("The death of {name} came in {year}.", "{name} passed away in {year}."),
    ),
    "employer": (
        ("{name} worked for {org} for many years.", "For most of a long career {name} worked at {org}."),
        ("{org} employed {name} for the greater part of a career.", "{name} joined {org} and stayed with it for decades."),
    ),
    "work_intro": (
        ("{title} is a {kind} by {creator}.", "{title} is a {kind} created by {creator}."),
        ("{creator} is credited as the author of {title}, a {kind}.", "Among the works of {creator} is the {kind} {title}."),
    ),
    "work_year": (
        ("{title} was first published in {year}.", "{title} first appeared in {year}."),
        ("The first public appearance of {title} came in {year}.", "Readers and audiences first met {title} in {year}."),
    ),
    "city_intro": (
        ("{name} is a city in {country}.", "{name} is a town in {country}."),
        ("Located in {country}, {name} is a market town.", "The city of {name} lies in {country}."),
    ),
    "population": (
        ("{name} has a population of {number}.", "At the last census {name} had {number} inhabitants."),
        ("Some {number} people live in {name}.", "The census counted {number} residents in {name}."),
    ),
    "city_founded": (
        ("{name} was founded in {year}.", "The first settlement at {name} was founded in {year}."),
        ("The town of {name} dates its charter to {year}.", "Settlers established {name} in {year}."),
    ),
    "org_intro": (
        ("{name} is a {kind} headquartered in {city}.", "{name} is a {kind} based in {city}."),
        ("The head office of {name}, a {kind}, is in {city}.", "{city} is home to the headquarters of {name}, a {kind}."),
    ),
    "org_founded": (
        ("{name} was founded in {year} by {founder}.", "{founder} founded {name} in {year}."),
        ("In {year}, {founder} established {name}.", "{name} was set up by {founder} in {year}."),
    ),
    "employees": (
        ("{name} employs about {number} people.", "{name} has a staff of around {number}."),
        ("Roughly {number} people work for {name}.", "The workforce of {name} numbers about {number}."),
    ),
    "event": (
        ("The {name} was a {kind} held in {city} in {year}.", "The {name} took place in {city} in {year}."),
        ("{city} hosted the {name}, a {kind}, in {year}.", "In {year} the {kind} known as the {name} was staged at {city}."),
    ),
}

_FILLERS = (
    "A biography published in {other_year} describes this period in detail.",
    "Local records from {other_year} mention the name only in passing.",
    "Historians still debate several details of this account.",
    "A small museum has kept letters and papers since {other_year}.",
    "Some {other_number} visitors came to a commemoration held later.",
)


def render_corpus(world: World, phrasing: Phrasing = "train") -> Corpus:
    """The world's articles as a corpus (one page per entity, titles = entity names)."""
    documents = []
    for name in sorted(_all_names(world)):
        documents.append(Document(name, tuple(render_paragraphs(world, name, phrasing))))
    return Corpus(documents, name=f"world(seed={world.config.seed}, {phrasing})")


def render_paragraphs(world: World, name: str, phrasing: Phrasing = "train") -> list[str]:
    """The paragraphs of one entity's article; paragraph k states the facts `article_facts(...)[k]`."""
    rng = random.Random(zlib.crc32(f"{world.config.seed}|{phrasing}|{name}".encode()))
    return [
        " ".join(_sentence(rng, fact, values, phrasing) for fact, values in paragraph) + _filler(rng)
        for paragraph in article_facts(world, name)
    ]


def article_facts(world: World, name: str) -> list[list[tuple[str, dict]]]:
    """Per paragraph, the facts it states as (pattern key, values)."""
    if name in world.people:
        p = world.people[name]
        country = world.cities[p.birth_city].country
        return [
            [("intro_person", {"name": name, "occupation": p.occupation, "country": country})],
            [("birth", {"name": name, "city": p.birth_city, "year": p.birth_year})],
            [("employer", {"name": name, "org": p.employer})],
            [("death", {"name": name, "year": p.death_year})],
        ]
    if name in world.works:
        w = world.works[name]
        return [
            [("work_intro", {"title": name, "kind": w.kind, "creator": w.creator})],
            [("work_year", {"title": name, "year": w.year})],
        ]
    if name in world.cities:
        c = world.cities[name]
        return [
            [("city_intro", {"name": name, "country": c.country})],
            [("city_founded", {"name": name, "year": c.founded})],
            [("population", {"name": name, "number": f"{c.population:,}"})],
        ]
    if name in world.orgs:
        o = world.orgs[name]
        return [
            [("org_intro", {"name": name, "kind": o.kind, "city": o.headquarters})],
            [("org_founded", {"name": name, "year": o.founded, "founder": o.founder})],
            [("employees", {"name": name, "number": f"{o.employees:,}"})],
        ]
    if name in world.events:
        e = world.events[name]
        return [[("event", {"name": name, "kind": e.kind, "city": e.city, "year": e.year})]]
    raise KeyError(f"no entity named {name!r} in the world")


FACT_PARAGRAPH: dict[str, int] = {
    "intro_person": 0, "birth": 1, "employer": 2, "death": 3, "work_intro": 0, "work_year": 1,
    "city_intro": 0, "city_founded": 1, "population": 2, "org_intro": 0, "org_founded": 1,
    "employees": 2, "event": 0,
}
"""pattern key -> the paragraph number that states it (the gold paragraph of a question about it)"""


def _sentence(rng: random.Random, fact: str, values: dict, phrasing: Phrasing) -> str:
    train, heldout = FACT_PATTERNS[fact]
    pattern = rng.choice(train if phrasing == "train" else heldout)
    return _capitalise(pattern.format(**values))


def _filler(rng: random.Random) -> str:
    if rng.random() < 0.35:
        return ""
    text = rng.choice(_FILLERS).format(other_year=rng.randrange(1750, 2010), other_number=f"{rng.randrange(200, 9000):,}")
    return " " + text


def _capitalise(text: str) -> str:
    text = re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", r"\1n ", text)
    return text[:1].upper() + text[1:]


def _all_names(world: World) -> list[str]:
    return [*world.people, *world.cities, *world.orgs, *world.works, *world.events]
