"""Read one ClickUp workspace: hierarchy, custom field definitions and every task in scope.

A full extract lists active and archived tasks; an incremental one lists only tasks updated
since the watermark (minus an overlap, because ClickUp's date filter and clocks are not exact),
and the overlap is de-duplicated by task id. Archivals, deletions and moves out of scope are
picked up by the next full extract, which the orchestration runs on a reconciliation cadence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cascade_sync_pipeline.clickup.client import ClickUpClient, ClickUpError
from cascade_sync_pipeline.config import ClickUpWorkspace
from cascade_sync_pipeline.payloads import PayloadProblem, check_clickup_tasks, ms_value

INCREMENTAL_OVERLAP_MS = 5 * 60 * 1000
LIST_FILTER_CHUNK = 50  # list_ids[] per task query, so URLs stay short


@dataclass(frozen=True)
class HierarchyRow:
    object_type: str  # team | space | folder | list
    object_id: str
    parent_id: str | None
    payload: dict


@dataclass
class ClickUpExtract:
    mode: str
    hierarchy: list[HierarchyRow] | None  # None: not read (an items extract keeps the stored one)
    tasks: list[dict]
    custom_fields: list[tuple[str, dict]] | None = None  # (list_id, field definition); None when not read
    scoped_list_ids: list[str] = field(default_factory=list)
    problems: list[PayloadProblem] = field(default_factory=list)  # items skipped or values left out
    read_started_at: datetime | None = None  # when the read began (a full write keeps rows stored since)
    written: dict[str, int] = field(default_factory=dict)  # set by load.write_raw: written, kept_newer, removed
    deleted: list[str] = field(default_factory=list)  # stored tasks ClickUp no longer has (items extract)

    @property
    def max_updated_ms(self) -> int | None:
        stamps = [s for s in (ms_value(t.get("date_updated")) for t in self.tasks) if s is not None]
        return max(stamps) if stamps else None


def _pick(kind: str, entries: Iterable[str], objects: list[dict], workspace: str, path: str) -> set[str]:
    """Resolve scope entries (ID or exact name) to IDs, refusing unknown and ambiguous names."""
    chosen: set[str] = set()
    for i, entry in enumerate(entries):
        by_id = [o for o in objects if str(o["id"]) == str(entry)]
        by_name = [o for o in objects if o.get("name") == entry]
        hits = by_id or by_name
        if not hits:
            raise ClickUpError(
                f"workspace '{workspace}': {path}[{i}] = '{entry}' matches no {kind} the token can see; "
                f"use the {kind}'s ID or exact name, and check that the token's user has access to it",
                workspace=workspace,
                code="SCOPE_MISMATCH",
            )
        if len(hits) > 1:
            ids = ", ".join(str(o["id"]) for o in hits)
            raise ClickUpError(
                f"workspace '{workspace}': {path}[{i}] = '{entry}' names {len(hits)} {kind}s ({ids}); "
                "use the ID instead",
                workspace=workspace,
                code="SCOPE_AMBIGUOUS",
            )
        chosen.add(str(hits[0]["id"]))
    return chosen


def read_hierarchy(client: ClickUpClient, ws: ClickUpWorkspace) -> tuple[list[HierarchyRow], list[str]]:
    """The team, its spaces, folders and lists that fall in the workspace scope, and the scoped list IDs."""
    teams = client.teams()
    team = next((t for t in teams if str(t["id"]) == ws.team_id), None)
    if team is None:
        visible = ", ".join(f"{t['id']} ({t.get('name')})" for t in teams) or "none"
        raise ClickUpError(
            f"workspace '{ws.key}': team_id {ws.team_id} is not a Workspace the token in {ws.token_env} can see "
            f"(visible: {visible}); fix team_id or use a token of a member of that Workspace",
            workspace=ws.key,
            code="TEAM_NOT_VISIBLE",
        )

    spaces = client.spaces(ws.team_id)
    folders: list[dict] = []
    lists: list[dict] = []
    for space in spaces:
        for folder in client.folders(space["id"]):
            folders.append(folder)
            lists.extend(folder.get("lists") or [])
        lists.extend(client.folderless_lists(space["id"]))
        for obj in (*folders, *lists):  # the scope reads an object's own space; the one listing it stands in
            if isinstance(obj, dict) and (not isinstance(obj.get("space"), dict) or "id" not in obj["space"]):
                obj["space"] = {"id": space["id"]}
    for lst in lists:
        if not isinstance(lst, dict) or not lst.get("id"):
            raise ClickUpError(
                f"workspace '{ws.key}': ClickUp answered with a list without an id inside a folder "
                "listing; nothing was stored or replaced. Retry the run; if it persists, the list "
                "is damaged in ClickUp",
                workspace=ws.key,
                code="UNEXPECTED_ANSWER",
                retryable=True,
            )

    scope = ws.scope
    if scope.is_everything:
        keep_spaces = {str(s["id"]) for s in spaces}
        keep_lists = {str(lst["id"]) for lst in lists}
    else:
        sel_spaces = _pick("space", scope.spaces, spaces, ws.key, "scope.spaces")
        sel_folders = _pick("folder", scope.folders, folders, ws.key, "scope.folders")
        sel_lists = _pick("list", scope.lists, lists, ws.key, "scope.lists")
        keep_lists = {
            str(lst["id"])
            for lst in lists
            if str(lst["id"]) in sel_lists
            or str(lst["space"]["id"]) in sel_spaces
            or str((lst.get("folder") or {}).get("id")) in sel_folders
        }
        keep_spaces = {str(lst["space"]["id"]) for lst in lists if str(lst["id"]) in keep_lists} | sel_spaces

    kept_lists = [lst for lst in lists if str(lst["id"]) in keep_lists]
    keep_folders = {str(lst["folder"]["id"]) for lst in kept_lists if lst.get("folder")}
    rows = [HierarchyRow("team", str(team["id"]), None, team)]
    rows += [HierarchyRow("space", str(s["id"]), str(team["id"]), s) for s in spaces if str(s["id"]) in keep_spaces]
    rows += [
        HierarchyRow("folder", str(f["id"]), str(f["space"]["id"]), {k: v for k, v in f.items() if k != "lists"})
        for f in folders
        if str(f["id"]) in keep_folders
    ]
    for lst in kept_lists:
        folder = lst.get("folder") or {}
        parent = str(lst["space"]["id"]) if folder.get("hidden") or not folder else str(folder["id"])
        rows.append(HierarchyRow("list", str(lst["id"]), parent, lst))
    return rows, sorted(keep_lists)


def _task_pages(client: ClickUpClient, ws: ClickUpWorkspace, list_ids: list[str] | None, **filters):
    if list_ids is None:
        yield from client.team_task_pages(ws.team_id, **filters)
        return
    for start in range(0, len(list_ids), LIST_FILTER_CHUNK):
        yield from client.team_task_pages(ws.team_id, list_ids=list_ids[start : start + LIST_FILTER_CHUNK], **filters)


def _dedupe(tasks: Iterable[dict]) -> list[dict]:
    """One version per id, the most recently updated winning (an unreadable time counts as oldest)."""
    newest: dict[str, dict] = {}
    for task in tasks:
        current = newest.get(task["id"])
        if current is None or (ms_value(task.get("date_updated")) or 0) >= (ms_value(current.get("date_updated")) or 0):
            newest[task["id"]] = task
    return list(newest.values())


def _checked(ws: ClickUpWorkspace, tasks: list) -> tuple[list[dict], list[PayloadProblem]]:
    kept, problems = check_clickup_tasks(ws.key, tasks)
    return _dedupe(kept), problems


def extract_workspace(client: ClickUpClient, ws: ClickUpWorkspace, *, since_ms: int | None = None) -> ClickUpExtract:
    """Everything the staging needs from one workspace. ``since_ms`` set ⇒ incremental.

    Tasks without a usable id are left out and bad timestamps reported (``problems``); an answer without
    its list stops the read (the client raises) before anything is stored."""
    started = datetime.now(UTC)
    hierarchy, list_ids = read_hierarchy(client, ws)
    scoped = None if ws.scope.is_everything else list_ids
    if scoped == []:
        return ClickUpExtract(
            "full" if since_ms is None else "incremental",
            hierarchy,
            [],
            [] if since_ms is None else None,
            [],
            read_started_at=started,
        )

    if since_ms is None:
        custom_fields = [(lid, f) for lid in list_ids for f in client.list_fields(lid)]
        tasks, problems = _checked(
            ws,
            [
                t
                for archived in (False, True)
                for page in _task_pages(client, ws, scoped, archived=archived)
                for t in page
            ],
        )
        return ClickUpExtract("full", hierarchy, tasks, custom_fields, list_ids, problems, started)

    since = max(since_ms - INCREMENTAL_OVERLAP_MS, 0)
    tasks, problems = _checked(
        ws, [t for page in _task_pages(client, ws, scoped, archived=False, updated_since_ms=since) for t in page]
    )
    return ClickUpExtract("incremental", hierarchy, tasks, None, list_ids, problems, started)


def extract_items(
    client: ClickUpClient, ws: ClickUpWorkspace, task_ids: Iterable[str], *, stored: set[str], lists: set[str] | None
) -> ClickUpExtract:
    """Only the tasks ``task_ids`` (a webhook run), one ``GET /task/{id}`` each; the hierarchy and the
    field definitions stay as stored. A task ClickUp no longer has (``ITEM_013``, sent with 404 or 401)
    is ``deleted`` if it was ``stored``; a task of another Workspace, or whose home list is not among
    ``lists`` (the scoped lists; None: every list), is left out, so it costs no write anywhere."""
    started = datetime.now(UTC)
    tasks, deleted = [], []
    for task_id in dict.fromkeys(task_ids):
        try:
            task = client.task(task_id)
        except ClickUpError as err:
            if err.code == "ITEM_013":
                deleted += [task_id] if task_id in stored else []
                continue
            raise
        home = str((task.get("list") or {}).get("id")) if isinstance(task, dict) else None
        if str(task.get("team_id", ws.team_id)) != ws.team_id or (lists is not None and home not in lists):
            continue
        tasks.append(task)
    kept, problems = _checked(ws, tasks)
    return ClickUpExtract("items", None, kept, None, sorted(lists or ()), problems, started, deleted=deleted)
