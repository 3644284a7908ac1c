"""WebShop's world without the browser: catalog, goals, search and the vocabulary they are built from.

`lumos_envs.envs.webshop` puts pages and actions on top; this package knows nothing of Gymnasium.
"""
