"""The code location loads: in-process, and through Dagster's own CLI as a deployment would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from cascade_sync_pipeline.config import load_config
from cascade_sync_pipeline.definitions import build_definitions
from cascade_sync_pipeline_tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT


@pytest.mark.parametrize("config", ["sandbox.yaml", "sandbox-classic.yaml"])
def test_definitions_are_loadable(config):
    defs = build_definitions(load_config(ROOT / "config" / config))
    dg.Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert {"clickup/raw_tasks", "clickup/work_items", "clickup/containers", "clickup/users"} <= keys
    job = defs.resolve_job_def("clickup_sync")
    assert job.partitions_def.get_partition_keys() == ["acme-product", "acme-ops"]


@pytest.mark.parametrize("config", ["sandbox.yaml", "sandbox-classic.yaml"])
def test_every_asset_has_a_description_group_and_owner(config):
    defs = build_definitions(load_config(ROOT / "config" / config))
    for spec in defs.resolve_all_asset_specs():
        assert spec.description, spec.key
        assert spec.group_name and spec.group_name != "default", spec.key
        assert spec.owners, spec.key


@pytest.mark.slow
def test_dagster_cli_validates_the_code_location(tmp_path):
    env = dict(os.environ, CASCADE_SYNC_CONFIG=str(ROOT / "config/sandbox.yaml"), DAGSTER_HOME=str(tmp_path))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", str(ROOT / "workspace.yaml")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr
