"""`cascade-sync`: the demo, the sandbox, and syncing chosen workspaces from a terminal.

    cascade-sync demo                 # sandbox + full sync of every configured workspace + summary
    cascade-sync demo --cascade classic   # the same onto the classic API's emulator (config/sandbox-classic.yaml)
    cascade-sync sandbox              # the emulators alone, until Ctrl-C
    cascade-sync dev                  # sandbox + webhook receiver + the Dagster UI with schedules and sensors
    cascade-sync sync KEY [KEY ...]   # re-sync exactly these workspaces (one partition each)
    cascade-sync check-config         # validate the config file and print what it defines
    cascade-sync cascade discover     # the Cascade workspaces, plans, actions and measures the credential sees
    cascade-sync cascade authorize|exchange|status   # the Cascade OAuth 2.0 bootstrap (cascade.oauth)
    cascade-sync links suggest KEY    # a workspace's containers and items beside its plan, with suggested links
    cascade-sync links confirm KEY --item ID --cascade-id ID   # write the link into the item's Cascade ID field
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from cascade_sync_pipeline.config import CONFIG_ENV, DUCKDB_ENV, ConfigError, SyncConfig, load_config
from cascade_sync_pipeline.definitions import build_definitions, sync_job_name
from cascade_sync_pipeline.http import SourceApiError
from cascade_sync_pipeline.orchestration.instance import local_instance
from cascade_sync_pipeline.sync import runs
from cascade_sync_pipeline.warehouse.store import Warehouse


def _root_cause(error) -> str:
    """The message a user can act on: Dagster wraps the client's error in its own."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


PID_TAG, HOST_TAG = "cascade-sync/pid", "cascade-sync/host"


def _terminal_tags() -> dict[str, str]:
    """Tags of a run started from this terminal, so a later one can tell whether its process still lives."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _died(run) -> bool:
    if run.tags.get(HOST_TAG) != socket.gethostname() or not run.tags.get(PID_TAG, "").isdigit():
        return False
    try:
        os.kill(int(run.tags[PID_TAG]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


STALE_AFTER_S = 1800


def _silent_for(instance, run_id: str) -> float:
    """Seconds since the run's last event."""
    records = instance.get_records_for_run(run_id, limit=1, ascending=False).records
    return time.time() - records[0].event_log_entry.timestamp if records else float("inf")


def running_elsewhere(instance, key: str) -> str | None:
    """Why a run of workspace ``key`` may not start now: one is already in progress (a schedule tick,
    a webhook run, another terminal). The run queue keeps daemon runs to one per workspace; runs
    started here do not go through the queue, so they look first. A run started from a terminal
    whose process is gone (killed) is marked failed instead of blocking the workspace for ever."""
    import dagster as dg
    from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

    records = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": key},
                                                     statuses=list(IN_PROGRESS_RUN_STATUSES)))
    for record in records:
        run = record.dagster_run
        if _died(run):
            instance.report_run_failed(run, f"its process {run.tags[PID_TAG]} ended without finishing the run")
            continue
        if PID_TAG not in run.tags and _silent_for(instance, run.run_id) > STALE_AFTER_S:
            continue  # left behind by a process that died before runs carried their pid; Dagster's run monitoring owns it
        return (f"workspace '{key}': run {run.run_id} ({run.job_name}, {run.status.value}) is already syncing it; "
                "wait for it to end (the Dagster UI shows it) or cancel it there, then run this again")
    return None


def sync_workspaces(config: SyncConfig, keys: list[str], *, mode: str = "auto",
                    dry_run: bool = False) -> dict[str, dict]:
    """Materialize each workspace's partition of its source's job; one failure does not stop the rest."""
    defs = build_definitions(config)
    instance = local_instance()
    outcomes = {}
    for key in keys:
        ws = config.workspace(key)
        job = defs.resolve_job_def(sync_job_name(ws.source))
        run_config = {"ops": {f"{ws.source}_raw_extract": {"config": {"mode": mode}}}}
        if config.cascade is not None:
            run_config["ops"][f"{ws.source}__cascade_publish"] = {"config": {"dry_run": dry_run}}
        busy = running_elsewhere(instance, key)
        if busy:
            outcomes[key] = {"success": False, "run_id": None, "requests": 0, "seconds": 0.0, "error": busy}
            continue
        started = time.monotonic()
        result = job.execute_in_process(partition_key=key, instance=instance, run_config=run_config,
                                        raise_on_error=False, tags=_terminal_tags())
        requests = 0
        for event in result.get_asset_materialization_events():
            meta = event.materialization.metadata
            if event.asset_key.path[-1] == "raw_tasks" and "requests" in meta:
                requests = meta["requests"].value
        error = None
        if not result.success:
            failures = [e for e in result.all_events if e.is_step_failure]
            error = _root_cause(failures[0].step_failure_data.error) if failures else "run failed"
        outcomes[key] = {"success": result.success, "run_id": result.run_id, "requests": requests,
                         "seconds": round(time.monotonic() - started, 1), "error": error}
    return outcomes


def print_summary(config: SyncConfig, outcomes: dict[str, dict], *, cascade_only: bool = False) -> None:
    with Warehouse(config.duckdb_path).connect() as con:
        for key, outcome in outcomes.items():
            ws = config.workspace(key)
            if not outcome["success"]:
                print(f"✗ {key} ({ws.source}) failed: {outcome['error']}")
                if blocked := runs.blocked_reason(con, key, outcome["run_id"]):
                    print(f"    {blocked}")
                continue
            linking = config.cascade is not None and config.cascade.api == "integrations"
            cascade = runs.summary_line(con, key, outcome["run_id"], ws.source, linking=linking)
            if cascade_only:
                print(f"✓ {key} ({ws.source}): {cascade}")
                continue
            if linking:
                cascade += "\n    " + _links_line(con, key)
            counts = dict(con.execute(
                "SELECT item_type, count(*) FROM staging.work_items WHERE workspace = ? GROUP BY 1 ORDER BY 1",
                [key]).fetchall())
            categories = dict(con.execute(
                "SELECT status_category, count(*) FROM staging.work_items WHERE workspace = ? GROUP BY 1 ORDER BY 1",
                [key]).fetchall())
            others = {t: con.execute(f"SELECT count(*) FROM staging.{t} WHERE workspace = ?", [key]).fetchall()[0][0]
                      for t in ("custom_field_values", "containers", "users")}
            total = sum(counts.values())
            print(f"✓ {key} ({ws.source}): {total} work items {counts} in {outcome['seconds']}s, "
                  f"{outcome['requests']} API requests")
            print(f"    status categories {categories}; {others['custom_field_values']} custom field values, "
                  f"{others['containers']} containers, {others['users']} users")
            print(f"    {cascade}")
    print(f"Warehouse: {config.duckdb_path} (schemas raw, staging, sync)")


def _links_line(con, key: str) -> str:
    """How the workspace's links were made, and the first problem found with them."""
    by = dict(con.execute("SELECT linked_by, count(DISTINCT cascade_id) FROM sync.desired_values WHERE workspace = ? "
                          "GROUP BY 1", [key]).fetchall())
    problems = con.execute("SELECT count(*), min(message) FROM sync.link_problems WHERE workspace = ?",
                           [key]).fetchall()[0]
    line = (f"links: {by.get('field', 0)} by the Cascade ID field, "
            f"{by.get('config_item', 0) + by.get('config_container', 0)} from the config")
    if problems[0]:
        line += f"; {problems[0]} skipped (sync.link_problems), e.g. {problems[1]}"
    return line


SANDBOX_CONFIGS = {"integrations": "config/sandbox.yaml", "classic": "config/sandbox-classic.yaml"}


def sandbox_api(config: SyncConfig) -> str:
    """The Cascade emulator a sandbox run starts: the one of the API the config speaks."""
    return config.cascade.api if config.cascade is not None else "integrations"


def _sandbox_config(args: argparse.Namespace) -> SyncConfig:
    """The config of a sandbox command: --config, else the sandbox config of --cascade, else the default."""
    wanted = getattr(args, "cascade", None)
    config = load_config(args.config or (SANDBOX_CONFIGS[wanted] if wanted else None))
    if wanted and sandbox_api(config) != wanted:
        raise ConfigError(f"--cascade {wanted}: the config speaks cascade.api: {sandbox_api(config)}; leave out "
                          f"--config to use {SANDBOX_CONFIGS[wanted]}, or drop --cascade")
    return config


def sandbox_only(config: SyncConfig) -> SyncConfig:
    """The config the demo may run: every endpoint a sandbox port on loopback (it deletes the sync
    state of the workspaces it runs), and its own warehouse whatever CASCADE_SYNC_DUCKDB says."""
    from cascade_sync_pipeline.sandbox.company import PORTS

    endpoints = [(f"workspaces.{i}(key={ws.key}).base_url", ws.base_url, PORTS[ws.source])
                 for i, ws in enumerate(config.workspaces)]
    if config.cascade is not None:
        endpoints.append(("cascade.base_url", config.cascade.base_url, PORTS["cascade"]))
    wrong = [f"{where} {url}" for where, url, port in endpoints
             if urlparse(url).hostname not in ("127.0.0.1", "localhost") or urlparse(url).port != port]
    if wrong:
        raise ConfigError("cascade-sync demo runs only against the sandbox on this machine (it forgets the sync state "
                          f"of every workspace it runs), and these point elsewhere: {'; '.join(wrong)}. Use "
                          "config/sandbox.yaml, or `cascade-sync sync` for a real sync")
    if os.environ.pop(DUCKDB_ENV, None):
        print(f"{DUCKDB_ENV} is ignored by the demo: it uses its own warehouse {config.warehouse.path}")
    return config


def _demo(args: argparse.Namespace) -> int:
    from cascade_sync_pipeline.sandbox.company import start_sandbox

    config = sandbox_only(_sandbox_config(args))
    with start_sandbox(cascade_api=sandbox_api(config)) as sandbox:
        sandbox.export_env(config)
        urls = ", ".join(f"{name} {server.url}" for name, server in sandbox.servers.items())
        keys = [ws.key for ws in config.workspaces]
        with Warehouse(config.duckdb_path).connect() as con:
            runs.forget(con, keys)  # a new sandbox is a new Cascade: old IDs would point nowhere
        print(f"Sandbox up ({urls}); syncing {len(config.workspaces)} workspaces…")
        outcomes = sync_workspaces(config, keys, mode=args.mode, dry_run=args.dry_run)
        print_summary(config, outcomes)
        print("Again, with no change in the sources:")
        again = sync_workspaces(config, keys, mode=args.mode, dry_run=args.dry_run)
        print_summary(config, again, cascade_only=True)
    return 0 if all(o["success"] for o in [*outcomes.values(), *again.values()]) else 1


def _sandbox(args: argparse.Namespace) -> int:
    from cascade_sync_pipeline.sandbox.company import start_sandbox

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
    from cascade_sync_pipeline.sandbox.live import run_dev

    config = _sandbox_config(args)
    chosen = args.config or (SANDBOX_CONFIGS[args.cascade] if args.cascade else None)
    if chosen:  # the Dagster processes load the code location from the same config
        os.environ[CONFIG_ENV] = str(Path(chosen).resolve())
    return run_dev(config, port=args.port)


def _sync(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    keys = args.keys or [ws.key for ws in config.workspaces]
    for key in keys:
        config.workspace(key)
    outcomes = sync_workspaces(config, keys, mode=args.mode, dry_run=args.dry_run)
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
        print(f"cascade: {config.cascade.api} API at {config.cascade.base_url} ({auth})"
              + (f", workspace {config.cascade.workspace_id}" if config.cascade.workspace_id else "")
              + (f", {len(config.cascade.users)} users" if config.cascade.api == "classic" else ""))
    print(f"warehouse: {config.duckdb_path}")
    return 0


def _integrations(config: SyncConfig):
    from cascade_sync_pipeline.cascade.integrations import IntegrationsClient

    if config.cascade is None or config.cascade.api != "integrations":
        raise ConfigError("this command needs cascade.api: integrations in the config")
    return IntegrationsClient.from_connection(config.cascade)


def _cascade(args: argparse.Namespace) -> int:
    from cascade_sync_pipeline.cascade.integrations import oauth_provider
    from cascade_sync_pipeline.oauth import run_bootstrap
    from cascade_sync_pipeline.sync.linking.discovery import catalog

    config = load_config(args.config)
    if args.action == "discover":
        with _integrations(config) as client:
            found = catalog(client, None if args.all else config.cascade.workspace_id)
        print(found.to_markdown(index=False) if len(found) else "the credential sees no Cascade workspace")
        return 0
    settings = config.cascade.oauth if config.cascade else None
    if settings is None:
        raise ConfigError("cascade.oauth: add client_id_env, client_secret_env and token_store to bootstrap OAuth")
    env = {name: os.environ.get(name) for name in (settings.client_id_env, settings.client_secret_env)}
    return run_bootstrap(args.action, oauth_provider(settings.authorize_url, settings.token_url),
                         client_id=env[settings.client_id_env], client_secret=env[settings.client_secret_env],
                         token_store=settings.token_store, redirect_uri=args.redirect_uri, code=args.code,
                         state=args.state, workspace="cascade")


def _links(args: argparse.Namespace) -> int:
    from cascade_sync_pipeline.resources import ClickUpResource, WrikeResource
    from cascade_sync_pipeline.sync.linking import discovery, links
    from cascade_sync_pipeline.sync.writeback import ID_FIELDS

    config = load_config(args.config)
    ws = config.workspace(args.key)
    with _integrations(config) as client:
        plan = links.load_plan(client, config.cascade.workspace_id, ws)
    with Warehouse(config.duckdb_path).connect() as con:
        if args.action == "suggest":
            found = discovery.suggestions(con, plan, ws)
            print(f"plan '{plan.name}' ({plan.id}): {len(plan.items)} actions and measures; "
                  f"{len(found)} suggested links for workspace '{ws.key}'")
            print(found.to_markdown(index=False) if len(found) else "no source container or item matches by name")
            return 0
        if args.container:
            entry = discovery.config_entry(con, plan, ws, args.container, args.cascade_id)
            print(f"Add to mapping.links of workspace '{ws.key}':")
            print("  " + entry)
            return 0
        resource = ClickUpResource() if ws.source == "clickup" else WrikeResource()
        with resource.client(ws) as source_client:
            print(discovery.confirm_item(con, plan, ws, ID_FIELDS[ws.source](source_client, ws), args.item,
                                         args.cascade_id))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cascade-sync", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="config file (default: $CASCADE_SYNC_CONFIG or config/sandbox.yaml)")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="start the sandbox and sync every configured workspace")
    demo.add_argument("--mode", choices=["auto", "full", "incremental"], default="auto")
    demo.add_argument("--dry-run", action="store_true", help="stop at the diff: write nothing to Cascade")
    demo.set_defaults(func=_demo)
    sandbox = sub.add_parser("sandbox", help="serve the emulators until Ctrl-C")
    sandbox.set_defaults(func=_sandbox)
    dev = sub.add_parser("dev", help="the sandbox, the webhook receiver and the Dagster UI, live")
    dev.add_argument("--port", type=int, default=3000)
    for command in (demo, sandbox, dev):
        command.add_argument("--cascade", choices=sorted(SANDBOX_CONFIGS),
                             help=f"the Cascade API of the sandbox (its config: {', '.join(SANDBOX_CONFIGS.values())}); "
                                  "default: the one the config names")
    dev.set_defaults(func=_dev)
    sync = sub.add_parser("sync", help="sync the given workspace keys (default: all)")
    sync.add_argument("keys", nargs="*")
    sync.add_argument("--mode", choices=["auto", "full", "incremental"], default="auto")
    sync.add_argument("--dry-run", action="store_true", help="stop at the diff: write nothing to Cascade")
    sync.set_defaults(func=_sync)
    sub.add_parser("check-config", help="validate the config file").set_defaults(func=_check_config)
    cascade = sub.add_parser("cascade", help="Cascade: discover what the credential sees; the OAuth bootstrap")
    cascade.add_argument("action", choices=["discover", "authorize", "exchange", "status"])
    cascade.add_argument("--all", action="store_true", help="discover: every workspace, not only cascade.workspace_id")
    cascade.add_argument("--redirect-uri", dest="redirect_uri")
    cascade.add_argument("--code", help="exchange: the code from the redirect")
    cascade.add_argument("--state")
    cascade.set_defaults(func=_cascade)
    link = sub.add_parser("links", help="suggest links for a workspace, or confirm one")
    link.add_argument("action", choices=["suggest", "confirm"])
    link.add_argument("key", help="workspace key")
    target = link.add_mutually_exclusive_group()
    target.add_argument("--item", help="confirm: the source item to link (its Cascade ID field is written)")
    target.add_argument("--container", help="confirm: a container (id or name): prints the config entry to add")
    link.add_argument("--cascade-id", dest="cascade_id", help="confirm: the action or measure id")
    link.set_defaults(func=_links)
    args = parser.parse_args(argv)
    if args.command == "links" and args.action == "confirm" and not (args.cascade_id and (args.item or args.container)):
        parser.error("links confirm needs --cascade-id and one of --item or --container")
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"configuration error: {err}", file=sys.stderr)
        return 2
    except SourceApiError as err:
        print(str(err), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
