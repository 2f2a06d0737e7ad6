"""Wrike API v4: the client, OAuth 2.0 bootstrap and token store, error messages, webhook checks."""

from cascade_sync_pipeline.wrike.client import TASK_FIELDS, WrikeClient, latest_update
from cascade_sync_pipeline.wrike.errors import WrikeApiError, WrikeAuthError
from cascade_sync_pipeline.wrike.oauth import (
    OAuthSession,
    TokenState,
    TokenStore,
    authorize_url,
    exchange_code,
)

__all__ = [
    "TASK_FIELDS",
    "OAuthSession",
    "TokenState",
    "TokenStore",
    "WrikeApiError",
    "WrikeAuthError",
    "WrikeClient",
    "authorize_url",
    "exchange_code",
    "latest_update",
]
