"""What the OpenAPI document says of every operation beyond its own decorators: the
error answers any request can get (no token, a role too weak, the database out),
and a summary that is one sentence with the rest as the description."""

from typing import Any

from apispec import BasePlugin

ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str, **headers: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": ERROR}},
    }
    if headers:
        response["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return response


# Answers that every operation under /api can give, whatever its body.
COMMON_ERRORS: dict[str, dict[str, Any]] = {
    "401": _error(
        "No valid API token or logged-in session: send 'Authorization: Bearer <token>'.",
        **{"WWW-Authenticate": 'Bearer realm="vpp"'},
    ),
    "403": _error(
        "The token's or user's role is too weak: reads need a viewer, writes an operator, "
        "the audit log an admin."
    ),
    "503": _error(
        "The database cannot be reached or written just now; nothing was changed.",
        **{"Retry-After": "Seconds to wait before trying again."},
    ),
}
# Answers of operations that take a JSON body.
BODY_ERRORS: dict[str, dict[str, Any]] = {
    "400": _error("The body is not JSON, not an object (or array, where allowed), or too large."),
}


# What the error answers flask-smorest adds on its own (a query or body that its
# schema refuses: 422) mean here; its text is only the status's name.
STATUS_DESCRIPTIONS = {
    422: "A parameter or field breaks its rule (DESIGN.md); `fields` names each one "
    "with its messages.",
}


def split_docstring(text: str) -> tuple[str, str]:
    """The first sentence as the summary, the rest as the description; ``code``
    written as reStructuredText's ````code```` becomes Markdown's ```code```."""
    text = " ".join(text.replace("``", "`").split())
    head, dot, rest = text.partition(". ")
    return (head + ("." if dot else "")), rest.strip()


class CommonAnswers(BasePlugin):
    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            for code, response in COMMON_ERRORS.items():
                responses.setdefault(code, response)
            if method in ("post", "put", "patch"):
                for code, response in BODY_ERRORS.items():
                    responses.setdefault(code, response)
            summary, description = split_docstring(operation.get("summary") or "")
            if summary:
                operation["summary"] = summary
            if description and not operation.get("description"):
                operation["description"] = description
