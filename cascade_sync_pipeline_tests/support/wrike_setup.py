"""Shared set-up for Wrike pipeline tests: seeded accounts served on loopback, a config pointing at
them, a Dagster materialization helper and the staging tables read back as plain rows."""

from __future__ import annotations

import dagster as dg

from cascade_sync_pipeline.config import parse_config
from cascade_sync_pipeline.partitions import workspace_partitions
from cascade_sync_pipeline.resources import WarehouseResource, WrikeResource
from cascade_sync_pipeline.warehouse.store import Warehouse
from cascade_sync_pipeline.wrike.assets import build_wrike_assets
from cascade_sync_sandbox.wrike import WrikeEmulator, generate

STAGING_KEYS = {
    "work_items": ("item_id",),
    "custom_field_values": ("item_id", "field_id"),
    "containers": ("container_id",),
    "users": ("user_id",),
}


def small_dataset(seed: int = 11, tasks: int = 500):
    return generate(seed, tasks=tasks)


def token_env(i: int) -> str:
    return f"TEST_WRIKE_TOKEN_{i}"


def wrike_config(urls: list[str], *, duckdb: str, oauth: dict | None = None):
    """Workspaces wrike-1, wrike-2, ... on the given emulator URLs (the first with ``oauth`` if given)."""
    workspaces = []
    for i, url in enumerate(urls, start=1):
        ws = {"key": f"wrike-{i}", "source": "wrike", "base_url": f"{url}/api/v4"}
        if oauth and i == 1:
            ws["oauth"] = oauth
        else:
            ws["token_env"] = token_env(i)
        workspaces.append(ws)
    return parse_config({"warehouse": {"path": duckdb}, "workspaces": workspaces})


def start_emulator(dataset, **kwargs):
    emulator = WrikeEmulator(dataset, **kwargs)
    return emulator, emulator.serve(port=0)


def materialize(config, key: str, mode: str = "auto", *, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    assets = build_wrike_assets(config, workspace_partitions(config, "wrike")).assets
    return dg.materialize(
        assets,
        partition_key=key,
        raise_on_error=raise_on_error,
        resources={"warehouse": WarehouseResource(path=config.duckdb_path), "wrike": WrikeResource()},
        run_config={"ops": {"wrike_raw_extract": {"config": {"mode": mode}}}},
    )


def metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    return {
        e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }


def staged(config, table: str, workspace: str) -> list[dict]:
    with Warehouse(config.duckdb_path).connect() as con:
        df = con.execute(f"SELECT * FROM staging.{table} WHERE workspace = ?", [workspace]).df()
    rows = df.astype(object).where(df.notna(), None).to_dict("records")
    for row in rows:
        if row.get("assignee_ids") is not None:
            row["assignee_ids"] = list(row["assignee_ids"])
        for k, v in row.items():
            if hasattr(v, "to_pydatetime"):
                row[k] = v.to_pydatetime()
    return rows


def differences(got_rows: list[dict], want_rows: list[dict], key: tuple[str, ...]) -> list[str]:
    """Human-readable differences between staged rows and ground truth (empty when equal)."""
    got = {tuple(r[k] for k in key): r for r in got_rows}
    want = {tuple(r[k] for k in key): r for r in want_rows}
    problems = []
    if len(got) != len(got_rows):
        problems.append(f"{len(got_rows) - len(got)} duplicate rows")
    if set(got) != set(want):
        problems.append(f"missing {sorted(set(want) - set(got))[:3]}, extra {sorted(set(got) - set(want))[:3]}")
    problems += [
        f"{k} {col}: got {got[k][col]!r}, want {want[k][col]!r}"
        for k in want
        if k in got
        for col in want[k]
        if got[k][col] != want[k][col]
    ]
    return problems
