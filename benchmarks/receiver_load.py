"""Load test of the webhook receiver on loopback: hostile and idle clients while signed deliveries keep coming.

    python -m benchmarks.receiver_load                       # 60 s against the production server (waitress)
    python -m benchmarks.receiver_load --seconds 300 --idle 800
    python -m benchmarks.receiver_load --dev-server          # the same load against Werkzeug's dev server, for contrast

Starts the receiver as its own process (``cascade-sync webhooks serve``)
on 127.0.0.1 with a throw-away config and inbox, then for ``--seconds``:

- holds ``--idle`` connections open without sending a byte;
- holds ``--slow`` clients that send half their headers: half stop there, half trickle one byte every
  half second (a client that never looks idle);
- sends oversized bodies (declared and chunked), malformed JSON, deeply nested JSON and malformed,
  non-ASCII or forged signatures, one after another;
- meanwhile POSTs a signed ClickUp delivery every 50 ms (a new connection each, as the sources do) and
  times each answer.

Everything stays on 127.0.0.1, every loop is bounded by the deadline, and the run stops by itself. It
reports the answer times of the signed deliveries (p50, p95, max), how many of them failed, the
receiver's threads and open sockets (sampled from /proc), when the slow clients were cut off, and what
the hostile requests got. ``cascade_sync_pipeline_tests/orchestration/test_receiver_load.py`` runs it for a few seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

HOST = "127.0.0.1"
WORKSPACE = "load-test"
SECRET_ENV = "LOAD_TEST_WEBHOOK_SECRET"
SECRET = "load-test-secret-0123456789"
ROOT = Path(__file__).resolve().parents[1]

_DEV_SERVER = """
import sys
from werkzeug.serving import make_server
from cascade_sync_pipeline.config import load_config
from cascade_sync_pipeline.orchestration.webhooks.inbox import WebhookInbox
from cascade_sync_pipeline.orchestration.webhooks.receiver import create_receiver_app
app = create_receiver_app(load_config(sys.argv[1]), WebhookInbox(sys.argv[2]))
server = make_server("127.0.0.1", 0, app, threaded=True)
print(f"receiving webhooks on http://127.0.0.1:{server.server_port}/webhooks", file=sys.stderr, flush=True)
server.serve_forever()
"""


@dataclass
class LoadResult:
    server: str
    seconds: float
    signed_sent: int = 0
    signed_ok: int = 0
    signed_failed: int = 0
    answer_p50_ms: float | None = None
    answer_p95_ms: float | None = None
    answer_max_ms: float | None = None
    idle_connections_opened: int = 0
    slow_clients: int = 0
    slow_clients_cut_off: int = 0
    slow_cut_off_after_max_s: float | None = None
    server_threads_max: int = 0
    server_sockets_max: int = 0
    hostile: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def sign(body: bytes) -> str:
    return hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def start_receiver(
    workdir: Path,
    *,
    dev_server: bool = False,
    threads: int = 8,
    connection_limit: int = 1000,
    request_timeout: float = 10,
    idle_timeout: float = 30,
) -> tuple[subprocess.Popen, str]:
    """The receiver as a child process on a free loopback port: (process, base URL)."""
    config = workdir / "receiver.yaml"
    config.write_text(
        json.dumps(
            {
                "workspaces": [
                    {
                        "key": WORKSPACE,
                        "source": "clickup",
                        "team_id": "1",
                        "token_env": "LOAD_TEST_TOKEN",
                        "webhook_secret_env": SECRET_ENV,
                    }
                ]
            }
        )
    )
    inbox = workdir / "inbox.sqlite"
    env = {**os.environ, SECRET_ENV: SECRET, "PYTHONPATH": str(ROOT)}
    if dev_server:
        command = [sys.executable, "-c", _DEV_SERVER, str(config), str(inbox)]
    else:
        command = [
            sys.executable,
            "-m",
            "cascade_sync_pipeline.cli",
            "--config",
            str(config),
            "webhooks",
            "serve",
            "--host",
            HOST,
            "--port",
            "0",
            "--inbox",
            str(inbox),
            "--threads",
            str(threads),
            "--connection-limit",
            str(connection_limit),
            "--request-timeout",
            str(request_timeout),
            "--idle-timeout",
            str(idle_timeout),
        ]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            raise RuntimeError("the receiver exited before listening")
        if "receiving webhooks on" in line:
            base = line.split("on ", 1)[1].split("/webhooks")[0]
            threading.Thread(target=_drain, args=(process.stderr,), daemon=True).start()
            return process, base
    process.kill()
    raise RuntimeError("the receiver did not start listening within 30 s")


def _drain(stream) -> None:
    for _ in stream:
        pass


def _proc_counts(pid: int) -> tuple[int, int]:
    """(threads, open sockets) of a process, from /proc."""
    try:
        threads = len(os.listdir(f"/proc/{pid}/task"))
        sockets = 0
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                sockets += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
            except OSError:
                pass
        return threads, sockets
    except OSError:
        return 0, 0


def _connect(port: int) -> socket.socket | None:
    try:
        return socket.create_connection((HOST, port), timeout=5)
    except OSError:
        return None


def _status_of(sock: socket.socket, timeout: float = 5.0) -> str:
    """The HTTP status the server answered on a raw socket, or 'closed' / 'timeout'."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(4096)
    except TimeoutError:
        return "timeout"
    except OSError:
        return "closed"
    if not data:
        return "closed"
    parts = data.split(b" ", 2)
    return parts[1].decode(errors="replace") if len(parts) > 1 else "garbage"


def _hostile_requests(port: int, base: str, path: str) -> list[tuple[str, callable]]:
    head = f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"

    def declared_oversize() -> str:
        sock = _connect(port)
        if sock is None:
            return "connect-failed"
        with sock:
            try:
                sock.sendall(
                    (head + "X-Signature: " + "0" * 64 + "\r\nContent-Length: 6291456\r\n\r\n").encode() + b" " * 65536
                )
            except OSError:
                return "closed"
            return _status_of(sock)

    def chunked_oversize() -> str:
        sock = _connect(port)
        if sock is None:
            return "connect-failed"
        with sock:
            body = b'{"event":"taskUpdated","task_id":"x"}' + b" " * 65000
            try:
                sock.sendall(
                    (
                        head + "X-Signature: " + sign(body[: 5 * 1024 * 1024]) + "\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n"
                    ).encode()
                )
                sent = 0
                while sent <= 6 * 1024 * 1024:
                    sock.sendall(f"{len(body):x}\r\n".encode() + body + b"\r\n")
                    sent += len(body)
                sock.sendall(b"0\r\n\r\n")
            except OSError:
                return _status_of(sock, 1.0)
            return _status_of(sock)

    def post(body: bytes, signature: bytes | str | None) -> str:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Signature"] = signature
        try:
            return str(httpx.post(base + path, content=body, headers=headers, timeout=5).status_code)
        except httpx.HTTPError as err:
            return type(err).__name__

    not_json, nested = b"this is not json", b"[" * 200_000 + b"]" * 200_000
    payload = json.dumps({"event": "taskUpdated", "task_id": "h1"}).encode()
    return [
        ("declared_oversize", declared_oversize),
        ("chunked_oversize", chunked_oversize),
        ("signed_not_json", lambda: post(not_json, sign(not_json))),
        ("signed_deeply_nested", lambda: post(nested, sign(nested))),
        ("non_ascii_signature", lambda: post(payload, "é".encode() * 64)),
        ("short_signature", lambda: post(payload, "abc")),
        ("forged_signature", lambda: post(payload, "0" * 64)),
    ]


def run_load(
    base: str, pid: int, *, seconds: float, idle: int = 300, slow: int = 20, server: str = "waitress"
) -> LoadResult:
    """Drive the running receiver at ``base`` (process ``pid``) for ``seconds``; see the module docstring."""
    port = int(base.rsplit(":", 1)[1])
    path = f"/webhooks/clickup/{WORKSPACE}"
    result = LoadResult(server=server, seconds=seconds)
    start = time.monotonic()
    deadline = start + seconds
    stop = threading.Event()
    held: list[socket.socket] = []

    def sample() -> None:
        while not stop.is_set():
            threads, sockets = _proc_counts(pid)
            result.server_threads_max = max(result.server_threads_max, threads)
            result.server_sockets_max = max(result.server_sockets_max, sockets)
            stop.wait(0.1)

    cut_off: list[float] = []
    slow_lock = threading.Lock()

    def slow_client(trickle: bool) -> None:
        sock = _connect(port)
        if sock is None:
            return
        opened = time.monotonic()
        with sock:
            try:
                sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: app".encode())
                while not stop.is_set():
                    readable, _, _ = select.select([sock], [], [], 0.5)
                    if readable and not sock.recv(4096):
                        raise ConnectionResetError
                    if trickle:
                        sock.send(b"x")
            except OSError:
                with slow_lock:
                    cut_off.append(time.monotonic() - opened)

    def hostile() -> None:
        requests = _hostile_requests(port, base, path)
        i = 0
        while not stop.is_set() and time.monotonic() < deadline:
            name, call = requests[i % len(requests)]
            outcome = call()
            result.hostile.setdefault(name, {})
            result.hostile[name][outcome] = result.hostile[name].get(outcome, 0) + 1
            i += 1

    workers = [threading.Thread(target=sample, daemon=True)]
    workers += [threading.Thread(target=slow_client, args=(i % 2 == 1,), daemon=True) for i in range(slow)]
    workers.append(threading.Thread(target=hostile, daemon=True))
    for _ in range(idle):
        sock = _connect(port)
        if sock is not None:
            held.append(sock)
    result.idle_connections_opened = len(held)
    result.slow_clients = slow
    for worker in workers:
        worker.start()

    times: list[float] = []
    n = 0
    while time.monotonic() < deadline:
        n += 1
        body = json.dumps(
            {
                "event": "taskUpdated",
                "task_id": f"load{n}",
                "webhook_id": "w",
                "history_items": [{"date": str(int(time.time() * 1000)), "field": "name"}],
            }
        ).encode()
        sent = time.monotonic()
        try:
            answer = httpx.post(
                base + path,
                content=body,
                timeout=10,
                headers={"X-Signature": sign(body), "Content-Type": "application/json"},
            )
            ok = answer.status_code == 200 and answer.json().get("status") == "stored"
        except httpx.HTTPError:
            ok = False
        times.append(time.monotonic() - sent)
        result.signed_sent += 1
        result.signed_ok += ok
        time.sleep(max(0.0, 0.05 - (time.monotonic() - sent)))
    stop.set()
    for worker in workers:
        worker.join(timeout=10)
    for sock in held:
        sock.close()

    result.signed_failed = result.signed_sent - result.signed_ok
    if times:
        ordered = sorted(times)
        result.answer_p50_ms = round(statistics.median(ordered) * 1000, 1)
        result.answer_p95_ms = round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1)
        result.answer_max_ms = round(ordered[-1] * 1000, 1)
    result.slow_clients_cut_off = len(cut_off)
    result.slow_cut_off_after_max_s = round(max(cut_off), 2) if cut_off else None
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.receiver_load", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--idle", type=int, default=300, help="idle connections held open (default 300)")
    parser.add_argument("--slow", type=int, default=20, help="clients sending half their headers (default 20)")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--request-timeout", type=float, default=10)
    parser.add_argument("--idle-timeout", type=float, default=30)
    parser.add_argument("--dev-server", action="store_true", help="Werkzeug's development server instead, for contrast")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        process, base = start_receiver(
            Path(workdir),
            dev_server=args.dev_server,
            threads=args.threads,
            request_timeout=args.request_timeout,
            idle_timeout=args.idle_timeout,
        )
        try:
            result = run_load(
                base,
                process.pid,
                seconds=args.seconds,
                idle=args.idle,
                slow=args.slow,
                server="werkzeug-dev" if args.dev_server else "waitress",
            )
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    print(json.dumps(result.as_dict(), indent=2))
    met = result.signed_failed == 0 and (result.answer_max_ms or 0) < 1000
    print(
        f"signed deliveries: {result.signed_ok}/{result.signed_sent} stored, p50 {result.answer_p50_ms} ms, "
        f"max {result.answer_max_ms} ms ({'ok' if met else 'MISSED'}: all within 1 s); receiver threads at most "
        f"{result.server_threads_max}, sockets at most {result.server_sockets_max}; slow clients cut off "
        f"{result.slow_clients_cut_off}/{result.slow_clients}",
        file=sys.stderr,
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
