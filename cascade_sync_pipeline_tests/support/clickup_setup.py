"""Shared set-up for ClickUp tests: a seeded emulator on loopback and a config pointing at it."""

from __future__ import annotations

from cascade_sync_pipeline.config import parse_config
from cascade_sync_sandbox.clickup.app import ClickUpEmulator
from cascade_sync_sandbox.clickup.generator import generate

STATUS_OVERRIDES = {"on hold": "deferred", "cancelled": "cancelled"}


def small_dataset(seed: int = 3, tasks_per_team: int = 260):
    return generate(seed, teams=2, tasks_per_team=tasks_per_team)


def clickup_config(url: str, team_ids: list[str], *, scope: dict | None = None, duckdb: str = "unused.duckdb"):
    workspaces = []
    for i, team_id in enumerate(team_ids):
        ws = {
            "key": f"team-{i + 1}",
            "source": "clickup",
            "base_url": f"{url}/api/v2",
            "team_id": team_id,
            "token_env": f"TEST_CLICKUP_TOKEN_{i + 1}",
            "status_categories": STATUS_OVERRIDES,
        }
        if scope and i == 0:
            ws["scope"] = scope
        workspaces.append(ws)
    return parse_config({"warehouse": {"path": duckdb}, "workspaces": workspaces})


def start_emulator(dataset, **kwargs) -> tuple[ClickUpEmulator, object]:
    emulator = ClickUpEmulator(dataset, **kwargs)
    return emulator, emulator.serve(port=0)
