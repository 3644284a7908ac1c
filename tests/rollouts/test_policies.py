"""make_agent: which policy a command builds from its settings."""

from __future__ import annotations

import pytest

from agents.agent import LumosAgent
from agents.demonstrations import lumos_demonstrations
from agents.oracle import OracleAgent
from rollouts.policies import AgentConfig, make_agent


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from agents.backends.tiny import TinyModelConfig, default_corpus, save_tiny

    path = tmp_path_factory.mktemp("tiny")
    return str(save_tiny(path, TinyModelConfig(vocab_size=512, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64),
                         corpus=default_corpus(("synthetic:math_train?size=5",))))


def test_oracle_needs_no_model():
    assert isinstance(make_agent(AgentConfig()), OracleAgent)


def test_model_agents_need_a_model():
    with pytest.raises(ValueError, match="--model"):
        AgentConfig(agent="lumos")


def test_tiny_models_get_no_in_context_examples(tiny_dir):
    agent = make_agent(AgentConfig(agent="lumos", model=tiny_dir))
    assert isinstance(agent, LumosAgent) and agent.demonstrations == {}


def test_transformers_models_get_lumos_webshop_examples(tiny_dir, tmp_path):
    import shutil

    from agents.backends.transformers import TransformersBackend

    plain = tmp_path / "plain"  # the tiny model without its record: it loads as any transformers model
    shutil.copytree(tiny_dir, plain)
    for marker in ("lumos_tiny.json", "lumos_model.json"):
        (plain / marker).unlink(missing_ok=True)
    tiny_dir = str(plain)
    agent = make_agent(AgentConfig(agent="lumos", model=tiny_dir, formulation="onetime"))
    assert isinstance(agent.planner.backend, TransformersBackend)
    assert agent.demonstrations == lumos_demonstrations("onetime")
    off = make_agent(AgentConfig(agent="lumos", model=tiny_dir, demonstrations="off"))
    assert off.demonstrations == {}


def test_demonstrations_can_be_forced_on_for_any_model(tiny_dir):
    agent = make_agent(AgentConfig(agent="lumos", model=tiny_dir, demonstrations="on"))
    assert agent.demonstrations == lumos_demonstrations("iterative")
    with pytest.raises(ValueError, match="demonstrations"):
        AgentConfig(demonstrations="yes")  # type: ignore[arg-type]


def test_kv_reuse_and_batching_settings_reach_the_back_end(tiny_dir):
    agent = make_agent(AgentConfig(agent="lumos", model=tiny_dir, conversation_cache=3))
    backend = getattr(agent.planner.backend, "inner", agent.planner.backend)
    assert backend.kv.conversation_size == 3 and backend.batching == "padded"
    continuous = make_agent(AgentConfig(agent="lumos", model=tiny_dir, batching="continuous"))
    assert getattr(continuous.planner.backend, "inner", continuous.planner.backend).batching == "continuous"
    with pytest.raises(ValueError, match="greedily"):
        AgentConfig(agent="lumos", model=tiny_dir, batching="continuous", temperature=0.7)
    with pytest.raises(ValueError, match="conversation_cache"):
        AgentConfig(agent="lumos", model=tiny_dir, conversation_cache=-1)
