"""Apply a workspace's sync.diff to Cascade, one item at a time, recording each result at once.

Every create carries the item's external_ref, and the ID map row is committed right after the
create returns, so a run killed anywhere and started again converges: a create whose answer was
lost comes back as the existing item (409), and an item created but never recorded is linked by
the next diff. Applied operations are marked in sync.diff so a retried publish skips them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from cascade_sync_pipeline.cascade.client import CascadeClient, ExternalRef, changed_fields
from cascade_sync_pipeline.sync.runs import now
from cascade_sync_pipeline.config import ClickUpWorkspace, WrikeWorkspace
from cascade_sync_pipeline.warehouse.store import Warehouse

RANK = {"objective": 0, "action": 1, "measure": 1, "milestone": 2, "checklist_item": 2}
PARENT_FIELD = {"objective": "parent_objective_id", "action": "objective_id", "measure": "objective_id"}
RETIRE_OPS = ("archive", "wont_do", "remove")


class PublishError(RuntimeError):
    """An operation cannot be applied; the message names the workspace, the item and the field."""


@dataclass
class PublishResult:
    created: int = 0
    updated: int = 0
    archived: int = 0
    linked: int = 0
    recovered: int = 0
    writes: int = 0


@dataclass
class _Group:
    cascade_type: str
    item_id: str
    cascade_id: int | None
    ops: set[str]
    changes: dict[str, str | None]  # field -> text before (the 'remove' op keeps the action id there)

    @property
    def label(self) -> str:
        return f"{self.cascade_type.replace('_', ' ')} for source item {self.item_id}"


def _pending(con: duckdb.DuckDBPyConnection, workspace: str) -> list[_Group]:
    rows = con.execute(
        "SELECT cascade_type, item_id, max(cascade_id), list(DISTINCT op), map_from_entries(list((field, before))) "
        "FROM sync.diff WHERE workspace = ? AND applied_at IS NULL GROUP BY cascade_type, item_id "
        "ORDER BY cascade_type, item_id", [workspace]).fetchall()
    return [_Group(t, i, None if c is None else int(c), set(ops), dict(changes)) for t, i, c, ops, changes in rows]


def _desired(con: duckdb.DuckDBPyConnection, workspace: str) -> dict[str, dict]:
    cursor = con.execute("SELECT * FROM sync.desired_state WHERE workspace = ?", [workspace])
    columns = [d[0] for d in cursor.description]
    rows = [dict(zip(columns, row)) for row in cursor.fetchall()]
    return {row["item_id"]: row for row in rows}


def _number(value: Any) -> int | float | None:
    if value is None:
        return None
    number = float(value)
    return int(number) if number.is_integer() else number


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


class Publisher:
    def __init__(self, con: duckdb.DuckDBPyConnection, client: CascadeClient,
                 ws: ClickUpWorkspace | WrikeWorkspace) -> None:
        self.con, self.client, self.ws = con, client, ws
        self.desired = _desired(con, ws.key)
        self.result = PublishResult()

    # --- bodies ----------------------------------------------------------------------------------
    def _parent_id(self, row: dict) -> int | None:
        if row["parent_item_id"] is None:
            return row["parent_cascade_id"]
        found = self.con.execute("SELECT CAST(cascade_id AS BIGINT) FROM sync.id_map WHERE workspace = ? AND item_id = ?",
                                 [self.ws.key, row["parent_item_id"]]).fetchall()
        return found[0][0] if found else None

    def _custom_value(self, row: dict, cf: dict) -> Any:
        if cf["value"] is None or cf["type"] != "number":
            return cf["value"]
        try:
            return _number(cf["value"])
        except ValueError:
            raise PublishError(
                f"workspace '{self.ws.key}': item {row['item_id']} '{row['name']}': custom field '{cf['name']}' takes "
                f"a number, the source holds {cf['value']!r}; fix the value in the source item, or drop the field "
                "from mapping.custom_fields") from None

    def body(self, row: dict) -> dict[str, Any]:
        """Every field Cascade should hold for the item (the create body, before external_ref)."""
        kind = row["cascade_type"]
        if kind == "milestone":
            return {"name": row["name"], "due_date": _iso(row["due_date"]), "completed": bool(row["completed"]),
                    "progress_value": _number(row["progress"])}
        if kind == "checklist_item":
            return {"name": row["name"], "completed": bool(row["completed"]), "position": row["position"]}
        body: dict[str, Any] = {
            "name": row["name"], "description": row["description"],
            "owner_ids": [row["owner_id"]] if row["owner_id"] is not None else [],
            "collaborator_ids": list(dict.fromkeys(row["collaborator_ids"] or [])),
            "start_date": _iso(row["start_date"]), "due_date": _iso(row["due_date"]),
            PARENT_FIELD[kind]: self._parent_id(row),
        }
        if kind == "objective":
            body |= {"plan_id": row["plan_id"], "focus_area_id": row["focus_area_id"]}
        if kind == "measure":
            body |= {"initial_value": 0, "target_value": 100, "unit": "%", "current_value": _number(row["progress"])}
        else:
            body["status"] = row["status"]
            if kind == "action":
                body["progress"] = _number(row["progress"])
        body["custom_field_values"] = [{"field_id": cf["field_id"], "value": self._custom_value(row, cf)}
                                       for cf in row["custom_fields"] or []]
        return body

    def _changes(self, group: _Group, row: dict) -> dict[str, Any]:
        full = self.body(row)
        names = {f"cf:{cf['name']}": cf["field_id"] for cf in row["custom_fields"] or []}
        out: dict[str, Any] = {}
        changed_cf = {names[f] for f in group.changes if f in names}
        for field in group.changes:
            if field in full and field != "custom_field_values":
                out[field] = full[field]
        if changed_cf:
            out["custom_field_values"] = [v for v in full["custom_field_values"] if v["field_id"] in changed_cf]
        if "unarchive" in group.ops:
            out["archived"] = False
        return out

    # --- Cascade calls ---------------------------------------------------------------------------
    def _create(self, row: dict, parent_id: int | None) -> dict:
        kind = row["cascade_type"]
        body = self.body(row)
        if kind != "checklist_item" and kind != "milestone":
            body = {k: v for k, v in body.items() if not (k == "status" and v is None)}
            body["custom_field_values"] = [v for v in body["custom_field_values"] if v["value"] is not None]
        body["external_ref"] = ExternalRef(self.ws.source, self.ws.key, row["item_id"]).as_dict()
        recovered_before = self.client.recovered_creates
        if kind == "milestone":
            item = self.client.create_milestone(parent_id, body)
        elif kind == "checklist_item":
            item = self.client.create_checklist_item(parent_id, body)
        else:
            item = self.client.create(kind, body)
        if self.client.recovered_creates > recovered_before:
            # The item existed (our earlier attempt); bring it to the desired values.
            self.result.recovered += 1
            item = self._patch(kind, item["id"], parent_id, {k: v for k, v in body.items() if k != "external_ref"},
                               current=item)
        return item

    def _patch(self, kind: str, cascade_id: int, parent_id: int | None, changes: dict, *,
               current: dict | None = None) -> dict:
        if kind == "milestone":
            return self.client.update_milestone(parent_id, cascade_id, changes, current=current)
        if kind == "checklist_item":
            return self.client.update_checklist_item(parent_id, cascade_id, changes, current=current)
        if current is not None:
            changes = changed_fields(current, changes)
        return self.client.update(kind, cascade_id, changes) if changes else dict(current or {})

    def _child_parent(self, group: _Group, row: dict | None) -> int | None:
        if row is not None:
            return self._parent_id(row)
        found = self.con.execute(
            "SELECT CAST(payload ->> 'action_id' AS BIGINT) FROM sync.cascade_items "
            "WHERE workspace = ? AND cascade_type = ? AND cascade_id = ?",
            [self.ws.key, group.cascade_type, group.cascade_id]).fetchall()
        return found[0][0] if found else None

    # --- bookkeeping -----------------------------------------------------------------------------
    def _record(self, group: _Group, cascade_id: int | None, row: dict | None, *, forget: bool = False) -> None:
        at = now()
        with Warehouse.transaction(self.con):
            if forget:
                self.con.execute("DELETE FROM sync.id_map WHERE workspace = ? AND item_id = ? AND cascade_type = ?",
                                 [self.ws.key, group.item_id, group.cascade_type])
            elif row is not None:
                self.con.execute(
                    """
                    INSERT INTO sync.id_map (workspace, source, item_id, cascade_type, cascade_id, first_synced_at,
                                             last_synced_at, parent_item_id)
                    VALUES ($ws, $source, $item, $type, $id, $at, $at, $parent)
                    ON CONFLICT (workspace, item_id) DO UPDATE SET
                        cascade_type = excluded.cascade_type, cascade_id = excluded.cascade_id,
                        last_synced_at = excluded.last_synced_at, parent_item_id = excluded.parent_item_id
                    """,
                    {"ws": self.ws.key, "source": self.ws.source, "item": group.item_id, "type": group.cascade_type,
                     "id": cascade_id, "at": at, "parent": row["parent_item_id"]})
            else:
                self.con.execute(
                    "UPDATE sync.id_map SET last_synced_at = ? "
                    "WHERE workspace = ? AND item_id = ? AND cascade_type = ?",
                    [at, self.ws.key, group.item_id, group.cascade_type])
            self.con.execute(
                "UPDATE sync.diff SET applied_at = ? WHERE workspace = ? AND item_id = ? AND cascade_type = ?",
                [at, self.ws.key, group.item_id, group.cascade_type])

    # --- the run ---------------------------------------------------------------------------------
    def apply(self, group: _Group) -> bool:
        """Apply one item's operations; False when its parent does not exist in Cascade yet."""
        row = self.desired.get(group.item_id)
        kind = group.cascade_type
        child = kind in ("milestone", "checklist_item")
        if "remove" in group.ops:
            action_id = self._child_parent(group, None)
            delete = self.client.delete_milestone if kind == "milestone" else self.client.delete_checklist_item
            delete(action_id, group.cascade_id)
            self._record(group, None, None, forget=True)
            self.result.archived += 1
            return True
        if "archive" in group.ops or "wont_do" in group.ops:
            if "archive" in group.ops:
                self.client.archive(kind, group.cascade_id)
            else:
                self.client.update(kind, group.cascade_id, {"status": "Won't Do"})
            self._record(group, group.cascade_id, None)
            self.result.archived += 1
            return True
        if row is None:
            raise PublishError(f"workspace '{self.ws.key}': the diff names {group.label}, which sync.desired_state no "
                               "longer holds; run the whole sync again (desired state, diff, publish)")
        parent_id = self._parent_id(row) if (child or row["parent_item_id"]) else None
        if row["parent_item_id"] is not None and parent_id is None:
            return False
        if "create" in group.ops:
            item = self._create(row, parent_id)
            self._record(group, item["id"], row)
            self.result.created += 1
            return True
        changes = self._changes(group, row)
        if changes:
            self._patch(kind, group.cascade_id, parent_id, changes)
            self.result.updated += 1
        if "link" in group.ops:
            self.result.linked += 1
        self._record(group, group.cascade_id, row)
        return True

    def run(self) -> PublishResult:
        writes_before = self.client.writes
        pending = sorted(_pending(self.con, self.ws.key),
                         key=lambda g: (bool(g.ops & set(RETIRE_OPS)), RANK[g.cascade_type], g.item_id))
        while pending:
            waiting = [group for group in pending if not self.apply(group)]
            if len(waiting) == len(pending):
                names = ", ".join(g.label for g in waiting[:5])
                raise PublishError(f"workspace '{self.ws.key}': {len(waiting)} item(s) wait for a parent that is "
                                   f"neither in Cascade nor being created ({names}); run the whole sync again")
            pending = waiting
        self.result.writes = self.client.writes - writes_before
        return self.result


def publish(con: duckdb.DuckDBPyConnection, client: CascadeClient,
            ws: ClickUpWorkspace | WrikeWorkspace) -> PublishResult:
    return Publisher(con, client, ws).run()
