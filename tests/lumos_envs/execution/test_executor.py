"""The execution module: substitution, binding, outputs, errors as outcomes, output caps."""

from __future__ import annotations

import pytest

from lumos_envs.execution.errors import ToolError
from lumos_envs.execution.executor import Executor, ExecutorConfig
from lumos_envs.execution.tool import tool


@tool(name="Echo", interface="Echo(text): Return the text")
def echo(text: str) -> str:
    return text


@tool(name="Join", interface="Join(context, query): Join both", substitution="text")
def join(context: str, query: str) -> str:
    return f"{context}|{query}"


@tool(name="Pair", interface="Pair(a): Two values")
def pair(a: str) -> list[str]:
    return [a, a + a]


@tool(name="Many", interface="Many(list): Count")
def many(*items: str) -> str:
    return str(len(items))


@tool(name="Fail", interface="Fail(x): Always fails")
def fail(x: str) -> str:
    raise ToolError(f"cannot do {x}")


@tool(name="Crash", interface="Crash(x): A buggy tool")
def crash(x: str) -> str:
    raise ZeroDivisionError("boom")


@tool(name="Math", interface="Math(formula): Show the formula", substitution="math")
def math_echo(formula: str) -> str:
    return formula


TOOLS = (echo, join, pair, many, fail, crash, math_echo)


@pytest.fixture
def executor() -> Executor:
    return Executor(TOOLS, config=ExecutorConfig(max_output_chars=50))


def test_results_are_stored_and_rendered(executor):
    variables: dict[str, str] = {}
    outcome = executor.run("R1 = Echo(18); R2 = Echo(R1 R1)", variables)
    assert outcome.error is None
    assert outcome.results == {"R1": "18", "R2": "18 18"}
    assert outcome.last_result == "18 18"
    assert outcome.observation == "R1 = 18; R2 = 18 18"
    assert variables == {"R1": "18", "R2": "18 18"}


def test_whole_token_substitution_never_matches_inside_longer_names(executor):
    variables = {"R1": "one", "R10": "ten"}
    outcome = executor.run("R11 = Echo(R10 R1)", variables)
    assert outcome.results == {"R11": "ten one"}


def test_math_substitution_wraps_compound_values_and_rewrites_application(executor):
    variables = {"R1": "x - 3*y", "R2": "2", "R3": "-9/8"}
    outcome = executor.run("R4 = Math(2*R1 + R2); R5 = Math(R1(R3, R2))", variables)
    assert outcome.results["R4"] == "2*(x - 3*y) + 2"
    assert outcome.results["R5"] == "evalat((x - 3*y), (-9/8), 2)"


def test_binding_free_text_and_surplus_arguments(executor):
    variables = {"R1": "ctx"}
    assert executor.run("R2 = Join(R1, Query: a, b, c)", variables).results["R2"] == "ctx|a, b, c"
    assert executor.run("R3 = Echo(Albany, Georgia)", variables).results["R3"] == "Albany, Georgia"
    assert executor.run("R4 = Many(a, b, c)", variables).results["R4"] == "3"
    outcome = executor.run("R5 = Join(only one)", variables)
    assert "takes 2 argument(s), got 1" in outcome.error and "Join(context, query)" in outcome.error


def test_several_outputs_and_output_alias(executor):
    variables: dict[str, str] = {"R3": "x"}
    outcome = executor.run("R4, R5 = Pair(ab); Output = Echo(z)", variables)
    assert outcome.results == {"R4": "ab", "R5": "abab", "R6": "z"}
    outcome = executor.run("R7, R8, R9 = Pair(ab)", variables)
    assert "2 value(s) but 3 output variables" in outcome.error
    assert executor.run("R10 = Pair(ab)", variables).results == {"R10": "ab, abab"}


@pytest.mark.parametrize(
    "action, fragment",
    [
        ("R1 = Nope(1)", "unknown tool 'Nope'"),
        ("R1 = Echo(R9)", "R9 is not defined"),
        ("R1 = Echo(1", "Invalid action"),
        ("R1 = Fail(it)", "cannot do it"),
        ("R1 = Crash(it)", "internal tool error (ZeroDivisionError: boom)"),
        ("Answer(R42)", "R42 is not defined"),
        ("R1 = Echo()", "takes 1 argument(s), got 0"),
        ("R1 = Join()", "takes 2 argument(s), got 0"),
    ],
)
def test_errors_are_outcomes_not_exceptions(executor, action, fragment):
    outcome = executor.run(action, {})
    assert outcome.error is not None and fragment in outcome.error
    assert outcome.answer is None


def test_first_error_stops_the_line_but_keeps_earlier_results(executor):
    variables: dict[str, str] = {}
    outcome = executor.run("R1 = Echo(a); R2 = Fail(b); R3 = Echo(c)", variables)
    assert outcome.results == {"R1": "a"} and "action 2" in outcome.error
    assert "R3" not in variables
    assert outcome.observation.startswith("R1 = a; Error in action 2")


def test_answer_resolves_variables_or_text(executor):
    variables = {"R1": "42"}
    assert executor.run("Answer(R1)", variables).answer == "42"
    assert executor.run("Answer(about R1 apples)", variables).answer == "about 42 apples"
    assert executor.run("R2 = Echo(x); Answer(R2)", variables).answer == "x"


def test_output_is_capped(executor):
    outcome = executor.run("R1 = Echo(" + "a" * 500 + ")", {})
    assert outcome.results["R1"].startswith("a" * 50) and "truncated 450 characters" in outcome.results["R1"]


def test_substitution_is_capped_with_an_error_observation():
    executor = Executor([echo, join], config=ExecutorConfig(max_output_chars=2000))
    variables = {"R1": "x" * 2000}
    blown_up = "Answer(" + " ".join(["R1"] * 6000) + ")"  # 18 KB of references to a 2,000-character value
    outcome = executor.run(blown_up, variables)
    assert outcome.answer is None and outcome.error is not None
    assert "12005999 characters after substituting variables" in outcome.error and "limit is 2000" in outcome.error
    assert len(outcome.observation) < 500
    outcome = executor.run("R2 = Join(R1, R1)", variables)
    assert "R2" not in variables and "the arguments of Join" in outcome.error
    # one whole value still fits
    assert executor.run("Answer(R1)", variables).answer == "x" * 2000
    assert executor.run("R3 = Echo(R1)", variables).results["R3"] == "x" * 2000


def test_substitution_cap_in_an_env_step():
    import gymnasium as gym

    import lumos_envs  # noqa: F401
    from lumos_envs.tasks.base import Task

    env = gym.make("lumos/Math-v0", tasks=[Task("t", "math", "test", "test", "q?", "1")], disable_env_checker=True)
    env.reset(options={"task_index": 0})
    _, _, _, _, info = env.step("R1 = Calculator(123456789 * 1000)")
    assert info["results"] == {"R1": "123456789000"}
    _, reward, terminated, _, info = env.step("Answer(" + " ".join(["R1"] * 3000) + ")")  # 9 KB -> 39 KB
    assert not terminated and reward == 0.0 and info["invalid_action"] and "max_output_chars" in info["last_error"]
    env.close()


@pytest.mark.parametrize("bad", [None, 3, b"R1 = Echo(1)", ["R1 = Echo(1)"]])
def test_non_text_actions_are_errors(executor, bad):
    assert "expected text" in executor.run(bad, {}).error


def test_config_and_tool_table_are_validated():
    with pytest.raises(ValueError, match="timeout_s"):
        ExecutorConfig(timeout_s=0)
    with pytest.raises(ValueError, match="duplicate"):
        Executor((echo, echo))
