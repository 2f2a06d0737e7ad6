"""`cascade-sync`: every command of the product, and the sandbox's when it is installed.

    cascade-sync sync [KEY ...] [--dry-run]    # sync these workspaces (one partition each; default all)
    cascade-sync check-config                  # validate the config file and print what it defines
    cascade-sync cascade discover              # the Cascade workspaces, plans, actions and measures the credential sees
    cascade-sync cascade authorize|exchange|status   # the Cascade OAuth 2.0 bootstrap (cascade.oauth)
    cascade-sync links suggest KEY             # a workspace's containers and items beside its plan, with suggested links
    cascade-sync links confirm KEY --item ID --cascade-id ID   # write the link into the item's Cascade ID field
    cascade-sync wrike authorize|exchange|status --workspace KEY   # the Wrike OAuth 2.0 bootstrap
    cascade-sync webhooks serve|register       # the webhook receiver; registering it with ClickUp and Wrike
    cascade-sync warehouse sql "SELECT …"      # one read-only query over every workspace's tables
    cascade-sync demo | sandbox | dev          # the sandbox's commands (package cascade-sync-sandbox)

The config file is --config, else $CASCADE_SYNC_CONFIG; there is no default.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points

from cascade_sync_pipeline.cli import cascade, sync, warehouse, webhooks, wrike
from cascade_sync_pipeline.config import ConfigError
from cascade_sync_pipeline.http import SourceApiError

PLUGIN_GROUP = "cascade_sync.commands"  # other distributions add commands here (the sandbox: demo, sandbox, dev)
SANDBOX_COMMANDS = ("demo", "sandbox", "dev")


def _sandbox_missing(args: argparse.Namespace) -> int:
    print(
        f"`cascade-sync {args.command}` comes with the sandbox, which is not installed here: "
        "pip install ./sandbox (or `make install` in the repository)",
        file=sys.stderr,
    )
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cascade-sync", description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", help="config file (default: $CASCADE_SYNC_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (sync, cascade, warehouse, wrike, webhooks):
        module.add_commands(sub)
    for plugin in entry_points(group=PLUGIN_GROUP):
        plugin.load()(sub)
    for name in SANDBOX_COMMANDS:
        if name not in sub.choices:
            sub.add_parser(name, help="(needs the sandbox package)").set_defaults(func=_sandbox_missing)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if check := getattr(args, "check", None):
        check(parser, args)
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"configuration error: {err}", file=sys.stderr)
        return 2
    except SourceApiError as err:
        print(str(err), file=sys.stderr)
        return 1
