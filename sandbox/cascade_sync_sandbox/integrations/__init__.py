"""The Integrations API sandbox: Cascade's current-platform API as its connector defines it
(``shared/reference/cascade/integrations-connector.swagger.json``), served by ``IntegrationsEmulator``;
the assumptions it makes beyond the connector are listed in ``app.py``.

Rooms, as in every emulator of the sandbox: ``app`` (the emulator), ``routes`` (HTTP handlers),
``model`` (the in-memory store), ``oauth`` (the authorization-code server), ``generator`` (the
sandbox company's seeded plans, actions and measures)."""

from .app import API_PREFIX, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_TOKEN, IntegrationsEmulator
from .model import SANDBOX_USER, ApiError
from .oauth import CONNECTOR_SCOPE, Clock, OAuthError

__all__ = [
    "API_PREFIX",
    "CONNECTOR_SCOPE",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "SANDBOX_TOKEN",
    "SANDBOX_USER",
    "ApiError",
    "Clock",
    "IntegrationsEmulator",
    "OAuthError",
]
