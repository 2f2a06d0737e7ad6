"""The emulated Cascade's in-memory store: items, validation, external refs and read views.

Everything that crosses the API is validated here and raises :class:`ApiError`, which the Flask
layer turns into the contract's error body ``{"error": {"code", "message", "details"}}``.
Health and objective progress are never stored: :class:`View` computes them at read time.
"""

from __future__ import annotations

import copy
import re
import threading
from datetime import date, datetime, timezone
from typing import Any, Callable

from . import health as h

STATUSES = ("To Do", "In Progress", "On Hold", "Done", "Won't Do")
TRACKING_TYPES = ("manual", "milestones", "checklist")
FIELD_TYPES = ("text", "number", "date", "select")
CF_KINDS = ("objective", "action", "measure")

# API collection path -> kind, and back.
COLLECTIONS = {
    "plans": "plan", "focus-areas": "focus_area", "objectives": "objective", "actions": "action",
    "measures": "measure", "users": "user", "custom-fields": "custom_field",
    "milestones": "milestone", "checklist-items": "checklist_item",
}
KINDS = tuple(COLLECTIONS.values())
PARENT_FIELD = {"focus_area": "plan_id", "objective": "plan_id", "action": "objective_id",
                "measure": "objective_id", "milestone": "action_id", "checklist_item": "action_id"}

_REF_SOURCE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class ApiError(Exception):
    """An answer other than success: HTTP status, error code, message and details."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "VALIDATION_FAILED", f"{field}: {message}",
                    {"field": field, "errors": [{"field": field, "message": message}]})


def not_found(kind: str, item_id: Any) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"{kind.replace('_', ' ')} {item_id} does not exist",
                    {"type": kind, "id": item_id})


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _parse_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


# --- field validators: (store, field, value) -> stored value, or raise invalid(...) ----------------
Validator = Callable[["CascadeStore", str, Any], Any]


def text(max_len: int, nullable: bool = True) -> Validator:
    def check(_store, field, value):
        if value is None and nullable:
            return None
        if not isinstance(value, str) or (not nullable and not value.strip()):
            return _fail(field, "must be a non-empty string" if not nullable else "must be a string or null")
        if len(value) > max_len:
            return _fail(field, f"must be at most {max_len} characters (got {len(value)})")
        return value
    return check


def _fail(field: str, message: str):
    raise invalid(field, message)


def a_date(_store, field, value):
    if value is None:
        return None
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        _fail(field, f"must be a date YYYY-MM-DD or null (got {value!r})")
    return value


def a_bool(_store, field, value):
    if not isinstance(value, bool):
        _fail(field, "must be true or false")
    return value


def number(lo: float | None = None, hi: float | None = None, nullable: bool = False) -> Validator:
    def check(_store, field, value):
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(field, "must be a number")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            _fail(field, f"must be between {lo:g} and {hi:g} (got {value:g})")
        return value
    return check


def integer(lo: int) -> Validator:
    def check(_store, field, value):
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            _fail(field, f"must be an integer >= {lo}")
        return value
    return check


def one_of(values: tuple[str, ...]) -> Validator:
    def check(_store, field, value):
        if value not in values:
            _fail(field, f"must be one of {', '.join(values)} (got {value!r})")
        return value
    return check


def user_ids(store: CascadeStore, field, value):
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        _fail(field, "must be a list of user ids (integers)")
    unknown = [v for v in value if v not in store.table("user")]
    if unknown:
        _fail(field, f"unknown user id(s) {', '.join(map(str, unknown))}; list users with GET /users")
    return list(dict.fromkeys(value))


def link(kind: str, nullable: bool = False) -> Validator:
    def check(store: CascadeStore, field, value):
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(field, f"must be the integer id of a {kind.replace('_', ' ')}")
        item = store.table(kind).get(value)
        if item is None:
            _fail(field, f"{kind.replace('_', ' ')} {value} does not exist")
        if item.get("archived"):
            _fail(field, f"{kind.replace('_', ' ')} {value} is archived; unarchive it or choose another")
        return value
    return check


def external_ref(_store, field, value):
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"source", "workspace", "item_id"}:
        _fail(field, "must be an object with exactly source, workspace and item_id, or null")
    if not isinstance(value["source"], str) or not _REF_SOURCE.match(value["source"]):
        _fail(f"{field}.source", "must be a lowercase tool name such as 'clickup' or 'wrike'")
    for key in ("workspace", "item_id"):
        if not isinstance(value[key], str) or not value[key] or len(value[key]) > 200:
            _fail(f"{field}.{key}", "must be a non-empty string of at most 200 characters")
    return dict(value)


def cf_values(store: CascadeStore, field, value):
    """Validated later against the item's kind; here only the shape."""
    if not isinstance(value, list):
        _fail(field, "must be a list of {field_id, value}")
    return value


_COMMON = {"name": text(255, nullable=False), "description": text(20000), "owner_ids": user_ids,
           "archived": a_bool, "external_ref": external_ref}
_TRACKED = {**_COMMON, "collaborator_ids": user_ids, "start_date": a_date, "due_date": a_date,
            "custom_field_values": cf_values}

FIELDS: dict[str, dict[str, Validator]] = {
    "plan": {**_COMMON, "start_date": a_date, "due_date": a_date},
    "focus_area": {**_COMMON, "plan_id": link("plan")},
    "objective": {**_TRACKED, "plan_id": link("plan"), "focus_area_id": link("focus_area", nullable=True),
                  "parent_objective_id": link("objective", nullable=True), "status": one_of(STATUSES)},
    "action": {**_TRACKED, "objective_id": link("objective"), "status": one_of(STATUSES),
               "progress": number(0, 100), "tracking_type": one_of(TRACKING_TYPES)},
    "measure": {**_TRACKED, "objective_id": link("objective"), "initial_value": number(),
                "target_value": number(), "current_value": number(nullable=True), "unit": text(50)},
    "milestone": {"name": text(255, nullable=False), "due_date": a_date, "progress_value": number(0, 100),
                  "completed": a_bool, "position": integer(0), "external_ref": external_ref},
    "checklist_item": {"name": text(255, nullable=False), "due_date": a_date, "completed": a_bool,
                       "position": integer(0), "external_ref": external_ref},
}
REQUIRED = {
    "plan": ("name",), "focus_area": ("plan_id", "name"), "objective": ("plan_id", "name"),
    "action": ("objective_id", "name"), "measure": ("objective_id", "name", "initial_value", "target_value"),
    "milestone": ("name", "progress_value"), "checklist_item": ("name",),
}
_BASE_DEFAULTS = {"description": None, "owner_ids": [], "archived": False, "external_ref": None}
_TRACKED_DEFAULTS = {**_BASE_DEFAULTS, "collaborator_ids": [], "start_date": None, "due_date": None}
DEFAULTS = {
    "plan": {**_BASE_DEFAULTS, "start_date": None, "due_date": None},
    "focus_area": _BASE_DEFAULTS,
    "objective": {**_TRACKED_DEFAULTS, "focus_area_id": None, "parent_objective_id": None, "status": "To Do"},
    "action": {**_TRACKED_DEFAULTS, "status": "To Do", "progress": 0, "tracking_type": "manual"},
    "measure": {**_TRACKED_DEFAULTS, "current_value": None, "unit": None},
    "milestone": {"due_date": None, "completed": False, "external_ref": None},
    "checklist_item": {"due_date": None, "completed": False, "external_ref": None},
}
IMMUTABLE = {"focus_area": ("plan_id",)}  # moving a focus area would orphan its objectives' alignment
STRATEGY_KINDS = ("plan", "focus_area", "objective", "action", "measure")


class CascadeStore:
    """All Cascade items of one emulator, guarded by one lock."""

    def __init__(self, today: Callable[[], date]) -> None:
        self.lock = threading.RLock()
        self.today = today
        self._tables: dict[str, dict[int, dict]] = {kind: {} for kind in KINDS}
        self._refs: dict[tuple[str, str, str], tuple[str, int]] = {}
        self._next_id = 101

    def table(self, kind: str) -> dict[int, dict]:
        return self._tables[kind]

    # --- writes ------------------------------------------------------------------------------
    def insert_raw(self, kind: str, **fields) -> dict:
        """Seed an item without validation (users, custom field definitions, seed data)."""
        with self.lock:
            item = {"id": self._next_id, **fields}
            self._next_id += 1
            if kind in FIELDS:
                stamp = _now()
                item.setdefault("created_at", stamp)
                item.setdefault("updated_at", stamp)
            self._tables[kind][item["id"]] = item
            if item.get("external_ref"):
                self._refs[self._ref_key(item["external_ref"])] = (kind, item["id"])
            return item

    def create(self, kind: str, body: Any, parent_id: int | None = None) -> dict:
        with self.lock:
            fields = self._validated(kind, body, creating=True)
            if parent_id is not None:
                fields[PARENT_FIELD[kind]] = parent_id
            missing = [f for f in REQUIRED[kind] if f not in fields]
            if missing:
                raise invalid(missing[0], "is required")
            item = {**copy.deepcopy(DEFAULTS[kind]), **fields}
            item.pop("custom_field_values", None)
            if kind in CF_KINDS:
                item["cf"] = self._merged_cf(kind, {}, fields.get("custom_field_values", []))
            if kind in ("milestone", "checklist_item") and "position" not in fields:
                siblings = self._children(kind, parent_id)
                item["position"] = max((s["position"] for s in siblings), default=0) + 1
            self._check_rules(kind, item, fields)
            self._claim_ref(kind, None, item.get("external_ref"))
            stored = self.insert_raw(kind, **{k: v for k, v in item.items() if k != "id"})
            return stored

    def update(self, kind: str, item_id: int, body: Any, *, cf_field: str = "custom_field_values") -> dict:
        with self.lock:
            current = self.get(kind, item_id)
            fields = self._validated(kind, body, creating=False)
            proposed = {**current, **fields}
            proposed.pop("custom_field_values", None)
            if kind in CF_KINDS and "custom_field_values" in fields:
                proposed["cf"] = self._merged_cf(kind, current["cf"], fields["custom_field_values"], cf_field)
            self._check_rules(kind, proposed, fields)
            if "external_ref" in fields:
                self._claim_ref(kind, item_id, fields["external_ref"], old=current.get("external_ref"))
            if proposed != current:
                proposed["updated_at"] = _now()
                current.clear()
                current.update(proposed)
            return current

    def set_custom_values(self, kind: str, item_id: int, body: Any) -> dict:
        if not isinstance(body, dict) or set(body) != {"values"}:
            raise invalid("values", "the body must be {\"values\": [{\"field_id\": ..., \"value\": ...}]}")
        return self.update(kind, item_id, {"custom_field_values": body["values"]}, cf_field="values")

    def delete(self, kind: str, item_id: int) -> None:
        with self.lock:
            item = self.get(kind, item_id)
            if item.get("external_ref"):
                self._refs.pop(self._ref_key(item["external_ref"]), None)
            del self._tables[kind][item_id]

    # --- reads -------------------------------------------------------------------------------
    def get(self, kind: str, item_id: int) -> dict:
        item = self._tables[kind].get(item_id)
        if item is None:
            raise not_found(kind, item_id)
        return item

    def find_ref(self, ref: dict) -> tuple[str, int] | None:
        return self._refs.get(self._ref_key(ref))

    def _children(self, kind: str, action_id: int | None) -> list[dict]:
        return [i for i in self._tables[kind].values() if i["action_id"] == action_id]

    # --- rules -------------------------------------------------------------------------------
    def _validated(self, kind: str, body: Any, *, creating: bool) -> dict:
        if not isinstance(body, dict):
            raise ApiError(400, "BAD_REQUEST", "the request body must be a JSON object", {})
        allowed = FIELDS[kind]
        frozen = () if creating else IMMUTABLE.get(kind, ())
        out = {}
        for field, value in body.items():
            validator = allowed.get(field)
            if validator is None or field in frozen:
                raise invalid(field, f"is not a writable field of a {kind.replace('_', ' ')}"
                                     + (" after creation" if field in frozen else ""))
            out[field] = validator(self, field, value)
        return out

    def _check_rules(self, kind: str, item: dict, fields: dict) -> None:
        """Rules across fields, on the item as it would be after the write."""
        start, due = item.get("start_date"), item.get("due_date")
        if start and due and due < start:
            raise invalid("due_date", f"{due} is before start_date {start}")
        if kind == "action" and item["tracking_type"] != "manual" and "progress" in fields:
            raise invalid("progress", f"is computed from the action's {item['tracking_type']}; "
                                      "update those, or set tracking_type to manual")
        if kind == "objective":
            fa = item.get("focus_area_id")
            if fa is not None and self._tables["focus_area"][fa]["plan_id"] != item["plan_id"]:
                raise invalid("focus_area_id", f"focus area {fa} belongs to another plan than plan {item['plan_id']}")
            parent = item.get("parent_objective_id")
            seen = {item.get("id")}
            while parent is not None:
                if parent in seen:
                    raise invalid("parent_objective_id", "would make an objective contribute to itself")
                seen.add(parent)
                parent = self._tables["objective"][parent].get("parent_objective_id")

    def _merged_cf(self, kind: str, current: dict[int, Any], values: Any,
                   field: str = "custom_field_values") -> dict[int, Any]:
        if not isinstance(values, list):
            raise invalid(field, "must be a list of {field_id, value}")
        merged = dict(current)
        definitions = self._tables["custom_field"]
        for i, entry in enumerate(values):
            where = f"{field}[{i}]"
            if not isinstance(entry, dict) or set(entry) - {"field_id", "value", "name"} or "field_id" not in entry:
                raise invalid(where, "must be an object {field_id, value}")
            field_id = entry["field_id"]
            definition = definitions.get(field_id) if isinstance(field_id, int) else None
            if definition is None:
                raise invalid(f"{where}.field_id", f"unknown custom field {field_id!r}; list them with GET /custom-fields")
            if kind not in definition["applies_to"]:
                raise invalid(f"{where}.field_id",
                              f"custom field '{definition['name']}' does not apply to {kind}s")
            value = entry.get("value")
            if value is None:
                merged.pop(field_id, None)
            else:
                merged[field_id] = _cf_value(definition, value, f"{where}.value")
        return merged

    @staticmethod
    def _ref_key(ref: dict) -> tuple[str, str, str]:
        return ref["source"], ref["workspace"], ref["item_id"]

    def _claim_ref(self, kind: str, item_id: int | None, ref: dict | None, old: dict | None = None) -> None:
        if ref is not None:
            holder = self._refs.get(self._ref_key(ref))
            if holder is not None and holder != (kind, item_id):
                other_kind, other_id = holder
                raise ApiError(
                    409, "EXTERNAL_REF_CONFLICT",
                    f"external_ref {ref['source']}:{ref['workspace']}:{ref['item_id']} is already used by "
                    f"{other_kind.replace('_', ' ')} {other_id}",
                    {"field": "external_ref", "existing_type": other_kind, "existing_id": other_id},
                )
        if item_id is None:
            return  # insert_raw registers the new item's ref
        if old:
            self._refs.pop(self._ref_key(old), None)
        if ref:
            self._refs[self._ref_key(ref)] = (kind, item_id)


def _cf_value(definition: dict, value: Any, where: str) -> Any:
    kind = definition["type"]
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(where, f"custom field '{definition['name']}' takes a number")
    elif kind == "date":
        a_date(None, where, value)
    elif kind == "select":
        if value not in (definition.get("options") or []):
            _fail(where, f"custom field '{definition['name']}' takes one of {definition.get('options')}")
    elif not isinstance(value, str) or len(value) > 2000:
        _fail(where, f"custom field '{definition['name']}' takes text of at most 2000 characters")
    return value


class View:
    """One consistent read of the store with computed progress and health, memoised per request."""

    def __init__(self, store: CascadeStore) -> None:
        self.store = store
        self.today = store.today()
        self._rollups: dict[int, tuple[float | None, h.Assessment]] = {}
        self._criteria: dict[int, list[tuple[str, dict]]] = {}
        for kind in ("action", "measure", "objective"):
            for item in store.table(kind).values():
                parent = item.get("parent_objective_id") if kind == "objective" else item["objective_id"]
                if parent is not None and not item["archived"] and item.get("status") != h.WONT_DO:
                    self._criteria.setdefault(parent, []).append((kind, item))

    def render(self, kind: str, item: dict) -> dict:
        out = {"id": item["id"], "type": kind} if kind in STRATEGY_KINDS else {"id": item["id"]}
        out.update({k: v for k, v in item.items() if k not in ("id", "cf")})
        if kind in CF_KINDS:
            progress, assessment = self.assess(kind, item)
            out["progress"] = progress
            out["health"] = assessment.health
            definitions = self.store.table("custom_field")
            out["custom_field_values"] = [
                {"field_id": fid, "name": definitions[fid]["name"], "value": value}
                for fid, value in sorted(item["cf"].items())
            ]
        return _ordered(kind, out)

    def assess(self, kind: str, item: dict) -> tuple[float | None, h.Assessment]:
        if kind == "objective":
            return self._objective(item)
        start, due = _parse_date(item.get("start_date")), _parse_date(item.get("due_date"))
        created = _parse_date(item["created_at"][:10])
        if kind == "measure":
            progress = h.measure_progress(item["initial_value"], item["target_value"], item["current_value"])
            if progress is None:
                current = item["current_value"] if item["current_value"] is not None else item["initial_value"]
                return None, h.assess_maintain(current, item["target_value"], start, self.today)
            return progress, h.assess(progress, start, due, self.today, created=created)
        progress = self.action_progress(item)
        return progress, h.assess(progress, start, due, self.today, status=item["status"], created=created)

    def action_progress(self, action: dict) -> float:
        tracking = action["tracking_type"]
        if tracking == "checklist":
            items = self.store._children("checklist_item", action["id"])
            return round(100.0 * sum(i["completed"] for i in items) / len(items), 2) if items else 0.0
        if tracking == "milestones":
            # Milestones complete in order: only the completed prefix counts.
            reached = 0.0
            for m in sorted(self.store._children("milestone", action["id"]), key=lambda m: (m["position"], m["id"])):
                if not m["completed"]:
                    break
                reached = max(reached, float(m["progress_value"]))
            return reached
        return action["progress"]

    def _objective(self, item: dict) -> tuple[float | None, h.Assessment]:
        cached = self._rollups.get(item["id"])
        if cached is None:
            criteria = [self.assess(kind, child) for kind, child in self._criteria.get(item["id"], [])]
            cached = h.roll_up(criteria, item.get("status"))
            self._rollups[item["id"]] = cached
        return cached


_ORDER = ("id", "type", "plan_id", "focus_area_id", "parent_objective_id", "objective_id", "action_id", "name",
          "description", "email", "owner_ids", "collaborator_ids", "start_date", "due_date", "status",
          "tracking_type", "progress", "progress_value", "completed", "position", "initial_value",
          "target_value", "current_value", "unit", "health", "archived", "external_ref", "custom_field_values",
          "applies_to", "options", "created_at", "updated_at")


def _ordered(kind: str, out: dict) -> dict:
    rank = {k: i for i, k in enumerate(_ORDER)}
    return dict(sorted(out.items(), key=lambda kv: rank.get(kv[0], len(rank))))
