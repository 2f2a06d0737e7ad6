"""The Wrike API v4 client the sync uses: reads of the hierarchy and tasks, and the Cascade ID write-back.

Built on :class:`ApiSession` (retries, rate-limit waits, request counting). Wrike specifics:
``Authorization: bearer <token>`` with a permanent token or an :class:`OAuthSession` (refreshed
before expiry and on 401; the ``host`` of the token answer is used for every call); task queries
always send ``pageSize`` and follow ``nextPageToken`` to the end, because Wrike silently stops at
1,000 tasks without it; incremental reads ask for ``updatedDate >= since - overlap`` and
de-duplicate by id. Plain Python: no Dagster imports.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from cascade_sync_pipeline.http import ApiSession, RetryPolicy, SourceApiError, header_seconds
from cascade_sync_pipeline.payloads import item_id, wrike_time
from cascade_sync_pipeline.wrike.errors import WrikeApiError, describe, redact, wrap
from cascade_sync_pipeline.wrike.oauth import OAuthSession, TokenStore, bootstrap_hint

# Optional task fields the staging needs (Wrike leaves them out of query results unless asked).
TASK_FIELDS = (
    "description",
    "briefDescription",
    "parentIds",
    "superParentIds",
    "responsibleIds",
    "authorIds",
    "superTaskIds",
    "subTaskIds",
    "customFields",
)
MAX_PAGE_SIZE = 1000
MAX_IDS_PER_CALL = 100
DEFAULT_OVERLAP = timedelta(minutes=5)


def _chunks(ids: list[str], size: int = MAX_IDS_PER_CALL) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def wrike_timestamp(moment: datetime) -> str:
    """UTC ``yyyy-MM-ddTHH:mm:ssZ``; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def latest_update(tasks: Iterable[Mapping]) -> str | None:
    """The newest readable ``updatedDate`` among tasks, for the next watermark (unreadable ones are ignored)."""
    moments = {t["updatedDate"]: m for t in tasks if isinstance(t, Mapping) and (m := wrike_time(t.get("updatedDate")))}
    return max(moments, key=moments.__getitem__, default=None)


class WrikeClient(ApiSession):
    """One Wrike account, seen through one credential, for one workspace of the config."""

    source = "wrike"

    def __init__(
        self,
        base_url: str,
        *,
        workspace: str,
        token: str | None = None,
        oauth: OAuthSession | None = None,
        token_env: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        overlap: timedelta = DEFAULT_OVERLAP,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if (token is None) == (oauth is None):
            raise ValueError("give exactly one of token= (a permanent token) or oauth= (an OAuthSession)")
        super().__init__(base_url, workspace=workspace, timeout=timeout, retry=retry, sleep=sleep, transport=transport)
        self.configured_base_url = base_url.rstrip("/")
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self.overlap = overlap
        self._token = token.strip() if token is not None else None
        self._oauth = oauth
        self._token_env = token_env
        self._consecutive_429 = 0
        self._recycle_bin_id: str | None = None
        self._http.event_hooks["response"] = [self._refuse_redirect]
        self._follow_host()

    @classmethod
    def from_workspace(cls, ws: Any, *, env: Mapping[str, str] | None = None, **kwargs: Any) -> WrikeClient:
        """A client for a ``WrikeWorkspace`` of the config, reading secrets from ``env`` (default os.environ)."""
        env = os.environ if env is None else env
        oauth_cfg = getattr(ws, "oauth", None)
        if oauth_cfg is not None:
            missing = [n for n in (oauth_cfg.client_id_env, oauth_cfg.client_secret_env) if not env.get(n)]
            if missing:
                raise WrikeApiError(
                    f"workspace '{ws.key}': env var(s) {', '.join(missing)} (the Wrike OAuth client "
                    "id/secret from the App Console) are not set",
                    code="missing_secret",
                    workspace=ws.key,
                )
            session = OAuthSession(
                TokenStore(oauth_cfg.token_store),
                client_id=env[oauth_cfg.client_id_env].strip(),
                client_secret=env[oauth_cfg.client_secret_env].strip(),
                login_url=oauth_cfg.login_url,
                workspace=ws.key,
            )
            return cls(ws.base_url, workspace=ws.key, oauth=session, **kwargs)
        token = (env.get(ws.token_env or "") or "").strip()  # a pasted token often ends in a newline
        if not token:
            raise WrikeApiError(
                f"workspace '{ws.key}': env var {ws.token_env} is not set; put the Wrike permanent "
                "access token there (Wrike App Console > your app > Obtain token)",
                code="missing_secret",
                workspace=ws.key,
            )
        return cls(ws.base_url, workspace=ws.key, token=token, token_env=ws.token_env, **kwargs)

    def __repr__(self) -> str:
        auth = "oauth" if self._oauth else "permanent token"
        return f"WrikeClient(workspace='{self.workspace}', base_url='{self._http.base_url}', auth='{auth}')"

    # --- ApiSession hooks ----------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        if self._oauth is None:
            return {"Authorization": f"bearer {self._token}"}
        token = self._oauth.access_token()
        self._follow_host()
        return {"Authorization": f"bearer {token}"}

    def refresh_auth(self, response: httpx.Response) -> bool:
        if self._oauth is None:
            return False
        self._oauth.refresh(rejected=_token_of(response.request))
        self._follow_host()
        return True

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        if response.status_code != 429:
            return None
        self._consecutive_429 += 1
        retry_after = header_seconds(response.headers.get("Retry-After"))  # seconds or an HTTP date
        if retry_after is not None:
            return min(retry_after, 3600.0)
        return min(30.0, 2.0 ** (self._consecutive_429 - 1))

    def pace(self, response: httpx.Response) -> float:
        self._consecutive_429 = 0
        if self._oauth is not None:
            self._oauth.confirm(_token_of(response.request))
        return 0.0

    def error_for(self, response: httpx.Response, payload: Any) -> SourceApiError:
        payload = payload if isinstance(payload, dict) else {}
        code = _text(payload.get("error"))
        message, retryable = describe(
            workspace=self.workspace,
            status=response.status_code,
            code=code,
            description=_text(payload.get("errorDescription")),
            method=response.request.method,
            path=response.request.url.path,
            auth_fix=self._auth_fix(),
            base_url=self.configured_base_url,
        )
        return WrikeApiError(
            redact(message, self._secrets()),
            status=response.status_code,
            code=code,
            workspace=self.workspace,
            retryable=retryable,
        )

    def request(self, method: str, path: str, *, params: Any = None, json_body: Any = None, data: Any = None) -> Any:
        try:
            return super().request(method, path, params=params, json_body=json_body, data=data)
        except WrikeApiError as exc:
            exc.args = (redact(str(exc), self._secrets()),)
            raise
        except SourceApiError as exc:
            raise wrap(exc, self._secrets()) from None

    # --- reads -----------------------------------------------------------------------------------
    def account(self) -> dict:
        return self._data(self.get("/account"))[0]

    def spaces(self, *, include_archived: bool = False) -> list[dict]:
        return self._data(self.get("/spaces", {"withArchived": _flag(include_archived)}), "space")

    def folder_tree(self, space_id: str | None = None) -> list[dict]:
        """Tree entries (id, title, childIds, scope, project) of a space, or of the whole account."""
        path = f"/spaces/{space_id}/folders" if space_id else "/folders"
        return [f for f in self._data(self.get(path), "folder") if f.get("id") != space_id]

    def folders(self, ids: Iterable[str]) -> list[dict]:
        """Full folder/project models (parentIds, description, project, customFields, ...), 100 ids a call."""
        out: list[dict] = []
        for chunk in _chunks(list(dict.fromkeys(ids))):
            out += self._data(self.get(f"/folders/{','.join(chunk)}"), "folder")
        return out

    def space_folders(self, space_id: str) -> list[dict]:
        """Every folder and project below a space, as full models."""
        tree = self.folder_tree(space_id)
        return self.folders([f["id"] for f in tree if f.get("scope", "WsFolder") == "WsFolder"])

    def projects(self, space_id: str) -> list[dict]:
        return [f for f in self.space_folders(space_id) if "project" in f]

    def tasks_in_folder(
        self,
        folder_id: str,
        *,
        updated_since: datetime | str | None = None,
        descendants: bool = True,
        subtasks: bool = True,
        fields: Iterable[str] = TASK_FIELDS,
    ) -> list[dict]:
        """Tasks of a folder or project (and its subfolders), subtasks included, every page."""
        params = self._task_params(updated_since, fields, descendants=descendants, subtasks=subtasks)
        return latest_versions(self.iter_tasks(f"/folders/{folder_id}/tasks", params))

    def tasks_in_space(
        self,
        space_id: str,
        *,
        updated_since: datetime | str | None = None,
        subtasks: bool = True,
        fields: Iterable[str] = TASK_FIELDS,
    ) -> list[dict]:
        params = self._task_params(updated_since, fields, descendants=True, subtasks=subtasks)
        return latest_versions(self.iter_tasks(f"/spaces/{space_id}/tasks", params))

    def tasks_in_folders(
        self,
        folder_ids: Iterable[str],
        *,
        updated_since: datetime | str | None = None,
        fields: Iterable[str] = TASK_FIELDS,
    ) -> list[dict]:
        """Tasks of several folders/projects; a task in two of them (or in a subfolder) appears once."""
        merged: list[dict] = []
        for folder_id in dict.fromkeys(folder_ids):
            merged += self.tasks_in_folder(folder_id, updated_since=updated_since, fields=fields)
        return latest_versions(merged)

    def recycled_tasks(
        self, *, updated_since: datetime | str | None = None, fields: Iterable[str] = TASK_FIELDS
    ) -> list[dict]:
        """Tasks in the Recycle Bin (``scope: RbTask``), so deletions reach Cascade as archives."""
        params = self._task_params(updated_since, fields, descendants=True, subtasks=True)
        return latest_versions(self.iter_tasks(f"/folders/{self.recycle_bin_id()}/tasks", params))

    def recycle_bin_id(self) -> str:
        if self._recycle_bin_id is None:
            account = self.account()
            self._recycle_bin_id = account.get("recycleBinId") or next(
                f["id"] for f in self.folder_tree() if f.get("scope") == "RbRoot"
            )
        return self._recycle_bin_id

    def tasks(self, ids: Iterable[str], *, fields: Iterable[str] = ()) -> list[dict]:
        """Tasks by id with all standard fields, 100 ids a call."""
        out: list[dict] = []
        extra = {"fields": json.dumps(list(fields))} if fields else None
        for chunk in _chunks(list(dict.fromkeys(ids))):
            out += self._data(self.get(f"/tasks/{','.join(chunk)}", extra))
        return out

    def iter_tasks(self, path: str, params: dict[str, Any]) -> Iterator[dict]:
        """Follow ``nextPageToken`` to the end (repeating the filters, as Wrike's staff advise)."""
        seen_tokens: set[str] = set()
        query = dict(params, pageSize=self.page_size)
        while True:
            answer = self.get(path, query)
            page = self._data(answer)
            yield from page
            token = answer.get("nextPageToken") if isinstance(answer, dict) else None
            if not token or not page:
                return
            if token in seen_tokens:
                raise WrikeApiError(
                    f"workspace '{self.workspace}': Wrike repeated a nextPageToken on {path}; "
                    "stopping to avoid a loop, retry the run",
                    code="paging_loop",
                    workspace=self.workspace,
                    retryable=True,
                )
            seen_tokens.add(token)
            query = dict(params, pageSize=self.page_size, nextPageToken=token)

    def custom_fields(self) -> list[dict]:
        return self._data(self.get("/customfields"), "custom field")

    def custom_field_ids(self) -> dict[str, str]:
        """Custom field title -> id (for titles used by one field only; see custom_field_id)."""
        by_title: dict[str, list[str]] = {}
        for definition in self.custom_fields():
            by_title.setdefault(definition["title"], []).append(definition["id"])
        return {title: ids[0] for title, ids in by_title.items() if len(ids) == 1}

    def custom_field_id(self, title: str, *, space_id: str | None = None) -> str:
        """The id of the custom field called ``title`` (account-wide, or in ``space_id``)."""
        matches = [
            f
            for f in self.custom_fields()
            if f["title"] == title and (space_id is None or f.get("spaceId") in (None, space_id))
        ]
        if len(matches) == 1:
            return matches[0]["id"]
        if not matches:
            raise WrikeApiError(
                f"workspace '{self.workspace}': Wrike has no custom field named '{title}'; create a "
                "Text custom field with that name (Account Management > Custom fields) or name "
                "another one in the workspace config (cascade_id_field)",
                code="custom_field_missing",
                workspace=self.workspace,
            )
        raise WrikeApiError(
            f"workspace '{self.workspace}': {len(matches)} Wrike custom fields are named '{title}' "
            f"({', '.join(f['id'] for f in matches)}); rename all but one",
            code="custom_field_ambiguous",
            workspace=self.workspace,
        )

    def contacts(self) -> list[dict]:
        return self._data(self.get("/contacts"))

    def workflows(self) -> list[dict]:
        return self._data(self.get("/workflows"), "workflow")

    # --- writes ------------------------------------------------------------------------------------
    def set_custom_field(self, task_id: str, field_id: str, value: str | None) -> dict:
        """Set (or with None clear) one custom field of a task; returns the updated task."""
        entry = {"id": field_id, "value": value}
        answer = self.request("PUT", f"/tasks/{task_id}", data={"customFields": json.dumps([entry])})
        return self._data(answer)[0]

    def set_folder_custom_field(self, folder_id: str, field_id: str, value: str | None) -> dict:
        """Set (or with None clear) one custom field of a folder or project; returns the updated folder."""
        entry = {"id": field_id, "value": value}
        answer = self.request("PUT", f"/folders/{folder_id}", data={"customFields": json.dumps([entry])})
        return self._data(answer)[0]

    def create_webhook(
        self,
        hook_url: str,
        *,
        folder_id: str | None = None,
        space_id: str | None = None,
        secret: str | None = None,
        events: Iterable[str] | None = None,
        recursive: bool = False,
    ) -> dict:
        """Register a webhook on a folder, a space or (neither given) the whole account."""
        if folder_id and space_id:
            raise ValueError("a webhook watches a folder or a space, not both")
        path = (
            f"/folders/{folder_id}/webhooks"
            if folder_id
            else f"/spaces/{space_id}/webhooks"
            if space_id
            else "/webhooks"
        )
        form: dict[str, str] = {"hookUrl": hook_url}
        if secret:
            form["secret"] = secret
        if events is not None:
            form["events"] = "[" + ",".join(events) + "]"
        if folder_id and recursive:
            form["recursive"] = "true"
        return self._data(self.request("POST", path, data=form))[0]

    def webhooks(self) -> list[dict]:
        return self._data(self.get("/webhooks"))

    def set_webhook_status(self, webhook_id: str, status: str) -> dict:
        return self._data(self.request("PUT", f"/webhooks/{webhook_id}", params={"status": status}))[0]

    def delete_webhook(self, webhook_id: str) -> None:
        self.request("DELETE", f"/webhooks/{webhook_id}")

    # --- internals ---------------------------------------------------------------------------------
    def _task_params(
        self, updated_since: datetime | str | None, fields: Iterable[str], *, descendants: bool, subtasks: bool
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"descendants": _flag(descendants), "subTasks": _flag(subtasks)}
        fields = list(fields)
        if fields:
            params["fields"] = json.dumps(fields)
        if updated_since is not None:
            since = updated_since if isinstance(updated_since, datetime) else _parse(updated_since)
            params["updatedDate"] = json.dumps({"start": wrike_timestamp(since - self.overlap)})
        return params

    def _data(self, answer: Any, of: str | None = None) -> list[dict]:
        """The answer's data list; ``of`` names what it lists when every entry must carry an id (tasks
        are checked one by one by the extract, which skips and reports the bad ones)."""
        if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
            raise WrikeApiError(
                f"workspace '{self.workspace}': Wrike answered without a data list; the base_url "
                f"({self.configured_base_url}) may not point at the Wrike API v4",
                code="unexpected_answer",
                workspace=self.workspace,
                retryable=True,
            )
        for entry in answer["data"] if of else ():
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"]:
                title = entry.get("title") if isinstance(entry, dict) else None
                raise WrikeApiError(
                    f"workspace '{self.workspace}': Wrike answered with a {of} without an id (title "
                    f"{str(title)[:80]!r}); nothing was stored or replaced. Retry the run; if it persists, the "
                    "object is damaged in Wrike",
                    code="unexpected_answer",
                    workspace=self.workspace,
                    retryable=True,
                )
        return answer["data"]

    def _follow_host(self) -> None:
        host = self._oauth.host if self._oauth is not None else None
        if not host:
            return
        target = api_base_for_host(host, self.configured_base_url)
        if str(self._http.base_url).rstrip("/") != target:
            self._http.base_url = target

    def _refuse_redirect(self, response: httpx.Response) -> None:
        if 300 <= response.status_code < 400:
            response.read()
            raise self.error_for(response, _json_or_none(response))

    def _auth_fix(self) -> str:
        if self._oauth is not None:
            return (
                f"the OAuth refresh failed or the grant was revoked; re-run the OAuth bootstrap: "
                f"{bootstrap_hint(self.workspace)}"
            )
        where = f"env {self._token_env}" if self._token_env else "the token passed to the client"
        return f"replace the permanent token in {where} (Wrike App Console > your app > Obtain token)"

    def _secrets(self) -> list[str]:
        found = [self._token] if self._token else []
        if self._oauth is not None:
            found += self._oauth.secrets()
        return found

    def close(self) -> None:
        super().close()
        if self._oauth is not None:
            self._oauth.close()


def api_base_for_host(host: str, configured_base_url: str) -> str:
    """``{scheme}://{host}/api/v4``, keeping the configured scheme (https in production)."""
    if "://" in host:
        return host.rstrip("/") + ("" if host.rstrip("/").endswith("/api/v4") else "/api/v4")
    scheme = httpx.URL(configured_base_url).scheme or "https"
    return f"{scheme}://{host}/api/v4"


def latest_versions(tasks: Iterable[dict]) -> list[dict]:
    """One entry per id, the most recently updated version winning (an unreadable ``updatedDate`` counts as
    oldest); first-seen order kept. Entries without a usable id pass through untouched, for the extract to
    report and leave out."""
    by_id: dict[str, dict] = {}
    unusable: list = []
    oldest = datetime.min
    for task in tasks:
        identity = item_id(task.get("id")) if isinstance(task, dict) else None
        if identity is None:
            unusable.append(task)
            continue
        current = by_id.get(identity)
        if current is None or (wrike_time(task.get("updatedDate")) or oldest) >= (
            wrike_time(current.get("updatedDate")) or oldest
        ):
            by_id[identity] = task
    return list(by_id.values()) + unusable


def _token_of(request: httpx.Request) -> str:
    return request.headers.get("Authorization", "").partition(" ")[2]


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    """An error field as text: Wrike sends strings, but a proxy or an API change may send anything."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else json.dumps(value)[:200]
