"""The run config of a sync run, the same whether a schedule, a sensor or the CLI starts it."""

from __future__ import annotations

from typing import Literal

Mode = Literal["auto", "full", "incremental"]


def sync_run_config(source: str, mode: Mode | str, *, dry_run: bool | None = None) -> dict:
    """How much the source's raw extract reads (``mode``) and, when given, whether the publish only
    previews (``dry_run``; None leaves the publish's own default, for a config without Cascade)."""
    ops: dict[str, dict] = {f"{source}_raw_extract": {"config": {"mode": mode}}}
    if dry_run is not None:
        ops[f"{source}__cascade_publish"] = {"config": {"dry_run": dry_run}}
    return {"ops": ops}
