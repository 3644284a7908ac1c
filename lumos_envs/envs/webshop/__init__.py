"""WebShop in lumos: one state machine (`state.py`), pages (`pages.py`), two front ends
(`frontends.py`: text and Selenium), the server (`server.py`), tools (`tools.py`) and the env (`env.py`)."""

from lumos_envs.envs.webshop.env import WebShopEnv

__all__ = ["WebShopEnv"]
