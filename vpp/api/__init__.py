"""The JSON API at ``/api``: flask-smorest blueprints, documented from the same
marshmallow schemas that validate the requests (``/api/openapi.json``)."""

from flask import Flask, abort, request
from werkzeug.exceptions import BadRequest

from vpp.extensions import api, csrf

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def require_json_object_body() -> None:
    """400 unless a body-carrying request sends a JSON object as application/json.

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
    if not isinstance(body, dict):
        abort(400, "The request body must be a JSON object.")


def register_api(app: Flask) -> None:
    from vpp.api.docs import bp as docs_bp
    from vpp.api.fleet import blp as fleet_blp
    from vpp.api.plants import blp as plants_blp

    for blueprint in (plants_blp, fleet_blp):
        blueprint.before_request(require_json_object_body)
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint)
    app.register_blueprint(docs_bp)
