"""The ClickUp emulator's responses, validated against ClickUp's official OpenAPI 3.1 spec.

The spec applies everywhere except the deviations in DEVIATIONS: places where source-apis.md
records that real payloads differ from the spec (A4b and the facts cited per row). Each row
relaxes exactly the schema nodes at its JSON paths; every other validation error fails the test,
and a row that no response needs (the spec without that one relaxation accepts everything at
its path) fails too, so the table cannot go stale.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from cascade_sync_pipeline_tests.support.paths import CLICKUP_OPENAPI, missing_reference
from cascade_sync_sandbox.clickup import ClickUpEmulator, generate

SPEC_PATH = CLICKUP_OPENAPI  # outside the repository: ../shared/reference, or $CASCADE_SYNC_REFERENCE_DIR
SPEC_URI = "urn:clickup:openapi"
TEAM_ID = "9010099710"


@pytest.fixture(autouse=True)
def _the_spec_is_where_expected():
    """A missing spec fails every test here naming where it was expected (never a skip)."""
    if not SPEC_PATH.is_file():
        pytest.fail(missing_reference(SPEC_PATH, "ClickUp's OpenAPI spec"), pytrace=False)


# Every operation the emulator serves under /api/v2: operationId -> (method, Flask rule).
OPERATIONS = {
    "GetAuthorizedUser": ("GET", "/user"),
    "GetAuthorizedTeams": ("GET", "/team"),
    "GetSpaces": ("GET", "/team/<team_id>/space"),
    "GetSpace": ("GET", "/space/<space_id>"),
    "GetFolders": ("GET", "/space/<space_id>/folder"),
    "GetFolder": ("GET", "/folder/<folder_id>"),
    "GetLists": ("GET", "/folder/<folder_id>/list"),
    "GetFolderlessLists": ("GET", "/space/<space_id>/list"),
    "GetList": ("GET", "/list/<list_id>"),
    "GetAccessibleCustomFields": ("GET", "/list/<list_id>/field"),
    "GetTasks": ("GET", "/list/<list_id>/task"),
    "GetFilteredTeamTasks": ("GET", "/team/<team_id>/task"),
    "GetTask": ("GET", "/task/<task_id>"),
    "UpdateTask": ("PUT", "/task/<task_id>"),
    "SetCustomFieldValue": ("POST", "/task/<task_id>/field/<field_id>"),
    "RemoveCustomFieldValue": ("DELETE", "/task/<task_id>/field/<field_id>"),
    "CreateWebhook": ("POST", "/team/<team_id>/webhook"),
    "GetWebhooks": ("GET", "/team/<team_id>/webhook"),
    "UpdateWebhook": ("PUT", "/webhook/<webhook_id>"),
    "DeleteWebhook": ("DELETE", "/webhook/<webhook_id>"),
}


# ---- relaxations --------------------------------------------------------------------------------


def _ref(pointer: str) -> dict[str, str]:
    return {"$ref": f"{SPEC_URI}#{pointer}"}


def _op_pointer(op: str, *more: str) -> str:
    return "/".join([_OP_POINTERS[op], *more])


def nullable(node: dict) -> dict:
    return {"anyOf": [node, {"type": "null"}]}


def widen(extra: dict | Callable[[], dict]) -> Callable[[dict], dict]:
    return lambda node: {"anyOf": [node, extra() if callable(extra) else extra]}


def replace(schema: dict | Callable[[], dict]) -> Callable[[dict], dict]:
    return lambda node: schema() if callable(schema) else schema


def as_array(node: dict) -> dict:
    return {"type": "array", "items": node}


def one_of_as_any_of(node: dict) -> dict:
    relaxed = dict(node)
    relaxed["anyOf"] = relaxed.pop("oneOf")
    return relaxed


USER_OBJECT = {
    "type": "object",
    "required": ["id", "username", "color", "initials", "email", "profilePicture"],
    "properties": {
        "id": {"type": "integer"},
        "username": {"type": "string"},
        "color": {"type": ["string", "null"]},
        "initials": {"type": "string"},
        "email": {"type": "string"},
        "profilePicture": {"type": ["string", "null"]},
    },
}


@dataclass(frozen=True)
class Deviation:
    """Where real payloads differ from the spec: operationId -> JSON paths, how the schema node
    there is relaxed, and the source-apis.md fact that justifies it."""

    paths: dict[str, tuple[str, ...]]
    relax: Callable[[dict], dict]
    why: str


SINGLE_TASK = ("GetTask", "UpdateTask")
TEAM_TASK_ITEM = "properties/tasks/items/properties"
TASK_LISTS = ("GetTasks", "GetFilteredTeamTasks")


def on_tasks(ops: tuple[str, ...], *relative: str) -> dict[str, tuple[str, ...]]:
    """The same task-relative paths in single-task and task-list responses."""
    return {op: tuple(("" if op in SINGLE_TASK else "tasks/*/") + r for r in relative) for op in ops}


DEVIATIONS: dict[str, Deviation] = {
    "tasks[].assignees[], tasks[].watchers[]": Deviation(
        {**on_tasks(("GetTask", "GetTasks"), "assignees/*", "watchers/*"), **on_tasks(("UpdateTask",), "assignees/*")},
        replace(USER_OBJECT),
        "A4b: the spec types the items as strings; real items are user objects "
        "{id, username, color, initials, email, profilePicture} [R].",
    ),
    "tasks[].custom_fields": Deviation(
        on_tasks(("GetTasks",), "custom_fields"),
        as_array,
        "A4b: the spec types it as an object; real payloads carry an array of field entries [R].",
    ),
    "tasks[].priority": Deviation(
        on_tasks(("GetTask", "UpdateTask", "GetTasks"), "priority"),
        nullable,
        "A4b: the spec does not allow null; real payloads carry null when no priority is set [R].",
    ),
    "tasks[].points": Deviation(
        on_tasks(("GetTask", "UpdateTask", "GetTasks", "GetFilteredTeamTasks"), "points"),
        nullable,
        "A4b: the spec does not allow null; real payloads carry null when unset [R].",
    ),
    "creator.profilePicture": Deviation(
        on_tasks(("GetTask", "UpdateTask", "GetTasks", "GetFilteredTeamTasks"), "creator/profilePicture"),
        nullable,
        "A4b: null whenever the user has no picture [R] (CU-REALTASK's creator has profilePicture null).",
    ),
    "members[].user.profilePicture": Deviation(
        {
            "GetAuthorizedTeams": ("teams/*/members/*/user/profilePicture",),
            "GetSpaces": ("spaces/*/members/*/user/profilePicture",),
        },
        nullable,
        "A4b: null whenever the member has no picture [R].",
    ),
    "teams[].avatar": Deviation(
        {"GetAuthorizedTeams": ("teams/*/avatar",)}, nullable, "A4b: null for a Workspace without an avatar [R]."
    ),
    "spaces[].avatar": Deviation(
        {"GetSpaces": ("spaces/*/avatar",)}, nullable, "A4b: null for a Space without an avatar [R]."
    ),
    # Beyond A4b, each justified by a fact recorded in source-apis.md:
    "user.profilePicture (GET /user)": Deviation(
        {"GetAuthorizedUser": ("user/profilePicture",)},
        nullable,
        "A4b: members[].user.profilePicture is null when unset, and the spec defines members[].user as a "
        "$ref to this very GET /user schema; A4's CU-REALTASK users carry profilePicture null [R].",
    ),
    "tasks[].assignees[].profilePicture, tasks[].watchers[].profilePicture (team tasks)": Deviation(
        on_tasks(("GetFilteredTeamTasks",), "assignees/*/profilePicture", "watchers/*/profilePicture"),
        nullable,
        'A4 task object (CU-REALTASK): watchers[] items carry "profilePicture": null [R]; A4b, same rule as '
        "creator.profilePicture.",
    ),
    "tasks[].custom_fields[].value": Deviation(
        on_tasks(("GetTask", "UpdateTask", "GetTasks"), "custom_fields/*/value"),
        replace({"not": {"type": "null"}}),
        "A4 custom field entries: a drop_down value is the option's orderindex (an integer) [R]; short_text/text "
        "are strings [R]; labels an array of option ids, users an array of user objects, manual_progress "
        "{percent_completed, ...}. The spec allows only user objects or {value: string}.",
    ),
    "tasks[].time_spent": Deviation(
        on_tasks(("GetTask", "UpdateTask", "GetTasks"), "time_spent"),
        widen({"type": "integer"}),
        "A4: time_spent is a number in ms; the spec's own example uses 7200000 [C].",
    ),
    "tasks[].time_estimate": Deviation(
        on_tasks(("GetTask", "UpdateTask", "GetTasks", "GetFilteredTeamTasks"), "time_estimate"),
        widen({"type": ["integer", "null"]}),
        "A4: time_estimate is null or a number of ms; the spec's schema says string (and the team-tasks "
        "schema forbids null) [C/R].",
    ),
    "tasks[].checklists[]": Deviation(
        on_tasks(("GetTask", "UpdateTask", "GetTasks"), "checklists/*"),
        replace(lambda: _ref(_op_pointer("GetFilteredTeamTasks", TEAM_TASK_ITEM, "checklists/items"))),
        "A4: checklists items are objects {id, task_id, name, date_created, orderindex, creator, resolved, "
        "unresolved, items[...]} (the spec's own example) [C]; validated with the spec's team-tasks checklist "
        "schema.",
    ),
    "tasks[].tags[]": Deviation(
        on_tasks(("GetTask", "UpdateTask", "GetTasks"), "tags/*"),
        replace(lambda: _ref(_op_pointer("GetFilteredTeamTasks", TEAM_TASK_ITEM, "tags/items"))),
        "A4: tags items are objects {name, tag_fg, tag_bg, creator} [C/R]; validated with the spec's team-tasks "
        "tag schema.",
    ),
    "tasks[].date_closed, due_date, start_date (team tasks)": Deviation(
        on_tasks(("GetFilteredTeamTasks",), "date_closed", "due_date", "start_date"),
        nullable,
        "A4: task timestamps are strings of ms since the epoch, or null [C/R].",
    ),
    "tasks[].parent (team tasks, PUT task)": Deviation(
        on_tasks(("GetFilteredTeamTasks", "UpdateTask"), "parent"),
        nullable,
        "A4: parent is the parent task id string or null [C/R].",
    ),
    "tasks[].priority (team tasks)": Deviation(
        on_tasks(("GetFilteredTeamTasks",), "priority"),
        widen(lambda: nullable(_ref(_op_pointer("GetTask", "properties/priority")))),
        "A4: priority is null or an object {color, id, orderindex, priority} [C]; the team-tasks schema says integer.",
    ),
    "folders (GET /space/{id}/folder)": Deviation(
        {"GetFolders": ("folders",)},
        as_array,
        'A3/A4: the response is {"folders": [...]} (the spec\'s own example) [C]; its schema says object.',
    ),
    "folders[].lists[], folder.lists[]": Deviation(
        {"GetFolders": ("folders/*/lists/*",), "GetFolder": ("lists/*",)},
        replace(lambda: _ref(_op_pointer("GetFolderlessLists", "properties/lists/items"))),
        "A3: each folder embeds its lists (list objects, A4), not strings; validated with the spec's list schema.",
    ),
    "lists[].status, lists[].priority": Deviation(
        {
            "GetLists": ("lists/*/status", "lists/*/priority"),
            "GetFolderlessLists": ("lists/*/status", "lists/*/priority"),
            "GetFolders": ("folders/*/lists/*/status", "folders/*/lists/*/priority"),
            "GetFolder": ("lists/*/status", "lists/*/priority"),
        },
        one_of_as_any_of,
        "A4 list object: status {status, color, hide_label} and priority {priority, color} [C]. The spec's oneOf "
        "ends with an empty schema that matches anything, so every value matches twice and oneOf rejects it.",
    ),
}


# ---- schema plumbing ----------------------------------------------------------------------------


def _spec() -> dict:
    return json.loads(SPEC_PATH.read_text())


def _find_ops(spec: dict) -> dict[str, str]:
    found = {}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if isinstance(op, dict) and op.get("operationId") in OPERATIONS:
                escaped = path.replace("~", "~0").replace("/", "~1").replace("{", "%7B").replace("}", "%7D")
                found[op["operationId"]] = f"/paths/{escaped}/{method}/responses/200/content/application~1json/schema"
                assert method.upper() == OPERATIONS[op["operationId"]][0], op["operationId"]
    return found


SPEC = _spec() if SPEC_PATH.exists() else {"paths": {}}
_OP_POINTERS = _find_ops(SPEC)
REGISTRY = Registry().with_resource(SPEC_URI, Resource.from_contents(SPEC, default_specification=DRAFT202012))


def _resolve(pointer: str) -> Any:
    node = SPEC
    for token in unquote(pointer.lstrip("/")).split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def _absolute(node: Any) -> Any:
    """A copy whose local $refs name the spec document, so it resolves from outside it."""
    if isinstance(node, dict):
        return {k: (SPEC_URI + v if k == "$ref" and v.startswith("#") else _absolute(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_absolute(v) for v in node]
    return node


def _inline(holder: dict, key: Any) -> dict:
    node = holder[key]
    while isinstance(node, dict) and "$ref" in node:
        assert set(node) == {"$ref"}, f"$ref with siblings at {node}"
        node = _absolute(copy.deepcopy(_resolve(node["$ref"].split("#", 1)[1])))
        holder[key] = node
    return node


def _patch(root: dict, path: str, relax: Callable[[dict], dict]) -> bool:
    """Relax the schema node that validates ``path`` (``*`` = any array item); False if absent."""
    holder: dict = {"root": root}
    key: Any = "root"
    for token in path.split("/"):
        node = _inline(holder, key)
        if token == "*":
            if "items" not in node:
                return False
            holder, key = node, "items"
        else:
            if token not in node.get("properties", {}):
                return False
            holder, key = node["properties"], token
    _inline(holder, key)
    holder[key] = relax(holder[key])
    return True


def applicable(op: str) -> list[tuple[str, str]]:
    return [(name, path) for name, d in DEVIATIONS.items() for path in d.paths.get(op, ())]


def validator(op: str, skip: tuple[str, str] | None = None) -> tuple[Draft202012Validator, list]:
    """The op's response schema with every applicable deviation relaxed except ``skip``."""
    schema = {"root": _absolute(copy.deepcopy(_resolve(_OP_POINTERS[op])))}
    missing = []
    for name, path in applicable(op):
        if (name, path) != skip and not _patch(schema["root"], path, DEVIATIONS[name].relax):
            missing.append((name, path))
    return Draft202012Validator(schema["root"], registry=REGISTRY), missing


def _path_of(error) -> tuple:
    return tuple("*" if isinstance(p, int) else p for p in error.absolute_path)


def errors_for(v: Draft202012Validator, bodies: list[Any]) -> list[tuple[tuple, str]]:
    return [(_path_of(e), e.message[:160]) for body in bodies for e in v.iter_errors(body)]


# ---- the responses ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def responses() -> dict[str, list[Any]]:
    """Real emulator answers for every served operation, over HTTP."""
    ds = generate(21, tasks_per_team=90, users_per_team=7)
    emulator = ClickUpEmulator(ds, rate_limit=100_000)
    got: dict[str, list[Any]] = {op: [] for op in OPERATIONS}
    with (
        emulator.serve() as server,
        httpx.Client(base_url=server.url + "/api/v2", timeout=10, headers={"Authorization": ds.admin_token}) as client,
    ):

        def call(op: str, method: str, url: str, **kwargs) -> Any:
            response = client.request(method, url, **kwargs)
            assert response.status_code == 200, (op, url, response.text)
            got[op].append(response.json())
            return response.json()

        no_picture = next(u for u in ds.teams[TEAM_ID].member_ids if ds.users[u].profile_picture is None)
        token = emulator.grant([TEAM_ID], user_id=no_picture)
        call("GetAuthorizedUser", "GET", "/user", headers={"Authorization": token})
        call("GetAuthorizedUser", "GET", "/user")
        call("GetAuthorizedTeams", "GET", "/team")
        call("GetSpaces", "GET", f"/team/{TEAM_ID}/space")
        for space_id in ds.teams[TEAM_ID].space_ids:
            call("GetSpace", "GET", f"/space/{space_id}")
            call("GetFolders", "GET", f"/space/{space_id}/folder")
            call("GetFolderlessLists", "GET", f"/space/{space_id}/list")
            for folder_id in ds.spaces[space_id].folder_ids:
                call("GetFolder", "GET", f"/folder/{folder_id}")
                call("GetLists", "GET", f"/folder/{folder_id}/list")
        everything = {"include_closed": "true", "subtasks": "true"}
        for list_id in ds.team_list_ids(TEAM_ID):
            call("GetList", "GET", f"/list/{list_id}")
            call("GetAccessibleCustomFields", "GET", f"/list/{list_id}/field")
            for archived in ("false", "true"):
                call("GetTasks", "GET", f"/list/{list_id}/task", params={**everything, "archived": archived})
        for archived in ("false", "true"):
            call("GetFilteredTeamTasks", "GET", f"/team/{TEAM_ID}/task", params={**everything, "archived": archived})
        for task in list(ds.tasks.values()):
            call("GetTask", "GET", f"/task/{task.id}", params={"include_subtasks": "true"})
            call("UpdateTask", "PUT", f"/task/{task.id}", json={"name": task.name + " (edited)"})
        task = next(iter(ds.tasks.values()))
        cascade_field = next(f for f in ds.list_fields(task.list_id) if f.name == "Cascade ID")
        call("SetCustomFieldValue", "POST", f"/task/{task.id}/field/{cascade_field.id}", json={"value": "act-1"})
        call("RemoveCustomFieldValue", "DELETE", f"/task/{task.id}/field/{cascade_field.id}")
        hooks = [
            call("CreateWebhook", "POST", f"/team/{TEAM_ID}/webhook", json=body)["id"]
            for body in (
                {"endpoint": "https://example.test/hook", "events": "*"},
                {"endpoint": "https://example.test/other", "events": ["taskUpdated"], "list_id": int(task.list_id)},
            )
        ]
        call("GetWebhooks", "GET", f"/team/{TEAM_ID}/webhook")
        call(
            "UpdateWebhook",
            "PUT",
            f"/webhook/{hooks[0]}",
            json={"endpoint": "https://example.test/new", "events": ["taskCreated"], "status": "active"},
        )
        call("DeleteWebhook", "DELETE", f"/webhook/{hooks[1]}")
    return got


# ---- the tests ----------------------------------------------------------------------------------


def test_every_served_route_is_checked_against_the_spec():
    app = ClickUpEmulator(generate(1, tasks_per_team=5)).app
    served = {
        (method, rule.rule.removeprefix("/api/v2"))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v2")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served == set(OPERATIONS.values())
    assert set(_OP_POINTERS) == set(OPERATIONS), "every served operation must exist in the spec"


def test_deviation_paths_exist_in_the_spec():
    for op in OPERATIONS:
        _, missing = validator(op)
        assert not missing, f"{op}: deviation paths the spec has no schema node for: {missing}"


@pytest.mark.parametrize("op", list(OPERATIONS))
def test_responses_match_the_spec_except_listed_deviations(responses, op):
    assert responses[op], f"no responses collected for {op}"
    v, _ = validator(op)
    errors = errors_for(v, responses[op])
    assert not errors, f"{op}: {len(errors)} errors not covered by DEVIATIONS, e.g. {errors[:5]}"


@pytest.mark.slow
@pytest.mark.parametrize("op", [op for op in OPERATIONS if applicable(op)])
def test_every_listed_deviation_is_exercised(responses, op):
    """Without each single relaxation, the spec rejects some real response at that path."""
    unused = []
    for name, path in applicable(op):
        v, _ = validator(op, skip=(name, path))
        wanted = tuple(path.split("/"))
        if not any(err_path[: len(wanted)] == wanted for err_path, _ in errors_for(v, responses[op])):
            unused.append((name, path))
    assert not unused, f"{op}: deviations no response needs (remove them or fix the data): {unused}"


def test_deviations_cite_their_source():
    for name, deviation in DEVIATIONS.items():
        assert deviation.why.startswith(("A3", "A4")), name
        assert deviation.paths and all(op in OPERATIONS for op in deviation.paths), name
