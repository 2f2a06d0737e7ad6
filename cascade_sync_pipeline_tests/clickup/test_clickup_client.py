"""The ClickUp client and extraction over real HTTP: pagination, scope, incremental reads,
rate limits, transient failures and the errors a user sees."""

from __future__ import annotations

import math

import pytest

from cascade_sync_pipeline.clickup.client import ClickUpClient, ClickUpError
from cascade_sync_pipeline.clickup.extract import extract_workspace
from cascade_sync_pipeline.http import RetryPolicy
from cascade_sync_pipeline_tests.support.clickup_setup import clickup_config, small_dataset, start_emulator

FAST_RETRY = RetryPolicy(max_attempts=4, backoff_base=0.01, backoff_max=0.05, max_rate_limit_wait=30)


@pytest.fixture
def emulated():
    dataset = small_dataset(tasks_per_team=430)
    emulator, server = start_emulator(dataset, rate_limit=10_000)
    yield dataset, emulator, server
    server.stop()


def client_for(server, token, team_id, retry=FAST_RETRY, **kw) -> ClickUpClient:
    return ClickUpClient(
        f"{server.url}/api/v2",
        token,
        workspace="team-1",
        token_env="TEST_CLICKUP_TOKEN_1",
        team_id=team_id,
        retry=retry,
        **kw,
    )


def team_tasks(dataset, team_id):
    return [t for t in dataset.tasks.values() if dataset.list_team(t.list_id) == team_id]


def test_full_extract_reads_every_task_once_in_minimal_pages(emulated):
    dataset, emulator, server = emulated
    team_id = list(dataset.teams)[0]
    ws = clickup_config(server.url, [team_id]).workspaces[0]
    client = client_for(server, dataset.grant([team_id]), team_id)
    extract = extract_workspace(client, ws)
    expected = team_tasks(dataset, team_id)
    assert sorted(t["id"] for t in extract.tasks) == sorted(t.id for t in expected)
    archived = sum(t.archived for t in expected)
    pages = emulator.log.count(path=r"/team/\d+/task$")
    assert pages == max(1, math.ceil((len(expected) - archived) / 100)) + max(1, math.ceil(archived / 100))
    multi = [t for t in extract.tasks if t["locations"]]
    assert multi, "the dataset has tasks in several lists"
    assert all(t["list"]["id"] not in {loc["id"] for loc in t["locations"]} for t in multi)


def test_scope_by_name_and_id_limits_tasks_to_home_lists(emulated):
    dataset, emulator, server = emulated
    team_id = list(dataset.teams)[0]
    space = dataset.spaces[dataset.teams[team_id].space_ids[0]]
    folder = dataset.folders[space.folder_ids[0]]
    other_list = space.folderless_list_ids[0]
    ws = clickup_config(server.url, [team_id], scope={"folders": [folder.name], "lists": [other_list]}).workspaces[0]
    extract = extract_workspace(client_for(server, dataset.grant([team_id]), team_id), ws)
    in_scope = set(folder.list_ids) | {other_list}
    assert set(extract.scoped_list_ids) == in_scope
    assert {t["list"]["id"] for t in extract.tasks} <= in_scope
    assert len(extract.tasks) == sum(t.list_id in in_scope for t in team_tasks(dataset, team_id))
    kinds = {r.object_type for r in extract.hierarchy}
    assert kinds == {"team", "space", "folder", "list"}


def test_unknown_scope_entry_names_the_field(emulated):
    dataset, _, server = emulated
    team_id = list(dataset.teams)[0]
    ws = clickup_config(server.url, [team_id], scope={"lists": ["No Such List"]}).workspaces[0]
    with pytest.raises(ClickUpError, match=r"scope.lists\[0\] = 'No Such List' matches no list"):
        extract_workspace(client_for(server, dataset.grant([team_id]), team_id), ws)


def test_incremental_overlaps_and_deduplicates(emulated):
    dataset, emulator, server = emulated
    team_id = list(dataset.teams)[0]
    ws = clickup_config(server.url, [team_id]).workspaces[0]
    client = client_for(server, dataset.grant([team_id]), team_id)
    full = extract_workspace(client, ws)
    changed = [t.id for t in team_tasks(dataset, team_id) if not t.archived][:3]
    for task_id in changed:
        emulator.update_task(task_id, name=f"edited {task_id}")
    emulator.log.clear()
    inc = extract_workspace(client, ws, since_ms=full.max_updated_ms)
    ids = [t["id"] for t in inc.tasks]
    assert set(changed) <= set(ids) and len(ids) == len(set(ids))
    assert inc.custom_fields is None
    assert emulator.log.count(path=r"/team/\d+/task$") == 1


@pytest.mark.slow
def test_rate_limit_is_respected_without_failing(emulated):
    dataset, _, _ = emulated
    emulator, server = start_emulator(dataset, rate_limit=6, rate_window=1.0)
    try:
        team_id = list(dataset.teams)[0]
        ws = clickup_config(server.url, [team_id]).workspaces[0]
        client = client_for(server, dataset.grant([team_id]), team_id)
        extract = extract_workspace(client, ws)
        assert len(extract.tasks) == len(team_tasks(dataset, team_id))
        assert client.stats.requests > 6 and client.stats.waited_seconds > 0
        # The client paces itself on X-RateLimit-Remaining, so it should almost never be refused.
        assert emulator.log.count(status=429) <= 1
    finally:
        server.stop()


def test_rate_limit_gives_up_after_a_bounded_wait(emulated):
    dataset, emulator, server = emulated
    team_id = list(dataset.teams)[0]
    body = '{"err":"Rate limit reached","ECODE":"APP_002"}'
    emulator.faults.add(kind="status", status=429, body=body, path="/team$", times=100)
    slept = []
    client = client_for(
        server, dataset.grant([team_id]), team_id, retry=RetryPolicy(max_rate_limit_wait=5), sleep=slept.append
    )
    with pytest.raises(ClickUpError, match="rate limit still in force") as err:
        client.teams()
    assert err.value.code == "RATE_LIMITED" and sum(slept) <= 5


@pytest.mark.parametrize(
    "kind, extra",
    [
        ("status", {"status": 503}),
        ("status", {"status": 500}),
        ("reset", {}),
        ("truncate", {}),
        ("html", {}),
    ],
)
def test_transient_failures_are_retried(emulated, kind, extra):
    dataset, emulator, server = emulated
    team_id = list(dataset.teams)[0]
    emulator.faults.add(kind=kind, path=r"/team/\d+/task$", times=2, **extra)
    client = client_for(server, dataset.grant([team_id]), team_id)
    pages = list(client.team_task_pages(team_id))
    assert sum(len(p) for p in pages) == sum(not t.archived for t in team_tasks(dataset, team_id))
    assert client.stats.retries == 2


def test_timeouts_are_retried(emulated):
    dataset, emulator, server = emulated
    team_id = list(dataset.teams)[0]
    emulator.faults.add(kind="delay", seconds=1.0, path="/team$", times=1)
    client = client_for(server, dataset.grant([team_id]), team_id, timeout=0.3)
    assert [t["id"] for t in client.teams()] == [team_id]
    assert client.stats.retries == 1


def test_persistent_5xx_ends_in_a_clear_error(emulated):
    dataset, emulator, server = emulated
    team_id = list(dataset.teams)[0]
    emulator.faults.add(kind="status", status=502, path="/team$", times=10)
    with pytest.raises(ClickUpError, match="kept failing .*HTTP 502.* after 4 attempts"):
        client_for(server, dataset.grant([team_id]), team_id).teams()


def test_invalid_token_is_not_retried_and_names_the_fix(emulated):
    dataset, emulator, server = emulated
    team_id = list(dataset.teams)[0]
    secret = "pk_999_NOTAREALTOKENNOTAREALTOKEN12"
    client = client_for(server, secret, team_id)
    with pytest.raises(ClickUpError) as err:
        client.teams()
    text = str(err.value)
    assert err.value.code == "OAUTH_025" and err.value.status == 401
    assert "workspace 'team-1'" in text and "TEST_CLICKUP_TOKEN_1" in text and "Settings > Apps" in text
    assert secret not in text and secret not in repr(client)
    assert emulator.log.count() == 1


def test_revoked_token_mid_run(emulated):
    dataset, emulator, server = emulated
    team_id = list(dataset.teams)[0]
    token = dataset.grant([team_id])
    client = client_for(server, token, team_id)
    pages = client.team_task_pages(team_id)
    next(pages)
    emulator.revoke_token(token)
    with pytest.raises(ClickUpError, match="OAUTH_025"):
        next(pages)


def test_team_not_visible_to_token(emulated):
    dataset, _, server = emulated
    first, second = list(dataset.teams)
    ws = clickup_config(server.url, [second]).workspaces[0]
    with pytest.raises(ClickUpError, match=f"team_id {second} is not a Workspace the token") as err:
        extract_workspace(client_for(server, dataset.grant([first]), second), ws)
    assert err.value.code == "TEAM_NOT_VISIBLE"


def test_denied_list_errors_and_hidden_hierarchy(emulated):
    dataset, emulator, server = emulated
    team_id = list(dataset.teams)[0]
    denied = dataset.team_list_ids(team_id)[0]
    token = dataset.grant([team_id], denied_list_ids=[denied])
    client = client_for(server, token, team_id)
    with pytest.raises(ClickUpError, match="lacks access") as err:
        client.list_fields(denied)
    assert err.value.status == 401 and emulator.log.count(path=f"/list/{denied}/field") == 1
    ws = clickup_config(server.url, [team_id]).workspaces[0]
    extract = extract_workspace(client, ws)
    assert denied not in extract.scoped_list_ids
    assert all(t["list"]["id"] != denied for t in extract.tasks)


def test_missing_task_is_a_404_with_the_scope_hint(emulated):
    dataset, _, server = emulated
    team_id = list(dataset.teams)[0]
    with pytest.raises(ClickUpError, match="ITEM_013.*check the workspace scope"):
        client_for(server, dataset.grant([team_id]), team_id).task("nosuchtask")
