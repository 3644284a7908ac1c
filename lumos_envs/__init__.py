"""lumos environments: LUMOS action language, execution module, tools, task sources and Gymnasium envs.

Importing `lumos_envs` registers the `lumos/...` env ids, so `gym.make("lumos/Math-v0")` works
after `import lumos_envs` (or with `gym.make("lumos_envs:lumos/Math-v0")`).
"""

from lumos_envs.registration import register_lumos_envs

register_lumos_envs()

__version__ = "0.1.0"
