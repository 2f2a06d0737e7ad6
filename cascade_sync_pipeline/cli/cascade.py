"""`cascade-sync cascade discover|authorize|exchange|status` and `cascade-sync links suggest|confirm`:
what the Cascade credential sees, its OAuth bootstrap, and linking source work to Cascade items."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from cascade_sync_pipeline.config import ClickUpWorkspace, ConfigError, SyncConfig, load_config
from cascade_sync_pipeline.warehouse.store import Warehouse

if TYPE_CHECKING:
    from cascade_sync_pipeline.cascade.integrations import IntegrationsClient


def add_commands(sub: argparse._SubParsersAction) -> None:
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
    link.set_defaults(func=_links, check=_check_links)


def _check_links(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.action == "confirm" and not (args.cascade_id and (args.item or args.container)):
        parser.error("links confirm needs --cascade-id and one of --item or --container")


def _integrations(config: SyncConfig) -> tuple[IntegrationsClient, str]:
    """A client of the Integrations API and the configured Cascade workspace id."""
    from cascade_sync_pipeline.cascade.integrations import IntegrationsClient

    connection = config.cascade
    # Validation gives an integrations connection a workspace_id; testing it here makes it a str.
    if connection is None or connection.api != "integrations" or connection.workspace_id is None:
        raise ConfigError("this command needs cascade.api: integrations in the config")
    return IntegrationsClient.from_connection(connection), connection.workspace_id


def _cascade(args: argparse.Namespace) -> int:
    from cascade_sync_pipeline.cascade.integrations import oauth_provider
    from cascade_sync_pipeline.oauth import run_bootstrap
    from cascade_sync_pipeline.sync.linking.discovery import catalog

    config = load_config(args.config)
    if args.action == "discover":
        client, workspace_id = _integrations(config)
        with client:
            found = catalog(client, None if args.all else workspace_id)
        print(found.to_markdown(index=False) if len(found) else "the credential sees no Cascade workspace")
        return 0
    settings = config.cascade.oauth if config.cascade else None
    if settings is None:
        raise ConfigError("cascade.oauth: add client_id_env, client_secret_env and token_store to bootstrap OAuth")
    env = {name: os.environ.get(name) for name in (settings.client_id_env, settings.client_secret_env)}
    return run_bootstrap(
        args.action,
        oauth_provider(settings.authorize_url, settings.token_url),
        client_id=env[settings.client_id_env],
        client_secret=env[settings.client_secret_env],
        token_store=settings.token_store,
        redirect_uri=args.redirect_uri,
        code=args.code,
        state=args.state,
        workspace="cascade",
    )


def _links(args: argparse.Namespace) -> int:
    from cascade_sync_pipeline.resources import ClickUpResource, WrikeResource
    from cascade_sync_pipeline.sync.linking import discovery, links
    from cascade_sync_pipeline.sync.writeback import ID_FIELDS

    config = load_config(args.config)
    ws = config.workspace(args.key)
    client, workspace_id = _integrations(config)
    with client:
        plan = links.load_plan(client, workspace_id, ws)
    with Warehouse(config.warehouse_path(ws.key)).connect() as con:
        if args.action == "suggest":
            found = discovery.suggestions(con, plan, ws)
            print(
                f"plan '{plan.name}' ({plan.id}): {len(plan.items)} actions and measures; "
                f"{len(found)} suggested links for workspace '{ws.key}'"
            )
            print(found.to_markdown(index=False) if len(found) else "no source container or item matches by name")
            return 0
        if args.container:
            entry = discovery.config_entry(con, plan, ws, args.container, args.cascade_id)
            print(f"Add to mapping.links of workspace '{ws.key}':")
            print("  " + entry)
            return 0
        source = ClickUpResource().client(ws) if isinstance(ws, ClickUpWorkspace) else WrikeResource().client(ws)
        with source as source_client:
            print(
                discovery.confirm_item(
                    con, plan, ws, ID_FIELDS[ws.source](source_client, ws), args.item, args.cascade_id
                )
            )
    return 0
