"""The Wrike emulator's space and folder routes: ``/spaces``, the folder tree, folder listings
(as ``folderTree`` entries, or full ``folders`` models when ``project`` is given), folders by id,
and ``PUT /folders/{id}``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import jsonify

from cascade_sync_sandbox.wrike.protocol import (
    API,
    bool_value,
    envelope,
    json_value,
    list_value,
    params,
    reject_unknown,
    split_ids,
)
from cascade_sync_sandbox.wrike.queries import descendants_flag

if TYPE_CHECKING:
    from cascade_sync_sandbox.wrike.app import WrikeEmulator


def register_folder_routes(emu: WrikeEmulator) -> None:
    app = emu.app

    @app.get(f"{API}/spaces")
    def _spaces():
        values = params()
        reject_unknown(values, {"withArchived", "userIsMember", "fields"})
        with_members = "members" in (list_value(values, "fields") or [])
        archived = bool_value(values, "withArchived", False)
        with emu._lock:
            data = [_space_view(s, with_members) for s in emu.dataset.spaces if archived or not s["archived"]]
        return jsonify(envelope("spaces", data))

    @app.get(f"{API}/spaces/<space_id>")
    def _space(space_id: str):
        values = params()
        with_members = "members" in (list_value(values, "fields") or [])
        with emu._lock:
            return jsonify(envelope("spaces", [_space_view(emu._space(space_id), with_members)]))

    @app.get(f"{API}/folders")
    def _folder_tree():
        values = params()
        reject_unknown(values, {"project", "descendants", "fields", "deleted"})
        with emu._lock:
            ds = emu.dataset
            if "project" in values:
                return jsonify(envelope("folders", _full_folders(ds.folders, values)))
            recycled = [f["id"] for f in ds.folders if f["scope"] == "RbFolder"]
            tree = [
                {"id": ds.root_id, "title": "Root", "childIds": [s["id"] for s in ds.spaces], "scope": "WsRoot"},
                {"id": ds.recycle_bin_id, "title": "Recycle Bin", "childIds": recycled, "scope": "RbRoot"},
            ]
            tree += [
                {
                    "id": s["id"],
                    "title": s["title"],
                    "childIds": emu.children.get(s["id"], []),
                    "scope": "WsFolder",
                    "space": True,
                }
                for s in ds.spaces
            ]
            tree += [_tree_entry(f) for f in ds.folders]
        return jsonify(envelope("folderTree", tree))

    @app.get(f"{API}/spaces/<space_id>/folders")
    def _space_folders(space_id: str):
        values = params()
        reject_unknown(values, {"project", "descendants", "fields", "deleted"})
        with emu._lock:
            emu._space(space_id)
            scope = emu.listed_folders(space_id, descendants_flag(values))
            folders = [f for f in emu.dataset.folders if f["id"] in scope and f["scope"] == "WsFolder"]
            if "project" in values:
                return jsonify(envelope("folders", _full_folders(folders, values)))
            return jsonify(envelope("folderTree", [_tree_entry(f) for f in folders]))

    @app.get(f"{API}/folders/<folder_id>/folders")
    def _sub_folders(folder_id: str):
        values = params()
        reject_unknown(values, {"project", "descendants", "fields", "deleted"})
        with emu._lock:
            emu._folder(folder_id)
            scope = {folder_id} | emu.listed_folders(folder_id, descendants_flag(values))
            folders = [f for f in emu.dataset.folders if f["id"] in scope]
            if "project" in values:
                return jsonify(envelope("folders", _full_folders(folders, values)))
            return jsonify(envelope("folderTree", [_tree_entry(f) for f in folders]))

    @app.get(f"{API}/folders/<ids>")
    def _folders_by_id(ids: str):
        with emu._lock:
            data = [emu._folder(i) for i in split_ids(ids)]
        return jsonify(envelope("folders", data))

    @app.put(f"{API}/folders/<folder_id>")
    def _modify_folder(folder_id: str):
        values = params()
        reject_unknown(values, {"title", "description", "customFields"})
        changes: dict[str, Any] = {k: values[k] for k in ("title", "description") if k in values}
        if "customFields" in values:
            changes["customFields"] = json_value(values, "customFields")
        return jsonify(envelope("folders", [emu.update_folder(folder_id, **changes)]))


def _full_folders(folders: list[dict], values: dict) -> list[dict]:
    want_project = bool_value(values, "project", True)
    return [f for f in folders if ("project" in f) == want_project]


def _space_view(space: dict, with_members: bool) -> dict:
    return {k: v for k, v in space.items() if k != "members" or with_members}


def _tree_entry(folder: dict) -> dict:
    entry = {
        "id": folder["id"],
        "title": folder["title"],
        "childIds": list(folder["childIds"]),
        "scope": folder["scope"],
    }
    if "project" in folder:
        project = folder["project"]
        entry["project"] = {
            k: project[k] for k in ("authorId", "ownerIds", "customStatusId", "createdDate") if k in project
        }
    return entry
