"""The ClickUp emulator and its generator, exercised over real HTTP on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from cascade_sync_sandbox.clickup import ApiError, ClickUpEmulator, expected_staging, generate

TEAM_ID = "9010099710"
OTHER_TEAM_ID = "9010099711"


def _client(server, token: str | None) -> httpx.Client:
    headers = {"Authorization": token} if token else {}
    return httpx.Client(base_url=server.url + "/api/v2", headers=headers, timeout=10)


@pytest.fixture(scope="module")
def ro():
    """A read-only sandbox shared by the tests that never write."""
    ds = generate(11, teams=2, tasks_per_team=260, users_per_team=8)
    emulator = ClickUpEmulator(ds, rate_limit=100_000)
    with emulator.serve() as server, _client(server, ds.admin_token) as client:
        yield ds, emulator, client


@pytest.fixture
def rw():
    """A fresh sandbox for tests that change data."""
    ds = generate(5, tasks_per_team=120, users_per_team=6)
    emulator = ClickUpEmulator(ds, rate_limit=100_000, webhook_retry_delay=0.01)
    with emulator.serve() as server, _client(server, ds.admin_token) as client:
        yield ds, emulator, client, server


def fetch_all(client: httpx.Client, path: str, params: dict | None = None) -> tuple[list[dict], list[int]]:
    """Every page of a task listing: the tasks and the size of each page."""
    tasks, sizes, page = [], [], 0
    while True:
        response = client.get(path, params={**(params or {}), "page": page})
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"tasks", "last_page"}
        tasks += body["tasks"]
        sizes.append(len(body["tasks"]))
        if body["last_page"]:
            return tasks, sizes
        page += 1
        assert page < 500


def team_ids_where(ds, team_id, predicate) -> set[str]:
    return {t.id for t in ds.tasks.values() if t.team_id == team_id and predicate(t)}


def closed(ds, task) -> bool:
    return ds.task_status(task).type == "closed"


def default_visible(ds, task) -> bool:
    return not task.archived and not task.parent and not closed(ds, task)


# ---- hierarchy ------------------------------------------------------------------------------------


def test_hierarchy_walk_yields_the_expected_containers(ro):
    ds, _, client = ro
    teams = client.get("/team").json()["teams"]
    assert [t["id"] for t in teams] == [TEAM_ID, OTHER_TEAM_ID]
    assert {m["user"]["id"] for m in teams[0]["members"]} == set(ds.teams[TEAM_ID].member_ids)
    seen = []
    for space in client.get(f"/team/{TEAM_ID}/space", params={"archived": "false"}).json()["spaces"]:
        seen.append((space["id"], "space", space["name"], None))
        assert {s["type"] for s in space["statuses"]} == {"open", "custom", "done", "closed"}
        assert client.get(f"/space/{space['id']}").json()["id"] == space["id"]
        for folder in client.get(f"/space/{space['id']}/folder").json()["folders"]:
            seen.append((folder["id"], "folder", folder["name"], space["id"]))
            by_endpoint = client.get(f"/folder/{folder['id']}/list").json()["lists"]
            assert [x["id"] for x in folder["lists"]] == [x["id"] for x in by_endpoint]
            assert client.get(f"/folder/{folder['id']}").json()["lists"] == folder["lists"]
            seen += [(x["id"], "list", x["name"], folder["id"]) for x in by_endpoint]
        for lst in client.get(f"/space/{space['id']}/list").json()["lists"]:
            assert lst["folder"]["hidden"] is True and lst["folder"]["name"] == "hidden"
            assert lst["folder"]["id"] == ds.spaces[space["id"]].hidden_folder_id
            seen.append((lst["id"], "list", lst["name"], space["id"]))
    truth = expected_staging(ds, TEAM_ID, "acme")["containers"]
    assert seen == [(r["container_id"], r["container_type"], r["name"], r["parent_id"]) for r in truth]


def test_list_detail_has_statuses_with_ids_and_fields_of_every_type(ro):
    ds, _, client = ro
    list_id = ds.team_list_ids(TEAM_ID)[0]
    detail = client.get(f"/list/{list_id}").json()
    assert [s["type"] for s in detail["statuses"]][:1] == ["open"]
    assert all(re.fullmatch(rf"sc{list_id}_[A-Za-z0-9]{{8}}", s["id"]) for s in detail["statuses"])
    fields = client.get(f"/list/{list_id}/field").json()["fields"]
    assert {f["type"] for f in fields} >= {
        "drop_down",
        "labels",
        "number",
        "currency",
        "date",
        "checkbox",
        "text",
        "url",
        "users",
        "manual_progress",
        "short_text",
    }
    assert {f["name"] for f in fields} >= {"Priority Tier", "Teams", "Cascade ID", "Reviewers", "Progress"}


# ---- pagination ---------------------------------------------------------------------------------


def test_team_tasks_come_100_per_page_with_last_page(ro):
    ds, _, client = ro
    params = {"include_closed": "true", "subtasks": "true", "limit": 250, "page_size": 250}
    tasks, sizes = fetch_all(client, f"/team/{TEAM_ID}/task", params)
    expected = team_ids_where(ds, TEAM_ID, lambda t: not t.archived)
    assert len(expected) > 200
    assert sizes == [100] * (len(expected) // 100) + ([len(expected) % 100] if len(expected) % 100 else [])
    assert len(tasks) == len({t["id"] for t in tasks}) and {t["id"] for t in tasks} == expected
    beyond = client.get(f"/team/{TEAM_ID}/task", params={**params, "page": 9}).json()
    assert beyond == {"tasks": [], "last_page": True}


@pytest.mark.parametrize("count,pages", [(250, [100, 100, 50]), (200, [100, 100]), (7, [7]), (0, [0])])
def test_list_tasks_page_counts_are_exact(count, pages):
    ds = generate(
        3,
        tasks_per_team=count,
        spaces_per_team=1,
        folders_per_space=1,
        lists_per_folder=1,
        folderless_lists_per_space=0,
        subtask_ratio=0,
        closed_ratio=0,
        archived_ratio=0,
    )
    list_id = ds.team_list_ids(TEAM_ID)[0]
    with ClickUpEmulator(ds, rate_limit=1000).serve() as server, _client(server, ds.admin_token) as client:
        tasks, sizes = fetch_all(client, f"/list/{list_id}/task")
    assert sizes == pages
    assert [t["id"] for t in tasks] == [t.id for t in ds.tasks.values()]  # default order: created, oldest first


# ---- filters ------------------------------------------------------------------------------------


def _some(ds, attr):
    values = sorted(getattr(t, attr) for t in ds.tasks.values() if t.team_id == TEAM_ID)
    return values[len(values) // 2]


FILTERS = {
    "defaults hide closed, subtasks, archived": ({}, lambda ds, t: default_visible(ds, t)),
    "include_closed": ({"include_closed": "true"}, lambda ds, t: not t.archived and not t.parent),
    "subtasks": ({"subtasks": "true"}, lambda ds, t: not t.archived and not closed(ds, t)),
    "archived=true gives only archived": (
        {"archived": "true", "include_closed": "true", "subtasks": "true"},
        lambda ds, t: t.archived,
    ),
    "statuses[]": (
        {"statuses[]": ["IN PROGRESS", "on hold"]},
        lambda ds, t: default_visible(ds, t) and t.status in ("in progress", "on hold"),
    ),
    "custom_items[]": ({"custom_items[]": "1"}, lambda ds, t: default_visible(ds, t) and t.custom_item_id == 1),
}


@pytest.mark.parametrize("name", FILTERS)
def test_team_task_filter(ro, name):
    ds, _, client = ro
    params, predicate = FILTERS[name]
    tasks, _ = fetch_all(client, f"/team/{TEAM_ID}/task", params)
    expected = team_ids_where(ds, TEAM_ID, lambda t: predicate(ds, t))
    assert expected, "the generated data must exercise the filter"
    assert {t["id"] for t in tasks} == expected


def test_assignee_filter(ro):
    ds, _, client = ro
    user = ds.teams[TEAM_ID].member_ids[3]
    tasks, _ = fetch_all(client, f"/team/{TEAM_ID}/task", {"assignees[]": str(user), "include_closed": "true"})
    expected = team_ids_where(ds, TEAM_ID, lambda t: not t.archived and not t.parent and user in t.assignee_ids)
    assert expected and {t["id"] for t in tasks} == expected
    assert all(user in [a["id"] for a in t["assignees"]] for t in tasks)


@pytest.mark.parametrize("param,attr", [("date_updated", "date_updated"), ("date_created", "date_created")])
def test_date_filters_gt_is_inclusive_lt_is_strict(ro, param, attr):
    ds, _, client = ro
    bound = _some(ds, attr)
    base = {"include_closed": "true", "subtasks": "true"}
    after, _ = fetch_all(client, f"/team/{TEAM_ID}/task", {**base, f"{param}_gt": bound})
    before, _ = fetch_all(client, f"/team/{TEAM_ID}/task", {**base, f"{param}_lt": bound})
    live = lambda t: not t.archived
    assert {t["id"] for t in after} == team_ids_where(ds, TEAM_ID, lambda t: live(t) and getattr(t, attr) >= bound)
    assert {t["id"] for t in before} == team_ids_where(ds, TEAM_ID, lambda t: live(t) and getattr(t, attr) < bound)
    pivot = next(t.id for t in ds.tasks.values() if t.team_id == TEAM_ID and getattr(t, attr) == bound)
    assert pivot in {t["id"] for t in after} and pivot not in {t["id"] for t in before}


@pytest.mark.parametrize(
    "order_by,key",
    [
        ("created", lambda t: (int(t["date_created"]), t["id"])),
        ("updated", lambda t: (int(t["date_updated"]), t["id"])),
        ("id", lambda t: (t["id"],)),
        ("due_date", lambda t: (t["due_date"] is None, int(t["due_date"] or 0), t["id"])),
    ],
)
@pytest.mark.parametrize("reverse", [False, True])
def test_order_by_and_reverse(ro, order_by, key, reverse):
    _, _, client = ro
    params = {"order_by": order_by, "include_closed": "true", "subtasks": "true"}
    if reverse:
        params["reverse"] = "true"
    tasks, _ = fetch_all(client, f"/team/{TEAM_ID}/task", params)
    assert [t["id"] for t in tasks] == [t["id"] for t in sorted(tasks, key=key, reverse=reverse)]
    assert len(tasks) > 100


@pytest.mark.parametrize("param,level", [("list_ids[]", "list"), ("project_ids[]", "folder"), ("space_ids[]", "space")])
def test_location_filters_match_the_home_location(ro, param, level):
    ds, _, client = ro
    first_list = ds.lists[ds.team_list_ids(TEAM_ID)[0]]
    target = {"list": first_list.id, "folder": first_list.folder_id, "space": first_list.space_id}[level]

    def at(t):
        lst = ds.lists[t.list_id]
        return {"list": lst.id, "folder": lst.folder_id, "space": lst.space_id}[level] == target

    tasks, _ = fetch_all(client, f"/team/{TEAM_ID}/task", {param: target, "include_closed": "true"})
    expected = team_ids_where(ds, TEAM_ID, lambda t: at(t) and not t.archived and not t.parent)
    assert expected and {t["id"] for t in tasks} == expected


def test_parent_filter_returns_subtasks(ro):
    ds, _, client = ro
    parent = next(t.parent for t in ds.tasks.values() if t.team_id == TEAM_ID and t.parent)
    tasks, _ = fetch_all(client, f"/team/{TEAM_ID}/task", {"parent": parent, "include_closed": "true"})
    expected = team_ids_where(ds, TEAM_ID, lambda t: t.parent == parent and not t.archived)
    assert expected and {t["id"] for t in tasks} == expected


def test_tasks_in_multiple_lists(ro):
    ds, _, client = ro
    task = next(t for t in ds.tasks.values() if t.team_id == TEAM_ID and t.other_list_ids and default_visible(ds, t))
    other = task.other_list_ids[0]
    plain, _ = fetch_all(client, f"/list/{other}/task")
    timl, _ = fetch_all(client, f"/list/{other}/task", {"include_timl": "true"})
    assert task.id not in {t["id"] for t in plain}
    assert task.id in {t["id"] for t in timl}
    assert {t["id"] for t in plain} < {t["id"] for t in timl}
    shown = next(t for t in timl if t["id"] == task.id)
    assert shown["list"]["id"] == task.list_id
    assert shown["locations"] == [{"id": x, "name": ds.lists[x].name} for x in task.other_list_ids]
    by_team, _ = fetch_all(client, f"/team/{TEAM_ID}/task", {"list_ids[]": other})
    assert task.id not in {t["id"] for t in by_team}


def test_single_task_with_subtasks_and_markdown(ro):
    ds, _, client = ro
    parent_id = next(t.parent for t in ds.tasks.values() if t.team_id == TEAM_ID and t.parent)
    body = client.get(
        f"/task/{parent_id}", params={"include_subtasks": "true", "include_markdown_description": "true"}
    ).json()
    assert body["id"] == parent_id and "markdown_description" in body
    direct = {t.id for t in ds.tasks.values() if t.parent == parent_id}
    assert direct <= {s["id"] for s in body["subtasks"]}
    assert all(s["top_level_parent"] == (ds.tasks[parent_id].top_level_parent or parent_id) for s in body["subtasks"])


# ---- errors and permissions -------------------------------------------------------------------


def test_error_codes(ro):
    ds, emulator, client = ro
    api = str(client.base_url).rstrip("/")
    assert httpx.get(f"{api}/team").status_code == 400
    assert httpx.get(f"{api}/team").json() == {"err": "Authorization header required", "ECODE": "OAUTH_017"}
    bad = httpx.get(f"{api}/team", headers={"Authorization": "pk_1_NOTAREALTOKEN"})
    assert (bad.status_code, bad.json()) == (401, {"err": "Token invalid", "ECODE": "OAUTH_025"})
    bearer_pk = httpx.get(f"{api}/team", headers={"Authorization": f"Bearer {ds.admin_token}"})
    assert bearer_pk.status_code == 401 and bearer_pk.json()["err"] == "Oauth token not found"
    missing = client.get("/task/86zzzzzzz")
    assert (missing.status_code, missing.json()) == (404, {"err": "Task not found", "ECODE": "ITEM_013"})
    no_list = client.get("/list/901100000000/task")
    assert (no_list.status_code, no_list.json()) == (404, {"err": "List not found", "ECODE": "ITEM_015"})
    one_team = emulator.grant([TEAM_ID])
    other = httpx.get(f"{api}/team/{OTHER_TEAM_ID}/space", headers={"Authorization": one_team})
    assert (other.status_code, other.json()) == (401, {"err": "Team not authorized", "ECODE": "OAUTH_027"})
    teams = httpx.get(f"{api}/team", headers={"Authorization": one_team}).json()["teams"]
    assert [t["id"] for t in teams] == [TEAM_ID]
    foreign_task = next(t.id for t in ds.tasks.values() if t.team_id == OTHER_TEAM_ID)
    assert httpx.get(f"{api}/task/{foreign_task}", headers={"Authorization": one_team}).json()["ECODE"] == "OAUTH_027"


def test_oauth_token_is_accepted_as_bearer(ro):
    ds, emulator, client = ro
    token = emulator.grant([OTHER_TEAM_ID], oauth=True)
    assert re.fullmatch(r"\d+_[0-9a-f]{64}", token)
    ok = httpx.get(f"{str(client.base_url).rstrip('/')}/team", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and [t["id"] for t in ok.json()["teams"]] == [OTHER_TEAM_ID]
    assert httpx.get(f"{str(client.base_url).rstrip('/')}/team", headers={"Authorization": token}).status_code == 401


def test_denied_list_is_hidden_and_forbidden(rw):
    ds, emulator, client, server = rw
    folder = ds.folders[ds.spaces[ds.teams[TEAM_ID].space_ids[0]].folder_ids[0]]
    denied = folder.list_ids[0]
    token = emulator.grant([TEAM_ID], denied_list_ids=[denied])
    with _client(server, token) as limited:
        listed = limited.get(f"/folder/{folder.id}/list").json()["lists"]
        assert denied not in {x["id"] for x in listed} and listed
        embedded = limited.get(f"/space/{folder.space_id}/folder").json()["folders"][0]["lists"]
        assert denied not in {x["id"] for x in embedded}
        for path in (f"/list/{denied}", f"/list/{denied}/task", f"/list/{denied}/field"):
            response = limited.get(path)
            assert (response.status_code, response.json()["ECODE"]) == (401, "OAUTH_027"), path
        hidden_task = next(t.id for t in ds.tasks.values() if t.list_id == denied)
        assert limited.get(f"/task/{hidden_task}").status_code == 401
        tasks, _ = fetch_all(limited, f"/team/{TEAM_ID}/task", {"include_closed": "true", "subtasks": "true"})
        assert {t["id"] for t in tasks} == team_ids_where(ds, TEAM_ID, lambda t: not t.archived and t.list_id != denied)
    emulator.revoke_token(token)
    with _client(server, token) as revoked:
        assert revoked.get("/team").json() == {"err": "Token invalid", "ECODE": "OAUTH_025"}
    fresh = emulator.grant([TEAM_ID])
    emulator.deny_list(fresh, denied)
    with _client(server, fresh) as later:
        assert later.get(f"/list/{denied}").status_code == 401


# ---- rate limits --------------------------------------------------------------------------------


@pytest.mark.slow
def test_rate_limit_headers_and_429():
    ds = generate(2, tasks_per_team=10)
    emulator = ClickUpEmulator(ds, rate_limit=5, rate_window=1.0)
    with emulator.serve() as server, _client(server, ds.admin_token) as client:
        remaining = []
        for _ in range(5):
            response = client.get("/team")
            assert response.status_code == 200
            assert response.headers["X-RateLimit-Limit"] == "5"
            remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        assert remaining == [4, 3, 2, 1, 0]
        limited = client.get("/team")
        assert (limited.status_code, limited.json()) == (429, {"err": "Rate limit reached", "ECODE": "APP_002"})
        reset = limited.headers["X-RateLimit-Reset"]
        assert reset.isdigit() and time.time() - 1 <= int(reset) <= math.ceil(time.time() + 1)
        other = emulator.grant([TEAM_ID])
        with _client(server, other) as second:
            failed = second.get("/task/86zzzzzzz")
            assert failed.status_code == 404 and failed.headers["X-RateLimit-Remaining"] == "4"
        time.sleep(max(0.0, int(reset) - time.time()) + 0.05)
        assert client.get("/team").status_code == 200


def test_injected_faults_still_carry_rate_limit_headers(rw):
    _, emulator, client, _ = rw
    emulator.faults.add(kind="status", status=503, path="/team$", times=1)
    failed = client.get("/team")
    assert failed.status_code == 503 and "X-RateLimit-Remaining" in failed.headers
    assert client.get("/team").status_code == 200
    assert emulator.log.count(path="/api/v2/team$", status=503) == 1


# ---- writes -------------------------------------------------------------------------------------


def test_put_task_changes_are_visible_in_reads(rw):
    ds, emulator, client, _ = rw
    task = next(t for t in ds.tasks.values() if default_visible(ds, t) and t.priority is None)
    before = client.get(f"/task/{task.id}").json()
    other_user = next(u for u in ds.teams[TEAM_ID].member_ids if u not in task.assignee_ids)
    response = client.put(
        f"/task/{task.id}",
        json={
            "name": "Renamed in the emulator",
            "description": "New words",
            "status": "COMPLETE",
            "priority": 2,
            "due_date": 1767225600000,
            "assignees": {"add": [other_user], "rem": task.assignee_ids[:1]},
        },
    )
    assert response.status_code == 200
    after = response.json()
    assert after == client.get(f"/task/{task.id}").json()
    assert after["name"] == "Renamed in the emulator" and after["text_content"] == "New words"
    assert after["status"]["status"] == "complete" and after["status"]["type"] == "closed"
    assert after["date_closed"] is not None and after["date_done"] is not None
    assert after["priority"]["priority"] == "high" and after["due_date"] == "1767225600000"
    assert other_user in [a["id"] for a in after["assignees"]]
    assert int(after["date_updated"]) > max(int(before["date_updated"]), ds.newest_ms() - 1)
    hidden, _ = fetch_all(client, f"/list/{task.list_id}/task")
    shown, _ = fetch_all(client, f"/list/{task.list_id}/task", {"include_closed": "true"})
    assert task.id not in {t["id"] for t in hidden} and task.id in {t["id"] for t in shown}
    reopened = client.put(f"/task/{task.id}", json={"status": "in progress"}).json()
    assert reopened["date_closed"] is None and reopened["date_done"] is None
    bad = client.put(f"/task/{task.id}", json={"name": "Half applied?", "status": "no such status"})
    assert bad.status_code == 400 and "err" in bad.json()
    assert client.get(f"/task/{task.id}").json()["name"] == "Renamed in the emulator"
    assert client.put(f"/task/{task.id}", json={"parent": None}).status_code == 400
    row = next(r for r in expected_staging(ds, TEAM_ID, "w")["work_items"] if r["item_id"] == task.id)
    assert row["title"] == "Renamed in the emulator" and row["status_category"] == "in_progress"


def test_custom_field_writes_are_visible_in_reads(rw):
    ds, emulator, client, _ = rw
    task = next(t for t in ds.tasks.values() if default_visible(ds, t))
    fields = {f["name"]: f for f in client.get(f"/list/{task.list_id}/field").json()["fields"]}
    tier = fields["Priority Tier"]["type_config"]["options"][2]
    labels = [o["id"] for o in fields["Teams"]["type_config"]["options"][:2]]
    member = ds.teams[TEAM_ID].member_ids[1]
    writes = {
        "Priority Tier": (tier["id"], 2),
        "Teams": (labels, labels),
        "Story Points": (12.5, 12.5),
        "Budget": (4200, 4200),
        "Target Date": (1767225600000, "1767225600000"),
        "Customer Facing": (True, "true"),
        "Cascade ID": ("act-99999", "act-99999"),
        "Progress": ({"current": 40}, {"current": 40, "percent_completed": 40}),
        "Reviewers": ({"add": [member]}, None),
    }
    for name, (sent, _) in writes.items():
        response = client.post(f"/task/{task.id}/field/{fields[name]['id']}", json={"value": sent})
        assert (response.status_code, response.json()) == (200, {}), name
    entries = {f["name"]: f for f in client.get(f"/task/{task.id}").json()["custom_fields"]}
    for name, (_, shown) in writes.items():
        if shown is not None:
            assert entries[name]["value"] == shown, name
    assert [u["id"] for u in entries["Reviewers"]["value"]] == (
        [*ds.tasks[task.id].values.get(fields["Reviewers"]["id"], [])]
    )
    assert member in [u["id"] for u in entries["Reviewers"]["value"]]
    truth = {
        r["field_name"]: r["value"]
        for r in expected_staging(ds, TEAM_ID, "w")["custom_field_values"]
        if r["item_id"] == task.id
    }
    assert truth["Priority Tier"] == tier["name"] and truth["Progress"] == "40%" and truth["Story Points"] == "12.5"
    work_item = next(r for r in expected_staging(ds, TEAM_ID, "w")["work_items"] if r["item_id"] == task.id)
    assert work_item["cascade_id"] == "act-99999"
    assert client.delete(f"/task/{task.id}/field/{fields['Cascade ID']['id']}").json() == {}
    entry = next(f for f in client.get(f"/task/{task.id}").json()["custom_fields"] if f["name"] == "Cascade ID")
    assert "value" not in entry
    wrong = client.post(f"/task/{task.id}/field/{fields['Priority Tier']['id']}", json={"value": 2})
    assert wrong.status_code == 400


def test_sandbox_helpers_and_clock(rw):
    ds, emulator, client, server = rw
    list_id = ds.team_list_ids(TEAM_ID)[1]
    ticks = [emulator.now_ms() for _ in range(3)]
    assert ticks == sorted(set(ticks)) and ticks[0] > ds.newest_ms() - 1
    new_id = emulator.create_task(
        list_id,
        name="Created by the demo",
        status="in progress",
        assignees=[ds.admin_user_id],
        custom_fields={"Cascade ID": "act-424242"},
    )
    tasks, _ = fetch_all(client, f"/list/{list_id}/task")
    created = next(t for t in tasks if t["id"] == new_id)
    assert created["status"]["status"] == "in progress" and created["assignees"][0]["id"] == ds.admin_user_id
    assert next(f for f in created["custom_fields"] if f["name"] == "Cascade ID")["value"] == "act-424242"
    assert int(created["date_created"]) == int(created["date_updated"]) > ticks[-1]
    target = ds.team_list_ids(TEAM_ID)[-1]
    emulator.move_task(new_id, target)
    assert client.get(f"/task/{new_id}").json()["list"]["id"] == target
    assert new_id in {t["id"] for t in fetch_all(client, f"/list/{target}/task")[0]}
    admin = httpx.post(
        f"{server.url}/_sandbox/clickup/update_task", json={"task_id": new_id, "name": "Renamed by another process"}
    )
    assert admin.status_code == 200
    assert client.get(f"/task/{new_id}").json()["name"] == "Renamed by another process"
    emulator.delete_task(new_id)
    assert client.get(f"/task/{new_id}").status_code == 404
    with pytest.raises(ApiError):
        emulator.update_task(new_id, name="gone")
    with pytest.raises(ApiError, match="unknown fields"):
        emulator.update_task(next(iter(ds.tasks)), title="Wrike's word, not ClickUp's")
    grant = httpx.post(f"{server.url}/_sandbox/clickup/grant", json={"team_ids": [TEAM_ID]}).json()
    assert grant["result"]["token"].startswith("pk_")


# ---- webhooks -----------------------------------------------------------------------------------


class Receiver:
    """A tiny HTTP endpoint on loopback that records what it is sent and answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers), body))
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_webhook_management(rw):
    ds, emulator, client, server = rw
    created = client.post(
        f"/team/{TEAM_ID}/webhook",
        json={"endpoint": "https://example.test/a", "events": ["taskUpdated"], "list_id": 901100000001},
    )
    assert created.status_code == 200
    body = created.json()
    hook = body["webhook"]
    assert body["id"] == hook["id"] and re.fullmatch(r"[0-9a-f-]{36}", hook["id"])
    assert hook["health"] == {"status": "active", "fail_count": 0} and len(hook["secret"]) == 64
    assert hook["list_id"] == "901100000001" and hook["team_id"] == int(TEAM_ID)
    other_user = ds.teams[TEAM_ID].member_ids[2]
    stranger = emulator.grant([TEAM_ID], user_id=other_user)
    with _client(server, stranger) as theirs:
        theirs.post(f"/team/{TEAM_ID}/webhook", json={"endpoint": "https://example.test/b", "events": "*"})
        assert [h["endpoint"] for h in theirs.get(f"/team/{TEAM_ID}/webhook").json()["webhooks"]] == [
            "https://example.test/b"
        ]
        assert theirs.delete(f"/webhook/{hook['id']}").status_code == 404
    assert [h["id"] for h in client.get(f"/team/{TEAM_ID}/webhook").json()["webhooks"]] == [hook["id"]]
    updated = client.put(
        f"/webhook/{hook['id']}", json={"endpoint": "https://example.test/c", "events": "*", "status": "active"}
    ).json()["webhook"]
    assert updated["endpoint"] == "https://example.test/c" and updated["events"] == ["*"]
    assert client.delete(f"/webhook/{hook['id']}").json() == {}
    assert client.get(f"/team/{TEAM_ID}/webhook").json() == {"webhooks": []}
    assert client.post(f"/team/{TEAM_ID}/webhook", json={"events": "*"}).status_code == 400


def test_signed_webhook_delivery(rw):
    ds, emulator, client, _ = rw
    receiver = Receiver()
    try:
        hook = client.post(
            f"/team/{TEAM_ID}/webhook", json={"endpoint": receiver.url, "events": ["taskStatusUpdated", "taskDeleted"]}
        ).json()["webhook"]
        task = next(
            t
            for t in ds.tasks.values()
            if ds.task_status(t).type == "open" and not any(child.parent == t.id for child in ds.tasks.values())
        )
        emulator.update_task(task.id, status="in progress")
        emulator.delete_task(task.id)
        assert emulator.flush_webhooks(10)
        assert len(receiver.received) == 2
        (headers, raw), (_, raw_deleted) = receiver.received
        expected_signature = hmac.new(hook["secret"].encode(), raw, hashlib.sha256).hexdigest()
        assert headers["X-Signature"] == expected_signature
        assert headers["Content-Type"] == "application/json"
        event = json.loads(raw)
        assert event["event"] == "taskStatusUpdated" and event["task_id"] == task.id
        assert event["webhook_id"] == hook["id"]
        item = event["history_items"][0]
        assert item["field"] == "status" and item["before"]["status"] == "to do"
        assert item["after"] == {"status": "in progress", "color": "#4194f6", "orderindex": 1, "type": "custom"}
        assert json.loads(raw_deleted) == {"event": "taskDeleted", "task_id": task.id, "webhook_id": hook["id"]}
    finally:
        receiver.close()


def test_webhook_health_after_failures(rw):
    ds, emulator, client, _ = rw
    failing, gone = Receiver(status=500), Receiver(status=410)
    try:
        hooks = [
            client.post(f"/team/{TEAM_ID}/webhook", json={"endpoint": r.url, "events": ["taskUpdated"]}).json()[
                "webhook"
            ]["id"]
            for r in (failing, gone)
        ]
        task = next(iter(ds.tasks.values()))
        emulator.update_task(task.id, name="Ping")
        assert emulator.flush_webhooks(10)
        assert len(failing.received) == 5 and len(gone.received) == 1
        health = {h["id"]: h["health"] for h in client.get(f"/team/{TEAM_ID}/webhook").json()["webhooks"]}
        assert health[hooks[0]] == {"status": "failing", "fail_count": 1}
        assert health[hooks[1]]["status"] == "suspended"
        emulator.update_task(task.id, name="Ping again")
        assert emulator.flush_webhooks(10) and len(gone.received) == 1  # suspended: nothing more
        failing.status = 200
        emulator.update_task(task.id, name="Ping once more")
        assert emulator.flush_webhooks(10)
        health = {h["id"]: h["health"] for h in client.get(f"/team/{TEAM_ID}/webhook").json()["webhooks"]}
        assert health[hooks[0]] == {"status": "active", "fail_count": 0}
    finally:
        failing.close()
        gone.close()


# ---- generator ----------------------------------------------------------------------------------


def test_generator_is_deterministic():
    assert generate(42, tasks_per_team=150).to_json() == generate(42, tasks_per_team=150).to_json()
    assert generate(42, tasks_per_team=150).to_json() != generate(43, tasks_per_team=150).to_json()
    bodies = []
    for _ in range(2):
        ds = generate(42, tasks_per_team=150)
        with ClickUpEmulator(ds).serve() as server, _client(server, ds.admin_token) as client:
            bodies.append(client.get(f"/team/{TEAM_ID}/task", params={"subtasks": "true"}).content)
    assert bodies[0] == bodies[1]


def test_generated_data_is_realistic():
    ds = generate(8, tasks_per_team=400)
    tasks = list(ds.tasks.values())
    assert re.fullmatch(r"pk_\d+_[A-Z0-9]{32}", ds.admin_token)
    assert all(re.fullmatch(r"[0-9a-z]{9}", t.id) for t in tasks)
    assert all(re.fullmatch(r"\d{10,12}", x) for x in [*ds.spaces, *ds.folders, *ds.lists])
    assert all(re.fullmatch(r"[0-9a-f-]{36}", f) for f in ds.fields)
    assert sum(1 for t in tasks if t.parent) == 80 and sum(1 for t in tasks if t.custom_item_id == 1) == 10
    assert sum(1 for t in tasks if ds.task_status(t).type == "closed") == 80
    assert sum(1 for t in tasks if t.archived) == 20
    assert sum(1 for t in tasks if t.other_list_ids) == 16
    cascade = [v for t in tasks for f, v in t.values.items() if ds.fields[f].name == "Cascade ID"]
    assert len(cascade) == 40 and all(re.fullmatch(r"act-\d{5}", v) for v in cascade)
    for t in tasks:
        kind = ds.task_status(t).type
        assert t.date_created <= t.date_updated
        assert (t.date_closed is not None) == (kind == "closed")
        assert (t.date_done is not None) == (kind in ("done", "closed"))
        if t.parent:
            parent = ds.tasks[t.parent]
            assert t.top_level_parent == (parent.top_level_parent or parent.id) and t.list_id == parent.list_id
    assert any(t.parent and t.parent != t.top_level_parent for t in tasks)
    assert {ds.task_status(t).type for t in tasks} == {"open", "custom", "done", "closed"}


def test_expected_staging_rules():
    ds = generate(9, tasks_per_team=200)
    overrides = {"On Hold": "deferred", "cancelled": "cancelled"}
    denied = ds.team_list_ids(TEAM_ID)[0]
    truth = expected_staging(ds, TEAM_ID, "acme", status_categories=overrides, denied_list_ids=[denied])
    rows = {r["item_id"]: r for r in truth["work_items"]}
    assert set(rows) == {t.id for t in ds.tasks.values() if t.list_id != denied}
    for task in ds.tasks.values():
        if task.list_id == denied:
            continue
        row = rows[task.id]
        assert row["item_type"] == ("milestone" if task.custom_item_id == 1 else "subtask" if task.parent else "task")
        expected_category = {"on hold": "deferred", "cancelled": "cancelled"}.get(task.status) or {
            "open": "not_started",
            "custom": "in_progress",
            "done": "done",
            "closed": "done",
        }[ds.task_status(task).type]
        assert row["status_category"] == expected_category
        assert row["created_at"].tzinfo is None and row["is_archived"] == task.archived
    assert {"deferred", "cancelled", "done", "in_progress", "not_started"} <= {
        r["status_category"] for r in truth["work_items"]
    }
    assert denied not in {r["container_id"] for r in truth["containers"]}
    values = truth["custom_field_values"]
    assert all(not r["value"].endswith(".0") for r in values if r["field_type"] in ("number", "currency"))
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["value"]) for r in values if r["field_type"] == "date"
    )
    assert {r["value"] for r in values if r["field_type"] == "checkbox"} == {"true", "false"}
    assert len(truth["users"]) == 12


@pytest.mark.slow
def test_large_workspace_stays_fast():
    ds = generate(4, tasks_per_team=10_000)
    with ClickUpEmulator(ds, rate_limit=10_000).serve() as server, _client(server, ds.admin_token) as client:
        client.get("/team")
        started = time.perf_counter()
        last = client.get(
            f"/team/{TEAM_ID}/task",
            params={"page": 60, "include_closed": "true", "subtasks": "true", "order_by": "updated"},
        )
        elapsed = time.perf_counter() - started
    assert last.status_code == 200 and len(last.json()["tasks"]) == 100
    assert elapsed < 2.0, f"a page of 10,000 tasks took {elapsed:.2f}s"
