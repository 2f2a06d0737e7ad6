"""Run the benchmarks on the sandbox and print each figure beside its goal (JSON, then a table).

    python -m benchmarks                         # everything (about 6 minutes on 2 cores)
    python -m benchmarks --only economy,rate     # some of them
    python -m benchmarks --tasks 100000          # a smaller compute-at-scale run
    python -m benchmarks --json out.json         # also write the JSON document to a file
    python -m benchmarks --only live --changes 10  # live sync latency with 10 edits per source
    python -m benchmarks --only scale-out --partitions 24  # 1,000 workspaces; backfills of 24 partitions

Benchmarks: economy (request economy, and publish economy on Cascade's classic API, on the sandbox
company), linking (push economy on Cascade's Integrations API), rate (rate-limit saturation), scale
(staging, desired state and diff of 1,000,000 tasks already in raw, beside pandas), live (a change in
ClickUp or Wrike reaching Cascade through webhooks and the Dagster daemon; about 20 minutes with the
default 30 edits per source), scale-out (1,000 ClickUp workspaces: definitions load time, schedule and
sensor ticks, 200-partition backfills on PostgreSQL with per-workspace files and with the single file; over
two hours on 2 cores at the default, about 25 minutes with --partitions 24). Missed goals are
listed under "goals_missed" and marked MISSED in the table; the exit status is 1 only when a
benchmark could not run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import traceback
import warnings
from pathlib import Path

from benchmarks.report import Report

BENCHMARKS = ("economy", "linking", "rate", "scale", "live", "scale-out")


def _run(name: str, report: Report, args: argparse.Namespace) -> None:
    if name == "economy":
        from benchmarks import economy

        economy.run(report)
    elif name == "linking":
        from benchmarks import linking

        linking.run(report)
    elif name == "rate":
        from benchmarks import ratelimit

        ratelimit.run(report)
    elif name == "scale":
        from benchmarks import scale

        scale.run(report, tasks=args.tasks, with_pandas=not args.no_pandas)
    elif name == "live":
        from benchmarks import live

        live.run(report, changes=args.changes)
    elif name == "scale-out":
        from benchmarks import scale_out

        scale_out.run(report, partitions=args.partitions, daemon_ticks=args.daemon_ticks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS), help=f"comma-separated subset of {BENCHMARKS}")
    parser.add_argument("--tasks", type=int, default=1_000_000, help="tasks in raw for the scale benchmark")
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas reference of the scale benchmark")
    parser.add_argument(
        "--changes",
        type=int,
        default=None,
        help="single edits per source for the live benchmark (default: env CASCADE_SYNC_BENCH_LIVE_CHANGES or 30)",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        default=None,
        help="partitions per backfill of the scale-out benchmark (default: env "
        "CASCADE_SYNC_BENCH_SCALE_OUT_PARTITIONS or 200)",
    )
    parser.add_argument(
        "--daemon-ticks",
        type=float,
        default=None,
        help="at most this many seconds per daemon start for the scale-out benchmark's daemon ticks, 0 to skip "
        "(default: env CASCADE_SYNC_BENCH_SCALE_OUT_DAEMON_TICKS or 300)",
    )
    parser.add_argument("--json", help="also write the JSON document here")
    args = parser.parse_args(argv)
    chosen = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; choose from {BENCHMARKS}")

    warnings.filterwarnings("ignore")
    report = Report()
    for name in chosen:
        print(f"running {name}…", file=sys.stderr, flush=True)
        chatter = io.StringIO()  # the runs' Dagster event lines; shown only when a benchmark breaks
        try:
            with contextlib.redirect_stderr(chatter):
                _run(name, report, args)
        except Exception as err:  # one broken benchmark must not hide the others' figures
            report.skipped[name] = f"{type(err).__name__}: {err}"
            print(chatter.getvalue()[-5000:], file=sys.stderr)
            traceback.print_exc()
    document = report.dump()
    print(document)
    print()
    print(report.table())
    if args.json:
        Path(args.json).write_text(document)
    return 1 if report.skipped else 0


if __name__ == "__main__":
    sys.exit(main())
