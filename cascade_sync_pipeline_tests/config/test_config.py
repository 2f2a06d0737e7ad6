"""The config file: valid examples load; bad input fails with a message naming the field to fix."""

import textwrap

import pytest

from cascade_sync_pipeline.config import ConfigError, load_config, parse_config, secret_from_env

CLICKUP = {"key": "acme-eng", "source": "clickup", "team_id": "901", "token_env": "CLICKUP_TOKEN"}


def test_example_config_loads():
    config = load_config("config/sandbox.yaml")
    assert [ws.key for ws in config.workspaces] == ["acme-product", "acme-ops", "acme-delivery"]
    assert all(ws.cascade_id_field == "Cascade ID" for ws in config.workspaces)
    assert config.workspaces[0].scope.is_everything


def test_defaults_and_team_id_as_number():
    config = parse_config({"workspaces": [dict(CLICKUP, team_id=901)]})
    ws = config.workspaces[0]
    assert ws.team_id == "901" and ws.base_url == "https://api.clickup.com/api/v2"
    assert ws.schedule == "hourly" and ws.full_refresh_hours == 24


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"key": "Acme Eng"}, "workspaces.0(key=Acme Eng).key: must be a lowercase slug"),
        ({"token_env": "pk_12345678_ABCDEFGHIJ"}, "token_env: must be the NAME of an environment variable"),
        ({"source": "jira"}, "workspaces.0(key=acme-eng)"),
        ({"team_id": None}, "team_id"),
        ({"schedule": "every tuesday"}, "schedule: must be hourly, daily, weekly or a five-field cron"),
        ({"status_categories": {"blocked": "stuck"}}, "status_categories.blocked"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_bad_workspace_names_the_field(change, expected):
    with pytest.raises(ConfigError) as err:
        parse_config({"workspaces": [{**CLICKUP, **change}]}, "sync.yaml")
    assert expected in str(err.value)
    assert "sync.yaml" in str(err.value)


def test_duplicate_keys_rejected():
    with pytest.raises(ConfigError, match="'acme-eng' is used by two workspaces"):
        parse_config({"workspaces": [CLICKUP, dict(CLICKUP, team_id="902")]})


def test_missing_file_names_the_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("CASCADE_SYNC_CONFIG", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match="CASCADE_SYNC_CONFIG"):
        load_config()


def test_invalid_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        textwrap.dedent("""\
        workspaces:
          - key: [unclosed
        """)
    )
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_duckdb_path_env_override(monkeypatch):
    config = parse_config({"workspaces": [CLICKUP]})
    monkeypatch.delenv("CASCADE_SYNC_DUCKDB", raising=False)
    assert config.duckdb_path == "data/cascade_sync.duckdb"
    monkeypatch.setenv("CASCADE_SYNC_DUCKDB", "/tmp/elsewhere.duckdb")
    assert config.duckdb_path == "/tmp/elsewhere.duckdb"


def test_secret_from_env_names_variable_not_value(monkeypatch):
    monkeypatch.delenv("CLICKUP_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="CLICKUP_TOKEN is not set"):
        secret_from_env("CLICKUP_TOKEN", owner="workspace 'acme-eng'")
    monkeypatch.setenv("CLICKUP_TOKEN", "pk_1_SECRET")
    assert secret_from_env("CLICKUP_TOKEN", owner="x") == "pk_1_SECRET"


def test_classic_sandbox_config_holds_the_users_the_sandbox_seeds():
    from cascade_sync_sandbox.classic import ClassicEmulator
    from cascade_sync_sandbox.clickup.generator import generate
    from cascade_sync_sandbox.company import CLICKUP_TASKS_PER_TEAM, SEED, WRIKE_TASKS, sandbox_people, seed_classic
    from cascade_sync_sandbox.wrike import generate as generate_wrike

    config = load_config("config/sandbox-classic.yaml")
    assert config.cascade.api == "classic" and [ws.key for ws in config.workspaces] == [
        "acme-product",
        "acme-ops",
        "acme-delivery",
    ]
    people = sandbox_people(
        generate(SEED, teams=2, tasks_per_team=CLICKUP_TASKS_PER_TEAM, cascade_id_ratio=0.0),
        generate_wrike(SEED, tasks=WRIKE_TASKS, cascade_id_ratio=0.0),
    )
    assert [u.model_dump() for u in config.cascade.users] == seed_classic(ClassicEmulator(), people)


def test_demo_refuses_a_config_of_the_other_api(capsys):
    from cascade_sync_pipeline import cli

    assert cli.main(["--config", "config/sandbox.yaml", "demo", "--cascade", "classic"]) == 2
    assert "--cascade classic: the config speaks cascade.api: integrations" in capsys.readouterr().err


@pytest.mark.parametrize(
    "cascade, expected",
    [
        (
            {"api": "classic", "base_url": "https://acme.executestrategy.net/api/v2"},
            "cascade: token_env: give the NAME",
        ),
        (
            {
                "api": "classic",
                "base_url": "https://acme.executestrategy.net/api/v2",
                "token_env": "T",
                "workspace_id": "w",
            },
            "workspace_id: only the integrations API has workspaces",
        ),
        (
            {
                "api": "integrations",
                "base_url": "https://x.example",
                "workspace_id": "w",
                "token_env": "T",
                "users": [{"email": "a@b.example", "role_id": 1}],
            },
            "users: only the classic API",
        ),
        ({"api": "contract", "base_url": "https://x.example", "token_env": "T"}, "cascade.api: Input should be"),
    ],
)
def test_cascade_connection_errors_name_the_field(cascade, expected):
    with pytest.raises(ConfigError) as err:
        parse_config({"cascade": cascade, "workspaces": []})
    assert expected in str(err.value)
