"""`OpenAICompatBackend`: generation through an OpenAI-compatible HTTP server (e.g. vLLM).

Completions (`/v1/completions`, prompts serialised by lumos, e.g. Tulu for LUMOS checkpoints) or
chat (`/v1/chat/completions`, the server applies its template). Requests run with bounded
concurrency; 429, 5xx and timeouts are retried with exponential backoff (other errors fail at
once, with the server's message); responses larger than `max_response_bytes` are refused. The
API key is read from the environment variable named by `api_key_env` at request time and is
never stored on the object, logged, or put in a trace.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, Sequence

from lumos_envs.protocols import Generation

from agents.backends.base import BackendError, Conversation

logger = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class OpenAICompatConfig:
    """Where and how to call the server."""

    base_url: str = "http://127.0.0.1:8000/v1"
    """server root including `/v1`"""
    model: str = "default"
    """model name the server knows"""
    mode: Literal["completions", "chat"] = "completions"
    """`completions` sends prompt strings; `chat` sends conversations"""
    api_key_env: str = "OPENAI_API_KEY"
    """name of the environment variable holding the API key (the key itself is never stored)"""
    max_concurrency: int = 8
    """requests in flight at once"""
    max_retries: int = 4
    """retries after a 429, 5xx or timeout"""
    backoff_s: float = 0.5
    """first retry delay; doubles each retry"""
    timeout_s: float = 60.0
    """per-request timeout, seconds"""
    max_response_bytes: int = 4_000_000
    """larger responses are refused"""
    logprobs: bool = True
    """ask for per-token log-probabilities"""

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {self.max_concurrency}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.mode not in ("completions", "chat"):
            raise ValueError(f"mode must be 'completions' or 'chat', got {self.mode!r}")


class OpenAICompatBackend:
    """A `TextGenerator` (and `ChatGenerator` in chat mode) over HTTP."""

    def __init__(self, config: OpenAICompatConfig = OpenAICompatConfig()) -> None:
        self.config = config
        self.num_requests = 0
        """HTTP requests sent, retries included"""

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int, stop: Sequence[str] = (), temperature: float = 0.0, n: int = 1, seed: int | None = None) -> list[list[Generation]]:
        if self.config.mode == "chat":
            return self.generate_chat([[{"role": "user", "content": p}] for p in prompts], max_new_tokens=max_new_tokens, stop=stop, temperature=temperature, n=n, seed=seed)
        bodies = [dict(self._common(max_new_tokens, stop, temperature, n, seed), prompt=p) for p in prompts]
        return self._run("completions", bodies)

    def generate_chat(self, conversations: Sequence[Conversation], *, max_new_tokens: int, stop: Sequence[str] = (), temperature: float = 0.0, n: int = 1, seed: int | None = None) -> list[list[Generation]]:
        if self.config.mode != "chat":
            raise BackendError("generate_chat needs mode='chat'; in completions mode send serialised prompts")
        bodies = [dict(self._common(max_new_tokens, stop, temperature, n, seed), messages=[dict(m) for m in c]) for c in conversations]
        return self._run("chat/completions", bodies)

    # -----------------------------------------------------------------------------------------

    def _common(self, max_new_tokens: int, stop: Sequence[str], temperature: float, n: int, seed: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.config.model, "max_tokens": max_new_tokens, "temperature": temperature, "n": n}
        if stop:
            body["stop"] = list(stop)
        if seed is not None:
            body["seed"] = seed
        if self.config.logprobs:
            body["logprobs"] = 1 if self.config.mode == "completions" else True
        return body

    def _run(self, endpoint: str, bodies: list[dict[str, Any]]) -> list[list[Generation]]:
        with ThreadPoolExecutor(max_workers=min(self.config.max_concurrency, max(1, len(bodies)))) as pool:
            responses = list(pool.map(lambda body: self._post(endpoint, body), bodies))
        return [self._parse(endpoint, r, body["n"]) for r, body in zip(responses, bodies)]

    def _post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        url = self.config.base_url.rstrip("/") + "/" + endpoint
        data = json.dumps(body).encode("utf-8")
        for attempt in range(self.config.max_retries + 1):
            headers = {"Content-Type": "application/json"}
            key = os.environ.get(self.config.api_key_env)
            if key:
                headers["Authorization"] = f"Bearer {key}"
            request = urllib.request.Request(url, data=data, headers=headers, method="POST")
            self.num_requests += 1
            try:
                with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                    raw = response.read(self.config.max_response_bytes + 1)
                if len(raw) > self.config.max_response_bytes:
                    raise BackendError(f"response from {url} exceeds {self.config.max_response_bytes} bytes")
                return json.loads(raw)
            except urllib.error.HTTPError as error:
                detail = error.read(2000).decode("utf-8", "replace")
                if error.code not in RETRY_STATUS or attempt == self.config.max_retries:
                    raise BackendError(f"{url} answered HTTP {error.code}: {detail[:500]}") from None
                reason = f"HTTP {error.code}"
            except (TimeoutError, socket.timeout) as error:
                if attempt == self.config.max_retries:
                    raise BackendError(f"{url} timed out after {self.config.timeout_s}s ({self.config.max_retries} retries)") from error
                reason = "timeout"
            except urllib.error.URLError as error:
                if not isinstance(error.reason, (TimeoutError, socket.timeout)) or attempt == self.config.max_retries:
                    raise BackendError(f"cannot reach {url}: {error.reason}") from None
                reason = "timeout"
            except json.JSONDecodeError as error:
                raise BackendError(f"{url} returned invalid JSON: {error}") from None
            delay = self.config.backoff_s * (2**attempt)
            logger.warning("%s from %s; retry %d/%d in %.2fs", reason, url, attempt + 1, self.config.max_retries, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")

    def _parse(self, endpoint: str, response: dict[str, Any], n: int) -> list[Generation]:
        try:
            choices = sorted(response["choices"], key=lambda c: c.get("index", 0))
            out = []
            for choice in choices:
                if endpoint == "completions":
                    text = choice["text"]
                    lp = (choice.get("logprobs") or {}).get("token_logprobs")
                else:
                    text = choice["message"]["content"] or ""
                    content = (choice.get("logprobs") or {}).get("content")
                    lp = [t["logprob"] for t in content] if content else None
                finish = choice.get("finish_reason") or "stop"
                out.append(Generation(text=text, token_ids=(), logprobs=tuple(float(x) for x in lp) if lp else None, finish_reason="length" if finish == "length" else "stop"))
        except (KeyError, TypeError, IndexError) as error:
            raise BackendError(f"unexpected response shape from the server ({type(error).__name__}: {error})") from None
        if len(out) != n:
            raise BackendError(f"server returned {len(out)} choices, asked for {n}")
        return out
