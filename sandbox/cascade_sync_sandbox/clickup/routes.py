"""The HTTP routes of the ClickUp emulator (``/api/v2``) and its sandbox admin actions."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from flask import jsonify, request

from . import errors
from .errors import ApiError
from .query import flag, page_of, select_tasks
from .render import field_json, folder_json, list_json, me_json, space_json, task_json, team_json

if TYPE_CHECKING:
    from .app import ClickUpEmulator

_LOCATION_KEYS = ("task_id", "list_id", "folder_id", "space_id")


def _body() -> dict[str, Any]:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise errors.bad_request("Request body must be a JSON object", "INPUT_000")
    return body


def register_api(emu: ClickUpEmulator) -> None:
    app, ds = emu.app, emu.dataset

    def api(rule: str, methods: tuple[str, ...] = ("GET",)) -> Callable:
        def decorate(fn: Callable) -> Callable:
            @wraps(fn)
            def handler(**kwargs: Any):
                with emu.lock:
                    grant = emu.authorize()
                    return fn(grant, **kwargs)

            app.add_url_rule(
                f"/api/v2{rule}", endpoint=f"clickup_{fn.__name__}", view_func=handler, methods=list(methods)
            )
            return handler

        return decorate

    def archived_arg() -> bool:
        return flag(request.args, "archived")

    def lists_json(grant, list_ids: list[str]) -> list[dict[str, Any]]:
        out = []
        for list_id in list_ids:
            lst = ds.lists[list_id]
            if list_id not in grant.denied_list_ids and lst.archived == archived_arg():
                out.append(list_json(ds, lst, emu.list_task_count(list_id)))
        return out

    def folder_payload(grant, folder) -> dict[str, Any]:
        count = sum(emu.list_task_count(x) for x in folder.list_ids if x not in grant.denied_list_ids)
        return folder_json(ds, folder, lists_json(grant, folder.list_ids), count)

    @api("/user")
    def get_user(grant):
        return jsonify({"user": me_json(ds.users[grant.user_id])})

    @api("/team")
    def get_teams(grant):
        return jsonify({"teams": [team_json(ds, t) for t in ds.teams.values() if t.id in grant.team_ids]})

    @api("/team/<team_id>/space")
    def get_spaces(grant, team_id):
        team = emu.team_for(grant, team_id)
        spaces = [ds.spaces[s] for s in team.space_ids]
        return jsonify({"spaces": [space_json(ds, s) for s in spaces if s.archived == archived_arg()]})

    @api("/space/<space_id>")
    def get_space(grant, space_id):
        return jsonify(space_json(ds, emu.space_for(grant, space_id)))

    @api("/space/<space_id>/folder")
    def get_folders(grant, space_id):
        space = emu.space_for(grant, space_id)
        folders = [ds.folders[f] for f in space.folder_ids]
        return jsonify(
            {"folders": [folder_payload(grant, f) for f in folders if not f.hidden and f.archived == archived_arg()]}
        )

    @api("/folder/<folder_id>")
    def get_folder(grant, folder_id):
        return jsonify(folder_payload(grant, emu.folder_for(grant, folder_id)))

    @api("/folder/<folder_id>/list")
    def get_lists(grant, folder_id):
        return jsonify({"lists": lists_json(grant, emu.folder_for(grant, folder_id).list_ids)})

    @api("/space/<space_id>/list")
    def get_folderless_lists(grant, space_id):
        return jsonify({"lists": lists_json(grant, emu.space_for(grant, space_id).folderless_list_ids)})

    @api("/list/<list_id>")
    def get_list(grant, list_id):
        lst = emu.list_for(grant, list_id)
        return jsonify(list_json(ds, lst, emu.list_task_count(list_id), detailed=True))

    @api("/list/<list_id>/field")
    def get_list_fields(grant, list_id):
        emu.list_for(grant, list_id)
        return jsonify({"fields": [field_json(cf) for cf in ds.list_fields(list_id)]})

    def task_page(tasks) -> Any:
        chunk, last = page_of(tasks, request.args)
        markdown = flag(request.args, "include_markdown_description")
        return jsonify({"tasks": [task_json(ds, t, markdown=markdown) for t in chunk], "last_page": last})

    @api("/list/<list_id>/task")
    def get_list_tasks(grant, list_id):
        emu.list_for(grant, list_id)
        candidates = emu.visible(grant, emu.tasks_in_list(list_id, include_timl=flag(request.args, "include_timl")))
        return task_page(select_tasks(ds, candidates, request.args, team_endpoint=False))

    @api("/team/<team_id>/task")
    def get_team_tasks(grant, team_id):
        emu.team_for(grant, team_id)
        candidates = emu.visible(grant, emu.tasks_in_team(team_id))
        return task_page(select_tasks(ds, candidates, request.args, team_endpoint=True))

    @api("/task/<task_id>")
    def get_task(grant, task_id):
        task = emu.task_for(grant, task_id)
        out = task_json(ds, task, markdown=flag(request.args, "include_markdown_description"))
        if flag(request.args, "include_subtasks"):
            out["subtasks"] = [task_json(ds, t) for t in emu.visible(grant, emu.subtasks_of(task_id))]
        return jsonify(out)

    @api("/task/<task_id>", methods=("PUT",))
    def put_task(grant, task_id):
        task = emu.task_for(grant, task_id)
        body = _body()
        body.pop("custom_fields", None)  # ClickUp: custom fields are set only via the Set Custom Field endpoint
        return jsonify(emu.change_task(task, body, ds.users[grant.user_id]))

    @api("/task/<task_id>/field/<field_id>", methods=("POST",))
    def set_field(grant, task_id, field_id):
        task = emu.task_for(grant, task_id)
        events = emu.writer.set_field(task, field_id, _body(), ds.users[grant.user_id], emu.now_ms())
        emu.publish(events, task)
        return jsonify({})

    @api("/task/<task_id>/field/<field_id>", methods=("DELETE",))
    def remove_field(grant, task_id, field_id):
        task = emu.task_for(grant, task_id)
        events = emu.writer.remove_field(task, field_id, ds.users[grant.user_id], emu.now_ms())
        emu.publish(events, task)
        return jsonify({})

    @api("/team/<team_id>/webhook", methods=("POST",))
    def create_webhook(grant, team_id):
        emu.team_for(grant, team_id)
        body = _body()
        endpoint = body.get("endpoint")
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            raise errors.bad_request("endpoint must be an http(s) URL", "WEBHOOK_001")
        location = {key: None if body.get(key) in (None, "") else str(body[key]) for key in _LOCATION_KEYS}
        hook = emu.webhooks.create(grant.user_id, team_id, endpoint, _events(body.get("events", "*")), location)
        return jsonify({"id": hook.id, "webhook": hook.json()})

    @api("/team/<team_id>/webhook")
    def get_webhooks(grant, team_id):
        emu.team_for(grant, team_id)
        return jsonify({"webhooks": [h.json() for h in emu.webhooks.owned_by(grant.user_id, team_id)]})

    def own_hook(grant, webhook_id):
        hook = emu.webhooks.hooks.get(webhook_id)
        if hook is None or hook.userid != grant.user_id or hook.team_id not in grant.team_ids:
            raise errors.not_found("Webhook")
        return hook

    @api("/webhook/<webhook_id>", methods=("PUT",))
    def update_webhook(grant, webhook_id):
        hook = own_hook(grant, webhook_id)
        body = _body()
        status = body.get("status")
        if status is not None and status not in ("active", "suspended"):
            raise errors.bad_request("status must be active or suspended", "WEBHOOK_003")
        endpoint = body.get("endpoint")
        if endpoint is not None and (not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://"))):
            raise errors.bad_request("endpoint must be an http(s) URL", "WEBHOOK_001")
        events = _events(body["events"]) if "events" in body else None
        emu.webhooks.update(hook, endpoint, events, status)
        return jsonify({"id": hook.id, "webhook": hook.json()})

    @api("/webhook/<webhook_id>", methods=("DELETE",))
    def delete_webhook(grant, webhook_id):
        emu.webhooks.delete(own_hook(grant, webhook_id).id)
        return jsonify({})


def _events(raw: Any) -> list[str]:
    if raw == "*" or raw == ["*"]:
        return ["*"]
    if not isinstance(raw, list) or not raw or not all(isinstance(e, str) for e in raw):
        raise errors.bad_request('events must be "*" or a list of event names', "WEBHOOK_004")
    return list(raw)


def register_admin(emu: ClickUpEmulator) -> None:
    """``POST /_sandbox/clickup/<action>`` with a JSON body: the in-process helpers, for other processes."""
    actions: dict[str, Callable[[dict[str, Any]], Any]] = {
        "update_task": lambda b: emu.update_task(b.pop("task_id"), **b),
        "create_task": lambda b: {"task_id": emu.create_task(b.pop("list_id"), **b)},
        "delete_task": lambda b: emu.delete_task(b["task_id"]),
        "move_task": lambda b: emu.move_task(b["task_id"], b["list_id"]),
        "revoke_token": lambda b: emu.revoke_token(b["token"]),
        "deny_list": lambda b: emu.deny_list(b["token"], b["list_id"]),
        "grant": lambda b: {
            "token": emu.grant(
                b["team_ids"], b.get("denied_list_ids", ()), user_id=b.get("user_id"), oauth=b.get("oauth", False)
            )
        },
        "flush_webhooks": lambda b: {"idle": emu.flush_webhooks(float(b.get("timeout", 10)))},
    }

    @emu.app.post("/_sandbox/clickup/<action>")
    def _admin(action: str):
        handler = actions.get(action)
        if handler is None:
            return jsonify({"err": f"unknown action {action!r}; one of {sorted(actions)}"}), 404
        body = request.get_json(force=True, silent=True) or {}
        try:
            result = handler(dict(body))
        except ApiError as error:
            return jsonify(error.body()), error.status
        except (KeyError, TypeError) as error:
            return jsonify({"err": f"bad arguments for {action}: {error}"}), 400
        return jsonify({"ok": True, "result": result})
