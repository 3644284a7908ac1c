"""The viewer's Flask app: the runs page, one episode, its tokens, its image, and a comparison.

Security, as the shop's server does it: requests whose `Host` is not a loopback name are refused
(DNS rebinding), only GET and HEAD are served, every response carries a Content-Security-Policy
that allows nothing but this origin's stylesheet and images (there is no JavaScript at all; the
runs page refreshes with `<meta http-equiv="refresh">`), and Jinja2 autoescapes every template, so
trajectory text (model output, web pages, `<script>`) is always shown as text. Paths in URLs go
through `Catalog.resolve`, which refuses anything outside the paths the viewer was given.

`/shop/...` and `/static/shop.css` are not this app's: they go to the shop's own app in read-only
mode (`rollouts.viewer.shop`), with the shop's gate and CSP; it never serves the done page.
The tokens page takes `?mask=sft|grpo`: the loss mask of the rows training builds from the
episode, computed by the training code itself (`rollouts.sft_data`, `rollouts.grpo`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

from flask import Flask, Response, render_template, request

from rollouts.viewer.shop import ShopReplays
from rollouts.viewer.catalog import Catalog, LoadedRun, PathRefused, is_live, refuse_traversal
from rollouts.viewer.views import (
    LOGPROB_BUCKETS, EpisodeFilter, ImageRenderer, TokenizerCache, compare_runs, count_changes, filter_choices, first_divergence,
    MASK_KINDS, generation_tokens, gold_plan, grpo_masks, sft_masks, matching_episodes, step_lanes, suite_lines,
)

logger = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'none'; object-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
EPISODES_SHOWN = 100
"""episodes listed under the runs table (the rest are counted, and reachable by filtering)"""
COMPARE_SHOWN = 500
"""tasks listed on the compare page"""


def create_app(catalog: Catalog, *, refresh_s: int = 5, image_roots: Sequence[str | Path] = ()) -> Flask:
    """The viewer over `catalog`'s files; `refresh_s` is how often a page over a file still being written reloads;
    images of file task sets are read from under the viewed folders and `image_roots` only."""
    app = Flask(__name__, static_folder=str(Path(__file__).with_name("static")), static_url_path="/static")
    app.config.update(MAX_CONTENT_LENGTH=0, TEMPLATES_AUTO_RELOAD=False)
    allowed = tuple(r for r in catalog.roots if r.is_dir()) + tuple(Path(r).expanduser().resolve() for r in image_roots)
    tokenizers, images = TokenizerCache(), ImageRenderer(roots=allowed)
    shops = ShopReplays()
    app.wsgi_app = shops.mount(app.wsgi_app)  # type: ignore[method-assign]  # /shop/...: the read-only shop
    app.extensions["lumos_shop_replays"] = shops  # whoever stops the viewer closes its replay envs

    @app.before_request
    def _guard() -> Any:
        host = (request.host or "").strip().lower()
        hostname = host if host.endswith("]") else host.rsplit(":", 1)[0]
        if hostname not in LOOPBACK_HOSTS:
            return _plain("This viewer only answers on a loopback address.", 403)
        if request.method not in ("GET", "HEAD"):
            return _plain("Only GET is served.", 405)
        raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
        try:
            for part in (request.path, str(raw), *request.args.values()):
                refuse_traversal(part.lstrip("/"))
        except PathRefused as error:
            logger.warning("viewer refused %s: %s", request.full_path, error)
            return _problem_page(f"refused: {request.path} climbs out of the viewed paths ('..' is refused in every encoding)", 403)
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(PathRefused)
    def _refused(error: PathRefused) -> Any:
        logger.warning("viewer refused a path: %s", error)
        return _problem_page(f"refused: {error}", 403)

    @app.errorhandler(LookupError)
    def _missing(error: LookupError) -> Any:
        return _problem_page(str(error.args[0] if error.args else error), 404)

    @app.get("/")
    def runs_page() -> Any:
        chosen = EpisodeFilter.from_args(request.args)
        runs = catalog.load_all()
        lines = suite_lines(runs, chosen)
        shown, total = matching_episodes(runs, chosen, EPISODES_SHOWN)
        live = [r.file.label for r in runs if is_live(r.file.path)]
        return render_template(
            "runs.html", runs=runs, lines=lines, chosen=chosen, choices=filter_choices(runs), shown=shown, total=total,
            live=live, refresh_s=refresh_s if live else 0, compare=_default_pair(runs),
        )

    @app.get("/episode")
    def episode_page() -> Any:
        run, index = _episode(catalog, request.args)
        trajectory = run.trajectory(index)
        replay = shops.replay(run, trajectory) if trajectory.domain == "webshop" else None
        found = images.image(run, trajectory) if trajectory.domain == "multimodal" else None
        return render_template(
            "episode.html", replay=replay, run=run, row=run.rows[index], t=trajectory, steps=step_lanes(run, trajectory, tokenizers),
            gold=gold_plan(trajectory), image=found.reason if found and found.reason else None,
            image_source=found.source if found else "",
            end_reason=run.rows[index].end_reason, failure=run.rows[index].failure,
            count=run.num_episodes, index=index,
        )

    @app.get("/tokens")
    def tokens_page() -> Any:
        run, index = _episode(catalog, request.args)
        trajectory = run.trajectory(index)
        mask = request.args.get("mask", "")
        if mask and mask not in MASK_KINDS:
            raise LookupError(f"mask must be one of {', '.join(MASK_KINDS)}, got {mask[:40]!r}")
        rows, mask_reason = grpo_masks(run, trajectory, tokenizers) if mask == "grpo" else ({}, "")
        sft_rows, sft_reason = sft_masks(run, trajectory, tokenizers) if mask == "sft" else ([], "")
        return render_template("tokens.html", run=run, row=run.rows[index], index=index, mask=mask,
                               mask_reason=mask_reason or sft_reason, sft_rows=sft_rows,
                               masks=MASK_KINDS, generations=generation_tokens(run, trajectory, tokenizers, rows),
                               buckets=LOGPROB_BUCKETS)

    @app.get("/image")
    def image() -> Any:
        run, index = _episode(catalog, request.args)
        found = images.image(run, run.trajectory(index))
        if found.png is None:
            raise LookupError(found.reason)
        return Response(found.png, mimetype="image/png")

    @app.get("/compare")
    def compare_page() -> Any:
        a = _run(catalog, request.args.get("a", ""))
        b = _run(catalog, request.args.get("b", ""))
        tasks = compare_runs(a, b)
        picked = _int(request.args.get("k", "0"), "k")
        selected = tasks[picked] if 0 <= picked < len(tasks) else None
        pair = None
        if selected is not None:
            pair = []
            for run, row in ((a, selected.a), (b, selected.b)):
                trajectory = run.trajectory(row.index) if row is not None else None
                pair.append((run, row, trajectory, step_lanes(run, trajectory, tokenizers) if trajectory else []))
        live = any(is_live(r.file.path) for r in (a, b))
        diverge = first_divergence(pair[0][2], pair[1][2]) if pair and pair[0][2] and pair[1][2] else None
        return render_template("compare.html", a=a, b=b, tasks=tasks[:COMPARE_SHOWN], total=len(tasks),
                               counts=count_changes(tasks), picked=picked, selected=selected, pair=pair, diverge=diverge,
                               refresh_s=refresh_s if live else 0)

    return app


def _default_pair(runs: list[LoadedRun]) -> tuple[str, str]:
    """What the compare form offers first: the same suite file in two run folders (two evals of
    one suite), else the first two readable files."""
    readable = [r for r in runs if not r.problem]
    for index, a in enumerate(readable):
        name = a.file.label.rsplit("/", 1)[-1]
        for b in readable[index + 1:]:
            if b.file.label.rsplit("/", 1)[-1] == name and b.file.folder != a.file.folder:
                return a.file.file_id, b.file.file_id
    ids = [r.file.file_id for r in readable[:2]]
    return (ids + ["", ""])[0], (ids + ["", ""])[1]


def _run(catalog: Catalog, file_id: str) -> LoadedRun:
    if not file_id:
        raise LookupError("choose a trajectory file (?a=...&b=... on the compare page, ?f=... elsewhere)")
    run = catalog.load(catalog.resolve(file_id))
    if run.problem:
        raise LookupError(f"{run.file.label}: {run.problem}")
    return run


def _episode(catalog: Catalog, args: Any) -> tuple[LoadedRun, int]:
    run = _run(catalog, args.get("f", ""))
    index = _int(args.get("n", ""), "n")
    run.trajectory(index)  # raises LookupError for a missing or unreadable episode
    return run, index


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise LookupError(f"{name} must be a whole number, got {text[:40]!r}") from None


def _plain(text: str, status: int) -> Response:
    return Response(text + "\n", status=status, mimetype="text/plain")


def _problem_page(message: str, status: int) -> Any:
    return render_template("problem.html", message=message), status
