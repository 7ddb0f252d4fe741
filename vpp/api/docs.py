"""``/api/docs``: the OpenAPI document rendered as a page (no JavaScript, no CDN)."""

import re
from typing import Any

from flask import Blueprint, render_template
from markupsafe import Markup, escape

from vpp.api.spec import BODY_ERRORS, COMMON_ERRORS
from vpp.extensions import api

bp = Blueprint("api_docs", __name__)

METHOD_ORDER = ("get", "post", "put", "patch", "delete")


def _schema_name(schema: dict[str, Any] | None) -> str | None:
    """``#/components/schemas/Plant`` -> ``Plant`` (arrays as ``[Plant]``)."""
    if not schema:
        return None
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        inner = _schema_name(schema.get("items"))
        return f"[{inner}]" if inner else "array"
    return schema.get("type")


def _body_schema(container: dict[str, Any]) -> str | None:
    content = container.get("content", {})
    media = content.get("application/json") or next(iter(content.values()), {})
    return _schema_name(media.get("schema"))


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The spec's operations, flattened for the template, in path then method order."""
    named = spec.get("components", {}).get("responses", {})

    def resolved(response: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in response:
            return named.get(response["$ref"].rsplit("/", 1)[-1], {})
        return response

    rows = []
    for path, item in spec.get("paths", {}).items():
        for method in METHOD_ORDER:
            op = item.get(method)
            if op is None:
                continue
            rows.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "request": _body_schema(op["requestBody"]) if "requestBody" in op else None,
                    # The answers any operation can give are explained once, above.
                    "responses": [
                        (code, resolved(resp).get("description", ""), _body_schema(resolved(resp)))
                        for code, resp in sorted(op.get("responses", {}).items())
                        if code not in COMMON_ERRORS and code not in BODY_ERRORS
                    ],
                }
            )
    return rows


def code_spans(text: str) -> Markup:
    """Escape ``text`` and show its Markdown `code` spans as code."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))


def anchor(method: str, path: str) -> str:
    return f"{method.lower()}-" + re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")


@bp.get("/api/docs")
def api_docs():
    spec = api.spec.to_dict()
    return render_template(
        "api_docs.html",
        spec=spec,
        operations=operations(spec),
        schemas=spec.get("components", {}).get("schemas", {}),
        common_errors=sorted({**COMMON_ERRORS, **BODY_ERRORS}.items()),
        code_spans=code_spans,
        anchor=anchor,
    )
