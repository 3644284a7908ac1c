"""The shop as a website: a Flask app (stateless pages, state in the URL) served by waitress on loopback.

Routes: `/shop/<session>?<state>` renders a state, `/shop/<session>/search?search_query=...` runs a
search, `/static/shop.css` is the stylesheet, `/` opens a new session where the app makes them
(`lumos shop serve`). Flask does the routing, query parsing and HEAD; the rules below are ours.

Security: every template is autoescaped (`pages.py`); every response, errors included, carries a
restrictive Content-Security-Policy (no scripts at all, styles and forms from this origin only)
and `Cache-Control: no-store` (but the stylesheet, which never changes);
requests whose `Host` is not a loopback name are refused (DNS rebinding); only GET and HEAD are
served (no OPTIONS either); the server binds 127.0.0.1 on a port the OS picks.

The state lives in the URL, so the URL is signed: every link a page renders carries
`sig = HMAC-SHA256(secret, "/shop/<session>?<canonical state query>")` with a random secret made
per `ShopApp` (never stored, never shown). A request for any page but the search page needs a
valid signature for the state it asks for, else 403: `?page=done&asin=...` written by hand cannot
buy (and score) a product the session's pages never offered. The search form itself
(`/shop/<session>/search?search_query=...`) is free input and needs none; it only shows results.

`read_only=True` serves pages for a trajectory viewer: unsigned state URLs are allowed (a viewer
links to any step), but the done page is refused with 403 and the scorer is never called, so a
read-only server cannot produce a reward at all.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from lumos_envs.envs.webshop.pages import STYLESHEET, render_page, state_query
from lumos_envs.envs.webshop.state import Shop, ShopActionError, ShopState
from lumos_envs.serving import LoopbackServer

logger = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY), ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-store"), ("X-Frame-Options", "DENY"),
)

STYLESHEET_CACHE = "max-age=86400, immutable"
"""the stylesheet's Cache-Control (pages and errors are `no-store`)"""

Scorer = Callable[[ShopState], float]


@dataclass
class Session:
    shop: Shop
    instruction: str
    scorer: Scorer


class ShopApp:
    """The shop's WSGI app (a Flask app inside): sessions, signing, and the pages of each session."""

    def __init__(self, new_session: Callable[[], tuple[str, Session]] | None = None, *, read_only: bool = False) -> None:
        self.sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self.new_session = new_session
        """makes a session for `/` (the `lumos shop serve` landing page); None: `/` is 404"""
        self.read_only = read_only
        """serve pages, never the done page (see the module docstring)"""
        self._secret = secrets.token_bytes(32)
        self.flask = self._make_flask()

    def sign(self, link: str) -> str:
        """The signature of a link (`/shop/<session>?<state query>`) under this app's secret."""
        return hmac.new(self._secret, link.encode("utf-8"), hashlib.sha256).hexdigest()

    def url(self, session_id: str, state: ShopState) -> str:
        """A signed link to `state` in a session (what a trajectory viewer or a test may open)."""
        link = f"/shop/{session_id}?{state_query(state)}"
        return f"{link}&sig={self.sign(link)}"

    def set_session(self, session_id: str, shop: Shop, instruction: str, scorer: Scorer) -> None:
        with self._lock:
            self.sessions[session_id] = Session(shop, instruction, scorer)

    def shop(self, session_id: str) -> Shop:
        return self.sessions[session_id].shop

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self.flask.wsgi_app(environ, start_response)

    # -- the Flask app ---------------------------------------------------------------------------

    def _make_flask(self) -> Flask:
        app = Flask(__name__, static_folder=None)  # no static route: the one stylesheet is a string
        app.url_map.strict_slashes = False

        @app.before_request
        def _gate() -> Response | None:
            host = str(request.environ.get("HTTP_HOST", "")).strip().lower()
            hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if hostname not in LOOPBACK_HOSTS:
                return _respond("403 Forbidden", "This shop only answers on a loopback address.")
            if request.method not in ("GET", "HEAD"):
                return _respond("405 Method Not Allowed", "Only GET is served.", [("Allow", "GET, HEAD")])
            return None

        @app.after_request
        def _headers(response: Response) -> Response:
            cache = response.headers.get("Cache-Control")
            for name, value in SECURITY_HEADERS:
                response.headers[name] = value
            if request.endpoint == "stylesheet" and cache:
                response.headers["Cache-Control"] = cache  # the one thing that never changes
            return response

        @app.errorhandler(HTTPException)
        def _http_error(error: HTTPException) -> Response:
            if error.code == 405:
                return _respond("405 Method Not Allowed", "Only GET is served.", [("Allow", "GET, HEAD")])
            return _respond(f"{error.code} {error.name}", "No such page." if error.code == 404 else str(error.description))

        def stylesheet() -> Response:
            response = _respond("200 OK", STYLESHEET, content_type="text/css")
            response.headers["Cache-Control"] = STYLESHEET_CACHE  # a browser need not fetch it per page
            return response

        app.add_url_rule("/static/shop.css", "stylesheet", stylesheet, provide_automatic_options=False)
        app.add_url_rule("/", "landing", self._landing, provide_automatic_options=False)
        app.add_url_rule("/shop/<session_id>", "page", self._page, provide_automatic_options=False)
        app.add_url_rule("/shop/<session_id>/search", "search", self._search, provide_automatic_options=False)
        return app

    def _landing(self) -> Response:
        if self.new_session is None:
            return _respond("404 Not Found", "No such page.")
        session_id, session = self.new_session()
        with self._lock:
            self.sessions[session_id] = session
        return _respond("303 See Other", "", [("Location", f"/shop/{session_id}?page=search")])

    def _search(self, session_id: str) -> Response:
        return self._serve(session_id, search=True)

    def _page(self, session_id: str) -> Response:
        return self._serve(session_id, search=False)

    def _serve(self, session_id: str, *, search: bool) -> Response:
        session = self.sessions.get(session_id)
        if session is None:
            return _respond("404 Not Found", "No such session.")
        query = request.args.to_dict(flat=True)  # the first value of each parameter
        base = f"/shop/{session_id}"
        try:
            if search:
                state = session.shop.search(ShopState(), query.get("search_query", ""))
            else:
                state = ShopState.from_query(query)
                refusal = self._refusal(base, state, query.get("sig", ""))
                if refusal:
                    return _respond("403 Forbidden", refusal)
                if state.page in ("item", "item_sub", "done"):
                    session.shop.product(state.asin)
            reward = session.scorer(state) if state.page == "done" else 0.0
            html = render_page(session.shop, state, instruction=session.instruction, base=base, reward=reward,
                               sign=self.sign)
        except ShopActionError as error:
            return _respond("400 Bad Request", str(error))
        return _respond("200 OK", html, content_type="text/html")

    def _refusal(self, base: str, state: ShopState, signature: str) -> str:
        """Why a state request is refused ("" when it is served)."""
        if self.read_only:
            return "This shop is read-only: nothing can be bought here." if state.page == "done" else ""
        if state.page == "search":
            return ""
        expected = self.sign(f"{base}?{state_query(state)}")
        if not hmac.compare_digest(expected, signature):
            return "This link was not made by this shop (missing or wrong signature)."
        return ""


def _respond(status: str, body: str, extra: list[tuple[str, str]] | None = None,
             content_type: str = "text/plain") -> Response:
    """A response with `status` exactly as written (Werkzeug would upper-case the reason phrase)."""
    response = Response(body, status=status, mimetype=content_type, headers=extra or [])
    for name, value in SECURITY_HEADERS:  # also on responses that bypass after_request (a failing gate)
        response.headers[name] = value
    return response


class ShopServer(LoopbackServer):
    """waitress serving the shop's WSGI app on 127.0.0.1 (OS-picked port unless given), in a background thread."""

    what = "the shop"

    def __init__(self, app: Callable[..., Iterable[bytes]], host: str = "127.0.0.1", port: int = 0, threads: int = 2) -> None:
        super().__init__(app, host=host, port=port, threads=threads, ident="lumos-shop")
