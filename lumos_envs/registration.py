"""Every lumos env id, registered with a string entry point so listing envs imports nothing heavy."""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

LUMOS_ENVS: dict[str, str] = {
    "lumos/Math-v0": "lumos_envs.envs.math:MathEnv",
    "lumos/QA-v0": "lumos_envs.envs.qa:QAEnv",
    "lumos/WebShop-v0": "lumos_envs.envs.webshop.env:WebShopEnv",
    "lumos/Multimodal-v0": "lumos_envs.envs.multimodal:MultimodalEnv",
    "lumos/SQL-v0": "lumos_envs.envs.sql:SqlEnv",
}
"""env id -> entry point (one line per env)."""


def register_lumos_envs() -> None:
    """Register the lumos envs with Gymnasium (idempotent)."""
    for env_id, entry_point in LUMOS_ENVS.items():
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point, disable_env_checker=False)
