"""Apply a workspace's sync.diff to Cascade's classic API, one goal or task at a time, recording each
result at once.

The API has no idempotency key and no external reference, so a create is guarded twice: the
client never re-sends a create whose answer was lost without first looking for what it stored,
and every create is written to ``sync.create_attempts`` (with the id floor and the body) before it
is sent and replaced by its ``sync.id_map`` row right after it returns. A run killed in between
leaves the attempt, and the next run finds the stored item (by its body, above the floor) before
creating anything. Applied operations are marked in sync.diff so a retried publish skips them.

Recording each create at once needs an open warehouse connection (DuckDB: one writing process,
serialised by a file lock). The publish keeps one, but lets it go every ``HOLD_SECONDS`` so other
workspaces' steps are held up for seconds, not for the whole publish.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from cascade_sync_pipeline.cascade.classic import CascadeApiError, ClassicClient
from cascade_sync_pipeline.cascade.classic_wire import as_list, norm_text, utc_day
from cascade_sync_pipeline.config import ClickUpWorkspace, WrikeWorkspace
from cascade_sync_pipeline.sync.goals.diff import RETIRE_OPS
from cascade_sync_pipeline.sync.runs import now
from cascade_sync_pipeline.warehouse.store import Warehouse

HOLD_SECONDS = 2.0  # the longest the publish keeps the warehouse before letting waiting steps in
LIST_FIELDS = frozenset({"direct_focus_area_ids", "aligned_to_ids"})
DATE_FIELDS = frozenset({"start_time", "end_time", "start_date", "due_date"})
# A 400 on these fields is a configuration problem: say which setting holds the value.
CONFIG_FIELDS = {
    "direct_focus_area_ids": "mapping.target.focus_area_ids (or a by_container entry)",
    "aligned_to_ids": "mapping.target.parent_goal_id (or a by_container entry)",
    "goal_id": "mapping.target.parent_goal_id (or a by_container entry)",
    "entity_template_id": "mapping.templates",
    "role_id": "the role_id of cascade.users",
}


class PublishError(RuntimeError):
    """An operation cannot be applied; the message names the workspace, the item and what to do."""


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
    fields: list[str]

    @property
    def label(self) -> str:
        return f"{self.cascade_type} for source item {self.item_id}"


def _pending(con: duckdb.DuckDBPyConnection, workspace: str) -> list[_Group]:
    rows = con.execute(
        "SELECT cascade_type, item_id, max(TRY_CAST(cascade_id AS BIGINT)), list(DISTINCT op), list(DISTINCT field) "
        "FROM sync.diff WHERE workspace = ? AND applied_at IS NULL GROUP BY cascade_type, item_id "
        "ORDER BY cascade_type, item_id",
        [workspace],
    ).fetchall()
    return [_Group(t, i, c, set(ops), list(fields)) for t, i, c, ops, fields in rows]


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _number(value: Any) -> int | float | None:
    if value is None:
        return None
    number = float(value)
    return int(number) if number.is_integer() else number


def differing(body: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``body`` whose value ``item`` (as Cascade answered it) does not hold."""
    out = {}
    for field, want in body.items():
        have = item.get(field)
        if field in DATE_FIELDS:
            same = utc_day(want) == utc_day(have)
        elif field in LIST_FIELDS:
            same = sorted(as_list(want)) == sorted(as_list(have))
        elif isinstance(want, (int, float)) and not isinstance(want, bool):
            same = have is not None and float(have) == float(want)
        else:
            same = norm_text(want) == norm_text(have)
        if not same:
            out[field] = want
    return out


class Publisher:
    def __init__(
        self, con: duckdb.DuckDBPyConnection, client: ClassicClient, ws: ClickUpWorkspace | WrikeWorkspace
    ) -> None:
        self.con, self.client, self.ws = con, client, ws
        cursor = con.execute("SELECT * FROM sync.desired_state WHERE workspace = ?", [ws.key])
        columns = [d[0] for d in cursor.description]
        self.desired = {row["item_id"]: row for row in (dict(zip(columns, r, strict=False)) for r in cursor.fetchall())}
        self.result = PublishResult()
        for kind in ("goal", "task"):  # a lost create is looked for above every id known to exist
            client.known_ids(
                kind,
                [
                    i
                    for (i,) in con.execute(
                        "SELECT cascade_id FROM sync.cascade_items WHERE cascade_type = $k UNION ALL SELECT TRY_CAST("
                        "cascade_id AS BIGINT) FROM sync.id_map WHERE cascade_type = $k AND TRY_CAST(cascade_id AS BIGINT) "
                        "IS NOT NULL",
                        {"k": kind},
                    ).fetchall()
                ],
            )

    # --- bodies ----------------------------------------------------------------------------------
    def _mapped_id(self, item_id: str) -> int | None:
        found = self.con.execute(
            "SELECT TRY_CAST(cascade_id AS BIGINT) FROM sync.id_map WHERE workspace = ? "
            "AND item_id = ? AND cascade_type = 'goal'",
            [self.ws.key, item_id],
        ).fetchall()
        return found[0][0] if found else None

    def parent_id(self, row: dict) -> int | None:
        """The Cascade goal above a goal, or holding a task: a goal this sync made, or a configured one."""
        if row["parent_item_id"] is None:
            return row["parent_goal_id"]
        return self._mapped_id(row["parent_item_id"])

    def body(self, row: dict, parent: int | None) -> dict[str, Any]:
        """Every field Cascade should hold for the goal or task (None: not ours to set)."""
        if row["cascade_type"] == "goal":
            return {
                "action": row["action"],
                "details": row["details"] or "",
                "start_time": _iso(row["start_date"]),
                "end_time": _iso(row["due_date"]),
                "weight_id": row["weight_id"],
                "status": row["status"],
                "tracking_type": row["tracking_type"],
                "initial": 0,
                "target": 100,
                "progress": _number(row["progress"]),
                "role_id": row["role_id"],
                "entity_template_id": row["template_id"],
                "direct_focus_area_ids": list(row["focus_area_ids"] or []),
                "aligned_to_ids": [parent] if parent is not None else [],
            }
        return {
            "task": row["name"],
            "goal_id": parent,
            "comment": row["description"],
            "is_complete": row["is_complete"],
            "start_date": _iso(row["start_date"]),
            "due_date": _iso(row["due_date"]),
            "weight_id": row["weight_id"],
            "role_id": row["role_id"],
        }

    # --- Cascade calls ---------------------------------------------------------------------------
    def _attempt(self, item_id: str, kind: str) -> tuple[int, dict] | None:
        found = self.con.execute(
            "SELECT look_after_id, body FROM sync.create_attempts WHERE workspace = ? "
            "AND item_id = ? AND cascade_type = ?",
            [self.ws.key, item_id, kind],
        ).fetchall()
        return (found[0][0], json.loads(found[0][1])) if found else None

    def _create(self, group: _Group, row: dict, parent: int | None) -> dict:
        kind = group.cascade_type
        body = {k: v for k, v in self.body(row, parent).items() if v is not None}
        earlier = self._attempt(group.item_id, kind)
        if earlier is not None:  # a run died after sending this create: did it store the item?
            found = self.client.find_created(kind, earlier[1], after_id=earlier[0])
            if found is not None:
                self.result.recovered += 1
                changes = differing(body, found)
                return self._update(kind, found["id"], changes) if changes else found
        with Warehouse.transaction(self.con):
            self.con.execute(
                "INSERT OR REPLACE INTO sync.create_attempts VALUES (?, ?, ?, ?, ?, ?)",
                [self.ws.key, group.item_id, kind, self.client.last_known_id(kind), json.dumps(body), now()],
            )
        recovered = self.client.recovered_creates
        item = (self.client.create_goal if kind == "goal" else self.client.create_task)(body)
        self.result.recovered += self.client.recovered_creates - recovered
        return item

    def _update(self, kind: str, cascade_id: int, changes: dict[str, Any]) -> dict:
        return (self.client.update_goal if kind == "goal" else self.client.update_task)(cascade_id, changes)

    def _retire(self, group: _Group) -> None:
        cascade_id = group.cascade_id
        assert cascade_id is not None  # the diff retires only items Cascade holds
        if "archive" in group.ops:
            self.client.update_goal(cascade_id, {"status": "ARCHI"})
        elif "complete" in group.ops:
            self.client.update_task(cascade_id, {"is_complete": 1})
        else:
            self.client.delete_task(cascade_id)

    # --- bookkeeping -----------------------------------------------------------------------------
    def _record(
        self, group: _Group, cascade_id: int | None, *, linked_by: str | None = None, forget: bool = False
    ) -> None:
        at = now()
        ws = self.ws.key
        with Warehouse.transaction(self.con):
            if forget:
                self.con.execute(
                    "DELETE FROM sync.id_map WHERE workspace = ? AND item_id = ? AND cascade_type = ?",
                    [ws, group.item_id, group.cascade_type],
                )
            elif linked_by is not None:
                self.con.execute("DELETE FROM sync.id_map WHERE workspace = ? AND item_id = ?", [ws, group.item_id])
                self.con.execute(
                    "INSERT INTO sync.id_map (workspace, source, item_id, cascade_type, cascade_id, first_synced_at, "
                    "last_synced_at, linked_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [ws, self.ws.source, group.item_id, group.cascade_type, str(cascade_id), at, at, linked_by],
                )
                self.con.execute(
                    "DELETE FROM sync.create_attempts WHERE workspace = ? AND item_id = ?", [ws, group.item_id]
                )
            else:
                self.con.execute(
                    "UPDATE sync.id_map SET last_synced_at = ? WHERE workspace = ? AND item_id = ? "
                    "AND cascade_type = ?",
                    [at, ws, group.item_id, group.cascade_type],
                )
            self.con.execute(
                "UPDATE sync.diff SET applied_at = ? WHERE workspace = ? AND item_id = ? AND cascade_type = ?",
                [at, ws, group.item_id, group.cascade_type],
            )

    def _claimed_elsewhere(self, group: _Group, cascade_id: int) -> None:
        other = self.con.execute(
            "SELECT workspace, item_id FROM sync.id_map WHERE cascade_type = ? AND cascade_id = ? "
            "AND NOT (workspace = ? AND item_id = ?)",
            [group.cascade_type, str(cascade_id), self.ws.key, group.item_id],
        ).fetchall()
        if other:
            raise PublishError(
                f"workspace '{self.ws.key}': the {group.cascade_type} found for source item {group.item_id} "
                f"({cascade_id}) already belongs to source item {other[0][1]} of workspace '{other[0][0]}': two "
                "items with the same title, parent and dates were created while answers were lost; delete the extra "
                f"one in Cascade and the row of {group.item_id} in sync.create_attempts, then run again"
            )

    # --- the run ---------------------------------------------------------------------------------
    def apply(self, group: _Group) -> bool:
        """Apply one item's operations; False when its parent goal does not exist in Cascade yet."""
        if group.ops & set(RETIRE_OPS):
            self._retire(group)
            self._record(group, group.cascade_id, forget="delete" in group.ops)
            self.result.archived += 1
            return True
        row = self.desired.get(group.item_id)
        if row is None:
            raise PublishError(
                f"workspace '{self.ws.key}': the diff names {group.label}, which sync.desired_state "
                "no longer holds; run the whole sync again (desired state, diff, publish)"
            )
        parent = self.parent_id(row)
        if row["parent_item_id"] is not None and parent is None:
            return False
        if "create" in group.ops:
            item = self._create(group, row, parent)
            self._claimed_elsewhere(group, item["id"])
            self._record(group, item["id"], linked_by="created")
            self.result.created += 1
            return True
        assert group.cascade_id is not None  # only a create names an item Cascade does not hold yet
        full = self.body(row, parent)
        changes = {
            field: "" if field == "comment" and full[field] is None else full[field]
            for field in group.fields
            if field in full
        }
        if changes:
            self._update(group.cascade_type, group.cascade_id, changes)
            self.result.updated += 1
        if "link" in group.ops:
            self._record(group, group.cascade_id, linked_by="field")
            self.result.linked += 1
        else:
            self._record(group, group.cascade_id)
        return True

    def run(self, breathe: Callable[[], None] = lambda: None) -> PublishResult:
        """Apply every pending operation; ``breathe`` is called between items (it may swap ``con``)."""
        writes_before = self.client.writes
        pending = sorted(
            _pending(self.con, self.ws.key),
            key=lambda g: (not g.ops & set(RETIRE_OPS), g.cascade_type != "goal", g.item_id),
        )
        while pending:
            waiting = []
            for group in pending:
                breathe()
                try:
                    if not self.apply(group):
                        waiting.append(group)
                except CascadeApiError as err:
                    raise _with_setting(err) from None
            if len(waiting) == len(pending):
                names = ", ".join(g.label for g in waiting[:5])
                raise PublishError(
                    f"workspace '{self.ws.key}': {len(waiting)} item(s) wait for a parent goal that is "
                    f"neither in Cascade nor being created ({names}); run the whole sync again"
                )
            pending = waiting
        self.result.writes = self.client.writes - writes_before
        return self.result


def _with_setting(err: CascadeApiError) -> CascadeApiError:
    """A 400 on a field the config sets says which setting holds the value."""
    setting = CONFIG_FIELDS.get(err.details.get("field", "")) if err.status == 400 else None
    if setting is None:
        return err
    return CascadeApiError(
        f"{err} (the value comes from {setting} in the config)",
        status=err.status,
        code=err.code,
        workspace=err.workspace,
        item=err.item,
        details=err.details,
    )


@contextlib.contextmanager
def _turns(
    warehouse: Warehouse, hold_seconds: float
) -> Iterator[tuple[Callable[[], duckdb.DuckDBPyConnection], Callable[[], bool]]]:
    """A warehouse connection that is let go and taken again once it was held ``hold_seconds``:
    yields (current connection, a function that swaps it when its turn is over)."""
    state: dict[str, Any] = {}

    def take() -> None:
        state["cm"] = warehouse.connect()
        state["con"], state["since"] = state["cm"].__enter__(), time.monotonic()

    def swap() -> bool:
        if time.monotonic() - state["since"] < hold_seconds:
            return False
        state["cm"].__exit__(None, None, None)
        time.sleep(0.1)  # a step waiting for the lock takes it now
        take()
        return True

    take()
    try:
        yield (lambda: state["con"]), swap
    except BaseException as err:  # the warehouse's own handling (e.g. a full disk named) applies
        if not state["cm"].__exit__(type(err), err, err.__traceback__):
            raise
    else:
        state["cm"].__exit__(None, None, None)


def publish(
    warehouse: Warehouse,
    client: ClassicClient,
    ws: ClickUpWorkspace | WrikeWorkspace,
    hold_seconds: float = HOLD_SECONDS,
) -> PublishResult:
    with _turns(warehouse, hold_seconds) as (current, swap):
        publisher = Publisher(current(), client, ws)

        def breathe() -> None:
            if swap():
                publisher.con = current()

        return publisher.run(breathe)
