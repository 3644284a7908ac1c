"""The fuzz harness every env's hostile-action test shares (importable as `tests.lumos_envs.envs.fuzzing`).

One strategy shape (tool calls with hostile arguments, several joined by `; `, bare segments) and
one loop: every `step()` returns a valid observation within `STEP_LIMIT_S`, episodes that end are
reset, and a canary file proves no payload ran code. `make test` runs each env's bounded profile
(`LUMOS_FUZZ_EXAMPLES_QUICK` overrides its size); `make soak` runs `LUMOS_FUZZ_EXAMPLES` (100,000).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import gymnasium as gym
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

STEP_LIMIT_S = 10.0
"""No step may take longer, whatever the action (tool limits are far below this)."""

SOAK_EXAMPLES = int(os.environ.get("LUMOS_FUZZ_EXAMPLES", "100000"))


def quick_examples(default: int) -> int:
    """The bounded profile's size: `default`, or `LUMOS_FUZZ_EXAMPLES_QUICK`."""
    return int(os.environ.get("LUMOS_FUZZ_EXAMPLES_QUICK", str(default)))


def canary_payloads(canary: Path) -> list[str]:
    """Payloads that would create `canary` if anything evaluated them."""
    return [f"__import__('os').system('touch {canary}')", f"open('{canary}', 'w').write('x')", "exec('1')", "eval('1')"]


def hostile_actions(
    payloads: Sequence[str],
    alphabet: str,
    *,
    tools: Sequence[str] | None = None,
    outputs: Sequence[str] = ("", "R1 = ", "R2, R3 = ", "Output = "),
    brackets: bool = False,
    extra: Sequence[str] = (),
) -> st.SearchStrategy[str]:
    """Hostile action text for one env.

    Args:
        payloads: hand-picked hostile arguments (code, huge numbers, deep nesting, bad quoting, ...).
        alphabet: characters random arguments are drawn from (the env's syntax, so they get far).
        tools: tool names to call; None for raw actions (SQL: `R1 = <segment>`).
        outputs: left-hand sides put before a call.
        brackets: also write calls WebShop's way, `tool[arg]`.
        extra: whole actions added as they are (megabyte strings, NUL-padded calls).
    """
    segment = st.one_of(st.sampled_from(list(payloads)), st.text(max_size=60), st.text(alphabet=alphabet, max_size=80))
    if tools is None:
        action = st.builds(lambda out, body: f"{out}{body}", st.sampled_from(list(outputs)), segment)
    else:
        action = st.builds(
            lambda out, tool, arg, square: f"{out}{tool}[{arg}]" if square else f"{out}{tool}({arg})",
            st.sampled_from(list(outputs)), st.sampled_from(list(tools)), segment,
            st.booleans() if brackets else st.just(False),
        )
    choices = [action, st.lists(action, min_size=2, max_size=4).map("; ".join), segment]
    if extra:
        choices.append(st.sampled_from(list(extra)))
    return st.one_of(*choices)


def fuzz_env(
    env: gym.Env,
    actions: st.SearchStrategy[str],
    max_examples: int,
    *,
    setup: str | None = None,
    check: Callable[[gym.Env, str, Any, dict[str, Any]], None] | None = None,
    rewrite: Callable[[str], str] | None = None,
    canary: Path | None = None,
    derandomize: bool = False,
) -> None:
    """Feed `max_examples` hostile actions through `env.step()`; closes `env`.

    Args:
        setup: an action run after every reset (so later actions can refer to its variables).
        check: extra assertions on (env, action, observation, info) after each step.
        rewrite: changes an action before it is sent (to skip a costly tool covered elsewhere).
        canary: a file no action may create (removed first).
        derandomize: a fixed example sequence (for envs whose checks depend on exact state).
    """
    if canary is not None:
        canary.unlink(missing_ok=True)

    def restart() -> None:
        env.reset(seed=0)
        if setup:
            env.step(setup)

    restart()

    @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              derandomize=derandomize)
    @given(actions)
    def run(action: str) -> None:
        if rewrite is not None:
            action = rewrite(action)
        start = time.monotonic()
        observation, reward, terminated, truncated, info = env.step(action)
        assert time.monotonic() - start < STEP_LIMIT_S, f"step took too long on {action[:80]!r}"
        assert env.observation_space.contains(observation)
        if check is not None:
            check(env, action, observation, info)
        if terminated or truncated:
            restart()

    try:
        run()
    finally:
        env.close()
    if canary is not None:
        assert not canary.exists(), "a hostile action executed code"
