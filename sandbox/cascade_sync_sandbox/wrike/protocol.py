"""Wire conventions of the Wrike API v4 that every emulator route shares.

The path prefix (``API``), the envelope (``{"kind", "data": [...]}``), the error body (``{"errorDescription", "error"}``) and
the parameter encoding: arrays and objects travel as JSON inside query or form values, and
clients also send unquoted lists such as ``fields=[parentIds,customFields]``.
"""

from __future__ import annotations

import json
from typing import Any

from flask import request

API = "/api/v4"
MAX_BATCH_IDS = 100


class ApiError(Exception):
    """An error answer: HTTP status, Wrike error code and a human description."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict:
        return {"errorDescription": self.description, "error": self.error}


def envelope(kind: str, data: list, **extra: Any) -> dict:
    body = {"kind": kind, "data": data}
    body.update(extra)
    state = request.values.get("state")
    if state is not None:
        body["state"] = state
    return body


def params() -> dict[str, Any]:
    """Query, form and JSON-body parameters merged (JSON body values win, then form, then query)."""
    merged: dict[str, Any] = dict(request.args.items())
    merged.update(request.form.items())
    if request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            merged.update(body)
        elif body is not None:
            raise ApiError(400, "invalid_request", "The JSON body must be an object")
    return merged


def json_value(values: dict, name: str, default: Any = None) -> Any:
    """A parameter that holds JSON; unquoted lists like ``[a,b]`` are accepted as strings."""
    raw = values.get(name)
    if raw is None:
        return default
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        if text.startswith("[") and text.endswith("]"):
            return [item.strip().strip('"') for item in text[1:-1].split(",") if item.strip()]
        raise ApiError(400, "invalid_parameter", f"Parameter '{name}' is not valid JSON") from None


def list_value(values: dict, name: str) -> list[str] | None:
    """A list parameter: a JSON array, an unquoted ``[a,b]`` or a single bare value."""
    raw = values.get(name)
    if raw is None:
        return None
    if isinstance(raw, str) and not raw.strip().startswith("["):
        return [raw.strip()]
    value = json_value(values, name)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ApiError(400, "invalid_parameter", f"Parameter '{name}' must be a list of strings")


def bool_value(values: dict, name: str, default: bool) -> bool:
    raw = values.get(name)
    if raw is None:
        return default
    if isinstance(raw, bool):
        return raw
    if str(raw).lower() in ("true", "false"):
        return str(raw).lower() == "true"
    raise ApiError(400, "invalid_parameter", f"Parameter '{name}' must be true or false")


def int_value(values: dict, name: str, *, minimum: int, maximum: int) -> int | None:
    raw = values.get(name)
    if raw is None:
        return None
    try:
        number = int(raw)
    except (TypeError, ValueError):
        raise ApiError(400, "invalid_parameter", f"Parameter '{name}' must be an integer") from None
    if not minimum <= number <= maximum:
        raise ApiError(400, "invalid_parameter", f"Parameter '{name}' must be between {minimum} and {maximum}")
    return number


def split_ids(ids: str) -> list[str]:
    parts = [p for p in ids.split(",") if p]
    if not parts:
        raise ApiError(400, "invalid_parameter", "No ids given")
    if len(parts) > MAX_BATCH_IDS:
        raise ApiError(400, "invalid_parameter", f"At most {MAX_BATCH_IDS} ids per request, got {len(parts)}")
    return parts


def reject_unknown(values: dict, allowed: set[str]) -> None:
    for name in values:
        if name not in allowed and name not in ("access_token", "state"):
            raise ApiError(400, "invalid_parameter", f"Parameter '{name}' is not supported here")
