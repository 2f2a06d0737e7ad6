"""Fixtures shared across the test packages, and the reference files' location in the report header.

The classic Cascade emulator served on loopback (used by cascade/test_classic_client.py and
sandbox/test_classic_emulator.py): one server per module, a fresh emulator per test behind it
(``AppSwitch``). A module that defines its own ``emulator`` or ``base_url`` fixture overrides these.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cascade_sync_pipeline_tests.support.helpers import CLASSIC_BASE, AppSwitch
from cascade_sync_pipeline_tests.support.paths import REFERENCE_ENV, REFERENCE_ROOT
from cascade_sync_sandbox.classic import ClassicEmulator
from cascade_sync_sandbox.postgres import Postgres, postgres_server
from cascade_sync_sandbox.server import EmulatorServer


def pytest_report_header(config) -> str:
    state = "found" if REFERENCE_ROOT.is_dir() else f"MISSING: the spec tests will fail; set {REFERENCE_ENV}"
    return f"reference files (outside the repository): {REFERENCE_ROOT} ({state})"


@pytest.fixture(scope="module")
def switch():
    switch = AppSwitch()
    with EmulatorServer(switch) as srv:
        switch.server = srv
        yield switch


@pytest.fixture
def emulator(switch) -> ClassicEmulator:
    emulator = ClassicEmulator()
    switch.app = emulator.app
    return emulator


@pytest.fixture
def base_url(switch, emulator) -> str:
    return switch.server.url + CLASSIC_BASE


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL server on a free loopback port for the whole session (one per xdist worker);
    tests that share it use databases or schemas of their own."""
    with postgres_server() as server:
        yield server
