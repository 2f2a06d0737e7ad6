"""`cascade-sync sync` and `cascade-sync check-config`."""

from __future__ import annotations

import argparse

from cascade_sync_pipeline.cli.syncing import print_summary, sync_workspaces
from cascade_sync_pipeline.config import load_config

MODES = ["auto", "full", "incremental"]


def add_commands(sub: argparse._SubParsersAction) -> None:
    sync = sub.add_parser("sync", help="sync the given workspace keys (default: all)")
    sync.add_argument("keys", nargs="*")
    sync.add_argument("--mode", choices=MODES, default="auto")
    sync.add_argument("--dry-run", action="store_true", help="stop at the diff: write nothing to Cascade")
    sync.set_defaults(func=_sync)
    sub.add_parser("check-config", help="validate the config file").set_defaults(func=_check_config)


def _sync(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    keys = args.keys or [ws.key for ws in config.workspaces]
    for key in keys:
        config.workspace(key)
    outcomes = sync_workspaces(config, keys, mode=args.mode, dry_run=args.dry_run, progress=print)
    print_summary(config, outcomes)
    return 0 if all(o["success"] for o in outcomes.values()) else 1


def _check_config(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    for ws in config.workspaces:
        print(f"{ws.key}: {ws.source} {ws.base_url} (token from ${ws.token_env}), schedule {ws.schedule}")
    if config.cascade is None:
        print("cascade: none (extract and stage only)")
    else:
        auth = f"token from ${config.cascade.token_env}" if config.cascade.token_env else "OAuth"
        print(
            f"cascade: {config.cascade.api} API at {config.cascade.base_url} ({auth})"
            + (f", workspace {config.cascade.workspace_id}" if config.cascade.workspace_id else "")
            + (f", {len(config.cascade.users)} users" if config.cascade.api == "classic" else "")
        )
    print(f"warehouse: {config.duckdb_path} ({config.warehouse.layout})")
    return 0
