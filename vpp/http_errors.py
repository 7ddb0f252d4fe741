"""The one error handler of the web doors: every error a request meets becomes JSON
``{"error": ..., "fields": ...}`` under ``/api`` and an error page elsewhere, with
its status; nothing the client sent ever becomes a 500 (``vpp.errors`` holds the
domain's exceptions, this module only renders them)."""

from flask import Flask, current_app, render_template, request
from marshmallow import ValidationError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from vpp.errors import (
    InvalidInput,
    TooManyRequests,
    Unauthorized,
    VppError,
    describe_field_errors,
    flatten_messages,
)
from vpp.extensions import db
from vpp.transactions import database_unavailable


def wants_json() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _error_response(status: int, message: str, fields: dict[str, list[str]] | None = None):
    if wants_json():
        body = {"error": message}
        if fields:
            body["fields"] = fields
        return body, status
    return render_template("error.html", status=status, message=message, fields=fields), status


def _http_error_message(error: HTTPException) -> tuple[str, dict[str, list[str]] | None]:
    data = getattr(error, "data", None) or {}
    if "messages" in data:  # webargs validation of a request body or query string
        fields = {}
        for location_messages in data["messages"].values():
            fields.update(flatten_messages(location_messages))
        return f"Invalid input: {describe_field_errors(fields)}", fields
    if "message" in data:
        return str(data["message"]), None
    return error.description or error.name, None


def handle_vpp_error(error: VppError):
    db.session.rollback()
    response = _error_response(error.status_code, error.message, error.fields)
    if isinstance(error, Unauthorized):
        return (*response, {"WWW-Authenticate": 'Bearer realm="vpp"'})
    if isinstance(error, TooManyRequests) and error.retry_after_s is not None:
        return (*response, {"Retry-After": str(error.retry_after_s)})
    return response


def handle_validation_error(error: ValidationError):
    return handle_vpp_error(InvalidInput.from_validation_error(error))


def handle_http_error(error: HTTPException):
    """Every HTTP error, including the 500 Flask makes of an unhandled exception
    (which Flask has already logged, with its traceback)."""
    db.session.rollback()
    message, fields = _http_error_message(error)
    response = _error_response(error.code or 500, message, fields)
    headers = (getattr(error, "data", None) or {}).get("headers")
    if error.code == 405 and error.valid_methods:
        headers = {"Allow": ", ".join(error.valid_methods)}
    return (*response, headers) if headers else response


# How long a client should wait before trying again when the database is out.
RETRY_AFTER_S = 5


def handle_database_error(error: DBAPIError):
    """The database cannot be reached or written (down, read-only, disk full, locked
    past the busy timeout): 503 with Retry-After, never a 500. Nothing was changed:
    the transaction is rolled back. Any other database error is a fault of ours: 500,
    logged with its traceback."""
    db.session.rollback()
    if not database_unavailable(error):
        current_app.logger.exception("database error", exc_info=error)
        return _error_response(500, "Internal server error: the error was logged.")
    current_app.logger.error("database unavailable: %s", error)
    response = _error_response(
        503, "The database is unavailable just now; nothing was changed. Try again shortly."
    )
    return (*response, {"Retry-After": str(RETRY_AFTER_S)})


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(VppError, handle_vpp_error)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(ValidationError, handle_validation_error)
    app.register_error_handler(HTTPException, handle_http_error)
