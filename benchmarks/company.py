"""The sandbox company for benchmarks: every emulator on a free loopback port, a sandbox config
(config/sandbox.yaml, Integrations API; or config/sandbox-classic.yaml, classic API) pointed at
them, a fresh warehouse, and the real sync jobs to run.

The emulators' request logs are the meter: each figure is counted where the API answered.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import yaml

from cascade_sync_pipeline.cli.syncing import sync_workspaces
from cascade_sync_pipeline.config import parse_config
from cascade_sync_pipeline.warehouse.store import Warehouse
from cascade_sync_sandbox.company import Sandbox, start_sandbox

ROOT = Path(__file__).resolve().parents[1]
SANDBOX_CONFIG = ROOT / "config" / "sandbox.yaml"
CLASSIC_CONFIG = ROOT / "config" / "sandbox-classic.yaml"

# Request kinds, by (method, path) as the emulators log them.
CLICKUP_KINDS = (
    ("hierarchy", "GET", r"/api/v2/team$|/api/v2/team/\d+/space$|/api/v2/space/\d+/(folder|list)$"),
    ("field definitions", "GET", r"/api/v2/list/\d+/field$"),
    ("task listing", "GET", r"/api/v2/team/\d+/task$"),
    ("write-back", "POST", r"/api/v2/task/[^/]+/field/[^/]+$"),
)
WRIKE_KINDS = (
    ("hierarchy", "GET", r"/api/v4/spaces$|/api/v4/folders(/[^/]+)?$"),
    ("reference lists", "GET", r"/api/v4/(customfields|workflows|contacts)$"),
    ("task listing", "GET", r"/api/v4/(tasks|spaces/[^/]+/tasks|folders/[^/]+/tasks)$"),
    ("write-back", "PUT", r"/api/v4/(tasks|folders)/[^/]+$"),
)


def classify(entries: list[tuple[str, str, int]], kinds) -> dict[str, int]:
    """Requests per kind (plus 'other' and '429'), from an emulator's RequestLog entries."""
    counts = {name: 0 for name, _, _ in kinds} | {"other": 0, "429": 0}
    for method, path, status in entries:
        if status == 429:
            counts["429"] += 1
        name = next((n for n, m, p in kinds if m == method and re.search(p, path)), "other")
        counts[name] += 1
    return counts


@dataclass
class Company:
    sandbox: Sandbox
    config: object
    workdir: Path
    raw_config: dict

    def emulator(self, source: str):
        return {"clickup": self.sandbox.clickup, "wrike": self.sandbox.wrike, "cascade": self.sandbox.cascade}[source]

    def sync(self, key: str, mode: str, *, dry_run: bool = False) -> dict:
        """One run of the workspace's job (extract → staging → diff → publish → write-back)."""
        outcome = sync_workspaces(self.config, [key], mode=mode, dry_run=dry_run)[key]
        if not outcome["success"]:
            raise RuntimeError(f"sync of {key} ({mode}) failed: {outcome['error']}")
        with Warehouse(self.config.duckdb_path).connect(read_only=True) as con:
            cursor = con.execute("SELECT * FROM sync.runs WHERE workspace = ? AND run_id = ?", [key, outcome["run_id"]])
            run = dict(zip([d[0] for d in cursor.description], cursor.fetchall()[0], strict=False))
        return {**outcome, "run": run}


def _pointed(raw: dict, sandbox: Sandbox) -> dict:
    def local(url: str, api: str) -> str:
        parsed = urlparse(url)
        return url.replace(f"{parsed.hostname}:{parsed.port}", f"127.0.0.1:{sandbox.servers[api].port}")

    raw["cascade"]["base_url"] = local(raw["cascade"]["base_url"], "cascade")
    for ws in raw["workspaces"]:
        ws["base_url"] = local(ws["base_url"], ws["source"])
    return raw


@contextlib.contextmanager
def company(
    *, clickup_tasks_per_team: int | None = None, workdir: str | None = None, config_file: Path = SANDBOX_CONFIG
) -> Iterator[Company]:
    """The sandbox company on free ports with a fresh warehouse; env vars set for its tokens. The
    Cascade emulator is the one of the API ``config_file`` speaks."""
    kwargs = {} if clickup_tasks_per_team is None else {"clickup_tasks_per_team": clickup_tasks_per_team}
    saved = dict(os.environ)
    raw = yaml.safe_load(config_file.read_text())
    with (
        tempfile.TemporaryDirectory(dir=workdir) as tmp,
        start_sandbox(
            ports={"clickup": 0, "wrike": 0, "cascade": 0}, cascade_api=raw["cascade"]["api"], **kwargs
        ) as sandbox,
    ):
        raw = _pointed(raw, sandbox)
        raw["warehouse"] = {"path": str(Path(tmp) / "company.duckdb")}
        if raw["cascade"].get("users_file"):  # the raw config may be written elsewhere (the soak does)
            raw["cascade"]["users_file"] = str(config_file.parent / raw["cascade"]["users_file"])
        config = parse_config(raw, str(config_file))
        os.environ.pop("CASCADE_SYNC_DUCKDB", None)
        os.environ["DAGSTER_HOME"] = str(Path(tmp) / "dagster_home")  # runs of its own, not the repo's instance
        sandbox.export_env(config)
        try:
            yield Company(sandbox, config, Path(tmp), raw)
        finally:
            os.environ.clear()
            os.environ.update(saved)
