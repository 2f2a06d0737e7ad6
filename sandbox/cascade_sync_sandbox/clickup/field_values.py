"""Custom field values as the ClickUp emulator stores them: a Set Custom Field Value body coerced
per field type (a ``drop_down`` option id becomes its orderindex, ``labels`` a de-duplicated id
list, ``users`` an add/rem applied to the current people, ``manual_progress`` a current value and
its percentage), and the number parsing writes share."""

from __future__ import annotations

from typing import Any

from .errors import ApiError, bad_request
from .model import ClickUpDataset, CustomField, Task


def parse_number(value: Any) -> int | float:
    """A JSON number or numeric string as int or float (``"5"`` -> 5, ``"5.0"`` -> 5.0); bools are refused."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        return value
    number = float(value)
    return int(number) if number.is_integer() and "." not in str(value) else number


def coerce_value(ds: ClickUpDataset, task: Task, cf: CustomField, value: Any, current: Any) -> Any:
    """The stored form of a Set Custom Field Value ``value`` for ``cf``; ``current`` is the stored
    value before (``users`` fields add to and remove from it). Raises FIELD_011 when invalid."""
    invalid = bad_request(f"Value is not valid for a {cf.type} custom field", "FIELD_011")
    kind = cf.type
    try:
        if kind in ("url", "email", "phone", "short_text", "text"):
            if not isinstance(value, str):
                raise invalid
            return value
        if kind == "drop_down":
            for option in cf.type_config["options"]:
                if option["id"] == value:
                    return option["orderindex"]
            raise invalid
        if kind == "labels":
            known = {o["id"] for o in cf.type_config["options"]}
            if not isinstance(value, list) or not set(value) <= known:
                raise invalid
            return list(dict.fromkeys(value))
        if kind == "date":
            return str(int(value))
        if kind in ("number", "currency"):
            return parse_number(value)
        if kind == "checkbox":
            if value in (True, "true"):
                return "true"
            if value in (False, "false"):
                return "false"
            raise invalid
        if kind == "users":
            members = set(ds.teams[task.team_id].member_ids)
            people = list(current or [])
            for raw in (value or {}).get("add") or []:
                if int(raw) not in members:
                    raise invalid
                if int(raw) not in people:
                    people.append(int(raw))
            removed = {int(r) for r in (value or {}).get("rem") or []}
            return [p for p in people if p not in removed]
        if kind == "manual_progress":
            start, end = cf.type_config.get("start", 0), cf.type_config.get("end", 100)
            current_value = parse_number(value["current"])
            if not start <= current_value <= end:
                raise invalid
            percent = (current_value - start) * 100 / (end - start)
            return {
                "current": current_value,
                "percent_completed": parse_number(percent) if percent % 1 else int(percent),
            }
    except ApiError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError):
        raise invalid from None
    return value
