"""The README's "How it is laid out" names only paths the repository holds, and every package folder
and top-level entry the repository holds (so the map a newcomer reads is the tree they cloned)."""

from __future__ import annotations

import re
import subprocess

from cascade_sync_pipeline_tests.support.paths import REPO_ROOT


def tracked() -> set[str]:
    files = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    paths = set()
    for name in files.split():
        parts = name.split("/")
        paths.add(name)
        paths.update("/".join(parts[:i]) + "/" for i in range(1, len(parts)))
    return paths


def layout_entries() -> list[str]:
    """Every path the layout block names, resolved against the folder it is indented under."""
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("## How it is laid out", 1)[1].split("```", 2)[1]
    entries, parents = [], {}
    for line in block.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        head = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        if not re.match(r"^[\w.\-/, ]+$", head) or not re.search(r"[/.]", head):
            continue  # a continuation line of a description
        parent = "" if indent == 0 else parents.get(max(i for i in parents if i < indent), "")
        names = [name.strip() for name in head.split(",")]
        for name in names:
            entries.append(parent + name)
        if len(names) == 1 and names[0].endswith("/"):
            parents = {i: p for i, p in parents.items() if i < indent}
            parents[indent] = parent + names[0]
    return entries


def test_every_path_the_layout_names_is_in_the_repository():
    held = tracked()
    missing = [entry for entry in layout_entries() if entry not in held]
    assert not missing, f"README layout names paths the repository does not hold: {missing}"


def test_every_package_folder_and_top_level_entry_is_in_the_layout():
    named = set(layout_entries())
    held = tracked()
    top = {p for p in held if p.count("/") == (1 if p.endswith("/") else 0) and not p.startswith(".")}
    packages = {
        p
        for p in held
        if p.startswith("cascade_sync_pipeline/") and p.endswith("/") and p.count("/") == 2 and not p.endswith("sql/")
    }
    unnamed = sorted((top | packages) - named - {"README.md"})
    assert not unnamed, f"README layout leaves out: {unnamed}"
