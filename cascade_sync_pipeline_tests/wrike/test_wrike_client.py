"""The Wrike client over real HTTP against the emulator: paging, incremental reads, rate limits,
OAuth refresh and host switching, crash-safe token rotation, errors and the write-back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from flask import Flask, Response, request

from cascade_sync_pipeline.config import parse_config
from cascade_sync_pipeline.http import RetryPolicy
from cascade_sync_pipeline.wrike import (
    OAuthSession,
    WrikeApiError,
    WrikeAuthError,
    WrikeClient,
    authorize_url,
    exchange_code,
    latest_update,
)
from cascade_sync_pipeline.wrike.client import wrike_timestamp
from cascade_sync_pipeline.wrike.webhooks import handshake_answer, verify_signature
from cascade_sync_pipeline_tests.support.paths import REPO_ROOT
from cascade_sync_sandbox.server import EmulatorServer
from cascade_sync_sandbox.wrike import WrikeEmulator, generate

REDIRECT = "http://localhost:9/callback"
ROOT = REPO_ROOT


@pytest.fixture(scope="module")
def big():
    """2,500 tasks in one project (read-only)."""
    ds = generate(
        9, spaces=1, projects_per_space=1, folders_per_space=0, tasks=2500, subtask_ratio=0.1, recycled_ratio=0
    )
    emulator = WrikeEmulator(ds, rate_limit=100_000)
    with emulator.serve() as server:
        yield ds, emulator, server


@pytest.fixture
def sandbox():
    ds = generate(5, tasks=200)
    emulator = WrikeEmulator(ds, rate_limit=100_000)
    with emulator.serve() as server:
        yield ds, emulator, server


def _permanent(server: EmulatorServer, ds, **kwargs) -> WrikeClient:
    return WrikeClient(
        server.url + "/api/v4", workspace="acme-wrike", token=ds.permanent_token, token_env="WRIKE_TOKEN", **kwargs
    )


def _bootstrap(login: EmulatorServer, ds, store: Path) -> None:
    """The one-time OAuth bootstrap: authorize (the sandbox consents) and exchange the code."""
    answer = httpx.get(authorize_url(ds.oauth_client_id, REDIRECT, "st4te", login_url=login.url))
    query = parse_qs(urlparse(answer.headers["Location"]).query)
    assert query["state"] == ["st4te"]
    exchange_code(
        query["code"][0],
        client_id=ds.oauth_client_id,
        client_secret=ds.oauth_client_secret,
        store=store,
        redirect_uri=REDIRECT,
        login_url=login.url,
        workspace="acme-wrike",
    )


def _session(login: EmulatorServer, ds, store: Path, **kwargs) -> OAuthSession:
    return OAuthSession(
        store,
        client_id=ds.oauth_client_id,
        client_secret=ds.oauth_client_secret,
        login_url=login.url,
        workspace="acme-wrike",
        **kwargs,
    )


def _oauth_client(login: EmulatorServer, ds, store: Path, **kwargs) -> WrikeClient:
    return WrikeClient(login.url + "/api/v4", workspace="acme-wrike", oauth=_session(login, ds, store, **kwargs))


def _stored(store: Path) -> dict:
    return json.loads(store.read_text())["state"]


# --- reads ----------------------------------------------------------------------------------------


def test_pages_past_1000_tasks_with_next_page_token(big):
    ds, emulator, server = big
    with _permanent(server, ds) as client:
        project = client.projects(ds.spaces[0]["id"])[0]
        before = client.stats.requests
        tasks = client.tasks_in_folder(project["id"])
        assert len(tasks) == len({t["id"] for t in tasks}) == 2500
        assert {t["id"] for t in tasks} == {t["id"] for t in ds.tasks}
        assert client.stats.requests - before == 3
        subtask = next(t for t in tasks if t["superTaskIds"])
        assert {"description", "responsibleIds", "parentIds", "customFields", "subTaskIds"} <= set(subtask)
        small = WrikeClient(server.url + "/api/v4", workspace="acme-wrike", token=ds.permanent_token, page_size=400)
        assert len(small.tasks_in_space(ds.spaces[0]["id"])) == 2500
        assert small.stats.requests == 7
        small.close()


def test_reads_the_whole_account(sandbox):
    ds, _, server = sandbox
    with _permanent(server, ds) as client:
        spaces = client.spaces()
        assert [s["id"] for s in spaces] == [s["id"] for s in ds.spaces]
        folders = [f for s in spaces for f in client.space_folders(s["id"])]
        assert {f["id"] for f in folders} == {f["id"] for f in ds.folders}
        assert all("parentIds" in f for f in folders)
        projects = [f for f in folders if "project" in f]
        assert len(projects) == len(ds.projects) and all(p["project"]["ownerIds"] for p in projects)
        live = client.tasks_in_folders([f["id"] for f in folders])
        assert {t["id"] for t in live} == {t["id"] for t in ds.tasks if t["scope"] == "WsTask"}
        recycled = client.recycled_tasks()
        assert {t["id"] for t in recycled} == {t["id"] for t in ds.tasks if t["scope"] == "RbTask"}
        by_id = client.tasks([t["id"] for t in ds.tasks])  # 200 ids: two calls of 100
        assert len(by_id) == 200
        assert client.custom_field_ids()["Cascade ID"] == ds.custom_field("Cascade ID")["id"]
        assert len(client.contacts()) == len(ds.contacts)
        assert {w["id"] for w in client.workflows()} == {w["id"] for w in ds.workflows}


def test_incremental_reads_overlap_and_deduplicate(sandbox):
    ds, emulator, server = sandbox
    with _permanent(server, ds) as client:
        space = ds.spaces[0]["id"]
        full = client.tasks_in_space(space)
        watermark = latest_update(full)
        in_space = [t for t in full if not t["superTaskIds"]]
        changed = {in_space[0]["id"], in_space[1]["id"]}
        emulator.update_task(in_space[0]["id"], title="Changed one")
        emulator.update_task(in_space[1]["id"], importance="High" if in_space[1]["importance"] != "High" else "Low")
        created = emulator.create_task(client.projects(space)[0]["id"], "Brand new")
        emulator.delete_task(in_space[2]["id"])
        delta = client.tasks_in_space(space, updated_since=watermark)
        ids = {t["id"] for t in delta}
        assert changed | {created["id"]} <= ids
        assert in_space[2]["id"] not in ids
        floor = wrike_timestamp(datetime.fromisoformat(watermark.replace("Z", "+00:00")) - client.overlap)
        for task in delta:
            assert task["id"] in changed | {created["id"]} or task["updatedDate"] >= floor
        assert {t["id"] for t in full if t["updatedDate"] >= floor} - {in_space[2]["id"]} <= ids
        edge = in_space[5]  # changed two minutes before the watermark: only the overlap catches it
        since = datetime.fromisoformat(edge["updatedDate"].replace("Z", "+00:00")) + timedelta(minutes=2)
        assert edge["id"] in {t["id"] for t in client.tasks_in_space(space, updated_since=since)}
        assert in_space[2]["id"] in {t["id"] for t in client.recycled_tasks(updated_since=watermark)}
        folders = [f["id"] for f in client.space_folders(space)]
        merged = client.tasks_in_folders(folders + [space], updated_since=watermark)
        assert len(merged) == len({t["id"] for t in merged}) == len(ids)


@pytest.mark.slow
def test_backs_off_on_429_and_finishes(big):
    ds, _, _ = big
    emulator = WrikeEmulator(ds, rate_limit=5, rate_window=1.0)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    with emulator.serve() as server, _permanent(server, ds, sleep=sleep, page_size=250) as client:
        tasks = client.tasks_in_space(ds.spaces[0]["id"])
        assert len(tasks) == 2500
        assert client.stats.rate_limited >= 1 and waits and all(w >= 1 for w in waits)
        assert emulator.log.count(status=429) == client.stats.rate_limited
    quiet = WrikeEmulator(ds, rate_limit=3, rate_window=1.0, send_retry_after=False)
    waits.clear()
    with quiet.serve() as server, _permanent(server, ds, sleep=sleep) as client:
        for _ in range(5):
            client.spaces()
        assert waits[:1] == [1.0]  # no Retry-After: exponential backoff from one second


# --- OAuth --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_bootstrap_cli_prints_the_url_and_stores_tokens(sandbox, tmp_path):
    ds, emulator, server = sandbox
    env = {**os.environ, "WRIKE_CLIENT_ID": ds.oauth_client_id, "WRIKE_CLIENT_SECRET": ds.oauth_client_secret}
    common = [
        "--client-id-env",
        "WRIKE_CLIENT_ID",
        "--client-secret-env",
        "WRIKE_CLIENT_SECRET",
        "--login-url",
        server.url,
    ]
    cli = [sys.executable, "-m", "cascade_sync_pipeline.cli", "wrike"]
    shown = subprocess.run(
        cli + ["authorize", *common, "--redirect-uri", REDIRECT, "--state", "abc"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    url = shown.stdout.strip()
    assert url.startswith(server.url + "/oauth2/authorize/v4?") and "state=abc" in url
    code = parse_qs(urlparse(httpx.get(url).headers["Location"]).query)["code"][0]
    store = tmp_path / "wrike.tokens.json"
    stored = subprocess.run(
        cli + ["exchange", *common, "--redirect-uri", REDIRECT, "--code", code, "--token-store", str(store)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "stored tokens" in stored.stdout and ds.oauth_client_secret not in stored.stdout + stored.stderr
    assert store.stat().st_mode & 0o777 == 0o600
    with _oauth_client(server, ds, store) as client:
        assert len(client.spaces()) == len(ds.spaces)
    status = subprocess.run(
        cli + ["status", "--token-store", str(store)], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert status.returncode == 0 and "expires in" in status.stdout
    again = subprocess.run(
        cli + ["exchange", *common, "--redirect-uri", REDIRECT, "--code", code, "--token-store", str(store)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 1 and "invalid_grant" in again.stderr


def test_access_token_expiring_mid_run_is_refreshed_transparently(big, tmp_path):
    ds, emulator, server = big
    store = tmp_path / "tokens.json"
    _bootstrap(server, ds, store)
    first_refresh = _stored(store)["refresh_token"]
    with _oauth_client(server, ds, store) as client:
        pages = client.iter_tasks(f"/folders/{ds.projects[0]['id']}/tasks", {"descendants": "true", "subTasks": "true"})
        seen = [next(pages)["id"]]
        unauthorized_before = emulator.log.count(status=401)
        emulator.expire_access_tokens()
        seen += [t["id"] for t in pages]
        assert len(set(seen)) == 2500
        assert client._oauth.refreshes == 1
        assert emulator.log.count(status=401) == unauthorized_before + 1
        state = _stored(store)
        assert state["refresh_token"] != first_refresh and state["proven"] and state["previous_refresh_token"] is None
        assert not emulator.oauth.is_live_refresh_token(first_refresh)


def test_refreshes_proactively_before_expiry(sandbox, tmp_path):
    ds, emulator, server = sandbox
    store = tmp_path / "tokens.json"
    _bootstrap(server, ds, store)
    now = [time.time()]
    with _oauth_client(server, ds, store, clock=lambda: now[0]) as client:
        client.spaces()
        now[0] += 3600 - 60  # inside the two-minute margin
        client.spaces()
        assert client._oauth.refreshes == 1
        assert emulator.log.count(status=401) == 0
        assert emulator.log.count(method="POST", path="/oauth2/token") == 2  # exchange + one refresh


def test_uses_the_host_from_the_token_answer(sandbox, tmp_path):
    ds, emulator, login = sandbox
    with emulator.serve() as api:
        emulator.api_host = emulator.oauth.token_host = f"127.0.0.1:{api.port}"
        store = tmp_path / "tokens.json"
        _bootstrap(login, ds, store)
        with _oauth_client(login, ds, store) as client:
            assert len(client.spaces()) == len(ds.spaces)
            assert f":{api.port}/api/v4" in repr(client)
            emulator.expire_access_tokens()
            assert client.folder_tree(ds.spaces[0]["id"])  # the refresh still goes to the login host
            assert emulator.log.count(status=300) == 0
        with _permanent(login, ds) as wrong_host:
            with pytest.raises(WrikeApiError) as err:
                wrong_host.spaces()
            assert err.value.status == 300 and "host" in str(err.value)


# --- crash safety of the refresh-token rotation -------------------------------------------------------

CHILD = """
import os, sys
from cascade_sync_pipeline.wrike import OAuthSession, WrikeClient
store, login, client_id, crash_at = sys.argv[1:5]
def checkpoint(step):
    if step == crash_at:
        os._exit(86)
session = OAuthSession(store, client_id=client_id, client_secret=os.environ["WRIKE_CLIENT_SECRET"],
                       login_url=login, workspace="acme-wrike", checkpoint=checkpoint)
client = WrikeClient(login + "/api/v4", workspace="acme-wrike", oauth=session)
client.spaces()
print("finished")
"""


def _crash_during_refresh(server, ds, store: Path, step: str) -> None:
    """Run a sync in a child process whose access token has expired; kill it at ``step`` of the refresh."""
    env = {**os.environ, "WRIKE_CLIENT_SECRET": ds.oauth_client_secret}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(store), server.url, ds.oauth_client_id, step],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 86, child.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "step",
    [
        "refresh_started:replaced",
        "before_refresh_request",
        "rotated:temp_written",
        "rotated:replaced",
        "proven:temp_written",
    ],
)
def test_a_crash_at_any_saved_point_of_the_rotation_recovers(step, tmp_path):
    ds = generate(2, tasks=20)
    emulator = WrikeEmulator(ds)
    with emulator.serve() as server:
        store = tmp_path / "tokens.json"
        _bootstrap(server, ds, store)
        original = _stored(store)["refresh_token"]
        emulator.expire_access_tokens()
        _crash_during_refresh(server, ds, store, step)
        with _oauth_client(server, ds, store) as client:
            assert len(client.spaces()) == len(ds.spaces)
        state = _stored(store)
        assert state["proven"] and state["previous_refresh_token"] is None
        assert emulator.oauth.is_live_refresh_token(state["refresh_token"])
        assert not Path(str(store) + ".tmp").exists()
        if step in ("rotated:temp_written", "rotated:replaced", "proven:temp_written"):
            assert state["refresh_token"] != original and emulator.oauth.issued == 2  # the crashed run's pair is reused


@pytest.mark.slow
def test_a_crash_between_rotation_and_save_is_reported_or_recovered_with_a_grace(tmp_path):
    for grace in (0.0, 60.0):
        ds = generate(2, tasks=20)
        emulator = WrikeEmulator(ds, refresh_reuse_grace=grace)
        with emulator.serve() as server:
            store = tmp_path / f"tokens-{grace}.json"
            _bootstrap(server, ds, store)
            emulator.expire_access_tokens()
            _crash_during_refresh(server, ds, store, "refresh_response_received")
            client = _oauth_client(server, ds, store)
            if grace:
                assert len(client.spaces()) == len(ds.spaces)
            else:
                with pytest.raises(WrikeAuthError) as err:
                    client.spaces()
                text = str(err.value)
                assert err.value.code == "invalid_grant" and "acme-wrike" in text and "bootstrap" in text
                assert ds.oauth_client_secret not in text and _stored(store)["refresh_token"] not in text
            client.close()


def test_unproven_rotation_falls_back_to_the_previous_refresh_token(tmp_path):
    ds = generate(2, tasks=20)
    emulator = WrikeEmulator(ds, refresh_reuse_grace=60)
    with emulator.serve() as server:
        store = tmp_path / "tokens.json"
        _bootstrap(server, ds, store)
        emulator.expire_access_tokens()
        _crash_during_refresh(server, ds, store, "rotated:replaced")
        unproven = _stored(store)
        assert not unproven["proven"] and unproven["previous_refresh_token"]
        emulator.revoke_token(unproven["refresh_token"])  # the new refresh token turns out to be unusable
        emulator.expire_access_tokens()
        with _oauth_client(server, ds, store) as client:
            assert client.spaces()
        assert _stored(store)["proven"]


def test_a_failing_store_write_stops_the_run_with_a_clear_message(tmp_path):
    ds = generate(2, tasks=20)
    emulator = WrikeEmulator(ds)
    with emulator.serve() as server:
        store = tmp_path / "tokens.json"
        _bootstrap(server, ds, store)
        original = _stored(store)["refresh_token"]
        temp = Path(str(store) + ".tmp")

        temp.mkdir()  # the store cannot be written: the refresh must not even start
        emulator.expire_access_tokens()
        with _oauth_client(server, ds, store) as client, pytest.raises(WrikeAuthError) as err:
            client.spaces()
        assert err.value.code == "token_store_unwritable" and "not attempted" in str(err.value)
        assert emulator.oauth.is_live_refresh_token(original)
        temp.rmdir()

        def break_store_after_rotation(step: str) -> None:
            if step == "refresh_response_received":
                temp.mkdir()

        with (
            _oauth_client(server, ds, store, checkpoint=break_store_after_rotation) as client,
            pytest.raises(WrikeAuthError) as err,
        ):
            client.spaces()
        text = str(err.value)
        assert err.value.code == "token_store_unwritable" and str(store) in text and "bootstrap" in text
        assert original not in text and ds.oauth_client_secret not in text
        assert _stored(store)["refresh_token"] == original  # the store was never half-written


# --- errors, secrets, write-back, webhooks --------------------------------------------------------------


def test_errors_name_workspace_code_and_fix_without_secrets(sandbox, tmp_path):
    ds, emulator, server = sandbox
    bad = WrikeClient(
        server.url + "/api/v4", workspace="acme-wrike", token="eyJwrong-token-123", token_env="WRIKE_TOKEN"
    )
    with pytest.raises(WrikeApiError) as err:
        bad.spaces()
    text = str(err.value)
    assert err.value.code == "not_authorized" and err.value.workspace == "acme-wrike"
    assert "acme-wrike" in text and "not_authorized" in text and "WRIKE_TOKEN" in text
    assert "eyJwrong-token-123" not in text and "eyJwrong-token-123" not in repr(bad)

    with _permanent(server, ds) as client:
        project = ds.projects[0]["id"]
        emulator.deny(project)
        with pytest.raises(WrikeApiError) as err:
            client.tasks_in_folder(project)
        assert err.value.code == "access_forbidden" and f"folder {project}" in str(err.value)
        assert "share" in str(err.value)
        emulator.deny(project, "not_allowed")
        with pytest.raises(WrikeApiError) as err:
            client.tasks_in_folder(project)
        assert err.value.code == "not_allowed" and "lacks access" in str(err.value)
        emulator.deny(project, "")
        with pytest.raises(WrikeApiError) as err:
            client.tasks(["IEAXXXXXKQAAAAAA"])
        assert err.value.code == "resource_not_found" and err.value.status == 404
        emulator.faults.add(
            kind="status",
            path="/api/v4/spaces",
            status=400,
            body=json.dumps({"error": "invalid_request", "errorDescription": f"bad token {ds.permanent_token}"}),
        )
        with pytest.raises(WrikeApiError) as err:
            client.spaces()
        assert ds.permanent_token not in str(err.value) and "***" in str(err.value)
        emulator.faults.add(kind="status", path="/api/v4/contacts", status=503, times=10)
        retrying = _permanent(server, ds, retry=RetryPolicy(max_attempts=2, backoff_base=0.01))
        with pytest.raises(WrikeApiError) as err:
            retrying.contacts()
        assert err.value.retryable and "acme-wrike" in str(err.value)
        retrying.close()

    store = tmp_path / "tokens.json"
    _bootstrap(server, ds, store)
    state = _stored(store)
    emulator.revoke_token(state["refresh_token"])
    emulator.expire_access_tokens()
    session = _session(server, ds, store)
    client = WrikeClient(server.url + "/api/v4", workspace="acme-wrike", oauth=session)
    with pytest.raises(WrikeAuthError) as err:
        client.spaces()
    text = str(err.value) + repr(client) + repr(session) + repr(session.state) + repr(session.store)
    assert err.value.code == "invalid_grant" and "bootstrap" in str(err.value)
    for secret in (state["access_token"], state["refresh_token"], ds.oauth_client_secret):
        assert secret not in text
    client.close()


def test_set_custom_field_writes_back_the_cascade_id(sandbox):
    ds, emulator, server = sandbox
    with _permanent(server, ds) as client:
        field = client.custom_field_id("Cascade ID")
        task = next(t for t in ds.tasks if t["scope"] == "WsTask")
        updated = client.set_custom_field(task["id"], field, "9b2f-action-17")
        assert {"id": field, "value": "9b2f-action-17"} in updated["customFields"]
        [again] = client.tasks([task["id"]])
        assert {"id": field, "value": "9b2f-action-17"} in again["customFields"]
        cleared = client.set_custom_field(task["id"], field, None)
        assert field not in {cf["id"] for cf in cleared["customFields"]}
        with pytest.raises(WrikeApiError) as err:
            client.custom_field_id("No Such Field")
        assert "No Such Field" in str(err.value) and err.value.code == "custom_field_missing"


def test_set_folder_custom_field_writes_the_cascade_id_into_a_project(sandbox):
    ds, emulator, server = sandbox
    with _permanent(server, ds) as client:
        field = client.custom_field_id("Cascade ID")
        project = ds.projects[0]
        stamp = project["updatedDate"]
        updated = client.set_folder_custom_field(project["id"], field, "1042")
        assert {"id": field, "value": "1042"} in updated["customFields"] and "project" in updated
        [again] = client.folders([project["id"]])
        assert {"id": field, "value": "1042"} in again["customFields"] and again["updatedDate"] >= stamp
        cleared = client.set_folder_custom_field(project["id"], field, None)
        assert field not in {cf["id"] for cf in cleared["customFields"]}
        with pytest.raises(WrikeApiError) as err:
            client.request("PUT", f"/folders/{project['id']}", data={"shareds": "[]"})
        assert err.value.status == 400 and "shareds" in str(err.value)
        with pytest.raises(WrikeApiError) as err:
            client.set_folder_custom_field("IEAAAAAAI4NOPE", field, "1")
        assert err.value.status == 404
    assert emulator.log.count("PUT", r"/api/v4/folders/") == 4


def test_webhook_registration_and_signature_check(sandbox):
    ds, emulator, server = sandbox
    secret = "hook-secret-123"
    received: list[tuple[bytes, str]] = []
    app = Flask("receiver")

    @app.post("/wrike")
    def hook():
        challenge = request.headers.get("X-Hook-Secret")
        if challenge:
            return Response(status=200, headers={"X-Hook-Secret": handshake_answer(secret, challenge)})
        received.append((request.get_data(), request.headers.get("X-Hook-Signature", "")))
        return Response(status=200)

    with EmulatorServer(app) as receiver, _permanent(server, ds) as client:
        project = ds.projects[0]["id"]
        hook = client.create_webhook(
            receiver.url + "/wrike", folder_id=project, secret=secret, events=["TaskTitleChanged"]
        )
        assert hook["status"] == "Active" and client.webhooks() == [hook]
        task = next(t for t in ds.tasks if t["parentIds"][0] == project and t["scope"] == "WsTask")
        emulator.update_task(task["id"], title="Renamed in Wrike")
        [(body, sig)] = received
        assert verify_signature(secret, body, sig) and not verify_signature("other", body, sig)
        assert not verify_signature(secret, body + b" ", sig)
        assert json.loads(body)[0]["title"] == "Renamed in Wrike"
        assert client.set_webhook_status(hook["id"], "Suspended")["status"] == "Suspended"
        client.delete_webhook(hook["id"])
        assert client.webhooks() == []


def test_from_workspace_reads_secrets_from_the_named_env_vars(sandbox, tmp_path):
    ds, _, server = sandbox
    store = tmp_path / "tokens.json"
    _bootstrap(server, ds, store)
    config = parse_config(
        {
            "workspaces": [
                {"key": "perm", "source": "wrike", "base_url": server.url + "/api/v4", "token_env": "W_TOKEN"},
                {
                    "key": "oauth",
                    "source": "wrike",
                    "base_url": server.url + "/api/v4",
                    "oauth": {
                        "client_id_env": "W_ID",
                        "client_secret_env": "W_SECRET",
                        "token_store": str(store),
                        "login_url": server.url,
                    },
                },
            ]
        }
    )
    env = {"W_TOKEN": ds.permanent_token, "W_ID": ds.oauth_client_id, "W_SECRET": ds.oauth_client_secret}
    for ws in config.workspaces:
        with WrikeClient.from_workspace(ws, env=env) as client:
            assert len(client.spaces()) == len(ds.spaces)
    with pytest.raises(WrikeApiError) as err:
        WrikeClient.from_workspace(config.workspaces[0], env={})
    assert "W_TOKEN" in str(err.value) and "perm" in str(err.value)


def test_token_answer_parsing_and_api_base_from_host():
    from cascade_sync_pipeline.wrike.client import api_base_for_host
    from cascade_sync_pipeline.wrike.oauth import parse_token_answer

    assert parse_token_answer(
        {"access_token": "a", "refresh_token": "r", "expires_in": "3600", "host": "app-eu.wrike.com"}
    ) == ("a", "r", 3600.0, "app-eu.wrike.com")
    assert parse_token_answer({"access_token": "a", "expires_in": 60})[2] == 60.0
    with pytest.raises(ValueError):
        parse_token_answer({"error": "invalid_grant"})
    assert api_base_for_host("app-eu.wrike.com", "https://www.wrike.com/api/v4") == "https://app-eu.wrike.com/api/v4"
    assert api_base_for_host("127.0.0.1:8702", "http://127.0.0.1:9/api/v4") == "http://127.0.0.1:8702/api/v4"
