"""The classic Cascade sandbox: an emulator of the Goals and Tasks of Cascade's classic API
(``https://{instance}.executestrategy.net/api/v2``) as ``classic-connector.swagger.json`` describes it."""

from .app import API_PREFIX, SANDBOX_TOKEN, ClassicEmulator
from .model import ApiError, ClassicStore

__all__ = ["API_PREFIX", "SANDBOX_TOKEN", "ApiError", "ClassicEmulator", "ClassicStore"]
