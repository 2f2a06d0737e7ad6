"""Everything Cascade-specific: the API contract (``openapi.yaml``) and the client that speaks it."""

from pathlib import Path

from .client import CascadeApiError, CascadeClient, ExternalRef, changed_fields

OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")

__all__ = ["OPENAPI_PATH", "CascadeApiError", "CascadeClient", "ExternalRef", "changed_fields"]
