"""The server back-end against a vLLM-shaped fake server, whose wire format is written out here.

The fake follows vLLM's `/v1/completions` (`vllm/entrypoints/openai/completion/protocol.py` and
`serving.py`): `prompt` is a string or a list of strings; `choices` come back flat, prompt-major,
`index = len(choices so far)`; with `return_token_ids` each choice carries `token_ids` (the
generated ids, including the token that completed a stop string or the EOS) and
`prompt_token_ids` (tokenised with `add_special_tokens`); `text` has the stop string stripped;
`stop_reason` is the stop string (None for EOS); `finish_reason` is `stop` or `length`;
`logprobs` is `{text_offset, token_logprobs, tokens, top_logprobs}`. Errors are vLLM's
`{"object": "error", "message", "type", "param", "code"}`; an unknown model is a 404.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agents.backends.base import BackendError
from agents.backends.openai_compat import OpenAICompatBackend, OpenAICompatConfig, PromptFormat, completions_format, server_backend
from agents.prompts import tulu_prompt

SECRET = "sk-test-not-a-real-key"
MODEL = "served-model"


def _continuation(prompt: str, sample: int) -> str:
    """What the fake 'model' writes after a prompt: a LUMOS-looking line, then more text."""
    if "length" in prompt:
        return "Subgoal 1: Calculate the total number of apples and then some more words"
    if "eos" in prompt:
        return "R1 = Calculator(3 + 5)"  # then EOS
    return f"Subgoal {sample + 1}: Calculate the total number of apples.\n<|user|>\nmore"


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that timed out on purpose leaves a broken pipe behind


class _VLLMServer:
    """A fake vLLM server: tokenises with the model's tokenizer and answers in vLLM's format."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.requests: list[dict] = []
        self.failures: list[int] = []
        self.mode = "ok"
        self.delay_s = 0.0
        self.max_model_len = 2048
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "vllm", "max_model_len": outer.max_model_len}]})
                else:
                    self._send(404, {"detail": "Not Found"})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                if outer.delay_s:
                    time.sleep(outer.delay_s)
                if outer.failures:
                    code = outer.failures.pop(0)
                    return self._send(code, {"object": "error", "message": "try later", "type": "ServiceUnavailableError", "param": None, "code": code})
                if body.get("model") != MODEL:
                    return self._send(404, {"object": "error", "message": f"The model `{body.get('model')}` does not exist.",
                                            "type": "NotFoundError", "param": "model", "code": 404})
                if outer.mode == "not-json":
                    return self._raw(200, b"<html>502 Bad Gateway</html>")
                if outer.mode == "truncated":
                    return self._raw(200, b'{"choices": [{"index": 0, "te', announce=400)
                if self.path.endswith("/chat/completions"):
                    text = "chat:" + body["messages"][-1]["content"]
                    choices = [{"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop",
                                "logprobs": {"content": [{"token": "a", "logprob": -0.5, "bytes": [97], "top_logprobs": []}]}}
                               for i in range(body.get("n", 1))]
                    return self._send(200, {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": MODEL, "choices": choices})
                prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
                choices = []
                for prompt in prompts:
                    for sample in range(body.get("n", 1)):
                        choices.append(outer.choice(len(choices), prompt, sample, body))
                if outer.mode == "fewer":
                    choices = choices[:-1]
                if outer.mode == "bad-ids":
                    choices[0]["token_ids"] = ["12", 7]
                if outer.mode == "no-choices":
                    return self._send(200, {"id": "cmpl-1", "object": "text_completion", "model": MODEL, "usage": {}})
                usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
                self._send(200, {"id": "cmpl-1", "object": "text_completion", "created": 0, "model": MODEL, "choices": choices, "usage": usage})

            def _send(self, code, payload):
                self._raw(code, json.dumps(payload).encode())

            def _raw(self, code, data, announce=None):
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(announce or len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
                if announce:
                    self.close_connection = True

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def choice(self, index: int, prompt: str, sample: int, body: dict) -> dict:
        """One vLLM choice: ids up to the token completing a stop string (text without it), or to
        `max_tokens` (`length`), or the continuation then EOS."""
        tok = self.tokenizer
        ids = tok(_continuation(prompt, sample), add_special_tokens=False)["input_ids"]
        stop, limit = body.get("stop") or [], body["max_tokens"]
        kept, text, finish, stop_reason = None, None, "stop", None
        for k in range(1, min(len(ids), limit) + 1):
            decoded = tok.decode(ids[:k], skip_special_tokens=True)
            hits = [(decoded.find(s), s) for s in stop if s in decoded]
            if hits:
                position, stop_reason = min(hits)
                kept, text = ids[:k], decoded[:position]
                break
        if kept is None and len(ids) >= limit:
            kept, finish = ids[:limit], "length"
            text = tok.decode(kept, skip_special_tokens=True)
        elif kept is None:
            kept = [*ids, tok.eos_token_id]
            text = tok.decode(kept, skip_special_tokens=True)
        choice = {"index": index, "text": text, "finish_reason": finish, "stop_reason": stop_reason, "prompt_logprobs": None}
        if body.get("logprobs") is not None:
            tokens = [tok.decode([i]) for i in kept]
            choice["logprobs"] = {"text_offset": [sum(len(t) for t in tokens[:i]) for i in range(len(tokens))],
                                  "token_logprobs": [-0.25 * (i + 1) for i in range(len(kept))], "tokens": tokens,
                                  "top_logprobs": [{t: -0.25 * (i + 1)} for i, t in enumerate(tokens)]}
        if body.get("return_token_ids"):
            choice["token_ids"] = list(kept)
            bos = True if self.mode == "bos-always" else body.get("add_special_tokens", True)
            choice["prompt_token_ids"] = tok(prompt, add_special_tokens=bos)["input_ids"]
        return choice

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def tokenizer(ai2lumos_served_dir):
    from agents.backends.transformers import load_tokenizer

    return load_tokenizer(str(ai2lumos_served_dir))


@pytest.fixture()
def server(tokenizer):
    s = _VLLMServer(tokenizer)
    yield s
    s.close()


def _backend(server, tokenizer, **kwargs) -> OpenAICompatBackend:
    config = OpenAICompatConfig(base_url=server.url, model=MODEL, **{"backoff_s": 0.01, **kwargs})
    return OpenAICompatBackend(config, PromptFormat("tulu", tokenizer, "ckpt"))


CONVERSATIONS = [
    [{"role": "user", "content": f"Please provide a reasonable subgoal-based plan to solve the given task.\nTask: question {i}; "
                                 "Initial Environment Description: None."}]
    for i in range(3)
]


def test_vllm_sends_one_request_per_batch_with_list_prompts_n_stop_and_seed(server, tokenizer):
    backend = _backend(server, tokenizer)
    out = backend.generate_chat(CONVERSATIONS, max_new_tokens=40, stop=["\n"], temperature=0.7, n=2, seed=5)
    assert len(server.requests) == 1
    body = server.requests[0]["body"]
    assert body["prompt"] == [tulu_prompt(c, eos="</s>") for c in CONVERSATIONS]
    assert body["prompt"][0].endswith("Initial Environment Description: None.\n<|assistant|>\n")
    assert (body["n"], body["stop"], body["seed"], body["temperature"], body["max_tokens"]) == (2, ["\n"], 5, 0.7, 40)
    assert body["return_token_ids"] is True and body["logprobs"] == 1 and body["add_special_tokens"] is True
    assert [len(g) for g in out] == [2, 2, 2]
    for generations, prompt in zip(out, body["prompt"]):
        for sample, g in enumerate(generations):  # prompt-major choices land on their (prompt, sample)
            assert g.text == f"Subgoal {sample + 1}: Calculate the total number of apples."
            assert g.finish_reason == "stop" and g.stop_text.startswith("\n")
            assert tokenizer.decode(list(g.token_ids), skip_special_tokens=True) == g.text + g.stop_text
            assert g.logprobs == tuple(-0.25 * (i + 1) for i in range(len(g.token_ids)))
            assert list(g.prompt_token_ids) == tokenizer(prompt)["input_ids"] and g.prompt_token_ids[0] == tokenizer.bos_token_id


def test_long_conversations_are_shortened_to_the_served_context_as_locally(server, tokenizer):
    server.max_model_len = 160  # vLLM's --max-model-len, smaller than the folder's 2048 positions
    backend = OpenAICompatBackend(OpenAICompatConfig(base_url=server.url, model=MODEL), PromptFormat("tulu", tokenizer, "ckpt", 2048))
    backend.check_server()
    filler = " ".join(["Calculate the total number of apples."] * 4)
    conversation = [CONVERSATIONS[0][0]]
    for k in range(1, 4):
        conversation += [{"role": "assistant", "content": f"Subgoal {k}: {filler}"},
                         {"role": "user", "content": f"The executed result for Subgoal {k} is {k}. Should we stop planning?"}]
    backend.generate_chat([conversation], max_new_tokens=40, stop=["\n"])
    body = server.requests[-1]["body"]
    [prompt] = body["prompt"]
    assert prompt.startswith("<|user|>\n" + CONVERSATIONS[0][0]["content"] + "\n")  # the instruction and Task: stay
    assert prompt.endswith("The executed result for Subgoal 3 is 3. Should we stop planning?\n<|assistant|>\n")
    assert "Subgoal 1: " not in prompt and backend.prompts_cut == 1
    assert len(tokenizer(prompt)["input_ids"]) + body["max_tokens"] <= 160 and body["max_tokens"] <= 40


def test_length_is_truncated_and_eos_is_stop_with_its_id_kept(server, tokenizer):
    backend = _backend(server, tokenizer)
    long = backend.generate(["length please"], max_new_tokens=6, stop=["\n"])[0][0]
    eos = backend.generate(["eos please"], max_new_tokens=40, stop=["\n"])[0][0]
    assert long.finish_reason == "truncated" and len(long.token_ids) == 6 and long.stop_text == ""
    assert eos.finish_reason == "stop" and eos.token_ids[-1] == tokenizer.eos_token_id
    assert eos.text == "R1 = Calculator(3 + 5)" and eos.stop_text == ""
    assert server.requests[1]["body"]["prompt"] == ["eos please"]


def test_the_prompt_style_decides_bos_and_a_server_that_differs_is_reported_once(server, tokenizer, caplog):
    backend = OpenAICompatBackend(OpenAICompatConfig(base_url=server.url, model=MODEL), PromptFormat("lumos-eval", tokenizer, "ckpt"))
    out = backend.generate_chat(CONVERSATIONS[:1], max_new_tokens=40, stop=["\n"])
    assert server.requests[-1]["body"]["add_special_tokens"] is False  # LUMOS's eval scripts tokenise without BOS
    assert out[0][0].prompt_token_ids[0] != tokenizer.bos_token_id
    server.mode = "bos-always"  # a server that adds BOS whatever it is told
    with caplog.at_level(logging.WARNING):
        backend = OpenAICompatBackend(OpenAICompatConfig(base_url=server.url, model=MODEL), PromptFormat("lumos-eval", tokenizer, "ckpt"))
        for _ in range(2):
            backend.generate_chat(CONVERSATIONS, max_new_tokens=40, stop=["\n"])
    assert len([r for r in caplog.records if "BOS handling differs" in r.getMessage()]) == 1


def test_big_batches_are_split_into_concurrent_requests(server, tokenizer):
    backend = _backend(server, tokenizer, max_prompts_per_request=2)
    out = backend.generate([f"prompt {i}" for i in range(5)], max_new_tokens=40, stop=["\n"])
    assert len(out) == 5 and sorted(len(r["body"]["prompt"]) for r in server.requests) == [1, 2, 2]


@pytest.mark.parametrize("mode, message", [
    ("not-json", "malformed response from .*not JSON"),
    ("truncated", "truncated response from"),
    ("fewer", "has 5 choices, asked for 6; a server that ignores `n` or list prompts needs --api-server generic"),
    ("bad-ids", r"malformed .*choices\[0\].token_ids: not a list of token ids"),
    ("no-choices", "malformed .*no list of choices"),
])
def test_bad_bodies_are_one_clear_line(server, tokenizer, mode, message):
    server.mode = mode
    backend = _backend(server, tokenizer)
    with pytest.raises(BackendError, match=message) as error:
        backend.generate_chat(CONVERSATIONS, max_new_tokens=40, stop=["\n"], temperature=0.5, n=2)
    assert "\n" not in str(error.value)


def test_a_wrong_model_name_lists_the_served_models(server, tokenizer):
    backend = OpenAICompatBackend(OpenAICompatConfig(base_url=server.url, model="lumos-maths"), PromptFormat("tulu", tokenizer))
    with pytest.raises(BackendError, match=r"does not serve model 'lumos-maths' \(it serves: served-model\); pass its name with --api-model"):
        backend.generate(["abc"], max_new_tokens=2)


def test_an_unreachable_server_is_one_clear_line():
    backend = OpenAICompatBackend(OpenAICompatConfig(base_url="http://127.0.0.1:9/v1", max_retries=0, timeout_s=2))
    with pytest.raises(BackendError, match=r"cannot reach the server at http://127.0.0.1:9/v1 .*--api-base"):
        backend.generate(["abc"], max_new_tokens=2)


def test_key_comes_from_the_environment_and_is_never_stored(server, tokenizer, monkeypatch):
    monkeypatch.setenv("LUMOS_TEST_KEY", SECRET)
    backend = _backend(server, tokenizer, api_key_env="LUMOS_TEST_KEY")
    backend.generate(["abc"], max_new_tokens=4, stop=["\n"])
    assert server.requests[0]["auth"] == f"Bearer {SECRET}"
    assert SECRET not in repr(backend.config) and SECRET not in json.dumps(backend.config.__dict__) and SECRET not in repr(vars(backend))


def test_retries_429_and_5xx_with_backoff_then_succeeds(server, tokenizer, caplog):
    server.failures = [429, 503]
    backend = _backend(server, tokenizer, max_retries=3)
    with caplog.at_level(logging.WARNING):
        out = backend.generate(["abc"], max_new_tokens=40, stop=["\n"])
    assert out[0][0].text.startswith("Subgoal 1") and backend.num_requests == 3
    assert "HTTP 429" in caplog.text and "HTTP 503" in caplog.text


def test_client_errors_are_not_retried_and_retries_are_bounded(server, tokenizer):
    server.failures = [400]
    backend = _backend(server, tokenizer)
    with pytest.raises(BackendError, match="HTTP 400: try later"):
        backend.generate(["abc"], max_new_tokens=2)
    assert backend.num_requests == 1
    server.failures = [500] * 10
    backend = _backend(server, tokenizer, max_retries=2)
    with pytest.raises(BackendError, match="HTTP 500"):
        backend.generate(["abc"], max_new_tokens=2)
    assert backend.num_requests == 3


def test_timeouts_are_retried_then_reported(server, tokenizer):
    server.delay_s = 0.5
    backend = _backend(server, tokenizer, timeout_s=0.1, max_retries=1)
    with pytest.raises(BackendError, match="timed out after 0.1s"):
        backend.generate(["abc"], max_new_tokens=2)
    assert backend.num_requests == 2


def test_oversized_responses_are_refused(server, tokenizer):
    backend = _backend(server, tokenizer, max_response_bytes=200)
    with pytest.raises(BackendError, match="exceeds 200 bytes"):
        backend.generate(["abc"], max_new_tokens=40, stop=["\n"])


def test_chat_mode_sends_conversations(server):
    backend = OpenAICompatBackend(OpenAICompatConfig(base_url=server.url, model=MODEL, mode="chat"))
    out = backend.generate_chat([[{"role": "user", "content": "hello"}]], max_new_tokens=4, n=2, temperature=1.0)
    assert [g.text for g in out[0]] == ["chat:hello", "chat:hello"] and out[0][0].logprobs == (-0.5,)
    assert server.requests[0]["path"] == "/v1/chat/completions" and server.requests[0]["body"]["messages"] == [{"role": "user", "content": "hello"}]


def test_completions_mode_needs_a_tokenizer_except_for_lumos_checkpoints(ai2lumos_served_dir, tokenizer):
    fmt, placeholders = completions_format(str(ai2lumos_served_dir), None, load=lambda _path: tokenizer)
    assert fmt.style == "tulu" and fmt.tokenizer is tokenizer and not placeholders  # no chat template: Tulu, as locally
    fmt, _ = completions_format("ai2lumos/lumos_maths_plan_iterative", None)
    assert fmt.style == "tulu" and fmt.tokenizer is None and fmt.format(CONVERSATIONS[0]) == tulu_prompt(CONVERSATIONS[0])
    with pytest.raises(ValueError, match="pass --model FOLDER .* or use --api-mode chat"):
        completions_format(None, "gpt-4o-mini")


def test_server_backend_builds_from_agent_settings(server, ai2lumos_served_dir):
    from rollouts.policies import AgentConfig

    config = AgentConfig(agent="lumos", model=str(ai2lumos_served_dir), api_base=server.url, api_model=MODEL, api_max_concurrency=3)
    backend = server_backend(config.module("planner"), config)
    assert backend.config.server == "vllm" and backend.config.max_concurrency == 3 and backend.prompt_format.style == "tulu"
    chat = AgentConfig(agent="lumos", api_base=server.url, api_model=MODEL, api_mode="chat", api_server="generic")
    assert server_backend(chat.module("grounder"), chat).prompt_format is None
    with pytest.raises(ValueError, match="--api-mode chat"):
        server_backend(AgentConfig(agent="lumos", api_base=server.url, api_model="gpt-4o-mini").module("planner"), AgentConfig())


def test_a_wrong_address_or_model_fails_when_the_agent_is_built(server):
    from rollouts.policies import AgentConfig, make_agent

    with pytest.raises(BackendError, match="does not serve model 'gpt-4o-mini' .it serves: served-model."):
        make_agent(AgentConfig(agent="lumos", api_base=server.url, api_model="gpt-4o-mini", api_mode="chat"))
    with pytest.raises(BackendError, match="cannot reach the server at http://127.0.0.1:9/v1"):
        make_agent(AgentConfig(agent="lumos", api_base="http://127.0.0.1:9/v1", api_model="lumos-maths"))
