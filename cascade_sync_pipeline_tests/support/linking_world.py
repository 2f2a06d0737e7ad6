"""Shared set-up for the linking-engine tests (Cascade's Integrations API): a small ClickUp account
(and, when asked, a small Wrike account) and an Integrations emulator seeded from them, all served
on 127.0.0.1 (free ports); the source assets and the Cascade chain materialized through Dagster with
the real resources; both sides read back.

The emulator holds one workspace with the plan the config names (``PLAN``) and last year's plan
(``OLD_PLAN``). Every Cascade ID stored in a source item names an action of ``PLAN``, except: one
is left unknown (a typo: it names nothing), one names an action of ``OLD_PLAN`` and one names a
measure of ``PLAN``. The config links (``mapping.links``) point at actions and measures created
for them by name.

Expectations are computed from the generators' datasets (their ground truth, recomputed after every
change the emulators apply), never from the SQL under test: ``Truth`` holds the staging rows a
correct extract yields and implements the value rules as the config documents them (an item done is
100; otherwise the progress rule, then its status: in progress 50, else 0; a container: share of its
done tasks and milestones, weighted when asked; a measure: count or sum over done items, a numeric
field of an item, or the item's progress).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import dagster as dg
import httpx

from cascade_sync_pipeline.cascade.integrations import oauth_provider
from cascade_sync_pipeline.clickup.assets import build_clickup_assets
from cascade_sync_pipeline.config import parse_config
from cascade_sync_pipeline.oauth import authorize_url, exchange_code
from cascade_sync_pipeline.partitions import workspace_partitions
from cascade_sync_pipeline.resources import CascadeResource, ClickUpResource, WarehouseResource, WrikeResource
from cascade_sync_pipeline.sync.assets import build_cascade_assets, cascade_keys
from cascade_sync_pipeline.warehouse.store import Warehouse
from cascade_sync_pipeline.wrike.assets import build_wrike_assets
from cascade_sync_sandbox.clickup.app import ClickUpEmulator
from cascade_sync_sandbox.clickup.generator import generate as generate_clickup
from cascade_sync_sandbox.clickup.truth import expected_staging as clickup_staging
from cascade_sync_sandbox.integrations import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_TOKEN,
    IntegrationsEmulator,
)
from cascade_sync_sandbox.wrike import WrikeEmulator
from cascade_sync_sandbox.wrike import expected_staging as wrike_staging
from cascade_sync_sandbox.wrike import generate as generate_wrike

CU = "cu-link"
WR = "wr-link"
CLICKUP_TOKEN_ENV = "TEST_LINK_CLICKUP_TOKEN"
WRIKE_TOKEN_ENV = "TEST_LINK_WRIKE_TOKEN"
CASCADE_TOKEN_ENV = "TEST_LINK_CASCADE_TOKEN"
CLIENT_ID_ENV = "TEST_LINK_CASCADE_CLIENT_ID"
CLIENT_SECRET_ENV = "TEST_LINK_CASCADE_CLIENT_SECRET"
WORKSPACE_ID = "ws-linking"
PLAN, PLAN_ID = "FY2027 Strategy", "plan-fy2027"
OLD_PLAN, OLD_PLAN_ID = "FY2026 Strategy", "plan-fy2026"
REDIRECT_URI = "http://127.0.0.1:9/callback"
# ClickUp: 'cancelled' is a closed status (done) unless told otherwise; 'on hold' is deferred work.
CLICKUP_CATEGORIES = {"on hold": "deferred", "cancelled": "cancelled"}
PUT_PATH = r"^/v2/(actions|measures)/"


# --- ground truth ---------------------------------------------------------------------------------
def _number(text: Any) -> float | None:
    try:
        return float(str(text).replace("%", "").strip())
    except (TypeError, ValueError):
        return None


@dataclass
class Truth:
    """The staging rows a correct extract yields (the sandbox's own ground truth), and the value
    rules applied to them."""

    items: dict[str, dict]
    numbers: dict[tuple[str, str], float]
    containers: dict[str, dict]

    @classmethod
    def of(cls, staging: dict[str, list[dict]]) -> Truth:
        numbers = {
            (r["item_id"], r["field_name"]): n
            for r in staging["custom_field_values"]
            if (n := _number(r["value"])) is not None
        }
        return cls(
            {r["item_id"]: r for r in staging["work_items"]},
            numbers,
            {r["container_id"]: r for r in staging["containers"]},
        )

    def done(self, item_id: str) -> bool:
        return self.items[item_id]["status_category"] == "done"

    def progress(self, item_id: str, rule: str = "subtasks", rule_field: str | None = None) -> float:
        item = self.items[item_id]
        if item["status_category"] == "done":
            return 100.0
        if rule == "subtasks":
            subs = [
                s
                for s in self.items.values()
                if s["item_type"] == "subtask" and s["parent_id"] == item_id and not s["is_archived"]
            ]
            if subs:
                return round(100.0 * sum(s["status_category"] == "done" for s in subs) / len(subs), 2)
        if rule == "custom_field" and (item_id, rule_field) in self.numbers:
            return min(max(self.numbers[(item_id, rule_field)], 0.0), 100.0)
        return 50.0 if item["status_category"] == "in_progress" else 0.0

    def below(self, container_id: str) -> set[str]:
        """The container and every container under it."""
        found, grew = {container_id}, True
        while grew:
            more = {c for c, row in self.containers.items() if row["parent_id"] in found} - found
            grew, found = bool(more), found | more
        return found

    def scope(self, container_id: str) -> list[str]:
        """Tasks and milestones anywhere below the container, not archived, not cancelled."""
        under = self.below(container_id)
        return sorted(
            i
            for i, r in self.items.items()
            if r["container_id"] in under
            and r["item_type"] in ("task", "milestone")
            and not r["is_archived"]
            and r["status_category"] != "cancelled"
        )

    def cancelled_in(self, container_id: str) -> int:
        under = self.below(container_id)
        return sum(
            1
            for r in self.items.values()
            if r["container_id"] in under
            and not r["is_archived"]
            and r["item_type"] in ("task", "milestone")
            and r["status_category"] == "cancelled"
        )

    def container_value(self, link: Link) -> float:
        scope = self.scope(link.source_id)
        done = [i for i in scope if self.done(i)]
        if link.cascade_type == "measure":
            if link.measure_value == "sum":
                return sum(self.numbers.get((i, link.field), 0.0) for i in done)
            return float(len(done))
        if link.weight_field:
            weights = {i: self.numbers[(i, link.weight_field)] for i in scope if (i, link.weight_field) in self.numbers}
            if sum(weights.values()) > 0:
                return round(100.0 * sum(w for i, w in weights.items() if self.done(i)) / sum(weights.values()), 2)
        return round(100.0 * len(done) / len(scope), 2) if scope else 0.0

    def done_on(self, item_id: str) -> date:
        row = self.items[item_id]
        return (row["completed_at"] or row["updated_at"]).date()

    def history(self, link: Link, today: date) -> dict[str, float]:
        """The measure's value at the end of each day, from the first completion to yesterday."""
        amounts = [
            (self.done_on(i), self.numbers.get((i, link.field), 0.0) if link.measure_value == "sum" else 1.0)
            for i in self.scope(link.source_id)
            if self.done(i)
        ]
        amounts = [(d, a) for d, a in amounts if d < today]
        if not amounts:
            return {}
        out, day = {}, min(d for d, _ in amounts)
        while day < today:
            out[day.isoformat()] = sum(a for d, a in amounts if d <= day)
            day += timedelta(days=1)
        return out


@dataclass
class Link:
    """A config link resolved by the test (from the dataset and the seeded plan)."""

    rule: dict
    source_kind: str
    source_id: str
    cascade_type: str
    cascade_id: str
    measure_value: str | None = None
    field: str | None = None
    weight_field: str | None = None


@dataclass
class Expected:
    """What the emulator should hold for one workspace: values by Cascade id, the ids held back, and
    how each was linked."""

    values: dict[str, float]
    kinds: dict[str, str]
    held_back: dict[str, list[str]] = field(default_factory=dict)  # cascade id -> the claiming items
    claims: dict[str, list[str]] = field(default_factory=dict)  # cascade id -> source items/containers


# --- one run -------------------------------------------------------------------------------------
@dataclass
class Sync:
    result: dg.ExecuteInProcessResult
    writes: int  # successful PUTs the emulator counted during the run
    requests: list[tuple[str, str, int]]  # every Integrations API request of the run (method, path, status)
    token_calls: int  # POST /oauth/token during the run

    @property
    def success(self) -> bool:
        return self.result.success

    @property
    def run_id(self) -> str:
        return self.result.run_id

    def puts(self, *, status: int | None = None) -> list[tuple[str, str]]:
        """(kind, id) of each PUT request (kind action | measure | history), in order; ``status``: only
        those answered so (0: the connection dropped without an answer)."""
        out = []
        for method, path, answered in self.requests:
            if method != "PUT" or (status is not None and answered != status):
                continue
            parts = path.strip("/").split("/")
            out.append(("history", parts[3]) if parts[2] == "historical" else (parts[1][:-1], parts[2]))
        return out

    def checks(self) -> dict[str, dg.AssetCheckEvaluation]:
        return {c.check_name: c for c in self.result.get_asset_check_evaluations()}

    def materialized(self) -> set[str]:
        return {e.asset_key.to_user_string() for e in self.result.get_asset_materialization_events()}

    def failure(self) -> str:
        messages = []
        for event in self.result.all_events:
            if event.is_step_failure:
                error = event.step_failure_data.error
                while error is not None:
                    messages.append(error.message)
                    error = error.cause
        return "\n".join(messages)


class World:
    """A ClickUp account (``CU``), optionally a Wrike account (``WR``), and the Integrations emulator."""

    def __init__(
        self, tmp_path: Path, monkeypatch, *, seed: int = 7, tasks: int = 90, wrike_tasks: int = 0, wrike_seed: int = 11
    ) -> None:
        self.tmp_path = tmp_path
        self.monkeypatch = monkeypatch
        self.dataset = generate_clickup(seed, teams=1, tasks_per_team=tasks)
        self.team_id = next(iter(self.dataset.teams))
        self.clickup = ClickUpEmulator(self.dataset, rate_limit=100_000)
        self.cascade = IntegrationsEmulator(rate_limit=100_000)
        self.servers = [self.clickup.serve(port=0), self.cascade.serve(port=0)]
        self.wrike = None
        if wrike_tasks:
            self.wrike = WrikeEmulator(generate_wrike(wrike_seed, tasks=wrike_tasks), rate_limit=100_000)
            self.servers.append(self.wrike.serve(port=0))
            monkeypatch.setenv(WRIKE_TOKEN_ENV, self.wrike.dataset.permanent_token)
        self.duckdb = str(tmp_path / "wh.duckdb")
        monkeypatch.setenv(CLICKUP_TOKEN_ENV, self.dataset.grant([self.team_id]))
        monkeypatch.setenv(CASCADE_TOKEN_ENV, SANDBOX_TOKEN)
        self.instance = dg.DagsterInstance.ephemeral()
        self.links: dict[str, list[Link]] = {}
        self._seed_cascade()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    # --- seeding ---------------------------------------------------------------------------------
    def truth(self, key: str = CU) -> Truth:
        if key == CU:
            return Truth.of(clickup_staging(self.dataset, self.team_id, CU, status_categories=CLICKUP_CATEGORIES))
        return Truth.of(wrike_staging(self.wrike.dataset, WR))

    def _seed_cascade(self) -> None:
        emu = self.cascade
        emu.add_workspace("Linking Co", id=WORKSPACE_ID)
        emu.add_plan(WORKSPACE_ID, PLAN, id=PLAN_ID)
        emu.add_plan(WORKSPACE_ID, OLD_PLAN, id=OLD_PLAN_ID)
        emu.add_plan(WORKSPACE_ID, "Side Projects")  # a third plan, listed among the available ones
        truth = self.truth(CU)
        claims = sorted((r["cascade_id"], i) for i, r in truth.items.items() if r["cascade_id"])
        assert len(claims) >= 6, "the dataset needs a few Cascade IDs"
        # Which claims go wrong: picked among top-level tasks so the other tests can use the rest freely.
        top = [c for c in claims if truth.items[c[1]]["item_type"] == "task"]
        self.unknown_claim, self.other_plan_claim, self.measure_claim = top[0], top[1], top[2]
        emu.add_action(OLD_PLAN_ID, truth.items[self.other_plan_claim[1]]["title"], id=self.other_plan_claim[0])
        emu.add_measure(PLAN_ID, truth.items[self.measure_claim[1]]["title"], id=self.measure_claim[0])
        for cascade_id, item_id in claims:
            if (cascade_id, item_id) not in (self.unknown_claim, self.other_plan_claim, self.measure_claim):
                emu.add_action(PLAN_ID, truth.items[item_id]["title"], id=cascade_id)
        self._seed_clickup_links(truth)
        if self.wrike is not None:
            wtruth = self.truth(WR)
            for cascade_id, _ in sorted((r["cascade_id"], i) for i, r in wtruth.items.items() if r["cascade_id"]):
                emu.add_action(PLAN_ID, f"Wrike {cascade_id[:8]}", id=cascade_id)
            self._seed_wrike_links(wtruth)

    def _add(self, kind: str, name: str) -> str:
        add = self.cascade.add_action if kind == "action" else self.cascade.add_measure
        return add(PLAN_ID, name)["id"]

    def _seed_clickup_links(self, truth: Truth) -> None:
        def rank(c: dict) -> tuple:
            """Containers holding cancelled work first (it must not count), then the biggest."""
            cid = c["container_id"]
            return (-truth.cancelled_in(cid), -len(truth.scope(cid)), c["name"])

        lists = sorted((c for c in truth.containers.values() if c["container_type"] == "list"), key=rank)
        share_list, sum_list = lists[0], lists[1]
        folder = min((c for c in truth.containers.values() if c["container_type"] == "folder"), key=rank)
        space = max(
            (c for c in truth.containers.values() if c["container_type"] == "space"),
            key=lambda c: (len(truth.scope(c["container_id"])), c["name"]),
        )
        pointed = next(
            i
            for i, r in sorted(truth.items.items())
            if r["item_type"] == "task"
            and not r["cascade_id"]
            and not r["is_archived"]
            and (i, "Story Points") in truth.numbers
        )
        links = []
        links.append(
            Link(
                {"container": share_list["name"], "action": "Launch plan delivered"},
                "container",
                share_list["container_id"],
                "action",
                self._add("action", "Launch plan delivered"),
            )
        )
        links.append(
            Link(
                {"container": folder["name"], "action": "Folder points delivered", "weight_field": "Story Points"},
                "container",
                folder["container_id"],
                "action",
                self._add("action", "Folder points delivered"),
                weight_field="Story Points",
            )
        )
        links.append(
            Link(
                {"container": space["name"], "measure": "Space tasks done", "value": "count_done"},
                "container",
                space["container_id"],
                "measure",
                self._add("measure", "Space tasks done"),
                measure_value="count_done",
            )
        )
        links.append(
            Link(
                {"container": sum_list["name"], "measure": "Budget delivered", "value": "sum", "field": "Budget"},
                "container",
                sum_list["container_id"],
                "measure",
                self._add("measure", "Budget delivered"),
                measure_value="sum",
                field="Budget",
            )
        )
        links.append(
            Link(
                {"item": pointed, "measure": "Pointed task's story points", "value": "field", "field": "Story Points"},
                "item",
                pointed,
                "measure",
                self._add("measure", "Pointed task's story points"),
                measure_value="field",
                field="Story Points",
            )
        )
        self.links[CU] = links

    def _seed_wrike_links(self, truth: Truth) -> None:
        projects = sorted(
            (c for c in truth.containers.values() if c["container_type"] == "project"),
            key=lambda c: (-truth.cancelled_in(c["container_id"]), -len(truth.scope(c["container_id"])), c["name"]),
        )
        space = max(
            (c for c in truth.containers.values() if c["container_type"] == "space"),
            key=lambda c: (len(truth.scope(c["container_id"])), c["name"]),
        )
        pointed = next(
            i
            for i, r in sorted(truth.items.items())
            if r["item_type"] == "task"
            and not r["cascade_id"]
            and not r["is_archived"]
            and (i, "Story Points") in truth.numbers
        )
        self.links[WR] = [
            Link(
                {"container": projects[0]["name"], "action": "Wrike project delivered"},
                "container",
                projects[0]["container_id"],
                "action",
                self._add("action", "Wrike project delivered"),
            ),
            Link(
                {"container": space["name"], "measure": "Wrike space tasks done"},
                "container",
                space["container_id"],
                "measure",
                self._add("measure", "Wrike space tasks done"),
                measure_value="count_done",
            ),
            Link(
                {"item": pointed, "measure": "Wrike story points", "field": "Story Points"},
                "item",
                pointed,
                "measure",
                self._add("measure", "Wrike story points"),
                measure_value="field",
                field="Story Points",
            ),
        ]

    # --- configuration ---------------------------------------------------------------------------
    @property
    def cascade_url(self) -> str:
        return self.servers[1].url

    def raw_config(
        self, *, cascade: dict | None = None, clickup: dict | None = None, clickup_mapping: dict | None = None
    ) -> dict:
        workspaces = [
            {
                "key": CU,
                "source": "clickup",
                "base_url": self.servers[0].url + "/api/v2",
                "team_id": self.team_id,
                "token_env": CLICKUP_TOKEN_ENV,
                "status_categories": CLICKUP_CATEGORIES,
                "mapping": {"plan": PLAN, "links": [link.rule for link in self.links[CU]], **(clickup_mapping or {})},
                **(clickup or {}),
            }
        ]
        if self.wrike is not None:
            workspaces.append(
                {
                    "key": WR,
                    "source": "wrike",
                    "base_url": self.servers[2].url + "/api/v4",
                    "token_env": WRIKE_TOKEN_ENV,
                    "mapping": {
                        "plan": PLAN_ID,
                        "links": [link.rule for link in self.links[WR]],
                        "progress": {"source": "custom_field", "custom_field": "Confidence"},
                    },
                }
            )
        connection = {
            "api": "integrations",
            "base_url": self.cascade_url,
            "workspace_id": WORKSPACE_ID,
            "token_env": CASCADE_TOKEN_ENV,
            **(cascade or {}),
        }
        if "oauth" in connection:
            connection.pop("token_env")
        return {"warehouse": {"path": self.duckdb}, "cascade": connection, "workspaces": workspaces}

    def config(self, **kwargs):
        return parse_config(self.raw_config(**kwargs))

    # --- OAuth bootstrap -------------------------------------------------------------------------
    def oauth_settings(self) -> dict:
        self.monkeypatch.setenv(CLIENT_ID_ENV, SANDBOX_CLIENT_ID)
        self.monkeypatch.setenv(CLIENT_SECRET_ENV, SANDBOX_CLIENT_SECRET)
        return {
            "client_id_env": CLIENT_ID_ENV,
            "client_secret_env": CLIENT_SECRET_ENV,
            "token_store": str(self.tmp_path / "cascade.tokens.json"),
            "authorize_url": self.cascade_url + "/authorize",
            "token_url": self.cascade_url + "/oauth/token",
        }

    def bootstrap_oauth(self, settings: dict) -> dict:
        """What a person does once: open the authorize URL (over HTTP), then trade the code."""
        provider = oauth_provider(settings["authorize_url"], settings["token_url"])
        url = authorize_url(provider, SANDBOX_CLIENT_ID, REDIRECT_URI, state="xyz")
        answer = httpx.get(url, follow_redirects=False)
        assert answer.status_code == 302, answer.text
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
        assert query["state"] == ["xyz"], query
        exchange_code(
            query["code"][0],
            provider=provider,
            client_id=SANDBOX_CLIENT_ID,
            client_secret=SANDBOX_CLIENT_SECRET,
            store=settings["token_store"],
            redirect_uri=REDIRECT_URI,
            workspace="cascade",
        )
        return self.stored_tokens(settings)

    @staticmethod
    def stored_tokens(settings: dict) -> dict:
        """The token store's state (access, refresh and previous refresh token, expiry, ...)."""
        return json.loads(Path(settings["token_store"]).read_text())["state"]

    # --- running ---------------------------------------------------------------------------------
    def assets(self, config, source: str) -> list:
        partitions = workspace_partitions(config, source)
        build = build_clickup_assets if source == "clickup" else build_wrike_assets
        built = build(config, partitions)
        return [*built.assets, *build_cascade_assets(config, source, partitions, built)]

    def sync(
        self, config, key: str = CU, *, until: str | None = None, only: str | None = None, extract: dict | None = None
    ) -> Sync:
        """Materialize the source's assets and the Cascade chain for one workspace; ``until``: stop
        after that Cascade stage (desired_state, diff, publish); ``only``: that stage alone, on what
        earlier runs left in the warehouse (as a person re-materializing one asset does)."""
        source = "clickup" if key == CU else "wrike"
        selection = None
        if until is not None:
            selection = (
                dg.AssetSelection.assets(cascade_keys(source)[until]).upstream().required_multi_asset_neighbors()
            )
        if only is not None:
            selection = dg.AssetSelection.assets(cascade_keys(source)[only])
        before, writes = len(self.cascade.log.entries), self.cascade.writes
        tokens = self.cascade.log.count("POST", r"^/oauth/token$")
        resources = {
            "warehouse": WarehouseResource(path=config.duckdb_path),
            "cascade": CascadeResource.from_connection(config.cascade),
            "clickup": ClickUpResource(),
            "wrike": WrikeResource(),
        }
        result = dg.materialize(
            self.assets(config, source),
            partition_key=key,
            instance=self.instance,
            raise_on_error=False,
            selection=selection,
            resources=resources,
            run_config={"ops": {} if only else {f"{source}_raw_extract": {"config": extract or {"mode": "full"}}}},
        )
        requests = [e for e in self.cascade.log.entries[before:] if e[1].startswith("/v2/")]
        return Sync(
            result, self.cascade.writes - writes, requests, self.cascade.log.count("POST", r"^/oauth/token$") - tokens
        )

    # --- expectations ----------------------------------------------------------------------------
    def plan_items(self) -> dict[str, str]:
        """Cascade id -> action | measure, of the configured plan."""
        with self.cascade.store.lock:
            return {
                **{i: "action" for i, a in self.cascade.store.actions.items() if a["planId"] == PLAN_ID},
                **{i: "measure" for i, m in self.cascade.store.measures.items() if m["planId"] == PLAN_ID},
            }

    def open_task(self, key: str = CU) -> tuple[str, str]:
        """A task not yet done whose Cascade action no other item claims: (task id, action id)."""
        before, truth = self.expected(key), self.truth(key)
        return next(
            (i, r["cascade_id"])
            for i, r in sorted(truth.items.items())
            if r["item_type"] == "task"
            and not r["is_archived"]
            and not truth.done(i)
            and before.kinds.get(r["cascade_id"]) == "action"
            and before.claims[r["cascade_id"]] == [i]
        )

    def expected(self, key: str = CU, truth: Truth | None = None) -> Expected:
        """The values a correct sync of the workspace leaves in Cascade, from the ground truth."""
        truth = truth or self.truth(key)
        rule = ("subtasks", None) if key == CU else ("custom_field", "Confidence")
        plan = self.plan_items()
        values: dict[str, list[tuple[str, float]]] = {}
        kinds: dict[str, str] = {}
        config_items = {link.source_id: link.cascade_id for link in self.links[key] if link.source_kind == "item"}
        for item_id, row in truth.items.items():
            cascade_id = (row["cascade_id"] or "").strip()
            if cascade_id not in plan:
                continue
            if config_items.get(item_id) == cascade_id:
                continue  # the config link to the same item and id says how its value is computed
            values.setdefault(cascade_id, []).append((item_id, truth.progress(item_id, *rule)))
            kinds[cascade_id] = plan[cascade_id]
        for link in self.links[key]:
            if link.source_kind == "item":
                held = (truth.items[link.source_id]["cascade_id"] or "").strip()
                if held and held != link.cascade_id:
                    continue  # the item's own field wins over the config ("shadowed")
                value = (
                    truth.numbers.get((link.source_id, link.field))
                    if link.measure_value == "field"
                    else truth.progress(link.source_id, *rule)
                )
                if value is None:
                    continue
            else:
                value = truth.container_value(link)
            values.setdefault(link.cascade_id, []).append((link.source_id, value))
            kinds[link.cascade_id] = link.cascade_type
        out = Expected({}, kinds)
        for cascade_id, claims in values.items():
            out.claims[cascade_id] = sorted(s for s, _ in claims)
            if len({round(v, 4) for _, v in claims}) > 1:
                out.held_back[cascade_id] = sorted(s for s, _ in claims)
            else:
                out.values[cascade_id] = claims[0][1]
        return out

    def link(
        self, key: str, cascade_type: str, measure_value: str | None = None, *, source_kind: str = "container"
    ) -> Link:
        return next(
            link
            for link in self.links[key]
            if link.cascade_type == cascade_type
            and link.source_kind == source_kind
            and link.measure_value == measure_value
        )

    # --- reading both sides back -----------------------------------------------------------------
    def value(self, cascade_id: str) -> float | None:
        with self.cascade.store.lock:
            item = self.cascade.store.actions.get(cascade_id) or self.cascade.store.measures.get(cascade_id)
            return None if item is None else item["value"]

    def writes_of(self, cascade_id: str) -> list[dict]:
        with self.cascade.store.lock:
            item = self.cascade.store.actions.get(cascade_id) or self.cascade.store.measures[cascade_id]
            return list(item["writes"])

    def values_held(self) -> dict[str, float]:
        """Every action and measure that holds a value, by id."""
        with self.cascade.store.lock:
            return {
                i: x["value"]
                for table in (self.cascade.store.actions, self.cascade.store.measures)
                for i, x in table.items()
                if x["value"] is not None
            }

    def rows(self, sql: str, params=()) -> list[dict]:
        with Warehouse(self.duckdb).connect() as con:
            cursor = con.execute(sql, params)
            rows = cursor.fetchall()
            return [dict(zip([d[0] for d in cursor.description], row, strict=False)) for row in rows]

    def run_row(self, run_id: str, key: str = CU) -> dict:
        rows = self.rows("SELECT * FROM sync.runs WHERE workspace = ? AND run_id = ?", [key, run_id])
        assert rows, f"no sync.runs row for {key} run {run_id}"
        return rows[0]

    # --- changing the source ---------------------------------------------------------------------
    def set_status(self, task_id: str, status: str) -> None:
        self.clickup.update_task(task_id, status=status)

    def set_cascade_id(self, task_id: str, value: str | None) -> None:
        self.clickup.update_task(task_id, custom_fields={"Cascade ID": value})

    def rename_list(self, list_id: str, name: str) -> None:
        with self.clickup.lock:
            self.dataset.lists[list_id].name = name

    def rename_cascade_item(self, cascade_id: str, name: str) -> None:
        with self.cascade.store.lock:
            (self.cascade.store.actions.get(cascade_id) or self.cascade.store.measures[cascade_id])["name"] = name


def utc_today() -> date:
    return datetime.now(UTC).date()


def approx_equal(got: float | None, want: float, tolerance: float = 1e-6) -> bool:
    return got is not None and abs(got - want) <= tolerance
