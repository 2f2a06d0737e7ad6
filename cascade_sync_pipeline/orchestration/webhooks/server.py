"""The receiver's production HTTP server: waitress, with timeouts and caps fit for the public internet.

Why waitress (pinned in pyproject.toml): it is a pure-Python WSGI server whose single I/O thread
buffers every request *completely* (headers and body) before a worker thread sees it, so a slow or
idle client costs one socket, never a thread; it caps connections (``connection_limit``), worker
threads, header and body sizes (answering 431/413 itself, chunked bodies included), and closes idle
connections (``channel_timeout``). It runs in-process, so ``cascade-sync dev`` and the tests serve the
same server as production. (gunicorn's workers read requests themselves, so slow clients hold them
unless a buffering proxy sits in front; uvicorn is for ASGI apps and the receiver is WSGI.)

What waitress lacks, :class:`ReceiverServer` adds: a deadline for a whole request (a client that
trickles a byte every few seconds never looks idle; a request still incomplete ``request_timeout``
seconds after its first byte has its connection closed), and a 413 as soon as a declared
Content-Length is over the exact body limit (waitress's own cap must be looser, see below).

TLS is not terminated here: put a reverse proxy (nginx, Caddy, a cloud load balancer) in front and
listen on loopback or a private interface; see the README.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.utilities import Error, RequestEntityTooLarge

from cascade_sync_pipeline.orchestration.webhooks import receiver as _receiver

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerLimits:
    """Timeouts and caps of the receiver's HTTP server (seconds, counts, bytes)."""

    threads: int = 8  # worker threads: requests handled at once (each writes one SQLite row)
    connection_limit: int = 1000  # open connections; beyond it new ones wait in the listen backlog
    backlog: int = 1024
    request_timeout: float = 10.0  # from a request's first byte to its last (ClickUp gives up after 7 s)
    idle_timeout: float = 30.0  # an open connection with nothing in progress
    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = _receiver.MAX_BODY_BYTES  # 413 past it (declared: at once; chunked: by the app)
    cleanup_interval: float = 1.0  # how often timeouts are enforced

    def waitress_settings(self) -> dict:
        return dict(
            threads=self.threads,
            connection_limit=self.connection_limit,
            backlog=self.backlog,
            channel_timeout=self.idle_timeout,
            cleanup_interval=self.cleanup_interval,
            max_request_header_size=self.max_header_bytes,
            # Waitress counts a chunked body's framing too; the app enforces the exact limit (read_body).
            max_request_body_size=2 * self.max_body_bytes + 65536,
            asyncore_use_poll=True,  # select() stops at 1,024 descriptors
            asyncore_loop_timeout=min(1.0, self.cleanup_interval),
            expose_tracebacks=False,
            ident="cascade-sync-receiver",
            clear_untrusted_proxy_headers=True,
        )


class _LimitedParser(HTTPRequestParser):
    """Refuses a declared Content-Length over the receiver's exact body limit as soon as the headers are
    in (413 without waiting for the body). Waitress's own cap is looser, because it counts a chunked
    body's framing too; chunked bodies are held to the exact limit by the app (``read_body``)."""

    error: Error | None  # the parser's, declared because waitress ships no type hints

    def received(self, data: bytes) -> int:
        consumed = super().received(data)
        limit = getattr(self.adj, "exact_body_limit", None)
        if (
            limit is not None
            and self.headers_finished
            and not self.chunked
            and self.error is None
            and self.content_length > limit
        ):
            self.error = RequestEntityTooLarge(f"exceeds the receiver's limit of {limit} bytes")
            self.completed = True
        return consumed


class _DeadlineChannel(HTTPChannel):
    """A waitress channel that remembers when its incomplete request started."""

    parser_class = _LimitedParser
    partial_since: float | None = None

    def received(self, data: bytes) -> bool:
        started = self.partial_since or time.monotonic()
        result = super().received(data)
        self.partial_since = None if self.request is None else started
        return result


class ReceiverServer(TcpWSGIServer):
    """Waitress serving ``app`` on ``host:port`` (port 0: a free one) with :class:`ServerLimits`.

    ``run()`` serves in the calling thread until :meth:`stop`; ``start()`` serves in a daemon thread.
    """

    channel_class = _DeadlineChannel

    def __init__(
        self, app: Callable, host: str = "127.0.0.1", port: int = 0, limits: ServerLimits | None = None
    ) -> None:
        self.limits = limits or ServerLimits()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        super().__init__(app, host=host, port=port, map={}, **self.limits.waitress_settings())
        self.adj.exact_body_limit = self.limits.max_body_bytes
        self.host, self.port = self.effective_host, int(self.effective_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # idle connections
        cutoff = time.monotonic() - self.limits.request_timeout
        for channel in list(self.active_channels.values()):
            since = getattr(channel, "partial_since", None)
            if since is not None and since < cutoff and not channel.requests:
                channel.will_close = True

    def open_connections(self) -> int:
        return len(self.active_channels)

    def run(self) -> None:
        from waitress import wasyncore

        try:
            while not self._stopping.is_set():
                wasyncore.loop(
                    timeout=self.adj.asyncore_loop_timeout, map=self._map, use_poll=self.adj.asyncore_use_poll, count=1
                )
        finally:
            for channel in list(self._map.values()):
                try:
                    channel.close()
                except OSError:
                    pass
            self.task_dispatcher.shutdown(timeout=5)

    def start(self) -> ReceiverServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, daemon=True, name=f"receiver-{self.port}")
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        try:
            self.pull_trigger()
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> ReceiverServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
