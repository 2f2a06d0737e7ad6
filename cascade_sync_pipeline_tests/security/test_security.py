"""Secrets stay secret. Whole syncs (ClickUp, Wrike with a permanent token, Wrike over OAuth with a
refresh, and runs that fail on a revoked or wrong token) run through `cascade-sync sync`'s code path
with known secret values; then every place a secret could leak is searched: Python logs, stdout and
stderr, the Dagster event log and run records of the runs (through the instance, and the instance's
files on disk), every text column of every DuckDB table, and the exception text of the failures.
Each search is also shown to find a value that is supposed to be there, so it cannot pass by
searching nothing. The config validator refuses secrets written where an env var NAME belongs.

Webhooks (unsigned, forged and replayed deliveries rejected, secrets out of logs and answers) are
covered in orchestration/test_webhooks.py.
"""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import dagster as dg
import httpx
import pytest
from dagster._serdes import serialize_value

from cascade_sync_pipeline.cli.syncing import sync_workspaces
from cascade_sync_pipeline.config import ConfigError, parse_config
from cascade_sync_pipeline.warehouse.store import Warehouse
from cascade_sync_pipeline.wrike.oauth import authorize_url, exchange_code
from cascade_sync_sandbox.classic import ClassicEmulator
from cascade_sync_sandbox.clickup.app import ClickUpEmulator
from cascade_sync_sandbox.clickup.generator import generate as generate_clickup
from cascade_sync_sandbox.company import sandbox_people, seed_classic
from cascade_sync_sandbox.wrike import WrikeEmulator
from cascade_sync_sandbox.wrike import generate as generate_wrike

WRIKE_MAPPING = {"target": {"focus_area_ids": [202]}}
CLICKUP_MAPPING = {"target": {"focus_area_ids": [201]}}
TEXT_TYPES = ("VARCHAR", "JSON")


class Company:
    """ClickUp, two Wrike accounts (permanent token, OAuth) and Cascade on loopback, one config."""

    def __init__(self, tmp_path: Path, monkeypatch) -> None:
        self.clickup_ds = generate_clickup(31, teams=1, tasks_per_team=40)
        self.team_id = next(iter(self.clickup_ds.teams))
        self.wrike_ds, self.oauth_ds = generate_wrike(32, tasks=40), generate_wrike(33, tasks=40)
        self.cascade_token = "cst_" + secrets.token_hex(20)
        people = {
            p["email"].lower(): p
            for p in sandbox_people(self.clickup_ds, self.wrike_ds) + sandbox_people(wrike_dataset=self.oauth_ds)
        }.values()
        self.clickup = ClickUpEmulator(self.clickup_ds, rate_limit=100_000)
        self.wrike, self.oauth = WrikeEmulator(self.wrike_ds, rate_limit=100_000), WrikeEmulator(self.oauth_ds)
        self.cascade = ClassicEmulator(rate_limit=100_000)
        self.cascade.add_token(self.cascade_token, self.cascade.integration_user["id"])
        users = seed_classic(self.cascade, list(people))
        self.servers = {
            name: emulator.serve(port=0)
            for name, emulator in (
                ("clickup", self.clickup),
                ("wrike", self.wrike),
                ("oauth", self.oauth),
                ("cascade", self.cascade),
            )
        }
        self.clickup_token = self.clickup_ds.grant([self.team_id])
        self.webhook_secret = secrets.token_urlsafe(24)
        self.store = tmp_path / "wrike-oauth.tokens.json"
        env = {
            "SEC_CLICKUP_TOKEN": self.clickup_token,
            "SEC_WRIKE_TOKEN": self.wrike_ds.permanent_token,
            "SEC_WRIKE_CLIENT_ID": self.oauth_ds.oauth_client_id,
            "SEC_WRIKE_CLIENT_SECRET": self.oauth_ds.oauth_client_secret,
            "SEC_CASCADE_TOKEN": self.cascade_token,
            "SEC_WEBHOOK_SECRET": self.webhook_secret,
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        }
        (tmp_path / "dagster_home").mkdir()
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("CASCADE_SYNC_DUCKDB", raising=False)
        self.monkeypatch = monkeypatch
        self.dagster_home = tmp_path / "dagster_home"
        self.config = parse_config(
            {
                "warehouse": {"path": str(tmp_path / "warehouse.duckdb")},
                "cascade": {
                    "api": "classic",
                    "base_url": self.url("cascade", "/api/v2"),
                    "token_env": "SEC_CASCADE_TOKEN",
                    "users": users,
                },
                "workspaces": [
                    {
                        "key": "sec-clickup",
                        "source": "clickup",
                        "base_url": self.url("clickup", "/api/v2"),
                        "team_id": self.team_id,
                        "token_env": "SEC_CLICKUP_TOKEN",
                        "webhook_secret_env": "SEC_WEBHOOK_SECRET",
                        "mapping": CLICKUP_MAPPING,
                    },
                    {
                        "key": "sec-wrike",
                        "source": "wrike",
                        "base_url": self.url("wrike", "/api/v4"),
                        "token_env": "SEC_WRIKE_TOKEN",
                        "mapping": self.wrike_mapping(self.wrike_ds),
                    },
                    {
                        "key": "sec-wrike-oauth",
                        "source": "wrike",
                        "base_url": self.url("oauth", "/api/v4"),
                        "oauth": {
                            "client_id_env": "SEC_WRIKE_CLIENT_ID",
                            "client_secret_env": "SEC_WRIKE_CLIENT_SECRET",
                            "token_store": str(self.store),
                            "login_url": self.url("oauth", ""),
                        },
                        "mapping": self.wrike_mapping(self.oauth_ds),
                    },
                ],
            }
        )

    @staticmethod
    def wrike_mapping(dataset) -> dict:
        """Two projects become goals in a focus area, their tasks tasks on them."""
        return {**WRIKE_MAPPING, "containers": [p["title"] for p in dataset.projects[:2]]}

    def url(self, name: str, path: str) -> str:
        return self.servers[name].url + path

    def bootstrap_oauth(self) -> dict:
        redirect = "http://localhost:9/callback"
        answer = httpx.get(
            authorize_url(self.oauth_ds.oauth_client_id, redirect, "st", login_url=self.url("oauth", ""))
        )
        code = parse_qs(urlparse(answer.headers["Location"]).query)["code"][0]
        exchange_code(
            code,
            client_id=self.oauth_ds.oauth_client_id,
            client_secret=self.oauth_ds.oauth_client_secret,
            store=self.store,
            redirect_uri=redirect,
            login_url=self.url("oauth", ""),
            workspace="sec-wrike-oauth",
        )
        return json.loads(self.store.read_text())["state"]

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


def _event_log_text(instance: dg.DagsterInstance, run_ids: list[str]) -> str:
    parts = []
    for run_id in run_ids:
        parts.append(serialize_value(instance.get_run_by_id(run_id)))
        parts += [serialize_value(entry) for entry in instance.all_logs(run_id)]
    return "\n".join(parts)


def _files_text(root: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in root.rglob("*") if p.is_file())


def _warehouse_hits(path: str, needles: dict[str, str]) -> dict[str, list[str]]:
    """For each needle, the table.column cells (text, JSON, lists as text) that contain it."""
    hits: dict[str, list[str]] = {name: [] for name in needles}
    with Warehouse(path).connect(read_only=True) as con:
        columns = con.execute(
            "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE NOT internal AND database_name = current_database()"
        ).fetchall()
        for schema, table, column, data_type in columns:
            if not (data_type in TEXT_TYPES or data_type.endswith("[]") or data_type.startswith(("STRUCT", "MAP"))):
                continue
            for name, needle in needles.items():
                found = con.execute(
                    f'SELECT count(*) FROM {schema}.{table} WHERE contains(CAST("{column}" AS VARCHAR), ?)', [needle]
                ).fetchall()[0][0]
                if found:
                    hits[name].append(f"{schema}.{table}.{column}")
    return hits


@pytest.fixture
def company(tmp_path, monkeypatch):
    c = Company(tmp_path, monkeypatch)
    yield c
    c.stop()


@pytest.mark.slow
def test_no_secret_in_logs_metadata_warehouse_or_errors(company, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    first_oauth = company.bootstrap_oauth()
    company.oauth.expire_access_tokens()  # the OAuth run must refresh (and rotate) its tokens
    outcomes = sync_workspaces(company.config, ["sec-clickup", "sec-wrike", "sec-wrike-oauth"], mode="full")
    assert all(o["success"] for o in outcomes.values()), {k: o["error"] for k, o in outcomes.items()}
    rotated_oauth = json.loads(company.store.read_text())["state"]
    assert rotated_oauth["refresh_token"] != first_oauth["refresh_token"]

    # Runs that fail on credentials: a revoked ClickUp token, a wrong Cascade token.
    company.clickup.revoke_token(company.clickup_token)
    failed = [sync_workspaces(company.config, ["sec-clickup"], mode="full")["sec-clickup"]]
    wrong_cascade = "cst_" + secrets.token_hex(20)
    company.monkeypatch.setenv("SEC_CASCADE_TOKEN", wrong_cascade)
    failed.append(sync_workspaces(company.config, ["sec-wrike"], mode="full")["sec-wrike"])
    assert not any(o["success"] for o in failed)
    assert "SEC_CLICKUP_TOKEN" in failed[0]["error"] and "SEC_CASCADE_TOKEN" in failed[1]["error"]

    secret_values = {
        "ClickUp token": company.clickup_token,
        "Cascade token": company.cascade_token,
        "wrong Cascade token": wrong_cascade,
        "Wrike permanent token": company.wrike_ds.permanent_token,
        "Wrike OAuth client secret": company.oauth_ds.oauth_client_secret,
        "webhook secret": company.webhook_secret,
        **{
            f"Wrike OAuth {kind} ({when})": state[kind]
            for when, state in (("bootstrap", first_oauth), ("rotated", rotated_oauth))
            for kind in ("access_token", "refresh_token")
        },
    }
    instance = dg.DagsterInstance.get()
    run_ids = [o["run_id"] for o in [*outcomes.values(), *failed]]
    errors = "\n".join(o["error"] for o in failed)
    captured = capsys.readouterr()
    surfaces = {
        "python logs": caplog.text,
        "stdout/stderr": captured.out + captured.err,
        "Dagster event log and run records": _event_log_text(instance, run_ids),
        "Dagster instance files": _files_text(company.dagster_home),
        "exception text": errors
        + "\n".join(
            e.step_failure_data.error.to_string()
            for run_id in run_ids
            for r in instance.all_logs(run_id)
            if (e := r.dagster_event) is not None and e.is_step_failure
        ),
    }
    # Each surface holds what it should (so the searches below search something) ...
    assert (
        "sec-clickup" in surfaces["Dagster event log and run records"]
        and "requests" in surfaces["Dagster event log and run records"]
    )
    assert "Cascade answered HTTP 401" in surfaces["exception text"] and "OAUTH_025" in surfaces["exception text"]
    assert "sec-wrike" in surfaces["Dagster instance files"]
    assert f"port={company.servers['cascade'].port}" in surfaces["python logs"]  # the HTTP calls to Cascade
    task_name = next(t.name for t in company.clickup_ds.tasks.values())
    assert _warehouse_hits(company.config.duckdb_path, {"task": task_name})["task"]
    # ... and none of the secrets.
    leaks = {
        (surface, name) for surface, text in surfaces.items() for name, value in secret_values.items() if value in text
    }
    assert not leaks, f"secrets found: {sorted(leaks)}"
    in_warehouse = {
        name: cells for name, cells in _warehouse_hits(company.config.duckdb_path, secret_values).items() if cells
    }
    assert not in_warehouse, f"secrets in the warehouse: {in_warehouse}"


# --- the config never holds a secret inline ----------------------------------------------------------

SECRET_SHAPED = {
    "ClickUp personal token": "pk_43346884_" + "Q7ZK2M9XW4RB8TJ1N5VC3HLD6PFY0GSA",
    "Wrike permanent token": "eyJ0dCI6InAiLCJhbGciOiJIUzI1NiIsInR2IjoiMSJ9.eyJkIjoie1wiYVwiOjY3NTg3NTEsXCJpXCI6OTQ2",
    "Wrike OAuth client secret": "Xq7RfT2kLm9PzW4vBn8YcJ3hGd6Ks1Ua5Ne0Qi7Ot2Vr9Sp4Mw8Zx3Cy6Bt1Lg5H",
    "ClickUp OAuth token": "43346884_" + "9f" * 32,
    "API key (40 alphanumerics)": "a9F3kQ7zL2mX8vB4nC6tY1pR5sD0gH3jW7eU2iO9",
    "uppercase API key": "Q7ZK2M9XW4RB8TJ1N5VC3HLD6PFY0GSA",
    "prefixed hex token": "cst_" + "4f0c9a7e21b3d58f6a0e9c2b7d41f3a8e65c0b19",
}
ENV_FIELDS = {
    "workspace token_env": lambda v: {
        "workspaces": [{"key": "acme", "source": "clickup", "team_id": "1", "token_env": v}]
    },
    "webhook_secret_env": lambda v: {
        "workspaces": [
            {"key": "acme", "source": "clickup", "team_id": "1", "token_env": "CLICKUP_TOKEN", "webhook_secret_env": v}
        ]
    },
    "cascade token_env": lambda v: {"cascade": {"api": "classic", "base_url": "https://acme.example", "token_env": v}},
    "Wrike oauth client_secret_env": lambda v: {
        "workspaces": [
            {
                "key": "acme",
                "source": "wrike",
                "oauth": {
                    "client_id_env": "WRIKE_CLIENT_ID",
                    "client_secret_env": v,
                    "token_store": "data/acme.tokens.json",
                },
            }
        ]
    },
}


@pytest.mark.parametrize("field", ENV_FIELDS)
@pytest.mark.parametrize("shape", SECRET_SHAPED)
def test_config_rejects_a_secret_where_an_env_var_name_belongs(field, shape):
    secret = SECRET_SHAPED[shape]
    with pytest.raises(ConfigError) as err:
        parse_config(ENV_FIELDS[field](secret))
    assert "NAME of an environment variable" in str(err.value)
    assert secret not in str(err.value)


@pytest.mark.parametrize("field", ENV_FIELDS)
@pytest.mark.parametrize(
    "name",
    [
        "CLICKUP_TOKEN_ACME_ENG",
        "WRIKE_CLIENT_SECRET",
        "CASCADE_TOKEN",
        "clickup_token",
        "TOKEN_2024_PRODUCTION_EU_WEST_1",
    ],
)
def test_config_accepts_env_var_names(field, name):
    parse_config(ENV_FIELDS[field](name))
