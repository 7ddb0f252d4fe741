"""Domain errors and the one error handler.

Services raise the ``VppError`` subclasses below. Every door turns them into its own
shape: the API into ``{"error": ..., "fields": ...}`` JSON with a 4xx status, the
pages into an error page (forms show field errors inline before it comes to that),
the CLI into one line on stderr and a non-zero exit.
"""

from flask import Flask, current_app, render_template, request
from marshmallow import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from vpp.extensions import db
from vpp.schemas import describe_field_errors, flatten_messages


class VppError(Exception):
    status_code = 400

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class InvalidInput(VppError):
    """A value breaks a field rule (DESIGN.md, "The plant")."""

    status_code = 422

    @classmethod
    def from_validation_error(cls, error: ValidationError, what: str = "input") -> "InvalidInput":
        fields = flatten_messages(error.messages)
        return cls(f"Invalid {what}: {describe_field_errors(fields)}", fields)


class NotFound(VppError):
    status_code = 404


class Unauthorized(VppError):
    """No valid login or API token."""

    status_code = 401


class Forbidden(VppError):
    """Logged in, but the role is too weak for this."""

    status_code = 403


class TooManyRequests(VppError):
    status_code = 429

    def __init__(self, message: str, retry_after_s: int | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Conflict(VppError):
    """The write would break a uniqueness rule (a duplicate plant name)."""

    status_code = 409


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


# SQLSTATE classes that mean "the database cannot do this now", not "this request is
# wrong": connection exceptions, read-only transaction, insufficient resources (disk
# full, out of memory), operator intervention (shutting down).
UNAVAILABLE_SQLSTATES = ("08", "25006", "53", "57")


def database_unavailable(error: BaseException) -> bool:
    """Is this database error the database being out (down, read-only, full, locked
    past the busy timeout) rather than a fault in the request or the code?"""
    if isinstance(error, OperationalError):
        return True
    if isinstance(error, DBAPIError):
        state = getattr(error.orig, "sqlstate", None) or ""
        return state.startswith(UNAVAILABLE_SQLSTATES)
    return False


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
