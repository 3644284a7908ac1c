"""Main loop of a bounded-tool worker process; the client side is `lumos_envs.execution.worker`.

Run as `python -m lumos_envs.execution.worker_main CONFIG_JSON`. The worker reads one JSON request
per line on its stdin and writes one JSON response per line on its stdout. Before anything else
runs it moves both channels to private file descriptors and points fd 0 at /dev/null and fd 1 at
stderr, so a tool that prints (or reads stdin) cannot corrupt the protocol.

Requests:
    {"id": 7, "op": "call", "target": "module:name", "args": ["..."], "max_output_chars": 100000}
    {"id": 8, "op": "import", "modules": ["sympy"]}
Responses:
    {"id": 7, "ok": true, "result": "..." | ["...", ...]}
    {"id": 7, "ok": false, "kind": "tool_error" | "exception" | "refused" | "memory" | "output",
     "type": "ToolError", "message": "..."}
At start-up, after the limits are set and the preload modules imported, the worker writes
{"ready": true, "pid": ..., "failed": {"module": "error", ...}}.

Limits are set here, in the worker itself (not in a `preexec_fn`, which is unsafe with threads):
RLIMIT_AS caps memory, RLIMIT_CORE is 0 (no core files), and RLIMIT_CPU is re-armed before every
call to "CPU used so far + max_cpu_s", so it bounds each call rather than the worker's lifetime.
A daemon thread exits the worker when its parent process goes away.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import resource
import sys
import threading
import time
from typing import Any, Callable

from lumos_envs.execution.errors import ToolError

_TOOL_MODULE = "lumos_envs.execution.tool"
_PARENT_POLL_S = 1.0


def echo(*args: str) -> list[str]:
    """Return the arguments unchanged: a trivial target for health checks and benchmarks."""
    return list(args)


def sleep(seconds: str) -> str:
    """Sleep `seconds` (a decimal string) and return it: a target for timeout checks and benchmarks."""
    time.sleep(float(seconds))
    return seconds


def main(argv: list[str] | None = None) -> int:
    """Run the worker until its stdin closes. `argv[0]` is the JSON config the pool passes."""
    argv = sys.argv[1:] if argv is None else argv
    config = json.loads(argv[0])
    proto_in, proto_out_fd = _take_protocol_channel()
    _set_start_limits(config.get("max_memory_bytes"))
    _start_parent_watch(int(config["parent_pid"]))
    worker = _Worker(
        allowed_prefixes=tuple(config["allowed_prefixes"]),
        max_cpu_s=config.get("max_cpu_s"),
    )
    worker.arm_cpu_limit()  # bounds the preload imports too
    failed = _import_all(config.get("preload_modules", ()))
    _send(proto_out_fd, {"ready": True, "pid": os.getpid(), "failed": failed})
    for line in proto_in:
        _send(proto_out_fd, worker.handle(json.loads(line)))
    return 0


class _Worker:
    """Resolves targets (with the allow-list) and runs calls, turning every outcome into a response."""

    def __init__(self, allowed_prefixes: tuple[str, ...], max_cpu_s: float | None):
        self._allowed_prefixes = allowed_prefixes
        self._max_cpu_s = max_cpu_s
        self._targets: dict[str, Callable[..., Any]] = {}

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        request_id = request.get("id")
        if request.get("op") == "import":
            return {"id": request_id, "ok": True, "result": _import_all(request.get("modules", ()))}
        target = str(request.get("target"))
        max_output_chars = int(request.get("max_output_chars", 100_000))
        try:
            self.arm_cpu_limit()
            fn = self._resolve(target)
            result = _checked_result(fn(*request.get("args", ())), target)
        except _Refused as e:
            return _failure(request_id, "refused", "ToolError", str(e), max_output_chars)
        except MemoryError as e:
            return _failure(request_id, "memory", "MemoryError", str(e), max_output_chars)
        except ToolError as e:
            return _failure(request_id, "tool_error", type(e).__name__, str(e), max_output_chars)
        except (Exception, SystemExit) as e:  # any bug in a tool becomes a message, the worker lives on
            message = f"{type(e).__name__}: {e}"
            return _failure(request_id, "exception", type(e).__name__, message, max_output_chars)
        num_chars = len(result) if isinstance(result, str) else sum(map(len, result))
        if num_chars > max_output_chars:
            message = f"{target} returned {num_chars} characters, more than the limit of {max_output_chars}"
            return _failure(request_id, "output", "ToolResourceError", message, max_output_chars)
        return {"id": request_id, "ok": True, "result": result}

    def arm_cpu_limit(self) -> None:
        """Let the next call use `max_cpu_s` more CPU seconds; past that the kernel sends SIGXCPU."""
        if self._max_cpu_s is None:
            return
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = math.ceil(usage.ru_utime + usage.ru_stime + self._max_cpu_s)
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))

    def _resolve(self, target: str) -> Callable[..., Any]:
        fn = self._targets.get(target)
        if fn is not None:
            return fn
        module_name, sep, attr_path = target.partition(":")
        if not sep or not module_name or not attr_path:
            raise _Refused(f"target {target!r} is not of the form 'module:name'")
        if not self._is_allowed(module_name):
            raise _Refused(f"target module {module_name!r} is not allowed in a tool worker")
        parts = attr_path.split(".")
        if any(part.startswith("__") for part in parts):
            raise _Refused(f"target {target!r} names a dunder attribute")
        obj: Any = importlib.import_module(module_name)
        for part in parts:
            obj = getattr(obj, part)
        tool_module = sys.modules.get(_TOOL_MODULE)
        if tool_module is not None and isinstance(obj, tool_module.Tool):
            obj = obj.fn
        if not callable(obj):
            raise _Refused(f"target {target!r} is a {type(obj).__name__}, not a function")
        # An allowed module may import `os`; `lumos_envs.x:os.system` must not get through.
        defined_in = getattr(obj, "__module__", None)
        if not isinstance(defined_in, str) or not self._is_allowed(defined_in):
            raise _Refused(f"target {target!r} is defined in {defined_in!r}, which is not allowed")
        self._targets[target] = obj
        return obj

    def _is_allowed(self, module_name: str) -> bool:
        return any(module_name == p or module_name.startswith(p + ".") for p in self._allowed_prefixes)


class _Refused(Exception):
    """The target is not allowed or cannot be a tool."""


def _checked_result(result: Any, target: str) -> str | list[str]:
    if isinstance(result, str):
        return result
    if isinstance(result, (list, tuple)) and all(isinstance(item, str) for item in result):
        return list(result)
    raise TypeError(f"{target} returned {type(result).__name__}, expected str or a list of str")


def _failure(request_id: Any, kind: str, type_name: str, message: str, max_chars: int) -> dict[str, Any]:
    if len(message) > max_chars:
        message = message[:max_chars] + " [truncated]"
    return {"id": request_id, "ok": False, "kind": kind, "type": type_name, "message": message}


def _take_protocol_channel() -> tuple[Any, int]:
    """Keep private duplicates of stdin/stdout for the protocol; give the tools /dev/null and stderr."""
    proto_in_fd = os.dup(0)  # os.dup gives non-inheritable fds, so tools' subprocesses don't get them
    proto_out_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return os.fdopen(proto_in_fd, "rb"), proto_out_fd


def _set_start_limits(max_memory_bytes: int | None) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if max_memory_bytes is not None:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = max_memory_bytes if hard == resource.RLIM_INFINITY else min(max_memory_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _start_parent_watch(parent_pid: int) -> None:
    """Exit when the parent dies, even mid-call (EOF on stdin is only seen between calls)."""

    def watch() -> None:
        while True:
            time.sleep(_PARENT_POLL_S)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, name="lumos-parent-watch", daemon=True).start()


def _import_all(modules: Any) -> dict[str, str]:
    failed = {}
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as e:  # reported to the pool, which logs or raises it
            failed[name] = f"{type(e).__name__}: {e}"
    return failed


def _send(fd: int, message: dict[str, Any]) -> None:
    # ensure_ascii keeps the encoding total: lone surrogates in a result cannot fail to encode.
    data = memoryview((json.dumps(message) + "\n").encode("ascii"))
    while data:
        data = data[os.write(fd, data) :]


if __name__ == "__main__":
    sys.exit(main())
