"""The run config of a sync run, the same whether a schedule, a sensor or the CLI starts it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Mode = Literal["auto", "full", "incremental", "items"]


def sync_run_config(
    source: str,
    mode: Mode | str,
    *,
    dry_run: bool | None = None,
    item_ids: Sequence[str] = (),
) -> dict:
    """How much the source's raw extract reads (``mode``; ``item_ids`` for ``items``) and, when given,
    whether the publish only previews (``dry_run``; None leaves the publish's own default, for a config
    without Cascade). Every sync job runs its steps in the run's own process (the jobs' executor)."""
    extract: dict = {"mode": mode, **({"item_ids": list(item_ids)} if item_ids else {})}
    config: dict = {"ops": {f"{source}_raw_extract": {"config": extract}}}
    if dry_run is not None:
        config["ops"][f"{source}__cascade_publish"] = {"config": {"dry_run": dry_run}}
    return config
