"""The classic emulator served on loopback, shared by the client and emulator tests: one server per
module, a fresh emulator per test behind it (``AppSwitch``)."""

from __future__ import annotations

import pytest

from cascade_sync_pipeline_tests.helpers import AppSwitch
from cascade_sync_sandbox.classic import ClassicEmulator
from cascade_sync_sandbox.server import EmulatorServer

BASE = "/api/v2"


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
    return switch.server.url + BASE
