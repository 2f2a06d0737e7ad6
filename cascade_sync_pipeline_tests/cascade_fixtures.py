"""Shared set-up for the Cascade-side tests: a small ClickUp account and a Cascade on loopback, a
config with mapping rules, the whole chain materialized through Dagster, and both sides read back.

Expectations are computed from the generator's dataset (the ground truth), never from the SQL under test.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from cascade_sync_pipeline.sync.assets import build_cascade_assets, cascade_keys
from cascade_sync_pipeline.clickup.assets import build_clickup_assets
from cascade_sync_pipeline.config import parse_config
from cascade_sync_pipeline.definitions import STAGING_TABLES
from cascade_sync_pipeline.partitions import workspace_partitions
from cascade_sync_pipeline.resources import CascadeResource, ClickUpResource, WarehouseResource
from cascade_sync_pipeline.sandbox.cascade import SANDBOX_TOKEN, CascadeEmulator
from cascade_sync_pipeline.sandbox.clickup.app import ClickUpEmulator
from cascade_sync_pipeline.sandbox.clickup.generator import generate
from cascade_sync_pipeline.sandbox.company import sandbox_people
from cascade_sync_pipeline.warehouse.store import Warehouse

KEY = "team-1"
TOKEN_ENV = "TEST_CLICKUP_TOKEN_1"
CASCADE_TOKEN_ENV = "TEST_CASCADE_TOKEN"
OBJECTIVE = "Launch self-serve pricing"
OTHER_OBJECTIVE = "Expand into EMEA"
STATUS_OVERRIDES = {"on hold": "deferred", "cancelled": "cancelled"}
FALLBACK = {"open": "To Do", "custom": "In Progress", "done": "Done", "closed": "Done"}
FIELD_WRITE = r"/task/[^/]+/field/"


@dataclass
class Sync:
    result: dg.ExecuteInProcessResult
    writes: int            # Cascade writes the emulator counted during the run
    field_writes: int      # ClickUp "set custom field" calls during the run

    @property
    def success(self) -> bool:
        return self.result.success

    def checks(self) -> dict[str, dg.AssetCheckEvaluation]:
        return {c.check_name: c for c in self.result.get_asset_check_evaluations()}

    def metadata(self, key: str) -> dict:
        return {e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
                for e in self.result.get_asset_materialization_events()}.get(key, {})

    def materialized(self) -> set[str]:
        return {e.asset_key.to_user_string() for e in self.result.get_asset_materialization_events()}

    def failure(self) -> str:
        failures = [e for e in self.result.all_events if e.is_step_failure]
        error, messages = (failures[0].step_failure_data.error if failures else None), []
        while error is not None:
            messages.append(error.message)
            error = error.cause
        return "\n".join(messages)


class World:
    """One ClickUp Workspace and one Cascade, both served on 127.0.0.1 (free ports)."""

    def __init__(self, tmp_path, monkeypatch, *, seed: int = 5, tasks: int = 50, drop_people: int = 0) -> None:
        self.dataset = generate(seed, teams=1, tasks_per_team=tasks)
        self.team_id = next(iter(self.dataset.teams))
        self.clickup = ClickUpEmulator(self.dataset, rate_limit=100_000)
        people = sandbox_people(self.dataset)
        self.cascade = CascadeEmulator(users=people[:len(people) - drop_people], rate_limit=100_000)
        self.servers = [self.clickup.serve(port=0), self.cascade.serve(port=0)]
        self.duckdb = str(tmp_path / "wh.duckdb")
        monkeypatch.setenv(TOKEN_ENV, self.dataset.grant([self.team_id]))
        monkeypatch.setenv(CASCADE_TOKEN_ENV, SANDBOX_TOKEN)
        self.instance = dg.DagsterInstance.ephemeral()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    @property
    def clickup_url(self) -> str:
        return self.servers[0].url + "/api/v2"

    @property
    def cascade_url(self) -> str:
        return self.servers[1].url + "/api/v2"

    def raw_config(self, mapping: dict | None = None, **workspace) -> dict:
        ws = {"key": KEY, "source": "clickup", "base_url": self.clickup_url, "team_id": self.team_id,
              "token_env": TOKEN_ENV, "status_categories": STATUS_OVERRIDES,
              "mapping": {"target": {"objective": OBJECTIVE}} if mapping is None else mapping, **workspace}
        return {"warehouse": {"path": self.duckdb},
                "cascade": {"api": "contract", "base_url": self.cascade_url, "token_env": CASCADE_TOKEN_ENV},
                "workspaces": [ws]}

    def config(self, mapping: dict | None = None, **workspace):
        return parse_config(self.raw_config(mapping, **workspace))

    def assets(self, config) -> list:
        partitions = workspace_partitions(config, "clickup")
        source = build_clickup_assets(config, partitions)
        staging = [key for a in source for key in a.keys if key.path[-1] in STAGING_TABLES]
        return source + build_cascade_assets(config, "clickup", partitions, staging)

    def sync(self, config, *, mode: str = "full", dry_run: bool = False, until: str | None = None,
             only: str | None = None) -> Sync:
        """Materialize the chain for the workspace; ``until``: stop after that Cascade stage;
        ``only``: that stage alone, on the staging tables of an earlier run."""
        assets = self.assets(config)
        selection = None
        if until is not None:
            selection = dg.AssetSelection.assets(cascade_keys("clickup")[until]).upstream() \
                .required_multi_asset_neighbors()
        if only is not None:
            selection = dg.AssetSelection.assets(cascade_keys("clickup")[only])
            until = only
        writes, field_writes = self.cascade.writes, self.clickup.log.count("POST", FIELD_WRITE)
        result = dg.materialize(
            assets, partition_key=KEY, instance=self.instance, raise_on_error=False, selection=selection,
            resources={"warehouse": WarehouseResource(path=self.duckdb), "clickup": ClickUpResource(),
                       "cascade": CascadeResource(api="contract", base_url=self.cascade_url, token_env=CASCADE_TOKEN_ENV)},
            run_config={"ops": {**({} if only else {"clickup_raw_extract": {"config": {"mode": mode}}}),
                                **({} if until else {"clickup__cascade_publish": {"config": {"dry_run": dry_run}}})}},
        )
        return Sync(result, self.cascade.writes - writes, self.clickup.log.count("POST", FIELD_WRITE) - field_writes)

    # --- reading both sides back ------------------------------------------------------------------
    def rows(self, sql: str, params=()) -> list[dict]:
        with Warehouse(self.duckdb).connect() as con:
            cursor = con.execute(sql, params)
            rows = cursor.fetchall()
            return [dict(zip([d[0] for d in cursor.description], row)) for row in rows]

    def synced(self, kind: str) -> dict[str, dict]:
        """Cascade items of ``kind`` carrying this workspace's external_ref, by source item id."""
        out: dict[str, dict] = {}
        for item in self.cascade.items(kind):
            ref = item.get("external_ref") or {}
            if ref.get("workspace") == KEY:
                assert ref["item_id"] not in out, f"two Cascade {kind}s claim source item {ref['item_id']}"
                out[ref["item_id"]] = item
        return out

    def objective_id(self, name: str) -> int:
        return next(o["id"] for o in self.cascade.items("objective") if o["name"] == name)

    def user_id(self, email: str) -> int | None:
        return next((u["id"] for u in self.cascade.items("user") if u["email"] == email), None)

    def list_id(self, name: str) -> str:
        return next(lid for lid, lst in self.dataset.lists.items() if lst.name == name)

    def busiest_lists(self) -> tuple[str, str]:
        """Names of the two lists of one space holding the most synced tasks (for move scenarios)."""
        sizes = {lid: sum(1 for t in self.top_level().values() if t.list_id == lid) for lid in self.dataset.lists}
        pairs = [(sizes[a] + sizes[b], a, b) for a in sizes for b in sizes
                 if a < b and self.dataset.lists[a].space_id == self.dataset.lists[b].space_id]
        _, a, b = max(pairs)
        first, second = sorted((a, b), key=lambda lid: -sizes[lid])
        return self.dataset.lists[first].name, self.dataset.lists[second].name

    def cascade_id_value(self, task_id: str) -> str | None:
        task = self.dataset.tasks[task_id]
        field_id = next(f for f in self.dataset.list_fields(task.list_id) if f.name == "Cascade ID").id
        return task.values.get(field_id)

    # --- ground truth -----------------------------------------------------------------------------
    def category(self, task) -> str:
        name = task.status
        if name in STATUS_OVERRIDES:
            return STATUS_OVERRIDES[name]
        kind = self.dataset.task_status(task).type
        return {"open": "not_started", "custom": "in_progress", "done": "done", "closed": "done"}[kind]

    def top_level(self, *, lists: list[str] | None = None, archived: bool = False) -> dict[str, object]:
        """Top-level tasks and milestones (what maps to actions by default), by id."""
        wanted = {self.list_id(n) for n in lists} if lists else None
        return {t.id: t for t in self.dataset.tasks.values()
                if t.parent is None and (archived or not t.archived) and (wanted is None or t.list_id in wanted)}
