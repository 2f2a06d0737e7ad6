"""Where the tests find the repository and the reference files kept outside it.

The published API descriptions (ClickUp's OpenAPI spec, Cascade's connector definitions) are not part of
this repository: they are read from ``../shared/reference`` beside it, or from the folder that
``CASCADE_SYNC_REFERENCE_DIR`` names. A test that needs a missing file fails naming both; none is skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
REFERENCE_ENV = "CASCADE_SYNC_REFERENCE_DIR"
DEFAULT_REFERENCE_ROOT = REPO_ROOT.parent / "shared" / "reference"
REFERENCE_ROOT = Path(os.environ.get(REFERENCE_ENV) or DEFAULT_REFERENCE_ROOT).resolve()
CLICKUP_OPENAPI = REFERENCE_ROOT / "clickup-openapi.json"
CASCADE_REFERENCE_DIR = REFERENCE_ROOT / "cascade"


def missing_reference(path: Path, what: str) -> str:
    """The failure message for a reference file that is not where the tests expect it."""
    source = f"{REFERENCE_ENV}={os.environ[REFERENCE_ENV]}" if os.environ.get(REFERENCE_ENV) else "the default"
    return (
        f"{what} not found: the tests expect it at {path} ({source}). The reference files are kept outside "
        f"this repository, in {DEFAULT_REFERENCE_ROOT} by default (clickup-openapi.json and cascade/*.swagger.json); "
        f"put them there or set {REFERENCE_ENV} to the folder that holds them."
    )
