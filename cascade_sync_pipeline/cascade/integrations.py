"""Cascade's Integrations API (the current platform): workspaces, plans, actions and measures.

Plain Python, no Dagster. What the API offers (``shared/reference/cascade``): it lists
workspaces, plans, actions and measures, sets an action's progress value, a measure's current
value and a measure's past values. It creates, renames and reads back nothing else, so the sync
on it links source work to existing items and remembers what it pushed.

Assumed, because the connector definition does not say (see ``ASSUMPTIONS`` below): error
answers carry ``{"message"}``; 401 means the access token is no longer valid (refresh, once);
429 carries ``Retry-After`` in seconds; a PUT of the same value twice is harmless, so a PUT whose
answer was lost is sent again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

import httpx

from cascade_sync_pipeline.config import CascadeConnection
from cascade_sync_pipeline.http import ApiSession, RetryPolicy, SourceApiError, redact
from cascade_sync_pipeline.oauth import OAuthProvider, OAuthSession, TokenStore

API_HOST = "https://integrations-region-redirect.go.cascade.app"
AUTHORIZE_URL = "https://integrations-router.go.cascade.app/authorize"
TOKEN_URL = "https://auth.go.cascade.app/oauth/token"
SCOPE = "openid profile email offline_access"
BOOTSTRAP = (
    "cascade-sync cascade authorize --redirect-uri <uri>, then cascade-sync cascade exchange "
    "--redirect-uri <uri> --code <code>"
)

ASSUMPTIONS = (
    'Error answers are JSON {"message": ...}; other bodies are reported by HTTP status alone.',
    "401 means the access token expired or was revoked: the client refreshes once (OAuth) and retries.",
    "403 means the user behind the credential is not a member of the workspace or plan.",
    "404 means the workspace, plan, action or measure id does not exist (for this user).",
    "429 carries Retry-After in seconds (1 s when absent); no other rate-limit headers are read.",
    "Lists are complete in one answer: the definition shows no paging parameters or totals.",
    "Setting a value twice is harmless (PUT), so a PUT whose answer was lost is re-sent.",
    "Historical values are whole numbers (the definition types them int32); values are rounded.",
    "Access tokens live about an hour and refresh tokens may rotate; both are handled either way.",
)


class CascadeApiError(SourceApiError):
    """A Cascade call failed for good; ``str()`` names the workspace, the item and the fix."""


class CascadeAuthError(CascadeApiError):
    """The Cascade credential cannot be used (rejected, or its OAuth tokens are unusable)."""


def oauth_provider(authorize_url: str = AUTHORIZE_URL, token_url: str = TOKEN_URL) -> OAuthProvider:
    return OAuthProvider(
        name="Cascade",
        authorize_url=authorize_url,
        token_url=token_url,
        scope=SCOPE,
        bootstrap=BOOTSTRAP,
        error_class=CascadeAuthError,
    )


class IntegrationsClient(ApiSession):
    """The Integrations API over HTTP with a bearer access token or an OAuth session.

    ``writes`` counts PUTs that Cascade accepted (calls that changed Cascade).
    """

    source = "Cascade"
    error_class = CascadeApiError

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        oauth: OAuthSession | None = None,
        token_env: str | None = None,
        workspace: str = "cascade",
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if (token is None) == (oauth is None):
            raise ValueError("give exactly one of token= (an access token) or oauth= (an OAuthSession)")
        super().__init__(base_url, workspace=workspace, timeout=timeout, retry=retry, sleep=sleep, transport=transport)
        self.__token = token
        self._oauth = oauth
        self.token_env = token_env
        self.writes = 0

    @classmethod
    def from_connection(
        cls, connection: CascadeConnection, *, workspace: str = "cascade", **kwargs: Any
    ) -> IntegrationsClient:
        """A client for the configured connection; secrets are read from the env vars it names."""
        if connection.oauth is None:
            token = os.environ.get(connection.token_env or "", "").strip()
            if not token:
                raise CascadeAuthError(
                    f"workspace '{workspace}': env var {connection.token_env} (the Cascade access token) is empty "
                    "or not set; put an access token there, or configure cascade.oauth and run the bootstrap: "
                    f"{BOOTSTRAP}",
                    code="NO_TOKEN",
                    workspace=workspace,
                )
            return cls(connection.base_url, token=token, token_env=connection.token_env, workspace=workspace, **kwargs)
        settings = connection.oauth
        missing = [n for n in (settings.client_id_env, settings.client_secret_env) if not os.environ.get(n)]
        if missing:
            raise CascadeAuthError(
                f"workspace '{workspace}': env var(s) {', '.join(missing)} (the Cascade OAuth client id and "
                "secret that Cascade issued for this integration) are not set",
                code="NO_CLIENT",
                workspace=workspace,
            )
        session = OAuthSession(
            TokenStore(settings.token_store),
            provider=oauth_provider(settings.authorize_url, settings.token_url),
            client_id=os.environ[settings.client_id_env],
            client_secret=os.environ[settings.client_secret_env],
            workspace=workspace,
        )
        return cls(connection.base_url, oauth=session, workspace=workspace, **kwargs)

    def __repr__(self) -> str:
        auth = "oauth" if self._oauth else f"token from {self.token_env}"
        return f"IntegrationsClient(base_url={str(self._http.base_url)!r}, {auth})"

    # --- ApiSession hooks ----------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        token = self.__token if self._oauth is None else self._oauth.access_token()
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def refresh_auth(self, response: httpx.Response) -> bool:
        if self._oauth is None:
            return False
        self._oauth.refresh(rejected=_bearer(response.request))
        return True

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = super().request(method, path, **kwargs)
        if self._oauth is not None:
            self._oauth.confirm(self._oauth.state.access_token)
        return answer

    def error_for(self, response: httpx.Response, payload: Any) -> CascadeApiError:
        status = response.status_code
        said = payload.get("message") if isinstance(payload, dict) else None
        said = self._redact(str(said or response.reason_phrase or "").strip())
        what = f"{response.request.method} {response.request.url.path}"
        if status == 401:
            credential = (
                f"the access token in env var {self.token_env}"
                if self._oauth is None
                else "the OAuth tokens in the token store"
            )
            fix = f"{credential} was rejected (expired or revoked); " + (
                "put a fresh access token there, or configure cascade.oauth so it refreshes itself"
                if self._oauth is None
                else f"re-run the bootstrap: {BOOTSTRAP}"
            )
            return CascadeAuthError(
                f"workspace '{self.workspace}': Cascade answered 401 to {what}: {fix}",
                status=status,
                code="UNAUTHORIZED",
                workspace=self.workspace,
            )
        fixes = {
            403: "the Cascade user behind the credential is not a member of this workspace or plan; invite it, "
            "or use a credential of a user who is",
            404: "no such workspace, plan, action or measure (deleted in Cascade, or a wrong id in the config or "
            "in the source item's Cascade ID field)",
            400: "Cascade refused the value; check the workspace_id and plan in the config",
        }
        fix = fixes.get(status, "unexpected answer")
        return CascadeApiError(
            f"workspace '{self.workspace}': Cascade answered HTTP {status} to {what}"
            f"{': ' + said if said else ''}; {fix}",
            status=status,
            code=f"HTTP_{status}",
            workspace=self.workspace,
        )

    def _redact(self, text: str) -> str:
        return redact(text, [self.__token] if self._oauth is None else self._oauth.secrets())

    # --- reads ---------------------------------------------------------------------------------
    def workspaces(self) -> list[dict]:
        return _list(self.get("/v2/users/me/workspaces"), "workspaces")

    def plans(self, workspace_id: str) -> list[dict]:
        return _list(self.get(f"/v2/workspaces/{_seg(workspace_id)}/plans"), "plans")

    def actions(self, workspace_id: str, plan_id: str) -> list[dict]:
        return _list(self.get(f"/v2/plans/{_seg(plan_id)}/actions", {"workspace_id": workspace_id}), "actions")

    def measures(self, workspace_id: str, plan_id: str) -> list[dict]:
        return _list(self.get(f"/v2/plans/{_seg(plan_id)}/measures", {"workspace_id": workspace_id}), "measures")

    # --- writes (PUTs of a value: safe to repeat) ---------------------------------------------
    def set_action_value(self, workspace_id: str, plan_id: str, action_id: str, value: float) -> None:
        self._put(
            f"/v2/actions/{_seg(action_id)}",
            {"workspace_id": workspace_id, "plan_id": plan_id, "action_value": _number(value)},
        )

    def set_measure_value(self, workspace_id: str, plan_id: str, measure_id: str, value: float) -> None:
        self._put(
            f"/v2/measures/{_seg(measure_id)}",
            {"workspace_id": workspace_id, "plan_id": plan_id, "measure_value": _number(value)},
        )

    def set_measure_history(
        self, workspace_id: str, plan_id: str, measure_id: str, points: Iterable[tuple[date | str, float]]
    ) -> None:
        data = [
            {"date": day if isinstance(day, str) else day.isoformat(), "value": int(round(value))}
            for day, value in points
        ]
        self._put(
            f"/v2/measures/historical/{_seg(measure_id)}",
            {"workspace_id": workspace_id, "plan_id": plan_id, "historical_data": data},
        )

    def _put(self, path: str, body: dict) -> None:
        self.request("PUT", path, json_body=body)
        self.writes += 1


def _list(payload: Any, key: str) -> list[dict]:
    rows = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(rows, list):
        raise CascadeApiError(
            f"Cascade's answer has no '{key}' list (got {type(payload).__name__}); the API may "
            "have changed: report it with the request that failed",
            code="BAD_ANSWER",
        )
    return [{**row, "id": str(row["id"])} for row in rows if isinstance(row, dict) and row.get("id") is not None]


def _seg(value: str) -> str:
    return httpx.URL("/" + str(value)).raw_path.decode().lstrip("/").replace("/", "%2F")


def _number(value: float) -> int | float:
    number = round(float(value), 4)
    return int(number) if number.is_integer() else number


def _bearer(request: httpx.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header.split(" ", 1)[1] if " " in header else None
