"""The OpenAI-compatible back-end against a small local server speaking the OpenAI wire format."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agents.backends.base import BackendError
from agents.backends.openai_compat import OpenAICompatBackend, OpenAICompatConfig

SECRET = "sk-test-not-a-real-key"


class _Server:
    def __init__(self):
        self.requests: list[dict] = []
        self.failures: list[int] = []
        self.huge = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                if outer.failures:
                    code = outer.failures.pop(0)
                    self.send_response(code)
                    self.end_headers()
                    self.wfile.write(b'{"error": "try later"}')
                    return
                if self.path.endswith("/chat/completions"):
                    text = "chat:" + body["messages"][-1]["content"]
                    choices = [{"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop", "logprobs": {"content": [{"token": "a", "logprob": -0.5}]}} for i in range(body["n"])]
                else:
                    text = ("x" * 100_000) if outer.huge else "echo:" + body["prompt"][-5:]
                    choices = [{"index": i, "text": text, "finish_reason": "length", "logprobs": {"token_logprobs": [-0.1, -0.2]}} for i in range(body["n"])]
                payload = json.dumps({"choices": choices}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server():
    s = _Server()
    yield s
    s.close()


def test_completions_keep_prompt_order_and_send_the_key_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("LUMOS_TEST_KEY", SECRET)
    backend = OpenAICompatBackend(OpenAICompatConfig(base_url=server.url, api_key_env="LUMOS_TEST_KEY", max_concurrency=4))
    prompts = [f"prompt number {i:05d}" for i in range(10)]
    out = backend.generate(prompts, max_new_tokens=5, stop=["\n"], n=2, seed=3)
    assert [g[0].text for g in out] == ["echo:" + p[-5:] for p in prompts]
    assert all(len(g) == 2 and g[0].logprobs == (-0.1, -0.2) and g[0].finish_reason == "length" for g in out)
    body = server.requests[0]["body"]
    assert body["stop"] == ["\n"] and body["max_tokens"] == 5 and body["seed"] == 3
    assert {r["auth"] for r in server.requests} == {f"Bearer {SECRET}"}
    assert SECRET not in repr(backend.config) and SECRET not in json.dumps(backend.config.__dict__)


def test_chat_mode_sends_conversations(server):
    backend = OpenAICompatBackend(OpenAICompatConfig(base_url=server.url, mode="chat"))
    out = backend.generate_chat([[{"role": "user", "content": "hello"}]], max_new_tokens=4)
    assert out[0][0].text == "chat:hello" and out[0][0].logprobs == (-0.5,)
    assert server.requests[0]["path"] == "/v1/chat/completions"


def test_retries_429_and_5xx_with_backoff_then_succeeds(server, caplog):
    server.failures = [429, 503]
    backend = OpenAICompatBackend(OpenAICompatConfig(base_url=server.url, backoff_s=0.01, max_retries=3))
    with caplog.at_level(logging.WARNING):
        out = backend.generate(["abcdef"], max_new_tokens=2)
    assert out[0][0].text == "echo:bcdef" and backend.num_requests == 3
    assert "HTTP 429" in caplog.text and SECRET not in caplog.text


def test_client_errors_are_not_retried(server):
    server.failures = [400]
    backend = OpenAICompatBackend(OpenAICompatConfig(base_url=server.url, backoff_s=0.01))
    with pytest.raises(BackendError, match="HTTP 400"):
        backend.generate(["abc"], max_new_tokens=2)
    assert backend.num_requests == 1


def test_retries_are_bounded(server):
    server.failures = [500] * 10
    backend = OpenAICompatBackend(OpenAICompatConfig(base_url=server.url, backoff_s=0.001, max_retries=2))
    with pytest.raises(BackendError, match="HTTP 500"):
        backend.generate(["abc"], max_new_tokens=2)
    assert backend.num_requests == 3


def test_oversized_responses_are_refused(server):
    server.huge = True
    backend = OpenAICompatBackend(OpenAICompatConfig(base_url=server.url, max_response_bytes=10_000))
    with pytest.raises(BackendError, match="exceeds"):
        backend.generate(["abc"], max_new_tokens=2)


def test_unreachable_server_is_a_clear_error():
    backend = OpenAICompatBackend(OpenAICompatConfig(base_url="http://127.0.0.1:9/v1", max_retries=0, timeout_s=2))
    with pytest.raises(BackendError, match="cannot reach|timed out"):
        backend.generate(["abc"], max_new_tokens=2)
