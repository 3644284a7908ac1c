"""Bundled maths word-problem generators (`synthetic:FAMILY`) with exact answers and gold LUMOS plans.

Built as in reasoning-gym: a config dataclass (`SyntheticMathConfig`) and a source
(`SyntheticMathSource`) whose item `i` comes from `Random(f"{family}/{seed}/{i}/{attempt}")`
(`base.item_rng`), so any item can be rebuilt alone, in any order, on any machine, and two seeds
never share an item. Each family draws one of its templates,
fills names, items and numbers, and writes the plan with `PlanBuilder` while computing the answer
exactly with `fractions.Fraction` (numbers are drawn so answers are integers or short decimals).

Training families (split `train`) are GSM8K-like multi-step problems (`shopping_total`,
`rate_time`, `percent_change`, `sharing`), equations (`linear_equation`) and counting
(`counting`); the held-out family `svamp_like` (split `heldout`) is one- or two-step SVAMP-style
problems with distractor numbers and questions about a different quantity, sharing no template
with the training families. `MATH_FAMILIES` (also exported as `FAMILIES` for
`tasks/registry.py`) lists them; `load_synthetic_math(family, size, seed, templates, part)` builds
a source (`part=train|validation|test` for a masked-question-disjoint part, see `GeneratedTaskSource`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Literal

from lumos_envs.domains import Domain
from lumos_envs.tasks.base import GeneratedTaskSource, Task, check_part
from lumos_envs.tasks.math_plans import PlanBuilder, format_number

MAX_DRAWS = 200
"""redraws a template may make to meet its constraints (e.g. a short-decimal answer) before giving up"""

# ---------------------------------------------------------------------------------------------
# Families and templates


@dataclass(frozen=True)
class _Draft:
    """A filled template: the values for its question text, its plan, and its exact answer."""

    values: dict[str, Any]
    builder: PlanBuilder
    answer: Fraction


@dataclass(frozen=True)
class MathTemplate:
    """One question template of a family; `make` fills it from a random generator."""

    key: str
    question: str
    """`str.format` text; the fields come from `make`'s `values`"""
    make: Callable[[random.Random], _Draft]


@dataclass(frozen=True)
class MathFamilyInfo:
    """A generator family: its split, a one-line description and its templates."""

    name: str
    split: Literal["train", "heldout"]
    description: str
    templates: tuple[MathTemplate, ...]

    @property
    def template_texts(self) -> tuple[str, ...]:
        return tuple(t.question for t in self.templates)


_PEOPLE = (
    ("Ava", "she"), ("Liam", "he"), ("Maya", "she"), ("Noah", "he"), ("Zoe", "she"), ("Omar", "he"),
    ("Lena", "she"), ("Ravi", "he"), ("Sofia", "she"), ("Mateo", "he"), ("Hana", "she"), ("Kofi", "he"),
    ("Priya", "she"), ("Jonas", "he"), ("Elena", "she"), ("Tariq", "he"),
)
_OBJECT = {"she": "her", "he": "him"}
_POSSESSIVE = {"she": "her", "he": "his"}


def _person(rng: random.Random, prefix: str = "", exclude: str = "") -> dict[str, str]:
    name, pronoun = rng.choice([p for p in _PEOPLE if p[0] != exclude])
    return {
        f"{prefix}name": name,
        f"{prefix}subj": pronoun,
        f"{prefix}Subj": pronoun.capitalize(),
        f"{prefix}obj": _OBJECT[pronoun],
        f"{prefix}poss": _POSSESSIVE[pronoun],
    }


def _money(value: Fraction) -> str:
    """`$5` or `$2.50` as a question writes an amount."""
    if value.denominator == 1:
        return f"${value.numerator}"
    return f"${float(value):.2f}"


def _n(value: Fraction | int) -> str:
    return format_number(value)


def _is_short_decimal(value: Fraction, places: int = 2) -> bool:
    return (value * 10**places).denominator == 1


def _redraw(rng: random.Random, draw: Callable[[random.Random], _Draft | None]) -> _Draft:
    """Call `draw` until it returns a draft (it returns None when its numbers miss a constraint)."""
    for _ in range(MAX_DRAWS):
        draft = draw(rng)
        if draft is not None:
            return draft
    raise RuntimeError("template constraints not met within MAX_DRAWS draws")  # a bug in a template


_PRICED_ITEMS = (
    ("notebooks", (1, 6)), ("pens", (1, 3)), ("apples", (1, 2)), ("sandwiches", (4, 9)),
    ("candles", (2, 8)), ("mugs", (5, 12)), ("T-shirts", (8, 20)), ("books", (6, 18)),
    ("plants", (3, 15)), ("muffins", (2, 4)),
)
_PRICE_STEPS = (Fraction(1), Fraction(1, 2), Fraction(1, 4))


def _price(rng: random.Random, low: int, high: int) -> Fraction:
    step = rng.choice(_PRICE_STEPS)
    count = int((high - low) / step)
    return low + step * rng.randint(0, count)


def _two_items(rng: random.Random) -> tuple[tuple[str, tuple[int, int]], tuple[str, tuple[int, int]]]:
    first, second = rng.sample(_PRICED_ITEMS, 2)
    return first, second


# -- shopping_total ------------------------------------------------------------------------------


def _shopping_change(rng: random.Random) -> _Draft:
    def draw(rng: random.Random) -> _Draft | None:
        (item1, r1), (item2, r2) = _two_items(rng)
        n1, n2 = rng.randint(2, 6), rng.randint(2, 6)
        p1, p2 = _price(rng, *r1), _price(rng, *r2)
        total = n1 * p1 + n2 * p2
        bill = next((b for b in (20, 50, 100) if b > total), None)
        if bill is None:
            return None
        b = PlanBuilder()
        c1 = b.calc(f"Calculate the cost of the {item1}.", f"{n1} * {_n(p1)}")
        c2 = b.calc(f"Calculate the cost of the {item2}.", f"{n2} * {_n(p2)}")
        t = b.calc("Calculate the total cost of the purchase.", f"{c1} + {c2}")
        b.calc(f"Calculate the change from the {_money(Fraction(bill))} bill.", f"{bill} - {t}")
        values = {**_person(rng), "n1": n1, "item1": item1, "p1": _money(p1), "n2": n2, "item2": item2,
                  "p2": _money(p2), "bill": _money(Fraction(bill))}
        return _Draft(values, b, bill - total)

    return _redraw(rng, draw)


def _shopping_discount(rng: random.Random) -> _Draft:
    def draw(rng: random.Random) -> _Draft | None:
        item, (low, high) = rng.choice(_PRICED_ITEMS)
        n, p, d = rng.randint(3, 12), _price(rng, low, high), rng.choice((10, 15, 20, 25, 30, 40, 50))
        total = n * p
        discount = total * d / 100
        if not _is_short_decimal(discount):
            return None
        b = PlanBuilder()
        t = b.calc(f"Calculate the price of the {item} before the discount.", f"{n} * {_n(p)}")
        off = b.calc("Calculate the amount of the discount.", f"{t} * {d} / 100")
        b.calc("Calculate the price after the discount.", f"{t} - {off}")
        values = {**_person(rng), "item": item, "p": _money(p), "n": n, "d": d}
        return _Draft(values, b, total - discount)

    return _redraw(rng, draw)


def _shopping_tax(rng: random.Random) -> _Draft:
    def draw(rng: random.Random) -> _Draft | None:
        (item1, r1), (item2, r2) = _two_items(rng)
        n1, n2 = rng.randint(2, 5), rng.randint(2, 5)
        p1, p2 = _price(rng, *r1), _price(rng, *r2)
        tax = rng.choice((5, 8, 10, 20))
        subtotal = n1 * p1 + n2 * p2
        tax_amount = subtotal * tax / 100
        if not _is_short_decimal(tax_amount):
            return None
        b = PlanBuilder()
        c1 = b.calc(f"Calculate the cost of the {item1}.", f"{n1} * {_n(p1)}")
        c2 = b.calc(f"Calculate the cost of the {item2}.", f"{n2} * {_n(p2)}")
        s = b.calc("Calculate the bill before tax.", f"{c1} + {c2}")
        t = b.calc("Calculate the sales tax.", f"{s} * {tax} / 100")
        b.calc("Calculate the total cost including tax.", f"{s} + {t}")
        values = {**_person(rng), "n1": n1, "item1": item1, "p1": _money(p1), "n2": n2, "item2": item2,
                  "p2": _money(p2), "tax": tax}
        return _Draft(values, b, subtotal + tax_amount)

    return _redraw(rng, draw)


def _shopping_budget(rng: random.Random) -> _Draft:
    def draw(rng: random.Random) -> _Draft | None:
        item, (low, high) = rng.choice(_PRICED_ITEMS)
        p = _price(rng, low, high)
        n = rng.randint(2, 6)
        money = rng.choice((20, 30, 40, 50, 60, 80, 100))
        left = money - n * p
        if left < p:
            return None
        b = PlanBuilder()
        spent = b.calc(f"Calculate how much the {n} {item} cost.", f"{n} * {_n(p)}")
        rest = b.calc("Calculate the money left.", f"{money} - {spent}")
        b.calc(f"Calculate how many more {item} the money left can buy.", f"floor({rest} / {_n(p)})")
        values = {**_person(rng), "money": _money(Fraction(money)), "item": item, "p": _money(p), "n": n}
        return _Draft(values, b, Fraction(math.floor(left / p)))

    return _redraw(rng, draw)


# -- rate_time -----------------------------------------------------------------------------------


def _rate_two_legs(rng: random.Random) -> _Draft:
    s1, s2 = rng.choice(range(30, 75, 5)), rng.choice(range(30, 75, 5))
    h1, h2 = rng.choice((1, 2, 3, 4, Fraction(3, 2), Fraction(5, 2))), rng.randint(1, 4)
    b = PlanBuilder()
    d1 = b.calc("Calculate the distance driven in the first part of the trip.", f"{s1} * {_n(h1)}")
    d2 = b.calc("Calculate the distance driven in the second part of the trip.", f"{s2} * {h2}")
    b.calc("Calculate the total distance.", f"{d1} + {d2}")
    values = {**_person(rng), "s1": s1, "h1": _n(h1), "s2": s2, "h2": h2}
    return _Draft(values, b, s1 * Fraction(h1) + s2 * h2)


_JOBS = (("pack", "boxes"), ("paint", "fence posts"), ("type", "pages"), ("bake", "loaves of bread"),
         ("plant", "seedlings"), ("sew", "buttons"))


def _rate_work_days(rng: random.Random) -> _Draft:
    verb, things = rng.choice(_JOBS)
    r, h, d = rng.randint(3, 25), rng.randint(2, 8), rng.randint(2, 6)
    b = PlanBuilder()
    per_day = b.calc(f"Calculate how many {things} are done in one day.", f"{r} * {h}")
    b.calc(f"Calculate how many {things} are done in {d} days.", f"{per_day} * {d}")
    values = {**_person(rng), "verb": verb, "things": things, "r": r, "h": h, "d": d}
    return _Draft(values, b, Fraction(r * h * d))


def _rate_two_pipes(rng: random.Random) -> _Draft:
    r1, r2 = rng.randint(2, 15), rng.randint(2, 15)
    minutes = rng.randint(4, 30)
    volume = (r1 + r2) * minutes
    b = PlanBuilder()
    both = b.calc("Calculate how many liters both pipes fill per minute.", f"{r1} + {r2}")
    b.calc("Calculate the time needed to fill the tank.", f"{volume} / {both}")
    values = {"r1": r1, "r2": r2, "volume": volume}
    return _Draft(values, b, Fraction(minutes))


def _rate_weekly_wage(rng: random.Random) -> _Draft:
    w = rng.choice((Fraction(9), Fraction(12), Fraction(25, 2), Fraction(15), Fraction(18), Fraction(41, 2)))
    h, d, h2 = rng.randint(3, 8), rng.randint(2, 5), rng.randint(2, 6)
    b = PlanBuilder()
    weekday = b.calc("Calculate the hours worked on weekdays.", f"{h} * {d}")
    hours = b.calc("Calculate the total hours worked in the week.", f"{weekday} + {h2}")
    b.calc("Calculate the earnings for the week.", f"{hours} * {_n(w)}")
    values = {**_person(rng), "w": _money(w), "h": h, "d": d, "h2": h2}
    return _Draft(values, b, (h * d + h2) * w)


def _rate_same_speed(rng: random.Random) -> _Draft:
    speed = rng.choice(range(40, 125, 5))
    h, h2 = rng.randint(2, 6), rng.randint(2, 9)
    b = PlanBuilder()
    v = b.calc("Calculate the speed of the train.", f"{speed * h} / {h}")
    b.calc("Calculate the time needed for the longer trip.", f"{speed * h2} / {v}")
    values = {"distance": speed * h, "h": h, "distance2": speed * h2}
    return _Draft(values, b, Fraction(h2))


# -- percent_change ------------------------------------------------------------------------------


def _percent_up_down(rng: random.Random) -> _Draft:
    def draw(rng: random.Random) -> _Draft | None:
        item = rng.choice(("bicycle", "jacket", "lamp", "backpack", "guitar", "printer"))
        p = Fraction(rng.choice(range(20, 401, 20)))
        a, d = rng.choice((10, 20, 25, 50)), rng.choice((10, 20, 25, 40))
        raised = p + p * a / 100
        final = raised - raised * d / 100
        if not _is_short_decimal(final):
            return None
        b = PlanBuilder()
        up = b.calc("Calculate the amount of the price increase.", f"{_n(p)} * {a} / 100")
        new = b.calc("Calculate the price after the increase.", f"{_n(p)} + {up}")
        down = b.calc("Calculate the amount of the price decrease.", f"{new} * {d} / 100")
        b.calc("Calculate the final price.", f"{new} - {down}")
        return _Draft({"item": item, "p": _money(p), "a": a, "d": d}, b, final)

    return _redraw(rng, draw)


def _percent_growth(rng: random.Random) -> _Draft:
    def draw(rng: random.Random) -> _Draft | None:
        n = rng.choice(range(400, 20001, 400))
        a, g = rng.choice((5, 10, 20, 25, 50)), rng.choice((5, 10, 20, 25))
        year1 = Fraction(n * (100 + a), 100)
        year2 = year1 * (100 + g) / 100
        if year2.denominator != 1:
            return None
        b = PlanBuilder()
        r1 = b.calc("Calculate the population after the first year.", f"{n} * (100 + {a}) / 100")
        b.calc("Calculate the population after the second year.", f"{r1} * (100 + {g}) / 100")
        return _Draft({"n": n, "a": a, "g": g}, b, year2)

    return _redraw(rng, draw)


def _percent_increase_of(rng: random.Random) -> _Draft:
    x = rng.choice(range(20, 201, 20))
    k = rng.choice((10, 15, 20, 25, 30, 40, 50, 75))
    y = x + x * k // 100
    b = PlanBuilder()
    diff = b.calc("Calculate the increase in points.", f"{y} - {x}")
    b.calc("Calculate the increase as a percent of last season's points.", f"{diff} / {x} * 100")
    return _Draft({**_person(rng), "x": x, "y": y}, b, Fraction(k))


def _percent_wrong(rng: random.Random) -> _Draft:
    t = rng.choice((20, 25, 40, 50, 80))
    wrong = rng.randint(1, t // 2)
    b = PlanBuilder()
    w = b.calc("Calculate the number of questions answered wrong.", f"{t} - {t - wrong}")
    b.calc("Calculate the percent of questions answered wrong.", f"{w} / {t} * 100")
    return _Draft({**_person(rng), "c": t - wrong, "t": t}, b, Fraction(wrong * 100, t))


# -- sharing -------------------------------------------------------------------------------------

_SHARED_THINGS = ("stickers", "marbles", "pencils", "trading cards", "candies", "seashells")


def _sharing_leftover(rng: random.Random) -> _Draft:
    things = rng.choice(_SHARED_THINGS)
    k = rng.randint(3, 9)
    n = k * rng.randint(3, 15) + rng.randint(1, k - 1)
    b = PlanBuilder()
    each = b.calc("Calculate how many each friend gets.", f"floor({n} / {k})")
    given = b.calc("Calculate how many are given away in total.", f"{each} * {k}")
    b.calc(f"Calculate how many {things} are left over.", f"{n} - {given}")
    return _Draft({**_person(rng), "n": n, "things": things, "k": k}, b, Fraction(n % k))


def _sharing_vans(rng: random.Random) -> _Draft:
    n, m, c = rng.randint(20, 90), rng.randint(2, 8), rng.choice((7, 8, 10, 12, 15))
    b = PlanBuilder()
    people = b.calc("Calculate the number of people going on the trip.", f"{n} + {m}")
    b.calc("Calculate the number of vans needed.", f"ceil({people} / {c})")
    return _Draft({"n": n, "m": m, "c": c}, b, Fraction(math.ceil(Fraction(n + m, c))))


def _sharing_boxes(rng: random.Random) -> _Draft:
    k = rng.randint(2, 8)
    batches, per = rng.randint(2, 5), rng.choice((12, 18, 24, 30))
    total = batches * per
    eaten = (total % k) + k * rng.randint(0, 2)
    if eaten >= total:
        eaten = total % k
    b = PlanBuilder()
    baked = b.calc("Calculate how many cookies were baked.", f"{batches} * {per}")
    rest = b.calc("Calculate how many cookies are left to pack.", f"{baked} - {eaten}")
    b.calc("Calculate how many cookies go in each box.", f"{rest} / {k}")
    values = {**_person(rng), "batches": batches, "per": per, "eaten": eaten, "k": k}
    return _Draft(values, b, Fraction(total - eaten, k))


def _sharing_bill(rng: random.Random) -> _Draft:
    def draw(rng: random.Random) -> _Draft | None:
        k = rng.randint(2, 6)
        total = Fraction(rng.choice(range(40, 241, 10)))
        tip = rng.choice((10, 15, 20))
        each = (total + total * tip / 100) / k
        if not _is_short_decimal(each):
            return None
        b = PlanBuilder()
        t = b.calc("Calculate the tip.", f"{_n(total)} * {tip} / 100")
        s = b.calc("Calculate the bill including the tip.", f"{_n(total)} + {t}")
        b.calc("Calculate how much each friend pays.", f"{s} / {k}")
        return _Draft({"k": k, "total": _money(total), "tip": tip}, b, each)

    return _redraw(rng, draw)


# -- story_arithmetic ----------------------------------------------------------------------------
# One- and two-step stories over the four operations, most with a distractor number, in many
# phrasings: the skills a SVAMP-style question needs (which quantity is asked, which number is
# noise), with none of the held-out family's templates or things.

_STORY_THINGS = ("buttons", "rocks", "postcards", "keychains", "stickers", "marbles", "pencils", "ribbons")


def _two_people(rng: random.Random) -> dict[str, str]:
    person = _person(rng)
    return {**person, **_person(rng, prefix="friend_", exclude=person["name"])}


def _story_lost(rng: random.Random) -> _Draft:
    things, other = rng.sample(_STORY_THINGS, 2)
    a = rng.randint(8, 95)
    lost, extra = rng.randint(1, a - 1), rng.randint(2, 40)
    b = PlanBuilder()
    b.calc(f"Calculate how many {things} are left after losing some.", f"{a} - {lost}")
    return _Draft({**_person(rng), "things": things, "other": other, "a": a, "b": lost, "d": extra}, b, Fraction(a - lost))


def _story_gained(rng: random.Random) -> _Draft:
    things = rng.choice(_STORY_THINGS)
    a, more = rng.randint(3, 80), rng.randint(2, 60)
    b = PlanBuilder()
    b.calc(f"Calculate how many {things} there are after getting more.", f"{a} + {more}")
    return _Draft({**_two_people(rng), "things": things, "a": a, "b": more}, b, Fraction(a + more))


def _story_together(rng: random.Random) -> _Draft:
    things = rng.choice(_STORY_THINGS)
    a, c = rng.randint(3, 90), rng.randint(3, 90)
    b = PlanBuilder()
    b.calc(f"Calculate how many {things} the two have together.", f"{a} + {c}")
    return _Draft({**_two_people(rng), "things": things, "a": a, "b": c, "d": rng.randint(2, 12)}, b, Fraction(a + c))


def _story_fewer(rng: random.Random) -> _Draft:
    things = rng.choice(_STORY_THINGS)
    small = rng.randint(2, 70)
    large = small + rng.randint(1, 50)
    people = _two_people(rng)
    b = PlanBuilder()
    b.calc(f"Calculate how many fewer {things} {people['friend_name']} owns than {people['name']}.", f"{large} - {small}")
    return _Draft({**people, "things": things, "a": large, "b": small}, b, Fraction(large - small))


def _story_rows(rng: random.Random) -> _Draft:
    rows, per, absent = rng.randint(2, 12), rng.randint(2, 10), rng.randint(1, 9)
    b = PlanBuilder()
    b.calc("Calculate how many desks there are in all the rows.", f"{rows} * {per}")
    return _Draft({"r": rows, "c": per, "s": absent}, b, Fraction(rows * per))


def _story_piles(rng: random.Random) -> _Draft:
    things = rng.choice(_STORY_THINGS)
    k, per = rng.randint(2, 9), rng.randint(2, 15)
    b = PlanBuilder()
    b.calc(f"Calculate how many {things} go in each pile.", f"{k * per} / {k}")
    return _Draft({**_person(rng), "things": things, "n": k * per, "k": k}, b, Fraction(per))


def _story_spent_earned(rng: random.Random) -> _Draft:
    a = rng.randint(10, 90)
    spent, earned = rng.randint(1, a - 1), rng.randint(2, 50)
    b = PlanBuilder()
    rest = b.calc("Calculate how many dollars are left after lunch.", f"{a} - {spent}")
    b.calc("Calculate how many dollars there are after earning more.", f"{rest} + {earned}")
    return _Draft({**_person(rng), "a": a, "b": spent, "c": earned}, b, Fraction(a - spent + earned))


def _story_boxes_used(rng: random.Random) -> _Draft:
    things = rng.choice(_STORY_THINGS)
    k, per = rng.randint(2, 9), rng.randint(3, 12)
    used = rng.randint(1, k * per - 1)
    b = PlanBuilder()
    total = b.calc(f"Calculate how many {things} were in all the boxes.", f"{k} * {per}")
    b.calc(f"Calculate how many {things} are left after the project.", f"{total} - {used}")
    return _Draft({**_person(rng), "things": things, "k": k, "p": per, "u": used}, b, Fraction(k * per - used))


def _story_start(rng: random.Random) -> _Draft:
    things = rng.choice(_STORY_THINGS)
    gave, now = rng.randint(2, 50), rng.randint(1, 60)
    b = PlanBuilder()
    b.calc(f"Calculate how many {things} there were at the start.", f"{now} + {gave}")
    return _Draft({**_person(rng), "things": things, "b": gave, "c": now}, b, Fraction(now + gave))


def _story_share_all(rng: random.Random) -> _Draft:
    things = rng.choice(_STORY_THINGS)
    k, per = rng.randint(2, 8), rng.randint(2, 12)
    red = rng.randint(1, k * per - 1)
    b = PlanBuilder()
    total = b.calc(f"Calculate how many {things} there are in all.", f"{red} + {k * per - red}")
    b.calc("Calculate how many each friend gets.", f"{total} / {k}")
    return _Draft({**_person(rng), "things": things, "a": red, "b": k * per - red, "k": k}, b, Fraction(per))


def _story_more_pages(rng: random.Random) -> _Draft:
    a, more, minutes = rng.randint(5, 60), rng.randint(2, 30), rng.randint(15, 90)
    b = PlanBuilder()
    b.calc("Calculate how many pages were read on Sunday.", f"{a} + {more}")
    return _Draft({**_person(rng), "a": a, "b": more, "m": minutes}, b, Fraction(a + more))


def _story_times_as_many(rng: random.Random) -> _Draft:
    things = rng.choice(_STORY_THINGS)
    base, k = rng.randint(2, 20), rng.randint(2, 6)
    people = _two_people(rng)
    b = PlanBuilder()
    b.calc(f"Calculate how many {things} {people['name']} has.", f"{k} * {base}")
    return _Draft({**people, "things": things, "b": base, "k": k}, b, Fraction(k * base))


# -- linear_equation -----------------------------------------------------------------------------

_TIMES_WORDS = {2: "Twice", 3: "Three times", 4: "Four times", 5: "Five times", 6: "Six times"}


def _equation_plan(equation: str) -> PlanBuilder:
    b = PlanBuilder()
    b.subgoal("Set up an equation for the unknown number x.")
    r1 = b.action("SetEquation", equation)
    b.subgoal("Solve the equation for x.")
    b.action("SolveEquation", r1)
    return b


def _linear_times_plus(rng: random.Random) -> _Draft:
    a, x, c_add = rng.choice(sorted(_TIMES_WORDS)), rng.randint(1, 30), rng.randint(1, 40)
    values = {"times": _TIMES_WORDS[a], "b": c_add, "c": a * x + c_add}
    return _Draft(values, _equation_plan(f"{a}*x + {c_add} = {a * x + c_add}"), Fraction(x))


def _linear_subtracted(rng: random.Random) -> _Draft:
    a, x = rng.randint(2, 9), rng.randint(2, 25)
    sub = rng.randint(1, a * x - 1)
    values = {"a": a, "b": sub, "c": a * x - sub}
    return _Draft(values, _equation_plan(f"{a}*x - {sub} = {a * x - sub}"), Fraction(x))


def _linear_packs(rng: random.Random) -> _Draft:
    things = rng.choice(_SHARED_THINGS)
    x, k, p = rng.randint(3, 40), rng.randint(2, 6), rng.choice((5, 6, 8, 10, 12))
    values = {**_person(rng), "things": things, "k": k, "p": p, "c": x + k * p}
    return _Draft(values, _equation_plan(f"x + {k}*{p} = {x + k * p}"), Fraction(x))


def _linear_ages(rng: random.Random) -> _Draft:
    person = _person(rng)
    other = _person(rng, prefix="other_", exclude=person["name"])
    a, x = rng.randint(2, 5), rng.randint(3, 15)
    values = {**person, **other, "a": a, "c": x + a * x}
    return _Draft(values, _equation_plan(f"x + {a}*x = {x + a * x}"), Fraction(x))


# -- counting ------------------------------------------------------------------------------------


def _count_draft(items: list[Any], chosen: list[Any], values: dict[str, Any], text: str) -> _Draft:
    b = PlanBuilder()
    b.subgoal(text)
    b.action("Count", ", ".join(str(i) for i in chosen))
    return _Draft({**values, "items": ", ".join(str(i) for i in items)}, b, Fraction(len(chosen)))


def _numbers_with_some(rng: random.Random, keep: Callable[[int], bool], low: int, high: int) -> tuple[list[int], list[int]]:
    while True:
        numbers = rng.sample(range(low, high + 1), rng.randint(5, 9))
        chosen = [n for n in numbers if keep(n)]
        if 0 < len(chosen) < len(numbers):
            return numbers, chosen


def _count_even(rng: random.Random) -> _Draft:
    numbers, chosen = _numbers_with_some(rng, lambda n: n % 2 == 0, 1, 60)
    return _count_draft(numbers, chosen, {}, "Count the even numbers in the list.")


def _count_greater(rng: random.Random) -> _Draft:
    k = rng.randint(10, 50)
    numbers, chosen = _numbers_with_some(rng, lambda n: n > k, 1, 80)
    return _count_draft(numbers, chosen, {"k": k}, f"Count the numbers in the list that are greater than {k}.")


def _count_multiples(rng: random.Random) -> _Draft:
    m = rng.choice((3, 4, 5, 6, 7))
    numbers, chosen = _numbers_with_some(rng, lambda n: n % m == 0, 1, 70)
    return _count_draft(numbers, chosen, {"m": m}, f"Count the numbers in the list that are multiples of {m}.")


_WORDS = ("apple", "anchor", "banana", "basket", "candle", "carrot", "dolphin", "desert", "eagle", "engine",
          "forest", "feather", "garden", "guitar", "harbor", "helmet", "island", "jacket", "kettle", "lemon",
          "ladder", "mirror", "monkey", "needle", "orange", "pepper", "pillow", "rabbit", "saddle", "silver",
          "tiger", "tunnel", "violin", "window")


def _count_letter(rng: random.Random) -> _Draft:
    while True:
        words = rng.sample(_WORDS, rng.randint(6, 9))
        letter = rng.choice(words)[0]
        chosen = [w for w in words if w[0] == letter]
        if len(chosen) < len(words):
            break
    return _count_draft(words, chosen, {"letter": letter.upper()},
                        f"Count the words in the list that start with the letter {letter.upper()}.")


# -- svamp_like (held out) -----------------------------------------------------------------------

_HELDOUT_THINGS = ("balloons", "crayons", "toy cars", "oranges", "comic books", "beads", "stamps", "shells")


def _svamp_gave_away(rng: random.Random) -> _Draft:
    person = _person(rng)
    friend = _person(rng, prefix="friend_", exclude=person["name"])
    things, other = rng.sample(_HELDOUT_THINGS, 2)
    a = rng.randint(10, 90)
    given, extra = rng.randint(1, a - 1), rng.randint(2, 60)
    b = PlanBuilder()
    b.calc(f"Calculate how many {things} {person['name']} has left.", f"{a} - {given}")
    values = {**person, **friend, "things": things, "other": other, "a": a, "b": given, "d": extra}
    return _Draft(values, b, Fraction(a - given))


def _svamp_found_before(rng: random.Random) -> _Draft:
    person = _person(rng)
    things = rng.choice(_HELDOUT_THINGS)
    before, found = rng.randint(3, 80), rng.randint(2, 50)
    b = PlanBuilder()
    b.calc(f"Calculate how many {things} {person['name']} had before finding more.", f"{before + found} - {found}")
    values = {**person, "things": things, "b": found, "c": before + found}
    return _Draft(values, b, Fraction(before))


def _svamp_how_many_more(rng: random.Random) -> _Draft:
    person = _person(rng)
    friend = _person(rng, prefix="friend_", exclude=person["name"])
    things, other = rng.sample(_HELDOUT_THINGS, 2)
    small = rng.randint(3, 60)
    large, extra = small + rng.randint(1, 40), rng.randint(2, 30)
    b = PlanBuilder()
    b.calc(f"Calculate how many more {things} {person['name']} has than {friend['friend_name']}.", f"{large} - {small}")
    values = {**person, **friend, "things": things, "other": other, "a": large, "b": small, "d": extra}
    return _Draft(values, b, Fraction(large - small))


def _svamp_groups_removed(rng: random.Random) -> _Draft:
    things = rng.choice(_HELDOUT_THINGS)
    groups, size = rng.randint(2, 12), rng.randint(2, 15)
    removed = rng.randint(1, groups * size - 1)
    b = PlanBuilder()
    total = b.calc(f"Calculate how many {things} there were in all the bags.", f"{groups} * {size}")
    b.calc(f"Calculate how many {things} remain.", f"{total} - {removed}")
    values = {"things": things, "g": groups, "s": size, "r": removed}
    return _Draft(values, b, Fraction(groups * size - removed))


def _svamp_trays(rng: random.Random) -> _Draft:
    person = _person(rng)
    k, per = rng.randint(2, 9), rng.randint(3, 20)
    total = k * per
    morning = rng.randint(1, total - 1)
    b = PlanBuilder()
    made = b.calc("Calculate how many pies were made that day.", f"{morning} + {total - morning}")
    b.calc("Calculate how many pies went on each shelf.", f"{made} / {k}")
    values = {**person, "a": morning, "b": total - morning, "k": k}
    return _Draft(values, b, Fraction(per))


_T = MathTemplate

MATH_FAMILIES: dict[str, MathFamilyInfo] = {
    info.name: info
    for info in (
        MathFamilyInfo("shopping_total", "train", "items times prices, discounts or tax, change from a payment", (
            _T("change", "{name} buys {n1} {item1} at {p1} each and {n2} {item2} at {p2} each. {Subj} pays "
                         "with a {bill} bill. How much change does {name} get back?", _shopping_change),
            _T("discount", "A store sells {item} for {p} each. {name} buys {n} of them and gets a {d}% discount "
                           "on the whole purchase. How much does {name} pay?", _shopping_discount),
            _T("tax", "{name} orders {n1} {item1} costing {p1} each and {n2} {item2} costing {p2} each. A sales "
                      "tax of {tax}% is added to the bill. What is the total cost including tax?", _shopping_tax),
            _T("budget", "{name} has {money} to spend on {item} that cost {p} each. After buying {n} of them, "
                         "how many more could {subj} buy with the money left?", _shopping_budget),
        )),
        MathFamilyInfo("rate_time", "train", "speeds, work rates and wages over time", (
            _T("two_legs", "{name} drives at {s1} miles per hour for {h1} hours, then at {s2} miles per hour "
                           "for {h2} hours. How many miles does {subj} drive in total?", _rate_two_legs),
            _T("work_days", "{name} can {verb} {r} {things} per hour. {Subj} works {h} hours a day for {d} "
                            "days. How many {things} does {subj} {verb} in all?", _rate_work_days),
            _T("two_pipes", "One pipe fills a tank at {r1} liters per minute and a second pipe fills it at {r2} "
                            "liters per minute. How many minutes do both pipes together need to fill a "
                            "{volume}-liter tank?", _rate_two_pipes),
            _T("weekly_wage", "{name} earns {w} per hour. {Subj} works {h} hours a day on {d} weekdays and {h2} "
                              "hours on Saturday. How much does {subj} earn in that week?", _rate_weekly_wage),
            _T("same_speed", "A train travels {distance} miles in {h} hours. At the same speed, how many hours "
                             "will it take to travel {distance2} miles?", _rate_same_speed),
        )),
        MathFamilyInfo("percent_change", "train", "percent increases and decreases, successive and relative", (
            _T("up_down", "A {item} costs {p}. Its price rises by {a}% and then the new price falls by {d}%. "
                          "What is the final price in dollars?", _percent_up_down),
            _T("growth", "A town has {n} residents. Its population grows by {a}% in the first year and by {g}% "
                         "in the second year. How many residents does it have after two years?", _percent_growth),
            _T("increase_of", "{name} scored {x} points last season and {y} points this season. By what percent "
                              "did {poss} score increase?", _percent_increase_of),
            _T("wrong", "{name} answered {c} of the {t} questions on a test correctly. What percent of the "
                        "questions did {subj} answer wrong?", _percent_wrong),
        )),
        MathFamilyInfo("sharing", "train", "dividing into equal shares, groups and remainders", (
            _T("leftover", "{name} has {n} {things} and shares them equally among {k} friends, giving each "
                           "friend as many as possible. How many {things} are left over?", _sharing_leftover),
            _T("vans", "{n} students and {m} teachers are going on a field trip. Each van holds {c} people. "
                       "How many vans are needed?", _sharing_vans),
            _T("boxes", "{name} bakes {batches} batches of {per} cookies. {Subj} eats {eaten} of them and packs "
                        "the rest equally into {k} boxes. How many cookies go in each box?", _sharing_boxes),
            _T("bill", "{k} friends share a restaurant bill of {total}. They add a {tip}% tip and split the "
                       "total equally. How much does each friend pay?", _sharing_bill),
        )),
        MathFamilyInfo("story_arithmetic", "train", "one- and two-step stories over the four operations, with distractors", (
            _T("lost", "{name} had {a} {things} and {d} {other}. {Subj} lost {b} of the {things} on the way "
                       "home. How many {things} does {name} have left?", _story_lost),
            _T("gained", "{name} has {a} {things}. {friend_name} gives {obj} {b} more {things}. How many {things} "
                         "does {name} own after that?", _story_gained),
            _T("together", "{name} has {a} {things} and {friend_name} has {b} {things}. They are both {d} years "
                           "old. How many {things} do they have together?", _story_together),
            _T("fewer", "{friend_name} owns {b} {things}, and {name} owns {a} {things}. How many fewer {things} "
                        "does {friend_name} own than {name}?", _story_fewer),
            _T("rows", "A classroom has {r} rows of desks with {c} desks in each row. {s} students are absent "
                       "today. How many desks are in the classroom?", _story_rows),
            _T("piles", "{name} puts {n} {things} into {k} equal piles. How many {things} are in each pile?",
               _story_piles),
            _T("spent_earned", "{name} had {a} dollars. {Subj} spent {b} dollars on lunch and then earned {c} "
                               "dollars. How many dollars does {subj} have now?", _story_spent_earned),
            _T("boxes_used", "{name} bought {k} boxes of {things} with {p} in each box. {Subj} used {u} of them "
                             "for a project. How many {things} are left?", _story_boxes_used),
            _T("start", "{name} gave away {b} {things} and now has {c} {things}. How many {things} did {name} "
                        "start with?", _story_start),
            _T("share_all", "{name} has {a} red {things} and {b} blue {things}. {Subj} shares all of them equally "
                            "among {k} friends. How many does each friend get?", _story_share_all),
            _T("more_pages", "{name} read {a} pages on Saturday in {m} minutes. On Sunday {subj} read {b} more "
                             "pages than on Saturday. How many pages did {subj} read on Sunday?", _story_more_pages),
            _T("times_as_many", "{friend_name} keeps {b} {things} in a jar. {name} has {k} times as many {things} as "
                                "{friend_name}. How many {things} does {name} have?", _story_times_as_many),
        )),
        MathFamilyInfo("linear_equation", "train", "one-variable linear equations set up and solved", (
            _T("times_plus", "{times} a number plus {b} is {c}. What is the number?", _linear_times_plus),
            _T("subtracted", "When {b} is subtracted from {a} times a number, the result is {c}. Find the "
                             "number.", _linear_subtracted),
            _T("packs", "{name} has some {things}. After buying {k} packs of {p} {things}, {subj} has {c} "
                        "{things}. How many {things} did {name} have at first?", _linear_packs),
            _T("ages", "{name} is {a} times as old as {other_name}. The sum of their ages is {c}. How old is "
                       "{other_name}?", _linear_ages),
        )),
        MathFamilyInfo("counting", "train", "counting the items of a list that have a property", (
            _T("even", "Which of these numbers are even: {items}? How many are there?", _count_even),
            _T("greater", "How many of the numbers {items} are greater than {k}?", _count_greater),
            _T("multiples", "Look at the numbers {items}. How many of them are multiples of {m}?", _count_multiples),
            _T("letter", "How many of the words {items} start with the letter {letter}?", _count_letter),
        )),
        MathFamilyInfo("svamp_like", "heldout", "one- or two-step SVAMP-style problems with distractors", (
            _T("gave_away", "{name} had {a} {things} and {friend_name} had {d} {other}. {name} gave {b} "
                            "{things} to {friend_name}. How many {things} does {name} have now?", _svamp_gave_away),
            _T("found_before", "{name} found {b} {things} at the park. Now {subj} has {c} {things} altogether. "
                               "How many {things} did {name} have before going to the park?", _svamp_found_before),
            _T("how_many_more", "{name} has {a} {things} and {d} {other}. {friend_name} has {b} {things}. How "
                                "many more {things} than {friend_name} does {name} have?", _svamp_how_many_more),
            _T("groups_removed", "There were {g} bags with {s} {things} in each bag. Then {r} {things} were "
                                 "taken out. How many {things} remain?", _svamp_groups_removed),
            _T("trays", "A bakery made {a} pies before noon and {b} pies after noon. {name} put all the pies "
                        "on {k} shelves with the same number on each. How many pies went on each shelf?",
               _svamp_trays),
        )),
    )
}
"""family name -> its split, description and templates"""

FAMILIES = MATH_FAMILIES
"""the name `tasks/registry.py` reads"""


# ---------------------------------------------------------------------------------------------
# Config and source


@dataclass(frozen=True)
class SyntheticMathConfig:
    """Settings for one generated maths family."""

    family: str = "shopping_total"
    """a key of `MATH_FAMILIES`"""
    size: int = 200
    """number of tasks the source reports"""
    seed: int = 0
    """item i is built from Random(f"{family}/{seed}/{i}/{attempt}")"""
    templates: str = "all"
    """which templates items draw from: `all`; `train` or `test`, the two template-disjoint halves of
    `template_split`; or template keys separated by commas"""
    part: str = "all"
    """`train`, `validation` or `test` (parts share no masked question), or `all` draws"""

    def __post_init__(self) -> None:
        if self.family not in MATH_FAMILIES:
            raise ValueError(f"unknown maths family {self.family!r}; known: {', '.join(MATH_FAMILIES)}")
        chosen_templates(MATH_FAMILIES[self.family], self.templates)  # raises on a bad choice
        check_part(self.family, self.part)
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"size must be an integer >= 1, got {self.size!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")


class SyntheticMathSource(GeneratedTaskSource):
    """A lazily built, cached task source for one family; item i depends only on the config and i."""

    def __init__(self, config: SyntheticMathConfig) -> None:
        chosen = "" if config.templates == "all" else f"{config.templates.replace(',', '+')}-"
        # the template choice is in the ids, so items of different choices never share an id
        super().__init__(config.family, config.size, config.seed, f"synthetic-{config.family}-{chosen}", config.part)
        self.config = config
        self.info = MATH_FAMILIES[config.family]
        self._templates = chosen_templates(self.info, config.templates)

    def _draw(self, rng: random.Random, index: int) -> Task:
        template = rng.choice(self._templates)
        draft = template.make(rng)
        plan = draft.builder.build()
        config = self.config
        return Task(
            id=f"{self.id_prefix}{index}",
            domain=Domain.MATH,
            source=self.name,
            split=self.info.split,
            question=template.question.format(**draft.values),
            answer=format_number(draft.answer),
            plan=plan,
            metadata={"family": config.family, "template": template.key, "templates": config.templates,
                      "seed": config.seed, "index": index,
                      "num_steps": sum(len(s.actions) for s in plan.subgoals)},
        )


def template_split(info: MathFamilyInfo) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The family's templates as two disjoint halves, (train keys, test keys): every fourth template
    (the last one when there are fewer than four) is a test template.

    A test split drawn from `test` templates shares no template with training drawn from `train`, so
    a family can be evaluated on phrasings and plan shapes it never trained on.
    """
    keys = tuple(t.key for t in info.templates)
    if len(keys) < 2:
        return keys, ()
    test = tuple(k for i, k in enumerate(keys) if i % 4 == 3) or keys[-1:]
    return tuple(k for k in keys if k not in test), test


def chosen_templates(info: MathFamilyInfo, templates: str) -> tuple[MathTemplate, ...]:
    """The templates `templates` (see `SyntheticMathConfig.templates`) picks from a family.

    Raises:
        ValueError: for an unknown key, an empty choice, or `test` on a one-template family.
    """
    if templates == "all":
        return info.templates
    if templates in ("train", "test"):
        train, test = template_split(info)
        keys = train if templates == "train" else test
        if not keys:
            raise ValueError(f"family {info.name} has one template, so it has no template-disjoint {templates} half")
    else:
        keys = tuple(k.strip() for k in templates.split(",") if k.strip())
        known = [t.key for t in info.templates]
        unknown = [k for k in keys if k not in known]
        if unknown or not keys:
            raise ValueError(f"unknown template {', '.join(unknown) or repr(templates)} for family {info.name}; "
                             f"known: {', '.join(known)} (or all, train, test)")
    return tuple(t for t in info.templates if t.key in keys)


def load_synthetic_math(family: str, size: int = 200, seed: int = 0, templates: str = "all",
                        part: str = "all") -> SyntheticMathSource:
    """The task source for `synthetic:{family}` (`?templates=test` for its template-disjoint half,
    `?part=test` for its masked-question-disjoint test part; the two combine).

    Raises:
        ValueError: for an unknown family (the message lists the known ones), a bad size, seed, part
            or template choice.
    """
    return SyntheticMathSource(SyntheticMathConfig(family=family, size=size, seed=seed, templates=templates, part=part))


load_family = load_synthetic_math
"""the name `tasks/registry.py` calls"""


def build_item(family: str, seed: int, index: int, templates: str = "all", part: str = "all") -> Task:
    """Build item `index` of `family` for `seed` from scratch, drawing from the chosen templates."""
    return load_synthetic_math(family, size=index + 1, seed=seed, templates=templates, part=part)[index]
