"""Onboarding from a terminal, over real HTTP: what the Cascade credential sees, suggested links by
name, a confirmed item link written into ClickUp's Cascade ID field (never over a person's value),
a container link printed as config, and the Cascade OAuth bootstrap commands."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml

from cascade_sync_pipeline.cli import main
from cascade_sync_pipeline_tests.support.linking_world import CLICKUP_TOKEN_ENV, CU, OLD_PLAN, PLAN, PLAN_ID, World
from cascade_sync_sandbox.integrations import SANDBOX_CLIENT_ID

REDIRECT = "http://127.0.0.1:9/callback"


@pytest.fixture
def world(tmp_path, monkeypatch):
    world = World(tmp_path, monkeypatch, tasks=60)
    yield world
    world.stop()


def cli(world: World, capsys, *args: str, cascade: dict | None = None) -> tuple[int, str, str]:
    path = world.tmp_path / "sync.yaml"
    path.write_text(yaml.safe_dump(world.raw_config(cascade=cascade)))
    code = main(["--config", str(path), *args])
    out, err = capsys.readouterr()
    return code, out, err


def field_value(world: World, task_id: str) -> str | None:
    """The task's Cascade ID field as ClickUp answers it."""
    task = httpx.get(
        f"{world.servers[0].url}/api/v2/task/{task_id}", headers={"Authorization": os.environ[CLICKUP_TOKEN_ENV]}
    ).json()
    return next((f.get("value") for f in task["custom_fields"] if f["name"] == "Cascade ID"), None)


def staged(world: World) -> None:
    """Discovery reads the source side from staging: one dry run fills it."""
    assert world.sync(world.config(), until="diff").success


@pytest.mark.slow
def test_discover_lists_workspaces_plans_actions_and_measures(world, capsys):
    code, out, _ = cli(world, capsys, "cascade", "discover")
    assert code == 0
    state = world.cascade.state()
    for plan in (PLAN, OLD_PLAN):
        assert plan in out
    for action_id in list(state["actions"])[:5]:
        assert action_id in out
    for measure_id in state["measures"]:
        assert measure_id in out


@pytest.mark.slow
def test_suggest_offers_unlinked_items_by_exact_or_close_name(world, capsys):
    staged(world)
    truth = world.truth(CU)
    unlinked = next(
        i
        for i, r in sorted(truth.items.items())
        if not r["cascade_id"] and r["item_type"] == "task" and not r["is_archived"]
    )
    title = truth.items[unlinked]["title"]
    action = world.cascade.add_action(PLAN_ID, title)
    close = world.cascade.add_measure(PLAN_ID, title + "s")
    code, out, _ = cli(world, capsys, "links", "suggest", CU)
    assert code == 0, out
    line = next(row for row in out.splitlines() if unlinked in row)
    assert action["id"] in line and "exact" in line, line
    assert close["id"] not in line  # the exact match wins over the close one


@pytest.mark.slow
def test_confirm_writes_the_item_field_once_and_never_over_a_persons_value(world, capsys):
    staged(world)
    truth = world.truth(CU)
    free = next(i for i, r in sorted(truth.items.items()) if not r["cascade_id"] and r["item_type"] == "task")
    held = next(i for i, r in sorted(truth.items.items()) if r["cascade_id"])
    action = world.cascade.add_action(PLAN_ID, "Confirmed by a person")["id"]
    before = world.clickup.log.count("POST", r"/task/[^/]+/field/")

    code, out, _ = cli(world, capsys, "links", "confirm", CU, "--item", free, "--cascade-id", action)
    assert code == 0, out
    assert field_value(world, free) == action
    assert world.clickup.log.count("POST", r"/task/[^/]+/field/") == before + 1

    code, _, err = cli(world, capsys, "links", "confirm", CU, "--item", held, "--cascade-id", action)
    assert code == 2 and held in err and truth.items[held]["cascade_id"] in err and "clear it" in err
    assert field_value(world, held) == truth.items[held]["cascade_id"]

    code, _, err = cli(world, capsys, "links", "confirm", CU, "--item", free, "--cascade-id", "act-typo")
    assert code == 2 and "act-typo" in err and PLAN in err
    assert world.clickup.log.count("POST", r"/task/[^/]+/field/") == before + 1

    # The next sync links the item through the field a person (here: the command) filled in.
    assert world.sync(world.config()).success
    assert world.cascade.action(action)["value"] is not None


@pytest.mark.slow
def test_confirm_of_a_container_prints_the_config_entry(world, capsys):
    staged(world)
    action = world.cascade.add_action(PLAN_ID, "Whole list")["id"]
    lists = sorted(c["name"] for c in world.truth(CU).containers.values() if c["container_type"] == "list")
    name = next(n for n in lists if lists.count(n) == 1)
    code, out, _ = cli(world, capsys, "links", "confirm", CU, "--container", name, "--cascade-id", action)
    assert code == 0
    entry = yaml.safe_load(out.splitlines()[-1].strip())
    assert entry == [{"container": name, "action": action}]
    code, _, err = cli(world, capsys, "links", "confirm", CU, "--container", "No Such List", "--cascade-id", action)
    assert code == 2 and "No Such List" in err


def test_oauth_bootstrap_commands(world, capsys):
    settings = world.oauth_settings()
    code, out, _ = cli(
        world, capsys, "cascade", "authorize", "--redirect-uri", REDIRECT, "--state", "s1", cascade={"oauth": settings}
    )
    assert code == 0
    answer = httpx.get(out.strip().splitlines()[0], follow_redirects=False)
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["s1"] and SANDBOX_CLIENT_ID not in answer.headers["Location"]
    code, out, _ = cli(
        world,
        capsys,
        "cascade",
        "exchange",
        "--redirect-uri",
        REDIRECT,
        "--code",
        query["code"][0],
        cascade={"oauth": settings},
    )
    assert code == 0 and settings["token_store"] in out
    code, out, _ = cli(world, capsys, "cascade", "status", cascade={"oauth": settings})
    assert code == 0 and "expires in" in out
    code, out, _ = cli(world, capsys, "cascade", "discover", cascade={"oauth": settings})
    assert code == 0 and PLAN in out
    stored = world.stored_tokens(settings)
    assert stored["access_token"] not in out and stored["refresh_token"] not in out
