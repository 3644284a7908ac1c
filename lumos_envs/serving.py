"""`LoopbackServer`: waitress serving one WSGI app on loopback, in a background thread.

The shop (`lumos shop serve`, WebShop's browser mode) and the trajectory viewer (`lumos view`)
both serve a Flask app this way: 127.0.0.1 only (an OS-picked port unless given), untrusted proxy
headers cleared, and a `close()` that stops the workers before the socket, so a request finishing
late never writes to a closed descriptor.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

logger = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "::1", "localhost")


class LoopbackServer:
    """An app on `host` (loopback) at `port` (0: the OS picks one); `start()` returns once it listens."""

    what = "the server"
    """how errors name this server"""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, threads: int = 4, ident: str = "lumos") -> None:
        if host not in LOOPBACK:
            raise ValueError(f"{self.what} serves on loopback only, got host {host!r}")
        self.app, self.host, self.requested_port, self.threads, self.ident = app, host, port, threads, ident
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

    def start(self) -> "LoopbackServer":
        from waitress.server import create_server

        self._server = create_server(self.app, host=self.host, port=self.requested_port, threads=self.threads,
                                     ident=self.ident, clear_untrusted_proxy_headers=True)
        self._thread = threading.Thread(target=self._run, name=f"{self.ident}-server", daemon=True)
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
        try:  # workers first, while the loop still runs
            server.task_dispatcher.shutdown(timeout=5)
        except Exception as error:  # noqa: BLE001  (pragma: no cover - shutdown is best effort)
            logger.warning("waitress task dispatcher shutdown failed: %s", error)
        # waitress's loop waits in select() for up to `asyncore_loop_timeout` (an int: 0 would spin a core,
        # so the default 1 s). Closing its sockets from here would not wake it; a trigger thunk closes them
        # (the listening socket and any kept-alive connection) from inside the loop, which then ends at once.
        thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            from waitress import wasyncore

            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
            thread.join(timeout=10)
        if server.socket is not None:  # the loop had ended or did not run the thunk
            server.close()

    def serve_for(self, duration_s: float | None = None) -> None:
        """Block until Ctrl-C, or for `duration_s` seconds (tests, demos), then close."""
        import time

        deadline = time.monotonic() + duration_s if duration_s else None
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    def __enter__(self) -> "LoopbackServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
