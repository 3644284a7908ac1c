"""LumosAgent as a policy: scripted episodes, batching, the oracle in every env, a tiny untrained model everywhere."""

from __future__ import annotations

import gymnasium as gym
import pytest

import lumos_envs  # noqa: F401
from agents.agent import LumosAgent
from agents.backends.base import GenerationConfig
from agents.backends.scripted import ScriptedBackend
from agents.grounder import Grounder
from agents.oracle import GoldPlanAgent, OracleAgent
from agents.planner import Planner
from agents.prompts import STOP_PLANNING
from lumos_envs.domains import Domain
from lumos_envs.registration import LUMOS_ENVS
from lumos_envs.tasks.base import GoldPlan, GoldSubgoal, Task

ENV_IDS = sorted(LUMOS_ENVS)
SODA = Task(
    id="soda", domain=Domain.MATH, source="test", split="test", answer="6",
    question="Peter has $2 and keeps $0.50. Soda costs $0.25 an ounce. How many ounces does he buy?",
    plan=GoldPlan((GoldSubgoal("Calculate the money spent.", ("R1 = Calculator(2 - 0.5)",)), GoldSubgoal("Calculate the ounces.", ("R2 = Calculator(R1 / 0.25)",))), "R2"),
)


def _run(env, agent, max_steps=30):
    observation, info = env.reset(options={"task_index": 0})
    agent.reset(observation, info)
    for _ in range(max_steps):
        (action,) = agent.act_batch([observation], [info])
        observation, reward, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            return reward, info
    raise AssertionError("episode did not end")


def test_iterative_episode_builds_lumos_conversations_and_answers_with_last_result():
    planner = ScriptedBackend(["Subgoal 1: Calculate the money spent.", "No, I will keep planning. Subgoal 2: Calculate the ounces.", STOP_PLANNING])
    grounder = ScriptedBackend(["R1 = Calculator(2 - 0.5)", "R2 = Calculator(R1 / 0.25)"])
    agent = LumosAgent(Planner(planner), Grounder(grounder))
    env = gym.make("lumos/Math-v0", tasks=[SODA])
    reward, info = _run(env, agent)
    assert reward == 1.0 and info["answer"] == "6"
    trace = agent.trace()
    assert trace.actions == ["R1 = Calculator(2 - 0.5)", "R2 = Calculator(R1 / 0.25)", "Answer(R2)"]
    assert trace.subgoals == ["Subgoal 1: Calculate the money spent.", "Subgoal 2: Calculate the ounces."]
    assert trace.format_errors == [] and trace.stop_reason == "planner_stop"
    last_plan = planner.requests[-1]
    assert last_plan[2]["content"] == "The executed result for Subgoal 1 is 1.5. Should we stop planning?"
    assert last_plan[4]["content"] == "The executed result for Subgoal 2 is 6. Should we stop planning?"
    ground = grounder.requests[-1]
    assert ground[0]["content"].endswith(f"Task: {SODA.question} \nSubgoal to be grounded: Subgoal 1: Calculate the money spent.\n")
    assert ground[2]["content"] == "Subgoal to be grounded: Subgoal 2: Calculate the ounces.\n"
    env.close()


def test_onetime_episode_grounds_all_subgoals_in_one_step():
    planner = ScriptedBackend(["Subgoal 1: Calculate the money spent.; Subgoal 2: Calculate the ounces."])
    grounder = ScriptedBackend(["R1 = Calculator(2 - 0.5); R2 = Calculator(R1 / 0.25)"])
    agent = LumosAgent(Planner(planner), Grounder(grounder), formulation="onetime")
    env = gym.make("lumos/Math-v0", tasks=[SODA])
    reward, info = _run(env, agent)
    assert reward == 1.0
    assert agent.trace().actions[-1] == "Answer(R2)" and len(agent.trace().actions) == 2
    assert grounder.requests[0][0]["content"].endswith("Subgoals to be grounded: Subgoal 1: Calculate the money spent.; Subgoal 2: Calculate the ounces.\n")
    env.close()


def test_malformed_output_is_recorded_not_raised_and_max_subgoals_bounds_the_episode():
    agent = LumosAgent(Planner(ScriptedBackend(lambda c: "I think we should add")), Grounder(ScriptedBackend(lambda c: "add them up")), max_subgoals=3)
    env = gym.make("lumos/Math-v0", tasks=[SODA])
    reward, info = _run(env, agent)
    trace = agent.trace()
    assert reward == 0.0 and trace.stop_reason == "max_subgoals"
    assert len(trace.format_errors) == 3 and trace.invalid_actions == 3
    assert trace.actions[-1] == "Answer(unknown)"
    env.close()


def test_act_batch_makes_one_planner_and_one_grounder_call_per_step():
    def plan(conversation):
        done = sum(m["role"] == "assistant" for m in conversation)
        return "Subgoal 1: Calculate the money spent." if done == 0 else STOP_PLANNING

    planner, grounder = ScriptedBackend(plan), ScriptedBackend(lambda c: "R1 = Calculator(2 - 0.5)")
    agent = LumosAgent(Planner(planner), Grounder(grounder))
    envs = [gym.make("lumos/Math-v0") for _ in range(4)]
    observations, infos = [], []
    for slot, env in enumerate(envs):
        observation, info = env.reset(seed=slot)
        agent.reset(observation, info, slot)
        observations.append(observation)
        infos.append(info)
    actions = agent.act_batch(observations, infos)
    assert actions == ["R1 = Calculator(2 - 0.5)"] * 4
    assert (planner.num_calls, grounder.num_calls) == (1, 1)
    steps = [env.step(a) for env, a in zip(envs, actions)]
    actions = agent.act_batch([s[0] for s in steps], [s[4] for s in steps])
    assert actions == ["Answer(R1)"] * 4 and (planner.num_calls, grounder.num_calls) == (2, 1)
    for env in envs:
        env.close()


def test_unreset_slot_is_a_clear_error():
    agent = LumosAgent(Planner(ScriptedBackend([])), Grounder(ScriptedBackend([])))
    with pytest.raises(ValueError, match="never reset"):
        agent.act_batch(["x"], [{}])


def _gold_env(env_id):
    return gym.make(env_id, reveal_gold=True)  # every registered env reveals its gold plans (a TypeError is a bug)


def _direct_gold_success(env, index):
    """The env's own gold success: the gold action lines stepped directly, no agent involved."""
    observation, info = env.reset(options={"task_index": index})
    plan = info["gold"]["plan"]
    for line in ["; ".join(s["actions"]) for s in plan["subgoals"]] + [f"{info['final_action']}({plan['answer']})"]:
        observation, reward, terminated, truncated, info = env.step(line)
        if terminated or truncated:
            break
    return bool(info.get("success"))


@pytest.mark.timeout(900)  # some envs build their tool models (e.g. a VQA model) on first use
@pytest.mark.parametrize("formulation", ["iterative", "onetime"])
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_oracle_reaches_gold_success_in_every_env(env_id, formulation):
    env = _gold_env(env_id)
    agent = OracleAgent(formulation=formulation)
    tasks = env.unwrapped.tasks
    oracle, direct = [], []
    for index in range(min(3, len(tasks))):
        observation, info = env.reset(options={"task_index": index})
        if info["gold"]["plan"] is None:
            continue
        agent.reset(observation, info)
        for _ in range(env.unwrapped.max_steps):
            (action,) = agent.act_batch([observation], [info])
            observation, reward, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                break
        oracle.append(bool(info.get("success")))
        assert len(agent.trace().calls) >= 2, "the oracle goes through the planner and grounder modules"
        if formulation == "iterative":
            direct.append(_direct_gold_success(env, index))
    env.close()
    assert oracle, f"{env_id}: none of the first default tasks has a gold plan"
    if formulation == "iterative":
        assert oracle == direct, "the oracle must reach exactly the env's gold success"
    assert any(oracle), f"{env_id}: no gold plan succeeded"


def test_gold_plan_agent_name_still_works():
    assert GoldPlanAgent is OracleAgent


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_tiny_untrained_model_runs_episodes_in_every_env(env_id, tiny_backend):
    config = GenerationConfig(max_new_tokens=8)
    agent = LumosAgent(Planner(tiny_backend, config), Grounder(tiny_backend, config), max_subgoals=2, demonstrations={})
    envs = [gym.make(env_id) for _ in range(2)]
    observations, infos, done = [], [], [False, False]
    for slot, env in enumerate(envs):
        observation, info = env.reset(seed=slot)
        agent.reset(observation, info, slot)
        observations.append(observation)
        infos.append(info)
    for _ in range(10):
        actions = agent.act_batch(observations, infos)
        for slot, (env, action) in enumerate(zip(envs, actions)):
            if done[slot]:
                continue
            observations[slot], _, terminated, truncated, infos[slot] = env.step(action)
            done[slot] = terminated or truncated
        if all(done):
            break
    assert all(done)
    for slot in range(2):
        trace = agent.trace(slot)
        assert trace.calls and all(c.generation.token_ids for c in trace.calls)
        assert trace.stop_reason in ("max_subgoals", "planner_stop", "format_error")
        # an untrained model's turns are no LUMOS plan (measured: it ends its first turn at once, empty), and
        # the trace says so; every generation cut by the 8-token limit is one format error; stopping on one says why
        assert trace.format_errors, "an untrained model broke no format?"
        cut = [c for c in trace.calls if c.generation.finish_reason in ("truncated", "length")]
        assert len(cut) == sum(e.reason == "truncated generation (length limit)" for e in trace.format_errors)
        assert all(e.module in ("planner", "grounder") and e.reason and e.handling for e in trace.format_errors)
        if trace.stop_reason == "format_error":
            assert any(e.module == "planner" and e.handling == "stopped planning" for e in trace.format_errors)
    for env in envs:
        env.close()
