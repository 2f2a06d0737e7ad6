"""Shared set-up for the classic engine's tests: a small ClickUp Workspace, a small Wrike account and
a classic Cascade instance on loopback, a config with mapping rules, the whole chain materialized
through Dagster, and every side read back.

Expectations are computed from the generators' datasets (the ground truth), never from the SQL
under test; Cascade items are matched to source items through the Cascade ID the write-back put
into the source (lists, which hold no custom fields, by name).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from cascade_sync_pipeline.clickup.assets import build_clickup_assets
from cascade_sync_pipeline.config import parse_config
from cascade_sync_pipeline.partitions import workspace_partitions
from cascade_sync_pipeline.resources import CascadeResource, ClickUpResource, WarehouseResource, WrikeResource
from cascade_sync_pipeline.sync.assets import build_cascade_assets, cascade_keys
from cascade_sync_pipeline.warehouse.store import Warehouse
from cascade_sync_pipeline.wrike.assets import build_wrike_assets
from cascade_sync_sandbox.classic import SANDBOX_TOKEN, ClassicEmulator
from cascade_sync_sandbox.clickup.app import ClickUpEmulator
from cascade_sync_sandbox.clickup.generator import generate as generate_clickup
from cascade_sync_sandbox.clickup.names import PRIORITIES
from cascade_sync_sandbox.company import sandbox_people, seed_classic
from cascade_sync_sandbox.wrike import WrikeEmulator
from cascade_sync_sandbox.wrike import generate as generate_wrike

CU, WR = "cu-1", "wr-1"
CLICKUP_TOKEN_ENV, WRIKE_TOKEN_ENV, CASCADE_TOKEN_ENV = "TEST_CLICKUP_TOKEN", "TEST_WRIKE_TOKEN", "TEST_CASCADE_TOKEN"
STATUS_OVERRIDES = {"on hold": "deferred", "cancelled": "cancelled"}
GROW, OPERATE = 201, 202  # focus areas the world seeds (in this order)
TEMPLATES = {"objective": 11, "project": 12, "kpi": 13}
CLICKUP_MAPPING = {"target": {"focus_area_ids": [GROW]}, "templates": TEMPLATES}
WRIKE_MAPPING = {"target": {"focus_area_ids": [OPERATE]}, "goals_from": ["folder"], "templates": TEMPLATES}
FIELD_WRITE = r"/task/[^/]+/field/"
WEIGHT = {"urgent": 1, "high": 2, "normal": 3, "low": 4}


def day(ms: int | None) -> str | None:
    return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat() if ms else None


@dataclass
class Sync:
    result: dg.ExecuteInProcessResult
    writes: int  # Cascade writes the emulator counted during the run
    source_writes: int  # write-back calls into the source during the run

    @property
    def success(self) -> bool:
        return self.result.success

    def checks(self) -> dict[str, dg.AssetCheckEvaluation]:
        return {c.check_name: c for c in self.result.get_asset_check_evaluations()}

    def metadata(self, key: str) -> dict:
        return {
            e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
            for e in self.result.get_asset_materialization_events()
        }.get(key, {})

    def materialized(self) -> set[str]:
        return {e.asset_key.to_user_string() for e in self.result.get_asset_materialization_events()}

    def failure(self) -> str:
        failures = [e for e in self.result.all_events if e.is_step_failure]
        error, messages = (failures[0].step_failure_data.error if failures else None), []
        while error is not None:
            messages.append(error.message)
            error = error.cause
        return "\n".join(messages)


class ClassicWorld:
    """A ClickUp Workspace (``CU``), a Wrike account (``WR``) and a classic Cascade, on 127.0.0.1."""

    def __init__(
        self,
        tmp_path,
        monkeypatch,
        *,
        seed: int = 5,
        clickup_tasks: int = 50,
        wrike_tasks: int = 60,
        drop_people: int = 0,
    ) -> None:
        self.dataset = generate_clickup(seed, teams=1, tasks_per_team=clickup_tasks, cascade_id_ratio=0.0)
        self.team_id = next(iter(self.dataset.teams))
        self.wrike_ds = generate_wrike(seed, tasks=wrike_tasks, cascade_id_ratio=0.0)
        self.clickup = ClickUpEmulator(self.dataset, rate_limit=100_000)
        self.wrike = WrikeEmulator(self.wrike_ds, rate_limit=100_000)
        self.wrike_ds = self.wrike.dataset  # the emulator works on its own copy
        self.cascade = ClassicEmulator(rate_limit=100_000)
        people = sandbox_people(self.dataset, self.wrike_ds)
        self.users = seed_classic(self.cascade, people[: len(people) - drop_people])
        self.servers = {
            "clickup": self.clickup.serve(port=0),
            "wrike": self.wrike.serve(port=0),
            "cascade": self.cascade.serve(port=0),
        }
        self.duckdb = str(tmp_path / "wh.duckdb")
        monkeypatch.setenv(CLICKUP_TOKEN_ENV, self.dataset.grant([self.team_id]))
        monkeypatch.setenv(WRIKE_TOKEN_ENV, self.wrike_ds.permanent_token)
        monkeypatch.setenv(CASCADE_TOKEN_ENV, SANDBOX_TOKEN)
        self.instance = dg.DagsterInstance.ephemeral()

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def url(self, name: str) -> str:
        return self.servers[name].url + {"clickup": "/api/v2", "wrike": "/api/v4", "cascade": "/api/v2"}[name]

    # --- config and runs ----------------------------------------------------------------------------
    def raw_config(self, clickup: dict | None = None, wrike: dict | None = None, **workspace) -> dict:
        """``clickup``/``wrike``: mapping rules of that workspace (None: the default mapping)."""
        return {
            "warehouse": {"path": self.duckdb},
            "cascade": {
                "api": "classic",
                "base_url": self.url("cascade"),
                "token_env": CASCADE_TOKEN_ENV,
                "users": self.users,
            },
            "workspaces": [
                {
                    "key": CU,
                    "source": "clickup",
                    "base_url": self.url("clickup"),
                    "team_id": self.team_id,
                    "token_env": CLICKUP_TOKEN_ENV,
                    "status_categories": STATUS_OVERRIDES,
                    "mapping": CLICKUP_MAPPING if clickup is None else clickup,
                    **workspace,
                },
                {
                    "key": WR,
                    "source": "wrike",
                    "base_url": self.url("wrike"),
                    "token_env": WRIKE_TOKEN_ENV,
                    "mapping": WRIKE_MAPPING if wrike is None else wrike,
                    **workspace,
                },
            ],
        }

    def config(self, clickup: dict | None = None, wrike: dict | None = None, **workspace):
        return parse_config(self.raw_config(clickup, wrike, **workspace))

    def sync(
        self,
        config,
        key: str = CU,
        *,
        mode: str = "full",
        dry_run: bool = False,
        until: str | None = None,
        only: str | None = None,
    ) -> Sync:
        """Materialize the chain of one workspace; ``until``: stop after that Cascade stage; ``only``:
        that stage alone, on the staging tables of an earlier run."""
        source = config.workspace(key).source
        partitions = workspace_partitions(config, source)
        build = build_clickup_assets if source == "clickup" else build_wrike_assets
        built = build(config, partitions)
        assets = [*built.assets, *build_cascade_assets(config, source, partitions, built)]
        selection = None
        if until is not None:
            selection = (
                dg.AssetSelection.assets(cascade_keys(source)[until]).upstream().required_multi_asset_neighbors()
            )
        if only is not None:
            selection, until = dg.AssetSelection.assets(cascade_keys(source)[only]), only
        writes, source_writes = self.cascade.writes, self.source_writes(source)
        result = dg.materialize(
            assets,
            partition_key=key,
            instance=self.instance,
            raise_on_error=False,
            selection=selection,
            resources={
                "warehouse": WarehouseResource(path=self.duckdb),
                "clickup": ClickUpResource(),
                "wrike": WrikeResource(),
                "cascade": CascadeResource.from_connection(config.cascade),
            },
            run_config={
                "ops": {
                    **({} if only else {f"{source}_raw_extract": {"config": {"mode": mode}}}),
                    **({} if until else {f"{source}__cascade_publish": {"config": {"dry_run": dry_run}}}),
                }
            },
        )
        return Sync(result, self.cascade.writes - writes, self.source_writes(source) - source_writes)

    def source_writes(self, source: str) -> int:
        if source == "clickup":
            return self.clickup.log.count("POST", FIELD_WRITE)
        return self.wrike.log.count("PUT", r"/api/v4/(tasks|folders)/")

    # --- reading back -------------------------------------------------------------------------------
    def rows(self, sql: str, params=()) -> list[dict]:
        with Warehouse(self.duckdb).connect() as con:
            cursor = con.execute(sql, params)
            rows = cursor.fetchall()
            return [dict(zip([d[0] for d in cursor.description], row, strict=False)) for row in rows]

    def cascade_id_value(self, task_id: str) -> str | None:
        """The Cascade ID field of a ClickUp task, as ClickUp holds it now."""
        task = self.dataset.tasks[task_id]
        field_id = next(f for f in self.dataset.list_fields(task.list_id) if f.name == "Cascade ID").id
        return task.values.get(field_id)

    def wrike_cascade_id(self, entity_id: str) -> str | None:
        """The Cascade ID field of a Wrike task or project (folder), as Wrike holds it now."""
        field_id = next(f["id"] for f in self.wrike_ds.custom_fields if f["title"] == "Cascade ID")
        entity = next((t for t in self.wrike_ds.tasks if t["id"] == entity_id), None) or next(
            f for f in self.wrike_ds.folders if f["id"] == entity_id
        )
        return next((cf["value"] for cf in entity.get("customFields", []) if cf["id"] == field_id), None)

    def tasks_by_source(self, ids) -> dict[str, dict]:
        """The Cascade task each ClickUp task's Cascade ID field names."""
        return {i: self.cascade.tasks.get(int(v)) if (v := self.cascade_id_value(i)) else None for i in ids}

    def list_goal(self, list_name: str) -> dict:
        """The one goal (any status) a ClickUp list became, found by its title in Cascade."""
        found = [
            g for g in self.cascade.goals.values() if " ".join(filter(None, (g["action"], g["details"]))) == list_name
        ]
        assert len(found) == 1, f"{len(found)} goals for list {list_name!r}"
        return found[0]

    def role_of(self, email: str | None) -> int | None:
        return next((u["role_id"] for u in self.users if u["email"] == (email or "").lower()), None)

    # --- ground truth -------------------------------------------------------------------------------
    def category(self, task) -> str:
        if task.status in STATUS_OVERRIDES:
            return STATUS_OVERRIDES[task.status]
        kind = self.dataset.task_status(task).type
        return {"open": "not_started", "custom": "in_progress", "done": "done", "closed": "done"}[kind]

    def top_level(self, *, lists: list[str] | None = None) -> dict[str, object]:
        """Live top-level tasks and milestones (what maps to Cascade by default), by id."""
        wanted = {self.list_id(n) for n in lists} if lists else None
        return {
            t.id: t
            for t in self.dataset.tasks.values()
            if t.parent is None and not t.archived and (wanted is None or t.list_id in wanted)
        }

    def list_id(self, name: str) -> str:
        return next(lid for lid, lst in self.dataset.lists.items() if lst.name == name)

    def owner_role(self, task) -> int | None:
        emails = [self.dataset.users[u].email for u in task.assignee_ids]
        return next((r for r in map(self.role_of, emails) if r is not None), None)

    def weight(self, task) -> int:
        return WEIGHT[PRIORITIES[task.priority]["priority"]] if task.priority else 3
