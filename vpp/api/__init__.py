"""The JSON API at ``/api``: flask-smorest blueprints, documented from the same
marshmallow schemas that validate the requests (``/api/openapi.json``)."""

from flask import Flask
from marshmallow import validate

from vpp.extensions import api, csrf
from vpp.schemas import PlantPageSchema, ReadingSchema


def range_exclusivity(_converter, field, **_kwargs) -> dict:
    """apispec writes a ``Range`` validator's bounds as ``minimum``/``maximum`` only;
    a bound that excludes its value (capacities and demand are > 0) also needs
    OpenAPI 3.0's ``exclusiveMinimum: true`` (or ``exclusiveMaximum``), or the
    document promises that 0 is accepted."""
    extra = {}
    for validator in field.validators:
        if isinstance(validator, validate.Range):
            if validator.min is not None and not validator.min_inclusive:
                extra["exclusiveMinimum"] = True
            if validator.max is not None and not validator.max_inclusive:
                extra["exclusiveMaximum"] = True
    return extra


def register_api(app: Flask) -> None:
    from vpp.api.audit import blp as audit_blp
    from vpp.api.dispatches import blp as dispatches_blp
    from vpp.api.docs import bp as docs_bp
    from vpp.api.fleet import blp as fleet_blp
    from vpp.api.plants import blp as plants_blp
    from vpp.api.schedules import blp as schedules_blp
    from vpp.api.spec import CommonAnswers
    from vpp.api.telemetry import blp as telemetry_blp

    api.ma_plugin.converter.add_attribute_function(range_exclusivity)
    answers = CommonAnswers()
    answers.init_spec(api.spec)
    api.spec.plugins.append(answers)
    # Referred to by hand where one answer may take two shapes (vpp.api.plants).
    api.spec.components.schema("PlantPage", schema=PlantPageSchema)
    api.spec.components.schema("Reading", schema=ReadingSchema)
    blueprints = (plants_blp, fleet_blp, dispatches_blp, schedules_blp, telemetry_blp, audit_blp)
    for blueprint in blueprints:
        csrf.exempt(blueprint)  # JSON only: see vpp.api.common.require_json_body
        api.register_blueprint(blueprint)
    app.register_blueprint(docs_bp)
