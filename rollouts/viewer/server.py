"""waitress serving the viewer's Flask app on loopback, in a background thread (tests) or in front (`lumos view`)."""

from __future__ import annotations

import logging
import threading
from typing import Any

logger = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "::1", "localhost")


class ViewerServer:
    """The viewer on 127.0.0.1 at `port` (0: the OS picks one); `start()` returns once it listens."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, threads: int = 4) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"the viewer serves on loopback only, got host {host!r}")
        self.app, self.host, self.requested_port, self.threads = app, host, port, threads
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> "ViewerServer":
        from waitress.server import create_server

        self._server = create_server(self.app, host=self.host, port=self.requested_port, threads=self.threads,
                                     ident="lumos-view", clear_untrusted_proxy_headers=True, asyncore_loop_timeout=0.1)
        self._thread = threading.Thread(target=self._run, name="lumos-view-server", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._server.run()
        except (OSError, ValueError):  # closing the socket from close() ends the loop this way
            pass

    def close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        # Workers first, while the loop still runs: a request finishing after the socket and the
        # loop's trigger are closed would write to a closed descriptor.
        try:
            server.task_dispatcher.shutdown(timeout=5)
        except RuntimeError as error:  # pragma: no cover - shutdown is best effort
            logger.warning("waitress task dispatcher shutdown failed: %s", error)
        server.close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> "ViewerServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
