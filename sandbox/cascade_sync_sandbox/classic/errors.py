"""The classic emulator's error answers: :class:`ApiError` and the two shapes most answers take
(a 400 naming the offending field, a 404 for an unknown id)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class ApiError(Exception):
    """An answer other than success; ``body()`` is the (assumed) error body."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.status, "status": HTTPStatus(self.status).phrase}
        if self.field:
            body["field"] = self.field
        return body


def invalid(field: str, message: str) -> ApiError:
    return ApiError(400, f"{field}: {message}", field)


def not_found(kind: str, item_id: Any) -> ApiError:
    return ApiError(404, f"{kind} {item_id} does not exist")
