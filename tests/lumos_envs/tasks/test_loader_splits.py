"""Splits and ids of every file loader (lumos_envs/tasks/splits.py): the split comes from `?split=`
or the file name, never a default, and ids never name two different rows across files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lumos_envs.tasks import gsm8k as gsm8k_module
from lumos_envs.tasks.registry import load_tasks
from lumos_envs.tasks.splits import split_in_name

from tests.lumos_envs.webshop.test_catalog import write_webshop_files

def _gsm8k_row(question: str, a: int, b: int) -> dict:
    return {"question": question, "answer": f"They have {a}+{b}=<<{a}+{b}={a + b}>>{a + b} in all.\n#### {a + b}"}


def _write(path: Path, rows: list, jsonl: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) if jsonl else json.dumps(rows), encoding="utf-8")
    return path


def _svamp_row(record_id: str, a: int, b: int) -> dict:
    return {"ID": record_id, "Body": f"Ann has {a} pens and gets {b} more.", "Question": "How many pens does she have?",
            "Equation": f"( {a}.0 + {b}.0 )", "Answer": float(a + b), "Type": "Addition"}


def _spider_rows() -> list:
    return [{"db": "concert_singer", "gold": "SELECT count(*) FROM singer", "query": "How many singers are there?",
             "hardness": "easy", "db_tables": {"singer": ["singer_id", "name"]}},
            {"db": "concert_singer", "gold": "SELECT name FROM singer", "query": "Name every singer.",
             "hardness": "easy", "db_tables": {"singer": ["singer_id", "name"]}}]


def _scienceqa_row(number: int, **extra) -> dict:
    return {"question": f"Which is a mammal ({number})?", "choices": ["cat", "trout"], "answer": 0, "hint": "", "image": None, **extra}


# -- the rule on real dataset file names ---------------------------------------------------------


@pytest.mark.parametrize(("name", "dev_name", "split"), [
    ("train.jsonl", "dev", "train"),
    ("test.jsonl", "dev", "test"),
    ("test_sample.jsonl", "dev", "test"),
    ("train_socratic.jsonl", "dev", "train"),
    ("gsm8k_test_sample.jsonl", "dev", "test"),
    ("hotpot_dev_distractor_v1.json", "dev", "dev"),
    ("hotpot_train_v1.1.json", "dev", "train"),
    ("musique_ans_v1.0_dev.jsonl", "dev", "dev"),
    ("ic_spider_dev.json", "dev", "dev"),
    ("aokvqa_v1p0_val.json", "val", "val"),
    ("validation-00000-of-00001.parquet", "validation", "validation"),
    ("SVAMP.json", "dev", None),
    ("problems.json", "val", None),
    ("contest.jsonl", "dev", None),  # "test" inside a word is no split word
])
def test_split_named_by_real_file_names(name, dev_name, split):
    assert split_in_name(name, dev_name) == split


def test_a_name_with_two_splits_is_a_one_line_error():
    with pytest.raises(ValueError, match=r"names 2 splits \(test, train\); add \?split=") as error:
        split_in_name("train_test_overlap.jsonl")
    assert "\n" not in str(error.value)


# -- every loader takes its split from the file name ---------------------------------------------


def test_gsm8k_split_and_ids_from_the_file_name(tmp_path):
    rows = [_gsm8k_row("Ann has 2 pens and Bo 3. How many pens?", 2, 3), _gsm8k_row("Cy has 4 cups and Di 5. How many cups?", 4, 5)]
    train = load_tasks(f"gsm8k:{_write(tmp_path / 'train.jsonl', rows, jsonl=True)}")
    test = load_tasks(f"gsm8k:{_write(tmp_path / 'test_sample.jsonl', rows, jsonl=True)}")
    other = load_tasks(f"gsm8k:{_write(tmp_path / 'mine.jsonl', rows, jsonl=True)}")
    assert {t.split for t in train} == {"train"} and {t.split for t in test} == {"test"} and {t.split for t in other} == {"mine"}
    assert all(t.id.startswith("gsm8k-train-") for t in train) and all(t.id.startswith("gsm8k-test-") for t in test)
    assert not {t.id for t in train} & {t.id for t in test}


def test_svamp_keeps_its_ids_and_names_the_split_after_the_file(tmp_path):
    rows = [_svamp_row("chal-1", 2, 3), _svamp_row("chal-2", 4, 5)]
    named = load_tasks(f"svamp:{_write(tmp_path / 'svamp_dev.json', rows)}")
    plain = load_tasks(f"svamp:{_write(tmp_path / 'SVAMP.json', rows)}")
    assert [t.id for t in named] == ["svamp-chal-1", "svamp-chal-2"] and {t.split for t in named} == {"dev"}
    assert {t.split for t in plain} == {"svamp"}  # the name names no split: never a silent "test"
    assert {t.split for t in load_tasks(f"svamp:{tmp_path / 'SVAMP.json'}?split=test")} == {"test"}


def test_qa_loaders_split_from_the_file_name_and_own_ids(tmp_path):
    hotpot = _write(tmp_path / "hotpot_dev_distractor_v1.json", [
        {"_id": "5a8b57f25542995d1e6f1371", "question": "Which band formed first?", "answer": "Lawson", "type": "comparison",
         "supporting_facts": [["Lawson", 0]], "context": [["Lawson", ["Lawson formed in 2009."]]]},
        {"question": "Who wrote it?", "answer": "Ann", "type": "bridge"}])
    tasks = load_tasks(f"hotpotqa:{hotpot}")
    assert {t.split for t in tasks} == {"dev"} and tasks[0].id == "5a8b57f25542995d1e6f1371"
    assert tasks[1].id.startswith("hotpotqa-dev-") and len(tasks[1].id) == len("hotpotqa-dev-") + 12

    strategy = _write(tmp_path / "strategyqa_train.json", [{"qid": "abc123", "question": "Is ice cold?", "answer": True},
                                                            {"question": "Is fire cold?", "answer": False}])
    tasks = load_tasks(f"strategyqa:{strategy}")
    assert {t.split for t in tasks} == {"train"} and tasks[0].id == "abc123" and tasks[1].id.startswith("strategyqa-train-")

    musique = _write(tmp_path / "musique_ans_v1.0_dev.jsonl", [{
        "id": "2hop__1_2", "question": "Where was the author of Film A born?", "answer": "Paris", "answerable": True,
        "paragraphs": [{"idx": 0, "title": "Film A", "paragraph_text": "Film A is by Ann.", "is_supporting": True}],
        "question_decomposition": [{"id": 1, "question": "Who made Film A?", "answer": "Ann", "paragraph_support_idx": 0}]}],
        jsonl=True)
    tasks = load_tasks(f"musique:{musique}")
    assert [(t.id, t.split) for t in tasks] == [("2hop__1_2", "dev")]


def test_spider_split_from_the_file_name_and_content_ids(tmp_path, fixtures_dir):
    dump = fixtures_dir / "intercode_sql" / "ic_spider_dbs.sql"
    dev = load_tasks(f"spider:{_write(tmp_path / 'ic_spider_dev.json', _spider_rows())}?dump={dump}")
    assert {t.split for t in dev} == {"dev"} and all(t.id.startswith("spider-dev-") for t in dev)
    assert [t.metadata["index"] for t in dev] == [0, 1]
    reordered = load_tasks(f"spider:{_write(tmp_path / 'b' / 'ic_spider_dev.json', _spider_rows()[::-1])}?dump={dump}")
    assert [t.id for t in reordered] == [t.id for t in dev][::-1]  # an id names the item, not its position


def test_scienceqa_records_split_wins_and_split_option_filters(tmp_path):
    problems = {"7": _scienceqa_row(7, split="train"), "8": _scienceqa_row(8, split="val"), "9": _scienceqa_row(9, split="test")}
    path = tmp_path / "problems.json"
    path.write_text(json.dumps(problems))
    every = load_tasks(f"scienceqa:{path}")
    assert [(t.id, t.split) for t in every] == [("scienceqa-7", "train"), ("scienceqa-8", "val"), ("scienceqa-9", "test")]
    assert [t.id for t in load_tasks(f"scienceqa:{path}?split=dev")] == ["scienceqa-8"]  # dev means ScienceQA's val
    with pytest.raises(ValueError, match=r"unknown split 'minival' .* its problems are in test, train, val"):
        load_tasks(f"scienceqa:{path}?split=minival")
    rows = _write(tmp_path / "scienceqa_val.jsonl", [_scienceqa_row(1), _scienceqa_row(2)], jsonl=True)
    tasks = load_tasks(f"scienceqa:{rows}")
    assert {t.split for t in tasks} == {"val"} and all(t.id.startswith("scienceqa-val-") for t in tasks)


def test_aokvqa_split_from_the_file_name(tmp_path):
    (tmp_path / "val2017").mkdir()
    (tmp_path / "val2017" / f"{42:012d}.jpg").write_bytes(b"")
    record = {"question": "What is the animal?", "choices": ["cat", "dog"], "correct_choice_idx": 0, "image_id": 42,
              "direct_answers": ["cat"] * 10}
    path = _write(tmp_path / "aokvqa_v1p0_val.json", [dict(record, question_id="q1"), record])
    tasks = load_tasks(f"aokvqa:{path}")
    assert {t.split for t in tasks} == {"val"} and tasks[0].id == "q1" and tasks[1].id.startswith("aokvqa-val-")
    assert load_tasks(f"aokvqa:{path}")[1].id == tasks[1].id  # stable across loads (it once used hash())


def test_webshop_files_hold_every_split_and_ids_name_the_goal(tmp_path):
    write_webshop_files(tmp_path)
    every = load_tasks(f"webshop:{tmp_path}")
    assert len(every) == 6 and {every[i].split for i in range(6)} == {"test"}  # 6 goals: all in WebShop's first 500
    assert [t.id for t in load_tasks(f"webshop:{tmp_path}?split=test")] == [every[i].id for i in range(6)]
    goals = {every[i].id: every[i].metadata["goal"] for i in range(6)}
    reseeded = load_tasks(f"webshop:{tmp_path}?seed=1")
    for i in range(len(reseeded)):
        task = reseeded[i]
        assert goals.get(task.id, task.metadata["goal"]) == task.metadata["goal"]  # a shared id names the same goal
    with pytest.raises(ValueError, match=r"unknown split 'tst' for webshop:.*; use train, dev, test or all"):
        load_tasks(f"webshop:{tmp_path}?split=tst")


def test_hf_local_file_split_from_the_file_name_matches_the_file_loader(tmp_path):
    rows = [_gsm8k_row("Ann has 2 pens and Bo 3. How many pens?", 2, 3)]
    path = _write(tmp_path / "train.jsonl", rows, jsonl=True)
    from_hub, from_file = load_tasks(f"hf:{path}"), load_tasks(f"gsm8k:{path}")
    assert [(t.id, t.split) for t in from_hub] == [(t.id, t.split) for t in from_file] == [(from_file[0].id, "train")]
    folder = tmp_path / "both"
    _write(folder / "train.jsonl", rows, jsonl=True)
    _write(folder / "test.jsonl", rows, jsonl=True)
    with pytest.raises(ValueError, match=r"has splits .*; add \?split=NAME"):
        load_tasks(f"hf:{folder}")
    with pytest.raises(ValueError, match=r"unknown split 'dev' for hf:"):
        load_tasks(f"hf:{folder}?split=dev")


# -- ?split= wins, unknown values fail -----------------------------------------------------------


def test_split_option_wins_over_the_file_name_and_is_recorded(tmp_path):
    rows = [_gsm8k_row("Ann has 2 pens and Bo 3. How many pens?", 2, 3)]
    path = _write(tmp_path / "train.jsonl", rows, jsonl=True)
    (task,) = load_tasks(f"gsm8k:{path}?split=test")
    assert task.split == "test" and task.id.startswith("gsm8k-test-") and task.metadata["file_split"] == "train"
    (task,) = load_tasks(f"gsm8k:{path}?split=train")
    assert "file_split" not in task.metadata
    (task,) = load_tasks(f"gsm8k:{path}?split=validation")
    assert task.split == "dev"  # the dataset's name for its validation split


@pytest.mark.parametrize("loader", ["gsm8k", "svamp", "hotpotqa", "strategyqa", "musique", "spider", "aokvqa", "scienceqa"])
def test_unknown_split_option_is_a_one_line_error(tmp_path, loader):
    path = _write(tmp_path / "train.json", [])
    with pytest.raises(ValueError, match=rf"unknown split 'tset' for {loader}:.*use train, (dev|val) or test") as error:
        load_tasks(f"{loader}:{path}?split=tset")
    assert "\n" not in str(error.value)


def test_a_bad_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(_gsm8k_row("Ann has 2 pens and Bo 3. How many pens?", 2, 3)) + "\n{not json\n")
    with pytest.raises(ValueError, match=r"train\.jsonl:2") as error:
        load_tasks(f"gsm8k:{path}")
    assert "\n" not in str(error.value)


# -- ids never collide across files --------------------------------------------------------------


def test_gsm8k_train_fixture_and_test_sample_ids_are_disjoint(fixtures_dir, monkeypatch):
    # ids do not depend on plans; skipping plan conversion keeps 7,473 rows under a second
    monkeypatch.setattr(gsm8k_module, "gsm8k_plan", lambda question, rationale, answer: (None, "no_arithmetic"))
    train = load_tasks(f"gsm8k:{fixtures_dir / 'gsm8k' / 'train.jsonl'}")
    test = load_tasks(f"gsm8k:{fixtures_dir / 'gsm8k' / 'test_sample.jsonl'}")
    train_ids, test_ids = [t.id for t in train], [t.id for t in test]
    assert len(set(train_ids)) == len(train_ids) and len(set(test_ids)) == len(test_ids)
    assert not set(train_ids) & set(test_ids)
    assert {t.split for t in train} == {"train"} and {t.split for t in test} == {"test"}


def test_same_file_name_in_two_folders_shares_ids_only_for_the_same_row(tmp_path):
    shared = _gsm8k_row("Ann has 2 pens and Bo 3. How many pens?", 2, 3)
    one = load_tasks(f"gsm8k:{_write(tmp_path / 'a' / 'test.jsonl', [shared, _gsm8k_row('Cy has 4 cups and Di 5. How many?', 4, 5)], jsonl=True)}")
    two = load_tasks(f"gsm8k:{_write(tmp_path / 'b' / 'test.jsonl', [_gsm8k_row('Ed has 6 hats and Fay 7. How many?', 6, 7), shared], jsonl=True)}")
    by_id = {t.id: t.question for t in one}
    assert [t.id for t in two if t.id in by_id] == [one[0].id]  # the sample/full-set case: same row, same id
    assert all(by_id.get(t.id, t.question) == t.question for t in two)

    strategy_a = load_tasks(f"strategyqa:{_write(tmp_path / 'a' / 'dev.json', [{'question': 'Is ice cold?', 'answer': True}])}")
    strategy_b = load_tasks(f"strategyqa:{_write(tmp_path / 'b' / 'dev.json', [{'question': 'Is fire cold?', 'answer': False}])}")
    assert strategy_a[0].id != strategy_b[0].id


def test_a_row_repeated_in_one_file_gets_a_numbered_id(tmp_path):
    row = _gsm8k_row("Ann has 2 pens and Bo 3. How many pens?", 2, 3)
    tasks = load_tasks(f"gsm8k:{_write(tmp_path / 'train.jsonl', [row, row], jsonl=True)}")
    assert tasks[1].id == f"{tasks[0].id}-2"
    assert tasks.index_of(tasks[1].id) == 1
