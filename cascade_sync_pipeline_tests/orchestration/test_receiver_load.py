"""The receiver under load on loopback, served as in production (the `serve` command, its own process):
300 idle connections, slow clients sending half their headers, oversized and malformed bodies and bad
signatures, while signed deliveries keep coming. Kept to a few seconds; `python -m benchmarks.receiver_load`
runs the same load for as long as asked."""

from __future__ import annotations

import subprocess

import pytest

from benchmarks.receiver_load import run_load, start_receiver

pytestmark = pytest.mark.slow  # a load test of the receiver in its own process

THREADS = 4
EXPECTED = {  # what each hostile request may get: never a 200, never a 500
    "declared_oversize": {"413", "closed"},
    "chunked_oversize": {"413", "closed"},
    "signed_not_json": {"400"},
    "signed_deeply_nested": {"400"},
    "non_ascii_signature": {"401"},
    "short_signature": {"401"},
    "forged_signature": {"401"},
}


@pytest.fixture
def receiver(tmp_path):
    process, base = start_receiver(tmp_path, threads=THREADS, request_timeout=1.5, idle_timeout=3)
    yield process, base
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def test_signed_deliveries_are_answered_within_a_second_under_hostile_load(receiver):
    process, base = receiver
    result = run_load(base, process.pid, seconds=4, idle=300, slow=20)
    assert result.idle_connections_opened == 300
    assert result.signed_sent >= 8 and result.signed_failed == 0, result
    assert result.answer_max_ms < 1000, result
    # Idle and slow clients cost sockets, not threads: the main thread and the workers, nothing per connection.
    assert result.server_threads_max <= THREADS + 2, result
    assert result.server_sockets_max >= 300
    # Every slow client (half headers; or a byte every half second) was cut off after the request timeout.
    assert result.slow_clients_cut_off == result.slow_clients and result.slow_cut_off_after_max_s < 3.5, result
    for name, outcomes in result.hostile.items():
        assert set(outcomes) <= EXPECTED[name], (name, outcomes)
    assert process.poll() is None  # still serving
