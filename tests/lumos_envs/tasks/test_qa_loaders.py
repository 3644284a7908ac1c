"""QA task loaders: HotpotQA (distractor and question-only), MuSiQue, StrategyQA, synthetic QA families."""

from __future__ import annotations

import json

import pytest

from lumos_envs.tasks.registry import load_tasks
from lumos_envs.tasks.synthetic_qa import QA_FAMILIES, build_item


def _hotpot_record(i):
    return {"_id": f"id{i}", "question": f"Who directed film {i}?", "answer": f"Person {i}", "type": "bridge", "level": "hard",
            "supporting_facts": [[f"Film {i}", 0]],
            "context": [[f"Film {i}", [f"Film {i} is a movie.", f" It was directed by Person {i}."]],
                        ["Shared Page", ["A page that every question lists."]]]}


def test_hotpotqa_distractor_schema_builds_the_corpus(tmp_path):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps([_hotpot_record(i) for i in range(3)]))
    tasks = load_tasks(f"hotpotqa:{path}")
    assert len(tasks) == 3 and len({t.id for t in tasks}) == 3 and all(t.answer for t in tasks)
    assert tasks.corpus is not None and len(tasks.corpus) == 4  # three films + one shared page, merged
    assert tasks[0].metadata["gold_paragraphs"] == ("Film 0-0",) and tasks[0].plan is None


def test_question_only_files_need_a_corpus(fixtures_dir, tmp_path):
    tasks = load_tasks(f"hotpotqa:{fixtures_dir / 'hotpotqa' / 'questions_sample.json'}")
    assert len(tasks) == 25 and tasks.needs_corpus
    import gymnasium as gym

    with pytest.raises(ValueError, match="corpus"):
        gym.make("lumos/QA-v0", tasks=tasks)
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"title": "Espresso", "text": "Espresso is coffee.\\n\\nIt contains caffeine."}\n')
    strategy = load_tasks(f"strategyqa:{fixtures_dir / 'strategyqa' / 'sample.json'}?corpus={docs}")
    assert len(strategy) == 25 and {t.answer for t in strategy} <= {"yes", "no"} and len(strategy.corpus) == 1


def test_malformed_records_name_the_field(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"question": "q"}]))
    with pytest.raises(ValueError, match="record 0.*answer"):
        load_tasks(f"hotpotqa:{path}")


def test_musique_decomposition_becomes_a_gold_plan(tmp_path):
    record = {"id": "2hop_1", "question": "Where was the director of Film A born?", "answer": "Town B", "answerable": True,
              "answer_aliases": [], "paragraphs": [
                  {"idx": 0, "title": "Film A", "paragraph_text": "Film A was directed by Jo Kay.", "is_supporting": True},
                  {"idx": 1, "title": "Jo Kay", "paragraph_text": "Jo Kay was born in Town B.", "is_supporting": True},
                  {"idx": 2, "title": "Other", "paragraph_text": "Unrelated text.", "is_supporting": False}],
              "question_decomposition": [
                  {"id": 1, "question": "Who directed Film A?", "answer": "Jo Kay", "paragraph_support_idx": 0},
                  {"id": 2, "question": "Where was #1 born?", "answer": "Town B", "paragraph_support_idx": 1}]}
    path = tmp_path / "musique.jsonl"
    path.write_text(json.dumps(record) + "\n")
    tasks = load_tasks(f"musique:{path}")
    plan = tasks[0].plan
    assert plan is not None and plan.answer == "R6" and len(plan.subgoals) == 2
    assert plan.subgoals[0].actions[0] == "R1 = KnowledgeQuery(Film A)"  # the question names it
    # hop 2 looks up what hop 1 answered, not the gold answer the plan has not computed yet
    assert plan.subgoals[1].actions[0] == "R4 = KnowledgeQuery(R3)"
    assert "Where was R3 born?" in plan.subgoals[1].actions[1]
    assert len(tasks.corpus) == 3


@pytest.mark.parametrize("family", sorted(QA_FAMILIES))
def test_synthetic_families_are_deterministic_and_well_formed(family):
    first, again = build_item(family, 3, 5), build_item(family, 3, 5)
    assert first == again
    assert first.answer and first.plan is not None and first.metadata["gold_paragraphs"]
    assert len(load_tasks(f"synthetic:{family}?size=7")) == 7


def test_train_and_heldout_families_differ_in_templates():
    train = {f for f, info in QA_FAMILIES.items() if info.split == "train"}
    heldout = set(QA_FAMILIES) - train
    assert train and heldout
    train_templates = {build_item(f, 0, i).metadata["template"] for f in train for i in range(30)}
    heldout_templates = {build_item(f, 0, i).metadata["template"] for f in heldout for i in range(30)}
    assert not train_templates & heldout_templates
