"""A stub OpenAI-compatible server for measuring and testing the engine without a model.

`StubServer` speaks vLLM's `/v1/completions` wire format (a string or a list `prompt`, `n`,
choices flat and prompt-major, each with `text`, `finish_reason`, `stop_reason`, `token_ids`,
`prompt_token_ids` and `logprobs.token_logprobs`), which is what
`agents.backends.openai_compat.OpenAICompatBackend` expects with either `server` kind, and lists
its model at `/v1/models`. Each request takes `latency_s` whatever its size, like a server whose
cost is dominated by a fixed per-request time, so the numbers isolate the engine and the back-end.

It answers Tulu prompts like a LUMOS-I agent on a maths word problem: the planner proposes
`Subgoal k: ...` until the task's own count of subgoals (1 to 3, from a hash of the task text, so
episodes differ in length), the grounder turns subgoal k into a Calculator call, and the planner
then says `Yes, I will stop planning.`. The answer depends only on the prompt, never on the batch
or the order of arrival, so serial and concurrent runs must give the same trajectories. Every
request body is kept (`bodies`), with the most requests that were in flight at once.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_USER = "<|user|>\n"
_ASSISTANT = "<|assistant|>\n"


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog of 5 drops connections beyond it, and clients retry a second later


class StubServer:
    """A vLLM-shaped completions server on a free loopback port, in a thread (see the module docstring).

    Args:
        latency_s: seconds each request takes before it is answered.
        model: the one model name it serves.
    """

    def __init__(self, latency_s: float = 0.0, model: str = "lumos-stub") -> None:
        self.latency_s = latency_s
        self.model = model
        self.bodies: list[dict[str, Any]] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": outer.model, "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if not self.path.rstrip("/").endswith("/completions") or "prompt" not in body:
                    self._send(404, {"error": {"message": f"the stub serves /v1/completions only, not {self.path}"}})
                    return
                self._send(200, outer._answer(body))

            def _send(self, code: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode("utf-8")
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def num_requests(self) -> int:
        return len(self.bodies)

    @property
    def prompts(self) -> list[str]:
        """Every prompt received, in order of arrival."""
        with self._lock:
            bodies = list(self.bodies)
        return [p for b in bodies for p in (b["prompt"] if isinstance(b["prompt"], list) else [b["prompt"]])]

    def _answer(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.bodies.append(body)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            time.sleep(self.latency_s)
            prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
            choices = []
            for prompt in prompts:
                for _ in range(int(body.get("n", 1))):
                    text = reply(prompt)
                    words = text.split()
                    choices.append({"index": len(choices), "text": text, "finish_reason": "stop", "stop_reason": "\n",
                                    "token_ids": [3 + len(w) for w in words],
                                    "prompt_token_ids": [1 + len(w) % 50 for w in prompt.split()],
                                    "logprobs": {"token_logprobs": [-0.1] * len(words)}})
            return {"object": "text_completion", "model": self.model, "choices": choices}
        finally:
            with self._lock:
                self._in_flight -= 1

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "StubServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def reply(prompt: str) -> str:
    """The stub's answer to a Tulu planner or grounder prompt (see the module docstring)."""
    turns = prompt.split(_USER)
    first_turn = turns[1] if len(turns) > 1 else prompt
    task = first_turn.split("Task: ", 1)[-1].split("?", 1)[0]  # the planner's and the grounder's agree on it
    wanted = 1 + int(hashlib.sha256(task.encode("utf-8")).hexdigest(), 16) % 3
    if first_turn.startswith("Please ground"):
        number = _last_subgoal_number(turns[-1])
        return f"R{number} = Calculator({number} + {wanted})"
    done = prompt.count(_ASSISTANT) - 1  # subgoals already planned (the prompt ends with an open assistant turn)
    if done >= wanted:
        return "Yes, I will stop planning."
    return f"Subgoal {done + 1}: Calculate step {done + 1} of the total."


def _last_subgoal_number(text: str) -> int:
    found = re.findall(r"Subgoal (\d+)", text)
    return int(found[-1]) if found else 1
