"""`cascade-sync webhooks serve|run|register`: the webhook receiver, the live runner, and registering the
receiver with the sources.

cascade-sync webhooks serve --port 8710
cascade-sync webhooks run
cascade-sync webhooks register --public-url https://sync.example.com [KEY ...]
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from datetime import UTC, datetime, timedelta

from cascade_sync_pipeline.config import ConfigError, load_config
from cascade_sync_pipeline.http import SourceApiError
from cascade_sync_pipeline.orchestration.webhooks.inbox import open_inbox
from cascade_sync_pipeline.orchestration.webhooks.register import (
    endpoint_for,
    open_clickup,
    open_wrike,
    register_clickup,
    register_wrike,
    report,
    unready,
)

logger = logging.getLogger("cascade_sync_pipeline.orchestration.webhooks")
_REGISTRARS = {"clickup": (register_clickup, open_clickup), "wrike": (register_wrike, open_wrike)}


def add_commands(sub: argparse._SubParsersAction) -> None:
    webhooks = sub.add_parser("webhooks", help="serve the webhook receiver, or register it with ClickUp and Wrike")
    actions = webhooks.add_subparsers(dest="action", required=True)
    serve = actions.add_parser("serve", help="run the webhook receiver until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8710)
    serve.add_argument(
        "--inbox", help="SQLite inbox file (default: $CASCADE_SYNC_WEBHOOK_INBOX or data/webhook_inbox.sqlite)"
    )
    serve.add_argument(
        "--keep-days",
        type=float,
        default=30,
        help="keep inbox events this long (pruned at start and hourly): the replay window (default 30)",
    )
    serve.add_argument(
        "--max-age-hours",
        type=float,
        default=24,
        help="refuse deliveries whose newest event is older than this; 0: no limit (default 24)",
    )
    serve.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    serve.add_argument(
        "--connection-limit",
        type=int,
        default=1000,
        help="open connections at most; more wait in the listen backlog (default 1000)",
    )
    serve.add_argument(
        "--request-timeout", type=float, default=10, help="seconds from a request's first byte to its last (default 10)"
    )
    serve.add_argument(
        "--idle-timeout", type=float, default=30, help="seconds an idle keep-alive connection stays open (default 30)"
    )
    serve.add_argument(
        "--max-body-bytes", type=int, default=5 * 1024 * 1024, help="larger bodies get 413 (default 5 MiB)"
    )
    serve.set_defaults(func=_serve)
    run = actions.add_parser(
        "run", help="run the webhook syncs in this process as the events arrive (the live runner), until Ctrl-C"
    )
    run.add_argument("--inbox", help="the inbox the receiver writes (default: $CASCADE_SYNC_WEBHOOK_INBOX)")
    run.add_argument(
        "--debounce", type=float, default=0.3, help="seconds a workspace's events must be quiet (default 0.3)"
    )
    run.add_argument(
        "--max-wait", type=float, default=3, help="run anyway once the oldest event waited this long (default 3)"
    )
    run.add_argument("--poll", type=float, default=0.1, help="seconds between reads of the inbox (default 0.1)")
    run.set_defaults(func=_run)
    register = actions.add_parser("register", help="create or re-activate the sources' webhooks")
    register.add_argument("--public-url", required=True, help="the receiver's public base URL")
    register.add_argument("keys", nargs="*", help="workspace keys (default: all)")
    register.set_defaults(func=_register)


def _serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    _stop_on_sigterm()
    from cascade_sync_pipeline.orchestration.webhooks.receiver import create_receiver_app
    from cascade_sync_pipeline.orchestration.webhooks.server import ReceiverServer, ServerLimits

    config = load_config(args.config)
    inbox = open_inbox(args.inbox).create()
    keep = timedelta(days=args.keep_days)
    max_age = timedelta(hours=args.max_age_hours) if args.max_age_hours > 0 else None
    pruned = inbox.prune(datetime.now(UTC) - max(keep, max_age or keep))
    limits = ServerLimits(
        threads=args.threads,
        connection_limit=args.connection_limit,
        request_timeout=args.request_timeout,
        idle_timeout=args.idle_timeout,
        max_body_bytes=args.max_body_bytes,
    )
    app = create_receiver_app(config, inbox, max_body_bytes=args.max_body_bytes, max_event_age=max_age, keep=keep)
    server = ReceiverServer(app, host=args.host, port=args.port, limits=limits)
    logger.info(
        "receiving webhooks on http://%s:%d/webhooks/<source>/<key>; inbox %s (%d old events pruned); "
        "%d threads, at most %d connections, %gs per request, %gs idle, bodies up to %d bytes",
        args.host,
        server.port,
        inbox.path,
        pruned,
        limits.threads,
        limits.connection_limit,
        limits.request_timeout,
        limits.idle_timeout,
        limits.max_body_bytes,
    )
    try:
        server.run()  # closes every connection and the listening socket when it ends
    except KeyboardInterrupt:
        pass
    return 0


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "alembic"):  # a request per task, and the instance's storage set-up
        logging.getLogger(noisy).setLevel(logging.WARNING)
    import threading

    from cascade_sync_pipeline.orchestration.instance import local_instance
    from cascade_sync_pipeline.orchestration.webhooks.runner import LiveRunner

    runner = LiveRunner(
        load_config(args.config),
        local_instance(),
        open_inbox(args.inbox),
        debounce=timedelta(seconds=args.debounce),
        max_wait=timedelta(seconds=args.max_wait),
        log=logger.info,
    )
    logger.info(
        "running the webhook syncs of %s from %s; quiet for %gs, at most %gs",
        ", ".join(runner.jobs) or "no source",
        runner.inbox.path,
        args.debounce,
        args.max_wait,
    )
    stop = threading.Event()

    def finish_first(signum, frame):  # a run in flight ends before the runner does, so its claim holds
        if stop.is_set():
            raise KeyboardInterrupt
        logger.info("stopping after the run in flight (again to stop at once)")
        stop.set()

    signal.signal(signal.SIGTERM, finish_first)
    signal.signal(signal.SIGINT, finish_first)
    while not stop.is_set():
        if not runner.tick():
            stop.wait(args.poll)
    return 0


def _stop_on_sigterm() -> None:
    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _register(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    keys = args.keys or [ws.key for ws in config.workspaces]
    failed = False
    for key in keys:
        ws = config.workspace(key)
        register, connect = _REGISTRARS[ws.source]
        try:
            registration = unready(ws, args.public_url)
            if registration is None:
                with connect(ws) as client:
                    registration = register(client, ws, args.public_url)
        except (SourceApiError, ConfigError) as err:
            print(f"{key} ({ws.source}): registration failed: {err}", file=sys.stderr)
            if "verification" in str(err):
                print(
                    f"  Wrike's handshake did not succeed: the receiver must be running, reachable at "
                    f"{endpoint_for(args.public_url, ws.source, key)} and hold the same secret in "
                    f"${ws.webhook_secret_env}.",
                    file=sys.stderr,
                )
            failed = True
            continue
        report(registration, ws.webhook_secret_env)
    return 1 if failed else 0
