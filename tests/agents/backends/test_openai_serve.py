"""The server back-end against a real OpenAI-compatible server: `transformers serve` on 127.0.0.1.

The server runs the tiny ai2lumos-shaped checkpoint in float32 on the CPU. A small recording proxy
sits between client and server, so the tests see exactly what arrives: the prompt string, character
for character, and the fields of each request. `transformers serve` 5.x is the kind of server
`--api-server generic` exists for: it rejects a list `prompt` (HTTP 400), ignores `n` and
`logprobs`, and answers 422 to fields it does not know.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agents.backends.base import BackendError
from agents.backends.openai_compat import OpenAICompatBackend, OpenAICompatConfig, server_backend
from agents.prompts import PLAN_INSTRUCTION

pytestmark = pytest.mark.slow

STARTUP_S = 180.0
STANDARD_FIELDS = {"model", "prompt", "max_tokens", "temperature", "stop", "seed"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _transformers_cli() -> list[str]:
    script = Path(sys.executable).parent / "transformers"
    if not script.is_file():
        pytest.fail(f"the transformers CLI is not installed next to {sys.executable} (pip install 'transformers[serving]')")
    return [str(script)]


@pytest.fixture(scope="module")
def serve_url(ai2lumos_served_dir, tmp_path_factory):
    """`transformers serve FOLDER --dtype float32` on a free port; stopped (by its pid) afterwards."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [*_transformers_cli(), "serve", str(ai2lumos_served_dir), "--dtype", "float32", "--device", "cpu",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"transformers serve exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"transformers serve did not answer /health within {STARTUP_S:g}s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url + "/v1"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class _RecordingProxy:
    """Forwards every request to the server and keeps what arrived (method, path, raw body)."""

    def __init__(self, upstream: str):
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self, data: bytes | None) -> None:
                path = self.path[len("/v1"):] if self.path.startswith("/v1") else self.path
                outer.requests.append({"method": self.command, "path": self.path, "raw": data,
                                       "body": json.loads(data) if data else None})
                request = urllib.request.Request(upstream + path, data=data, method=self.command,
                                                 headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(request, timeout=120) as response:
                        status, payload = response.status, response.read()
                except urllib.error.HTTPError as error:
                    status, payload = error.code, error.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self):
                self._forward(None)

            def do_POST(self):
                self._forward(self.rfile.read(int(self.headers["Content-Length"])))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def posts(self) -> list[dict]:
        return [r for r in self.requests if r["method"] == "POST"]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def proxy(serve_url):
    p = _RecordingProxy(serve_url)
    yield p
    p.close()


@pytest.fixture(scope="module")
def local_backend(ai2lumos_served_dir):
    from agents.backends.transformers import TransformersBackend

    return TransformersBackend.from_pretrained(str(ai2lumos_served_dir), device="cpu", dtype="float32")


def _agent_config(folder, proxy, **kwargs):
    from rollouts.policies import AgentConfig

    return AgentConfig(agent="lumos", model=str(folder), api_base=proxy.url, api_server="generic", **kwargs)


CONVERSATION = [
    {"role": "user", "content": PLAN_INSTRUCTION + "Task: Mary has 3 apples and buys 5 more. How many apples does she have?; "
                                                   "Initial Environment Description: None."},
    {"role": "assistant", "content": "Subgoal 1: Calculate the total number of apples."},
    {"role": "user", "content": "The executed result for Subgoal 1 is 8. Should we stop planning?"},
]


def test_the_prompt_arrives_character_for_character_and_generation_matches_the_local_model(ai2lumos_served_dir, proxy, local_backend):
    config = _agent_config(ai2lumos_served_dir, proxy)
    backend = server_backend(config.module("planner"), config)
    out = backend.generate_chat([CONVERSATION], max_new_tokens=12, stop=["\n"])
    [request] = proxy.posts()
    assert request["path"] == "/v1/completions"
    assert request["body"]["prompt"] == local_backend.format_chat(CONVERSATION)
    assert request["body"]["prompt"].endswith("Subgoal 1: Calculate the total number of apples.</s>\n<|user|>\n"
                                              "The executed result for Subgoal 1 is 8. Should we stop planning?\n<|assistant|>\n")
    assert set(request["body"]) <= STANDARD_FIELDS  # a generic server gets no vLLM fields (transformers serve: 422)
    local = local_backend.generate_chat([CONVERSATION], max_new_tokens=12, stop=["\n"])
    assert out[0][0].text == local[0][0].text  # same weights, greedy, float32: the same words
    assert out[0][0].token_ids == () and out[0][0].prompt_token_ids is None and out[0][0].logprobs is None


def test_generic_repeats_requests_for_n_with_distinct_seeds(ai2lumos_served_dir, proxy):
    config = _agent_config(ai2lumos_served_dir, proxy)
    backend = server_backend(config.module("planner"), config)
    out = backend.generate(["<|user|>\nhello\n<|assistant|>\n", "<|user|>\nbye\n<|assistant|>\n"], max_new_tokens=3,
                           temperature=1.0, n=2, seed=7)
    assert [len(g) for g in out] == [2, 2]
    sent = proxy.posts()
    assert len(sent) == 4 and all(isinstance(r["body"]["prompt"], str) and "n" not in r["body"] for r in sent)
    assert sorted((r["body"]["prompt"][9:12], r["body"]["seed"]) for r in sent) == [("bye", 7), ("bye", 8), ("hel", 7), ("hel", 8)]


def test_vllm_mode_against_this_server_says_to_use_generic(ai2lumos_served_dir, proxy):
    config = _agent_config(ai2lumos_served_dir, proxy)
    backend = OpenAICompatBackend(OpenAICompatConfig(base_url=proxy.url, model=str(ai2lumos_served_dir), server="vllm"),
                                  server_backend(config.module("planner"), config).prompt_format)
    with pytest.raises(BackendError, match=r"HTTP (400|422).*try --api-server generic"):
        backend.generate(["a", "b"], max_new_tokens=2)


def test_a_wrong_model_name_lists_what_the_server_serves(ai2lumos_served_dir, proxy):
    backend = OpenAICompatBackend(OpenAICompatConfig(base_url=proxy.url, model="lumos-maths-plan", server="generic"))
    with pytest.raises(BackendError, match=rf"does not serve model 'lumos-maths-plan' \(it serves: {ai2lumos_served_dir}\)"):
        backend.generate(["a"], max_new_tokens=2)


def test_episodes_finish_through_the_server(ai2lumos_served_dir, proxy, tmp_path, caplog):
    from rollouts.engine import Job, RolloutConfig, run_rollouts
    from rollouts.policies import make_agent
    from rollouts.store import read_trajectories

    config = _agent_config(ai2lumos_served_dir, proxy, max_new_tokens=16, max_subgoals=2)
    agent = make_agent(config)
    out = tmp_path / "run.jsonl"
    with caplog.at_level(logging.WARNING, logger="agents.backends.openai_compat"):
        result = run_rollouts(RolloutConfig(jobs=[Job("lumos/Math-v0", "synthetic:shopping_total?size=2&seed=3")], num_envs=2,
                                            max_steps=4, out=str(out), agent_info=config.info(), progress=False), agent)
    _, trajectories = read_trajectories(out)
    assert result.episodes == 2 and len(trajectories) == 2
    generations = [g for t in trajectories for s in t.steps for g in s.generations]
    assert generations and all(g.token_ids == [] and g.prompt_ids is None and g.logprobs is None for g in generations)
    assert all(t.agent.get("api_server") == "generic" for t in trajectories)  # the trajectory says why there are no ids
    posts = proxy.posts()
    assert posts and all(set(r["body"]) <= STANDARD_FIELDS and isinstance(r["body"]["prompt"], str) for r in posts)
    assert all(r["body"]["prompt"].startswith("<|user|>\nPlease ") and r["body"]["prompt"].endswith("<|assistant|>\n") for r in posts)
    assert any(r["body"]["prompt"].startswith("<|user|>\n" + PLAN_INSTRUCTION) for r in posts)
    warnings = [r for r in caplog.records if "no token ids" in r.getMessage()]
    assert len(warnings) == 1  # said once, not per request
