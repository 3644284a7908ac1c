"""Reader choice by string (`lumos_envs.qa.readers`), the resolver registry (`lumos_envs.resolvers`),
the LLM reader's prompt, parsing and time limit, and `agents`' registrations."""

from __future__ import annotations

import pickle
import threading

import gymnasium as gym
import pytest

import lumos_envs  # noqa: F401
from agents.backends.scripted import ScriptedBackend
from lumos_envs import resolvers
from lumos_envs.domains import Domain
from lumos_envs.envs.qa import QAEnv
from lumos_envs.qa.llm import LLMReader, parse_answer
from lumos_envs.qa.readers import LazyReader, make_reader
from lumos_envs.tasks.base import Task

TASK = Task(id="t", domain=Domain.QA, source="test", split="test", question="How deep is Lake Orun?", answer="42")
DOCS = '{"title": "Lake Orun", "text": "Lake Orun is a lake in Veltra.\\n\\nThe lake is 42 metres deep."}\n'
HOP = "R1 = KnowledgeQuery(Lake Orun); R2 = ParagraphRetrieve(R1, Query: How deep is it?); R3 = QA([R2], Question: How deep is Lake Orun?)"


@pytest.fixture()
def scheme():
    """A test scheme whose factory counts builds and returns a scripted back-end."""
    built: list[str] = []
    backend = ScriptedBackend(lambda conversation: "Answer: 42 metres.")

    def factory(rest: str):
        built.append(rest)
        return backend

    resolvers.register_text_generator("scriptedtest", factory, replace=True)
    yield built, backend
    resolvers._text_generators.pop("scriptedtest", None)


def _env(tmp_path, **kwargs) -> QAEnv:
    docs = tmp_path / "docs.jsonl"
    docs.write_text(DOCS)
    return QAEnv(tasks=[TASK], corpus=str(docs), dense=False, **kwargs)


def test_registry_errors_are_one_clear_line():
    with pytest.raises(ValueError, match=r"unknown text generator scheme 'nosuch'.*known schemes: .*llm:.*openai:"):
        resolvers.resolve_text_generator("nosuch:x")
    with pytest.raises(ValueError, match="SCHEME:NAME"):
        resolvers.resolve_text_generator("llm:")
    with pytest.raises(ValueError, match="already registered"):
        resolvers.register_text_generator("llm", lambda rest: None)
    with pytest.raises(ValueError, match="lowercase identifier"):
        resolvers.register_vqa_model("Bad-Scheme", lambda rest: None)
    with pytest.raises(ValueError, match="unknown VQA model scheme"):
        resolvers.resolve_vqa_model("nosuch:x")


def test_agents_registers_llm_and_openai():
    assert {"llm", "openai"} <= set(resolvers.known_text_generator_schemes())
    from agents.backends.openai_compat import OpenAICompatBackend
    from agents.tool_models import openai_text_generator

    backend = openai_text_generator("http://127.0.0.1:9/v1#qwen")  # builds a client; sends nothing
    assert isinstance(backend, OpenAICompatBackend)
    assert (backend.config.base_url, backend.config.model, backend.config.mode) == ("http://127.0.0.1:9/v1", "qwen", "chat")
    for bad in ("http://host/v1", "ftp://host#m", "#m"):
        with pytest.raises(ValueError, match="openai:URL#MODEL"):
            openai_text_generator(bad)


def test_reader_strings_are_checked_when_the_env_is_made(tmp_path):
    with pytest.raises(ValueError, match="reader must be 'extractive'"):
        _env(tmp_path, reader="smollm2")
    with pytest.raises(ValueError, match="unknown text generator scheme 'gpt'"):
        _env(tmp_path, reader="gpt:4")
    with pytest.raises(ValueError, match="reader_timeout_s"):
        _env(tmp_path, reader_timeout_s=0)
    with pytest.raises(TypeError):
        make_reader(42)  # type: ignore[arg-type]


def test_llm_reader_by_string_is_lazy_picklable_and_uses_the_lumos_prompt(tmp_path, scheme):
    built, backend = scheme
    env = _env(tmp_path, reader="scriptedtest:model-a")
    assert built == []  # nothing loads when the env is made
    assert pickle.loads(pickle.dumps(env._reader)).spec == "scriptedtest:model-a"
    env.reset(seed=0)
    _, _, _, _, info = env.step(HOP)
    assert not info["invalid_action"], info["last_error"]
    assert info["results"]["R3"] == "42 metres" and built == ["model-a"]
    (message,) = backend.requests[-1]
    assert message["role"] == "user"
    assert message["content"].startswith("Please answer the following question according to the context.")
    assert "Question: How deep is Lake Orun?\nContext: " in message["content"] and "42 metres deep" in message["content"]
    env.step(HOP)
    assert built == ["model-a"]  # resolved once, cached per process


def test_llm_answers_are_parsed():
    assert parse_answer("Answer: Bonn.") == "Bonn"
    assert parse_answer("answer:  Ludwig van Beethoven\nmore") == "Ludwig van Beethoven"
    assert parse_answer("No answer") == "unknown" and parse_answer("   ") == "unknown"
    assert parse_answer("1827") == "1827" and parse_answer("Answerable questions") == "Answerable questions"
    assert parse_answer('The answer to this question is: "India"') == "India"
    assert parse_answer("The answer to this question is: No answer") == "unknown"
    plain = ScriptedBackend(["Answer: 7"])
    reader = LLMReader(_GenerateOnly(plain))
    assert reader.answer(["ctx"], "q?") == "7" and plain.requests[0].startswith("<|user|>\nPlease answer")


class _GenerateOnly:
    """A generator with `generate` only (no chat): the reader serialises the turn itself."""

    def __init__(self, inner: ScriptedBackend) -> None:
        self.inner = inner

    def generate(self, prompts, **kwargs):
        return self.inner.generate(prompts, **kwargs)


def test_a_reader_past_its_time_limit_is_an_error_observation(tmp_path):
    release = threading.Event()

    def slow(conversation):
        release.wait(10)
        return "Answer: late"

    env = _env(tmp_path, reader=ScriptedBackend(slow), reader_timeout_s=0.2)
    env.reset(seed=0)
    try:
        _, reward, terminated, _, info = env.step(HOP)
    finally:
        release.set()
    assert info["invalid_action"] and "no answer within 0.2 s (reader_timeout_s)" in info["last_error"]
    assert reward == 0.0 and not terminated


def test_extractive_is_the_default_and_lazy(tmp_path):
    env = _env(tmp_path)
    assert isinstance(env._reader, LazyReader) and env._reader.spec == "extractive" and env._reader._reader is None


def test_gym_make_accepts_reader_strings(scheme):
    env = gym.make("lumos/QA-v0", reader="scriptedtest:x", reader_timeout_s=5.0, device="cpu")
    assert env.unwrapped._reader.spec == "scriptedtest:x"
    env.close()
