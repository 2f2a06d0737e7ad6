"""Write each new Cascade ID into the source item's cross-system-ID custom field, once.

An ID is written only when the source does not hold it already (staging.work_items.cascade_id)
and it was not written before (sync.id_map.written_back_id), so re-runs and resumed runs never
repeat a write. The warehouse is locked only to plan and to record: the writes go out with no
lock held, and their successes are recorded in short batches. A write whose recording was lost
(the process was killed between the two) is seen by the next extract, which finds the value in
the source and records it without writing again. Items that cannot take the value are collected
and reported together, naming the workspace, the item and the field to create.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb

from cascade_sync_pipeline.config import ClickUpWorkspace, WrikeWorkspace
from cascade_sync_pipeline.http import SourceApiError
from cascade_sync_pipeline.sync.recorder import BatchRecorder
from cascade_sync_pipeline.warehouse.store import Warehouse

RECORD_EVERY = 50  # successful writes, or
RECORD_SECONDS = 1.0  # seconds since the last recording, whichever comes first


class WriteBackError(RuntimeError):
    """Some Cascade IDs could not be written; the message lists the items and what to fix."""

    def __init__(self, message: str, result: WriteBackResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class WriteBackResult:
    written: int = 0
    already_held: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Pending:
    item_id: str
    item_type: str
    container_id: str | None
    cascade_id: str
    held: bool  # the source already holds the value: record it, write nothing


class IdField(Protocol):
    """Where one source keeps the Cascade ID: the field id per item (None: the field is missing,
    an item left out: the source cannot take it), and the write. ``field_ids`` reads the warehouse
    only; ``resolve`` is called with no lock held and may ask the source."""

    def field_ids(self, con: duckdb.DuckDBPyConnection, items: list[Pending]) -> dict[str, str | None]: ...

    def resolve(self, field_ids: dict[str, str | None]) -> dict[str, str | None]: ...

    def missing_field(self, item: Pending) -> str: ...

    def write(self, item: Pending, field_id: str) -> None: ...


class ClickUpIdField:
    """ClickUp custom fields belong to lists: the field id is looked up on the task's home list."""

    def __init__(self, client: Any, ws: ClickUpWorkspace) -> None:
        self.client, self.ws = client, ws
        self._lists: dict[str | None, str] = {}

    def field_ids(self, con: duckdb.DuckDBPyConnection, items: list[Pending]) -> dict[str, str | None]:
        rows = con.execute(
            """
            SELECT h.object_id, h.payload ->> 'name', min(f.field_id)
            FROM raw.clickup_hierarchy AS h
            LEFT JOIN raw.clickup_custom_fields AS f
                ON f.workspace = h.workspace AND f.list_id = h.object_id AND f.payload ->> 'name' = $field
            WHERE h.workspace = $ws AND h.object_type = 'list'
            GROUP BY ALL
            """,
            {"ws": self.ws.key, "field": self.ws.cascade_id_field},
        ).fetchall()
        self._lists = {list_id: name for list_id, name, _ in rows}
        by_list = {list_id: field_id for list_id, _, field_id in rows}
        return {item.item_id: by_list.get(item.container_id) for item in items}

    def resolve(self, field_ids: dict[str, str | None]) -> dict[str, str | None]:
        return field_ids

    def missing_field(self, item: Pending) -> str:
        where = f"list '{self._lists.get(item.container_id, '?')}' ({item.container_id})"
        return (
            f"task {item.item_id}: {where} has no custom field '{self.ws.cascade_id_field}'; create a Text "
            f"field with that name on the list (or its folder/space), or set cascade_id_field in the config"
        )

    def write(self, item: Pending, field_id: str) -> None:
        self.client.set_custom_field(item.item_id, field_id, item.cascade_id)


ASK_WRIKE = "?"  # a field id no Wrike field has: the stored definitions left the field undecided


class WrikeIdField:
    """Wrike custom fields are account-wide: one field id serves every task and project (a project
    is a folder: written with ``PUT /folders/{id}``)."""

    def __init__(self, client: Any, ws: WrikeWorkspace) -> None:
        self.client, self.ws = client, ws

    def field_ids(self, con: duckdb.DuckDBPyConnection, items: list[Pending]) -> dict[str, str | None]:
        if not items:
            return {}
        stored = con.execute(
            "SELECT field_id FROM raw.wrike_custom_fields WHERE workspace = ? AND payload ->> 'title' = ?",
            [self.ws.key, self.ws.cascade_id_field],
        ).fetchall()
        field_id = stored[0][0] if len(stored) == 1 else ASK_WRIKE
        return {item.item_id: field_id for item in items}

    def resolve(self, field_ids: dict[str, str | None]) -> dict[str, str | None]:
        # The extract stored the definitions; ask Wrike only when they do not name exactly one such field.
        if ASK_WRIKE not in field_ids.values():
            return field_ids
        field_id = self.client.custom_field_id(self.ws.cascade_id_field)
        return {item_id: field_id for item_id in field_ids}

    def missing_field(self, item: Pending) -> str:
        return f"{item.item_type} {item.item_id}: Wrike has no custom field '{self.ws.cascade_id_field}'"

    def write(self, item: Pending, field_id: str) -> None:
        if item.item_type == "project":
            self.client.set_folder_custom_field(item.item_id, field_id, item.cascade_id)
        else:
            self.client.set_custom_field(item.item_id, field_id, item.cascade_id)


ID_FIELDS = {"clickup": ClickUpIdField, "wrike": WrikeIdField}


def pending(con: duckdb.DuckDBPyConnection, workspace: str) -> list[Pending]:
    """Mapped source items whose Cascade ID is neither in the source nor written before."""
    rows = con.execute(
        """
        SELECT m.item_id, w.item_type, w.container_id, CAST(m.cascade_id AS VARCHAR),
               COALESCE(trim(w.cascade_id), '') = CAST(m.cascade_id AS VARCHAR)
        FROM sync.id_map AS m
        JOIN staging.work_items AS w ON w.workspace = m.workspace AND w.item_id = m.item_id
        WHERE m.workspace = $ws
          AND COALESCE(m.written_back_id, '') <> CAST(m.cascade_id AS VARCHAR)
          AND COALESCE(m.linked_by, 'created') NOT IN ('field', 'config_container')
        ORDER BY m.item_id
        """,
        {"ws": workspace},
    ).fetchall()
    return [Pending(*row) for row in rows]


@dataclass
class Plan:
    """What one write-back will do, read under the lock: the items and their field ids."""

    items: list[Pending]
    field_ids: dict[str, str | None]
    already_held: int


def plan(con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace, target: IdField) -> Plan:
    """The pending items and their field ids; the ones the source already holds are recorded at once."""
    items = pending(con, ws.key)
    held = [item for item in items if item.held]
    _mark(con, ws.key, held)
    to_write = [item for item in items if not item.held]
    return Plan(to_write, target.field_ids(con, to_write) if to_write else {}, len(held))


def _mark(con: duckdb.DuckDBPyConnection, workspace: str, items: list[Pending]) -> None:
    if items:
        con.executemany(
            "UPDATE sync.id_map SET written_back_id = ? WHERE workspace = ? AND item_id = ?",
            [[item.cascade_id, workspace, item.item_id] for item in items],
        )


def write_back(
    warehouse: Warehouse, ws: ClickUpWorkspace | WrikeWorkspace, target: IdField, planned: Plan
) -> WriteBackResult:
    """Write the planned IDs with no warehouse lock held; successes are recorded in short batches
    (and whatever is written when an error stops the loop). Raises WriteBackError at the end when
    some items failed (the others are written and recorded)."""
    result = WriteBackResult(already_held=planned.already_held)
    recorder = BatchRecorder[Pending](
        warehouse, lambda con, items: _mark(con, ws.key, items), every=RECORD_EVERY, seconds=RECORD_SECONDS
    )
    with recorder:
        field_ids = target.resolve(planned.field_ids)
        for item in planned.items:
            if item.item_id not in field_ids:
                result.skipped += 1
                continue
            field_id = field_ids[item.item_id]
            if field_id is None:
                result.failed.append(target.missing_field(item))
                continue
            try:
                target.write(item, field_id)
            except SourceApiError as err:
                result.failed.append(f"{item.item_type} {item.item_id}: {err}")
                continue
            recorder.add(item)
            result.written += 1
    if result.failed:
        shown = "; ".join(result.failed[:10])
        more = f" (and {len(result.failed) - 10} more)" if len(result.failed) > 10 else ""
        raise WriteBackError(
            f"workspace '{ws.key}': {len(result.failed)} Cascade ID(s) could not be written into the "
            f"'{ws.cascade_id_field}' field ({result.written} were): {shown}{more}",
            result,
        )
    return result
