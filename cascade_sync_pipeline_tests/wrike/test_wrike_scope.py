"""A Wrike workspace scoped to spaces, folders or projects reads only that part of the account,
with the seed's recommended per-project listing (`GET /folders/{id}/tasks`)."""

from __future__ import annotations

import pytest

from cascade_sync_pipeline.config import parse_config
from cascade_sync_pipeline.wrike.client import WrikeClient
from cascade_sync_pipeline.wrike.errors import WrikeApiError
from cascade_sync_pipeline.wrike.extract import extract_account
from cascade_sync_pipeline_tests.support.wrike_setup import small_dataset, start_emulator


@pytest.fixture
def account():
    dataset = small_dataset()
    emulator, server = start_emulator(dataset, rate_limit=10_000)
    yield dataset, emulator, server
    server.stop()


def scoped(server, **scope):
    config = parse_config(
        {
            "workspaces": [
                {
                    "key": "wrike-1",
                    "source": "wrike",
                    "base_url": f"{server.url}/api/v4",
                    "token_env": "TEST_WRIKE_TOKEN_1",
                    "scope": scope,
                }
            ]
        }
    )
    return config.workspaces[0]


def client(server, dataset) -> WrikeClient:
    return WrikeClient(f"{server.url}/api/v4", workspace="wrike-1", token=dataset.permanent_token)


def subtree(folders: dict[str, dict], root: str) -> set[str]:
    ids = {root}
    for child in folders[root].get("childIds") or []:
        if child in folders:
            ids |= subtree(folders, child)
    return ids


def test_scope_by_project_title_lists_that_project_only(account):
    dataset, emulator, server = account
    wrike = client(server, dataset)
    everything = extract_account(wrike, scoped(server))
    projects = everything.projects
    target = projects[0]
    emulator.log.clear()
    extract = extract_account(wrike, scoped(server, projects=[target["title"]]))
    folders = {f["id"]: f for f in everything.folders}
    inside = subtree(folders, target["id"])
    assert {f["id"] for f in extract.folders} == inside
    assert extract.tasks and all(set(t.get("parentIds") or []) & inside for t in extract.tasks)
    expected = {
        t["id"]
        for t in everything.tasks
        if set(t.get("parentIds") or []) & inside and not t.get("scope", "").startswith("Rb")
    }
    assert {t["id"] for t in extract.tasks} == expected
    assert emulator.log.count(path=f"/folders/{target['id']}/tasks") == 1
    assert emulator.log.count(path=r"/spaces/[^/]+/tasks") == 0


def test_scope_by_space_keeps_its_subtree(account):
    dataset, _, server = account
    wrike = client(server, dataset)
    everything = extract_account(wrike, scoped(server))
    space = everything.spaces[0]
    extract = extract_account(wrike, scoped(server, spaces=[space["id"]]))
    assert [s["id"] for s in extract.spaces] == [space["id"]]
    assert extract.folders and all(space["id"] in _lineage(everything.folders, f["id"]) for f in extract.folders)
    assert {t["id"] for t in extract.tasks} < {t["id"] for t in everything.tasks}


def _lineage(folders: list[dict], folder_id: str) -> set[str]:
    by_id = {f["id"]: f for f in folders}
    found, todo = set(), [folder_id]
    while todo:
        for parent in by_id.get(todo.pop(), {}).get("parentIds") or []:
            if parent not in found:
                found.add(parent)
                todo.append(parent)
    return found


def test_unknown_scope_entry_names_the_field(account):
    dataset, _, server = account
    with pytest.raises(WrikeApiError, match=r"scope.projects\[0\] = 'No Such Project' matches no project") as err:
        extract_account(client(server, dataset), scoped(server, projects=["No Such Project"]))
    assert err.value.code == "scope_mismatch"
