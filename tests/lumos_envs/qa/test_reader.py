"""The extractive reader reads prose: held-out phrasings of the world, and hand-written paragraphs."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from lumos_envs.metrics_qa import exact_match, f1_score
from lumos_envs.qa.reader import ExtractiveReader, answer_type, comparison_options, parse_dates
from lumos_envs.qa.world import WorldConfig, build_world, render_paragraphs
from lumos_envs.tasks.hotpotqa import hotpotqa_task_from_row, load_hotpotqa


def world_questions(world):
    """(entity, paragraph number, question, answer) for every fact the QA families ask about."""
    for n, p in world.people.items():
        yield n, 1, f"When was {n} born?", str(p.birth_year)
        yield n, 1, f"Where was {n} born?", p.birth_city
        yield n, 2, f"Which organisation did {n} work for?", p.employer
        yield n, 3, f"When did {n} die?", str(p.death_year)
    for t, w in world.works.items():
        yield t, 0, f"Who created {t}?", w.creator
        yield t, 1, f"When was {t} first published?", str(w.year)
    for c, city in world.cities.items():
        yield c, 0, f"In which country is {c}?", city.country
        yield c, 1, f"When was {c} founded?", str(city.founded)
        yield c, 2, f"What is the population of {c}?", str(city.population)
    for o, org in world.orgs.items():
        yield o, 0, f"Where is {o} headquartered?", org.headquarters
        yield o, 1, f"Who founded {o}?", org.founder
        yield o, 1, f"When was {o} founded?", str(org.founded)
    for e, event in world.events.items():
        yield e, 0, f"Where was the {e} held?", event.city
        yield e, 0, f"When was the {e} held?", str(event.year)


@pytest.fixture(scope="module")
def reader():
    return ExtractiveReader.default()


@pytest.mark.slow
def test_reader_on_heldout_phrasings(reader):
    world = build_world(WorldConfig(seed=11))
    items = list(world_questions(world))[::3]  # every third question: all kinds, a bounded test
    correct = sum(exact_match(reader.answer([render_paragraphs(world, name, "heldout")[k]], q), a) for name, k, q, a in items)
    accuracy = correct / len(items)
    print(f"held-out phrasing accuracy: {accuracy:.3f} over {len(items)} questions")
    assert accuracy >= 0.95


HAND_WRITTEN = [
    ("Radio City (Indian radio station)", ["Radio City is India's first private FM radio station and was started on 3 July 2001.",
     " It broadcasts on 91.1 megahertz from Mumbai."], "When was Radio City started?", "2001"),
    ("Arthur's Magazine", ["Arthur's Magazine (1844-1846) was an American literary periodical published in Philadelphia in the 19th century.",
     " Edited by T.S. Arthur, it featured work by Edgar A. Poe."], "Who edited Arthur's Magazine?", "T.S. Arthur"),
    ("Albany, Georgia", ["Albany is a city in the U.S. state of Georgia.", " As of the 2010 census, the city had a population of 77,434."],
     "What is the population of Albany, Georgia?", "77434"),
    ("Favre-Leuba", ["Favre-Leuba is a Swiss watch company founded in 1737 in Le Locle by Abraham Favre."],
     "Who founded Favre-Leuba?", "Abraham Favre"),
    ("Meriwether Lewis", ["Meriwether Lewis was an American explorer, soldier and politician.",
     " He was born in Albemarle County, Virginia, in 1774."], "Where was Meriwether Lewis born?", "Albemarle County"),
    ("Kevin Bookout", ["Kevin Bookout is an American basketball player who played college basketball for the Oklahoma Sooners.",
     " He was born on June 7, 1985."], "In which year was Kevin Bookout born?", "1985"),
    ("Lawson (band)", ["Lawson are a British pop rock band formed in London in 2010.", " The band consists of four members."],
     "How many members does Lawson have?", "4"),
    ("Ludwig van Beethoven", ["Ludwig van Beethoven was a German composer and pianist.",
     " He died in Vienna in 1827 after a long illness."], "In which city did Beethoven die?", "Vienna"),
    ("Highwayman (song)", ["\"Highwayman\" is a song written by Jimmy Webb.", " It was recorded by Glen Campbell in 1979."],
     "Who wrote Highwayman?", "Jimmy Webb"),
    ("Corps of Discovery", ["The Corps of Discovery was a specially established unit of the United States Army.",
     " It was led by Meriwether Lewis and William Clark between 1804 and 1806."], "When did the Corps of Discovery set out?", "1804"),
    ("Mount Kenya", ["Mount Kenya is the highest mountain in Kenya.", " Its summit rises to 5,199 metres above sea level."],
     "How high is Mount Kenya?", "5199"),
    ("Tate Modern", ["Tate Modern is an art gallery located in London.", " It opened to the public in May 2000 in the former Bankside Power Station."],
     "Where is Tate Modern located?", "London"),
    ("Mahatma Gandhi", ["Mohandas Karamchand Gandhi was an Indian lawyer and political ethicist.",
     " He was born in Porbandar, a coastal town in western India, on 2 October 1869."], "Where was Gandhi born?", "Porbandar"),
    ("The Hobbit", ["The Hobbit is a children's fantasy novel by J. R. R. Tolkien.", " It was published in 1937 to wide critical acclaim."],
     "Who is the author of The Hobbit?", "J. R. R. Tolkien"),
    ("Amazon River", ["The Amazon River in South America is the largest river by discharge volume of water in the world.",
     " It flows through Brazil, Peru and Colombia and is about 6,400 kilometres long."], "How long is the Amazon River?", "6400"),
]


def test_reader_on_hand_written_hotpotqa_paragraphs(reader):
    correct = 0
    for index, (title, sentences, question, answer) in enumerate(HAND_WRITTEN):
        record = {"_id": f"h{index}", "question": question, "answer": answer, "type": "bridge", "level": "easy",
                  "supporting_facts": [[title, 0]], "context": [[title, sentences]]}
        task, documents = hotpotqa_task_from_row(record, index, "dev")
        correct += exact_match(reader.answer(list(documents[0].paragraphs), task.question), task.answer)
    accuracy = correct / len(HAND_WRITTEN)
    print(f"hand-written paragraph accuracy: {accuracy:.3f} over {len(HAND_WRITTEN)} questions")
    assert accuracy >= 0.8


def test_answer_types_and_comparisons(reader):
    assert answer_type("When was X born?") == "year"
    assert answer_type("How many people live in X?") == "number"
    assert answer_type("Who founded X?") == "person"
    assert answer_type("In which country is X?") == "place"
    assert answer_type("Is X larger than Y?") == "boolean"
    assert comparison_options("Who was born earlier, Ann Bell or Carl Dorn?") == ["Ann Bell", "Carl Dorn"]
    assert reader.answer(["[1850, 1843]"], "Who was born earlier, Ann Bell or Carl Dorn?") == "Carl Dorn"
    assert reader.answer(["[120000, 75000]"], "Which city is larger, Albany or Macon?") == "Albany"
    assert reader.answer(["[True, False]"], "Can both do it?") == "no"
    assert reader.answer([""], "Who?") == ""


HANDWRITTEN_FILE = Path(__file__).parent / "data" / "handwritten_hotpotqa.json"
"""35 HotpotQA-style items (distractor schema) about real people and places, written by hand from
well-known facts; none comes from lumos's generator. Bridge and comparison questions, asked whole."""


def test_reader_on_hand_written_hotpotqa_items():
    # the reader's rules alone (no MiniLM sentence ranking: 25 forward passes cost more than this
    # test's budget on a shared CPU); the default reader, MiniLM included, is measured by
    # benchmarks/bench_qa_reader.py (EM 0.686, F1 0.694 on these items)
    reader = ExtractiveReader(None)
    source = load_hotpotqa(HANDWRITTEN_FILE)
    records = json.loads(HANDWRITTEN_FILE.read_text(encoding="utf-8"))
    assert len(records) >= 30 and {r["type"] for r in records} == {"bridge", "comparison"}
    em = f1 = 0.0
    for index, record in enumerate(records):
        passages = [" ".join("".join(sentences).split()) for _, sentences in record["context"]]
        prediction = reader.answer(passages, source[index].question)
        em += exact_match(prediction, source[index].answer)
        f1 += f1_score(prediction, source[index].answer)
    em, f1 = em / len(records), f1 / len(records)
    print(f"hand-written HotpotQA items: EM {em:.3f}, F1 {f1:.3f} over {len(records)}")
    assert em > 0.6, (em, f1)  # measured EM 0.714, F1 0.722: most; the misses are listed by the benchmark


def test_dates_are_parsed_whole():
    assert parse_dates("(born October 8, 1970) is an actor") == [date(1970, 10, 8)]
    assert parse_dates("He was born in Bonn in December 1770 and died on 26 March 1827.") == [date(1770, 12, 1), date(1827, 3, 26)]
    assert parse_dates("Founded in 1636, it is old; 1,642 metres deep") == [date(1636, 1, 1)]
    reader = ExtractiveReader(None)
    context = ["Kim Roe (born October 8, 1970) is a painter.", "Lee Fox (born 3 May 1970) is a singer."]
    assert reader.answer(context, "Who was born first, Kim Roe or Lee Fox?") == "Lee Fox"  # 3 May < 8 October
    assert reader.answer(context, "Who is younger, Kim Roe or Lee Fox?") == "Kim Roe"


def test_comparison_options_split_on_or():
    assert comparison_options("Which is oldest: Rome, Paris or London?") == ["Rome", "Paris", "London"]
    assert comparison_options("Is Mont Blanc or the Matterhorn taller?") == ["Mont Blanc", "the Matterhorn"]
    assert comparison_options("Which band was formed earlier, The Beatles or The Rolling Stones?") == ["The Beatles", "The Rolling Stones"]
    assert comparison_options("Who wrote Hamlet?") is None


def test_sentence_openers_are_not_names():
    reader = ExtractiveReader(None)
    context = ["Historians agree on one point. Most historians say the bridge was designed by Ada Brenn."]
    assert reader.answer(context, "Who designed the bridge?") == "Ada Brenn"
    assert reader.answer(["While at sea, Tom Lind founded the club in 1901."], "Who founded the club?") == "Tom Lind"


YES_NO_ITEMS = [  # HotpotQA comparison items (distractor schema), written by hand from well-known facts
    {"question": "Were Scott Derrickson and Ed Wood of the same nationality?", "answer": "yes", "type": "comparison",
     "context": [["Scott Derrickson", ["Scott Derrickson (born July 16, 1966) is an American director, screenwriter and producer."]],
                 ["Ed Wood", ["Edward Davis Wood Jr. (October 10, 1924 – December 10, 1978) was an American filmmaker,",
                              " actor and writer."]]]},
    {"question": "Were Frédéric Chopin and Franz Liszt of the same nationality?", "answer": "no", "type": "comparison",
     "context": [["Frédéric Chopin", ["Frédéric Chopin was a Polish composer and virtuoso pianist of the Romantic period."]],
                 ["Franz Liszt", ["Franz Liszt was a Hungarian composer, virtuoso pianist and conductor."]]]},
    {"question": "Are the Uffizi and the Palazzo Pitti located in the same city?", "answer": "yes", "type": "comparison",
     "context": [["Uffizi", ["The Uffizi Gallery is a prominent art museum located in Florence, Italy."]],
                 ["Palazzo Pitti", ["The Palazzo Pitti is a vast Renaissance palace in Florence, Italy."]]]},
    {"question": "Are the Prado and the Louvre located in the same city?", "answer": "no", "type": "comparison",
     "context": [["Museo del Prado", ["The Museo del Prado, or the Prado, is the main Spanish national art museum, located in Madrid."]],
                 ["Louvre", ["The Louvre is the world's most-visited museum, located in Paris, France."]]]},
    {"question": "Were Charles Darwin and Abraham Lincoln born in the same year?", "answer": "yes", "type": "comparison",
     "context": [["Charles Darwin", ["Charles Robert Darwin was an English naturalist.", " He was born on 12 February 1809 in Shrewsbury."]],
                 ["Abraham Lincoln", ["Abraham Lincoln (February 12, 1809 – April 15, 1865) was the 16th president of the United States."]]]},
    {"question": "Were Isaac Newton and Albert Einstein born in the same century?", "answer": "no", "type": "comparison",
     "context": [["Isaac Newton", ["Sir Isaac Newton was an English mathematician and physicist, born in 1643."]],
                 ["Albert Einstein", ["Albert Einstein was a German-born theoretical physicist, born in Ulm in 1879."]]]},
]


def test_yes_no_comparisons_answer_yes_or_no_as_hotpotqa_writes_them():
    reader = ExtractiveReader(None)
    for record in YES_NO_ITEMS:
        passages = [" ".join("".join(sentences).split()) for _, sentences in record["context"]]
        assert reader.answer(passages, record["question"]) == record["answer"], record["question"]
    # a yes/no question of no known shape is still answered in HotpotQA's words
    assert reader.answer(["Ari Up was a German-born singer.", "Boz Burrell was an English bass guitarist."],
                         "Are Ari Up and Boz Burrell both guitarists?") in ("yes", "no")
    assert reader.answer(["[True, True]"], "Did both happen?") == "yes"
