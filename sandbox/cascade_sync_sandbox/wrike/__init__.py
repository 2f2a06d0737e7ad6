"""The Wrike API v4 sandbox: a seeded account (``generator``) served by ``WrikeEmulator``.

Rooms, as in every emulator of the sandbox: ``app`` (the emulator), ``routes`` (HTTP handlers, by
resource family in ``routes_*``), ``model`` (the account in memory), ``writes`` (how changes land),
``generator`` (seeded data, with ``builder`` and ``names``), ``truth`` (expected staging rows),
``webhooks``, ``oauth``; plus ``protocol`` (wire conventions) and ``queries`` (task queries)."""

from cascade_sync_sandbox.wrike.app import WrikeEmulator
from cascade_sync_sandbox.wrike.generator import generate
from cascade_sync_sandbox.wrike.model import WrikeDataset
from cascade_sync_sandbox.wrike.truth import expected_staging

__all__ = ["WrikeDataset", "WrikeEmulator", "expected_staging", "generate"]
