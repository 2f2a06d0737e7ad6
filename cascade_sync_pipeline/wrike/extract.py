"""Read one Wrike account: spaces, the folder tree as full models, tasks, and the reference lists.

Requests are counted, so the read is shaped to need few of them:

* hierarchy: ``GET /spaces``, the account-wide ``GET /folders`` tree (it also names the Recycle
  Bin) and the full folder/project models by id (100 a call); re-read on every run, because
  projects are work items and Wrike offers no cheap "folders changed since" query;
* tasks: one ``GET /spaces/{id}/tasks`` listing per space plus one of the Recycle Bin, each
  paged 1,000 at a time (subtasks included); a task that sits in two spaces is kept once;
* reference lists (custom field definitions, workflows, contacts): one call each on a full
  read. An incremental read fetches one again only when a changed task or project points at an
  id the warehouse does not hold yet (a new custom status, field or person); renames of those
  are picked up by the next full read, which the orchestration runs on a reconciliation cadence.

An incremental read lists only tasks updated since the watermark (the client widens the window
by an overlap). Tasks deleted in Wrike move to the Recycle Bin with a new ``updatedDate``, so the
incremental Recycle Bin listing turns them into archived work items without a full read.
Plain Python: no Dagster imports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cascade_sync_pipeline.config import WrikeWorkspace
from cascade_sync_pipeline.payloads import PayloadProblem, check_wrike_tasks
from cascade_sync_pipeline.wrike.client import WrikeClient, latest_update, latest_versions
from cascade_sync_pipeline.wrike.errors import WrikeApiError

REFERENCE_LISTS = ("custom_fields", "workflows", "contacts")


@dataclass(frozen=True)
class KnownReferences:
    """Ids whose definitions the warehouse already holds (from the last reads of the reference lists)."""

    field_ids: frozenset[str] = frozenset()
    status_ids: frozenset[str] = frozenset()
    contact_ids: frozenset[str] = frozenset()
    contacts_field_ids: frozenset[str] = frozenset()  # fields of type Contacts: their values are contact ids


@dataclass
class WrikeExtract:
    mode: str  # full | incremental | items
    spaces: list[dict] | None  # None: not read (an items extract keeps the stored hierarchy)
    folders: list[dict] | None  # full models of plain folders and projects, Recycle Bin included
    tasks: list[dict]
    custom_fields: list[dict] | None = None  # None: not read this time, keep what is stored
    workflows: list[dict] | None = None
    contacts: list[dict] | None = None
    recycle_bin_id: str | None = None
    refreshed: list[str] = field(default_factory=list)  # reference lists re-read by an incremental read
    problems: list[PayloadProblem] = field(default_factory=list)  # items skipped or values left out
    notes: list[str] = field(default_factory=list)  # parts of the account this read could not see
    read_started_at: datetime | None = None  # when the read began (a full write keeps rows stored since)
    written: dict[str, int] = field(default_factory=dict)  # set by load.write_raw: written, kept_newer, removed

    @property
    def projects(self) -> list[dict]:
        return [f for f in self.folders or [] if "project" in f]

    @property
    def max_updated(self) -> str | None:
        return latest_update(self.tasks)


def read_hierarchy(client: WrikeClient, ws: WrikeWorkspace) -> tuple[list[dict], list[dict], str | None]:
    """(spaces, full folder and project models, Recycle Bin id) of everything the credential sees."""
    spaces = client.spaces()
    if not spaces:
        raise WrikeApiError(
            f"workspace '{ws.key}': the Wrike credential sees no space; share at least one space with the "
            "token's user (or use a token of a user who is a member of the spaces to sync)",
            code="no_spaces",
            workspace=ws.key,
        )
    space_ids = {s["id"] for s in spaces}
    tree = client.folder_tree()
    recycle_bin = next((e["id"] for e in tree if e.get("scope") == "RbRoot"), None)
    folder_ids = [
        e["id"]
        for e in tree
        if e.get("scope") in ("WsFolder", "RbFolder") and not e.get("space") and e["id"] not in space_ids
    ]
    return spaces, client.folders(folder_ids), recycle_bin


def _pick(kind: str, entries: Iterable[str], objects: list[dict], workspace: str, path: str) -> set[str]:
    """Resolve scope entries (ID or exact title) to IDs, refusing unknown and ambiguous titles."""
    chosen: set[str] = set()
    for i, entry in enumerate(entries):
        hits = [o for o in objects if o["id"] == entry] or [o for o in objects if o.get("title") == entry]
        if len(hits) != 1:
            problem = (
                f"names {len(hits)} {kind}s ({', '.join(o['id'] for o in hits)}); use the ID instead"
                if hits
                else f"matches no {kind} the credential can see; use the {kind}'s ID or exact title and "
                "check that the token's user has access to it"
            )
            raise WrikeApiError(
                f"workspace '{workspace}': {path}[{i}] = '{entry}' {problem}",
                code="scope_mismatch",
                workspace=workspace,
            )
        chosen.add(hits[0]["id"])
    return chosen


@dataclass(frozen=True)
class ScopedHierarchy:
    spaces: list[dict]  # spaces holding anything in scope
    folders: list[dict]  # folders and projects in scope
    space_listings: list[str]  # spaces whose every task is in scope
    folder_listings: list[str]  # folders/projects listed on their own (not under a listed space)


def apply_scope(ws: WrikeWorkspace, spaces: list[dict], folders: list[dict]) -> ScopedHierarchy:
    """The part of the account inside the workspace scope, and the task listings that cover it.

    A scoped space brings everything below it; a scoped folder or project brings its subtree. Tasks
    are listed per scoped space and per scoped folder/project outside those spaces.
    """
    scope = ws.scope
    picked_spaces = _pick("space", scope.spaces, spaces, ws.key, "scope.spaces")
    picked_folders = _pick(
        "folder", scope.folders, [f for f in folders if "project" not in f], ws.key, "scope.folders"
    ) | _pick("project", scope.projects, [f for f in folders if "project" in f], ws.key, "scope.projects")
    by_id = {f["id"]: f for f in folders}

    def ancestors(folder_id: str, seen: frozenset = frozenset()) -> set[str]:
        found: set[str] = set()
        for parent in by_id.get(folder_id, {}).get("parentIds") or []:
            if parent not in seen:
                found |= {parent} | ancestors(parent, seen | {folder_id})
        return found

    lineage = {f["id"]: ancestors(f["id"]) for f in folders}
    kept = [f for f in folders if f["id"] in picked_folders or lineage[f["id"]] & (picked_folders | picked_spaces)]
    kept_ids = {f["id"] for f in kept}
    space_ids = picked_spaces | {a for f in kept for a in lineage[f["id"]] if a not in by_id}
    return ScopedHierarchy(
        spaces=[s for s in spaces if s["id"] in space_ids],
        folders=[f for f in folders if f["id"] in kept_ids],
        space_listings=sorted(picked_spaces),
        folder_listings=sorted(fid for fid in picked_folders if not lineage[fid] & picked_spaces),
    )


def read_tasks(
    client: WrikeClient,
    spaces: list[dict],
    recycle_bin_id: str | None,
    updated_since: str | None = None,
    notes: list[str] | None = None,
) -> list[dict]:
    """Every task of the spaces, and of the Recycle Bin. A Recycle Bin the credential may not list (403,
    404: some licences and user types cannot) is left out with a note in ``notes``, not a failure."""
    tasks: list[dict] = []
    for space in spaces:
        tasks += client.tasks_in_space(space["id"], updated_since=updated_since)
    if recycle_bin_id:
        try:
            tasks += client.tasks_in_folder(recycle_bin_id, updated_since=updated_since)
        except WrikeApiError as err:
            if err.status not in (403, 404):
                raise
            if notes is not None:
                notes.append(recycle_bin_note(client.workspace, err, incremental=updated_since is not None))
    return latest_versions(tasks)


def recycle_bin_note(workspace: str, err: WrikeApiError, *, incremental: bool) -> str:
    what = f"HTTP {err.status} {err.code or ''}".strip()
    if incremental:
        return (
            f"workspace '{workspace}': the Recycle Bin could not be listed ({what}), so tasks deleted in Wrike "
            "since the last read were not seen; deletions will only be seen at the next full read (where deleted "
            "tasks are missing from the listing). To see them sooner, let the token's user list the Recycle Bin"
        )
    return (
        f"workspace '{workspace}': the Recycle Bin could not be listed ({what}); this full read sees deleted tasks "
        "only as missing from the listing, and incremental reads will not see deletions until the next full "
        "read. To see them sooner, let the token's user list the Recycle Bin"
    )


def _referenced(items: list[dict], contacts_field_ids: frozenset[str]) -> tuple[set[str], set[str], set[str]]:
    """(custom field ids, custom status ids, contact ids) that tasks and projects point at."""
    fields: set[str] = set()
    statuses: set[str] = set()
    contacts: set[str] = set()
    for item in items:
        project = item.get("project")
        if not isinstance(project, dict):
            project = {}
        status = item.get("customStatusId") or project.get("customStatusId")
        if isinstance(status, str) and status:
            statuses.add(status)
        for people in (item.get("responsibleIds"), project.get("ownerIds")):
            contacts.update(c for c in (people if isinstance(people, list) else []) if isinstance(c, str))
        entries = item.get("customFields")
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                continue
            fields.add(entry["id"])
            if entry["id"] in contacts_field_ids and entry.get("value"):
                contacts.update(c.strip() for c in str(entry["value"]).split(",") if c.strip())
    return fields, statuses, contacts


def _refresh_stale(client: WrikeClient, extract: WrikeExtract, known: KnownReferences) -> None:
    """Re-read a reference list only when a changed item points at an id it does not define yet."""
    items = extract.tasks + extract.projects
    fields, _, _ = _referenced(items, known.contacts_field_ids)
    contacts_fields = known.contacts_field_ids
    if fields - known.field_ids:
        extract.custom_fields = client.custom_fields()
        extract.refreshed.append("custom_fields")
        contacts_fields = frozenset(f["id"] for f in extract.custom_fields if f.get("type") == "Contacts")
    _, statuses, contacts = _referenced(items, contacts_fields)
    if statuses - known.status_ids:
        extract.workflows = client.workflows()
        extract.refreshed.append("workflows")
    if contacts - known.contact_ids:
        extract.contacts = client.contacts()
        extract.refreshed.append("contacts")


def extract_account(
    client: WrikeClient, ws: WrikeWorkspace, *, since: str | None = None, known: KnownReferences | None = None
) -> WrikeExtract:
    """Everything the staging needs from one Wrike account. ``since`` (a Wrike timestamp) ⇒ incremental.

    Tasks without a usable id are left out and bad timestamps reported (``problems``); a Recycle Bin that
    cannot be listed is reported in ``notes``; an answer without its data list stops the read (the client
    raises) before anything is stored."""
    started = datetime.now(UTC)
    notes: list[str] = []
    spaces, folders, recycle_bin = read_hierarchy(client, ws)
    if ws.scope.is_everything:
        tasks = read_tasks(client, spaces, recycle_bin, since, notes)
    else:
        # Recycled tasks have left their folders, so a scoped read cannot tell whose they were:
        # deletions in a scoped workspace surface at the next full read, as the task disappears.
        scoped = apply_scope(ws, spaces, folders)
        spaces, folders, recycle_bin = scoped.spaces, scoped.folders, None
        tasks = latest_versions(
            [t for sid in scoped.space_listings for t in client.tasks_in_space(sid, updated_since=since)]
            + client.tasks_in_folders(scoped.folder_listings, updated_since=since)
        )
    tasks, problems = check_wrike_tasks(ws.key, tasks)
    if since is None:
        return WrikeExtract(
            "full",
            spaces,
            folders,
            tasks,
            client.custom_fields(),
            client.workflows(),
            client.contacts(),
            recycle_bin,
            problems=problems,
            notes=notes,
            read_started_at=started,
        )
    extract = WrikeExtract(
        "incremental",
        spaces,
        folders,
        tasks,
        recycle_bin_id=recycle_bin,
        problems=problems,
        notes=notes,
        read_started_at=started,
    )
    _refresh_stale(client, extract, known or KnownReferences())
    return extract


def extract_items(
    client: WrikeClient,
    ws: WrikeWorkspace,
    task_ids: Iterable[str],
    *,
    folders: set[str],
    everything: bool,
    known: KnownReferences | None = None,
) -> WrikeExtract:
    """Only the tasks ``task_ids`` (a webhook run): ``GET /tasks/{ids}``, 100 ids a call; the hierarchy
    stays as stored. A scoped workspace keeps a task only when one of its folders or projects
    (``parentIds``, ``superParentIds``) is among the stored ``folders``; a deleted task comes back in the
    Recycle Bin (``scope: RbTask``) and is staged as archived. Ids Wrike does not know are left out."""
    started = datetime.now(UTC)
    wanted = list(dict.fromkeys(task_ids))
    try:
        tasks = client.tasks(wanted)
    except WrikeApiError as err:
        if err.status not in (400, 404):
            raise
        tasks = []  # one unknown id fails the whole call: ask one by one
        for task_id in wanted:
            try:
                tasks += client.tasks([task_id])
            except WrikeApiError as one:
                if one.status not in (400, 404):
                    raise
    if not everything:
        tasks = [t for t in tasks if folders & set((t.get("parentIds") or []) + (t.get("superParentIds") or []))]
    kept, problems = check_wrike_tasks(ws.key, tasks)
    extract = WrikeExtract("items", None, None, kept, problems=problems, read_started_at=started)
    _refresh_stale(client, extract, known or KnownReferences())
    return extract
