"""The classic Cascade sandbox: an emulator of the Goals and Tasks of Cascade's classic API
(``https://{instance}.executestrategy.net/api/v2``) as ``classic-connector.swagger.json`` describes it.

Rooms, as in every emulator of the sandbox: ``app`` (the emulator), ``routes`` (HTTP handlers, with
list filters and paging in ``query``), ``model`` (the in-memory store, with its ``schema``,
``render`` and ``errors``). The classic instance has no generator of its own: the sandbox company
seeds it (``cascade_sync_sandbox.company.seed_classic``)."""

from .app import API_PREFIX, SANDBOX_TOKEN, ClassicEmulator
from .errors import ApiError
from .model import ClassicStore

__all__ = ["API_PREFIX", "SANDBOX_TOKEN", "ApiError", "ClassicEmulator", "ClassicStore"]
