"""WebShop episodes in the viewer: each step's page, opened in the shop's read-only mode.

Trajectory files store each step's page *text*, not the shop state behind it (page, keywords,
product, options). The state comes back by replaying the episode: the viewer makes the env the
run's header names (same env id, task set, env kwargs; text mode), resets it on the episode's task
and seed and steps the recorded actions, reading the shop state after each. The state machine is
deterministic, so the replay reaches the pages the agent saw; each replayed page text is compared
with the recorded one, and a step where they part is said on the page (a catalog that changed
since the run).

The pages are served by the shop's own Flask app, `ShopApp(read_only=True)`, mounted in the
viewer's WSGI app at `/shop/...` and `/static/shop.css` (same origin, no second port). Read-only
mode serves unsigned state URLs (so the viewer can link to any step) and refuses the done page
with 403, and its sessions' scorer is one that raises, so nothing in the viewer can buy or score.
A step that bought links to the item page it bought from.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Mapping

from rollouts.store import Trajectory
from rollouts.viewer.catalog import LoadedRun

logger = logging.getLogger(__name__)

SHOP_PREFIXES = ("/shop/", "/static/shop.css")
"""paths the mounted read-only shop answers (everything else is the viewer's)"""
MAX_SESSIONS = 256
"""replayed episodes kept as shop sessions (least recently opened dropped first)"""


@dataclass
class StepLink:
    """Where one step's page opens in the read-only shop."""

    url: str | None
    """a path on the viewer's origin, or None"""
    label: str
    """what the link says (the page it opens)"""
    note: str = ""
    """one line: why there is no link, or how the page differs from the recorded one"""


@dataclass
class ShopReplay:
    """An episode's replay: the link of the page before the first step and after each step."""

    start: StepLink | None
    steps: list[StepLink]
    reason: str
    """why there is no replay (empty when there is one)"""


def _never_score(state: Any) -> float:
    raise RuntimeError("the viewer's shop is read-only; nothing is scored")


class ShopReplays:
    """Replays WebShop episodes and serves their pages read-only; one env per (env id, task set, kwargs)."""

    def __init__(self) -> None:
        from lumos_envs.envs.webshop.server import ShopApp

        self.app = ShopApp(read_only=True)
        self._envs: dict[str, Any] = {}
        self._done: "OrderedDict[str, ShopReplay]" = OrderedDict()
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the replay envs (their executors' worker processes)."""
        with self._lock:
            envs, self._envs = list(self._envs.values()), {}
        for env in envs:
            env.close()

    def mount(self, viewer_wsgi: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """A WSGI app sending the shop's paths to the read-only shop and the rest to the viewer."""

        def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            path = str(environ.get("PATH_INFO", ""))
            if path.startswith(SHOP_PREFIXES[0]) or path == SHOP_PREFIXES[1]:
                return self.app(environ, start_response)
            return viewer_wsgi(environ, start_response)

        return dispatch

    def replay(self, run: LoadedRun, trajectory: Trajectory) -> ShopReplay:
        """The read-only shop links of an episode's pages (replayed once, then kept)."""
        job = _job(run, trajectory)
        if job is None:
            return ShopReplay(None, [], "the file's header names no job for this env, so the shop cannot be rebuilt")
        key = f"{run.file.file_id}|{run.stamp}|{trajectory.key}"
        with self._lock:
            if key in self._done:
                self._done.move_to_end(key)
                return self._done[key]
            try:
                replay = self._replay(job, trajectory)
            except Exception as error:  # noqa: BLE001 - any env failure is one line on the page, not a 500
                logger.warning("viewer: WebShop replay of %s failed: %s", trajectory.key.task_id, error)
                replay = ShopReplay(None, [], f"the episode could not be replayed ({type(error).__name__}: {str(error)[:160]})")
            self._done[key] = replay
            while len(self._done) > MAX_SESSIONS:
                self._done.popitem(last=False)
                if len(self.app.sessions) > MAX_SESSIONS:
                    self.app.sessions.pop(next(iter(self.app.sessions)))
        return replay

    def _env(self, job: Mapping[str, Any]) -> Any:
        import gymnasium as gym

        import lumos_envs  # noqa: F401  (registers the env ids)

        kwargs = {str(k): v for k, v in (job.get("env_kwargs") or [])}
        if job.get("tasks") is not None:
            kwargs["tasks"] = job["tasks"]
        kwargs.update(mode="text", max_steps=10_000)  # never a browser; never truncated before the recorded end
        kwargs.pop("reveal_gold", None)
        ident = f"{job['env_id']}|{sorted(kwargs.items())!r}"
        if ident not in self._envs:
            self._envs[ident] = gym.make(str(job["env_id"]), disable_env_checker=True, **kwargs).unwrapped
        return self._envs[ident]

    def _replay(self, job: Mapping[str, Any], trajectory: Trajectory) -> ShopReplay:
        from lumos_envs.envs.webshop.pages import state_query

        env = self._env(job)
        env.reset(seed=trajectory.key.seed, options={"task_id": trajectory.key.task_id})
        session = "ep-" + hashlib.sha256(f"{job.get('tasks')}|{trajectory.key}".encode()).hexdigest()[:16]
        self.app.set_session(session, env.shop, env.task.question, _never_score)

        def link(state: Any, before: Any) -> StepLink:
            if state.page == "done":  # read-only refuses it: open the item page it was bought from, options chosen
                if before is not None and before.page in ("item", "item_sub"):
                    item = replace(state, page="item", keywords=before.keywords, page_num=before.page_num, sub="")
                    return StepLink(f"/shop/{session}?{state_query(item)}", f"item {state.asin} as bought (buying is refused here)")
                return StepLink(None, "", "bought: the read-only shop has no done page")
            what = {"search": "search page", "results": f"results page {state.page_num}", "item": f"item {state.asin}",
                    "item_sub": f"{state.sub} of {state.asin}"}[state.page]
            return StepLink(f"/shop/{session}?{state_query(state)}", what)

        start = link(env.frontend.state, None)
        steps: list[StepLink] = []
        parted = False
        for step in trajectory.steps:
            before = env.frontend.state
            if env._done:
                steps.append(StepLink(None, "", "the replayed episode had already ended here"))
                continue
            observation, *_ = env.step(step.action)
            made = link(env.frontend.state, before)
            if observation != step.observation and not parted:
                parted = True
                made.note = "the replayed page differs from the recorded one from here on (the catalog or env changed since the run)"
            steps.append(made)
        return ShopReplay(start, steps, "")


def _job(run: LoadedRun, trajectory: Trajectory) -> Mapping[str, Any] | None:
    config = (run.header or {}).get("config") or {}
    for job in config.get("jobs") or []:
        if isinstance(job, Mapping) and job.get("env_id") == trajectory.key.env_id:
            return job
    return None
