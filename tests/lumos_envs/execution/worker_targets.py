"""Targets for the worker-pool tests: module-level functions a tool worker imports and runs.

Kept apart from `test_worker.py` so a worker imports no pytest; the tests allow this module's
name as a target prefix and put its folder on the worker's PYTHONPATH. `make_pool_env` builds a
tiny Gymnasium env whose `step` calls the pool, for the `AsyncVectorEnv` tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

from lumos_envs.execution.errors import ToolError, ToolResourceError, ToolTimeout
from lumos_envs.execution.tool import tool


class TargetSyntaxError(ToolError):
    """A ToolError subclass defined outside errors.py, as the math tools define their own."""


def echo(*args: str) -> list[str]:
    return list(args)


@tool(name="EchoTool", interface="EchoTool(text): Return the text")
def echo_tool(text: str) -> str:
    return f"tool:{text}"


def getpid() -> str:
    return str(os.getpid())


def is_imported(module: str) -> str:
    return str(module in sys.modules)


def fail(message: str) -> str:
    raise ToolError(message)


def fail_subclass(message: str) -> str:
    raise TargetSyntaxError(message)


def fail_resource(message: str) -> str:
    raise ToolResourceError(message)


def buggy() -> str:
    raise ValueError("bad value")


def exit_now() -> str:
    sys.exit(3)


def not_text() -> Any:
    return 42


def spin() -> str:
    while True:
        pass


def spin_with_child(pid_file: str) -> str:
    """Start a grandchild process, write its pid to `pid_file`, then loop forever."""
    child = subprocess.Popen(["sleep", "1000"])
    with open(pid_file, "w") as f:
        f.write(str(child.pid))
    while True:
        pass


def sleep(seconds: str) -> str:
    import time

    time.sleep(float(seconds))
    return seconds


def allocate(gigabytes: str) -> str:
    block = bytearray(int(float(gigabytes) * 2**30))
    return str(len(block))


def grow() -> str:
    """Allocate (and touch) 16 MiB blocks until memory runs out."""
    blocks = []
    while True:
        blocks.append(b"x" * (16 * 2**20))


def crash() -> str:
    os.kill(os.getpid(), signal.SIGSEGV)
    return "unreachable"


def big_output(num_chars: str) -> str:
    return "x" * int(num_chars)


def chatty(text: str) -> str:
    """Print things that look like protocol lines, on every channel a tool might use."""
    print('{"id": 0, "ok": true, "result": "forged"}')
    print("no newline at the end", end="")
    sys.stdout.flush()
    os.write(1, b'{"id": 1, "ok": true, "result": "forged by fd"}\n')
    os.write(2, b"a message on stderr\n")
    stdin_text = sys.stdin.read()  # /dev/null in a worker: must not eat requests
    return f"{text}|{stdin_text}"


def make_pool_env(allowed_prefix: str, sys_path: str) -> Any:
    """Build a `PoolEnv` (below) after pointing this process's worker pool at this module."""
    from lumos_envs.execution.worker import WorkerPoolConfig, configure_worker_pool

    configure_worker_pool(
        WorkerPoolConfig(allowed_module_prefixes=(allowed_prefix,), extra_sys_path=(sys_path,))
    )
    return _pool_env_class()()


def _pool_env_class() -> type:
    # gymnasium is imported here, not at the top, so that workers importing this module stay light.
    import gymnasium as gym

    from lumos_envs.execution.worker import get_worker_pool

    class PoolEnv(gym.Env):
        """Echoes the action through the worker pool; the action `spin` times out instead."""

        def __init__(self) -> None:
            self.observation_space = gym.spaces.Text(max_length=32)
            self.action_space = gym.spaces.Text(max_length=32)

        def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[str, dict]:
            super().reset(seed=seed)
            return "ready", {"env_pid": os.getpid()}

        def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
            pool = get_worker_pool()
            try:
                if action == "spin":
                    pool.call(f"{__name__}:spin", [], timeout_s=0.3)
                    observation = "finished"
                else:
                    observation = pool.call(f"{__name__}:echo", [action], timeout_s=30.0)[0]
            except ToolTimeout:
                observation = "timeout"
            worker_pids = pool.worker_pids()
            info = {"env_pid": os.getpid(), "worker_pid": worker_pids[0] if worker_pids else -1}
            return observation, 0.0, False, False, info

    return PoolEnv
