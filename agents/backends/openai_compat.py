"""`OpenAICompatBackend`: generation through an OpenAI-compatible HTTP server (vLLM and others).

Two modes:

- `completions` (default, `/v1/completions`): lumos sends the exact prompt string, built by the
  same code as the transformers back-end (`agents.backends.serialise`) from the module's prompt
  style and, where there is one, the model's own tokenizer (`PromptFormat`). A served checkpoint
  therefore sees character for character what it would see loaded locally.
- `chat` (`/v1/chat/completions`): the server applies its own chat template (hosted chat models).

Two kinds of server:

- `vllm` (default): one request per batch (a list of prompts, with `n`, `stop`, `temperature`,
  `seed`), `return_token_ids` and `logprobs`, `add_special_tokens` as the prompt style needs.
  The wire format is vLLM's (`vllm/entrypoints/openai/completion/protocol.py`): choices come back
  flat, prompt-major (`index = prompt * n + sample`), each with `text`, `finish_reason`,
  `stop_reason`, `token_ids`, `prompt_token_ids` and `logprobs.token_logprobs`. The ids are
  trusted over the text: vLLM strips the stop string from `text` but its ids include the token
  that completed it, so with the tokenizer lumos fills `stop_text` so that `decode(token_ids) ==
  text + stop_text`, as the transformers back-end does.
- `generic` (e.g. `transformers serve`, which rejects a list `prompt` with HTTP 400, ignores `n`
  and `logprobs`, and answers 422 to unknown fields): only standard fields, one request per
  prompt and sample (seeds `seed + sample`), concurrent up to `max_concurrency`; no token ids
  (said once in the log; generations carry `token_ids=()` and `prompt_token_ids=None`). Text is
  cut at the first stop string here, since such servers may leave it in.

Prefix caching is the server's job (vLLM: `--enable-prefix-caching`): the prompts of one module
start with the same instruction and action block, byte for byte, whatever the row or the turn, and
a conversation's next prompt extends its last one, so a caching server computes those tokens once.

Requests run concurrently, at most `max_concurrency` in flight per back-end across all its callers
(the rollout engine's overlap groups call it from several threads at once: `remote = True` tells it
that it may); 429, 5xx and timeouts are retried with exponential backoff
(other errors fail at once, with the server's message); responses larger than
`max_response_bytes` are refused. Bad input is one clear line (`BackendError`): an unreachable
server, a model the server does not serve (with the names it does serve, from `/v1/models`), a
malformed or truncated body, fewer choices than asked. The API key is read from the environment
variable named by `api_key_env` at request time and is never stored on the object, logged, or put
in a trace.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

from lumos_envs.protocols import Generation

from agents.backends.base import BackendError, Conversation, cut_at_stop
from agents.backends.serialise import (
    adds_special_tokens,
    fit_conversation,
    format_conversation,
    record_prompt_style,
    resolve_prompt_style,
)

logger = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
ServerKind = Literal["vllm", "generic"]


@dataclass(frozen=True)
class OpenAICompatConfig:
    """Where and how to call the server."""

    base_url: str = "http://127.0.0.1:8000/v1"
    """server root including `/v1`"""
    model: str = "default"
    """model name the server knows"""
    mode: Literal["completions", "chat"] = "completions"
    """`completions` sends prompt strings; `chat` sends conversations"""
    server: ServerKind = "vllm"
    """`vllm`: list prompts, n, token ids and logprobs per request; `generic`: one prompt per request, standard fields only"""
    api_key_env: str = "OPENAI_API_KEY"
    """name of the environment variable holding the API key (the key itself is never stored)"""
    max_concurrency: int = 8
    """requests in flight at once, over all threads calling this back-end"""
    max_prompts_per_request: int = 256
    """vllm: larger batches are split into requests of this many prompts (sent concurrently)"""
    max_retries: int = 4
    """retries after a 429, 5xx or timeout"""
    backoff_s: float = 0.5
    """first retry delay; doubles each retry"""
    timeout_s: float = 120.0
    """per-request timeout, seconds (a vllm request carries a whole batch)"""
    max_response_bytes: int = 16_000_000
    """larger responses are refused"""
    logprobs: bool = True
    """ask for per-token log-probabilities (vllm; generic servers are not asked)"""

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {self.max_concurrency}")
        if self.max_prompts_per_request < 1:
            raise ValueError(f"max_prompts_per_request must be >= 1, got {self.max_prompts_per_request}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.mode not in ("completions", "chat"):
            raise ValueError(f"mode must be 'completions' or 'chat', got {self.mode!r}")
        if self.server not in ("vllm", "generic"):
            raise ValueError(f"server must be 'vllm' or 'generic', got {self.server!r}")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"api base must be an http(s) URL such as http://127.0.0.1:8000/v1, got {self.base_url!r}")


@dataclass(frozen=True, eq=False)
class PromptFormat:
    """How completions mode turns a conversation into the model's prompt string.

    `style` is a resolved prompt style (`tulu`, `template`, `lumos-eval`); `tokenizer` is the
    model's own tokenizer where lumos has it (a local folder or named model): it gives the chat
    template, the Tulu EOS text, and the decoding of returned ids. With it and `context_window`
    (the folder's `max_position_embeddings`), conversations too long for the context are shortened
    as the transformers back-end shortens them, and `max_tokens` is capped at the room left.
    """

    style: str
    tokenizer: Any | None = None
    name: str = ""
    context_window: int | None = None

    def format(self, conversation: Conversation) -> str:
        return format_conversation(conversation, self.style, self.tokenizer)

    @property
    def adds_special_tokens(self) -> bool:
        return adds_special_tokens(self.style)

    def encode(self, text: str) -> list[int] | None:
        if self.tokenizer is None:
            return None
        return list(self.tokenizer(text, add_special_tokens=self.adds_special_tokens)["input_ids"])

    def decode(self, ids: Sequence[int]) -> str | None:
        if self.tokenizer is None:
            return None
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=True))


@dataclass
class _Request:
    """One HTTP request and which (prompt, sample) slots its choices fill."""

    body: dict[str, Any]
    slots: list[tuple[int, int]]
    prompts: list[str] = field(default_factory=list)


class OpenAICompatBackend:
    """A `TextGenerator` and `ChatGenerator` over HTTP (see the module docstring).

    Args:
        config: the server and limits.
        prompt_format: completions mode's serialisation of conversations (`generate_chat`); None
            allows only `generate` with ready prompt strings.
    """

    remote = True
    """calls are HTTP requests: the rollout engine may make them from several threads at once"""

    def __init__(self, config: OpenAICompatConfig = OpenAICompatConfig(), prompt_format: PromptFormat | None = None) -> None:
        self.config = config
        self._in_flight = threading.BoundedSemaphore(config.max_concurrency)
        self.prompt_format = prompt_format
        self.name = config.model
        self.num_requests = 0
        """HTTP requests sent, retries included"""
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self._known_models: list[str] | None = None
        self._served_window: int | None = None
        self.prompts_cut = 0
        """conversations shortened to fit the model's context, so far"""

    @property
    def context_window(self) -> int | None:
        """The model's context: the smaller of its folder's and the server's (`max_model_len`), where known."""
        known = [w for w in (self.prompt_format.context_window if self.prompt_format else None, self._served_window) if w]
        return min(known) if known else None

    # -- the TextGenerator / ChatGenerator calls --------------------------------------------------

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int, stop: Sequence[str] = (), temperature: float = 0.0, n: int = 1, seed: int | None = None) -> list[list[Generation]]:
        """One list of `n` generations per prompt string (chat mode sends each as one user turn)."""
        if self.config.mode == "chat":
            return self.generate_chat([[{"role": "user", "content": p}] for p in prompts], max_new_tokens=max_new_tokens, stop=stop, temperature=temperature, n=n, seed=seed)
        return self._complete(list(prompts), max_new_tokens=max_new_tokens, stop=stop, temperature=temperature, n=n, seed=seed)

    def generate_chat(self, conversations: Sequence[Conversation], *, max_new_tokens: int, stop: Sequence[str] = (), temperature: float = 0.0, n: int = 1, seed: int | None = None) -> list[list[Generation]]:
        """One list of `n` generations per conversation: serialised by lumos in completions mode,
        sent as messages in chat mode."""
        if self.config.mode == "completions":
            if self.prompt_format is None:
                raise BackendError("completions mode needs a prompt format to serialise conversations (build the back-end with "
                                   "server_backend, or use mode='chat')")
            prompts, longest = self._fit_all(conversations, max_new_tokens)
            if longest is not None and self.context_window is not None:
                max_new_tokens = max(1, min(max_new_tokens, self.context_window - longest))
            return self._complete(prompts, max_new_tokens=max_new_tokens, stop=stop, temperature=temperature, n=n, seed=seed)
        _check_sampling(max_new_tokens, n)
        stop = [s for s in stop if s]
        requests = []
        for i, conversation in enumerate(conversations):
            messages = [{"role": m["role"], "content": m["content"]} for m in conversation]
            for j, sample_n, sample_seed in self._samples(n, seed):
                body = dict(self._common(max_new_tokens, stop, temperature, sample_n, sample_seed), messages=messages)
                if self.config.server == "vllm":
                    body["return_token_ids"] = True
                    if self.config.logprobs:
                        body["logprobs"] = True
                requests.append(_Request(body, [(i, j + k) for k in range(sample_n)]))
        return self._run("chat/completions", requests, len(conversations), n, stop)

    def _fit_all(self, conversations: Sequence[Conversation], max_new_tokens: int) -> tuple[list[str], int | None]:
        """The prompt strings of the conversations, each shortened to the context where lumos knows
        the tokenizer and the context; and the longest prompt's length in tokens (None if unknown)."""
        fmt = self.prompt_format
        assert fmt is not None
        window = self.context_window
        if fmt.tokenizer is None or window is None:
            return [fmt.format(c) for c in conversations], None
        prompts, longest = [], 0
        for conversation in conversations:
            fitted = fit_conversation(conversation, lambda turns: fmt.encode(fmt.format(turns)) or [], window, max_new_tokens,
                                      fmt.name or self.config.model)
            if fitted.was_cut:
                with self._lock:
                    self.prompts_cut += 1
                self._warn_once("cut", "a conversation was too long for %s's context (%s positions): kept its instruction and "
                                "current turn, dropped %s%d older turns (counted in `prompts_cut`)", self.config.model, window,
                                "the demonstrations and " if fitted.demonstration_turns else "", fitted.dropped_turns)
            prompts.append(fmt.format(fitted.conversation))
            longest = max(longest, len(fitted.ids))
        return prompts, longest

    # -- requests ------------------------------------------------------------------------------

    def _complete(self, prompts: list[str], *, max_new_tokens: int, stop: Sequence[str], temperature: float, n: int, seed: int | None) -> list[list[Generation]]:
        _check_sampling(max_new_tokens, n)
        stop = [s for s in stop if s]
        requests = []
        if self.config.server == "vllm":
            size = self.config.max_prompts_per_request
            for start in range(0, len(prompts), size):
                chunk = prompts[start : start + size]
                body = dict(self._common(max_new_tokens, stop, temperature, n, seed), prompt=chunk, return_token_ids=True,
                            top_p=1.0, top_k=-1)  # plain sampling, as the transformers back-end (not the model's generation_config)
                if self.config.logprobs:
                    body["logprobs"] = 1
                if self.prompt_format is not None:
                    body["add_special_tokens"] = self.prompt_format.adds_special_tokens
                slots = [(start + i, j) for i in range(len(chunk)) for j in range(n)]
                requests.append(_Request(body, slots, chunk))
        else:
            for i, prompt in enumerate(prompts):
                for j, sample_n, sample_seed in self._samples(n, seed):
                    body = dict(self._common(max_new_tokens, stop, temperature, sample_n, sample_seed), prompt=prompt)
                    requests.append(_Request(body, [(i, j)], [prompt]))
        return self._run("completions", requests, len(prompts), n, stop)

    def _samples(self, n: int, seed: int | None) -> list[tuple[int, int, int | None]]:
        """(first sample index, samples in the request, seed) per request: vllm asks for all `n` at
        once; a generic server is asked `n` times, each with its own seed so repeats differ."""
        if self.config.server == "vllm":
            return [(0, n, seed)]
        return [(j, 1, None if seed is None else seed + j) for j in range(n)]

    def _common(self, max_new_tokens: int, stop: Sequence[str], temperature: float, n: int, seed: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.config.model, "max_tokens": max_new_tokens, "temperature": temperature}
        if self.config.server == "vllm":
            body["n"] = n
        if stop:
            body["stop"] = list(stop)
        if seed is not None:
            body["seed"] = seed
        return body

    def _run(self, endpoint: str, requests: list[_Request], num_prompts: int, n: int, stop: Sequence[str]) -> list[list[Generation]]:
        if not requests:
            return []
        if self.config.server == "generic":
            self._warn_once("generic", "%s is a generic server (--api-server generic): one request per prompt and sample, no token ids "
                            "or logprobs; trajectories carry text only (token_ids=[], no prompt ids), which RL training cannot use",
                            self.config.base_url)
        workers = min(self.config.max_concurrency, len(requests))
        if workers == 1:
            responses = [self._post(endpoint, r.body) for r in requests]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                responses = list(pool.map(lambda r: self._post(endpoint, r.body), requests))
        out: list[list[Generation | None]] = [[None] * n for _ in range(num_prompts)]
        for request, response in zip(requests, responses):
            generations = self._parse(endpoint, request, response, stop)
            for (i, j), generation in zip(request.slots, generations):
                out[i][j] = generation
        return [[g for g in row if g is not None] for row in out]

    def _post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        url = self.config.base_url.rstrip("/") + "/" + endpoint
        data = json.dumps(body).encode("utf-8")
        for attempt in range(self.config.max_retries + 1):
            with self._lock:
                self.num_requests += 1
            try:
                with self._in_flight:
                    raw = self._send(url, data)
                return _json_object(raw, url)
            except urllib.error.HTTPError as error:
                detail = _error_detail(error)
                if error.code not in RETRY_STATUS or attempt == self.config.max_retries:
                    hint = ""
                    if error.code in (400, 404, 422):
                        self._raise_if_unknown_model(url)
                        if self.config.server == "vllm" and _looks_like_a_protocol_refusal(error.code, detail):
                            hint = " (a server other than vLLM may refuse vLLM's fields or list prompts: try --api-server generic)"
                    raise BackendError(f"{url} answered HTTP {error.code}: {detail}{hint}") from None
                reason = f"HTTP {error.code}"
            except (TimeoutError, socket.timeout):
                if attempt == self.config.max_retries:
                    raise BackendError(f"{url} timed out after {self.config.timeout_s:g}s ({self.config.max_retries} retries)") from None
                reason = "timeout"
            except urllib.error.URLError as error:
                if not isinstance(error.reason, (TimeoutError, socket.timeout)):
                    raise BackendError(f"cannot reach the server at {self.config.base_url} ({error.reason}); is it running, and is "
                                       f"--api-base right?") from None
                if attempt == self.config.max_retries:
                    raise BackendError(f"{url} timed out after {self.config.timeout_s:g}s ({self.config.max_retries} retries)") from None
                reason = "timeout"
            except http.client.IncompleteRead as error:
                raise BackendError(f"truncated response from {url}: got {len(error.partial)} bytes, "
                                   f"{error.expected} more were announced") from None
            except (http.client.HTTPException, ConnectionError) as error:
                raise BackendError(f"the server at {self.config.base_url} closed the connection without a complete answer to "
                                   f"{url} ({type(error).__name__}: {error})") from None
            delay = self.config.backoff_s * (2**attempt)
            logger.warning("%s from %s; retry %d/%d in %.2fs", reason, url, attempt + 1, self.config.max_retries, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")

    def _send(self, url: str, data: bytes | None) -> bytes:
        """One HTTP request (POST with `data`, else GET); the key is read from the environment now."""
        headers = {"Content-Type": "application/json"} if data is not None else {}
        key = os.environ.get(self.config.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
        with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
            announced = response.headers.get("Content-Length")
            raw = response.read(self.config.max_response_bytes + 1)
        if len(raw) > self.config.max_response_bytes:
            raise BackendError(f"response from {url} exceeds {self.config.max_response_bytes} bytes")
        if announced is not None and announced.isdigit() and int(announced) > len(raw):
            raise http.client.IncompleteRead(raw, int(announced) - len(raw))
        return raw

    def server_models(self) -> list[str] | None:
        """The model names the server lists at `/v1/models`, or None where it lists none."""
        if self._known_models is None:
            url = self.config.base_url.rstrip("/") + "/models"
            try:
                listing = json.loads(self._send(url, None))
                self._known_models = [str(m["id"]) for m in listing["data"]]
                for entry in listing["data"]:  # vLLM lists each model's max_model_len
                    if entry.get("id") == self.config.model and isinstance(entry.get("max_model_len"), int) and entry["max_model_len"] > 0:
                        self._served_window = int(entry["max_model_len"])
            except (OSError, ValueError, KeyError, TypeError, AttributeError, BackendError, http.client.HTTPException):
                return None
        return self._known_models

    def check_server(self) -> None:
        """Fail before the first episode, in one line, when the server cannot be reached or does not
        serve the model (by `/v1/models`; a server without that listing is taken on trust)."""
        url = self.config.base_url.rstrip("/") + "/models"
        try:
            self._send(url, None)
        except urllib.error.HTTPError:
            return  # it answers; /models may simply not exist there
        except urllib.error.URLError as error:
            if not isinstance(error.reason, (TimeoutError, socket.timeout)):
                raise BackendError(f"cannot reach the server at {self.config.base_url} ({error.reason}); is it running, and is "
                                   f"--api-base right?") from None
            return  # slow, not absent: requests have their own timeouts and retries
        except (OSError, BackendError, http.client.HTTPException):
            return
        self._known_models = None  # read the listing afresh (names and max_model_len)
        self._raise_if_unknown_model(url)

    def _raise_if_unknown_model(self, url: str) -> None:
        known = self.server_models()
        if known is not None and self.config.model not in known:
            listed = ", ".join(known[:10]) + (f" (and {len(known) - 10} more)" if len(known) > 10 else "") if known else "none"
            raise BackendError(f"the server at {self.config.base_url} does not serve model {self.config.model!r} "
                               f"(it serves: {listed}); pass its name with --api-model")

    # -- responses -----------------------------------------------------------------------------

    def _parse(self, endpoint: str, request: _Request, response: dict[str, Any], stop: Sequence[str]) -> list[Generation]:
        where = f"response from {self.config.base_url.rstrip('/')}/{endpoint}"
        choices = response.get("choices")
        if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
            raise BackendError(f"malformed {where}: no list of choices (got {_preview(response)})")
        asked = len(request.slots)
        if len(choices) != asked:
            hint = ("; a server that ignores `n` or list prompts needs --api-server generic"
                    if self.config.server == "vllm" and len(choices) < asked else "")
            raise BackendError(f"{where} has {len(choices)} choices, asked for {asked}{hint}")
        try:
            order = sorted(choices, key=lambda c: int(c.get("index", 0)))
        except (TypeError, ValueError):
            raise BackendError(f"malformed {where}: a choice's index is not an integer") from None
        response_prompt_ids = response.get("prompt_token_ids")  # chat responses carry them once, at the top
        n_per_prompt = asked // max(1, len(request.prompts)) if request.prompts else asked
        out = []
        for k, choice in enumerate(order):
            prompt = request.prompts[k // n_per_prompt] if request.prompts else None
            out.append(self._generation(choice, k, where, endpoint, stop, prompt, response_prompt_ids))
        return out

    def _generation(self, choice: dict[str, Any], k: int, where: str, endpoint: str, stop: Sequence[str],
                    prompt: str | None, response_prompt_ids: Any) -> Generation:
        label = f"{where}: choices[{k}]"
        logprobs_field = choice.get("logprobs") or {}
        if not isinstance(logprobs_field, dict):
            raise BackendError(f"malformed {label}.logprobs: not an object ({_preview(logprobs_field)})")
        if endpoint == "completions":
            text = choice.get("text")
            lp = logprobs_field.get("token_logprobs")
        else:
            message = choice.get("message")
            if not isinstance(message, dict):
                raise BackendError(f"malformed {label}: no message")
            text = message.get("content") if message.get("content") is not None else ""
            content = logprobs_field.get("content")
            lp = [t.get("logprob") if isinstance(t, dict) else None for t in content] if isinstance(content, list) else None
        if not isinstance(text, str):
            raise BackendError(f"malformed {label}: text is {type(text).__name__}, not a string")
        ids = _int_list(choice.get("token_ids"), f"{label}.token_ids")
        prompt_ids = _int_list(choice.get("prompt_token_ids", response_prompt_ids), f"{label}.prompt_token_ids")
        logprobs = _float_list(lp, f"{label}.logprobs") if lp is not None else None
        if ids is not None and logprobs is not None and len(logprobs) != len(ids):
            raise BackendError(f"malformed {label}: {len(logprobs)} logprobs for {len(ids)} token ids")
        finish = choice.get("finish_reason")
        if self.config.server == "vllm" and ids is None:
            self._warn_once("no-ids", "%s returned no token ids (vLLM >= 0.10.2 returns them with return_token_ids); "
                            "trajectories carry text only. For other servers use --api-server generic", self.config.base_url)
        if self.config.server == "generic":
            ids, prompt_ids, logprobs = None, None, None  # generic servers are not asked; never trust stray fields
        stop_text = ""
        if ids is not None and self.prompt_format is not None and self.prompt_format.tokenizer is not None:
            text, stop_text = self._text_from_ids(text, ids, stop)
        else:
            text, found = cut_at_stop(text, stop)  # a generic server may leave the stop string in its text
            if found:
                finish = "stop"
            elif isinstance(choice.get("stop_reason"), str) and choice.get("stop_reason") in stop:
                stop_text = str(choice["stop_reason"])
        if prompt_ids is not None and prompt is not None:
            self._check_prompt_ids(prompt, prompt_ids)
        return Generation(text=text, token_ids=tuple(ids or ()), logprobs=tuple(logprobs) if logprobs else None,
                          finish_reason=_finish_reason(finish), prompt_token_ids=tuple(prompt_ids) if prompt_ids is not None else None,
                          stop_text=stop_text)

    def _text_from_ids(self, text: str, ids: list[int], stop: Sequence[str]) -> tuple[str, str]:
        """The text and stop text of a generation from its ids (trusted over the server's text)."""
        assert self.prompt_format is not None
        full = self.prompt_format.decode(ids) or ""
        if full.startswith(text):
            return text, full[len(text):]
        cut, _ = cut_at_stop(full, stop)
        if cut != text:
            self._warn_once("text", "%s: the server's text differs from its token ids decoded with the local tokenizer "
                            "(%r vs %r); keeping the ids' text. Is --model the served model's folder?", self.config.base_url,
                            text[:80], cut[:80])
        return cut, full[len(cut):]

    def _check_prompt_ids(self, prompt: str, prompt_ids: list[int]) -> None:
        """Once per back-end: the server's prompt ids should be the local tokenizer's (same model,
        same BOS handling); a mismatch means the served model or its tokenizer differs from --model."""
        if "prompt-ids" in self._warned or self.prompt_format is None or self.prompt_format.tokenizer is None:
            return
        self._warned.add("prompt-ids")
        local = self.prompt_format.encode(prompt)
        if local is not None and local != list(prompt_ids):
            logger.warning("%s tokenised a prompt into %d ids where the local tokenizer of %s gives %d (first ids %s vs %s): "
                           "the served model's tokenizer or BOS handling differs from --model", self.config.base_url,
                           len(prompt_ids), self.prompt_format.name or "the model", len(local), list(prompt_ids[:4]), local[:4])

    def _warn_once(self, key: str, message: str, *args: Any) -> None:
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        logger.warning(message, *args)


def _check_sampling(max_new_tokens: int, n: int) -> None:
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")


def _looks_like_a_protocol_refusal(code: int, detail: str) -> bool:
    """Whether an HTTP 4xx reads like a server refusing vLLM's request shape (unknown fields, a list
    prompt) rather than its content (a prompt too long, a bad value)."""
    text = detail.lower()
    return code == 422 or any(word in text for word in ("unexpected field", "unrecognized", "extra inputs", "must be a string"))


def _finish_reason(reason: Any) -> str:
    """The server's finish reason in lumos's words: `length` is `truncated`; a stop string, EOS
    or a stop token is `stop`; anything else (`abort`, `error`) is `error`."""
    if reason in ("length", "max_tokens"):
        return "truncated"
    if reason in (None, "stop", "eos", "stop_sequence", "end_turn"):
        return "stop"
    return "error"


def _json_object(raw: bytes, url: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BackendError(f"malformed response from {url}: not JSON ({error}; body starts {raw[:120]!r})") from None
    if not isinstance(value, dict):
        raise BackendError(f"malformed response from {url}: a JSON {type(value).__name__}, not an object")
    return value


def _error_detail(error: urllib.error.HTTPError) -> str:
    try:
        text = error.read(2000).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return "(no body)"
    try:
        body = json.loads(text)
        if isinstance(body, dict):
            inner = body.get("error", body.get("detail", body.get("message", body)))
            if isinstance(inner, dict):
                inner = inner.get("message", inner)
            text = str(inner)
    except ValueError:
        pass
    return " ".join(text.split())[:500] or "(no body)"


def _int_list(value: Any, label: str) -> list[int] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in value):
        raise BackendError(f"malformed {label}: not a list of token ids ({_preview(value)})")
    return list(value)


def _float_list(value: Any, label: str) -> list[float]:
    if not isinstance(value, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
        raise BackendError(f"malformed {label}: not a list of numbers ({_preview(value)})")
    return [float(x) for x in value]


def _preview(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


# ---------------------------------------------------------------------------------------------
# building a module's back-end from agent settings


def completions_format(model: str | None, api_model: str | None, prompt_style: str = "auto",
                       load: Callable[[str], Any] | None = None) -> tuple[PromptFormat, bool]:
    """The prompt format for completions mode, and whether the model wants number placeholders.

    With a local folder or named model (`model`), its tokenizer only is loaded and the style
    resolved as the transformers back-end resolves it (the folder record's style, the tiny models'
    template, else `auto`). Without one, `tulu` and `lumos-eval` need no tokenizer, and `auto` is
    Tulu for a LUMOS checkpoint (a name containing "lumos"); anything else is refused.

    Raises:
        ValueError: no way to build the exact prompt.
    """
    from agents.backends.transformers import load_tokenizer
    from agents.models import read_model_record, resolve_model

    folder = _local_folder(model, resolve_model)
    if folder is not None:
        tokenizer = (load or load_tokenizer)(folder)
        record = read_model_record(folder)
        tiny = record is not None and record.tiny is not None
        style = prompt_style if prompt_style != "auto" else record_prompt_style(record) or "auto"
        if tiny:
            style = "template"  # as `load_tiny_backend`: tiny models are trained on their (Tulu) template
        style = resolve_prompt_style(style, tokenizer, folder)
        placeholders = bool(tiny and record is not None and (record.tiny or {}).get("number_placeholders"))
        return PromptFormat(style, tokenizer, folder, _context_window(folder)), placeholders
    names = " ".join(x for x in (model, api_model) if x)
    if prompt_style in ("tulu", "lumos-eval"):
        return PromptFormat(prompt_style, None, names), False
    if prompt_style == "auto" and "lumos" in names.lower():
        return PromptFormat("tulu", None, names), False
    raise ValueError(f"completions mode sends the model's exact prompt and needs its tokenizer, but {names or 'the model'!r} "
                     f"is not a local model folder: pass --model FOLDER (the served model's folder or a named model) "
                     f"for the tokenizer, or use --api-mode chat")


def _context_window(folder: str) -> int | None:
    """The model's positions, from its folder's `config.json` (what the transformers back-end uses)."""
    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    window = config.get("max_position_embeddings") if isinstance(config, dict) else None
    return window if isinstance(window, int) and window > 0 else None


def _local_folder(model: str | None, resolve: Callable[[str], str]) -> str | None:
    """The model's folder where it is a named model or an existing folder (never the hub)."""
    if not model:
        return None
    from agents.models import NAMED_MODELS

    if model in NAMED_MODELS or Path(model).expanduser().is_dir():
        return resolve(model)
    return None


def server_backend(settings: Any, config: Any) -> Any:
    """The back-end of one agent module served by an OpenAI-compatible server.

    `settings` is the module's `rollouts.policies.ModuleSettings` (api_base, api_model, model,
    prompt_style) and `config` the `AgentConfig` (api_key_env, api_mode, api_server,
    api_max_concurrency). Completions mode builds the module's `PromptFormat` (see
    `completions_format`); a tiny model with number placeholders gets its adapter, as locally. The
    server is asked for its models once, so a wrong address or model name fails before any episode.

    Raises:
        ValueError: completions mode without a way to build the exact prompt.
        BackendError: the server cannot be reached or does not serve the model.
    """
    backend_config = OpenAICompatConfig(
        base_url=settings.api_base, model=settings.api_model or settings.model or "default", mode=config.api_mode,
        server=config.api_server, api_key_env=config.api_key_env, max_concurrency=config.api_max_concurrency,
    )
    prompt_format, placeholders = None, False
    if backend_config.mode == "completions":
        prompt_format, placeholders = completions_format(settings.model, settings.api_model, settings.prompt_style or "auto")
    backend = OpenAICompatBackend(backend_config, prompt_format)
    backend.check_server()
    if placeholders:
        from agents.backends.tiny import NumberPlaceholders

        return NumberPlaceholders(backend)
    return backend
