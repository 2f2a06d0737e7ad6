"""The Wrike API v4 sandbox: a seeded account (``generator``) served by ``WrikeEmulator``."""

from cascade_sync_sandbox.wrike.app import WrikeEmulator
from cascade_sync_sandbox.wrike.generator import WrikeDataset, expected_staging, generate

__all__ = ["WrikeDataset", "WrikeEmulator", "expected_staging", "generate"]
