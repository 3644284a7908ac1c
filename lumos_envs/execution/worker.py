"""A pool of killable worker processes that runs bounded tool calls (see "Bounded tools" in the contract).

A call that may run long (sympy solving, SQL, model calls) runs in a child process started with
`subprocess` (multiprocessing children are refused inside Gymnasium's `AsyncVectorEnv` workers,
which are daemons). The child, `lumos_envs.execution.worker_main`, has memory and CPU limits; on a
timeout its whole process group is killed and a replacement starts at once, importing what its
predecessor used, so the next call rarely waits for a Python start-up. Each process has
one lazily started pool, `get_worker_pool()`, recreated after a fork; `configure_worker_pool` sets
what it is built with. A killed worker's replacement starts at once (importing what its
predecessor used), so the next call rarely waits for a Python start-up. Outcomes come back as `ToolError`s, which the toolbox turns into observations:

    pool = get_worker_pool()
    pool.call("lumos_envs.tools.math:solve_equation", ["x + 1 = 3"], timeout_s=2.0)  # -> ["2"]
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import queue
import re
import select
import signal
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Sequence

from lumos_envs.execution.errors import ToolError, ToolResourceError, ToolTimeout

logger = logging.getLogger(__name__)

_WORKER_MODULE = "lumos_envs.execution.worker_main"
_BUILTIN_PREFIX = "lumos_envs"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
"""The folder holding `lumos_envs`, put on the child's PYTHONPATH so `-m` finds the package."""
_ERROR_CLASSES: dict[str, type[ToolError]] = {
    cls.__name__: cls for cls in (ToolError, ToolTimeout, ToolResourceError)
}
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_REAP_TIMEOUT_S = 5.0
_READ_CHUNK = 1 << 16


@dataclass(frozen=True)
class WorkerPoolConfig:
    """Settings for a `WorkerPool`."""

    # Size and start-up
    num_workers: int = 1
    """worker processes; calls are serialised per worker, so up to this many run at once (from threads)"""
    preload_modules: tuple[str, ...] = ()
    """modules each worker imports when it starts (e.g. `sympy`), so the first real call is fast"""
    start_timeout_s: float = 60.0
    """seconds a worker may take to start and import `preload_modules`; not counted in a call's timeout"""
    replace_killed: bool = True
    """start a replacement as soon as a worker is killed for a timeout or dies mid-call, so that its
    start-up (Python plus `preload_modules`, ~1 s with sympy) overlaps whatever the caller does next
    instead of delaying the next call"""

    # What may run
    allowed_module_prefixes: tuple[str, ...] = ()
    """module prefixes targets may come from besides `lumos_envs` (`pkg` allows `pkg` and `pkg.sub`)"""
    extra_sys_path: tuple[str, ...] = ()
    """folders put on the workers' PYTHONPATH, so they can import targets from outside the package"""

    # Limits
    max_memory_bytes: int | None = 2 * 1024**3
    """address-space limit (RLIMIT_AS) of each worker in bytes; None: no limit"""
    max_cpu_s: float | None = 60.0
    """CPU seconds one call may use before the kernel kills its worker (RLIMIT_CPU, a safety net under
    the wall-clock timeout, which also catches a worker orphaned mid-call); None: no limit"""

    # Output
    worker_stderr: Literal["inherit", "devnull"] = "inherit"
    """where the workers' stderr goes; whatever a tool prints goes there too"""

    def __post_init__(self) -> None:
        for name in ("preload_modules", "allowed_module_prefixes", "extra_sys_path"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise ValueError(f"{name} must be a sequence of strings, got the string {value!r}")
            object.__setattr__(self, name, tuple(str(v) for v in value))
        if self.num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {self.num_workers}")
        if not self.start_timeout_s > 0:
            raise ValueError(f"start_timeout_s must be > 0, got {self.start_timeout_s}")
        for prefix in self.allowed_module_prefixes:
            if not _MODULE_NAME.fullmatch(prefix):
                raise ValueError(f"allowed_module_prefixes must hold module names, got {prefix!r}")
        if self.max_memory_bytes is not None and self.max_memory_bytes <= 0:
            raise ValueError(f"max_memory_bytes must be > 0 or None, got {self.max_memory_bytes}")
        if self.max_cpu_s is not None and not self.max_cpu_s > 0:
            raise ValueError(f"max_cpu_s must be > 0 or None, got {self.max_cpu_s}")
        if self.worker_stderr not in ("inherit", "devnull"):
            raise ValueError(f"worker_stderr must be 'inherit' or 'devnull', got {self.worker_stderr!r}")


class WorkerPool:
    """Runs `module:name` targets in killable child processes with time, memory, CPU and output limits.

    A worker starts on its first call (costing one Python start-up plus `preload_modules`) and
    then serves calls until it times out, dies or the pool closes; a call to a warm worker costs
    one pipe round trip (about 0.1 ms, see `benchmarks/bench_worker_overhead.py`). The pool belongs to the process that made it: after a fork the child
    process gets fresh workers (the parent's are left alone), see `get_worker_pool`.
    """

    def __init__(self, config: WorkerPoolConfig | None = None):
        self.config = config if config is not None else WorkerPoolConfig()
        self._allowed_prefixes = (_BUILTIN_PREFIX, *self.config.allowed_module_prefixes)
        self._preload = list(self.config.preload_modules)
        self._closed = False
        self._abandoned: list[_Worker] = []
        self._set_up_workers()
        _live_pools.add(self)
        _close_at_multiprocessing_exit()

    @property
    def closed(self) -> bool:
        return self._closed

    def call(
        self,
        target: str,
        args: Sequence[str],
        *,
        timeout_s: float,
        max_output_chars: int = 100_000,
    ) -> str | list[str]:
        """Run `target(*args)` in a worker and return its result.

        Args:
            target: `"module:name"`; the module must be `lumos_envs` or under an allowed prefix. If
                the attribute is a `Tool`, its `fn` is called.
            args: positional arguments, all strings.
            timeout_s: wall-clock seconds the call may take once a worker is free and started.
            max_output_chars: the most characters the result (summed over a list) may have.

        Returns:
            The target's result: a string or a list of strings.

        Raises:
            ToolTimeout: the call ran past `timeout_s`; its worker was killed.
            ToolResourceError: the worker ran out of memory or CPU time, died, or the result
                was longer than `max_output_chars`.
            ToolError: the target raised (a `ToolError` keeps its message, any other exception
                becomes "Type: message"), or the target is not allowed.
            RuntimeError: the pool is closed.
        """
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if max_output_chars < 0:
            raise ValueError(f"max_output_chars must be >= 0, got {max_output_chars}")
        if isinstance(args, str) or not all(isinstance(a, str) for a in args):
            raise TypeError(f"args must be a sequence of str, got {args!r}")
        module_name, sep, name = target.partition(":")
        if not sep or not name or not _MODULE_NAME.fullmatch(module_name):
            raise ToolError(f"target {target!r} is not of the form 'module:name'")
        if not self._is_allowed(module_name):
            raise ToolError(f"target module {module_name!r} is not allowed in a tool worker")
        request = {
            "op": "call",
            "target": target,
            "args": list(args),
            "max_output_chars": max_output_chars,
        }
        # Non-ASCII is \u-escaped in the child, up to 12 bytes per character; past this the child
        # is not following the protocol and is killed rather than read into memory without end.
        max_bytes = 12 * max_output_chars + 65_536
        worker = self._acquire()
        try:
            return worker.call(request, preload=self._preload, timeout_s=timeout_s, max_bytes=max_bytes)
        finally:
            self._release(worker)

    def warm_up(self, modules: Sequence[str], *, timeout_s: float = 120.0) -> None:
        """Start every worker and import `modules` in it; workers started later import them too.

        Raises:
            ImportError: a module could not be imported in a worker.
        """
        modules = [m for m in modules if m not in self._preload]
        workers = [self._acquire() for _ in range(self.config.num_workers)]
        try:
            failed: dict[str, str] = {}
            for worker in workers:
                if worker.is_running():
                    failed.update(worker.import_modules(modules, timeout_s=timeout_s))
                else:  # starting it imports the preload list, which gets `modules` below
                    failed.update(worker.start(self._preload + modules))
        finally:
            for worker in workers:
                self._release(worker)
        self._preload.extend(m for m in modules if m not in failed)
        if failed:
            details = "; ".join(f"{name}: {error}" for name, error in failed.items())
            raise ImportError(f"could not import in the tool worker: {details}")

    def worker_pids(self) -> list[int]:
        """Process ids of the workers running now (started, not yet killed)."""
        self._check_owner()
        return [w.pid for w in self._workers if w.pid is not None]

    def close(self) -> None:
        """Kill every worker (with its process group) and reap it. Idempotent; later calls raise."""
        if self._closed:
            return
        self._closed = True
        _live_pools.discard(self)
        if os.getpid() != self._owner_pid:  # inherited by fork: the workers are the parent's
            self._abandon_inherited()
            return
        for worker in self._workers:
            if worker.lock.acquire(blocking=False):
                try:
                    worker.stop()
                finally:
                    worker.lock.release()
            else:  # mid-call in another thread: kill it; that thread sees the death and cleans up
                worker.kill_group()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # during interpreter shutdown modules may be half torn down
            pass

    # ---- private ----

    def _set_up_workers(self) -> None:
        self._owner_pid = os.getpid()
        self._workers = [_Worker(self.config, self._allowed_prefixes) for _ in range(self.config.num_workers)]
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        for worker in self._workers:
            self._idle.put(worker)

    def _is_allowed(self, module_name: str) -> bool:
        return any(module_name == p or module_name.startswith(p + ".") for p in self._allowed_prefixes)

    def _check_owner(self) -> None:
        # The at-fork hook normally did this already; this catches forks that bypass it.
        if os.getpid() != self._owner_pid:
            self._reset_after_fork()

    def _acquire(self) -> _Worker:
        if self._closed:
            raise RuntimeError("the worker pool is closed")
        self._check_owner()
        worker = self._idle.get()
        worker.lock.acquire()
        if self._closed:
            worker.lock.release()
            self._idle.put(worker)
            raise RuntimeError("the worker pool is closed")
        return worker

    def _release(self, worker: _Worker) -> None:
        if self._closed:
            worker.stop()
        worker.lock.release()
        self._idle.put(worker)

    def _reset_after_fork(self) -> None:
        """In a forked child: drop the parent's workers without touching them, start fresh ones lazily."""
        self._abandon_inherited()
        self._set_up_workers()

    def _abandon_inherited(self) -> None:
        for worker in self._workers:
            worker.abandon()
        # Kept, not dropped: a dropped Popen of a live process warns "still running" in its __del__.
        self._abandoned.extend(self._workers)
        self._workers = []


class _Worker:
    """One child process and its pipes; used by one thread at a time (the pool hands it out)."""

    # It holds no reference to its pool, so that a dropped pool is freed (and closed) at once.
    def __init__(self, config: WorkerPoolConfig, allowed_prefixes: tuple[str, ...]):
        self._config = config
        self._allowed_prefixes = allowed_prefixes
        self.lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._in_fd = -1
        self._out_fd = -1
        self._poller: Any = None
        self._buffer = bytearray()
        self._next_id = 0
        self._unreaped: list[subprocess.Popen[bytes]] = []
        self._ready_pending = False
        """spawned, its "ready" line not read yet (a replacement started after a kill)"""
        self._preload: list[str] = []

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None

    def call(
        self, request: dict[str, Any], *, preload: Sequence[str], timeout_s: float, max_bytes: int
    ) -> str | list[str]:
        target = request["target"]
        if self._proc is not None and self._proc.poll() is not None:
            logger.warning("tool worker %d exited while idle (%s)", self._proc.pid, self.stop())
        if self._proc is None:
            self.start(preload)
        elif self._ready_pending:
            self._await_ready()
        module = target.partition(":")[0]
        if module not in self._preload:  # a replacement imports what this worker's calls needed
            self._preload.append(module)
        response = self._round_trip(request, timeout_s=timeout_s, max_bytes=max_bytes, what=target)
        if response.get("ok"):
            return response["result"]
        kind, message = response.get("kind"), str(response.get("message", ""))
        if kind == "tool_error":
            raise _ERROR_CLASSES.get(str(response.get("type")), ToolError)(message)
        if kind == "memory":
            self.stop()  # MemoryError can strike anywhere, e.g. mid-import: don't reuse the worker
            raise ToolResourceError(f"{target} ran out of memory ({self._limits()})")
        if kind == "output":
            raise ToolResourceError(message)
        raise ToolError(message)  # "refused" and "exception"

    def import_modules(self, modules: Sequence[str], *, timeout_s: float) -> dict[str, str]:
        if self._ready_pending:
            self._await_ready()
        request = {"op": "import", "modules": list(modules)}
        response = self._round_trip(request, timeout_s=timeout_s, max_bytes=1 << 20, what="warm-up import")
        failed = dict(response["result"])
        self._preload.extend(m for m in modules if m not in failed and m not in self._preload)  # a replacement gets them too
        return failed

    def start(self, preload: Sequence[str]) -> dict[str, str]:
        """Start the child and wait until it is ready; return the preload modules that failed."""
        self._spawn(preload)
        return self._await_ready()

    def _spawn(self, preload: Sequence[str]) -> None:
        """Start the child process without waiting for it (it imports `preload`, then says it is ready)."""
        config = self._config
        self._preload = list(preload)
        child_config = {
            "parent_pid": os.getpid(),
            "allowed_prefixes": list(self._allowed_prefixes),
            "max_memory_bytes": config.max_memory_bytes,
            "max_cpu_s": config.max_cpu_s,
            "preload_modules": list(preload),
        }
        env = dict(os.environ)
        python_path = [_PACKAGE_ROOT, *config.extra_sys_path]
        if env.get("PYTHONPATH"):
            python_path.append(env["PYTHONPATH"])
        env.update(PYTHONPATH=os.pathsep.join(python_path), PYTHONHASHSEED="0", OMP_NUM_THREADS="1")
        # -P (3.11+): don't put the current folder on sys.path, so it cannot shadow modules.
        flags = ["-P"] if sys.version_info >= (3, 11) else []
        self._proc = subprocess.Popen(
            [sys.executable, *flags, "-m", _WORKER_MODULE, json.dumps(child_config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if config.worker_stderr == "devnull" else None,
            env=env,
            start_new_session=True,  # its own process group, so a kill takes its children too
            bufsize=0,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in_fd, self._out_fd = self._proc.stdin.fileno(), self._proc.stdout.fileno()
        self._poller = select.poll()
        self._poller.register(self._out_fd, select.POLLIN)
        self._buffer.clear()
        self._ready_pending = True
        self._spawned_at = time.monotonic()

    def _await_ready(self) -> dict[str, str]:
        """Read the spawned child's "ready" line; return the preload modules that failed."""
        assert self._proc is not None
        config = self._config
        try:
            ready = self._read(time.monotonic() + config.start_timeout_s, max_bytes=1 << 20)
        except _Timeout:
            self.stop()
            raise ToolTimeout(
                f"the tool worker did not start within {config.start_timeout_s} s "
                f"(preloading {self._preload})"
            ) from None
        except (_Died, _ProtocolError) as e:
            status = self.stop()
            raise ToolResourceError(f"the tool worker failed to start ({status}; {e}), see its stderr") from None
        self._ready_pending = False
        failed = dict(ready.get("failed", {}))
        for name, error in failed.items():
            logger.warning("tool worker could not preload %s: %s", name, error)
        logger.debug("tool worker %d ready %.3f s after it was started", self._proc.pid, time.monotonic() - self._spawned_at)
        return failed

    def _replace(self) -> None:
        """After a kill: start the next child now, so its start-up overlaps the caller's next work."""
        if not self._config.replace_killed:
            return
        try:
            self._spawn(self._preload)
        except OSError as error:  # e.g. out of processes: the next call starts one (and reports it)
            logger.warning("could not start a replacement tool worker: %s", error)
            self._proc, self._ready_pending = None, False

    def stop(self) -> str:
        """Kill the child's process group, reap it and close the pipes; return how it ended."""
        proc, self._proc = self._proc, None
        self._ready_pending = False
        self._reap_stragglers()
        if proc is None:
            return "not running"
        _kill_group(proc.pid)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        self._poller, self._in_fd, self._out_fd = None, -1, -1
        self._buffer.clear()
        try:
            returncode = proc.wait(timeout=_REAP_TIMEOUT_S)
        except subprocess.TimeoutExpired:  # stuck in the kernel (D state); reap it on a later stop
            self._unreaped.append(proc)
            return "killed, not yet reaped"
        return _describe_exit(returncode)

    def kill_group(self) -> None:
        """Kill the child without touching pipes or reaping: safe while another thread uses it."""
        if self._proc is not None:
            _kill_group(self._proc.pid)

    def abandon(self) -> None:
        """In a forked child: close our copies of the pipes, leave the process to its parent."""
        proc, self._proc = self._proc, None
        self._ready_pending = False
        if proc is not None:
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()
        self._poller = None

    def _round_trip(self, request: dict[str, Any], *, timeout_s: float, max_bytes: int, what: str) -> dict[str, Any]:
        request_id = request["id"] = self._next_id
        self._next_id += 1
        data = (json.dumps(request) + "\n").encode("utf-8", "surrogatepass")
        deadline = time.monotonic() + timeout_s
        try:
            self._write(data)
            response = self._read(deadline, max_bytes=max_bytes)
            if response.get("id") != request_id:
                raise _ProtocolError(f"response id {response.get('id')!r}, expected {request_id}")
        except _Timeout:
            self.stop()
            self._replace()
            raise ToolTimeout(f"{what} timed out after {timeout_s} s; its worker process was killed") from None
        except (_Died, BrokenPipeError):
            status = self.stop()
            self._replace()
            raise ToolResourceError(f"{what} killed its worker process ({status}; {self._limits()})") from None
        except _Oversize:
            self.stop()
            raise ToolResourceError(f"{what} sent more than {max_bytes} bytes; its worker process was killed") from None
        except _ProtocolError as e:
            self.stop()
            raise ToolResourceError(f"{what}: the tool worker broke the protocol ({e}); it was killed") from None
        return response

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._in_fd, view) :]

    def _read(self, deadline: float, *, max_bytes: int) -> dict[str, Any]:
        """Read one JSON line before `deadline`."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                try:
                    message = json.loads(line)
                except ValueError as e:
                    raise _ProtocolError(f"not JSON: {line[:200]!r}") from e
                if not isinstance(message, dict):
                    raise _ProtocolError(f"not a JSON object: {line[:200]!r}")
                return message
            if len(self._buffer) > max_bytes:
                raise _Oversize()
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                raise _Timeout()
            if not self._poller.poll(math.ceil(remaining_s * 1000)):
                continue
            chunk = os.read(self._out_fd, _READ_CHUNK)
            if not chunk:
                raise _Died()
            self._buffer += chunk

    def _reap_stragglers(self) -> None:
        self._unreaped = [p for p in self._unreaped if p.poll() is None]

    def _limits(self) -> str:
        config = self._config
        memory = "none" if config.max_memory_bytes is None else f"{config.max_memory_bytes / 2**20:.0f} MiB"
        cpu = "none" if config.max_cpu_s is None else f"{config.max_cpu_s} s"
        return f"memory limit {memory}, CPU limit per call {cpu}"


class _Timeout(Exception):
    pass


class _Died(Exception):
    def __str__(self) -> str:
        return "end of output"


class _Oversize(Exception):
    pass


class _ProtocolError(Exception):
    pass


def _kill_group(pid: int) -> None:
    # The group id is the child's pid (start_new_session); it is not reused while the child is
    # unreaped, and we only reap after this.
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _describe_exit(returncode: int) -> str:
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    if name == "SIGXCPU":
        return "SIGXCPU: CPU limit reached"
    return name


# ---- the per-process pool ----

_live_pools: weakref.WeakSet[WorkerPool] = weakref.WeakSet()
_pool: WorkerPool | None = None
_pool_config = WorkerPoolConfig()
_pool_lock = threading.Lock()


def get_worker_pool() -> WorkerPool:
    """This process's pool, started lazily with the `configure_worker_pool` settings.

    A forked child gets a new pool (the parent's workers stay the parent's), and so does a
    process whose pool was closed.
    """
    global _pool
    pool = _pool
    if pool is not None and not pool.closed and pool._owner_pid == os.getpid():
        return pool
    with _pool_lock:
        if _pool is None or _pool.closed or _pool._owner_pid != os.getpid():
            _pool = WorkerPool(_pool_config)
        return _pool


def configure_worker_pool(config: WorkerPoolConfig) -> None:
    """Set the config of this process's pool; a running pool is closed and rebuilt on next use."""
    global _pool, _pool_config
    with _pool_lock:
        _pool_config = config
        if _pool is not None and _pool.config != config:
            _pool.close()
            _pool = None


def _after_fork_in_child() -> None:
    global _pool, _pool_lock
    _pool_lock = threading.Lock()  # another thread may have held it at the fork
    for pool in list(_live_pools):
        if not pool.closed:
            pool._reset_after_fork()
    if _pool is not None:
        _pool.close()  # abandons: the workers belong to the parent
        _pool = None


def _close_all_pools() -> None:
    for pool in list(_live_pools):
        if pool._owner_pid == os.getpid():
            pool.close()


_mp_exit_hook_pid = -1


def _close_at_multiprocessing_exit() -> None:
    """In a multiprocessing child (an `AsyncVectorEnv` worker), close the pools when it exits.

    A forked multiprocessing child ends with `os._exit`, so `atexit` never runs there; its workers
    would exit on their own (end of stdin) but be orphans that nobody reaps. Multiprocessing runs
    its own exit finalizers first, so register one there, once per process.
    """
    global _mp_exit_hook_pid
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is None or _mp_exit_hook_pid == os.getpid():
        return
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        mp_util.Finalize(None, _close_all_pools, exitpriority=0)
        _mp_exit_hook_pid = os.getpid()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_all_pools)
