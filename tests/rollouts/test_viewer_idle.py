"""`lumos view` with nobody looking uses next to no CPU (a resource bound on the real process, not a speed
test), and closing it ends its server thread even while a browser keeps a connection open."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import psutil

IDLE_S = 3.0
"""seconds the viewer is left alone"""


def test_an_idle_viewer_does_not_spin(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "rollouts.cli", "view", str(tmp_path), "--duration-s", "60"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = process.stdout.readline()  # printed once the server listens
        assert "lumos view:" in line, line
        url = line.split(" at ", 1)[1].split()[0]
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
        viewer = psutil.Process(process.pid)
        before, started = viewer.cpu_times(), time.monotonic()
        time.sleep(IDLE_S)
        after, wall_s = viewer.cpu_times(), time.monotonic() - started
        cpu_s = (after.user + after.system) - (before.user + before.system)
        # A spinning loop takes a core (about wall_s) even on a busy machine's share; idle waits take ~0.
        assert cpu_s < 0.1 * wall_s, f"the idle viewer used {cpu_s:.2f} CPU s in {wall_s:.1f} s"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_closing_with_a_kept_alive_connection_ends_the_server_thread(tmp_path):
    import http.client

    from rollouts.viewer.app import create_app
    from rollouts.viewer.catalog import Catalog
    from rollouts.viewer.server import ViewerServer

    server = ViewerServer(create_app(Catalog.from_paths([tmp_path]))).start()
    thread = server._thread
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)  # a browser keeps its connection
    connection.request("GET", "/")
    assert connection.getresponse().read()
    server.close()
    assert not thread.is_alive(), "close() left waitress's loop running on the open connection"
    connection.close()
