"""The Wrike emulator's task routes: task queries on the account, a folder (the Recycle Bin and
the Root included) or a space, tasks by id, and ``PUT``/``DELETE /tasks/{id}`` and
``POST /folders/{id}/tasks``, which turn their parameters into the in-process changes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import jsonify

from cascade_sync_sandbox.wrike.protocol import (
    API,
    ApiError,
    envelope,
    json_value,
    list_value,
    params,
    reject_unknown,
    split_ids,
)
from cascade_sync_sandbox.wrike.queries import (
    answer_task_query,
    descendants_flag,
    requested_fields,
    subtasks_flag,
    task_view,
)

if TYPE_CHECKING:
    from cascade_sync_sandbox.wrike.app import WrikeEmulator


def register_task_routes(emu: WrikeEmulator) -> None:
    app = emu.app

    @app.get(f"{API}/tasks")
    def _all_tasks():
        values = params()
        with emu._lock:
            candidates = emu._with_subtasks(
                [t for t in emu.dataset.tasks if t["scope"] == "WsTask"], subtasks_flag(values)
            )
            return jsonify(answer_task_query(values, candidates, emu.tasks_by_id, emu.pager, descendants=True))

    @app.get(f"{API}/folders/<folder_id>/tasks")
    def _folder_tasks(folder_id: str):
        values = params()
        with emu._lock:
            descendants = descendants_flag(values)
            if folder_id == emu.dataset.recycle_bin_id:
                candidates = [t for t in emu.dataset.tasks if t["scope"] == "RbTask"]
                if not subtasks_flag(values):
                    candidates = [t for t in candidates if not t["superTaskIds"]]
            elif folder_id == emu.dataset.root_id:
                candidates = [t for t in emu.dataset.tasks if t["scope"] == "WsTask"]
                candidates = emu._with_subtasks(candidates, subtasks_flag(values))
            else:
                if folder_id in emu.spaces_by_id:
                    emu._space(folder_id)
                else:
                    emu._folder(folder_id)
                candidates = emu._tasks_in(emu.subtree(folder_id, descendants), subtasks_flag(values))
            return jsonify(answer_task_query(values, candidates, emu.tasks_by_id, emu.pager, descendants=descendants))

    @app.get(f"{API}/spaces/<space_id>/tasks")
    def _space_tasks(space_id: str):
        values = params()
        with emu._lock:
            emu._space(space_id)
            descendants = descendants_flag(values)
            candidates = emu._tasks_in(emu.subtree(space_id, descendants), subtasks_flag(values))
            return jsonify(answer_task_query(values, candidates, emu.tasks_by_id, emu.pager, descendants=descendants))

    @app.get(f"{API}/tasks/<ids>")
    def _tasks_by_id(ids: str):
        values = params()
        reject_unknown(values, {"fields"})
        fields = requested_fields(values)
        with emu._lock:
            data = [task_view(emu._task(i), fields, full=True) for i in split_ids(ids)]
        return jsonify(envelope("tasks", data))

    @app.put(f"{API}/tasks/<task_id>")
    def _modify_task(task_id: str):
        values = params()
        reject_unknown(
            values,
            {
                "title",
                "description",
                "status",
                "importance",
                "dates",
                "addResponsibles",
                "removeResponsibles",
                "addParents",
                "removeParents",
                "customFields",
                "customStatus",
                "fields",
            },
        )
        with emu._lock:
            task = emu._task(task_id)
            changes: dict[str, Any] = {
                k: values[k] for k in ("title", "description", "importance", "status") if k in values
            }
            if "customStatus" in values:
                changes["customStatusId"] = values["customStatus"]
            if "dates" in values:
                changes["dates"] = json_value(values, "dates")
            for key in ("addResponsibles", "removeResponsibles"):
                if key in values:
                    changes[key] = list_value(values, key)
            if "addParents" in values or "removeParents" in values:
                parents = list(task["parentIds"])
                parents += [p for p in list_value(values, "addParents") or [] if p not in parents]
                drop = list_value(values, "removeParents") or []
                changes["parentIds"] = [p for p in parents if p not in drop]
            if "customFields" in values:
                changes["customFields"] = json_value(values, "customFields")
        return jsonify(envelope("tasks", [emu.update_task(task_id, **changes)]))

    @app.delete(f"{API}/tasks/<task_id>")
    def _delete_task(task_id: str):
        with emu._lock:
            emu._task(task_id)
        return jsonify(envelope("tasks", [emu.delete_task(task_id)]))

    @app.post(f"{API}/folders/<folder_id>/tasks")
    def _create_task(folder_id: str):
        values = params()
        reject_unknown(
            values,
            {
                "title",
                "description",
                "status",
                "importance",
                "dates",
                "responsibles",
                "customFields",
                "customStatus",
                "superTasks",
                "fields",
            },
        )
        if not values.get("title"):
            raise ApiError(400, "parameter_required", "Parameter 'title' is required")
        fields: dict[str, Any] = {k: values[k] for k in ("description", "importance", "status") if k in values}
        if "customStatus" in values:
            fields["customStatusId"] = values["customStatus"]
        if "dates" in values:
            fields["dates"] = json_value(values, "dates")
        if "responsibles" in values:
            fields["responsibleIds"] = list_value(values, "responsibles")
        if "customFields" in values:
            fields["customFields"] = json_value(values, "customFields")
        if "superTasks" in values:
            fields["superTaskIds"] = list_value(values, "superTasks")
        return jsonify(envelope("tasks", [emu.create_task(folder_id, values["title"], **fields)]))
