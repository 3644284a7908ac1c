"""Web shopping with WebShop's pages, actions and reward. Registered as `lumos/WebShop-v0`."""

from __future__ import annotations

from typing import Any, Literal, Sequence

import gymnasium as gym

from lumos_envs.domains import Domain
from lumos_envs.envs.base import LumosEnv, TaskArgument
from lumos_envs.envs.webshop.frontends import BrowserFrontEnd, FrontEnd, TextFrontEnd
from lumos_envs.envs.webshop.state import BUY_NOW, PREV_PAGE, Shop, ShopActionError, ShopState
from lumos_envs.envs.webshop.tools import make_webshop_tools
from lumos_envs.execution.executor import ExecutionOutcome
from lumos_envs.execution.tool import Tool
from lumos_envs.metrics_webshop import PurchasedSpec, noun_finder, options_of, webshop_reward
from lumos_envs.tasks.base import Task
from lumos_envs.webshop.catalog import get_catalog
from lumos_envs.webshop.goals import Goal
from lumos_envs.webshop.search import get_index

ObservationFormat = Literal["text", "text_rich", "html"]


class WebShopEnv(LumosEnv):
    """
    ## Description
    WebShop (Yao et al., 2022): find and buy the product an instruction describes in a shop of
    generated (or WebShop's own) products. Pages as in WebShop: search -> results (10 a page,
    `next >`, `< prev`, `back to search`) -> item (options, `description`, `features`, `reviews`,
    `buy now`) -> done. `mode="text"` renders pages in-process; `mode="browser"` serves them from
    a waitress server on 127.0.0.1 and drives headless Chromium with Selenium. Both modes share
    one state machine and one reward, so the same actions give the same pages and rewards.

    ## Action Space
    `UnicodeText(0, 20000)`: one or more actions joined by `; `. LUMOS's WebShop actions
    `R1 = Search(query)`, `R2 = Click(b09s3bn15c)`, `R3 = FeatureRetrieve(R2, Query: ...)`,
    `R7 = Pick(Item_names: R1, Item_features: [R3, R6], Query: ...)`, `Click(black)`,
    `Click(buy now)`; WebShop's own `search[query]` and `click[item]`; and `Answer(x)`.

    ## Observation Space
    `UnicodeText(0, 200000)`: the current page in `observation_format` (`text`: WebShop's
    `[SEP]`-joined text, `text_rich`: with `[button] ... [button_]` marks, `html`), after an error
    message line when the action failed. LUMOS results (`R1 = ...`) are in `info["results"]`.

    ## Rewards
    0 until the episode ends; then WebShop's reward (`lumos_envs.metrics_webshop`): product-type
    gate × (attributes matched + options matched + price within cap) / (goal attributes + goal
    options + 1); a free price point when no cap was sampled (WebShop's quirk, kept by default:
    `free_price_point=True`). Ending without a purchase scores 0.

    ## Starting State
    The search page with the task's instruction; task `options["task_index"]` / `"task_id"`, or
    one drawn from the reset seed.

    ## Episode End
    Terminates when `buy now` is clicked, or on `Answer(x)`, which buys the open item with the
    options chosen so far (from an item's description/features/reviews page it goes back to the
    item first); `Answer` with no item open ends the episode with reward 0. Truncates after
    `max_steps` steps.

    ## Info
    The common `LumosEnv` keys, plus `available_actions` (`has_search_bar`, `clickables`, as
    WebShop), `page` (search, results, item, item_sub, done) and at the end `metrics` (every reward
    term: `reward`, `r_type`, `query_match`, `category_match`, `title_score`, `r_attribute`,
    `num_attribute_matches`, `r_option`, `num_option_matches`, `r_price`, `free_price_point`,
    `noun_finder_catalog` or `noun_finder_spacy`, ...),
    `success` (reward 1), `answer`, `purchased` (asin and options, or None).

    ## Arguments
    `tasks` (default `synthetic:webshop_train`; `webshop:PATH` for WebShop's files),
    `mode="text"|"browser"`, `observation_format="text"|"text_rich"|"html"`, `max_steps=30`,
    `num_search_items=2`, `num_features=3`, `free_price_point=True`,
    `nouns="catalog"|"spacy"|"spacy:MODEL"|"auto"` (the type gate's noun finder; `catalog`, the
    default, needs no model; `spacy` is WebShop's `en_core_web_sm`, installed by the user),
    `page_load_timeout_s=20`, `reveal_gold=False`.

    ## Version History
    - v0: initial version. Issue 20 (same id, which the contract fixes): fuzzy matches use
      WebShop's text processing, `title_score` divides by the goal's noun list with repeats,
      the catalog noun finder splits titles as spaCy does and is the default (`nouns=`).
    """

    domain = Domain.WEBSHOP
    default_tasks = "synthetic:webshop_train"
    headline_metric = "reward"

    def __init__(
        self,
        tasks: TaskArgument = None,
        *,
        mode: Literal["text", "browser"] = "text",
        observation_format: ObservationFormat = "text",
        max_steps: int = 30,
        num_search_items: int = 2,
        num_features: int = 3,
        free_price_point: bool = True,
        nouns: str = "catalog",
        page_load_timeout_s: float = 20.0,
        tool_timeout_s: float = 2.0,
        max_output_chars: int = 2000,
        reveal_gold: bool = False,
        render_mode: str | None = None,
    ) -> None:
        if mode not in ("text", "browser"):
            raise ValueError(f"mode must be 'text' or 'browser', got {mode!r}")
        if observation_format not in ("text", "text_rich", "html"):
            raise ValueError(f"observation_format must be text, text_rich or html, got {observation_format!r}")
        if num_search_items < 1 or num_features < 1:
            raise ValueError("num_search_items and num_features must be >= 1")
        self.mode = mode
        self.observation_format = observation_format
        self.num_search_items = num_search_items
        self.num_features = num_features
        self.free_price_point = free_price_point
        noun_finder(frozenset(), nouns)  # a bad name or a missing spaCy model fails here, not at the first purchase
        self.nouns = nouns
        self._retrieved: dict[str, list[str]] = {}
        self._shops: dict[str, Shop] = {}
        self._finders: dict[str, Any] = {}
        self._scored: tuple[Any, dict[str, float]] | None = None
        self.shop: Shop | None = None  # type: ignore[assignment]
        self.frontend: FrontEnd = TextFrontEnd()
        super().__init__(tasks, max_steps=max_steps, tool_timeout_s=tool_timeout_s, max_output_chars=max_output_chars,
                         reveal_gold=reveal_gold, render_mode=render_mode)
        if mode == "browser":
            self.frontend = BrowserFrontEnd(page_load_timeout_s=page_load_timeout_s)
        self._embedder: Any = None

    def make_tools(self) -> Sequence[Tool]:
        return make_webshop_tools(self)

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from lumos_envs.embedding import default_embedder

            self._embedder = default_embedder()
        return self._embedder

    # -- Gymnasium API ---------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        _, info = super().reset(seed=seed, options=options)
        task = self._task
        assert task is not None
        self.shop = self._shop_for(task)
        self._goal = Goal.from_dict(task.metadata["goal"])
        self._scored = None
        self._retrieved = {}
        self.frontend.start_session(self.shop, task.question, self._score_state)
        text = self._fit(self.page_text())
        self._last_observation = text
        info.update(self._page_info())
        return text, info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self._task is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self._done:
            outcome = ExecutionOutcome(error="The episode is over; call reset() to start a new one.")
            return self._last_observation, 0.0, True, False, self._info(outcome)
        self._steps += 1
        outcome = self.executor.run(action, self._variables)
        if outcome.answer is not None:
            self._buy_open_item(outcome)
        bought = self.frontend.state.page == "done"
        terminated = bought or outcome.answer is not None
        truncated = not terminated and self._steps >= self.max_steps
        info = self._info(outcome)
        info.update(self._page_info())
        reward = 0.0
        if terminated:
            metrics = self._score_purchase()
            reward = float(metrics["reward"])
            info.update(metrics=metrics, success=reward >= 1.0 - 1e-9, answer=outcome.answer if outcome.answer is not None else BUY_NOW,
                        purchased={"asin": self.frontend.state.asin, "options": self.frontend.state.chosen()} if bought else None)
        elif truncated:
            info.update(metrics={"reward": 0.0}, success=False, answer=None, purchased=None)
        self._done = terminated or truncated
        page = self.page_text()
        text = self._fit(f"{outcome.error}\n{page}" if outcome.error else page)
        self._last_observation = text
        return text, reward, terminated, truncated, info

    def close(self) -> None:
        self.frontend.close()
        super().close()

    # -- helpers ---------------------------------------------------------------------------------

    def page_text(self) -> str:
        """The current page in `observation_format`."""
        return self.frontend.view(self.observation_format)

    def available_actions(self) -> dict[str, Any]:
        """WebShop's `get_available_actions()`: whether a search bar is shown, and the clickables."""
        state = self.frontend.state
        return {"has_search_bar": state.page == "search", "clickables": self.shop.clickables(state) if self.shop else []}

    def score(self, answer: str, task: Task) -> dict[str, float]:
        return self._score_purchase()

    def _page_info(self) -> dict[str, Any]:
        return {"available_actions": self.available_actions(), "page": self.frontend.state.page}

    def _require_open(self) -> None:
        if self.frontend.state.page == "done":
            from lumos_envs.execution.errors import ToolError

            raise ToolError("the item is already bought; the episode is over")

    def _shop_for(self, task: Task) -> Shop:
        spec = task.metadata.get("catalog")
        key = str(spec)
        if key not in self._shops:
            catalog = get_catalog(spec)
            self._shops[key] = Shop(catalog, get_index(catalog))
        return self._shops[key]

    def _buy_open_item(self, outcome: ExecutionOutcome) -> None:
        """`Answer(x)` buys the open item (WebShop has no answer action; see Episode End)."""
        try:
            if self.frontend.state.page == "item_sub":
                self.frontend.click(PREV_PAGE)
            if self.frontend.state.page == "item":
                self.frontend.click(BUY_NOW)
        except ShopActionError as error:
            outcome.error = f"Answer could not buy the open item: {error}"

    def _score_state(self, state: ShopState) -> float:
        return float(self._metrics_for(state)["reward"])

    def _score_purchase(self) -> dict[str, float]:
        return self._metrics_for(self.frontend.state)

    def _metrics_for(self, state: ShopState) -> dict[str, float]:
        if state.page != "done" or self.shop is None:
            return {"reward": 0.0, "success": 0.0, "purchased": 0.0}
        # the done page shows the reward and the step reports it: score each purchase once
        memo_key = state  # cleared at reset, so one goal's memo never scores another's purchase
        if self._scored is not None and self._scored[0] == memo_key:
            return dict(self._scored[1])
        goal = self._goal.spec()
        product = self.shop.product(state.asin)
        bought = PurchasedSpec(product.title, product.query, product.product_category, product.attributes,
                               product.bullet_points, product.description, product.price, options_of(state.chosen()))
        finder_key = self.shop.catalog.spec
        if finder_key not in self._finders:  # building the catalog finder walks every type word
            self._finders[finder_key] = noun_finder(self.shop.catalog.type_words(), self.nouns)
        metrics = webshop_reward(bought, goal, nouns=self._finders[finder_key], free_price_point=self.free_price_point)
        metrics["purchased"] = 1.0
        self._scored = (memo_key, dict(metrics))
        return metrics
