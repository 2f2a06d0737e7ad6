"""ClickUp's error answers: ``{"err": message, "ECODE": code}`` with the status ClickUp uses (A7)."""

from __future__ import annotations


class ApiError(Exception):
    """An error the emulator answers with; the in-process helpers raise it too."""

    def __init__(self, status: int, err: str, ecode: str) -> None:
        super().__init__(f"{status} {ecode}: {err}")
        self.status = status
        self.err = err
        self.ecode = ecode

    def body(self) -> dict[str, str]:
        return {"err": self.err, "ECODE": self.ecode}


def header_required() -> ApiError:
    return ApiError(400, "Authorization header required", "OAUTH_017")


def token_invalid() -> ApiError:
    return ApiError(401, "Token invalid", "OAUTH_025")


def oauth_token_not_found() -> ApiError:
    return ApiError(401, "Oauth token not found", "OAUTH_019")


def team_not_authorized() -> ApiError:
    return ApiError(401, "Team not authorized", "OAUTH_027")


def task_not_found() -> ApiError:
    return ApiError(404, "Task not found", "ITEM_013")


def list_not_found() -> ApiError:
    return ApiError(404, "List not found", "ITEM_015")


# The codes below are the emulator's own choice: source-apis.md records no real body for them.
def not_found(what: str) -> ApiError:
    return ApiError(
        404,
        f"{what} not found",
        {"Space": "PROJ_002", "Folder": "CAT_002", "Webhook": "WEBHOOK_002", "Custom field": "FIELD_002"}.get(
            what, "ITEM_000"
        ),
    )


def bad_request(message: str, ecode: str = "INPUT_001") -> ApiError:
    return ApiError(400, message, ecode)


def rate_limited() -> ApiError:
    return ApiError(429, "Rate limit reached", "APP_002")
