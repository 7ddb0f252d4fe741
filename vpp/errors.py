"""The domain's errors: what services raise when a request cannot be done.

Services raise the ``VppError`` subclasses below and know nothing of HTTP. Every door
turns them into its own shape: the API into ``{"error": ..., "fields": ...}`` JSON
with a 4xx status and the pages into an error page (``vpp.http_errors``; forms show
field errors inline before it comes to that), the CLI into one line on stderr and a
non-zero exit (``vpp.cli.common``). No Flask here.
"""

from marshmallow import ValidationError


def flatten_messages(messages) -> dict[str, list[str]]:
    """marshmallow's nested error messages as ``{field: [sentence, ...]}``."""
    if isinstance(messages, str):
        return {"_schema": [messages]}
    if isinstance(messages, list):
        return {"_schema": [str(m) for m in messages]}
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        if isinstance(value, dict):
            for sub_key, sub_value in flatten_messages(value).items():
                name = key if sub_key == "_schema" else f"{key}.{sub_key}"
                flat.setdefault(name, []).extend(sub_value)
        elif isinstance(value, list):
            flat.setdefault(key, []).extend(str(m) for m in value)
        else:
            flat.setdefault(key, []).append(str(value))
    return flat


def describe_field_errors(fields_: dict[str, list[str]]) -> str:
    """One line: ``max_capacity: Must be greater than 0.; name: ...``"""
    return "; ".join(
        f"{name}: {' '.join(msgs)}" if name != "_schema" else " ".join(msgs)
        for name, msgs in fields_.items()
    )


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
