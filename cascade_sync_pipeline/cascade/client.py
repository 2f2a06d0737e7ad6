"""The one place that knows Cascade's HTTP API (see ``openapi.yaml`` and ``CONTRACT.md``).

Plain Python, no Dagster. Built on :class:`~cascade_sync_pipeline.http.ApiSession`, which retries
5xx answers, timeouts and dropped connections with backoff and waits out 429s; this module adds
Cascade's paging, chunked id filters, partial updates, idempotent creates and errors that say
what to fix. When the real Cascade endpoints differ from the contract, change them here.
"""

from __future__ import annotations

import email.utils
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

import httpx

from ..config import CascadeConnection
from ..http import ApiSession, RetryPolicy, SourceApiError

COLLECTIONS = {"plan": "plans", "focus_area": "focus-areas", "objective": "objectives",
               "action": "actions", "measure": "measures"}
ACTION_CHILDREN = {"milestone": "milestones", "checklist_item": "checklist-items"}
CUSTOM_FIELD_KINDS = ("objective", "action", "measure")
SET_FIELDS = ("owner_ids", "collaborator_ids")  # compared as sets: order carries no meaning
FIRST_OFFSET = 1  # Cascade's documented default offset; the emulator treats offsets as 1-based
MAX_FILTER_CHARS = 1500  # keeps a chunk's query string well under common 8 KB URL limits
TOKEN_HELP = "create a new API token (Profile > System > Security > + Add Token)"


@dataclass(frozen=True)
class ExternalRef:
    """Where a Cascade item comes from: one item of one source workspace."""

    source: str
    workspace: str
    item_id: str

    def as_dict(self) -> dict[str, str]:
        return {"source": self.source, "workspace": self.workspace, "item_id": self.item_id}

    @classmethod
    def of(cls, value: ExternalRef | Mapping[str, Any]) -> ExternalRef:
        if isinstance(value, ExternalRef):
            return value
        return cls(str(value["source"]), str(value["workspace"]), str(value["item_id"]))

    def __str__(self) -> str:
        return f"{self.source}:{self.workspace}:{self.item_id}"


class CascadeApiError(SourceApiError):
    """A Cascade call failed for good; ``str()`` names the item, the status/code and the fix."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 workspace: str | None = None, item: str | None = None, details: dict | None = None,
                 retryable: bool = False) -> None:
        super().__init__(message, status=status, code=code, workspace=workspace, retryable=retryable)
        self.item = item
        self.details = details or {}


class CascadeClient(ApiSession):
    """Cascade over HTTP: list/get/create/update/archive, custom fields, milestones, checklists.

    ``kind`` is one of ``plan``, ``focus_area``, ``objective``, ``action``, ``measure`` (the
    names ``sync.id_map.cascade_type`` uses). ``writes`` counts calls that changed Cascade;
    ``recovered_creates`` counts creates answered with an existing item after a 409.
    """

    source = "Cascade"

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0, retry: RetryPolicy | None = None,
                 token_env: str = "CASCADE_TOKEN", workspace: str = "cascade", page_size: int = 100,
                 ids_per_request: int = 50, sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(base_url, workspace=workspace, timeout=timeout, retry=retry, sleep=sleep,
                         transport=transport)
        self.__token = token
        self.token_env = token_env
        self.page_size = page_size
        self.ids_per_request = ids_per_request
        self.writes = 0
        self.recovered_creates = 0
        self._base_path = httpx.URL(base_url.rstrip("/")).path

    @classmethod
    def from_connection(cls, connection: CascadeConnection, **kwargs) -> CascadeClient:
        """A client for the configured connection, its token read from the named env var."""
        token = os.environ.get(connection.token_env, "").strip()
        if not token:
            raise CascadeApiError(
                f"env {connection.token_env} is empty or not set: put a Cascade API token there "
                f"({TOKEN_HELP}; the API needs an Enterprise plan)", status=None, code="NO_TOKEN")
        return cls(connection.base_url, token, token_env=connection.token_env, **kwargs)

    def __repr__(self) -> str:
        return f"CascadeClient(base_url={str(self._http.base_url)!r}, token_env={self.token_env!r})"

    # --- ApiSession hooks ----------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.__token}", "Accept": "application/json"}

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        if response.status_code != 429:
            return None
        return _retry_after_seconds(response.headers.get("Retry-After"))

    def error_for(self, response: httpx.Response, payload: Any) -> CascadeApiError:
        error = payload.get("error") if isinstance(payload, dict) else None
        error = error if isinstance(error, dict) else {}
        code = str(error.get("code") or f"HTTP_{response.status_code}")
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
        server_says = self._redact(str(error.get("message") or response.reason_phrase or "").strip())
        item = self._describe_request(response.request)
        status = response.status_code
        head = f"Cascade answered HTTP {status} {code} on {item}"
        if status == 401:
            fix = f"the Cascade token in env {self.token_env} was rejected; {TOKEN_HELP} and store it in {self.token_env}"
        elif status == 403:
            fix = (f"the Cascade user behind the token in env {self.token_env} may not do this; issue the token "
                   "to a user with edit rights on the plan (a token acts with its user's permissions)")
        elif status == 404:
            fix = (f"{server_says or item + ' does not exist'} (deleted in Cascade, or a wrong id in the "
                   "config); drop its row from sync.id_map so the next run re-creates it, or fix the configured id")
        elif status == 409:
            fix = (f"{server_says}; another Cascade item already carries this external_ref: re-link that "
                   "item in sync.id_map instead of creating a new one")
        elif status == 422:
            field = details.get("field")
            fix = (f"{server_says}; fix {'field ' + repr(field) if field else 'the value'} in the source item "
                   "or in the workspace's mapping rules")
        else:
            fix = server_says or "unexpected answer"
        return CascadeApiError(f"{head}: {fix}", status=status, code=code, workspace=self.workspace,
                               item=item, details=details)

    # --- reads ---------------------------------------------------------------------------------
    def list_items(self, kind: str, *, ids: Iterable[int] | None = None, archived: bool | None = False,
                   **filters: Any) -> list[dict]:
        """Every item of ``kind`` matching the filters, all pages, ids chunked to short URLs.

        ``archived``: False (default) active only, True archived only, None both. Filters are the
        contract's query parameters (``objective_id=[1, 2]``, ``external_source="clickup"``...);
        list values are sent comma-separated.
        """
        params = {"archived": {False: "false", True: "true", None: "any"}[archived]}
        params.update({k: _csv(v) for k, v in filters.items() if v is not None})
        path = f"/{_collection(kind)}"
        if ids is None:
            return self._paginate(path, params)
        out: dict[int, dict] = {}
        for chunk in _chunks([str(i) for i in ids], self.ids_per_request):
            for row in self._paginate(path, {**params, "id": ",".join(chunk)}):
                out.setdefault(row["id"], row)
        return list(out.values())

    def get_item(self, kind: str, item_id: int, *, missing_ok: bool = False) -> dict | None:
        try:
            return _unwrap(self.request("GET", f"/{_collection(kind)}/{item_id}"))
        except CascadeApiError as err:
            if missing_ok and err.status == 404:
                return None
            raise

    def find_by_external_ref(self, ref: ExternalRef | Mapping[str, Any], *, kind: str | None = None) -> dict | None:
        """The item (archived or not) that carries ``ref``, searching ``kind`` or every kind."""
        ref = ExternalRef.of(ref)
        for candidate in ([kind] if kind else list(COLLECTIONS)):
            rows = self.list_items(candidate, archived=None, external_source=ref.source,
                                   external_workspace=ref.workspace, external_item_id=ref.item_id)
            if rows:
                return rows[0]
        return None

    def synced_items(self, kind: str, source: str, workspace: str,
                     item_ids: Iterable[str] | None = None) -> dict[str, dict]:
        """Items of ``kind`` synced from one workspace (archived ones too), by source item id."""
        filters = {"external_source": source, "external_workspace": workspace}
        if item_ids is None:
            rows = self.list_items(kind, archived=None, **filters)
        else:
            rows = []
            for chunk in _chunks(list(item_ids), self.ids_per_request):
                rows += self.list_items(kind, archived=None, external_item_id=chunk, **filters)
        return {row["external_ref"]["item_id"]: row for row in rows if row.get("external_ref")}

    # --- writes --------------------------------------------------------------------------------
    def create(self, kind: str, fields: Mapping[str, Any]) -> dict:
        """Create an item; with an ``external_ref`` the call is idempotent (see ``_create``)."""
        return self._create(kind, f"/{_collection(kind)}", dict(fields))

    def update(self, kind: str, item_id: int, changes: Mapping[str, Any], *,
               current: Mapping[str, Any] | None = None) -> dict:
        """PATCH the fields in ``changes`` that differ from ``current`` (all of them without it).

        Nothing differs: no request, ``current`` is returned as it is.
        """
        body = changed_fields(current, changes) if current is not None else dict(changes)
        if not body:
            return dict(current or {})
        return self._write("PATCH", f"/{_collection(kind)}/{item_id}", body)

    def archive(self, kind: str, item_id: int) -> dict:
        """Archive, Cascade's way of removing an item without losing its history."""
        return self._write("PATCH", f"/{_collection(kind)}/{item_id}", {"archived": True})

    def unarchive(self, kind: str, item_id: int) -> dict:
        return self._write("PATCH", f"/{_collection(kind)}/{item_id}", {"archived": False})

    # --- custom fields -------------------------------------------------------------------------
    def custom_fields(self, applies_to: str | None = None) -> list[dict]:
        """Custom field definitions, optionally only those usable on one kind."""
        params = {"applies_to": applies_to} if applies_to else {}
        return self._paginate("/custom-fields", params)

    def custom_field_ids(self, applies_to: str | None = None) -> dict[str, int]:
        """Field name → id, to turn a mapping's field names into the ids Cascade takes."""
        return {f["name"]: f["id"] for f in self.custom_fields(applies_to)}

    def custom_field_values(self, kind: str, item_id: int) -> list[dict]:
        _check_cf_kind(kind)
        return self.request("GET", f"/{_collection(kind)}/{item_id}/custom-field-values")["data"]

    def set_custom_field_values(self, kind: str, item_id: int, values: Mapping[int, Any]) -> list[dict]:
        """Set the given field id → value pairs (None clears a field); other fields keep theirs."""
        _check_cf_kind(kind)
        body = {"values": [{"field_id": fid, "value": value} for fid, value in values.items()]}
        payload = self._write_raw("PATCH", f"/{_collection(kind)}/{item_id}/custom-field-values", body)
        return payload["data"]

    # --- users ---------------------------------------------------------------------------------
    def users(self, emails: Iterable[str] | None = None) -> list[dict]:
        if emails is None:
            return self._paginate("/users", {})
        out: dict[int, dict] = {}
        for chunk in _chunks(sorted({e.strip().lower() for e in emails if e and e.strip()}), self.ids_per_request):
            for row in self._paginate("/users", {"email": ",".join(chunk)}):
                out.setdefault(row["id"], row)
        return list(out.values())

    def users_by_email(self) -> dict[str, dict]:
        """Every Cascade user by lower-cased email, for matching source assignees to owners."""
        return {u["email"].lower(): u for u in self.users() if u.get("email")}

    # --- milestones and checklist items of an action ------------------------------------------
    def milestones(self, action_id: int) -> list[dict]:
        return self._paginate(f"/actions/{action_id}/milestones", {})

    def create_milestone(self, action_id: int, fields: Mapping[str, Any]) -> dict:
        return self._create("milestone", f"/actions/{action_id}/milestones", dict(fields))

    def update_milestone(self, action_id: int, milestone_id: int, changes: Mapping[str, Any], *,
                         current: Mapping[str, Any] | None = None) -> dict:
        return self._update_child("milestones", action_id, milestone_id, changes, current)

    def delete_milestone(self, action_id: int, milestone_id: int) -> None:
        self._delete(f"/actions/{action_id}/milestones/{milestone_id}")

    def checklist_items(self, action_id: int) -> list[dict]:
        return self._paginate(f"/actions/{action_id}/checklist-items", {})

    def create_checklist_item(self, action_id: int, fields: Mapping[str, Any]) -> dict:
        return self._create("checklist_item", f"/actions/{action_id}/checklist-items", dict(fields))

    def update_checklist_item(self, action_id: int, item_id: int, changes: Mapping[str, Any], *,
                              current: Mapping[str, Any] | None = None) -> dict:
        return self._update_child("checklist-items", action_id, item_id, changes, current)

    def delete_checklist_item(self, action_id: int, item_id: int) -> None:
        self._delete(f"/actions/{action_id}/checklist-items/{item_id}")

    # --- internals -----------------------------------------------------------------------------
    def _create(self, kind: str, path: str, body: dict) -> dict:
        """POST; on 409 EXTERNAL_REF_CONFLICT return the item that already holds the external_ref.

        A create whose answer was lost (connection dropped after Cascade stored it) is retried by
        ApiSession; the retry hits 409 and the stored item comes back instead of a duplicate.
        """
        if isinstance(body.get("external_ref"), ExternalRef):
            body["external_ref"] = body["external_ref"].as_dict()
        retries_before = self.stats.retries
        try:
            return self._write("POST", path, body)
        except CascadeApiError as err:
            if err.status != 409 or not body.get("external_ref"):
                raise
            existing = self._holder_of(kind, path, body["external_ref"], err)
        if self.stats.retries > retries_before:
            self.writes += 1  # our own earlier attempt stored it; its answer was lost
        self.recovered_creates += 1
        return existing

    def _holder_of(self, kind: str, path: str, ref: dict, err: CascadeApiError) -> dict:
        holder_kind = err.details.get("existing_type", kind)
        holder_id = err.details.get("existing_id")
        if holder_kind != kind:
            raise CascadeApiError(
                f"{err}. The source item already maps to {holder_kind} {holder_id}, so it cannot also become "
                f"a {kind.replace('_', ' ')}: fix the workspace's mapping rules, or clear the external_ref of "
                f"{holder_kind} {holder_id} in Cascade", status=409, code=err.code, workspace=self.workspace,
                item=err.item, details=err.details) from err
        if holder_id is not None:
            if kind in ACTION_CHILDREN:
                return _unwrap(self.request("GET", f"{path}/{holder_id}"))
            return self.get_item(kind, holder_id)
        found = self.find_by_external_ref(ref, kind=kind) if kind in COLLECTIONS else None
        if found is None:
            raise err
        return found

    def _update_child(self, collection: str, action_id: int, item_id: int, changes: Mapping[str, Any],
                      current: Mapping[str, Any] | None) -> dict:
        body = changed_fields(current, changes) if current is not None else dict(changes)
        if not body:
            return dict(current or {})
        return self._write("PATCH", f"/actions/{action_id}/{collection}/{item_id}", body)

    def _delete(self, path: str) -> None:
        """DELETE that tolerates "already gone", so a retry after a lost answer is not an error."""
        retries_before = self.stats.retries
        try:
            self._write_raw("DELETE", path, None)
        except CascadeApiError as err:
            if err.status != 404:
                raise
            if self.stats.retries > retries_before:
                self.writes += 1  # the lost first attempt did delete it

    def _write(self, method: str, path: str, body: Any) -> dict:
        return _unwrap(self._write_raw(method, path, body))

    def _write_raw(self, method: str, path: str, body: Any) -> Any:
        payload = self.request(method, path, json_body=body)
        self.writes += 1
        return payload

    def _paginate(self, path: str, params: dict[str, Any]) -> list[dict]:
        """All pages of a list: next offset = served offset + rows served, until ``meta.total``.

        Robust to a server that caps ``limit`` and to either offset base (it follows
        ``meta.offset``); a listing that ends short of ``meta.total`` is an error, never a
        silently truncated result.
        """
        rows: dict[Any, dict] = {}
        total: int | None = None
        for page, meta in self._pages(path, params):
            added = 0
            for row in page:
                if row.get("id") not in rows:
                    rows[row.get("id")] = row
                    added += 1
            total = meta.get("total", total)
            if not page or (total is not None and len(rows) >= total):
                break
            if added == 0:
                raise CascadeApiError(
                    f"Cascade listing {path} served a page with no new items; the server ignores "
                    "'offset': report it, the contract in cascade/openapi.yaml may be outdated",
                    status=None, code="PAGING", workspace=self.workspace, item=path)
            if total is None and len(page) < int(meta.get("limit", self.page_size)):
                break
        if total is not None and len(rows) < total:
            raise CascadeApiError(
                f"Cascade listing {path} ended after {len(rows)} of {total} items (items changed while "
                "paging); rerun the sync", status=None, code="PAGING", workspace=self.workspace,
                item=path, retryable=True)
        return list(rows.values())

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[tuple[list[dict], dict]]:
        offset: int | None = None
        while True:
            query = {**params, "limit": self.page_size}
            if offset is not None:
                query["offset"] = offset
            payload = self.request("GET", path, params=query)
            page, meta = _rows_and_meta(payload)
            yield page, meta
            start = int(meta.get("offset", FIRST_OFFSET if offset is None else offset))
            offset = start + len(page)

    def _describe_request(self, request: httpx.Request) -> str:
        """What the failed call was about, in words: "action 123", "new action 'X' (clickup:a:1)"."""
        path = request.url.path
        if self._base_path and path.startswith(self._base_path):
            path = path[len(self._base_path):]
        parts = [p for p in path.split("/") if p]
        if not parts:
            return path or "/"
        names = {**{v: k for k, v in COLLECTIONS.items()}, **{v: k for k, v in ACTION_CHILDREN.items()},
                 "users": "user", "custom-fields": "custom field"}
        name = lambda segment: names.get(segment, segment).replace("_", " ")  # noqa: E731
        owner = f"{name(parts[0])} {parts[1]}" if len(parts) > 1 else ""
        if len(parts) == 1:
            return f"new {name(parts[0])}{self._body_label(request)}" if request.method == "POST" \
                else f"{name(parts[0])} list"
        if len(parts) == 2:
            return owner
        if parts[2] == "custom-field-values":
            return f"custom field values of {owner}"
        if len(parts) == 3:
            return f"new {name(parts[2])}{self._body_label(request)} of {owner}" if request.method == "POST" \
                else f"{name(parts[2])} list of {owner}"
        return f"{name(parts[2])} {parts[3]} of {owner}"

    @staticmethod
    def _body_label(request: httpx.Request) -> str:
        import json

        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            return ""
        if not isinstance(body, dict):
            return ""
        label = f" '{body['name']}'" if isinstance(body.get("name"), str) else ""
        ref = body.get("external_ref")
        if isinstance(ref, dict) and {"source", "workspace", "item_id"} <= set(ref):
            label += f" ({ExternalRef.of(ref)})"
        return label

    def _redact(self, text: str) -> str:
        return text.replace(self.__token, "***") if self.__token else text


# --- helpers ----------------------------------------------------------------------------------------
def changed_fields(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``desired`` that differs from ``current``, as a PATCH body.

    Owner/collaborator lists compare as sets; ``custom_field_values`` keeps only the fields whose
    value differs (a missing value equals null); ``ExternalRef`` values become plain objects.
    """
    current = current or {}
    body: dict[str, Any] = {}
    for field, value in desired.items():
        if isinstance(value, ExternalRef):
            value = value.as_dict()
        have = current.get(field)
        if field in SET_FIELDS:
            if set(value or []) != set(have or []):
                body[field] = list(value or [])
        elif field == "custom_field_values":
            held = {v["field_id"]: v.get("value") for v in (have or [])}
            delta = [v for v in value if held.get(v["field_id"]) != v.get("value")]
            if delta:
                body[field] = delta
        elif field not in current or have != value:
            body[field] = value
    return body


def _retry_after_seconds(value: str | None) -> float:
    """Retry-After as seconds: delta-seconds or an HTTP date; 1 s when absent or unreadable."""
    if not value:
        return 1.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 1.0
    return max(0.0, when.timestamp() - time.time())


def _collection(kind: str) -> str:
    try:
        return COLLECTIONS[kind]
    except KeyError:
        raise ValueError(f"unknown Cascade kind {kind!r}; one of {', '.join(COLLECTIONS)}") from None


def _check_cf_kind(kind: str) -> None:
    if kind not in CUSTOM_FIELD_KINDS:
        raise ValueError(f"custom field values live on {', '.join(CUSTOM_FIELD_KINDS)}, not on {kind!r}")


def _csv(value: Any) -> str:
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(str(v) for v in value)
    return str(value)


def _chunks(values: list[str], max_items: int, max_chars: int = MAX_FILTER_CHARS) -> Iterator[list[str]]:
    chunk: list[str] = []
    size = 0
    for value in values:
        if chunk and (len(chunk) >= max_items or size + len(value) + 1 > max_chars):
            yield chunk
            chunk, size = [], 0
        chunk.append(value)
        size += len(value) + 1
    if chunk:
        yield chunk


def _unwrap(payload: Any) -> Any:
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
        return payload["data"]
    return payload


def _rows_and_meta(payload: Any) -> tuple[list[dict], dict]:
    if isinstance(payload, list):
        return payload, {}
    if isinstance(payload, dict) and isinstance(payload.get("data"), list):
        meta = payload.get("meta")
        return payload["data"], meta if isinstance(meta, dict) else {}
    raise CascadeApiError(f"Cascade answered a list call with an unexpected body ({type(payload).__name__}); "
                          "the contract in cascade/openapi.yaml may be outdated", code="UNEXPECTED_BODY")
