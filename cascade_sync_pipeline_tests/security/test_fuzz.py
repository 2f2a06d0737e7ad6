"""A fuzzing pass (hypothesis) on what strangers and remote APIs control: the receiver's request parsing
(in-process and over HTTP), the config loader, and the staging SQL's handling of payload values.

Bounded in the suite (a few seconds); longer on demand: ``CASCADE_SYNC_FUZZ_SCALE=50 pytest -m fuzz``
(``make fuzz``) multiplies every example budget. The example database is off, so nothing is written to
the work tree; a failure prints the shrunk example and the seed to reproduce it.
"""

from __future__ import annotations

import json
import os
from datetime import datetime

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cascade_sync_pipeline.clickup import load as clickup_load
from cascade_sync_pipeline.clickup.client import ClickUpClient
from cascade_sync_pipeline.clickup.extract import ClickUpExtract, extract_workspace
from cascade_sync_pipeline.clickup.extract import _dedupe as dedupe_clickup
from cascade_sync_pipeline.config import ConfigError, load_config, parse_config
from cascade_sync_pipeline.orchestration.webhooks.inbox import WebhookInbox
from cascade_sync_pipeline.orchestration.webhooks.receiver import (
    clickup_event_time,
    create_receiver_app,
    parse_delivery,
    signature,
    signed_by,
    well_formed_signature,
    wrike_event_time,
)
from cascade_sync_pipeline.orchestration.webhooks.server import ReceiverServer
from cascade_sync_pipeline.payloads import check_clickup_tasks, check_wrike_tasks
from cascade_sync_pipeline.warehouse.store import Warehouse
from cascade_sync_pipeline.wrike import load as wrike_load
from cascade_sync_pipeline.wrike.client import WrikeClient, latest_versions
from cascade_sync_pipeline.wrike.extract import WrikeExtract, extract_account
from cascade_sync_pipeline_tests.support import wrike_setup
from cascade_sync_pipeline_tests.support.clickup_setup import clickup_config, start_emulator
from cascade_sync_sandbox.clickup.generator import generate as generate_clickup

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]  # hypothesis budgets: several seconds per test
SCALE = max(1, int(os.environ.get("CASCADE_SYNC_FUZZ_SCALE", "1") or 1))


def budget(examples: int):
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        database=None,
        derandomize=SCALE == 1,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    )


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=30)
    | st.from_regex(r"-?[0-9]{1,22}", fullmatch=True)  # numbers in strings
    | st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}Z?)?", fullmatch=True)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


# --- the receiver --------------------------------------------------------------------------------------------


@budget(300)
@given(
    body=st.binary(max_size=2000) | JSON.map(lambda v: json.dumps(v).encode()),
    source=st.sampled_from(["clickup", "wrike"]),
)
def test_parsing_any_body_answers_a_payload_or_none(body, source):
    parsed = parse_delivery(source, body)
    if parsed is not None:
        payload, (event_type, item_ids) = parsed
        assert isinstance(event_type, str) and event_type
        assert all(isinstance(i, str) for i in item_ids)
        for when in (clickup_event_time(payload), wrike_event_time(payload)):
            assert when is None or isinstance(when, datetime)


@budget(300)
@given(
    claimed=st.none() | st.text(max_size=80) | st.from_regex(r"[0-9a-fA-F]{60,68}", fullmatch=True),
    body=st.binary(max_size=200),
)
def test_any_signature_header_is_refused_or_checked_never_raises(claimed, body):
    ok = signed_by("secret", body, claimed)
    assert ok == (claimed is not None and claimed.strip().lower() == signature("secret", body))
    if ok:
        assert well_formed_signature(claimed)


# Header values an HTTP client can send: Latin-1 without control characters or surrounding blanks.
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=80
).map(lambda v: v.strip(" \t"))


def test_over_http_no_request_gets_a_server_error(tmp_path, monkeypatch):
    monkeypatch.setenv("FUZZ_SECRET", "fuzz-secret")
    config = parse_config(
        {
            "workspaces": [
                {
                    "key": "acme-eng",
                    "source": "clickup",
                    "team_id": "1",
                    "token_env": "T",
                    "webhook_secret_env": "FUZZ_SECRET",
                },
                {"key": "acme-pm", "source": "wrike", "token_env": "T", "webhook_secret_env": "FUZZ_SECRET"},
            ]
        }
    )
    app = create_receiver_app(config, WebhookInbox(tmp_path / "inbox.sqlite"), max_body_bytes=4096)
    with ReceiverServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as http:

        @budget(80)
        @given(
            path=st.sampled_from(
                [
                    "/webhooks/clickup/acme-eng",
                    "/webhooks/wrike/acme-pm",
                    "/webhooks/wrike/x",
                    "/webhooks/clickup/%00",
                    "/healthz",
                    "/webhooks/clickup/acme-eng/../acme-pm",
                ]
            ),
            body=st.binary(max_size=6000) | JSON.map(lambda v: json.dumps(v).encode()),
            sign=st.booleans(),
            headers=st.dictionaries(
                st.sampled_from(["X-Signature", "X-Hook-Signature", "X-Hook-Secret", "Content-Type"]),
                HEADER_TEXT,
                max_size=3,
            ),
        )
        def probe(path, body, sign, headers):
            sent = {k: v.encode("latin-1") for k, v in headers.items()}
            if sign:
                sent["X-Signature"] = sent["X-Hook-Signature"] = signature("fuzz-secret", body).encode()
            answer = http.post(path, content=body, headers=sent)
            assert answer.status_code in (200, 400, 401, 404, 405, 413), (answer.status_code, answer.text[:200])

        probe()


# --- the config loader ---------------------------------------------------------------------------------------------

WORKSPACE_KEYS = [
    "key",
    "source",
    "base_url",
    "team_id",
    "token_env",
    "webhook_secret_env",
    "schedule",
    "scope",
    "status_categories",
    "full_refresh_hours",
    "oauth",
    "mapping",
    "name",
    "cascade_id_field",
]


@budget(150)
@given(text=st.text(max_size=400) | JSON.map(lambda v: yaml.safe_dump(v, allow_unicode=True)))
def test_loading_any_text_gives_a_config_or_a_config_error(text, tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "sync.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path)
    except ConfigError:
        pass


@budget(150)
@given(
    changes=st.dictionaries(st.sampled_from(WORKSPACE_KEYS), JSON, max_size=4),
    source=st.sampled_from(["clickup", "wrike"]),
    extra=st.dictionaries(st.sampled_from(["cascade", "warehouse", "workspaces", "other"]), JSON, max_size=2),
)
def test_parsing_any_structure_gives_a_config_or_a_config_error(changes, source, extra):
    workspace = {"key": "acme-eng", "source": source, "team_id": "1", "token_env": "TOKEN_ENV", **changes}
    data = {"workspaces": [workspace], **{k: v for k, v in extra.items() if k != "workspaces"}}
    try:
        config = parse_config(data)
    except ConfigError:
        return
    for ws in config.workspaces:  # what passed is usable
        assert ws.base_url.startswith(("https://", "http://"))


# --- the staging SQL ------------------------------------------------------------------------------------------------

CLICKUP_PATHS = [
    "id",
    "name",
    "text_content",
    "parent",
    "custom_item_id",
    "archived",
    "url",
    "status",
    "status.status",
    "status.type",
    "list",
    "list.id",
    "assignees",
    "assignees.0",
    "assignees.0.id",
    "date_updated",
    "date_created",
    "date_done",
    "date_closed",
    "start_date",
    "due_date",
    "custom_fields",
    "custom_fields.0",
    "custom_fields.0.value",
    "custom_fields.0.type",
    "custom_fields.0.type_config",
    "custom_fields.1.value",
    "checklists",
    "checklists.0.items",
    "checklists.0.items.0.resolved",
    "locations",
]
WRIKE_PATHS = [
    "id",
    "title",
    "description",
    "status",
    "customStatusId",
    "scope",
    "permalink",
    "parentIds",
    "parentIds.0",
    "superTaskIds",
    "superTaskIds.0",
    "responsibleIds",
    "responsibleIds.0",
    "updatedDate",
    "createdDate",
    "completedDate",
    "dates",
    "dates.type",
    "dates.start",
    "dates.due",
    "customFields",
    "customFields.0",
    "customFields.0.id",
    "customFields.0.value",
    "customFields.1.value",
]
# Times are where payloads break staging most: large, negative and out-of-range numbers, as numbers and text.
TIME_LIKE = (
    st.integers(min_value=-(2**64), max_value=2**64)
    | st.integers(min_value=-(2**64), max_value=2**64).map(str)
    | st.from_regex(r"[0-9]{13,20}", fullmatch=True)
    | st.sampled_from(["9999-12-31T23:59:59Z", "0000-00-00", "2026-02-30T25:61:00Z", "NaN"])
)
VALUES = TIME_LIKE | TIME_LIKE | JSON
EDITS = {
    "clickup": st.lists(st.tuples(st.sampled_from(CLICKUP_PATHS), VALUES), max_size=6),
    "wrike": st.lists(st.tuples(st.sampled_from(WRIKE_PATHS), VALUES), max_size=6),
}


def edited(task: dict, edits: list[tuple[str, object]]) -> object:
    task = json.loads(json.dumps(task))
    for path, value in edits:
        *parents, last = path.split(".")
        node = task
        for part in parents:
            node = (
                node[int(part)]
                if isinstance(node, list) and part.isdigit() and int(part) < len(node)
                else node.get(part)
                if isinstance(node, dict)
                else None
            )
        if isinstance(node, dict):
            node[last] = value
        elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
            node[int(last)] = value
    return task


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Real extracts of a small ClickUp Workspace and Wrike account (read once over HTTP), and a warehouse."""
    workdir = tmp_path_factory.mktemp("fuzz-staging")
    clickup_data = generate_clickup(3, teams=1, tasks_per_team=12)
    clickup_emulator, clickup_server = start_emulator(clickup_data, rate_limit=10_000)
    wrike_data = wrike_setup.small_dataset(11, tasks=30)
    wrike_emulator, wrike_server = wrike_setup.start_emulator(wrike_data, rate_limit=100_000)
    with pytest.MonkeyPatch.context() as env:
        team_id = next(iter(clickup_data.teams))
        env.setenv("TEST_CLICKUP_TOKEN_1", clickup_data.grant([team_id]))
        env.setenv(wrike_setup.token_env(1), wrike_data.permanent_token)
        clickup_ws = clickup_config(clickup_server.url, [team_id]).workspaces[0]
        wrike_ws = wrike_setup.wrike_config([wrike_server.url], duckdb="unused").workspaces[0]
        with ClickUpClient.for_workspace(clickup_ws) as client:
            clickup_extract = extract_workspace(client, clickup_ws)
        with WrikeClient.from_workspace(wrike_ws) as client:
            wrike_extract = extract_account(client, wrike_ws)
    clickup_server.stop()
    wrike_server.stop()
    yield (
        {"clickup": (clickup_ws, clickup_extract), "wrike": (wrike_ws, wrike_extract)},
        Warehouse(workdir / "wh.duckdb"),
    )


@pytest.mark.parametrize("source", ["clickup", "wrike"])
def test_staging_survives_any_payload_values(sources, source):
    extracts, warehouse = sources
    ws, extract = extracts[source]
    load, check = (clickup_load, check_clickup_tasks) if source == "clickup" else (wrike_load, check_wrike_tasks)
    base = extract.tasks[:6]

    with warehouse.connect() as con:

        @budget(15)
        @given(edits=st.lists(EDITS[source], min_size=len(base), max_size=len(base)))
        def stage(edits):
            tasks, problems = check(ws.key, [edited(t, e) for t, e in zip(base, edits, strict=False)])
            if source == "clickup":
                fuzzed = ClickUpExtract(
                    "full", extract.hierarchy, dedupe_clickup(tasks), extract.custom_fields, extract.scoped_list_ids
                )
            else:
                fuzzed = WrikeExtract(
                    "full",
                    extract.spaces,
                    extract.folders,
                    latest_versions(tasks),
                    extract.custom_fields,
                    extract.workflows,
                    extract.contacts,
                    extract.recycle_bin_id,
                )
            load.write_raw(con, ws.key, fuzzed)
            load.build_staging(con, ws)
            staged = con.execute(
                "SELECT item_id, status_category, start_at, due_at, completed_at, created_at, "
                "updated_at FROM staging.work_items WHERE workspace = ? AND item_type <> 'project'",
                [ws.key],
            ).fetchall()
            assert sorted(r[0] for r in staged) == sorted(t["id"] for t in fuzzed.tasks)
            for row in staged:
                assert row[1] in (None, "not_started", "in_progress", "done", "deferred", "cancelled")
                assert all(value is None or isinstance(value, datetime) for value in row[2:])
            assert all(p.workspace == ws.key and p.item for p in problems)

        stage()
