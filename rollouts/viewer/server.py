"""waitress serving the viewer's Flask app on loopback, in a background thread (tests) or in front (`lumos view`)."""

from __future__ import annotations

from typing import Any

from lumos_envs.serving import LOOPBACK, LoopbackServer

__all__ = ["LOOPBACK", "ViewerServer"]


class ViewerServer(LoopbackServer):
    """The viewer on 127.0.0.1 at `port` (0: the OS picks one); `start()` returns once it listens."""

    what = "the viewer"

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, threads: int = 4) -> None:
        super().__init__(app, host=host, port=port, threads=threads, ident="lumos-view")
