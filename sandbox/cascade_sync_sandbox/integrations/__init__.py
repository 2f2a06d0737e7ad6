"""The Integrations API sandbox: Cascade's current-platform API as its connector defines it
(``shared/reference/cascade/integrations-connector.swagger.json``), served by ``IntegrationsEmulator``;
the assumptions it makes beyond the connector are listed in ``app.py``."""

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
