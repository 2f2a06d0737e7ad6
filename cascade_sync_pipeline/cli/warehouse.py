"""`cascade-sync warehouse sql "SELECT …"`: one query over every workspace's tables, whatever the layout."""

from __future__ import annotations

import argparse

from cascade_sync_pipeline.config import load_config
from cascade_sync_pipeline.warehouse.catalog import open_catalog


def add_commands(sub: argparse._SubParsersAction) -> None:
    warehouse = sub.add_parser("warehouse", help="query the warehouse (every workspace, read-only)")
    actions = warehouse.add_subparsers(dest="action", required=True)
    sql = actions.add_parser("sql", help="run one read-only SQL statement and print the result")
    sql.add_argument("query", help='e.g. "SELECT workspace, count(*) FROM staging.work_items GROUP BY ALL"')
    sql.add_argument("--limit", type=int, default=200, help="rows to print at most (default 200)")
    sql.set_defaults(func=_sql)


def _sql(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    with open_catalog(config.warehouse_files()) as con:
        frame = con.sql(args.query).limit(args.limit).df()
    print(frame.to_markdown(index=False) if len(frame.columns) else "(no result)")
    return 0
