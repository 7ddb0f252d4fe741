"""What every API blueprint shares: roles, JSON-only request bodies, page bodies."""

import math

from flask import abort, current_app, request
from flask_smorest import Blueprint
from werkzeug.exceptions import BadRequest

from vpp.auth import authorize
from vpp.domain import ROLE_OPERATOR, ROLE_VIEWER

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def require_json_body(arrays_allowed: bool = False) -> None:
    """400 unless a body-carrying request sends a JSON object (or, where
    ``arrays_allowed``, an array) as application/json.

    The API is exempt from CSRF tokens: it only accepts ``application/json``, which
    a cross-site HTML form cannot send without a CORS preflight we never grant.
    """
    if request.method not in BODY_METHODS:
        return
    if not request.is_json:
        abort(400, "Send a JSON object with the header Content-Type: application/json.")
    try:
        body = request.get_json()
    except (BadRequest, RecursionError):
        abort(400, "The request body is not valid JSON.")
    if not isinstance(body, dict) and not (arrays_allowed and isinstance(body, list)):
        kinds = "a JSON object or an array of them" if arrays_allowed else "a JSON object"
        abort(400, f"The request body must be {kinds}.")


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def api_blueprint(
    name: str,
    import_name: str,
    url_prefix: str,
    description: str,
    *,
    reads: str = ROLE_VIEWER,
    writes: str = ROLE_OPERATOR,
    read_only_posts: frozenset[str] = frozenset(),
    array_bodies: frozenset[str] = frozenset(),
    large_bodies: frozenset[str] = frozenset(),
) -> Blueprint:
    """A flask-smorest blueprint whose requests need the role ``reads`` (GET) or
    ``writes`` (anything else, but the endpoints in ``read_only_posts``), checked
    before the body is even read, and whose bodies must be JSON objects (or arrays,
    for the endpoints in ``array_bodies``). The endpoints in ``array_bodies`` and
    ``large_bodies`` may send up to ``MAX_BATCH_CONTENT_LENGTH``."""
    blueprint = Blueprint(name, import_name, url_prefix=url_prefix, description=description)

    @blueprint.before_request
    def require_role() -> None:
        is_read = request.method in SAFE_METHODS or request.endpoint in read_only_posts
        authorize(reads if is_read else writes)

    @blueprint.before_request
    def require_json() -> None:
        arrays_allowed = request.endpoint in array_bodies
        if arrays_allowed or request.endpoint in large_bodies:  # a batch, many profiles
            request.max_content_length = current_app.config["MAX_BATCH_CONTENT_LENGTH"]
        require_json_body(arrays_allowed)

    return blueprint


def page_body(items: list, total: int, query: dict, dump) -> dict:
    """A listing's JSON body: one page of items and where it stands."""
    return {
        "items": [dump(item) for item in items],
        "page": query["page"],
        "per_page": query["per_page"],
        "total": total,
        "pages": math.ceil(total / query["per_page"]),  # 0 for none: the API's contract
    }
