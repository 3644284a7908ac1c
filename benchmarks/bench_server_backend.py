"""Episodes per second through the server back-end: 1 episode in flight against 16.

By default the server is a local stub speaking vLLM's `/v1/completions` wire format with a fixed
latency per request (`latency_s`), so the numbers show what batching buys when the model is
remote: with `--api-server vllm` every agent step is one request for all episodes in flight; with
`generic` it is one request per prompt, `api_max_concurrency` at a time. The stub answers like a
LUMOS agent that plans one subgoal, grounds it to a Calculator call and stops, so every episode
makes the same few calls. `--api-base URL --model FOLDER` measures a real server instead (for
example `transformers serve FOLDER` or vLLM); then the episodes do whatever that model does.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

from rollouts.engine import Job, RolloutConfig, run_rollouts
from rollouts.policies import AgentConfig, make_agent


@dataclass
class Args:
    """Benchmark settings."""

    episodes: int = 32
    """episodes per measurement"""
    in_flight: list[int] = field(default_factory=lambda: [1, 16])
    """episodes in flight (RolloutConfig.num_envs) per measurement"""
    latency_s: float = 0.05
    """stub server: seconds each request takes, whatever its size"""
    api_server: Literal["vllm", "generic"] = "vllm"
    """wire protocol of the server back-end"""
    api_max_concurrency: int = 8
    """requests in flight at once (generic sends one per prompt)"""
    api_base: str | None = None
    """a real server to measure instead of the stub (then `model` names its model folder)"""
    model: str = "lumos-stub"
    """model name (and, with api_base, the folder whose tokenizer builds the prompts)"""
    max_new_tokens: int = 32
    """tokens per module call"""
    seed: int = 0


class _StubServer:
    """vLLM-shaped `/v1/completions` with a fixed latency: a LUMOS-I agent that solves in one subgoal."""

    def __init__(self, latency_s: float) -> None:
        self.num_requests = 0
        self.num_prompts = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
                outer.num_requests += 1
                outer.num_prompts += len(prompts)
                time.sleep(latency_s)
                choices = []
                for prompt in prompts:
                    for _ in range(body.get("n", 1)):
                        text = _reply(prompt)
                        choices.append({"index": len(choices), "text": text, "finish_reason": "stop", "stop_reason": "\n",
                                        "token_ids": list(range(3, 3 + len(text.split()))),
                                        "prompt_token_ids": list(range(1, 1 + len(prompt.split()))),
                                        "logprobs": {"token_logprobs": [-0.1] * len(text.split())}})
                payload = json.dumps({"object": "text_completion", "choices": choices}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _reply(prompt: str) -> str:
    """The stub's answer to a Tulu prompt: plan one subgoal, ground it, then stop planning."""
    last_turn = prompt.rsplit("<|user|>\n", 1)[-1]
    if last_turn.startswith("Please ground") or last_turn.startswith("Subgoal to be grounded"):
        return "R1 = Calculator(2 + 3)"
    if "Should we stop planning?" in last_turn:
        return "Yes, I will stop planning."
    return "Subgoal 1: Calculate the total."


def _run(args: Args, api_base: str, num_envs: int, out: str) -> dict:
    config = AgentConfig(agent="lumos", model=args.model, api_base=api_base, api_server=args.api_server,
                         api_max_concurrency=args.api_max_concurrency, max_new_tokens=args.max_new_tokens, max_subgoals=2)
    agent = make_agent(config)
    rollout = RolloutConfig(jobs=[Job("lumos/Math-v0", f"synthetic:shopping_total?size={args.episodes}&seed={args.seed}", args.episodes)],
                            num_envs=num_envs, out=out, overwrite=True, seed=args.seed, progress=False, max_steps=6)
    start = time.perf_counter()
    result = run_rollouts(rollout, agent)
    wall = time.perf_counter() - start
    return {"in_flight": num_envs, "episodes": result.episodes, "wall_s": round(wall, 3),
            "episodes_per_s": round(result.episodes / wall, 3), "agent_share": round(result.agent_s / wall, 3)}


def main(args: Args | None = None) -> dict:
    args = args or Args()
    stub = None if args.api_base else _StubServer(args.latency_s)
    api_base = args.api_base or stub.url  # type: ignore[union-attr]
    runs = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            for num_envs in args.in_flight:
                before = (stub.num_requests, stub.num_prompts) if stub else (0, 0)
                run = _run(args, api_base, num_envs, os.path.join(folder, f"run{num_envs}.jsonl"))
                if stub:
                    run["requests"] = stub.num_requests - before[0]
                    run["prompts"] = stub.num_prompts - before[1]
                runs.append(run)
    finally:
        if stub:
            stub.close()
    first = runs[0]["episodes_per_s"]
    report = {"benchmark": "server_backend", "args": asdict(args), "server": "stub" if stub else args.api_base,
              "hardware": {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()},
              "runs": runs, "speedup": round(runs[-1]["episodes_per_s"] / first, 2) if first else None}
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    from rollouts.cli import _config_from, add_dataclass_arguments

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataclass_arguments(parser, Args)
    main(_config_from(parser.parse_args(), Args))
