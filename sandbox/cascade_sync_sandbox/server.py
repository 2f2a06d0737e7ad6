"""What every sandbox emulator shares: a real HTTP server on loopback, a request log,
per-token rate limits and fault injection.

An emulator is a Flask app built with :func:`make_app`; :class:`EmulatorServer` serves it on
127.0.0.1 in a background thread (port 0 picks a free port). Faults and counters can be driven
in-process (``server.faults``, ``server.log``) or over HTTP at ``/_sandbox/...`` so that a
separate process (the demo, a soak script) can steer a running sandbox.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # the RequestLog keeps what matters
        pass

    def log_error(self, *args, **kwargs) -> None:
        pass


@dataclass
class Fault:
    """One injected failure, matched against ``METHOD path``.

    kind: ``status`` (answer ``status`` with ``body``), ``delay`` (sleep ``seconds`` then answer
    normally), ``reset`` (close the connection without an answer), ``truncate`` (cut the real
    body in half, so it no longer parses), ``html`` (a 502 HTML page, as proxies send), ``edit``
    (the real answer with values changed: ``edits`` maps a path such as ``tasks.0.date_updated`` or
    ``tasks.*.id`` to its new value, ``drop`` lists paths to remove: a bad payload served by an
    otherwise healthy API). ``headers``, with any kind, sets response headers (a 429 whose reset
    header is not a number).
    """

    kind: str
    path: str = ".*"
    method: str = ".*"
    times: int = 1
    status: int = 500
    body: str | None = None
    seconds: float = 0.0
    after: int = 0  # let this many matching requests through first
    edits: dict[str, Any] | None = None
    drop: list[str] | None = None
    headers: dict[str, str] | None = None

    def matches(self, method: str, path: str) -> bool:
        return bool(re.fullmatch(self.method, method) and re.search(self.path, path))


class FaultPlan:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault | None = None, **kwargs) -> Fault:
        fault = fault or Fault(**kwargs)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.matches(method, path):
                    if fault.after > 0:
                        fault.after -= 1
                        return None
                    fault.times -= 1
                    return fault
        return None


@dataclass
class RequestLog:
    """Every request the emulator answered: method, path, status, token fingerprint."""

    entries: list[tuple[str, str, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.entries.append((method, path, status))

    def count(self, method: str | None = None, path: str | None = None, status: int | None = None) -> int:
        with self._lock:
            return sum(
                1
                for m, p, s in self.entries
                if (method is None or m == method)
                and (path is None or re.search(path, p))
                and (status is None or s == status)
            )

    def by_status(self) -> dict[int, int]:
        with self._lock:
            return dict(Counter(s for _, _, s in self.entries))

    def clear(self) -> None:
        with self._lock:
            self.entries.clear()


class RateLimiter:
    """Fixed window per token: ``limit`` requests per ``window`` seconds."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._state: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, token: str) -> tuple[bool, int, float]:
        """Count one request; return (allowed, remaining, reset_epoch_seconds)."""
        now = time.time()
        with self._lock:
            start, used = self._state.get(token, (now, 0))
            if now - start >= self.window:
                start, used = now, 0
            allowed = used < self.limit
            if allowed:
                used += 1
            self._state[token] = (start, used)
            return allowed, max(self.limit - used, 0), start + self.window

    def reset(self) -> None:
        with self._lock:
            self._state.clear()


class _Reset(Exception):
    """Raised to drop the connection without an answer."""


def _index(part: str, sequence: list) -> int | None:
    if part.lstrip("-").isdigit() and -len(sequence) <= int(part) < len(sequence):
        return int(part) % len(sequence)
    return None


def _walk(document: Any, path: str) -> list[tuple[Any, Any]]:
    """(container, key) pairs a dotted path names in a JSON document; ``*`` stands for every element."""
    *parents, last = path.split(".")
    found = [document]
    for part in parents:
        step = []
        for node in found:
            if isinstance(node, list):
                step += node if part == "*" else [node[i] for i in [_index(part, node)] if i is not None]
            elif isinstance(node, dict) and part in node:
                step.append(node[part])
        found = step
    pairs: list[tuple[Any, Any]] = []
    for node in found:
        if isinstance(node, list):
            keys = range(len(node)) if last == "*" else [i for i in [_index(last, node)] if i is not None]
            pairs += [(node, k) for k in keys]
        elif isinstance(node, dict):
            pairs.append((node, last))
    return pairs


def _edit_response(response: Response, fault: Fault) -> None:
    import json

    try:
        document = json.loads(response.get_data())
    except ValueError:
        document = None
    if document is not None:
        for path, value in (fault.edits or {}).items():
            for node, key in _walk(document, path):
                node[key] = value
        for path in fault.drop or []:
            for node, key in sorted(_walk(document, path), key=lambda p: -p[1] if isinstance(p[1], int) else 0):
                if isinstance(node, dict):
                    node.pop(key, None)
                else:
                    del node[key]
        response.set_data(json.dumps(document))


def drop_answer(log: RequestLog) -> None:
    """Close the request's connection so no answer reaches the client, logged once as status 0
    (whatever the request did stays done: a write may have been applied)."""
    log.record(request.method, request.path, 0)
    g.reset = True  # the shared after-request logger must not record it a second time
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def make_app(name: str, log: RequestLog, faults: FaultPlan) -> Flask:
    """A Flask app with the sandbox's fault injection, request log and admin endpoints."""
    app = Flask(name)
    app.json.sort_keys = False  # keep payload key order as the real APIs send it

    @app.before_request
    def _inject_fault():
        if request.path.startswith("/_sandbox/"):
            return None
        fault = faults.take(request.method, request.path)
        g.fault = fault
        if fault is None:
            return None
        if fault.kind == "delay":
            time.sleep(fault.seconds)
            return None
        if fault.kind == "reset":
            raise _Reset()
        if fault.kind == "status":
            return Response(
                fault.body or '{"error":"injected fault"}', status=fault.status, mimetype="application/json"
            )
        if fault.kind == "html":
            return Response("<html><body><h1>502 Bad Gateway</h1></body></html>", status=502, mimetype="text/html")
        return None

    @app.after_request
    def _finish(response: Response):
        fault = getattr(g, "fault", None)
        if fault is not None and fault.kind == "truncate":
            data = response.get_data()
            response.set_data(data[: max(len(data) // 2, 1)])
        if fault is not None and fault.kind == "edit":
            _edit_response(response, fault)
        for name, value in ((fault.headers or {}) if fault is not None else {}).items():
            response.headers[name] = value  # any kind: e.g. a 429 with an unreadable reset header
        if not request.path.startswith("/_sandbox/") and not getattr(g, "reset", False):
            log.record(request.method, request.path, response.status_code)
        return response

    @app.errorhandler(_Reset)
    def _reset(_exc):
        drop_answer(log)
        return Response(b"", status=500)

    @app.post("/_sandbox/faults")
    def _add_faults():
        body = request.get_json(force=True) or {}
        for spec in body.get("faults", [body]):
            faults.add(Fault(**spec))
        return jsonify({"ok": True})

    @app.delete("/_sandbox/faults")
    def _clear_faults():
        faults.clear()
        return jsonify({"ok": True})

    @app.get("/_sandbox/requests")
    def _requests():
        return jsonify({"total": len(log.entries), "by_status": log.by_status()})

    @app.delete("/_sandbox/requests")
    def _clear_requests():
        log.clear()
        return jsonify({"ok": True})

    return app


class EmulatorServer:
    """Serve a WSGI app on 127.0.0.1 in a daemon thread; use as a context manager."""

    def __init__(self, app: Callable, port: int = 0, host: str = "127.0.0.1") -> None:
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
        self.host = host
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name=f"emulator-{self.port}"
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> EmulatorServer:
        """Start serving; calling it on a running server does nothing, so ``with server:`` works after ``start()``."""
        if self._thread.ident is None:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
