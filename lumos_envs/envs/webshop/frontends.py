"""The two front ends of the shop: in-process text and a real browser; both follow `Shop`'s transitions.

A front end owns the current `ShopState` and the page HTML. `TextFrontEnd` applies the transition
and renders the page itself. `BrowserFrontEnd` checks the action against the same transition (so
an invalid click is refused the same way), then does it in headless Chromium (fills the search
box and submits the form, or clicks the element whose `data-click` is the label, through the
DOM), waits for the next document and reads the state back from the browser's URL and the page
from the DOM.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import uuid
from typing import Any, Callable, Protocol
from urllib.parse import parse_qs, urlsplit

import psutil

from lumos_envs.envs.webshop.pages import page_texts, page_view, query_of, render_page, texts_to_text
from lumos_envs.envs.webshop.state import Shop, ShopActionError, ShopState

logger = logging.getLogger(__name__)

SESSION = "local"
"""session id of an env's own shop (each browser env has its own server)"""

Scorer = Callable[[ShopState], float]


class FrontEnd(Protocol):
    state: ShopState

    def start_session(self, shop: Shop, instruction: str, scorer: Scorer) -> None: ...

    def search(self, query: str) -> None: ...

    def click(self, label: str) -> None: ...

    def html(self) -> str: ...

    def view(self, observation_format: str) -> str: ...

    def close(self) -> None: ...


class TextFrontEnd:
    """Pages rendered in-process; the fast default."""

    def __init__(self) -> None:
        self.state = ShopState()
        self._shop: Shop | None = None
        self._instruction = ""
        self._scorer: Scorer = lambda state: 0.0

    def start_session(self, shop: Shop, instruction: str, scorer: Scorer) -> None:
        self._shop, self._instruction, self._scorer = shop, instruction, scorer
        self.state = ShopState()

    def search(self, query: str) -> None:
        self.state = self._need_shop().search(self.state, query)

    def click(self, label: str) -> None:
        self.state = self._need_shop().click(self.state, label)

    def html(self) -> str:
        reward = self._scorer(self.state) if self.state.page == "done" else 0.0
        return render_page(self._need_shop(), self.state, instruction=self._instruction, base=f"/shop/{SESSION}", reward=reward)

    def view(self, observation_format: str) -> str:
        """The observation: `html` renders the page; the text formats are built from the state
        directly (`page_texts`), with no HTML rendered or parsed."""
        if observation_format == "html":
            return self.html()
        reward = self._scorer(self.state) if self.state.page == "done" else 0.0
        texts = page_texts(self._need_shop(), self.state, instruction=self._instruction, reward=reward)
        return texts_to_text(texts, rich=observation_format == "text_rich")

    def close(self) -> None:
        return None

    def _need_shop(self) -> Shop:
        if self._shop is None:
            raise RuntimeError("start_session() first")
        return self._shop


_ACT = """
window.__lumosDocument = arguments[0];
const [kind, text] = [arguments[1], arguments[2]];
if (kind === 'search') {
  const box = document.getElementById('search_input'), button = document.getElementById('search-button');
  if (!box || !button) return false;
  box.value = text;
  button.click();
  return true;
}
for (const e of document.querySelectorAll('[data-click]')) {
  if (e.dataset.click === text) { e.click(); return true; }
}
return false;
"""
"""Mark the current document, then search or click in it (one WebDriver round trip)."""

_AWAIT_DOCUMENT = """
const marker = arguments[0], done = arguments[arguments.length - 1];
const ready = () => done([location.href, document.documentElement.outerHTML]);
if (window.__lumosDocument === marker) return;  // still the old document: its unload ends this script
if (document.readyState !== 'loading') ready(); else document.addEventListener('DOMContentLoaded', ready);
"""
"""Resolve with the URL and the DOM once a document without the marker has been parsed (an event,
not a poll); the DOM comes with it to save a round trip for the text views."""


class BrowserFrontEnd:
    """Headless Chromium (Debian's `chromium` + `chromium-driver`) driving this env's own shop server.

    A step is one script that marks the document and clicks the link (or fills the search box
    and clicks Search) through the DOM, then one asynchronous script that resolves on the new
    document's `DOMContentLoaded`. The shop's pages have no scripts (the CSP forbids them), so a
    DOM click and a WebDriver mouse click do the same thing, and the page is complete once
    parsed (its one stylesheet does not change the DOM), hence `pageLoadStrategy=eager`. Before
    this, a click through WebDriver's pointer actions, `send_keys` per character and a 10 ms
    readiness poll made a step 330-470 ms. A click that leads to the state already shown does not
    reload the page, and each page's source and text views are read once.
    """

    CLOSE_GRACE_S = 5.0
    """How long `close()` lets chromedriver and Chromium exit on their own before killing them."""

    def __init__(self, *, chromedriver: str = "/usr/bin/chromedriver", chromium: str | None = None,
                 page_load_timeout_s: float = 20.0) -> None:
        from lumos_envs.envs.webshop.server import ShopApp, ShopServer

        self.state = ShopState()
        self.app = ShopApp()
        self.server = ShopServer(self.app)
        self.timeout_s = page_load_timeout_s
        self._profile = tempfile.mkdtemp(prefix="lumos-chromium-")
        self._views: dict[str, str] = {}
        self.driver = None
        try:
            self.server.start()
            self.driver = _start_chromium(chromedriver, chromium, self._profile, page_load_timeout_s)
        except BaseException:
            self.close()
            raise

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/shop/{SESSION}"

    def start_session(self, shop: Shop, instruction: str, scorer: Scorer) -> None:
        self.app.set_session(SESSION, shop, instruction, scorer)
        self.driver.get(f"{self.base_url}?page=search")
        self._views = {}
        self._read_state(self.driver.current_url)

    def search(self, query: str) -> None:
        expected = self.app.shop(SESSION).search(self.state, query)
        self._navigate("search", expected.keywords)
        self._check(expected)

    def click(self, label: str) -> None:
        expected = self.app.shop(SESSION).click(self.state, label)
        if expected == self.state:
            return  # the same page (an option already chosen): nothing to reload
        self._navigate("click", " ".join(label.split()).lower())
        self._check(expected)

    def html(self) -> str:
        if "html" not in self._views:
            self._views["html"] = self.driver.page_source
        return self._views["html"]

    def view(self, observation_format: str) -> str:
        if observation_format == "html":
            return self.html()
        if observation_format not in self._views:
            # the text views read the DOM the wait brought back (the same text nodes as page_source)
            self._views[observation_format] = page_view(self._views.get("dom") or self.html(), observation_format)
        return self._views[observation_format]

    def close(self) -> None:
        driver, self.driver = self.driver, None
        if driver is not None:
            tree = _process_tree(driver)
            try:
                driver.quit()
            except Exception as error:  # the browser may already be gone; keep cleaning up
                logger.warning("chromium quit failed: %s", error)
            _reap(tree, grace_s=self.CLOSE_GRACE_S)
        self.server.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    # -----------------------------------------------------------------------------------------

    def _navigate(self, kind: str, text: str) -> None:
        """Search or click (`kind`) in the current document and wait until a new one is parsed.

        A marker on the old `window` tells the documents apart. The wait is `_AWAIT_DOCUMENT`,
        which chromedriver runs once any navigation it saw start is done: in the new document it
        resolves at once or on `DOMContentLoaded`; started in the old one, it ends with an error
        when that document unloads, and the next try runs in the new one. Errors while waiting
        mean "not yet", never failure (Chromium may answer with an inspector error such as "Node
        with given id does not belong to the document" while a document is being replaced).
        """
        from selenium.common.exceptions import TimeoutException, WebDriverException

        marker = uuid.uuid4().hex
        deadline = time.monotonic() + self.timeout_s
        try:
            found = self.driver.execute_script(_ACT, marker, kind, text)
        except WebDriverException:  # the script may race the navigation it started; the wait tells
            found = True
        if not found:
            raise ShopActionError(f"{text!r} is not on the page")
        error: WebDriverException | None = None
        while time.monotonic() < deadline:
            try:
                url, dom = self.driver.execute_async_script(_AWAIT_DOCUMENT, marker)
            except WebDriverException as caught:  # the old document unloading, or "not yet"
                error = caught
                time.sleep(0.002)  # a dead browser answers at once: do not spin on it
                continue
            self._views = {"dom": dom}
            self._read_state(url)
            return
        raise TimeoutException(f"no new page within {self.timeout_s} s") from error

    def _read_state(self, url: str) -> None:
        parts = urlsplit(url)
        query = query_of(parse_qs(parts.query, keep_blank_values=True))
        if parts.path.endswith("/search"):
            self.state = ShopState("results", query.get("search_query", ""), 1)
            self.state = ShopState.from_query(self.state.to_query())
        else:
            self.state = ShopState.from_query(query)

    def _check(self, expected: ShopState) -> None:
        if self.state != expected:
            raise ShopActionError(f"the browser reached {self.state} but the shop expected {expected}")


def _process_tree(driver: Any) -> list[psutil.Process]:
    """chromedriver and every process under it (Chromium's browser, renderers, zygotes, GPU)."""
    process = getattr(getattr(driver, "service", None), "process", None)
    if process is None:
        return []
    try:
        root = psutil.Process(process.pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _reap(tree: list[psutil.Process], *, grace_s: float) -> None:
    """Wait for a closed browser's processes to exit; kill and collect whatever is left.

    `driver.quit()` returns once chromedriver has been asked to stop; Chromium's helpers can
    outlive it for a moment, or for good if the browser hung. Nothing may be left running. A
    zombie counts as gone: it holds no resources, and only its parent (or, for an orphan, the
    container's init, which may never reap) can collect it.
    """
    alive = _running(tree, until=time.monotonic() + grace_s)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            continue
    if alive:
        logger.warning("killed %d browser processes that outlived close()", len(alive))
        _running(alive, until=time.monotonic() + grace_s)


def _running(processes: list[psutil.Process], *, until: float) -> list[psutil.Process]:
    """The processes still running (not exited, not zombies) at `until` or once none is."""
    while True:
        running = []
        for process in processes:
            try:
                if process.status() != psutil.STATUS_ZOMBIE:
                    running.append(process)
                elif process.ppid() == os.getpid():
                    process.wait(timeout=0)  # our own child (chromedriver): collect it
            except (psutil.NoSuchProcess, psutil.TimeoutExpired):
                continue
            except psutil.Error:
                running.append(process)
        if not running or time.monotonic() >= until:
            return running
        time.sleep(0.05)


def _start_chromium(chromedriver: str, chromium: str | None, profile: str, timeout_s: float):
    """Headless Chromium that resolves no host but loopback, sandboxed unless running as root."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not download drivers
    options = webdriver.ChromeOptions()
    for flag in chromium_flags(profile):
        options.add_argument(flag)
    binary = chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if binary:
        options.binary_location = binary
    options.page_load_strategy = "eager"  # DOMContentLoaded: the pages have no scripts (see BrowserFrontEnd)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_page_load_timeout(timeout_s)
    driver.set_script_timeout(timeout_s)
    return driver


def chromium_flags(profile: str) -> list[str]:
    """Chromium's command-line flags (`--no-sandbox` only when running as root)."""
    flags = [
        "--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-extensions", "--disable-default-apps", "--no-default-browser-check",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile}", "--window-size=1280,1024",
        # less work per navigation (Chromium's CPU per step about 160 -> 100 ms here): no history
        # written; one renderer process, kept across navigations (the back-forward cache,
        # proactive BrowsingInstance swaps and RenderDocument each start a new frame or process)
        "--incognito", "--renderer-process-limit=1",
        "--disable-features=BackForwardCache,ProactivelySwapBrowsingInstance,RenderDocument,Translate,"
        "OptimizationHints,MediaRouter",
        "--disable-breakpad", "--disable-client-side-phishing-detection", "--disable-hang-monitor",
        "--disable-renderer-backgrounding", "--disable-background-timer-throttling",
        "--disable-backgrounding-occluded-windows", "--metrics-recording-only", "--password-store=basic",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--no-sandbox")
    return flags
