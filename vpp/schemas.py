"""Field rules for plants and dispatch requests, written once.

The JSON API (through flask-smorest, which also turns these schemas into the
OpenAPI document), the HTML forms and the CLI all validate with the schemas here,
so a rule such as ``min_capacity <= max_capacity`` lives in exactly one place.
"""

import math
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)

from vpp.domain import (
    DEFAULT_KIND,
    DEFAULT_STATUS,
    NAME_MAX_LENGTH,
    PLANT_KINDS,
    PLANT_STATUSES,
    REASON_CODES,
    ROLES,
    SCHEDULE_RESOLUTIONS,
    SCHEDULE_STATUSES,
    USERNAME_MAX_LENGTH,
)

# What a number may look like when it comes as text: ASCII digits, an optional sign,
# point and exponent. Python's float() and int() also take "1_000", "١٠" (Arabic-
# Indic digits) and "５" (full width); a field rule must not.
DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
WHOLE_NUMBER_TEXT = re.compile(r"[+-]?[0-9]+")
NOT_FINITE_WORDS = frozenset({"nan", "inf", "infinity"})


class FiniteFloat(fields.Float):
    """A float that must be finite: NaN, Infinity and overflowing literals such as
    ``1e309`` are rejected, and so are booleans (JSON ``true`` is not a number) and
    text that is not a plain decimal number (``DECIMAL_TEXT``)."""

    default_error_messages = {
        "special": "Must be a finite number (NaN and Infinity are not allowed).",
        "invalid": "Must be a number.",
    }

    def __init__(self, **kwargs):
        super().__init__(allow_nan=False, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, str):
            value = value.strip()
            if value.lstrip("+-").lower() in NOT_FINITE_WORDS:
                raise self.make_error("special")
            if not DECIMAL_TEXT.fullmatch(value):
                if value == "":
                    raise self.make_error("required")
                shown = value if len(value) <= 40 else value[:40] + "…"
                raise ValidationError(f"{shown!r} is not a number.")
        result = super()._deserialize(value, attr, data, **kwargs)
        if result is not None and not math.isfinite(result):
            raise self.make_error("special")
        return result


class WholeNumber(fields.Integer):
    """An integer, as a JSON integer or plain ASCII digits: never ``true``, never a
    fraction silently cut (``1.5`` is not version 1), never "1_000"."""

    default_error_messages = {"invalid": "Must be a whole number."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        if isinstance(value, str) and not WHOLE_NUMBER_TEXT.fullmatch(value.strip()):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


# Minimum up and down times: at most the longest horizon (7 days).
MAX_MINUTES = 7 * 24 * 60
_MINUTES_ERROR = f"Must be a whole number of minutes, 0 to {MAX_MINUTES:,}."
DEFAULT_EFFICIENCY = 0.95
STORE_FIELDS = (
    "soc_kwh",
    "soc_min_kwh",
    "soc_max_kwh",
    "max_charge_kw",
    "charge_efficiency",
    "discharge_efficiency",
)


def _positive(unit: str) -> validate.Range:
    return validate.Range(
        min=0,
        min_inclusive=False,
        max=MAX_CAPACITY_KW,
        error=f"Must be more than 0 and at most {MAX_CAPACITY_KW:,.0f} {unit}.",
    )


def _not_negative(unit: str) -> validate.Range:
    return validate.Range(
        min=0, max=MAX_CAPACITY_KW, error=f"Must be 0 to {MAX_CAPACITY_KW:,.0f} {unit}."
    )


def _efficiency() -> validate.Range:
    return validate.Range(
        min=0, min_inclusive=False, max=1, error="Must be more than 0 and at most 1."
    )


def resolve_store(values: dict[str, Any]) -> dict[str, Any]:
    """The storage rules of a whole plant (DESIGN.md, "Schedules"), with the defaults
    of a store filled in: only a battery with ``energy_capacity_kwh`` stores energy;
    ``0 <= soc_min <= soc <= soc_max <= energy_capacity``; the charge rate defaults
    to ``max_capacity``, the efficiencies to 0.95, the state of charge to half way.
    Latitude and longitude come together. Raises ``ValidationError`` by field."""
    errors: dict[str, list[str]] = {}
    values = dict(values)
    capacity = values.get("energy_capacity_kwh")
    if capacity is not None and values.get("kind") != "battery":
        errors["energy_capacity_kwh"] = ["Only a battery stores energy."]
    if capacity is None or errors:
        for name in STORE_FIELDS:
            if values.get(name) is not None:
                errors[name] = ["Only for a battery with energy_capacity_kwh."]
    else:
        low = values["soc_min_kwh"] = _given(values.get("soc_min_kwh"), 0.0)
        high = values["soc_max_kwh"] = _given(values.get("soc_max_kwh"), capacity)
        if not low <= high <= capacity:
            key = "soc_max_kwh" if high > capacity else "soc_min_kwh"
            errors[key] = [
                f"Must keep 0 <= soc_min_kwh <= soc_max_kwh <= energy_capacity_kwh "
                f"({low:g} <= {high:g} <= {capacity:g} kWh)."
            ]
        else:
            soc = values["soc_kwh"] = _given(values.get("soc_kwh"), (low + high) / 2)
            if not low <= soc <= high:
                errors["soc_kwh"] = [f"Must be within {low:g} to {high:g} kWh."]
        values["max_charge_kw"] = _given(values.get("max_charge_kw"), values.get("max_capacity"))
        for name in ("charge_efficiency", "discharge_efficiency"):
            values[name] = _given(values.get(name), DEFAULT_EFFICIENCY)
    if (values.get("latitude") is None) != (values.get("longitude") is None):
        missing = "longitude" if values.get("longitude") is None else "latitude"
        errors[missing] = ["Give latitude and longitude together."]
    if errors:
        raise ValidationError(errors)
    return values


def _given(value: Any, default: Any) -> Any:
    return default if value is None else value


def check_capacity_bounds(min_capacity: float, max_capacity: float) -> None:
    """The one cross-field rule of a plant: its minimum stable output cannot exceed
    its maximum. Raises ``ValidationError`` keyed on ``min_capacity``."""
    if min_capacity > max_capacity:
        raise ValidationError(
            {
                "min_capacity": [
                    f"Must not exceed max_capacity ({min_capacity:g} kW > {max_capacity:g} kW)."
                ]
            }
        )


# Bounds that keep sums finite: a million plants at the largest capacity still add
# up to 1e15 kW, and cost x output to 1e21, far from float overflow.
MAX_CAPACITY_KW = 1e9
# A demand no fleet could meet past this (a million plants at the largest capacity).
MAX_DEMAND_KW = 1e15
# Far past any history, and small enough that page x size stays a database integer.
MAX_PAGE = 1_000_000
MAX_PER_PAGE = 1000
MAX_ABS_COST = 1e6


def reject_control_characters(value: str) -> None:
    """Control characters and lone surrogates (JSON's "\u0000", "\ud800") are no
    part of a name, and some databases refuse to store them."""
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        raise ValidationError("Must not contain control characters.")


def _lowercase_word(value):
    return value.strip().lower() if isinstance(value, str) else value


class PlantSchema(Schema):
    """A plant (a distributed energy resource). Capacities in kW, cost per MWh."""

    class Meta:
        unknown = RAISE
        ordered = True

    id = fields.Integer(dump_only=True, metadata={"description": "Assigned by the server."})
    version = fields.Integer(
        dump_only=True,
        metadata={"description": "Goes up with every change; send it back in a PATCH."},
    )
    name = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=NAME_MAX_LENGTH), reject_control_characters],
        metadata={"description": "Unique in the fleet; surrounding spaces are trimmed."},
    )
    kind = fields.String(
        load_default=DEFAULT_KIND,
        validate=validate.OneOf(PLANT_KINDS),
        metadata={"enum": list(PLANT_KINDS)},
    )
    max_capacity = FiniteFloat(
        required=True,
        validate=validate.Range(
            min=0,
            min_inclusive=False,
            max=MAX_CAPACITY_KW,
            error=f"Must be more than 0 and at most {MAX_CAPACITY_KW:,.0f} kW.",
        ),
        metadata={"description": "Maximum output, kW, > 0 (at most 1e9)."},
    )
    min_capacity = FiniteFloat(
        load_default=0.0,
        validate=validate.Range(
            min=0, max=MAX_CAPACITY_KW, error=f"Must be 0 to {MAX_CAPACITY_KW:,.0f} kW."
        ),
        metadata={"description": "Minimum stable output when on, kW, 0 <= min <= max."},
    )
    status = fields.String(
        load_default=DEFAULT_STATUS,
        validate=validate.OneOf(PLANT_STATUSES),
        metadata={"enum": list(PLANT_STATUSES)},
    )
    marginal_cost = FiniteFloat(
        load_default=0.0,
        validate=validate.Range(
            min=-MAX_ABS_COST,
            max=MAX_ABS_COST,
            error=f"Must be between {-MAX_ABS_COST:,.0f} and {MAX_ABS_COST:,.0f}.",
        ),
        metadata={
            "description": "Currency per MWh; negative allowed (curtailment payments); "
            "at most 1e6 either way."
        },
    )

    # What a schedule needs beyond a dispatch (DESIGN.md, "Schedules"); all optional:
    # without them a plant behaves in a schedule as in a dispatch.
    ramp_up_kw_per_min = FiniteFloat(
        load_default=None,
        allow_none=True,
        validate=_positive("kW per minute"),
        metadata={"description": "How fast the output may rise, kW/min, > 0; null: no limit."},
    )
    ramp_down_kw_per_min = FiniteFloat(
        load_default=None,
        allow_none=True,
        validate=_positive("kW per minute"),
        metadata={"description": "How fast the output may fall, kW/min, > 0; null: no limit."},
    )
    min_up_minutes = WholeNumber(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_MINUTES, error=_MINUTES_ERROR),
        metadata={"description": "Once started, on for at least this long (minutes, >= 0)."},
    )
    min_down_minutes = WholeNumber(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_MINUTES, error=_MINUTES_ERROR),
        metadata={"description": "Once stopped, off for at least this long (minutes, >= 0)."},
    )
    startup_cost = FiniteFloat(
        load_default=0.0,
        validate=validate.Range(
            min=0, max=MAX_ABS_COST, error=f"Must be 0 to {MAX_ABS_COST:,.0f}."
        ),
        metadata={"description": "Currency per start-up, >= 0."},
    )
    energy_capacity_kwh = FiniteFloat(
        load_default=None,
        allow_none=True,
        validate=_positive("kWh"),
        metadata={
            "description": "kWh, > 0: makes a battery a store (batteries only); null: a plain unit."
        },
    )
    soc_kwh = FiniteFloat(
        load_default=None,
        allow_none=True,
        validate=_not_negative("kWh"),
        metadata={"description": "A store's state of charge now, kWh (default: half way)."},
    )
    soc_min_kwh = FiniteFloat(
        load_default=None,
        allow_none=True,
        validate=_not_negative("kWh"),
        metadata={"description": "A store's lowest state of charge, kWh (default 0)."},
    )
    soc_max_kwh = FiniteFloat(
        load_default=None,
        allow_none=True,
        validate=_not_negative("kWh"),
        metadata={"description": "A store's highest state of charge, kWh (default: full)."},
    )
    max_charge_kw = FiniteFloat(
        load_default=None,
        allow_none=True,
        validate=_positive("kW"),
        metadata={"description": "A store's fastest charge, kW, > 0 (default max_capacity)."},
    )
    charge_efficiency = FiniteFloat(
        load_default=None,
        allow_none=True,
        validate=_efficiency(),
        metadata={"description": "A store's charging efficiency, in (0, 1] (default 0.95)."},
    )
    discharge_efficiency = FiniteFloat(
        load_default=None,
        allow_none=True,
        validate=_efficiency(),
        metadata={"description": "A store's discharging efficiency, in (0, 1] (default 0.95)."},
    )
    latitude = FiniteFloat(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=-90, max=90, error="Must be -90 to 90 degrees."),
        metadata={"description": "Degrees north; with longitude, a solar plant's clear sky."},
    )
    longitude = FiniteFloat(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=-180, max=180, error="Must be -180 to 180 degrees."),
        metadata={"description": "Degrees east."},
    )
    telemetry = fields.Boolean(
        load_default=False,
        metadata={
            "description": "The plant reports readings: silent longer than VPP_STALE_AFTER_S, "
            'it is taken down (reason "silent") and left out of every dispatch and '
            "schedule until they resume."
        },
    )
    status_reason = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": '"silent" when the VPP took the plant down itself.'},
    )

    @pre_load
    def normalise(self, data, **kwargs):
        """Trim the name, lowercase kind and status, and drop a client-sent ``id``
        (ids are assigned by the server) and, on creation, ``version``."""
        if not isinstance(data, dict):
            return data
        ignored = {"id"} if self.partial else {"id", "version"}
        data = {key: value for key, value in data.items() if key not in ignored}
        if isinstance(data.get("name"), str):
            data["name"] = data["name"].strip()
        for key in ("kind", "status"):
            if key in data:
                data[key] = _lowercase_word(data[key])
        return data

    @validates_schema
    def min_not_above_max(self, data, partial=None, **kwargs):
        if "min_capacity" in data and "max_capacity" in data:
            check_capacity_bounds(data["min_capacity"], data["max_capacity"])

    @post_load
    def storage_defaults(self, data, partial=None, **kwargs):
        """A whole new plant: its store's rules checked and defaults filled in
        (a PATCH is checked once merged with the stored plant: ``resolve_store``)."""
        return data if partial else resolve_store(data)


# The fields a schedule needs beyond a dispatch, in the order the API shows them, and
# those of them that may be null (no limit, not a store, no location).
DISPATCH_FIELDS = ("name", "kind", "max_capacity", "min_capacity", "status", "marginal_cost")
PLANT_FIELD_RULES = {
    name: field for name, field in PlantSchema().fields.items() if not field.dump_only
}
# Live devices' switch (DESIGN.md, "Live devices").
LIVE_FIELDS = ("telemetry",)
SCHEDULE_FIELDS = tuple(
    name for name in PLANT_FIELD_RULES if name not in (*DISPATCH_FIELDS, *LIVE_FIELDS)
)
NULLABLE_FIELDS = tuple(name for name in SCHEDULE_FIELDS if PLANT_FIELD_RULES[name].allow_none)


class PlantPatchSchema(PlantSchema):
    """Any subset of a plant's fields; the merged plant must still keep every rule."""

    class Meta(PlantSchema.Meta):
        pass

    version = WholeNumber(
        validate=validate.Range(min=1),
        metadata={
            "description": "The version the change was made from: if the plant has "
            "changed since, the PATCH is refused with 409 and changes nothing."
        },
    )

    def __init__(self, **kwargs):
        super().__init__(partial=True, **kwargs)


# How much of a dispatch an answer carries: everything (the prototype's per-plant
# ``allocations`` and ``reasons``, a record's ``plants``), or the totals and the
# summaries by kind and reason only.
DETAIL_FULL = "full"
DETAIL_SUMMARY = "summary"
DETAILS = (DETAIL_FULL, DETAIL_SUMMARY)


class DispatchRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    detail = fields.String(
        load_default=DETAIL_FULL,
        validate=validate.OneOf(DETAILS),
        metadata={
            "description": "full (default): every plant's allocation and reason; summary: "
            "the totals, by_kind, by_reason and supply_curve only (small at any fleet size)."
        },
    )

    demand = FiniteFloat(
        required=True,
        validate=validate.Range(
            min=0,
            min_inclusive=False,
            max=MAX_DEMAND_KW,
            error=f"Must be more than 0 and at most {MAX_DEMAND_KW:,.0f} kW.",
        ),
        metadata={"description": "Requested power, kW, > 0 (at most 1e15)."},
    )


class KindSummarySchema(Schema):
    plants = fields.Integer()
    available = fields.Float(metadata={"description": "kW of these plants not down"})
    dispatched = fields.Float(metadata={"description": "kW"})
    startups = fields.Integer(metadata={"description": "idle plants switched on"})


class ReasonSummarySchema(Schema):
    plants = fields.Integer()
    dispatched = fields.Float(metadata={"description": "kW"})


class SupplyPointSchema(Schema):
    marginal_cost = fields.Float(metadata={"description": "per MWh"})
    capacity = fields.Float(
        metadata={"description": "kW of plants not down costing at most this, cumulated"}
    )


class DispatchSummariesMixin(Schema):
    by_kind = fields.Dict(
        keys=fields.String(metadata={"enum": list(PLANT_KINDS)}),
        values=fields.Nested(KindSummarySchema),
        metadata={"description": "Every kind, with its plants, kW available and dispatched."},
    )
    by_reason = fields.Dict(
        keys=fields.String(metadata={"enum": list(REASON_CODES)}),
        values=fields.Nested(ReasonSummarySchema),
    )
    supply_curve = fields.List(
        fields.Nested(SupplyPointSchema),
        metadata={"description": "The merit order as a curve, cheapest first (<= 60 points)."},
    )


class DispatchResultSchema(DispatchSummariesMixin):
    """The prototype's dispatch contract, plus what explains it."""

    demand = fields.Float(metadata={"description": "kW"})
    allocations = fields.Dict(
        keys=fields.String(),
        values=fields.Float(),
        metadata={"description": "Plant id (as a string) to kW, for every plant not down."},
    )
    total_dispatched = fields.Float(metadata={"description": "kW, never above demand"})
    unmet_demand = fields.Float(metadata={"description": "demand - total_dispatched, kW"})
    total_cost = fields.Float(metadata={"description": "sum of marginal_cost x output, per hour"})
    startups = fields.Integer(metadata={"description": "Idle plants switched on."})
    marginal_cost = fields.Float(
        allow_none=True, metadata={"description": "Cost per MWh of the unit that sets the price."}
    )
    reasons = fields.Dict(
        keys=fields.String(metadata={"enum": list(REASON_CODES)}),
        values=fields.List(fields.Integer()),
        metadata={
            "description": "Why each plant got its output: reason code -> the ids of "
            "the plants it applies to (every plant appears once). Codes: "
            + "; ".join(f"{code}: {text}" for code, text in REASON_CODES.items())
        },
    )
    optimal = fields.Boolean(
        metadata={"description": "True when the answer is proven optimal (DESIGN.md rules 3-4)."}
    )
    status = fields.String(
        metadata={"description": "optimal, or time_limit / node_limit if the search was cut short"}
    )
    solve_time_ms = fields.Float()
    strategy = fields.String()


class DispatchSummarySchema(Schema):
    """A committed dispatch's totals, as listed in the history."""

    id = fields.Integer()
    created_at = fields.String(metadata={"description": "ISO 8601, UTC"})
    demand = fields.Float()
    total_dispatched = fields.Float()
    unmet_demand = fields.Float()
    total_cost = fields.Float()
    startups = fields.Integer()
    marginal_cost = fields.Float(allow_none=True)
    optimal = fields.Boolean()
    status = fields.String()
    solve_time_ms = fields.Float()
    strategy = fields.String()
    plant_count = fields.Integer()


class DispatchedPlantSchema(Schema):
    """One plant in a committed dispatch, as it was at the time: a row."""

    plant_id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    status = fields.String()
    min_capacity = fields.Float()
    max_capacity = fields.Float()
    marginal_cost = fields.Float()
    output = fields.Float()
    reason = fields.String(metadata={"enum": list(REASON_CODES)})
    startup = fields.Boolean(metadata={"description": "An idle plant the dispatch switches on."})


class DispatchRecordSchema(DispatchSummarySchema, DispatchSummariesMixin):
    """A committed dispatch; ``allocations`` and ``plants`` with detail=full only."""

    allocations = fields.Dict(keys=fields.String(), values=fields.Float())
    plants = fields.List(fields.Nested(DispatchedPlantSchema))


class DetailQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    detail = fields.String(load_default=DETAIL_FULL, validate=validate.OneOf(DETAILS))


ROW_SORT_KEYS = ("merit", "output", "plant_id", "name")


class DispatchRowsQuerySchema(Schema):
    """Paging, filters and order for a committed dispatch's rows."""

    class Meta:
        unknown = RAISE

    page = WholeNumber(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = WholeNumber(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))
    reason = fields.String(validate=validate.OneOf(list(REASON_CODES)))
    kind = fields.String(validate=validate.OneOf(PLANT_KINDS))
    q = fields.String(
        validate=[validate.Length(min=1, max=NAME_MAX_LENGTH), reject_control_characters]
    )
    startups = fields.Boolean(
        load_default=False, metadata={"description": "Only the idle plants switched on."}
    )
    sort = fields.String(load_default="merit", validate=validate.OneOf(ROW_SORT_KEYS))


class PageSchema(Schema):
    """Where a page of a listing stands; subclasses say what its ``items`` are."""

    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer(metadata={"description": "Items in all pages."})
    pages = fields.Integer()


class DispatchRowsPageSchema(PageSchema):
    items = fields.List(fields.Nested(DispatchedPlantSchema))


class DispatchPageSchema(PageSchema):
    items = fields.List(fields.Nested(DispatchSummarySchema))


class PageQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    page = WholeNumber(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = WholeNumber(load_default=20, validate=validate.Range(min=1, max=100))


PLANT_SORT_KEYS = (
    "id",
    "name",
    "kind",
    "status",
    "max_capacity",
    "min_capacity",
    "marginal_cost",
)


class PlantListQuerySchema(Schema):
    """Filters and paging for ``GET /api/plants/``. Without ``page`` and ``per_page``
    the answer is every plant that passes the filters, as a JSON array (the
    prototype's contract); with either, one page of them."""

    class Meta:
        unknown = RAISE

    page = WholeNumber(validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = WholeNumber(validate=validate.Range(min=1, max=MAX_PER_PAGE))
    status = fields.String(validate=validate.OneOf(PLANT_STATUSES))
    kind = fields.String(validate=validate.OneOf(PLANT_KINDS))
    q = fields.String(
        validate=[validate.Length(min=1, max=NAME_MAX_LENGTH), reject_control_characters],
        metadata={"description": "A part of the name, in any letter case."},
    )
    sort = fields.String(
        load_default="id",
        validate=validate.OneOf([*PLANT_SORT_KEYS, *(f"-{key}" for key in PLANT_SORT_KEYS)]),
        metadata={"description": "A field; '-field' for descending. Ties by id."},
    )

    @pre_load
    def normalise(self, data, **kwargs):
        data = dict(data)
        for key in ("status", "kind"):
            if key in data:
                data[key] = _lowercase_word(data[key])
        return data


class PlantPageSchema(PageSchema):
    items = fields.List(fields.Nested(PlantSchema))


class StatusBreakdownSchema(Schema):
    count = fields.Integer()
    max_capacity = fields.Float(metadata={"description": "kW"})


class AggregateSchema(Schema):
    total_available = fields.Float(
        metadata={"description": "Sum of max_capacity over plants not down, kW."}
    )
    total_min_available = fields.Float(
        metadata={"description": "Sum of min_capacity over plants not down, kW."}
    )
    plant_count = fields.Integer()
    by_status = fields.Dict(keys=fields.String(), values=fields.Nested(StatusBreakdownSchema))
    by_kind = fields.Dict(keys=fields.String(), values=fields.Nested(StatusBreakdownSchema))
    by_kind_and_status = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.Float()),
        metadata={"description": "kW of each kind in each status."},
    )


class UserSchema(Schema):
    class Meta:
        unknown = RAISE

    username = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=USERNAME_MAX_LENGTH),
            validate.Regexp(r"^[a-z0-9._-]+$", error="Use lowercase letters, digits, . _ or -."),
        ],
    )
    role = fields.String(required=True, validate=validate.OneOf(ROLES))

    @pre_load
    def normalise(self, data, **kwargs):
        if isinstance(data, dict):
            data = dict(data)
            for key in ("username", "role"):
                data[key] = _lowercase_word(data.get(key))
        return data


class TokenSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(
        required=True, validate=[validate.Length(min=1, max=100), reject_control_characters]
    )
    role = fields.String(required=True, validate=validate.OneOf(ROLES))

    @pre_load
    def normalise(self, data, **kwargs):
        if isinstance(data, dict):
            data = dict(data)
            if isinstance(data.get("name"), str):
                data["name"] = data["name"].strip()
            data["role"] = _lowercase_word(data.get("role"))
        return data


class AuditEventSchema(Schema):
    id = fields.Integer()
    at = fields.String(metadata={"description": "ISO 8601, UTC"})
    actor = fields.String(metadata={"description": "user:NAME, token:NAME (#ID) or cli:NAME"})
    action = fields.String(metadata={"description": "e.g. plant.update, dispatch.commit"})
    target = fields.String(metadata={"description": "e.g. plant:12, dispatch:3"})
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)


class AuditPageSchema(PageSchema):
    items = fields.List(fields.Nested(AuditEventSchema))


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "A human sentence."})
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "For validation errors: the offending fields."},
    )


# Schedules (DESIGN.md, "Schedules").
MAX_HORIZON_MINUTES = 7 * 24 * 60
DEFAULT_RESOLUTION_MINUTES = 15
DEFAULT_VALUE_OF_LOST_LOAD = 10_000.0
DEFAULT_SCHEDULE_TIME_LIMIT_S = 30.0
MAX_SCHEDULE_TIME_LIMIT_S = 3600.0
DEFAULT_TARGET_GAP = 0.01
FINAL_SOC_KEEP = "keep"
FINAL_SOC_FREE = "free"


def next_aligned(moment: datetime, resolution_minutes: int) -> datetime:
    """The first moment at or after ``moment`` (UTC) on a ``resolution_minutes``
    boundary."""
    moment = moment.astimezone(UTC)
    step = resolution_minutes * 60
    seconds = moment.timestamp()
    return datetime.fromtimestamp(math.ceil(seconds / step) * step, UTC)


class _Share(FiniteFloat):
    def __init__(self, **kwargs):
        super().__init__(
            validate=validate.Range(min=0, max=1, error="Must be between 0 and 1."), **kwargs
        )


class ScheduleRequestSchema(Schema):
    """A schedule asked for: only ``demand`` is required."""

    class Meta:
        unknown = RAISE

    start = fields.AwareDateTime(
        default_timezone=UTC,
        metadata={
            "description": "ISO 8601 (UTC if no offset), on a boundary of the resolution; "
            "default: the next one from now."
        },
    )
    resolution_minutes = WholeNumber(
        load_default=DEFAULT_RESOLUTION_MINUTES,
        validate=validate.OneOf(SCHEDULE_RESOLUTIONS),
        metadata={"description": "Minutes per interval: 5, 15 (default), 30 or 60."},
    )
    demand = fields.List(
        FiniteFloat(
            validate=validate.Range(
                min=0, max=MAX_DEMAND_KW, error=f"Must be 0 to {MAX_DEMAND_KW:,.0f} kW."
            )
        ),
        required=True,
        validate=validate.Length(min=1, error="Give at least one interval."),
        metadata={"description": "kW to deliver in each interval, >= 0."},
    )
    availability = fields.Dict(
        keys=fields.String(
            validate=validate.Regexp(r"^[1-9][0-9]{0,17}$", error="Not a plant id.")
        ),
        values=fields.List(_Share()),
        load_default=dict,
        metadata={
            "description": "Plant id -> its availability in each interval (0 to 1, "
            "times its maximum). Default: a solar plant with a location gets its "
            "clear-sky profile, every other plant 1."
        },
    )
    value_of_lost_load = FiniteFloat(
        load_default=DEFAULT_VALUE_OF_LOST_LOAD,
        validate=validate.Range(
            min=0,
            min_inclusive=False,
            max=MAX_ABS_COST,
            error=f"Must be more than 0 and at most {MAX_ABS_COST:,.0f} per MWh.",
        ),
        metadata={"description": "Cost of each MWh not delivered (default 10,000)."},
    )
    final_soc = fields.String(
        load_default=FINAL_SOC_KEEP,
        validate=validate.OneOf((FINAL_SOC_KEEP, FINAL_SOC_FREE)),
        metadata={"description": "keep (default): every store ends no lower than it starts."},
    )
    time_limit_s = FiniteFloat(
        load_default=DEFAULT_SCHEDULE_TIME_LIMIT_S,
        validate=validate.Range(
            min=0,
            min_inclusive=False,
            max=MAX_SCHEDULE_TIME_LIMIT_S,
            error=f"Must be more than 0 and at most {MAX_SCHEDULE_TIME_LIMIT_S:,.0f} s.",
        ),
        metadata={"description": "Seconds of solving at most (default 30)."},
    )
    target_gap = FiniteFloat(
        load_default=DEFAULT_TARGET_GAP,
        validate=validate.Range(min=0, max=1, error="Must be 0 to 1 (a fraction, 0.01 is 1 %)."),
        metadata={"description": "Stop once the proven gap is this small (default 0.01)."},
    )

    @validates_schema
    def check_horizon(self, data, **_kwargs):
        resolution = data.get("resolution_minutes")
        demand = data.get("demand")
        if resolution is None or demand is None:
            return
        if len(demand) * resolution > MAX_HORIZON_MINUTES:
            raise ValidationError(
                f"At most {MAX_HORIZON_MINUTES // resolution:,} intervals of "
                f"{resolution} minutes (7 days).",
                "demand",
            )
        start = data.get("start")
        if start is not None and next_aligned(start, resolution) != start.astimezone(UTC):
            raise ValidationError(
                f"Must be on a {resolution}-minute boundary, such as "
                f"{next_aligned(start, resolution).isoformat()}.",
                "start",
            )
        for plant_id, shares in (data.get("availability") or {}).items():
            if len(shares) != len(demand):
                raise ValidationError(
                    {
                        plant_id: [
                            f"Give {len(demand)} values, one per interval, not {len(shares)}."
                        ]
                    },
                    "availability",
                )

    @post_load
    def fill_start(self, data, **_kwargs):
        if "start" not in data:
            data["start"] = next_aligned(datetime.now(UTC), data["resolution_minutes"])
        data["start"] = data["start"].astimezone(UTC)
        data["availability"] = {int(k): v for k, v in data["availability"].items()}
        return data


class ScheduleProgressSchema(Schema):
    objective = fields.Float(allow_none=True)
    lower_bound = fields.Float(allow_none=True)
    gap = fields.Float(allow_none=True)
    elapsed_s = fields.Float()


class ScheduleSchema(Schema):
    """A schedule: its request, where its job stands, and when done its totals."""

    id = fields.Integer()
    status = fields.String(metadata={"enum": list(SCHEDULE_STATUSES)})
    error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    created_by = fields.String()
    start = fields.DateTime()
    resolution_minutes = fields.Integer()
    demand = fields.List(fields.Float())
    attempts = fields.Integer(metadata={"description": "Workers that have taken it."})
    heartbeat_at = fields.DateTime(
        allow_none=True,
        metadata={"description": "When its worker last said it was alive (while running)."},
    )
    progress = fields.Nested(ScheduleProgressSchema, allow_none=True)
    delivered = fields.List(fields.Float(), metadata={"description": "kW per interval."})
    unmet = fields.List(fields.Float(), metadata={"description": "kW per interval."})
    marginal_price = fields.List(
        fields.Float(),
        allow_none=True,
        metadata={"description": "Per MWh, per interval (null if it could not be priced)."},
    )
    objective = fields.Float()
    energy_cost = fields.Float()
    startup_cost = fields.Float()
    unmet_cost = fields.Float()
    startups = fields.Integer()
    unmet_energy_kwh = fields.Float()
    lower_bound = fields.Float()
    gap = fields.Float()
    optimal = fields.Boolean()
    solve_time_ms = fields.Float()
    method = fields.String()
    plant_count = fields.Integer(
        allow_none=True, metadata={"description": "Plants scheduled (not down); once done."}
    )
    solver_status = fields.String(
        metadata={"description": "optimal, time_limit or no_schedule_found (then all off)."}
    )
    by_kind = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.Float()),
        metadata={"description": "Kind -> the kinds' summed output, kW per interval."},
    )
    stored_energy_kwh = fields.List(
        fields.Float(), metadata={"description": "The stores' summed energy at each boundary."}
    )
    availability_sources = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "request, clear_sky or full -> how many plants."},
    )


class SchedulePageSchema(PageSchema):
    items = fields.List(fields.Nested(ScheduleSchema))


class SchedulePlantSchema(Schema):
    id = fields.Integer(metadata={"description": "The plant's id."})
    name = fields.String()
    kind = fields.String()
    output = fields.List(fields.Float(), metadata={"description": "kW per interval."})
    soc = fields.List(fields.Float(), allow_none=True)
    startups = fields.Integer()
    energy_kwh = fields.Float()
    cost = fields.Float()
    availability_source = fields.String()


class SchedulePlantPageSchema(PageSchema):
    items = fields.List(fields.Nested(SchedulePlantSchema))


SCHEDULE_ROW_SORTS = ("plant_id", "name", "energy", "cost", "startups")


class SchedulePlantQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    page = WholeNumber(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = WholeNumber(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))
    kind = fields.String(validate=validate.OneOf(PLANT_KINDS))
    q = fields.String(
        validate=[validate.Length(min=1, max=NAME_MAX_LENGTH), reject_control_characters]
    )
    startups = fields.Boolean(
        load_default=False, metadata={"description": "Only plants started at least once."}
    )
    sort = fields.String(load_default="plant_id", validate=validate.OneOf(SCHEDULE_ROW_SORTS))


# Live devices (DESIGN.md, "Live devices").
class ReadingSchema(Schema):
    """One reading, as ``POST /api/telemetry/`` takes it (over MQTT, without
    ``plant_id``: the topic names the plant)."""

    plant_id = fields.Integer(required=True, metadata={"minimum": 1})
    at = fields.AwareDateTime(
        metadata={"description": "ISO 8601 with its offset; default: when it arrives."}
    )
    power_kw = fields.Float(required=True, metadata={"description": "Output now, kW."})
    soc_kwh = fields.Float(allow_none=True, metadata={"description": "A store's charge, kWh."})


class AcceptedSchema(Schema):
    accepted = fields.Integer(metadata={"description": "Readings in the request, all stored."})
    stored = fields.Integer(
        metadata={"description": "Of them, new (a reading sent again is stored once)."}
    )


class WindowSchema(Schema):
    class Meta:
        unknown = RAISE

    since = fields.AwareDateTime(metadata={"description": "Default: an hour before until."})
    until = fields.AwareDateTime(metadata={"description": "Default: now."})


class TelemetryWindowSchema(WindowSchema):
    resolution_minutes = WholeNumber(load_default=1, validate=validate.Range(min=1, max=1440))


class FleetBucketSchema(Schema):
    start = fields.String()
    measured_kw = fields.Float(
        allow_none=True,
        metadata={"description": "Sum over plants of each one's average; null: none heard."},
    )
    target_kw = fields.Float(
        allow_none=True, metadata={"description": "Sum of the telemetry plants' setpoints."}
    )
    tracking_error_kw = fields.Float(allow_none=True, metadata={"description": "measured - target"})
    plants_reporting = fields.Integer()


class FleetSeriesSchema(Schema):
    since = fields.String()
    until = fields.String()
    resolution_minutes = fields.Integer()
    buckets = fields.List(fields.Nested(FleetBucketSchema))


class TelemetryStatusSchema(Schema):
    telemetry_plants = fields.Integer()
    silent = fields.Integer()
    reporting = fields.Integer(metadata={"description": "Heard within VPP_STALE_AFTER_S."})
    stale_after_s = fields.Float()
    readings_per_s = fields.Float(metadata={"description": "Over the last complete minute."})
    last_reading_at = fields.String(allow_none=True)
    setpoint_source = fields.String(allow_none=True)
    setpoint_since = fields.String(allow_none=True)


class SilentPlantSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    max_capacity = fields.Float()
    last_reading_at = fields.String(allow_none=True)
    down_since = fields.String()


class SilentPageSchema(PageSchema):
    items = fields.List(fields.Nested(SilentPlantSchema))


class SetpointSchema(Schema):
    setpoint_kw = fields.Float(allow_none=True)
    since = fields.String(allow_none=True)
    source = fields.String(
        allow_none=True, metadata={"description": "dispatch:ID or schedule:ID#INTERVAL"}
    )
    measured_kw = fields.Float(allow_none=True, metadata={"description": "The latest reading."})
    tracking_error_kw = fields.Float(
        allow_none=True, metadata={"description": "measured - setpoint"}
    )


class SetpointsQuerySchema(PageQuerySchema):
    per_page = WholeNumber(load_default=1_000, validate=validate.Range(min=1, max=10_000))


class SetpointsSchema(PageSchema):
    source = fields.String(allow_none=True)
    since = fields.String(allow_none=True)
    setpoints = fields.Dict(
        keys=fields.String(), values=fields.Float(), metadata={"description": "kW by plant id."}
    )


class ReadingsQuerySchema(WindowSchema):
    per_minute = fields.Boolean(
        load_default=False,
        metadata={"description": "Averages per minute (kept after the raw readings)."},
    )
    limit = WholeNumber(load_default=3600, validate=validate.Range(min=1, max=10_000))


class ReadingOutSchema(Schema):
    at = fields.String()
    power_kw = fields.Float()
    soc_kwh = fields.Float(allow_none=True)


class MinuteOutSchema(Schema):
    minute = fields.String()
    power_kw = fields.Float()
    readings = fields.Integer()


class PlantReadingsSchema(Schema):
    plant_id = fields.Integer()
    since = fields.String()
    until = fields.String()
    readings = fields.List(fields.Nested(ReadingOutSchema))
    minutes = fields.List(fields.Nested(MinuteOutSchema))
