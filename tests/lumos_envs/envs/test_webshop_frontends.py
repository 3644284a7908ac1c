"""BrowserFrontEnd's waiting and cleaning up, without a browser: the parts that made CI flaky."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest
from selenium.common.exceptions import TimeoutException, WebDriverException

from lumos_envs.envs.webshop.frontends import BrowserFrontEnd, _reap


class _NavigatingDriver:
    """A driver whose new document appears after a few polls, with inspector errors in between."""

    def __init__(self, errors_before_load: int) -> None:
        self.errors_left = errors_before_load
        self.marker: str | None = None
        self.navigated = False
        self.current_url = "http://127.0.0.1:1/shop/s?page=search"

    def execute_script(self, script: str, *args):
        if script.startswith("window.__lumosDocument ="):
            self.marker = args[0]
            return None
        if not self.navigated:
            return False
        if self.errors_left:
            self.errors_left -= 1
            raise WebDriverException('unknown error: unhandled inspector error: {"code":-32000,'
                                     '"message":"Node with given id does not belong to the document"}')
        return True

    def click(self) -> None:
        self.navigated = True


def _front_end(driver) -> BrowserFrontEnd:
    front = BrowserFrontEnd.__new__(BrowserFrontEnd)  # no server, no browser: only the waiting logic
    front.driver = driver
    front.timeout_s = 2.0
    return front


def test_navigate_treats_inspector_errors_as_not_loaded_yet():
    driver = _NavigatingDriver(errors_before_load=3)
    front = _front_end(driver)
    front._navigate(driver.click)
    assert driver.errors_left == 0
    assert front.state.page == "search"


def test_navigate_times_out_when_no_new_document_arrives():
    driver = _NavigatingDriver(errors_before_load=0)
    front = _front_end(driver)
    front.timeout_s = 0.2
    with pytest.raises(TimeoutException):
        front._navigate(lambda: None)


def test_reap_kills_processes_that_outlive_close():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        process = psutil.Process(child.pid)
        start = time.monotonic()
        _reap([process], grace_s=0.2)
        assert not process.is_running()  # killed and collected (psutil reaps its own children)
        assert time.monotonic() - start < 5
    finally:
        if child.poll() is None:
            child.kill()


def test_reap_is_quiet_when_everything_already_exited():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    process = psutil.Process(child.pid)
    child.wait()
    _reap([process], grace_s=0.2)


def test_reap_counts_zombies_as_gone():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    process = psutil.Process(child.pid)
    while process.status() != psutil.STATUS_ZOMBIE:  # exited, not yet collected
        time.sleep(0.01)
    start = time.monotonic()
    _reap([process], grace_s=30)
    assert time.monotonic() - start < 10  # did not sit out the grace period
    assert not psutil.pid_exists(child.pid)  # our own child: collected too
