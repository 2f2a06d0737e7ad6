"""The emulated Integrations API's in-memory model: workspaces → plans → actions and measures.

The API lists these and writes only three things: an action's progress value, a measure's current
value and a measure's values on past days. The model therefore keeps, per action, ``value`` and the
``writes`` history, and per measure ``value``, ``history`` (date → value) and ``writes``; everything
a PUT receives is validated here and refused with :class:`ApiError` (``{"message"}`` bodies).
"""

from __future__ import annotations

import copy
import math
import re
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

_ID_NAMESPACE = uuid.UUID("6f1c1f2e-3a55-4d4e-9b1e-0c45ca5cade0")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

SANDBOX_USER = "user-sandbox"


class ApiError(Exception):
    """An answer other than success: HTTP status and a human message (body ``{"message"}``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message

    def body(self) -> dict:
        return {"message": self.message}


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(kind: str, item_id: str) -> ApiError:
    return ApiError(404, f"{kind} '{item_id}' not found")


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class IntegrationsStore:
    """Workspaces, plans, actions and measures by id, with membership-based visibility.

    A workspace whose ``members`` is None is open to every user; otherwise only the listed user ids
    see it and everything in it (anything else answers 404, as if it did not exist).
    """

    def __init__(self, now: Callable[[], str] = _utc_now) -> None:
        self.lock = threading.RLock()
        self.workspaces: dict[str, dict] = {}
        self.plans: dict[str, dict] = {}
        self.actions: dict[str, dict] = {}
        self.measures: dict[str, dict] = {}
        self._counter = 0
        self._now = now

    # --- seeding -------------------------------------------------------------------------------
    def add_workspace(self, name: str, *, id: str | None = None, members: list[str] | None = None) -> dict:
        with self.lock:
            ws_id = self._claim_id("workspace", id)
            self.workspaces[ws_id] = {
                "id": ws_id,
                "displayName": name,
                "members": None if members is None else list(members),
            }
            return copy.deepcopy(self.workspaces[ws_id])

    def add_plan(
        self,
        workspace_id: str,
        name: str,
        *,
        id: str | None = None,
        owner: str = SANDBOX_USER,
        team: str = "Strategy Team",
        collaborators: list | None = None,
    ) -> dict:
        with self.lock:
            if workspace_id not in self.workspaces:
                raise KeyError(f"workspace '{workspace_id}' does not exist")
            plan_id = self._claim_id("plan", id)
            self.plans[plan_id] = {
                "id": plan_id,
                "name": name,
                "workspaceId": workspace_id,
                "owner": owner,
                "collaborators": list(collaborators or []),
                "team": team,
            }
            return copy.deepcopy(self.plans[plan_id])

    def add_action(self, plan_id: str, name: str, *, id: str | None = None) -> dict:
        with self.lock:
            plan = self._seed_plan(plan_id)
            action_id = self._claim_id("action", id)
            self.actions[action_id] = {
                "id": action_id,
                "name": name,
                "planId": plan_id,
                "workspaceId": plan["workspaceId"],
                "value": None,
                "writes": [],
            }
            return copy.deepcopy(self.actions[action_id])

    def add_measure(self, plan_id: str, name: str, *, id: str | None = None) -> dict:
        with self.lock:
            plan = self._seed_plan(plan_id)
            measure_id = self._claim_id("measure", id)
            self.measures[measure_id] = {
                "id": measure_id,
                "name": name,
                "planId": plan_id,
                "workspaceId": plan["workspaceId"],
                "value": None,
                "history": {},
                "writes": [],
            }
            return copy.deepcopy(self.measures[measure_id])

    def _seed_plan(self, plan_id: str) -> dict:
        if plan_id not in self.plans:
            raise KeyError(f"plan '{plan_id}' does not exist")
        return self.plans[plan_id]

    def _claim_id(self, kind: str, given: str | None) -> str:
        """The caller's id, checked, or the next deterministic UUID-shaped one (never numeric, so a
        client cannot come to rely on ids being integers)."""
        if given is None:
            while True:
                self._counter += 1
                candidate = str(uuid.uuid5(_ID_NAMESPACE, f"{kind}-{self._counter}"))
                if not self._taken(candidate):
                    return candidate
        if not isinstance(given, str) or not given or "/" in given or given != given.strip():
            raise ValueError(f"{kind} id must be a non-empty string without '/' or surrounding spaces: {given!r}")
        if self._taken(given):
            raise ValueError(f"id '{given}' is already used")
        return given

    def _taken(self, item_id: str) -> bool:
        return any(item_id in table for table in (self.workspaces, self.plans, self.actions, self.measures))

    # --- visibility ----------------------------------------------------------------------------
    def can_see(self, user: str, workspace_id: str) -> bool:
        workspace = self.workspaces.get(workspace_id)
        return workspace is not None and (workspace["members"] is None or user in workspace["members"])

    def visible_workspaces(self, user: str) -> list[dict]:
        return [w for w in self.workspaces.values() if self.can_see(user, w["id"])]

    def workspace_for(self, user: str, workspace_id: str) -> dict:
        if not self.can_see(user, workspace_id):
            raise not_found("workspace", workspace_id)
        return self.workspaces[workspace_id]

    def plan_for(self, user: str, plan_id: str) -> dict:
        plan = self.plans.get(plan_id)
        if plan is None or not self.can_see(user, plan["workspaceId"]):
            raise not_found("plan", plan_id)
        return plan

    def item_for(self, user: str, kind: str, item_id: str) -> dict:
        table = self.actions if kind == "action" else self.measures
        item = table.get(item_id)
        if item is None or not self.can_see(user, item["workspaceId"]):
            raise not_found(kind, item_id)
        return item

    def children(self, user: str, kind: str, plan_id: str, workspace_id: str | None) -> list[dict]:
        """The actions or measures of a plan; ``workspace_id`` is required and must be the plan's."""
        if workspace_id is None or workspace_id == "":
            raise bad_request("query parameter 'workspace_id' is required")
        plan = self.plan_for(user, plan_id)
        if workspace_id != plan["workspaceId"]:
            raise bad_request(f"plan '{plan_id}' is not in workspace '{workspace_id}'")
        table = self.actions if kind == "action" else self.measures
        return [i for i in table.values() if i["planId"] == plan_id]

    # --- writes --------------------------------------------------------------------------------
    def set_value(self, user: str, kind: str, item_id: str, body: Any) -> dict:
        """PUT /v2/actions/{id} (``action_value``) or /v2/measures/{id} (``measure_value``)."""
        key = f"{kind}_value"
        body = _object(body)
        workspace_id, plan_id = _ids(body)
        if key not in body:
            raise bad_request(f"'{key}' is required")
        value = _number(key, body[key])
        with self.lock:
            item = self.item_for(user, kind, item_id)
            _same_place(kind, item, workspace_id, plan_id)
            item["value"] = value
            item["writes"].append({"at": self._now(), "value": value})
            return copy.deepcopy(item)

    def set_history(self, user: str, measure_id: str, body: Any) -> dict:
        """PUT /v2/measures/historical/{id}: every entry is checked before any is stored."""
        body = _object(body)
        workspace_id, plan_id = _ids(body)
        entries = _history(body.get("historical_data", []))
        with self.lock:
            measure = self.item_for(user, "measure", measure_id)
            _same_place("measure", measure, workspace_id, plan_id)
            for day, value in entries:
                measure["history"][day] = value
            measure["history"] = dict(sorted(measure["history"].items()))
            measure["writes"].append(
                {"at": self._now(), "historical_data": [{"date": d, "value": v} for d, v in entries]}
            )
            return copy.deepcopy(measure)

    # --- inspection ----------------------------------------------------------------------------
    def snapshot(self) -> dict:
        """What ``GET /_sandbox/integrations/state`` answers: every action and measure with its values."""
        with self.lock:
            return {
                "actions": {
                    i: {"name": a["name"], "planId": a["planId"], "workspaceId": a["workspaceId"], "value": a["value"]}
                    for i, a in self.actions.items()
                },
                "measures": {
                    i: {
                        "name": m["name"],
                        "planId": m["planId"],
                        "workspaceId": m["workspaceId"],
                        "value": m["value"],
                        "history": dict(m["history"]),
                    }
                    for i, m in self.measures.items()
                },
            }


# --- body validation ---------------------------------------------------------------------------
def _object(body: Any) -> dict:
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    return body


def _ids(body: dict) -> tuple[str, str]:
    for key in ("workspace_id", "plan_id"):
        if key not in body or body[key] is None:
            raise bad_request(f"'{key}' is required")
        if not isinstance(body[key], str) or not body[key]:
            raise bad_request(f"'{key}' must be a non-empty string")
    return body["workspace_id"], body["plan_id"]


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad_request(f"'{key}' must be a number (got {value!r})")
    return value


def _same_place(kind: str, item: dict, workspace_id: str, plan_id: str) -> None:
    """The body's workspace and plan must be the item's own: the API addresses items by all three."""
    if plan_id != item["planId"]:
        raise bad_request(f"{kind} '{item['id']}' does not belong to plan '{plan_id}'")
    if workspace_id != item["workspaceId"]:
        raise bad_request(f"{kind} '{item['id']}' does not belong to workspace '{workspace_id}'")


def _history(raw: Any) -> list[tuple[str, int]]:
    if not isinstance(raw, list):
        raise bad_request("'historical_data' must be an array of {date, value}")
    entries = []
    for n, entry in enumerate(raw):
        where = f"historical_data[{n}]"
        if not isinstance(entry, dict):
            raise bad_request(f"{where} must be an object {{date, value}}")
        if "date" not in entry or "value" not in entry:
            raise bad_request(f"{where} needs both 'date' and 'value'")
        entries.append((_day(where, entry["date"]), _int32(where, entry["value"])))
    return entries


def _day(where: str, value: Any) -> str:
    if isinstance(value, str) and _DATE.match(value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise bad_request(f"{where}.date must be a date YYYY-MM-DD (got {value!r})")


def _int32(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{where}.value must be an integer (got {value!r})")
    if not INT32_MIN <= value <= INT32_MAX:
        raise bad_request(f"{where}.value must fit in 32 bits (got {value})")
    return value
