"""`lumos view` in headless Chromium (Selenium, as the shop's browser tests): the runs, episode and
compare pages over a real oracle trajectory file, hostile trajectory text shown as text, and paths
outside the given folders refused. Screenshots go to the test's temp folder and /tmp/viewer_shots/."""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from lumos_envs.envs.webshop.frontends import chromium_flags
from rollouts.engine import Job, RolloutConfig, run_rollouts
from rollouts.policies import AgentConfig, make_agent
from rollouts.store import StepRecord, TrajectoryWriter, read_trajectories
from rollouts.viewer.app import create_app
from rollouts.viewer.catalog import Catalog
from rollouts.viewer.server import ViewerServer

SHOTS = Path("/tmp/viewer_shots")
HOSTILE = '<script>window.__xss = 1; alert(1)</script> and "><img src=x onerror="window.__xss = 2; alert(2)">'


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Two runs of the oracle on lumos/Math-v0 (B with one episode turned into a failure), a
    hostile trajectory, an outside file and a symlink to it; the viewer serving the runs folder."""
    root = tmp_path_factory.mktemp("viewer")
    runs = root / "runs"
    agent_config = AgentConfig(agent="oracle")
    config = RolloutConfig(jobs=[Job("lumos/Math-v0", limit=2)], out=str(runs / "oracle_a.jsonl"), reveal_gold=True,
                           agent_info=agent_config.info(), progress=False)
    run_rollouts(config, make_agent(agent_config))
    header, episodes = read_trajectories(runs / "oracle_a.jsonl")
    with TrajectoryWriter(runs / "oracle_b.jsonl", {**header["config"], "note": "B"}) as writer:
        for number, episode in enumerate(episodes):
            if number == 1:  # B's second episode stops one step early, with a wrong answer
                episode = replace(episode, steps=episode.steps[:-1], success=False, reward=0.0, final_answer=None,
                                  terminated=False, truncated=True)
                if hasattr(episode, "end_reason"):
                    episode.end_reason = "step_limit"
            writer.write(episode)
    hostile = replace(episodes[0], question=HOSTILE, steps=[
        StepRecord(index=0, action=f"R1 = Calculator({HOSTILE})", observation=HOSTILE, subgoal=HOSTILE, error=HOSTILE),
    ])
    with TrajectoryWriter(runs / "hostile.jsonl", {"note": "hostile"}) as writer:
        writer.write(hostile)
    outside = root / "outside"
    outside.mkdir()
    shutil.copy(runs / "oracle_a.jsonl", outside / "secret.jsonl")
    (runs / "escape.jsonl").symlink_to(outside / "secret.jsonl")
    server = ViewerServer(create_app(Catalog.from_paths([runs]), refresh_s=0)).start()
    yield server.url, root, episodes
    server.close()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not download drivers
    profile = tempfile.mkdtemp(prefix="lumos-view-chromium-")
    options = webdriver.ChromeOptions()
    for flag in chromium_flags(profile):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _shot(driver, tmp_path: Path, name: str) -> None:
    """The whole page (up to 3,000 px tall) through the DevTools protocol, as a window cannot grow past the screen."""
    width, height = driver.execute_script("return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    clip = {"x": 0, "y": 0, "width": int(width), "height": min(int(height), 3000), "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip})
    path = tmp_path / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    SHOTS.mkdir(exist_ok=True)
    shutil.copy(path, SHOTS / path.name)


def _text(driver) -> str:
    return driver.find_element("tag name", "body").text


def test_runs_episode_and_compare_pages_show_the_trajectory(site, browser, tmp_path):
    url, _, episodes = site
    first = episodes[0]
    subgoal, action, observation = first.steps[0].subgoal, first.steps[0].action, first.steps[0].observation

    browser.get(url)
    text = _text(browser)
    assert "Runs and suites" in text and "oracle_a.jsonl" in text and "oracle_b.jsonl" in text
    assert "Wilson" in text and "[" in text
    assert "escape.jsonl" not in text  # the symlink that leaves the folder is never listed
    for part in (episodes[-1].steps[-1].action, episodes[-1].steps[-1].observation):
        assert part in text  # the episode list shows each episode's last action and observation
    _shot(browser, tmp_path, "runs")

    browser.get(url + "episode?f=0/oracle_a.jsonl&n=0")
    text = _text(browser)
    assert first.question in text
    assert subgoal in text and action in text and observation in text
    assert "The executed result for Subgoal 1 is" in text  # the feedback turn the planner answered
    _shot(browser, tmp_path, "episode")

    browser.get(url + "compare?a=0/oracle_a.jsonl&b=0/oracle_b.jsonl")
    text = _text(browser)
    rows = browser.find_elements("css selector", "table.compare-table tbody tr")
    assert "broken" in rows[0].text and episodes[1].key.task_id in rows[0].text  # changed outcome listed first
    assert "Side by side" in text and f"part at step {len(episodes[1].steps) - 1}" in text
    second = episodes[1].steps[0]
    assert second.subgoal in text and second.action in text and second.observation in text
    _shot(browser, tmp_path, "compare")

    browser.get(url + "?success=no")
    assert "1 match" in _text(browser)


def test_hostile_text_renders_as_text(site, browser, tmp_path):
    url, _, _ = site
    from selenium.common.exceptions import NoAlertPresentException

    for page in ("episode?f=0/hostile.jsonl&n=0", "?suite=0/hostile.jsonl", "tokens?f=0/hostile.jsonl&n=0"):
        browser.get(url + page)
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.text
        assert browser.execute_script("return window.__xss === undefined")
        assert browser.find_elements("css selector", "img[src='x'], script") == []
    browser.get(url + "episode?f=0/hostile.jsonl&n=0")
    text = _text(browser)
    assert "<script>window.__xss = 1; alert(1)</script>" in text
    assert '"><img src=x onerror="window.__xss = 2; alert(2)">' in text
    _shot(browser, tmp_path, "hostile")


@pytest.mark.parametrize("path", [
    "episode?f=0/escape.jsonl&n=0",  # a symlink out of the folder
    "episode?f=0/../outside/secret.jsonl&n=0",
    "episode?f=0/%2e%2e/outside/secret.jsonl&n=0",
    "episode?f=0/%252e%252e%252foutside%252fsecret.jsonl&n=0",
    "compare?a=0/oracle_a.jsonl&b=/etc/passwd",
    "..%2f..%2fetc%2fpasswd",
])
def test_paths_outside_the_folders_are_refused(site, browser, path):
    url, root, _ = site
    browser.get(url + path)
    text = _text(browser)
    assert "refused" in text
    assert "synthetic-" not in text  # nothing of the outside file's episodes came through


@pytest.fixture(scope="module")
def new_pages(tmp_path_factory):
    """Oracle WebShop episodes, a hand-written ScienceQA task with its PNG, and a schema-v2 episode
    with token and prompt ids of a tiny tokenizer; the viewer serving them (the ScienceQA folder as
    an --image-root)."""
    from PIL import Image

    from agents.backends.tiny import train_tokenizer
    from rollouts.store import EpisodeKey, GenerationRecord, Trajectory

    root = tmp_path_factory.mktemp("viewer_new")
    runs = root / "runs"
    agent_config = AgentConfig(agent="oracle")
    run_rollouts(RolloutConfig(jobs=[Job("lumos/WebShop-v0", limit=1)], out=str(runs / "shop.jsonl"), reveal_gold=True,
                               agent_info=agent_config.info(), progress=False), make_agent(agent_config))
    _, shop_episodes = read_trajectories(runs / "shop.jsonl")

    sqa = root / "sqa"
    (sqa / "test" / "5").mkdir(parents=True)
    picture = Image.new("RGB", (120, 80), (250, 250, 250))
    for x in range(30, 90):
        for y in range(20, 60):
            picture.putpixel((x, y), (40, 90, 200))
    picture.save(sqa / "test" / "5" / "image.png")
    problems = {"5": {"question": "What color is the rectangle?", "choices": ["blue", "red"], "answer": 0, "hint": "",
                      "image": "image.png", "split": "test"}}
    (sqa / "problems.json").write_text(__import__("json").dumps(problems))
    mm = Trajectory(key=EpisodeKey("lumos/Multimodal-v0", "scienceqa-5", 0), split="test", domain="multimodal",
                    question="What color is the rectangle?", steps=[
                        StepRecord(index=0, action="R1 = VQA([IMG], What color is the rectangle?)", observation="R1 = blue",
                                   subgoal="Subgoal 1: Ask about the rectangle's color."),
                        StepRecord(index=1, action="Answer(blue)", observation="Answer = blue", reward=1.0)],
                    final_answer="blue", reward=1.0, success=True, terminated=True)
    with TrajectoryWriter(runs / "sqa.jsonl", {"jobs": [{"env_id": "lumos/Multimodal-v0", "tasks": f"scienceqa:{sqa / 'problems.json'}"}]}) as writer:
        writer.write(mm)

    texts = ["Subgoal 1: Add the apples.\n", "R1 = Calculator(2 + 3)\n", "The executed result for Subgoal 1 is 5."]
    tokenizer = train_tokenizer(texts * 4, vocab_size=300)
    tokenizer.save_pretrained(root / "tok")
    encode = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    plan, ground = encode(texts[0]), encode(texts[1])
    planner = GenerationRecord(role="planner", text=texts[0], token_ids=plan, logprobs=[-0.05 * i for i in range(len(plan))],
                               finish_reason="stop", prompt_ids=encode("Please plan: Add 2 and 3 apples."))
    grounder = GenerationRecord(role="grounder", text=texts[1], token_ids=ground, logprobs=[-0.3] * len(ground),
                                finish_reason="stop", prompt_ids=encode(texts[2]))
    math = Trajectory(key=EpisodeKey("lumos/Math-v0", "apples", 0), split="test", domain="math", question="2 + 3 apples?", steps=[
        StepRecord(index=0, action="R1 = Calculator(2 + 3)", observation="R1 = 5", subgoal=texts[0].strip(), result="5",
                   generations=[planner, grounder])], final_answer="5", reward=1.0, success=True, terminated=True)
    models = {m: {"name": "tiny", "tokenizer": str(root / "tok")} for m in ("planner", "grounder")}
    with TrajectoryWriter(runs / "tokens.jsonl", {"agent_info": {"models": models}}) as writer:
        writer.write(math)
    app = create_app(Catalog.from_paths([runs]), refresh_s=0, image_roots=[sqa])
    server = ViewerServer(app).start()
    yield server.url, shop_episodes
    server.close()
    app.extensions["lumos_shop_replays"].close()


def test_webshop_step_opens_in_the_read_only_shop_and_buy_is_refused(new_pages, browser, tmp_path):
    url, episodes = new_pages
    episode = episodes[0]
    assert episode.success and episode.steps[-1].action.endswith("Click(buy now)")
    browser.get(url + "episode?f=0/shop.jsonl&n=0")
    text = _text(browser)
    assert "PAGE TEXT" in text.upper() and "open in the read-only shop" in text
    assert episode.steps[1].observation.split(" [SEP] ")[-1] in text  # the recorded page text, one field a line
    links = browser.find_elements("css selector", "a.shop")
    assert len(links) == 1 + len(episode.steps)  # the first page, then one per step
    assert "differs" not in text  # the replay reached the recorded pages
    _shot(browser, tmp_path, "webshop_episode")
    bought = links[-1]
    assert "as bought" in bought.text
    fields = episode.steps[1].observation.split(" [SEP] ")  # the item page the agent saw
    title = fields[next(i for i, f in enumerate(fields) if f.startswith("Price:")) - 1]
    browser.get(bought.get_attribute("href"))
    page = _text(browser)
    assert title in page and "Buy Now" in page
    _shot(browser, tmp_path, "webshop_shop_item")
    browser.find_element("css selector", "a[data-click='buy now']").click()
    refused = _text(browser)
    assert "read-only" in refused and "nothing can be bought" in refused
    assert "reward" not in refused.lower()
    _shot(browser, tmp_path, "webshop_buy_refused")


def test_grpo_mask_and_file_image_pages(new_pages, browser, tmp_path):
    url, _ = new_pages
    browser.get(url + "tokens?f=0/tokens.jsonl&n=0")
    browser.find_element("link text", "grpo").click()
    assert "mask=grpo" in browser.current_url
    trained = browser.find_elements("css selector", ".tokens .tok.loss1")
    untrained = browser.find_elements("css selector", ".tokens .tok.loss0")
    assert trained and untrained and "trained (mask 1)" in _text(browser)
    assert all("mask 1" in t.get_attribute("title") for t in trained)
    _shot(browser, tmp_path, "tokens_grpo_mask")
    browser.find_element("link text", "sft").click()
    assert "mask=sft" in browser.current_url and ("SFT row 1" in _text(browser) or "builds no SFT row" in _text(browser))
    _shot(browser, tmp_path, "tokens_sft_mask")
    browser.get(url + "episode?f=0/sqa.jsonl&n=0")
    image = browser.find_element("css selector", "img.task-image")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) == 120
    assert "image file" in _text(browser) and "test/5/image.png" in _text(browser)
    _shot(browser, tmp_path, "scienceqa_image")
    browser.get("about:blank")  # no keep-alive connection left to hold the server's close
