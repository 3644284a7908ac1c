"""lumos/QA-v0: tools, handles, gold replay on the bundled families, corpus selection."""

from __future__ import annotations

import gymnasium as gym
import pytest

import lumos_envs  # noqa: F401
from lumos_envs.domains import Domain
from lumos_envs.envs.qa import QAEnv
from lumos_envs.tasks.base import Task
from lumos_envs.tasks.synthetic_qa import bundled_corpus
from lumos_envs.tools.qa import QA_TOOL_NAMES
from rollouts.replay import replay_gold

COMPLEX_QA_INTERFACES = (
    "Calculator(formula): Calculate the input formula; KnowledgeQuery(query): Capture the relevant webpages "
    "according to the query; ParagraphRetrieve(context, query): Given a query, retrieve the most relevant "
    "paragraphs from the given context; QA(context, query): Given context, answer the given query; "
    "Calculator(formula): Calculate the input formula; Code(pseudo_code): Generate a Python function that "
    "corresponds to the pseudo code."
)


def test_tools_follow_the_complex_qa_spec_in_order():
    env = gym.make("lumos/QA-v0")
    _, info = env.reset(seed=0)
    assert [t["name"] for t in info["tools"]] == list(QA_TOOL_NAMES)
    for t in info["tools"]:
        assert t["interface"] in COMPLEX_QA_INTERFACES
    env.close()


def test_a_hop_returns_lumos_handles_and_the_answer():
    corpus = bundled_corpus()
    title = next(d.title for d in corpus.documents if len(d.paragraphs) == 4)  # a person
    env = gym.make("lumos/QA-v0")
    env.reset(seed=0)
    _, _, _, _, info = env.step(
        f"R1 = KnowledgeQuery({title}); R2 = ParagraphRetrieve(R1, Query: When was {title} born?); "
        f"R3 = QA([R2], Question: When was {title} born?)"
    )
    assert not info["invalid_action"], info["last_error"]
    assert info["results"]["R1"] == f"WikipediaPage({title})"
    assert info["results"]["R2"].startswith(f"Paragraph({title}-1), Paragraph({title}-")
    assert info["results"]["R3"] in corpus.documents[corpus.find_title(title)].paragraphs[1]
    _, reward, terminated, _, info = env.step("Answer(R3)")
    assert terminated and set(info["metrics"]) == {"em", "f1", "accuracy"}
    env.close()


def test_bad_contexts_are_error_observations():
    env = gym.make("lumos/QA-v0")
    env.reset(seed=0)
    for action in ("R1 = ParagraphRetrieve(nothing here, Query: x?)", "R1 = QA(, Question: who?)",
                   "R1 = KnowledgeQuery()", "R1 = Code(print(1))", "R1 = KnowledgeQuery(zzqqxx)"):
        observation, reward, terminated, truncated, info = env.step(action)
        assert info["invalid_action"] and info["last_error"] and reward == 0.0 and not terminated
    env.close()


def test_calculator_decides_comparisons():
    env = gym.make("lumos/QA-v0")
    env.reset(seed=0)
    _, _, _, _, info = env.step("R7 = Calculator(1843 < 1850); R8 = Calculator(R7)")
    assert info["results"] == {"R7": "True", "R8": "True"}
    env.close()


@pytest.mark.slow
@pytest.mark.parametrize("family", ["qa_bridge", "qa_comparison", "qa_yesno", "qa_compositional", "qa_difference"])
def test_gold_plans_reach_reward_one(family):
    result = replay_gold("lumos/QA-v0", f"synthetic:{family}?size=12")
    assert result.episodes == 12
    assert result.success_rate >= 0.9, result.to_dict()


def test_explicit_jsonl_corpus(tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text(
        '{"title": "Lake Orun", "text": "Lake Orun is a lake in Veltra.\\n\\nThe lake is 42 metres deep."}\n'
        '{"title": "Veltra", "text": "Veltra is a country. Its capital is Mirr."}\n'
    )
    task = Task(id="t", domain=Domain.QA, source="test", split="test", question="How deep is Lake Orun?", answer="42")
    env = QAEnv(tasks=[task], corpus=str(docs))
    env.reset(seed=0)
    _, _, _, _, info = env.step("R1 = KnowledgeQuery(Lake Orun); R2 = ParagraphRetrieve(R1, Query: How many metres deep is Lake Orun?); "
                                "R3 = QA([R2], Question: How many metres deep is Lake Orun?)")
    assert info["results"]["R2"] == "Paragraph(Lake Orun-1), Paragraph(Lake Orun-0)" and info["results"]["R3"] == "42"
    _, reward, *_ = env.step("Answer(R3)")
    assert reward == 1.0
