"""The ClickUp sandbox: a deterministic data generator with ground truth, and an API v2 emulator.

Rooms, as in every emulator of the sandbox: ``app`` (the emulator), ``routes`` (HTTP handlers, with
``query`` for task filters and paging, ``render`` for JSON shapes, ``errors``), ``model`` (the
dataset in memory), ``writes`` (how changes land, with ``field_values``), ``generator`` (seeded
data, with ``builder`` and ``names``), ``truth`` (expected staging rows), ``webhooks``.

from cascade_sync_sandbox.clickup import ClickUpEmulator, generate, expected_staging

dataset = generate(seed=1)
emulator = ClickUpEmulator(dataset)
with emulator.serve() as server:   # server.url + "/api/v2" is the ClickUp base URL
    ...
"""

from .app import API_PREFIX, ClickUpEmulator
from .errors import ApiError
from .generator import BASE_EPOCH_MS, generate
from .model import ClickUpDataset, TokenGrant
from .truth import expected_staging, field_value_text
from .webhooks import sign as sign_webhook_body

__all__ = [
    "API_PREFIX",
    "ApiError",
    "BASE_EPOCH_MS",
    "ClickUpDataset",
    "ClickUpEmulator",
    "TokenGrant",
    "expected_staging",
    "field_value_text",
    "generate",
    "sign_webhook_body",
]
