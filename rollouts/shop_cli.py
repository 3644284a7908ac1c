"""`lumos shop-serve` (also `lumos shop serve`): the shop as a website a person opens in a browser.

Each visit to `/` starts a session with the next goal of the task set (its instruction on every
page); the done page shows WebShop's reward. The server listens on loopback only, and its links
are signed (HMAC, a secret per server), so a hand-written `?page=done&asin=...` is refused;
`--read-only` serves pages for a trajectory viewer and never reaches the done page.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass


@dataclass
class ShopServeConfig:
    """Serve the WebShop shop on 127.0.0.1 for a person to use."""

    tasks: str = "synthetic:webshop_train"
    """task spec whose goals the sessions get (synthetic:shop_synthetic, webshop:PATH, ...)"""
    port: int = 0
    """port on 127.0.0.1; 0 lets the OS pick one"""
    duration_s: float = 0.0
    """stop after this many seconds; 0 serves until Ctrl-C"""
    read_only: bool = False
    """serve pages only (a trajectory viewer): any state URL opens, nothing can be bought or scored"""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0..65535, got {self.port}")
        if self.duration_s < 0:
            raise ValueError(f"duration_s must be >= 0, got {self.duration_s}")


def run_shop_serve(config: ShopServeConfig) -> int:
    import gymnasium as gym

    import lumos_envs  # noqa: F401
    from lumos_envs.envs.webshop.server import Session, ShopApp, ShopServer

    env = gym.make("lumos/WebShop-v0", tasks=config.tasks, disable_env_checker=True).unwrapped
    counter = itertools.count()

    def new_session() -> tuple[str, Session]:
        index = next(counter) % len(env.tasks)
        env.reset(options={"task_index": index})
        scorer = env._score_state  # bound to this env's current goal
        goal = env._goal
        shop = env.shop

        def score(state, goal=goal):  # type: ignore[no-untyped-def]
            previous, env._goal = env._goal, goal
            try:
                return scorer(state)
            finally:
                env._goal = previous

        return secrets.token_hex(8), Session(shop, env.task.question, score)

    server = ShopServer(ShopApp(new_session=new_session, read_only=config.read_only), port=config.port).start()
    mode = " read-only" if config.read_only else ""
    print(f"WebShop{mode} at http://127.0.0.1:{server.port}/  (Ctrl-C stops)", flush=True)
    try:
        server.serve_for(config.duration_s)
    finally:
        env.close()
    return 0
