"""ClickUp API v2 client: personal token, hierarchy, task pages, custom fields, write-back.

Plain Python: no Dagster here. Every failure names the workspace key, ClickUp's ECODE and the fix.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx

from cascade_sync_pipeline.config import ClickUpWorkspace, secret_from_env
from cascade_sync_pipeline.http import ApiSession, RetryPolicy, SourceApiError, header_epoch

PAGE_SIZE = 100  # ClickUp's fixed page size for task listings

_TOKEN_CODES = {"OAUTH_019", "OAUTH_021", "OAUTH_025", "OAUTH_077"}
_TEAM_CODES = {"OAUTH_023", "OAUTH_026", "OAUTH_027"} | {f"OAUTH_0{n}" for n in range(29, 46)}


class ClickUpError(SourceApiError):
    """A ClickUp call failed for good; the message says what to fix."""


class ClickUpClient(ApiSession):
    source = "ClickUp"
    error_class = ClickUpError

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        workspace: str,
        token_env: str = "the token env var",
        team_id: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(base_url, workspace=workspace, timeout=timeout, retry=retry, **kwargs)
        self._token = token.strip()  # a pasted token often ends in a newline, which HTTP forbids
        self.token_env = token_env
        self.team_id = team_id

    @classmethod
    def for_workspace(cls, ws: ClickUpWorkspace, **kwargs: Any) -> ClickUpClient:
        """A client for a configured workspace, its token read now from the env var the config names."""
        token = secret_from_env(
            ws.token_env, owner=f"workspace '{ws.key}' (token_env)", what="ClickUp personal API token (pk_...)"
        )
        return cls(ws.base_url, token, workspace=ws.key, token_env=ws.token_env, team_id=ws.team_id, **kwargs)

    def __repr__(self) -> str:  # never show the token
        return f"ClickUpClient(workspace={self.workspace!r}, base_url={str(self._http.base_url)!r})"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": self._token}

    # --- rate limits ---------------------------------------------------------------------------
    @staticmethod
    def _seconds_until_reset(response: httpx.Response) -> float | None:
        """Seconds until ``X-RateLimit-Reset`` (epoch seconds); None when absent or not a number, and at
        most an hour (a reset far in the future is a broken header, not a plan)."""
        reset = header_epoch(response.headers.get("X-RateLimit-Reset"))
        return None if reset is None else min(max(reset - time.time(), 0.0), 3600.0)

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        if response.status_code != 429:
            return None
        wait = self._seconds_until_reset(response)
        return (wait if wait is not None else 60.0) + 0.05

    def pace(self, response: httpx.Response) -> float:
        if response.headers.get("X-RateLimit-Remaining") == "0":
            wait = self._seconds_until_reset(response)
            return (wait or 0.0) + 0.05
        return 0.0

    # --- errors ----------------------------------------------------------------------------------
    def error_for(self, response: httpx.Response, payload: Any) -> ClickUpError:
        status = response.status_code
        code = _text(payload.get("ECODE")) if isinstance(payload, dict) else None
        err = _text(payload.get("err") or payload.get("error")) if isinstance(payload, dict) else None
        where = f"{response.request.method} {response.request.url.path}"
        ws = f"workspace '{self.workspace}'"
        if code == "OAUTH_017":
            fix = f"no token was sent: set {self.token_env} to the workspace's personal API token (pk_...)"
        elif code in _TOKEN_CODES or (status == 401 and err and "token" in err.lower()):
            fix = (
                f"the token in {self.token_env} was rejected (invalid, regenerated or revoked): create a new "
                "personal token in ClickUp Settings > Apps and put it in that env var"
            )
        elif code in _TEAM_CODES or (status in (401, 403) and err and "authorized" in err.lower()):
            fix = (
                f"the token's user lacks access here: check that team_id {self.team_id} is right and that "
                "the user of the token is a member of that Workspace and can see the space, folder or list"
            )
        elif status == 404:
            fix = (
                "the item no longer exists or is outside the token's view: check the workspace scope "
                "(spaces/folders/lists) and that the list is the task's home list"
            )
        elif status == 429:
            fix = "rate limited: run less often or give the sync its own token"
        else:
            fix = "see ClickUp's error documentation for this code"
        detail = f"{err} [{code}]" if code else (err or "no error body")
        return ClickUpError(
            f"{ws}: ClickUp answered HTTP {status} to {where}: {detail}; {fix}",
            status=status,
            code=code,
            workspace=self.workspace,
        )

    # --- answers ---------------------------------------------------------------------------------
    def listing(self, path: str, key: str, params: Any = None) -> list[dict]:
        """The list under ``key`` of a 200 answer. An answer without it (or with something else there)
        is an error, never "no items": read as empty, it would archive everything in Cascade."""
        body = self.get(path, params)
        value = body.get(key) if isinstance(body, dict) else None
        if not isinstance(value, list):
            found = f"keys {sorted(body)[:8]}" if isinstance(body, dict) else f"a JSON {type(body).__name__}"
            raise ClickUpError(
                f"workspace '{self.workspace}': ClickUp answered GET {path} without its '{key}' list ({found}); "
                "nothing was stored or replaced. A proxy or an API change may be in the way: check base_url "
                f"({self._http.base_url}) and retry the run",
                workspace=self.workspace,
                code="UNEXPECTED_ANSWER",
                retryable=True,
            )
        entries = [entry for entry in value if isinstance(entry, dict)]
        for entry in entries:
            if not isinstance(entry.get("id"), (str, int)) or entry["id"] == "":
                raise ClickUpError(
                    f"workspace '{self.workspace}': ClickUp answered GET {path} with a {key.removesuffix('s')} "
                    f"without an id (name {str(entry.get('name'))[:80]!r}); nothing was stored or replaced. "
                    "Retry the run; if it persists, the object is damaged in ClickUp",
                    workspace=self.workspace,
                    code="UNEXPECTED_ANSWER",
                    retryable=True,
                )
        return entries

    # --- hierarchy ------------------------------------------------------------------------------
    def user(self) -> dict:
        body = self.get("/user")
        if not isinstance(body, dict) or not isinstance(body.get("user"), dict):
            raise ClickUpError(
                f"workspace '{self.workspace}': ClickUp answered GET /user without a user",
                workspace=self.workspace,
                code="UNEXPECTED_ANSWER",
                retryable=True,
            )
        return body["user"]

    def teams(self) -> list[dict]:
        return self.listing("/team", "teams")

    def spaces(self, team_id: str) -> list[dict]:
        return self.listing(f"/team/{team_id}/space", "spaces", {"archived": "false"})

    def folders(self, space_id: str) -> list[dict]:
        """Folders of a space, each with its lists embedded."""
        return self.listing(f"/space/{space_id}/folder", "folders", {"archived": "false"})

    def folderless_lists(self, space_id: str) -> list[dict]:
        return self.listing(f"/space/{space_id}/list", "lists", {"archived": "false"})

    def list_fields(self, list_id: str) -> list[dict]:
        return self.listing(f"/list/{list_id}/field", "fields")

    def task(self, task_id: str) -> dict:
        return self.get(f"/task/{task_id}", {"include_subtasks": "true"})

    # --- tasks -----------------------------------------------------------------------------------
    def team_task_pages(
        self,
        team_id: str,
        *,
        archived: bool = False,
        updated_since_ms: int | None = None,
        list_ids: list[str] | None = None,
    ) -> Iterator[list[dict]]:
        """Every page of the team's tasks (closed and subtasks included), 100 a page, to the end.

        Pages are read until ``last_page`` (or a short page); callers de-duplicate by id because
        ClickUp does not promise a stable order while tasks change under the listing.
        """
        params: list[tuple[str, str]] = [
            ("include_closed", "true"),
            ("subtasks", "true"),
            ("archived", str(archived).lower()),
            ("order_by", "created"),
        ]
        if updated_since_ms is not None:
            params.append(("date_updated_gt", str(updated_since_ms)))
        params.extend(("list_ids[]", lid) for lid in list_ids or [])
        page = 0
        path = f"/team/{team_id}/task"
        while True:
            body = self.get(path, params + [("page", str(page))])
            if not isinstance(body, dict) or not isinstance(body.get("tasks"), list):
                found = f"keys {sorted(body)[:8]}" if isinstance(body, dict) else f"a JSON {type(body).__name__}"
                raise ClickUpError(
                    f"workspace '{self.workspace}': ClickUp answered GET {path} (page {page}) without its 'tasks' "
                    f"list ({found}); nothing was stored or replaced. A proxy or an API change may be in the way: "
                    f"check base_url ({self._http.base_url}) and retry the run",
                    workspace=self.workspace,
                    code="UNEXPECTED_ANSWER",
                    retryable=True,
                )
            tasks = body["tasks"]
            yield tasks
            last = body.get("last_page")
            if last is True or (last is None and len(tasks) < PAGE_SIZE) or not tasks:
                return
            page += 1

    # --- writes ---------------------------------------------------------------------------------
    def set_custom_field(self, task_id: str, field_id: str, value: Any) -> None:
        self.request("POST", f"/task/{task_id}/field/{field_id}", json_body={"value": value})

    def update_task(self, task_id: str, **fields: Any) -> dict:
        return self.request("PUT", f"/task/{task_id}", json_body=fields)


def _text(value: Any) -> str | None:
    """An error field as text: ClickUp sends strings, but a proxy or an API change may send anything."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else json.dumps(value)[:200]
