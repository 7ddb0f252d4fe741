"""The JSON API at ``/api``: flask-smorest blueprints, documented from the same
marshmallow schemas that validate the requests (``/api/openapi.json``)."""

from flask import Flask

from vpp.extensions import api, csrf


def register_api(app: Flask) -> None:
    from vpp.api.audit import blp as audit_blp
    from vpp.api.dispatches import blp as dispatches_blp
    from vpp.api.docs import bp as docs_bp
    from vpp.api.fleet import blp as fleet_blp
    from vpp.api.plants import blp as plants_blp

    for blueprint in (plants_blp, fleet_blp, dispatches_blp, audit_blp):
        csrf.exempt(blueprint)  # JSON only: see vpp.api.common.require_json_object_body
        api.register_blueprint(blueprint)
    app.register_blueprint(docs_bp)
