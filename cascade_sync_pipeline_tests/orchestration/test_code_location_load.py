"""Loading the code location (the code server, the daemon, every run process) imports no pandas: it takes
~0.4 s and only steps that build frames need it, so it is imported where they run."""

from __future__ import annotations

import json
import subprocess
import sys

LOAD = """
import json, sys
from cascade_sync_pipeline.config import parse_config
from cascade_sync_pipeline.definitions import build_definitions
config = parse_config({
    "warehouse": {"path": sys.argv[1]},
    "workspaces": [
        {"key": "acme-eng", "source": "clickup", "team_id": "901", "token_env": "T1"},
        {"key": "acme-pm", "source": "wrike", "token_env": "T2"},
    ],
})
build_definitions(config).get_repository_def()
print(json.dumps(sorted(m for m in ("pandas", "numpy") if m in sys.modules)))
"""


def test_the_code_location_loads_without_pandas(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", LOAD, str(tmp_path / "wh.duckdb")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
