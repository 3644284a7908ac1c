"""BrowserFrontEnd's waiting and cleaning up, without a browser: the parts that made CI flaky."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest
from selenium.common.exceptions import TimeoutException, WebDriverException

from lumos_envs.envs.webshop.frontends import _ACT, _AWAIT_DOCUMENT, BrowserFrontEnd, _reap
from lumos_envs.envs.webshop.state import ShopActionError, ShopState


class _NavigatingDriver:
    """A driver whose new document appears after a few waits, with inspector errors in between."""

    def __init__(self, errors_before_load: int, navigates: bool = True, on_page: bool = True) -> None:
        self.errors_left = errors_before_load
        self.navigates, self.on_page = navigates, on_page
        self.marker: str | None = None
        self.acted: list[tuple[str, str]] = []
        self.current_url = "http://127.0.0.1:1/shop/s?page=search"

    def execute_script(self, script: str, *args):
        assert script == _ACT
        self.marker = args[0]
        self.acted.append((args[1], args[2]))
        return self.on_page

    def execute_async_script(self, script: str, *args):
        assert script == _AWAIT_DOCUMENT and args[0] == self.marker
        if not self.navigates:
            time.sleep(0.05)  # chromedriver's script timeout, shortened
            raise TimeoutException("script timeout")
        if self.errors_left:
            self.errors_left -= 1
            raise WebDriverException('unknown error: unhandled inspector error: {"code":-32000,'
                                     '"message":"Node with given id does not belong to the document"}')
        return ["http://127.0.0.1:1/shop/s/search?search_query=red+shoes", "<html><body><p>new</p></body></html>"]


def _front_end(driver) -> BrowserFrontEnd:
    front = BrowserFrontEnd.__new__(BrowserFrontEnd)  # no server, no browser: only the waiting logic
    front.driver = driver
    front.timeout_s = 2.0
    front._views = {"text": "the old page"}
    return front


def test_navigate_treats_inspector_errors_as_not_loaded_yet():
    driver = _NavigatingDriver(errors_before_load=3)
    front = _front_end(driver)
    front._navigate("search", "red shoes")
    assert driver.errors_left == 0 and driver.acted == [("search", "red shoes")]
    assert front.state == ShopState("results", "red shoes", 1)
    assert front._views == {"dom": "<html><body><p>new</p></body></html>"}  # the old page's views are gone
    assert front.view("text") == "new"


def test_navigate_times_out_when_no_new_document_arrives():
    driver = _NavigatingDriver(errors_before_load=0, navigates=False)
    front = _front_end(driver)
    front.timeout_s = 0.2
    with pytest.raises(TimeoutException):
        front._navigate("click", "next >")


def test_navigate_refuses_a_label_missing_from_the_page():
    driver = _NavigatingDriver(errors_before_load=0, on_page=False)
    front = _front_end(driver)
    with pytest.raises(ShopActionError, match="not on the page"):
        front._navigate("click", "next >")


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
