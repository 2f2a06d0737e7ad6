"""The sandbox's commands of `cascade-sync` (registered through the ``cascade_sync.commands`` entry point):

cascade-sync demo [--cascade classic]   # the sandbox + a full sync of every workspace of its config + summary
cascade-sync sandbox                    # the emulators alone, until Ctrl-C
cascade-sync dev                        # the sandbox, the webhook receiver and the Dagster UI, live
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from urllib.parse import urlparse

from cascade_sync_pipeline.cli.syncing import print_summary, sync_workspaces
from cascade_sync_pipeline.config import CONFIG_ENV, DUCKDB_ENV, ConfigError, SyncConfig, load_config
from cascade_sync_pipeline.sync import runs
from cascade_sync_pipeline.warehouse.store import Warehouse
from cascade_sync_sandbox.company import PORTS, start_sandbox
from cascade_sync_sandbox.live import run_dev


def add_commands(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="start the sandbox and sync every workspace of its config")
    demo.add_argument("--mode", choices=["auto", "full", "incremental"], default="auto")
    demo.add_argument("--dry-run", action="store_true", help="stop at the diff: write nothing to Cascade")
    demo.set_defaults(func=_demo)
    sandbox = sub.add_parser("sandbox", help="serve the emulators until Ctrl-C")
    sandbox.set_defaults(func=_sandbox)
    dev = sub.add_parser("dev", help="the sandbox, the webhook receiver and the Dagster UI, live")
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(func=_dev)
    for command in (demo, sandbox, dev):
        command.add_argument(
            "--cascade",
            choices=sorted(SANDBOX_CONFIGS),
            help=f"the Cascade API of the sandbox (its config: {', '.join(SANDBOX_CONFIGS.values())}); "
            "default: the one the config names",
        )


REPOSITORY = Path(__file__).resolve().parents[2]
SANDBOX_CONFIGS = {"integrations": "config/sandbox.yaml", "classic": "config/sandbox-classic.yaml"}


def sandbox_api(config: SyncConfig) -> str:
    """The Cascade emulator a sandbox run starts: the one of the API the config speaks."""
    return config.cascade.api if config.cascade is not None else "integrations"


def sandbox_config_path(args: argparse.Namespace) -> Path:
    """--config, else the sandbox config of --cascade (integrations by default); never $CASCADE_SYNC_CONFIG,
    which may name a production config."""
    return Path(args.config) if args.config else REPOSITORY / SANDBOX_CONFIGS[args.cascade or "integrations"]


def _sandbox_config(args: argparse.Namespace) -> SyncConfig:
    wanted = getattr(args, "cascade", None)
    config = load_config(sandbox_config_path(args))
    if wanted and sandbox_api(config) != wanted:
        raise ConfigError(
            f"--cascade {wanted}: the config speaks cascade.api: {sandbox_api(config)}; leave out "
            f"--config to use {SANDBOX_CONFIGS[wanted]}, or drop --cascade"
        )
    return config


def sandbox_only(config: SyncConfig) -> SyncConfig:
    """The config the demo may run: every endpoint a sandbox port on loopback (it deletes the sync
    state of the workspaces it runs), and its own warehouse whatever CASCADE_SYNC_DUCKDB says."""
    endpoints = [
        (f"workspaces.{i}(key={ws.key}).base_url", ws.base_url, PORTS[ws.source])
        for i, ws in enumerate(config.workspaces)
    ]
    if config.cascade is not None:
        endpoints.append(("cascade.base_url", config.cascade.base_url, PORTS["cascade"]))
    wrong = [
        f"{where} {url}"
        for where, url, port in endpoints
        if urlparse(url).hostname not in ("127.0.0.1", "localhost") or urlparse(url).port != port
    ]
    if wrong:
        raise ConfigError(
            "cascade-sync demo runs only against the sandbox on this machine (it forgets the sync state "
            f"of every workspace it runs), and these point elsewhere: {'; '.join(wrong)}. Use "
            "config/sandbox.yaml, or `cascade-sync sync` for a real sync"
        )
    if os.environ.pop(DUCKDB_ENV, None):
        print(
            f"{DUCKDB_ENV} is ignored by the sandbox commands: they use the sandbox config's warehouse {config.warehouse.path}"
        )
    return config


def new_world(config: SyncConfig) -> None:
    """Every sandbox start is a new company and a new Cascade: the sync state its warehouse remembers
    (ID map, pushed values, runs, extract cursors) would point at items that are gone, so it is forgotten
    and the first run reads and writes everything again."""
    for ws in config.workspaces:
        with Warehouse(config.warehouse_path(ws.key)).connect() as con:
            runs.forget(con, [ws.key])


def _demo(args: argparse.Namespace) -> int:
    config = sandbox_only(_sandbox_config(args))
    with start_sandbox(cascade_api=sandbox_api(config)) as sandbox:
        sandbox.export_env(config)
        urls = ", ".join(f"{name} {server.url}" for name, server in sandbox.servers.items())
        keys = [ws.key for ws in config.workspaces]
        new_world(config)
        print(f"Sandbox up ({urls}); syncing {len(config.workspaces)} workspaces:")
        outcomes = sync_workspaces(config, keys, mode=args.mode, dry_run=args.dry_run, progress=print)
        print_summary(config, outcomes)
        print("Again, with no change in the sources:")
        again = sync_workspaces(config, keys, mode=args.mode, dry_run=args.dry_run, progress=print)
        print_summary(config, again, cascade_only=True)
    return 0 if all(o["success"] for o in [*outcomes.values(), *again.values()]) else 1


def _sandbox(args: argparse.Namespace) -> int:
    config = _sandbox_config(args)
    with start_sandbox(cascade_api=sandbox_api(config)) as sandbox:
        for name, server in sandbox.servers.items():
            print(f"{name} emulator: {server.url}")
        print("Sandbox tokens for the configured workspaces (not secrets; sandbox only):")
        for env, value in sandbox.env_for(config).items():
            print(f"export {env}={value}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def _dev(args: argparse.Namespace) -> int:
    config = sandbox_only(_sandbox_config(args))
    os.environ[CONFIG_ENV] = str(sandbox_config_path(args).resolve())  # the Dagster processes load the same config
    os.environ[DUCKDB_ENV] = str(Path(config.duckdb_path).resolve())
    new_world(config)
    return run_dev(config, port=args.port)
