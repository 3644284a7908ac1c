"""lumos/WebShop-v0 in browser mode: check_env, parity with text mode, server security, clean close."""

from __future__ import annotations

import os
import urllib.error
import urllib.request

import gymnasium as gym
import psutil
import pytest
from gymnasium.utils.env_checker import check_env

import lumos_envs  # noqa: F401
from lumos_envs.envs.webshop.frontends import chromium_flags
from lumos_envs.envs.webshop.pages import page_view
from lumos_envs.envs.webshop.server import CONTENT_SECURITY_POLICY

PARITY_GOALS = int(os.environ.get("LUMOS_WEBSHOP_PARITY_GOALS", "20"))


def _browser_processes() -> set[int]:
    """chromium/chromedriver processes that descend from this test process."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if any(name in child.name() for name in ("chrom", "driver")):
                found.add(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found


@pytest.fixture(scope="module")
def browser_env():
    env = gym.make("lumos/WebShop-v0", mode="browser", reveal_gold=True)
    yield env
    env.close()


def test_check_env_browser_mode(browser_env):
    check_env(browser_env.unwrapped)


def _episode_actions(info: dict, variant: int) -> list[str]:
    plan = info["gold"]["plan"]["subgoals"]
    query = info["task"]["question"]
    actions = [f"search[{query}]"] if variant % 3 == 1 else [plan[0]["actions"][0]]
    if variant % 3 == 1:
        actions += ["click[next >]", "click[< prev]", "click[back to search]", plan[0]["actions"][0]]
    actions += [plan[1]["actions"][0], "click[features]", "click[< prev]", "Click(nope)"]
    if variant % 3 == 2:
        actions += ["click[reviews]", "click[< prev]", "click[description]", "click[< prev]"]
    actions += [action for subgoal in plan[2:-1] for action in subgoal["actions"]]  # the observer's browsing
    actions += list(plan[-1]["actions"][:-1])
    actions += ["Answer(done)"] if variant % 2 else [plan[-1]["actions"][-1]]
    return actions


@pytest.mark.slow
def test_parity_text_and_browser_on_20_goals(browser_env):
    text_env = gym.make("lumos/WebShop-v0", reveal_gold=True)
    for index in range(PARITY_GOALS):
        text_obs, info = text_env.reset(options={"task_index": index})
        browser_obs, _ = browser_env.reset(options={"task_index": index})
        assert text_obs == browser_obs
        for action in _episode_actions(info, index):
            t = text_env.step(action)
            b = browser_env.step(action)
            assert t[0] == b[0], (index, action)
            assert t[1:4] == b[1:4], (index, action)
            assert t[4]["available_actions"] == b[4]["available_actions"]
            for fmt in ("text", "text_rich"):
                assert page_view(text_env.unwrapped.frontend.html(), fmt) == page_view(browser_env.unwrapped.frontend.html(), fmt)
            if t[2] or t[3]:
                assert t[4]["metrics"] == b[4]["metrics"]
                break
        assert t[2], "each parity episode ends with a purchase"
    text_env.close()


def test_server_security(browser_env):
    env = browser_env.unwrapped
    server = env.frontend.server
    assert server._server.effective_host == "127.0.0.1" and server.port > 0
    url = f"http://127.0.0.1:{server.port}/shop/local?page=search"
    with urllib.request.urlopen(url) as response:
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    request = urllib.request.Request(url, headers={"Host": f"evil.example:{server.port}"})
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request)
    assert error.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(urllib.request.Request(url, data=b"x", method="POST"))
    assert error.value.code == 405
    # an XSS payload typed into the search box is shown as text, never run
    env.reset(options={"task_index": 0})
    payload = "<img src=x onerror=document.title='pwned'><script>document.title='pwned'</script>"
    observation, *_ = browser_env.step(f"search[{payload}]")
    assert env.frontend.driver.title == "WebShop"
    assert env.frontend.driver.find_elements("css selector", "img") == []
    assert "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1" in chromium_flags("/tmp/x")
    assert ("--no-sandbox" in chromium_flags("/tmp/x")) == (os.geteuid() == 0)


def _open_close_cycles(count: int) -> None:
    before = _browser_processes()
    for _ in range(count):
        env = gym.make("lumos/WebShop-v0", mode="browser")
        env.reset(seed=0)
        env.close()
    leftover = _browser_processes() - before
    alive = [p for p in leftover if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"browser processes left behind: {alive}"


@pytest.mark.slow
def test_open_close_leaves_no_browser_processes():
    _open_close_cycles(3)


@pytest.mark.soak
def test_open_close_100_cycles():
    _open_close_cycles(100)
