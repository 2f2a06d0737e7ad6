"""The Cascade sandbox: an emulator of the contract in ``cascade_sync_pipeline/cascade/openapi.yaml``."""

from .app import API_PREFIX, SANDBOX_TOKEN, CascadeEmulator
from .seed import CUSTOM_FIELDS, DEFAULT_USERS, PLAN_NAME

__all__ = ["API_PREFIX", "CUSTOM_FIELDS", "CascadeEmulator", "DEFAULT_USERS", "PLAN_NAME", "SANDBOX_TOKEN"]
