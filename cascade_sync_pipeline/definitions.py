"""The code location: every asset, check, job, schedule and sensor, built from the sync config."""

from __future__ import annotations

import dagster as dg

from cascade_sync_pipeline.clickup.assets import build_clickup_assets
from cascade_sync_pipeline.config import SyncConfig, load_config
from cascade_sync_pipeline.orchestration import build_orchestration_defs
from cascade_sync_pipeline.partitions import workspace_partitions
from cascade_sync_pipeline.resources import build_resources
from cascade_sync_pipeline.sync.assets import build_cascade_assets
from cascade_sync_pipeline.wrike.assets import build_wrike_assets

SOURCE_BUILDERS = {"clickup": build_clickup_assets, "wrike": build_wrike_assets}


def sync_job_name(source: str) -> str:
    return f"{source}_sync"


def build_definitions(config: SyncConfig) -> dg.Definitions:
    assets, jobs = [], []
    for source, build in SOURCE_BUILDERS.items():
        partitions_def = workspace_partitions(config, source)
        if partitions_def is None:
            continue
        built = build(config, partitions_def)
        assets += [*built.assets, *build_cascade_assets(config, source, partitions_def, built)]
        jobs.append(
            dg.define_asset_job(
                sync_job_name(source),
                selection=dg.AssetSelection.key_prefixes([source]),
                # Steps run one after another anyway; a process per step would load the code location again
                # for each (seconds per run, and most of a small run).
                executor_def=dg.in_process_executor,
                description=f"Sync one {source} workspace (pick its partition): extract, staging, the Cascade "
                "diff and its checks, publish, and the write-back of Cascade IDs.",
            )
        )
    defs = dg.Definitions(assets=assets, jobs=jobs, resources=build_resources(config))
    return dg.Definitions.merge(defs, build_orchestration_defs(config, defs, sync_job_name))


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(load_config())
