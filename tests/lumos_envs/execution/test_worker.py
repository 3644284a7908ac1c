"""The killable worker pool: round trips, errors, timeouts, limits, fork and AsyncVectorEnv workers."""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from pathlib import Path

import pytest

from lumos_envs.execution import worker as worker_module
from lumos_envs.execution.errors import ToolError, ToolResourceError, ToolTimeout
from lumos_envs.execution.worker import (
    WorkerPool,
    WorkerPoolConfig,
    configure_worker_pool,
    get_worker_pool,
)

try:  # a plain folder under pytest's rootdir insertion; a package if someone adds __init__.py files
    from . import worker_targets  # type: ignore[attr-defined]
except ImportError:
    import worker_targets  # type: ignore[no-redef]

TARGETS = worker_targets.__name__
# The folder from which `worker_targets` imports under its name, for the worker's PYTHONPATH.
TARGETS_ROOT = str(Path(worker_targets.__file__).resolve().parents[TARGETS.count(".")])
BUILTIN_ECHO = "lumos_envs.execution.worker_main:echo"


def target(name: str) -> str:
    return f"{TARGETS}:{name}"


def make_config(**overrides: object) -> WorkerPoolConfig:
    settings: dict = {"allowed_module_prefixes": (TARGETS,), "extra_sys_path": (TARGETS_ROOT,)}
    settings.update(overrides)
    return WorkerPoolConfig(**settings)


def is_alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie or a missing /proc entry counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def wait_until_gone(pid: int, timeout_s: float = 5.0, reaped: bool = False) -> bool:
    """Wait until `pid` is dead (if `reaped`, also reaped: no zombie left)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not (Path(f"/proc/{pid}").exists() if reaped else is_alive(pid)):
            return True
        time.sleep(0.02)
    return False


def num_open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def pool():
    with WorkerPool(make_config()) as pool:
        yield pool


# ---- results and errors ----


def test_result_round_trip(pool: WorkerPool) -> None:
    assert pool.call(target("echo"), ["a", "b c", "ü ∑ 😀"], timeout_s=30) == ["a", "b c", "ü ∑ 😀"]
    assert pool.call(target("echo"), [], timeout_s=5) == []
    assert pool.call(BUILTIN_ECHO, ["x"], timeout_s=5) == ["x"]
    assert pool.call(target("echo_tool"), ["hi"], timeout_s=5) == "tool:hi"  # a Tool: its fn runs


def test_worker_is_a_child_with_limits_and_env(pool: WorkerPool) -> None:
    pid = int(pool.call(target("getpid"), [], timeout_s=30))
    assert pid != os.getpid() and pool.worker_pids() == [pid]
    assert parent_of(pid) == os.getpid()
    assert os.getpgid(pid) == pid  # its own process group, so a kill takes its children too
    limits = Path(f"/proc/{pid}/limits").read_text()
    assert f"{2 * 1024**3}" in next(line for line in limits.splitlines() if "address space" in line)
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert b"PYTHONHASHSEED=0" in environ and b"OMP_NUM_THREADS=1" in environ


def test_tool_error_round_trip(pool: WorkerPool) -> None:
    with pytest.raises(ToolError) as caught:
        pool.call(target("fail"), ["cannot parse 'x +'"], timeout_s=30)
    assert type(caught.value) is ToolError and str(caught.value) == "cannot parse 'x +'"
    # A subclass from another module comes back as a plain ToolError with the same message,
    with pytest.raises(ToolError) as caught:
        pool.call(target("fail_subclass"), ["bad syntax"], timeout_s=5)
    assert type(caught.value) is ToolError and str(caught.value) == "bad syntax"
    # but errors.py's own subclasses keep their class.
    with pytest.raises(ToolResourceError, match="^too big$"):
        pool.call(target("fail_resource"), ["too big"], timeout_s=5)


def test_other_exceptions_become_tool_errors_and_worker_lives_on(pool: WorkerPool) -> None:
    pid = int(pool.call(target("getpid"), [], timeout_s=30))
    with pytest.raises(ToolError, match="^ValueError: bad value$"):
        pool.call(target("buggy"), [], timeout_s=5)
    with pytest.raises(ToolError, match="^SystemExit: 3$"):
        pool.call(target("exit_now"), [], timeout_s=5)
    with pytest.raises(ToolError, match="TypeError: .* returned int, expected str"):
        pool.call(target("not_text"), [], timeout_s=5)
    with pytest.raises(ToolError, match="TypeError"):
        pool.call(target("echo_tool"), ["one", "two"], timeout_s=5)
    assert pool.worker_pids() == [pid]


def test_stray_output_does_not_corrupt_the_protocol(pool: WorkerPool) -> None:
    assert pool.call(target("chatty"), ["hello"], timeout_s=30) == "hello|"
    for i in range(5):
        assert pool.call(target("echo"), [str(i)], timeout_s=5) == [str(i)]


def test_output_cap(pool: WorkerPool) -> None:
    assert pool.call(target("big_output"), ["100"], timeout_s=30, max_output_chars=100) == "x" * 100
    pid = pool.worker_pids()[0]
    with pytest.raises(ToolResourceError, match="101 characters"):
        pool.call(target("big_output"), ["101"], timeout_s=5, max_output_chars=100)
    assert pool.call(target("echo"), ["still here"], timeout_s=5) == ["still here"]
    assert pool.worker_pids() == [pid]


# ---- what may run ----


def test_refused_targets(pool: WorkerPool) -> None:
    for refused in ("os:system", "subprocess:run", f"{TARGETS}x:echo", "builtins:eval"):
        with pytest.raises(ToolError, match="not allowed"):
            pool.call(refused, ["ls"], timeout_s=5)
    assert pool.worker_pids() == []  # refused before any worker started
    with pytest.raises(ToolError, match="not of the form"):
        pool.call("lumos_envs.tools", [], timeout_s=5)
    # The worker checks too: an allowed module's imports do not open a way out.
    with pytest.raises(ToolError, match="defined in 'posix', which is not allowed"):
        pool.call(f"{TARGETS}:os.system", ["echo owned"], timeout_s=30)
    with pytest.raises(ToolError, match="dunder"):
        pool.call(f"{TARGETS}:__builtins__", [], timeout_s=5)


def test_targets_outside_the_package_need_the_allow_list() -> None:
    with WorkerPool(WorkerPoolConfig(extra_sys_path=(TARGETS_ROOT,))) as pool:
        with pytest.raises(ToolError, match="not allowed"):
            pool.call(target("echo"), ["x"], timeout_s=5)
        assert pool.call(BUILTIN_ECHO, ["x"], timeout_s=30) == ["x"]


# ---- timeouts, crashes and limits ----


def test_timeout_kills_the_worker_and_pool_recovers(pool: WorkerPool) -> None:
    pid = int(pool.call(target("getpid"), [], timeout_s=30))
    started = time.monotonic()
    with pytest.raises(ToolTimeout, match="timed out after 0.3 s"):
        pool.call(target("spin"), [], timeout_s=0.3)
    assert time.monotonic() - started < 3.0
    assert not Path(f"/proc/{pid}").exists()  # killed and reaped, not a zombie
    (replacement,) = pool.worker_pids()  # started at once, so its start-up overlaps the caller's work
    assert replacement != pid
    assert int(pool.call(target("getpid"), [], timeout_s=30)) == replacement
    assert pool.call(target("echo"), ["after"], timeout_s=5) == ["after"]


def test_replacement_after_a_kill_can_be_turned_off() -> None:
    with WorkerPool(make_config(replace_killed=False)) as pool:
        with pytest.raises(ToolTimeout):
            pool.call(target("spin"), [], timeout_s=0.3)
        assert pool.worker_pids() == []
        assert pool.call(target("echo"), ["lazily"], timeout_s=30) == ["lazily"]


def test_closing_the_pool_stops_a_replacement_that_is_still_starting() -> None:
    pool = WorkerPool(make_config(preload_modules=("sympy",)))
    with pytest.raises(ToolTimeout):
        pool.call(target("spin"), [], timeout_s=0.3)
    (replacement,) = pool.worker_pids()
    pool.close()
    assert wait_until_gone(replacement)


def test_timeout_kills_the_whole_process_group(pool: WorkerPool, tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    with pytest.raises(ToolTimeout):
        pool.call(target("spin_with_child"), [str(pid_file)], timeout_s=2.0)
    grandchild = int(pid_file.read_text())
    assert wait_until_gone(grandchild), "the tool's own child process survived the timeout"


def test_crash_gives_resource_error_and_respawn(pool: WorkerPool) -> None:
    pid = int(pool.call(target("getpid"), [], timeout_s=30))
    with pytest.raises(ToolResourceError, match="SIGSEGV"):
        pool.call(target("crash"), [], timeout_s=5)
    assert not Path(f"/proc/{pid}").exists()
    assert pool.call(target("echo"), ["alive"], timeout_s=30) == ["alive"]


def test_worker_that_died_while_idle_is_replaced(pool: WorkerPool) -> None:
    pid = int(pool.call(target("getpid"), [], timeout_s=30))
    os.kill(pid, 9)
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # wait until it can be reaped, but don't reap
    assert pool.call(target("echo"), ["fresh"], timeout_s=30) == ["fresh"]
    assert pool.worker_pids() != [pid]


def test_memory_bomb_is_stopped(pool: WorkerPool) -> None:
    started = time.monotonic()
    with pytest.raises((ToolResourceError, ToolError), match="memory"):
        pool.call(target("allocate"), ["10"], timeout_s=30)
    assert time.monotonic() - started < 20
    assert pool.call(target("allocate"), ["0.01"], timeout_s=30) == str(int(0.01 * 2**30))


def test_gradual_memory_growth_hits_the_limit() -> None:
    with WorkerPool(make_config(max_memory_bytes=768 * 2**20)) as pool:
        with pytest.raises(ToolResourceError):
            pool.call(target("grow"), [], timeout_s=30)
        assert pool.call(target("echo"), ["ok"], timeout_s=30) == ["ok"]


def test_cpu_limit_is_a_per_call_safety_net() -> None:
    with WorkerPool(make_config(max_cpu_s=1.0)) as pool:
        for _ in range(3):  # CPU used by earlier calls does not count against later ones
            assert pool.call(target("sleep"), ["0.05"], timeout_s=30) == "0.05"
        started = time.monotonic()
        with pytest.raises(ToolResourceError, match="SIGXCPU"):
            pool.call(target("spin"), [], timeout_s=60)
        assert time.monotonic() - started < 15
        assert pool.call(target("echo"), ["ok"], timeout_s=30) == ["ok"]


def test_many_timeouts_leak_no_fds_or_processes(pool: WorkerPool) -> None:
    def one_timeout() -> int:
        pid = int(pool.call(target("getpid"), [], timeout_s=30))
        with pytest.raises(ToolTimeout):
            pool.call(target("spin"), [], timeout_s=0.05)
        return pid

    one_timeout()
    fds_before = num_open_fds()
    pids = [one_timeout() for _ in range(8)]
    assert num_open_fds() <= fds_before
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)


# ---- pool life cycle ----


def test_close_kills_workers_and_refuses_calls() -> None:
    pool = WorkerPool(make_config())
    pid = int(pool.call(target("getpid"), [], timeout_s=30))
    pool.close()
    assert not Path(f"/proc/{pid}").exists()
    with pytest.raises(RuntimeError, match="closed"):
        pool.call(target("echo"), ["x"], timeout_s=5)
    pool.close()  # idempotent


def test_dropped_pool_kills_its_worker() -> None:
    pool = WorkerPool(make_config())
    pid = int(pool.call(target("getpid"), [], timeout_s=30))
    del pool
    assert not Path(f"/proc/{pid}").exists()


def test_close_during_a_call_ends_that_call() -> None:
    pool = WorkerPool(make_config())
    pool.call(target("echo"), [], timeout_s=30)
    errors: list[Exception] = []

    def run() -> None:
        try:
            pool.call(target("sleep"), ["30"], timeout_s=60)
        except Exception as e:
            errors.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.2)
    pid = pool.worker_pids()[0]
    pool.close()
    thread.join(10)
    assert not thread.is_alive() and isinstance(errors[0], ToolResourceError)
    assert not Path(f"/proc/{pid}").exists()


def test_workers_run_calls_in_parallel() -> None:
    with WorkerPool(make_config(num_workers=2)) as pool:
        pool.warm_up([])
        assert len(pool.worker_pids()) == 2
        results: list[object] = []
        threads = [
            threading.Thread(target=lambda: results.append(pool.call(target("sleep"), ["0.5"], timeout_s=10)))
            for _ in range(2)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == ["0.5", "0.5"]
        assert time.monotonic() - started < 1.0  # one after the other would take at least 1.0 s


def test_preload_and_warm_up(pool: WorkerPool) -> None:
    with WorkerPool(make_config(preload_modules=("xml.dom.minidom",))) as preloaded:
        assert preloaded.call(target("is_imported"), ["xml.dom.minidom"], timeout_s=30) == "True"
    assert pool.call(target("is_imported"), ["email.mime.text"], timeout_s=30) == "False"
    pool.warm_up(["email.mime.text"])
    assert pool.call(target("is_imported"), ["email.mime.text"], timeout_s=5) == "True"
    with pytest.raises(ToolTimeout):
        pool.call(target("spin"), [], timeout_s=0.05)
    # a fresh worker imports the warmed-up modules too
    assert pool.call(target("is_imported"), ["email.mime.text"], timeout_s=30) == "True"
    with pytest.raises(ImportError, match="no_such_module_xyz"):
        pool.warm_up(["no_such_module_xyz"])


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="num_workers"):
        WorkerPoolConfig(num_workers=0)
    with pytest.raises(ValueError, match="allowed_module_prefixes"):
        WorkerPoolConfig(allowed_module_prefixes=("bad prefix",))
    with pytest.raises(ValueError, match="preload_modules"):
        WorkerPoolConfig(preload_modules="sympy")  # type: ignore[arg-type]


# ---- the per-process pool, fork and AsyncVectorEnv ----


@pytest.fixture
def default_pool_config():
    """Restore the per-process pool's config after a test changes it."""
    saved = worker_module._pool_config
    yield
    configure_worker_pool(saved)


def test_get_worker_pool_is_one_per_process(default_pool_config: None) -> None:
    configure_worker_pool(make_config())
    pool = get_worker_pool()
    assert get_worker_pool() is pool
    assert pool.call(target("echo"), ["x"], timeout_s=30) == ["x"]
    configure_worker_pool(make_config(num_workers=2))
    assert pool.closed and get_worker_pool() is not pool
    assert get_worker_pool().config.num_workers == 2


def test_fork_gets_a_new_pool_and_leaves_the_parents_workers(default_pool_config: None) -> None:
    configure_worker_pool(make_config())
    shared = get_worker_pool()
    own = WorkerPool(make_config())
    shared_pid = int(shared.call(target("getpid"), [], timeout_s=30))
    own_pid = int(own.call(target("getpid"), [], timeout_s=30))
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (runs in the forked process)
        report: dict = {}
        try:
            os.close(read_end)
            fresh = get_worker_pool()
            report["new_pool"] = fresh is not shared
            report["inherited_pids"] = shared.worker_pids()
            fresh_pid = int(fresh.call(target("getpid"), [], timeout_s=30))
            report["fresh_parent_is_me"] = parent_of(fresh_pid) == os.getpid()
            report["fresh_pid"] = fresh_pid
            report["own_pid"] = int(own.call(target("getpid"), [], timeout_s=30))
            fresh.close()
            own.close()
        except BaseException as e:
            report["error"] = repr(e)
        finally:
            os.write(write_end, json.dumps(report).encode())
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        report = json.loads(f.read())
    os.waitpid(child, 0)
    assert "error" not in report, report["error"]
    assert report["new_pool"] and report["inherited_pids"] == [] and report["fresh_parent_is_me"]
    assert report["fresh_pid"] not in (shared_pid, own_pid) and report["own_pid"] not in (shared_pid, own_pid)
    # The parent's workers were neither killed nor used by the child.
    assert shared.call(target("getpid"), [], timeout_s=5) == str(shared_pid)
    assert own.call(target("getpid"), [], timeout_s=5) == str(own_pid)
    own.close()


@pytest.mark.parametrize("context", ["spawn", "fork"])
def test_inside_async_vector_env_workers(context: str, default_pool_config: None) -> None:
    from gymnasium.vector import AsyncVectorEnv

    env_fn = functools.partial(worker_targets.make_pool_env, TARGETS, TARGETS_ROOT)
    envs = AsyncVectorEnv([env_fn, env_fn], shared_memory=False, context=context)
    try:
        observations, infos = envs.reset(seed=0)
        assert list(observations) == ["ready", "ready"]
        observations, _, _, _, infos = envs.step(("hello", "world"))
        assert list(observations) == ["hello", "world"]
        env_pids, worker_pids = list(infos["env_pid"]), list(infos["worker_pid"])
        assert len(set(env_pids)) == 2 and os.getpid() not in env_pids
        for env_pid, worker_pid in zip(env_pids, worker_pids):
            assert parent_of(worker_pid) == env_pid  # each vector-env worker has its own pool

        observations, _, _, _, infos = envs.step(("spin", "again"))
        assert list(observations) == ["timeout", "again"]
        assert not is_alive(worker_pids[0]) and is_alive(worker_pids[1])
        observations, _, _, _, infos = envs.step(("back", "again"))
        assert list(observations) == ["back", "again"]
        worker_pids = list(infos["worker_pid"])
    finally:
        envs.close()
    for worker_pid in worker_pids:  # killed and reaped by the vector-env worker as it exits
        assert wait_until_gone(worker_pid, reaped=True), "a tool worker outlived its vector-env worker"
