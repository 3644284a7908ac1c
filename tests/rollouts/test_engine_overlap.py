"""The engine with a server back-end: overlap groups, concurrent rows, byte-identical prompt prefixes.

The server is `tests.stub_openai_server.StubServer`, a real HTTP server in vLLM's wire format whose
answers depend on the prompt alone, so any difference between runs is the engine's or the back-end's.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import pytest

from agents.backends.openai_compat import OpenAICompatBackend, OpenAICompatConfig
from rollouts.engine import Job, RolloutConfig, calls_may_overlap, run_rollouts
from rollouts.policies import AgentConfig, make_agent
from rollouts.store import read_trajectories
from tests.rollouts.engine_policies import GoldLinePolicy
from tests.stub_openai_server import StubServer

TASKS = "synthetic:shopping_total?size=6&seed=3"


@pytest.fixture
def stub():
    with StubServer(latency_s=0.0) as server:
        yield server


def _rollout(tmp_path, name: str, api_base: str, *, server: str = "vllm", concurrency: int = 8, num_envs: int = 1,
             groups: int = 1, samples: int = 2) -> list[dict[str, Any]]:
    agent = make_agent(AgentConfig(agent="lumos", model="lumos-stub", api_base=api_base, api_server=server,
                                   api_max_concurrency=concurrency, max_new_tokens=32, max_subgoals=4))
    out = tmp_path / f"{name}.jsonl"
    config = RolloutConfig(jobs=[Job("lumos/Math-v0", TASKS)], samples=samples, out=str(out), num_envs=num_envs,
                           overlap_groups=groups, progress=False, max_steps=6)
    result = run_rollouts(config, agent)
    assert result.failures == 0
    _, trajectories = read_trajectories(out)
    return [_without_timings(t.to_record()) for t in sorted(trajectories, key=lambda t: t.key.as_tuple())]


def _without_timings(record: dict[str, Any]) -> dict[str, Any]:
    record = dict(record, wall_s=None)
    record["steps"] = [dict(step, latency_s=None) for step in record["steps"]]
    return record


@pytest.mark.parametrize("server", ["vllm", "generic"])
def test_overlap_groups_give_the_serial_trajectories(tmp_path, stub, server):
    serial = _rollout(tmp_path, "serial", stub.url, server=server, concurrency=1, num_envs=1)
    lockstep = _rollout(tmp_path, "lockstep", stub.url, server=server, num_envs=6)
    overlapped = _rollout(tmp_path, "overlapped", stub.url, server=server, num_envs=6, groups=3)
    assert len(serial) == 12 and len({len(t["steps"]) for t in serial}) >= 2, "episodes of different lengths"
    assert lockstep == serial
    assert overlapped == serial


def test_the_engine_keeps_several_requests_in_flight(tmp_path):
    with StubServer(latency_s=0.05) as slow:
        _rollout(tmp_path, "overlapped", slow.url, num_envs=6, groups=3)
        assert slow.max_in_flight > 1, "groups' calls to a remote back-end overlap"
        assert max(len(b["prompt"]) for b in slow.bodies) <= 2, "each group sends its own rows"


def test_a_batch_s_rows_are_sent_concurrently_up_to_max_concurrency():
    prompts = [f"<|user|>\nPlease provide a reasonable subgoal-based plan to solve the given task.\nTask: Add {i} and 2?\n<|assistant|>\n"
               for i in range(8)]
    with StubServer(latency_s=0.1) as slow:
        backend = OpenAICompatBackend(OpenAICompatConfig(base_url=slow.url, model="lumos-stub", server="generic", max_concurrency=4))
        out = backend.generate(prompts, max_new_tokens=16, stop=["\n"])
        assert [g[0].text for g in out] == ["Subgoal 1: Calculate step 1 of the total."] * 8
        assert slow.num_requests == 8 and 1 < slow.max_in_flight <= 4

        slow.max_in_flight = 0  # two callers at once still share one bound
        shared = OpenAICompatBackend(OpenAICompatConfig(base_url=slow.url, model="lumos-stub", server="generic", max_concurrency=3))
        with ThreadPoolExecutor(2) as callers:
            list(callers.map(lambda half: shared.generate(half, max_new_tokens=16), [prompts[:4], prompts[4:]]))
        assert 1 < slow.max_in_flight <= 3


def test_prompts_of_a_module_share_a_byte_identical_prefix_across_rows_and_turns(tmp_path, stub):
    _rollout(tmp_path, "batched", stub.url, num_envs=6, samples=1)
    by_module: dict[str, list[str]] = defaultdict(list)
    for prompt in stub.prompts:
        by_module["grounder" if prompt.startswith("<|user|>\nPlease ground") else "planner"].append(prompt)
    assert set(by_module) == {"planner", "grounder"}
    for module, prompts in by_module.items():
        blocks = {p[: p.index("Task: ")] for p in prompts}
        assert len(blocks) == 1, f"{module}: one instruction block, byte for byte, for every row and turn"
    (grounder_block,) = {p[: p.index("Task: ")] for p in by_module["grounder"]}
    assert "The available action list is" in grounder_block and "Calculator(" in grounder_block
    for module, prompts in by_module.items():
        conversations: dict[str, list[str]] = defaultdict(list)
        for prompt in prompts:
            conversations[prompt.split("<|assistant|>\n", 1)[0]].append(prompt)  # by its first turn
        assert len(conversations) == 6
        for turns in conversations.values():
            turns.sort(key=len)
            for earlier, later in zip(turns, turns[1:]):
                assert later.startswith(earlier), f"{module}: a turn's prompt extends the previous turn's, byte for byte"


class _CountingPolicy(GoldLinePolicy):
    """Gold lines, counting how many `act_batch` calls run at once."""

    def __init__(self) -> None:
        super().__init__(delay_s=0.01)
        self.now = self.most = 0
        self.lock = threading.Lock()

    def act_batch(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]], slots: Sequence[int] | None = None) -> list[str]:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            return super().act_batch(observations, infos, slots)
        finally:
            with self.lock:
                self.now -= 1


def test_a_local_policy_is_called_by_one_group_at_a_time(tmp_path):
    policy = _CountingPolicy()
    config = RolloutConfig(jobs=[Job("lumos/Math-v0", "synthetic:math_heldout?size=5")], samples=2, out=str(tmp_path / "r.jsonl"),
                           reveal_gold=True, num_envs=4, overlap_groups=2, num_workers=2, progress=False)
    result = run_rollouts(config, policy)
    assert result.episodes == 10 and result.successes == 10
    assert policy.most == 1 and max(policy.batch_sizes) <= 2
    assert not calls_may_overlap(policy)


def test_only_remote_back_ends_are_called_at_once(stub):
    remote = make_agent(AgentConfig(agent="lumos", model="lumos-stub", api_base=stub.url))
    assert calls_may_overlap(remote)
    with pytest.raises(ValueError, match="overlap_groups must be >= 1"):
        RolloutConfig(overlap_groups=0)
