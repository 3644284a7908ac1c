"""The viewer without a browser (Flask's test client): path confinement, unreadable files as one
line, Wilson intervals, filters, compare order, tokens with and without a tokenizer, the image of
a multimodal episode, live refresh, security headers, the command and the eval report's line."""

from __future__ import annotations

import argparse
import html
import json
import logging
import math
import re
from pathlib import Path

import pytest

from rollouts.cli import COMMANDS, add_dataclass_arguments
from rollouts.report import SuiteResult, write_report
from rollouts.store import EpisodeKey, GenerationRecord, StepRecord, Trajectory, TrajectoryWriter
from rollouts.viewer.app import CONTENT_SECURITY_POLICY, create_app
from rollouts.viewer.catalog import Catalog, PathRefused, is_live, refuse_traversal
from rollouts.viewer.views import compare_runs, wilson_interval

HOST = {"Host": "127.0.0.1:8765"}


def _trajectory(task: str, success: bool = True, *, domain: str = "math", env_id: str = "lumos/Math-v0",
                generations: list[GenerationRecord] | None = None, **changes) -> Trajectory:
    steps = [
        StepRecord(index=0, action="R1 = Calculator(2 + 3)", observation="R1 = 5", subgoal="Subgoal 1: Add the apples.", result="5",
                   generations=generations or []),
        StepRecord(index=1, action="Answer(R1)", observation="Answer = 5", reward=float(success),
                   subgoal="Yes, I will stop planning.", format_error=None if success else "grounder: no action"),
    ]
    return Trajectory(key=EpisodeKey(env_id, task, 0), split="test", domain=domain, question=f"Question {task}?", steps=steps,
                      final_answer="5", reward=float(success), success=success, terminated=True, **changes)


def _write(path: Path, trajectories: list[Trajectory], config: dict | None = None) -> Path:
    with TrajectoryWriter(path, config or {"jobs": [{"env_id": "lumos/Math-v0", "tasks": None}]}) as writer:
        for t in trajectories:
            writer.write(t)
    return path


@pytest.fixture
def folder(tmp_path):
    runs = tmp_path / "runs"
    _write(runs / "a.jsonl", [_trajectory("t1"), _trajectory("t2"), _trajectory("t3")])
    _write(runs / "sub" / "b.jsonl", [_trajectory("t1"), _trajectory("t2", success=False), _trajectory("t4")])
    return runs


def _client(*paths: Path):
    return create_app(Catalog.from_paths(list(paths)), refresh_s=3).test_client()


@pytest.mark.parametrize("value", [
    "0/../x.jsonl", "0/%2e%2e/x.jsonl", "0/%2E%2E%2Fx.jsonl", "0/%252e%252e%252fx.jsonl", "/etc/passwd",
    "0/..\\x.jsonl", "0/a\x00.jsonl", "0/%25252525252e%25252525252e/x",
])
def test_traversal_in_any_spelling_is_refused(value):
    with pytest.raises(PathRefused):
        refuse_traversal(value)


def test_resolve_stays_inside_the_roots(folder, tmp_path):
    outside = _write(tmp_path / "outside.jsonl", [_trajectory("secret")])
    (folder / "link.jsonl").symlink_to(outside)
    (folder / "notes.txt").write_text("not a trajectory")
    catalog = Catalog.from_paths([folder])
    assert [f.file_id for f in catalog.files()] == ["0/a.jsonl", "0/sub/b.jsonl"]
    assert catalog.resolve("0/sub/b.jsonl").path == (folder / "sub" / "b.jsonl").resolve()
    for bad in ("0/link.jsonl", "0/notes.txt", "1/a.jsonl", "x/a.jsonl", "0/", "0/missing.jsonl"):
        with pytest.raises(PathRefused):
            catalog.resolve(bad)
    client = _client(folder)
    for url in ("/episode?f=0/link.jsonl&n=0", "/episode?f=0/..%2Foutside.jsonl&n=0", "/..%2f..%2fetc%2fpasswd",
                "/episode?f=0/%252e%252e/outside.jsonl&n=0"):
        response = client.get(url, headers=HOST)
        assert response.status_code == 403, url
        assert b"refused" in response.data and b"secret" not in response.data


def test_a_single_file_root(folder):
    client = _client(folder / "a.jsonl")
    assert client.get("/episode?f=0/a.jsonl&n=2", headers=HOST).status_code == 200
    assert client.get("/episode?f=0/b.jsonl&n=0", headers=HOST).status_code == 403


@pytest.mark.parametrize("content, expected", [
    (b'{"type": "header", "schema_version": 99, "config_hash": "x", "config": {}}\n', "schema_version 99"),
    (b'{"type": "header", "schema_version": 1, "config_hash": "x", "config": {}}\n\xff\xfe garbage\n', "not UTF-8"),
    (b'{"type": "note", "text": "hello"}\n', "no header line"),
    (b'not json\n{"type": "header"}\n', "not JSON"),
    (b"", "empty file"),
])
def test_an_unreadable_file_is_one_line(tmp_path, caplog, content, expected):
    (tmp_path / "bad.jsonl").write_bytes(content)
    _write(tmp_path / "good.jsonl", [_trajectory("t1")])
    with caplog.at_level(logging.WARNING, logger="rollouts.viewer.catalog"):
        page = _client(tmp_path).get("/", headers=HOST)
    assert page.status_code == 200
    text = page.data.decode()
    problems = [line for line in text.splitlines() if 'class="problem"' in line]
    assert len(problems) == 1 and expected in problems[0] and "Traceback" not in text
    assert "good.jsonl" in text  # the readable file is still shown
    assert any(expected in record.getMessage() for record in caplog.records)
    episode = _client(tmp_path).get("/episode?f=0/bad.jsonl&n=0", headers=HOST)
    assert episode.status_code == 404 and expected.encode() in episode.data


def test_a_torn_last_line_is_a_note_and_the_rest_is_shown(folder):
    path = folder / "a.jsonl"
    path.write_bytes(path.read_bytes() + b'{"type": "episode", "key": {"env')
    text = _client(folder).get("/", headers=HOST).data.decode()
    assert "last line is incomplete" in text and "3 complete episodes shown" in text


def test_wilson_interval():
    low, high = wilson_interval(5, 10)
    assert math.isclose(low, 0.2366, abs_tol=1e-4) and math.isclose(high, 0.7634, abs_tol=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and math.isclose(wilson_interval(0, 10)[1], 0.2775, abs_tol=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_runs_page_sums_and_filters(folder):
    client = _client(folder)
    text = client.get("/", headers=HOST).data.decode()
    assert "66.7%" in text and "[20.8%, 93.9%]" in text  # b: 2 of 3
    assert "6 match" in text
    failures = client.get("/?success=no", headers=HOST).data.decode()
    assert "1 match" in failures and "t2" in failures
    assert "1 match" in client.get("/?format_error=yes", headers=HOST).data.decode()
    assert "3 match" in client.get("/?suite=0/sub/b.jsonl", headers=HOST).data.decode()
    assert "0 match" in client.get("/?domain=qa", headers=HOST).data.decode()


def test_compare_lists_changed_outcomes_first(folder):
    catalog = Catalog.from_paths([folder])
    a, b = (catalog.load(catalog.resolve(i)) for i in ("0/a.jsonl", "0/sub/b.jsonl"))
    tasks = compare_runs(a, b)
    assert [(t.key[1], t.change) for t in tasks] == [("t2", "broken"), ("t3", "only in A"), ("t4", "only in B"), ("t1", "same")]
    page = _client(folder).get("/compare?a=0/a.jsonl&b=0/sub/b.jsonl", headers=HOST).data.decode()
    assert page.index("t2") < page.index("t1") and "Side by side" in page and "Subgoal 1: Add the apples." in page


def test_tokens_decoded_with_the_recorded_tokenizer_or_shown_as_ids(tmp_path):
    from agents.backends.tiny import train_tokenizer

    tokenizer = train_tokenizer(["Subgoal 1: Add the apples. R1 = Calculator(2 + 3)"] * 4, vocab_size=300)
    tokenizer.save_pretrained(tmp_path / "tok")
    ids = tokenizer("Subgoal 1: Add the apples.", add_special_tokens=False)["input_ids"]
    generation = GenerationRecord(role="planner", text="Subgoal 1: Add the apples.", token_ids=ids, logprobs=[-0.01] * len(ids))
    models = {"planner": {"name": "tiny", "path": str(tmp_path / "tok"), "tokenizer": str(tmp_path / "tok")}}
    config = {"agent_info": {"agent": "lumos", "models": models}}
    _write(tmp_path / "runs" / "with.jsonl", [_trajectory("t1", generations=[generation])], config)
    missing = {"agent_info": {"models": {"planner": {"name": "gone", "tokenizer": str(tmp_path / "nowhere")}}}}
    _write(tmp_path / "runs" / "without.jsonl", [_trajectory("t1", generations=[generation])], missing)
    client = _client(tmp_path / "runs")
    decoded = client.get("/tokens?f=0/with.jsonl&n=0", headers=HOST).data.decode()
    assert "decoded with" in decoded
    tokens = decoded[decoded.index('<div class="tokens">'):]
    pieces = re.findall(r'<span class="tok lp7"[^>]*>(.*?)</span>', tokens)  # logprob -0.01: the top colour bucket
    assert len(pieces) == len(ids) and html.unescape("".join(pieces)) == "Subgoal 1: Add the apples."
    shown_as_ids = client.get("/tokens?f=0/without.jsonl&n=0", headers=HOST).data.decode()
    assert "shown as ids" in shown_as_ids and "is not a folder on this machine" in shown_as_ids
    assert f">{ids[0]}<" in shown_as_ids


def test_v2_prompt_ids_give_the_feedback_turn_and_gold_plans_show(tmp_path):
    from agents.backends.tiny import train_tokenizer

    feedback = "The executed result for Subgoal 1 is 5. Should we stop planning?"
    tokenizer = train_tokenizer([feedback] * 4, vocab_size=300)
    tokenizer.save_pretrained(tmp_path / "tok")
    delta = tokenizer(feedback, add_special_tokens=False)["input_ids"]
    first = GenerationRecord(role="planner", text="Subgoal 1: Add the apples.", prompt_ids=[1, 2, 3])
    later = GenerationRecord(role="planner", text="Yes, I will stop planning.", prompt_ids=delta, prompt_ids_keep=9)
    trajectory = _trajectory("t1", generations=[first])
    trajectory.steps[1].generations = [later]
    trajectory.extra = {"gold": {"plan": {"subgoals": [{"text": "Add the apples.", "actions": ["R1 = Calculator(2 + 3)"]}]}}}
    models = {"planner": {"name": "tiny", "path": str(tmp_path / "tok"), "tokenizer": str(tmp_path / "tok")}}
    _write(tmp_path / "runs" / "v2.jsonl", [trajectory], {"agent_info": {"models": models}})
    page = _client(tmp_path / "runs").get("/episode?f=0/v2.jsonl&n=0", headers=HOST).data.decode()
    assert html.escape(feedback, quote=True) in page and "rebuilt" not in page
    assert "Gold plan" in page and "Add the apples.  →  R1 = Calculator(2 + 3)" in page
    tokens = _client(tmp_path / "runs").get("/tokens?f=0/v2.jsonl&n=0", headers=HOST).data.decode()
    assert "keeps 9 ids of the previous turn" in tokens and 'class="tok prompt"' in tokens


def test_multimodal_image_is_rerendered_from_the_task(tmp_path):
    from lumos_envs.tasks.registry import load_tasks

    task = load_tasks("synthetic:multimodal_train")[0]
    config = {"jobs": [{"env_id": "lumos/Multimodal-v0", "tasks": None}]}
    _write(tmp_path / "mm.jsonl", [_trajectory(task.id, domain="multimodal", env_id="lumos/Multimodal-v0")], config)
    client = _client(tmp_path)
    assert b'class="task-image"' in client.get("/episode?f=0/mm.jsonl&n=0", headers=HOST).data
    image = client.get("/image?f=0/mm.jsonl&n=0", headers=HOST)
    assert image.status_code == 200 and image.mimetype == "image/png" and image.data[:8] == b"\x89PNG\r\n\x1a\n"


def test_runs_page_refreshes_while_a_writer_holds_the_file(tmp_path):
    client = _client(tmp_path)
    with TrajectoryWriter(tmp_path / "live.jsonl", {"jobs": []}) as writer:
        writer.write(_trajectory("t1"))
        assert is_live(tmp_path / "live.jsonl")
        assert b'http-equiv="refresh" content="3"' in client.get("/", headers=HOST).data
    assert not is_live(tmp_path / "live.jsonl")
    assert b'http-equiv="refresh"' not in client.get("/", headers=HOST).data


def test_security_headers_host_and_methods(folder):
    client = _client(folder)
    page = client.get("/", headers=HOST)
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY and "script-src 'none'" in CONTENT_SECURITY_POLICY
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert b"<script" not in page.data and b"style=" not in page.data
    assert client.get("/", headers={"Host": "attacker.example:8765"}).status_code == 403
    assert client.post("/", headers=HOST).status_code == 405
    assert client.get("/episode?f=0/a.jsonl&n=x", headers=HOST).status_code == 404


def test_view_command_and_eval_report(tmp_path, folder):
    from rollouts.viewer.cli import ViewConfig

    assert COMMANDS["view"] == ("rollouts.viewer.cli:ViewConfig", "rollouts.viewer.cli:run_view", ("paths",))
    parser = argparse.ArgumentParser()  # the flags `lumos view` gets (make_parser would import every command)
    add_dataclass_arguments(parser, ViewConfig, ("paths",))
    args = parser.parse_args([str(folder), str(folder / "a.jsonl"), "--port", "0"])
    assert args.paths == [str(folder), str(folder / "a.jsonl")] and args.port == 0

    with pytest.raises(ValueError, match="at least one"):
        ViewConfig(paths=[])
    with pytest.raises(ValueError, match="no such file"):
        Catalog.from_paths([tmp_path / "missing"])
    (tmp_path / "eval" / "trajectories").mkdir(parents=True)
    result = SuiteResult("math", "lumos/Math-v0", "default", "in-domain", 1, 1.0, 1.0, 2.0, 0.0, 0.0)
    report = write_report([result], tmp_path / "eval")["md"].read_text()
    assert f"lumos view {tmp_path / 'eval' / 'trajectories'}" in report


def test_v1_and_v2_files_give_an_end_reason(folder):
    """Files without `end_reason` (schema v1) get one derived from terminated/truncated."""
    catalog = Catalog.from_paths([folder])
    assert {r.end_reason for r in catalog.load(catalog.resolve("0/a.jsonl")).rows} == {"answered"}


def test_a_growing_file_is_read_on_and_a_replaced_one_from_the_start(tmp_path):
    catalog = Catalog.from_paths([tmp_path])
    path = tmp_path / "live.jsonl"
    with TrajectoryWriter(path, {"jobs": []}) as writer:
        writer.write(_trajectory("t1"))
        first = catalog.load(catalog.resolve("0/live.jsonl"))
        writer.write(_trajectory("t2", success=False))
        grown = catalog.load(catalog.resolve("0/live.jsonl"))
    assert [r.task_id for r in first.rows] == ["t1"] and [r.task_id for r in grown.rows] == ["t1", "t2"]
    assert grown.rows[0] is first.rows[0]  # read on, not re-read
    assert grown.trajectory(1).key.task_id == "t2" and grown.trajectory(1).steps[1].format_error == "grounder: no action"
    with TrajectoryWriter(path, {"jobs": [], "other": "config"}, overwrite=True) as writer:
        for task in ("t7", "t8", "t9"):
            writer.write(_trajectory(task))
    replaced = catalog.load(catalog.resolve("0/live.jsonl"))
    assert [r.task_id for r in replaced.rows] == ["t7", "t8", "t9"]
    with pytest.raises(LookupError, match="no episode 3"):
        replaced.trajectory(3)


def test_lumos_view_serves_on_an_os_picked_port_and_prints_the_url(folder, capsys):
    """`run_view` is what `lumos view` calls (COMMANDS, checked above); `main` itself would import every command."""
    import urllib.request

    from rollouts.viewer.cli import ViewConfig, run_view

    assert run_view(ViewConfig(paths=[str(folder)], duration_s=0.3)) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("lumos view: 2 trajectory files at http://127.0.0.1:") and line.endswith("(Ctrl-C stops)")
    url = line.split(" at ", 1)[1].split()[0]
    with pytest.raises(OSError):  # stopped after duration_s
        urllib.request.urlopen(url, timeout=2)
    with pytest.raises(ValueError, match="no such file or folder"):
        run_view(ViewConfig(paths=[str(folder / "missing")]))


def test_tokens_page_shows_the_grpo_loss_mask(tmp_path):
    """`?mask=grpo` marks each token with the mask `rollouts.grpo.episode_rows` gives it: the sampled
    ids 1, the EOS the row appends after a stop 0, the prompt (feedback turns) 0."""
    from agents.backends.tiny import train_tokenizer

    texts = ["Subgoal 1: Add the apples.\n", "R1 = Calculator(2 + 3)\n", "The executed result for Subgoal 1 is 5."]
    tokenizer = train_tokenizer(texts * 4, vocab_size=300)
    tokenizer.save_pretrained(tmp_path / "tok")
    assert tokenizer.eos_token_id is not None
    encode = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    plan, ground = encode(texts[0]), encode(texts[1])
    planner = GenerationRecord(role="planner", text=texts[0], token_ids=plan, logprobs=[-0.1] * len(plan), finish_reason="stop",
                               prompt_ids=encode(texts[2]))
    grounder = GenerationRecord(role="grounder", text=texts[1], token_ids=ground, logprobs=[-0.2] * len(ground),
                                finish_reason="length", prompt_ids=encode("Add the apples."))
    models = {m: {"name": "tiny", "tokenizer": str(tmp_path / "tok")} for m in ("planner", "grounder")}
    _write(tmp_path / "runs" / "grpo.jsonl", [_trajectory("t1", generations=[planner, grounder])], {"agent_info": {"models": models}})
    client = _client(tmp_path / "runs")
    plain = client.get("/tokens?f=0/grpo.jsonl&n=0", headers=HOST).data.decode()
    assert "loss1" not in plain and "mask=grpo" in plain
    page = client.get("/tokens?f=0/grpo.jsonl&n=0&mask=grpo", headers=HOST).data.decode()
    trained = re.findall(r'<span class="tok lp\d loss1"', page)
    assert len(trained) == len(plan) + len(ground)  # every sampled token carries loss
    assert page.count('class="tok added loss0"') == 1  # the EOS after the planner's stop; the cut grounder gets none
    assert page.count('class="tok prompt loss0"') == len(encode(texts[2])) + len(encode("Add the apples."))
    bad = client.get("/tokens?f=0/grpo.jsonl&n=0&mask=dpo", headers=HOST)
    assert bad.status_code == 404 and b"mask must be one of" in bad.data
    _write(tmp_path / "runs" / "nomodel.jsonl", [_trajectory("t1", generations=[planner])], {})
    none = client.get("/tokens?f=0/nomodel.jsonl&n=0&mask=grpo", headers=HOST).data.decode()
    assert "the GRPO mask needs the tokenizer&#39;s EOS id" in none and "loss1" not in none


def _scienceqa(folder: Path) -> tuple[str, bytes]:
    """A hand-written ScienceQA problems.json (the official layout: images at {split}/{id}/image.png)
    with one 6x4 PNG; returns the task spec and the PNG's pixels."""
    from PIL import Image

    (folder / "test" / "17").mkdir(parents=True)
    picture = Image.new("RGB", (6, 4), (200, 30, 40))
    picture.putpixel((0, 0), (0, 0, 255))
    picture.save(folder / "test" / "17" / "image.png")
    problems = {"17": {"question": "Which color is the square?", "choices": ["red", "blue"], "answer": 0, "hint": "",
                       "image": "image.png", "split": "test"}}
    (folder / "problems.json").write_text(json.dumps(problems))
    return f"scienceqa:{folder / 'problems.json'}", picture.tobytes()


def test_file_images_are_shown_from_allowed_folders_only(tmp_path):
    import io

    from PIL import Image

    spec, pixels = _scienceqa(tmp_path / "sqa")
    config = {"jobs": [{"env_id": "lumos/Multimodal-v0", "tasks": spec}]}
    episode = _trajectory("scienceqa-17", domain="multimodal", env_id="lumos/Multimodal-v0")
    _write(tmp_path / "runs" / "sqa.jsonl", [episode], config)
    outside = _client(tmp_path / "runs")  # the task set lies outside the viewed folder
    page = outside.get("/episode?f=0/sqa.jsonl&n=0", headers=HOST).data.decode()
    assert "is outside the viewed folders; add its folder with --image-root" in page and 'class="task-image"' not in page
    assert outside.get("/image?f=0/sqa.jsonl&n=0", headers=HOST).status_code == 404
    allowed = create_app(Catalog.from_paths([tmp_path / "runs"]), image_roots=[tmp_path / "sqa"]).test_client()
    assert b'class="task-image"' in allowed.get("/episode?f=0/sqa.jsonl&n=0", headers=HOST).data
    image = allowed.get("/image?f=0/sqa.jsonl&n=0", headers=HOST)
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert Image.open(io.BytesIO(image.data)).convert("RGB").tobytes() == pixels  # the very pixels, re-encoded
    # the task file is inside, but its spec's image_root points elsewhere: the image is not read
    import shutil

    shutil.copytree(tmp_path / "sqa" / "test", tmp_path / "elsewhere" / "test")
    config = {"jobs": [{"env_id": "lumos/Multimodal-v0", "tasks": f"{spec}?image_root={tmp_path / 'elsewhere'}"}]}
    _write(tmp_path / "runs" / "sqa2.jsonl", [episode], config)
    fresh = create_app(Catalog.from_paths([tmp_path / "runs"]), image_roots=[tmp_path / "sqa"]).test_client()
    page = fresh.get("/episode?f=0/sqa2.jsonl&n=0", headers=HOST).data.decode()
    assert "elsewhere/test/17/image.png is outside the viewed folders" in page
    assert fresh.get("/image?f=0/sqa2.jsonl&n=0", headers=HOST).status_code == 404


def test_image_root_flag():
    from rollouts.viewer.cli import ViewConfig

    with pytest.raises(ValueError, match="--image-root /nowhere/at/all: not a folder"):
        ViewConfig(paths=["."], image_root=["/nowhere/at/all"])


def test_tokens_page_shows_the_sft_rows_and_their_mask(tmp_path):
    """`?mask=sft`: the rows `rollouts.sft_data` + `chat_format.tokenize_conversation` build, the
    assistant turns (subgoal, action) with mask 1 and the rest 0; a failed episode builds none."""
    from agents.backends.tiny import train_tokenizer
    from rollouts.engine import Job, RolloutConfig, run_rollouts
    from rollouts.policies import AgentConfig, make_agent
    from rollouts.store import read_trajectories

    agent = AgentConfig(agent="oracle")
    run_rollouts(RolloutConfig(jobs=[Job("lumos/Math-v0", limit=1)], out=str(tmp_path / "o.jsonl"), reveal_gold=True,
                               agent_info=agent.info(), progress=False), make_agent(agent))
    header, (episode,) = read_trajectories(tmp_path / "o.jsonl")
    text = " ".join([episode.question, *(s.subgoal or "" for s in episode.steps), *(s.action for s in episode.steps)])
    tokenizer = train_tokenizer([text] * 4, vocab_size=400)
    tokenizer.save_pretrained(tmp_path / "tok")
    models = {m: {"name": "tiny", "tokenizer": str(tmp_path / "tok")} for m in ("planner", "grounder")}
    config = {**header["config"], "agent_info": {"models": models}}
    _write(tmp_path / "runs" / "sft.jsonl", [episode, _trajectory("bad", success=False)], config)
    client = _client(tmp_path / "runs")
    page = html.unescape(client.get("/tokens?f=0/sft.jsonl&n=0&mask=sft", headers=HOST).data.decode())
    assert "SFT row 1" in page
    trained = "".join(re.findall(r'<span class="tok sft1 loss1"[^>]*>(.*?)</span>', page, flags=re.S))
    untrained = "".join(re.findall(r'<span class="tok prompt loss0"[^>]*>(.*?)</span>', page, flags=re.S))
    first = episode.steps[0]
    assert first.subgoal.replace(" ", "") in trained.replace(" ", "").replace("↵", "")  # the planner's answer is trained
    assert episode.question.split()[0] in untrained  # the user turn carries no loss
    failed = client.get("/tokens?f=0/sft.jsonl&n=1&mask=sft", headers=HOST).data.decode()
    assert "builds no SFT row from this episode" in failed
