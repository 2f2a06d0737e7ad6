"""Config and connection hygiene: API URLs (https except on loopback), redirects refused without re-sending
the token, tokens stripped, transport errors never chained into client errors, cron schedules checked
when the config loads, repeated YAML keys and empty files refused, and a token store that follows no
symbolic link and keeps its directory private. Real HTTP on loopback throughout."""

from __future__ import annotations

import os
import re
import stat
import time

import dagster as dg
import pytest

from cascade_sync_pipeline.clickup.assets import build_clickup_assets
from cascade_sync_pipeline.clickup.client import ClickUpClient, ClickUpError
from cascade_sync_pipeline.config import ConfigError, load_config, parse_config
from cascade_sync_pipeline.http import RetryPolicy
from cascade_sync_pipeline.oauth import OAuthError, OAuthProvider, TokenState, TokenStore, exchange_code
from cascade_sync_pipeline.partitions import workspace_partitions
from cascade_sync_pipeline.resources import ClickUpResource, WarehouseResource
from cascade_sync_pipeline.wrike.client import WrikeClient
from cascade_sync_pipeline.wrike.errors import WrikeApiError
from cascade_sync_pipeline_tests.support.clickup_setup import clickup_config, start_emulator
from cascade_sync_pipeline_tests.support.helpers import failure_message
from cascade_sync_sandbox.server import EmulatorServer

CLICKUP = {"key": "acme-eng", "source": "clickup", "team_id": "901", "token_env": "CLICKUP_TOKEN"}
WRIKE = {"key": "acme-pm", "source": "wrike", "token_env": "WRIKE_TOKEN"}
TOKEN = "pk_4711_SECRETSECRETSECRETSECRET"


# --- base_url -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, problem",
    [
        ("http://api.clickup.com/api/v2", "must use https"),
        ("http://10.0.0.5/api/v2", "must use https"),
        ("api.clickup.com/api/v2", "absolute https:// URL"),
        ("ftp://api.clickup.com", "absolute https:// URL"),
        ("https://", "absolute https:// URL"),
        ("https://user:pass@api.clickup.com/api/v2", "must not hold credentials"),
        ("https://api.clickup.com/api/v2?token=x", "without ?query"),
        ("https://api.clickup.com:99999/api/v2", "not a valid URL"),
        ("https://api.clickup.com/api/v2 ", "without spaces"),
    ],
)
@pytest.mark.parametrize("workspace", [CLICKUP, WRIKE], ids=["clickup", "wrike"])
def test_a_bad_base_url_is_a_config_error_naming_the_field(workspace, url, problem):
    with pytest.raises(ConfigError) as err:
        parse_config({"workspaces": [dict(workspace, base_url=url)]}, "sync.yaml")
    line = next(line for line in str(err.value).splitlines() if ".base_url:" in line)
    assert line.strip().startswith(f"workspaces.0(key={workspace['key']}).base_url:") and problem in line


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8701/api/v2",
        "http://127.9.9.9/api/v2",
        "http://localhost:8701",
        "http://[::1]:8701/api/v2",
        "https://api.clickup.com/api/v2/",
    ],
)
def test_loopback_may_use_plain_http(url):
    ws = parse_config({"workspaces": [dict(CLICKUP, base_url=url)]}).workspaces[0]
    assert ws.base_url == url.rstrip("/")


def test_cascade_urls_are_checked_too():
    cascade = {"api": "integrations", "workspace_id": "ws", "token_env": "CASCADE_TOKEN"}
    for block, field in (
        (dict(cascade, base_url="http://integrations.example.com"), "cascade.base_url"),
        (
            dict(
                cascade,
                base_url="https://x.example.com",
                token_env=None,
                oauth={
                    "client_id_env": "CID",
                    "client_secret_env": "CSEC",
                    "token_store": "t.json",
                    "token_url": "http://auth.example.com/token",
                },
            ),
            "cascade.oauth.token_url",
        ),
    ):
        with pytest.raises(ConfigError, match=f"{field}: must use https"):
            parse_config(
                {
                    "cascade": {k: v for k, v in block.items() if v is not None},
                    "workspaces": [dict(CLICKUP, mapping={"plan": "P"})],
                }
            )


# --- redirects ----------------------------------------------------------------------------------------------


class Recorder:
    """A WSGI app answering every request with ``status`` (a redirect to ``location`` when given) that records
    the Authorization header each request carried."""

    def __init__(self, status: int = 200, location: str | None = None) -> None:
        self.status, self.location, self.seen = status, location, []

    def __call__(self, environ, start_response):
        self.seen.append(environ.get("HTTP_AUTHORIZATION"))
        body = b'{"teams": [], "data": []}'
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        if self.location:
            headers.append(("Location", self.location + environ.get("PATH_INFO", "")))
        start_response(f"{self.status} Answer", headers)
        return [body]


@pytest.fixture
def elsewhere():
    recorder = Recorder()
    with EmulatorServer(recorder) as server:
        yield recorder, server.url


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_a_config_error_and_the_token_goes_nowhere_else(status, elsewhere):
    target, target_url = elsewhere
    redirector = Recorder(status, location=f"{target_url}/stolen")
    with EmulatorServer(redirector) as server:
        with ClickUpClient(
            f"{server.url}/api/v2",
            TOKEN,
            workspace="acme-eng",
            token_env="CLICKUP_TOKEN",
            retry=RetryPolicy(max_attempts=3, backoff_base=0.01),
        ) as client:
            with pytest.raises(ClickUpError) as err:
                client.teams()
        assert err.value.code == "REDIRECT" and "configuration error: base_url" in str(err.value)
        assert redirector.seen == [TOKEN]  # asked once, not retried
        with WrikeClient(
            f"{server.url}/api/v4",
            workspace="acme-pm",
            token=TOKEN,
            retry=RetryPolicy(max_attempts=3, backoff_base=0.01),
        ) as wrike:
            with pytest.raises(WrikeApiError, match="base_url"):
                wrike.spaces()
    assert target.seen == []  # the token never went where the redirects pointed


def test_the_oauth_token_endpoint_does_not_follow_a_redirect(elsewhere, tmp_path):
    target, target_url = elsewhere
    redirector = Recorder(307, location=f"{target_url}/stolen")
    with EmulatorServer(redirector) as server:
        provider = OAuthProvider(
            name="Cascade", authorize_url=f"{server.url}/authorize", token_url=f"{server.url}/oauth/token"
        )
        with pytest.raises(OAuthError, match="redirect") as err:
            exchange_code(
                "the-code",
                provider=provider,
                client_id="cid",
                client_secret="client-secret-value",
                store=tmp_path / "tokens" / "t.json",
                workspace="cascade",
            )
    assert "client-secret-value" not in str(err.value)
    assert len(redirector.seen) == 1 and target.seen == []


# --- tokens and transport errors ------------------------------------------------------------------------------


@pytest.fixture
def clickup_world(tmp_path):
    from cascade_sync_sandbox.clickup.generator import generate

    dataset = generate(5, teams=1, tasks_per_team=12)
    emulator, server = start_emulator(dataset, rate_limit=10_000)
    team_id = next(iter(dataset.teams))
    config = clickup_config(server.url, [team_id], duckdb=str(tmp_path / "wh.duckdb"))
    yield dataset, config
    server.stop()


def test_a_token_pasted_with_surrounding_whitespace_works(clickup_world, monkeypatch):
    dataset, config = clickup_world
    token = dataset.grant(list(dataset.teams))
    monkeypatch.setenv("TEST_CLICKUP_TOKEN_1", f"  {token}\n")
    with ClickUpClient.for_workspace(config.workspaces[0]) as client:
        assert client.teams()
    with ClickUpClient(config.workspaces[0].base_url, f"{token}\r\n", workspace="team-1") as client:
        assert client.teams()


@pytest.mark.slow
def test_a_token_http_cannot_carry_fails_at_once_and_is_in_no_recorded_error(clickup_world, monkeypatch):
    _, config = clickup_world
    bad = "pk_4711_SECRETSECRET\nX-Injected: yes"  # a line break inside: cannot be stripped, cannot be sent
    monkeypatch.setenv("TEST_CLICKUP_TOKEN_1", bad)
    started = time.monotonic()
    result = dg.materialize(
        build_clickup_assets(config, workspace_partitions(config, "clickup")).assets,
        partition_key="team-1",
        resources={"warehouse": WarehouseResource(path=config.duckdb_path), "clickup": ClickUpResource()},
        raise_on_error=False,
    )
    assert not result.success and time.monotonic() - started < 20
    message = failure_message(result)
    assert "line breaks" in message and "workspace 'team-1'" in message
    assert "SECRETSECRET" not in message
    for event in result.all_events:
        assert "SECRETSECRET" not in str(event)


def test_client_errors_never_chain_the_transport_exception(elsewhere):
    # Nothing listens on port 9: every attempt fails to connect, and the retries run out.
    with ClickUpClient(
        "http://127.0.0.1:9", TOKEN, workspace="acme-eng", retry=RetryPolicy(max_attempts=2, backoff_base=0.01)
    ) as client:
        with pytest.raises(ClickUpError) as err:
            client.teams()
    assert err.value.__cause__ is None and err.value.__suppress_context__
    # A listening server, and a token HTTP cannot carry: refused before sending, at once, never retried.
    target, url = elsewhere
    with ClickUpClient(url, "pk_1\nSECRET", workspace="acme-eng") as client:
        with pytest.raises(ClickUpError) as err:
            client.teams()
    assert err.value.__cause__ is None and err.value.__suppress_context__ and "SECRET" not in str(err.value)
    assert target.seen == [] and client.stats.requests == 1


# --- schedules and the YAML file -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schedule", ["61 * * * *", "0 6 30 2 *", "* * * * * *", "*/90 * * * *", "0 25 * * *", "every day at six"]
)
def test_a_bad_cron_schedule_is_refused_when_the_config_loads(schedule):
    with pytest.raises(ConfigError, match=r"workspaces.0\(key=acme-eng\).schedule"):
        parse_config({"workspaces": [dict(CLICKUP, schedule=schedule)]})


def test_a_good_cron_schedule_builds_its_schedule():
    from cascade_sync_pipeline.definitions import build_definitions

    config = parse_config({"workspaces": [dict(CLICKUP, schedule="15  6 * * 1-5")]})
    assert config.workspaces[0].schedule == "15 6 * * 1-5"
    schedule = build_definitions(config).get_repository_def().get_schedule_def("acme_eng_schedule")
    assert schedule.cron_schedule == "15 6 * * 1-5"


@pytest.mark.parametrize(
    "text, problem",
    [
        (
            "workspaces:\n  - key: acme-eng\n    source: clickup\n    team_id: '901'\n    token_env: A\n    token_env: B\n",
            "the key 'token_env' appears twice (lines 5 and 6)",
        ),
        (
            "warehouse: {path: a.duckdb}\nwarehouse: {path: b.duckdb}\nworkspaces: []\n",
            "the key 'warehouse' appears twice",
        ),
        ("", "is empty"),
        ("# only a comment\n", "is empty"),
    ],
)
def test_repeated_yaml_keys_and_an_empty_file_are_config_errors(tmp_path, text, problem):
    path = tmp_path / "sync.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(problem)):
        load_config(path)


def test_the_config_is_read_by_libyaml():
    """Every run process reads the config: libyaml reads 1,000 workspaces in ~0.05 s, the pure-Python
    reader in ~0.35 s (benchmarks/scale_out.py prints the code location's load time)."""
    import yaml

    from cascade_sync_pipeline import config_rules
    from cascade_sync_pipeline.config_rules import read_yaml

    assert yaml.__with_libyaml__, "PyYAML is installed without libyaml"
    entries = [f"  - {{key: team-{i}, source: clickup, team_id: '{i}', token_env: T_{i}}}\n" for i in range(1000)]
    assert len(read_yaml("workspaces:\n" + "".join(entries), "sync.yaml")["workspaces"]) == 1000
    assert issubclass(config_rules._UniqueKeyLoader, yaml.CSafeLoader)


# --- the token store ------------------------------------------------------------------------------------------

STATE = TokenState("access-token-value", "refresh-token-value", time.time() + 3600, None)


def test_the_token_store_directory_is_created_private_and_tightened(tmp_path):
    store = TokenStore(tmp_path / "new" / "tokens.json")
    store.save(STATE, "test")
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    with TokenStore(shared / "tokens.json").lock():
        pass
    assert stat.S_IMODE(shared.stat().st_mode) == 0o700


def test_a_token_store_in_a_sticky_directory_is_refused(tmp_path):
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    with pytest.raises(OAuthError, match="shared"):
        TokenStore(sticky / "tokens.json").save(STATE, "test")


@pytest.mark.parametrize("which", ["store", "temp", "lock"])
def test_the_token_store_follows_no_symbolic_link(tmp_path, which):
    directory = tmp_path / "tokens"
    store = TokenStore(directory / "tokens.json")
    store.save(STATE, "test")
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("untouched")
    link = {"store": store.path, "temp": store.temp_path, "lock": store.lock_path}[which]
    if link.exists():
        link.unlink()
    link.symlink_to(elsewhere)
    with pytest.raises(OAuthError, match="symbolic link") as err:
        with store.lock():
            store.load()
            store.save(STATE, "test")
    assert err.value.code == "token_store_unsafe"
    assert elsewhere.read_text() == "untouched"
