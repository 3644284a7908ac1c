"""`lumos view`: a local web page over trajectory files (runs, suites, episodes, tokens, compare).

`catalog.py` finds and reads the files (only under the paths given, through `rollouts.store`),
`views.py` turns trajectories into what the pages show (lanes, token colours, comparisons), `app.py`
is the Flask app with its security headers, `shop.py` replays WebShop episodes and mounts the shop's
read-only app at `/shop/` so each step's page opens, and `server.py` serves it with waitress on loopback.
`cli.py` holds the light `ViewConfig` the `lumos` command table imports.
"""
