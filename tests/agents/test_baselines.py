"""The integrated and chain-of-thought baselines on scripted back-ends."""

from __future__ import annotations

import gymnasium as gym

import lumos_envs  # noqa: F401
from agents.backends.scripted import ScriptedBackend
from agents.baselines import CoTAgent, IntegratedAgent
from agents.prompts import STOP_PLANNING
from lumos_envs.domains import Domain
from lumos_envs.tasks.base import Task

TASK = Task(id="t", domain=Domain.MATH, source="test", split="test", question="What is 2 + 3 times 4?", answer="20")


def _episode(agent, env):
    observation, info = env.reset(options={"task_index": 0})
    agent.reset(observation, info)
    for _ in range(10):
        (action,) = agent.act_batch([observation], [info])
        observation, reward, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            return reward
    raise AssertionError("no end")


def test_integrated_agent_plans_and_grounds_in_one_turn():
    backend = ScriptedBackend(["Subgoal 1: Add. Actions: R1 = Calculator(2 + 3)", "Subgoal 2: Times four. Actions: R2 = Calculator(R1 * 4)", STOP_PLANNING])
    agent = IntegratedAgent(backend)
    assert _episode(agent, gym.make("lumos/Math-v0", tasks=[TASK])) == 1.0
    assert agent.trace().actions[-1] == "Answer(R2)" and not agent.trace().format_errors
    assert backend.requests[-1][2]["content"] == "The executed result for Subgoal 1 is 5. Should we stop planning?"


def test_cot_and_direct_agents_submit_the_answer():
    cot = CoTAgent(ScriptedBackend(["2 + 3 is 5 and 5 times 4 is 20. Answer is 20."]))
    assert _episode(cot, gym.make("lumos/Math-v0", tasks=[TASK])) == 1.0
    direct = CoTAgent(ScriptedBackend(["21"]), style="direct")
    assert _episode(direct, gym.make("lumos/Math-v0", tasks=[TASK])) == 0.0
    bad = CoTAgent(ScriptedBackend(["no idea"]))
    _episode(bad, gym.make("lumos/Math-v0", tasks=[TASK]))
    assert bad.trace().format_errors
