"""A small Swagger 2.0 validator for Cascade's Power Platform connector definitions.

Tests hold emulators (and clients) to the connector files in ``shared/reference/cascade/`` (outside
the repository, see ``support/paths.py``), the only published machine-readable description of
Cascade's APIs. Generic on purpose: it knows Swagger 2.0, not one connector.

    spec = ConnectorSpec(REFERENCE_DIR / "integrations-connector.swagger.json")
    template, operation = spec.operation("GET", "/v2/plans/abc/actions")
    spec.validate_request("PUT", "/v2/actions/a1", body, query=None)
    spec.validate_response("GET", "/v2/users/me/workspaces", 200, answer)

Swagger schemas become Draft 4 JSON Schemas (Swagger 2.0's own base): ``x-*`` extensions and pure
annotations (``title``, ``description``, ``example``...) are dropped, ``x-nullable`` allows null,
empty ``required`` lists are dropped, ``$ref`` to ``#/definitions`` resolves, and ``format`` is
checked for ``date``, ``date-time``, ``int32``, ``int64``, ``float`` and ``double``. Every failure is
an AssertionError naming the operation and each offending JSON path.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, FormatChecker

from cascade_sync_pipeline_tests.support.paths import CASCADE_REFERENCE_DIR, missing_reference

REFERENCE_DIR = CASCADE_REFERENCE_DIR  # ../shared/reference/cascade, or $CASCADE_SYNC_REFERENCE_DIR/cascade
CLASSIC_SWAGGER = REFERENCE_DIR / "classic-connector.swagger.json"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_ANNOTATIONS = {"title", "description", "example", "externalDocs", "xml", "readOnly", "discriminator"}
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "definitions")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PRIMITIVE_CHECK = {
    "integer": lambda v: re.fullmatch(r"[+-]?\d+", v) is not None,
    "number": lambda v: _is_float(v),
    "boolean": lambda v: v in ("true", "false"),
}


def _is_float(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def format_checker() -> FormatChecker:
    """Checks for the Swagger 2.0 formats a connector uses; other formats pass unchecked."""
    checker = FormatChecker(formats=())

    @checker.checks("date")
    def _date(value: Any) -> bool:
        return not isinstance(value, str) or (_DATE.match(value) is not None and _parses(date.fromisoformat, value))

    @checker.checks("date-time")
    def _date_time(value: Any) -> bool:
        return not isinstance(value, str) or (
            "T" in value.upper() and _parses(datetime.fromisoformat, value.replace("Z", "+00:00"))
        )

    def _int_range(bits: int):
        def check(value: Any) -> bool:
            return not _is_int(value) or -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)

        return check

    checker.checks("int32")(_int_range(32))
    checker.checks("int64")(_int_range(64))

    @checker.checks("double")
    @checker.checks("float")
    def _finite(value: Any) -> bool:
        return isinstance(value, bool) or not isinstance(value, (int, float)) or math.isfinite(value)

    return checker


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parses(parse, value: str) -> bool:
    try:
        parse(value)
    except ValueError:
        return False
    return True


def to_json_schema(node: Any) -> Any:
    """One Swagger schema as Draft 4 JSON Schema (see the module docstring for what changes)."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _ANNOTATIONS or key.startswith("x-"):
            continue
        if key in _SUBSCHEMA_MAPS:
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMA_LISTS:
            out[key] = [to_json_schema(sub) for sub in value]
        elif key in ("items", "additionalProperties", "not"):
            out[key] = [to_json_schema(s) for s in value] if isinstance(value, list) else to_json_schema(value)
        elif key == "required" and isinstance(value, list) and not value or key == "type" and value == "file":
            continue
        else:
            out[key] = value
    if node.get("x-nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


class ConnectorSpec:
    """A loaded Swagger 2.0 document; a missing file is a loud AssertionError, never a skip."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise AssertionError(
                missing_reference(self.path, "connector definition")
                + " (Cascade's are in microsoft/PowerPlatformConnectors, certified-connectors/Cascade*)"
            )
        self.doc = json.loads(self.path.read_text(encoding="utf-8"))
        if self.doc.get("swagger") != "2.0":
            raise AssertionError(f"{self.path} is not a Swagger 2.0 document (swagger={self.doc.get('swagger')!r})")
        self.base_path = (self.doc.get("basePath") or "/").rstrip("/")
        self._definitions = {n: to_json_schema(s) for n, s in self.doc.get("definitions", {}).items()}
        self._formats = format_checker()

    def __repr__(self) -> str:
        return f"ConnectorSpec({self.path.name}, {len(list(self.operations()))} operations)"

    # --- lookup ----------------------------------------------------------------------------------
    def operations(self) -> Iterator[tuple[str, str, dict]]:
        """Every (METHOD, path template, operation) the document defines."""
        for template, item in self.doc.get("paths", {}).items():
            for method, operation in item.items():
                if method in METHODS:
                    yield method.upper(), template, operation

    def operation(self, method: str, path: str) -> tuple[str, dict]:
        """The template and operation a concrete path (``/v2/plans/abc/actions``) falls under; when
        several match, the one with the most literal segments wins (``/measures/historical/{id}``
        beats ``/measures/{id}``)."""
        concrete = self._segments(path)
        best: tuple[int, str, dict] | None = None
        for op_method, template, operation in self.operations():
            if op_method != method.upper():
                continue
            literals = _match(template, concrete)
            if literals is not None and (best is None or literals > best[0]):
                best = (literals, template, operation)
        if best is None:
            raise AssertionError(f"{method.upper()} {path}: no operation in {self.path.name} matches")
        return best[1], best[2]

    def parameters(self, method: str, path: str, where: str) -> list[dict]:
        """The operation's parameters ``in`` a place (path-level ones included, ``$ref`` resolved)."""
        template, operation = self.operation(method, path)
        shared = self.doc["paths"][template].get("parameters", [])
        return [p for p in (self._param(p) for p in [*shared, *operation.get("parameters", [])]) if p["in"] == where]

    def _param(self, param: dict) -> dict:
        ref = param.get("$ref", "")
        return self.doc["parameters"][ref.rsplit("/", 1)[-1]] if ref.startswith("#/parameters/") else param

    def _segments(self, path: str) -> list[str]:
        path = path.split("?", 1)[0]
        if self.base_path and (path == self.base_path or path.startswith(self.base_path + "/")):
            path = path[len(self.base_path) :]
        return [s for s in path.split("/") if s]

    # --- validation --------------------------------------------------------------------------------
    def validate_request(
        self, method: str, path: str, body: Any = None, query: dict | None = None, headers: dict | None = None
    ) -> str:
        """Check a request: the ``in: body`` schema, required query and form parameters (and header
        ones when ``headers`` is given) and the type of those given. Returns the template."""
        template, _ = self.operation(method, path)
        where = f"{method.upper()} {path} ({template}) request"
        body_params = self.parameters(method, path, "body")
        if body_params:
            param = body_params[0]
            if body is None:
                if param.get("required"):
                    raise AssertionError(f"{where}: the body is required")
            else:
                self._validate(param.get("schema", {}), body, f"{where} body")
        form = self.parameters(method, path, "formData")
        if form:
            self._check_simple(form, body if isinstance(body, dict) else {}, f"{where} form")
        elif body is not None and not body_params:
            raise AssertionError(f"{where}: the operation takes no body, got {body!r}")
        self._check_simple(self.parameters(method, path, "query"), query or {}, f"{where} query")
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        header_params = [{**p, "name": p["name"].lower()} for p in self.parameters(method, path, "header")]
        if headers is not None:
            self._check_simple(header_params, lowered, f"{where} header")
        return template

    def response_schema(self, method: str, path: str, status: int) -> tuple[str, dict | None]:
        """(template, schema) of the answer defined for ``status``: that code, else ``default``,
        else for a 2xx status the operation's ``200``."""
        template, operation = self.operation(method, path)
        responses = operation.get("responses", {})
        chosen = responses.get(str(status)) or responses.get("default")
        if chosen is None and 200 <= status < 300:
            chosen = responses.get("200")
        if chosen is None:
            raise AssertionError(
                f"{method.upper()} {path} ({template}): {self.path.name} defines no answer for "
                f"status {status} (it defines {sorted(responses)})"
            )
        return template, chosen.get("schema")

    def validate_response(self, method: str, path: str, status: int, body: Any) -> str:
        """Check an answer's JSON against the operation's schema for its status. Returns the template."""
        template, schema = self.response_schema(method, path, status)
        if schema is not None:
            self._validate(schema, body, f"{method.upper()} {path} ({template}) answer {status}")
        return template

    def _validate(self, schema: dict, instance: Any, where: str) -> None:
        root = {"allOf": [to_json_schema(schema)], "definitions": self._definitions}
        errors = sorted(
            Draft4Validator(root, format_checker=self._formats).iter_errors(instance),
            key=lambda e: list(e.absolute_path),
        )
        if errors:
            lines = [f"  at {_json_path(e.absolute_path)}: {e.message}" for e in errors[:10]]
            more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
            raise AssertionError(f"{where} does not conform to {self.path.name}:\n" + "\n".join(lines) + more)

    def _check_simple(self, params: list[dict], values: dict, where: str) -> None:
        """Non-body parameters: present when required; a given value of the declared primitive type."""
        for param in params:
            name = param["name"]
            if name not in values or values[name] is None:
                if param.get("required"):
                    raise AssertionError(f"{where}: required parameter {name!r} is missing")
                continue
            value = values[name]
            check = _PRIMITIVE_CHECK.get(param.get("type", "string"))
            if check is not None and isinstance(value, str) and not check(value):
                raise AssertionError(f"{where}: parameter {name!r}={value!r} is not of type {param['type']}")
            if "enum" in param and str(value) not in [str(e) for e in param["enum"]]:
                raise AssertionError(f"{where}: parameter {name!r}={value!r} is not one of {param['enum']}")


def _match(template: str, concrete: list[str]) -> int | None:
    """How many literal segments of ``template`` matched ``concrete``; None when it does not match."""
    parts = [s for s in template.split("/") if s]
    if len(parts) != len(concrete):
        return None
    literals = 0
    for part, segment in zip(parts, concrete, strict=False):
        if part.startswith("{") and part.endswith("}"):
            continue
        if part != segment:
            return None
        literals += 1
    return literals


def _json_path(path) -> str:
    out = "$"
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else f".{step}"
    return out


@lru_cache(maxsize=1)
def classic_connector() -> ConnectorSpec:
    """The classic API's connector definition; missing, every test using it FAILS naming where it was expected."""
    assert CLASSIC_SWAGGER.is_file(), missing_reference(CLASSIC_SWAGGER, "classic connector definition")
    return ConnectorSpec(CLASSIC_SWAGGER)
