"""The Dagster UI on the real definitions: start the webserver, read the asset graph and the
workspace partitions through its GraphQL endpoint, as the UI itself does."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cascade_sync_pipeline.config import load_config
from cascade_sync_pipeline_tests.support.paths import REPO_ROOT

pytestmark = pytest.mark.slow  # starts the Dagster webserver

ROOT = REPO_ROOT

ASSET_GRAPH = """
{ assetNodes { assetKey { path } groupName partitionKeys dependencyKeys { path } description } }
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    home = tmp_path_factory.mktemp("dagster_home")
    port = _free_port()
    env = dict(
        os.environ,
        DAGSTER_HOME=str(home),
        CASCADE_SYNC_CONFIG=str(ROOT / "config/sandbox.yaml"),
        CASCADE_SYNC_DUCKDB=str(home / "wh.duckdb"),
    )
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster-webserver"),
            "-w",
            str(ROOT / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("the Dagster webserver did not start within 120 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def graphql(url: str, query: str) -> dict:
    deadline = time.monotonic() + 60
    while True:  # the code location loads in the background after the server answers
        body = httpx.post(f"{url}/graphql", json={"query": query}, timeout=30).json()
        if body.get("data", {}).get("assetNodes") or time.monotonic() > deadline:
            return body
        time.sleep(0.5)


def test_ui_shows_lineage_and_workspace_partitions(webserver):
    body = graphql(webserver, ASSET_GRAPH)
    assert "errors" not in body, body
    nodes = {"/".join(n["assetKey"]["path"]): n for n in body["data"]["assetNodes"]}
    assert nodes["clickup/raw_tasks"]["groupName"] == "clickup"
    assert nodes["clickup/raw_tasks"]["partitionKeys"] == ["acme-product", "acme-ops"]
    assert {"clickup/raw_tasks", "clickup/raw_hierarchy"} <= {
        "/".join(d["path"]) for d in nodes["clickup/work_items"]["dependencyKeys"]
    }
    assert all(n["description"] for n in nodes.values())
    # Every asset of a source's chain lists exactly that source's workspaces, never another's.
    config = load_config(ROOT / "config/sandbox.yaml")
    for key, node in nodes.items():
        source = key.split("/")[0]
        assert node["partitionKeys"] == [ws.key for ws in config.workspaces_of(source)], key
