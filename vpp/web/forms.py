"""Flask-WTF forms. They carry CSRF and the fields' labels and widgets; the field
rules themselves live in ``vpp.schemas`` and are applied by the services, whose
errors the views attach to these fields (``attach_errors``)."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import TextInput

from vpp.domain import (
    DEFAULT_KIND,
    DEFAULT_STATUS,
    NAME_MAX_LENGTH,
    PLANT_KINDS,
    PLANT_STATUSES,
    ROLE_VIEWER,
    ROLES,
    SCHEDULE_RESOLUTIONS,
)
from vpp.formatting import kind_label as _label
from vpp.schemas import DISPATCH_FIELDS, LIVE_FIELDS, NULLABLE_FIELDS, SCHEDULE_FIELDS
from vpp.services.schedule_files import SHAPES


class DecimalInput(TextInput):
    """A box for a decimal number that sends what was typed: a browser's
    ``type=number`` box blanks text it cannot parse (``abc``), and the server could
    then only say the field is missing. Phones still show their number pad
    (``inputmode=decimal``); the rules themselves are the schema's."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("inputmode", "decimal")
        kwargs.setdefault("autocomplete", "off")
        return super().__call__(field, **kwargs)


def _number_input(min_value: float | None = None) -> DecimalInput:
    return DecimalInput()


class VppForm(FlaskForm):
    def error_list(self) -> list[tuple[str | None, str, str]]:
        """Every error, in the form's order: (field id or None, label, message)."""
        found = [(None, "", message) for message in self.form_errors]
        for field in self:
            if field.errors and not isinstance(field, HiddenField):
                found += [(field.id, field.label.text, m) for m in field.errors]
        return found

    def first_error_id(self) -> str | None:
        """The field the page puts the focus on: the first with an error."""
        return next((field_id for field_id, _, _ in self.error_list() if field_id), None)

    def mark_first_error(self) -> str:
        """Flag the first field with an error (``flags.first_error``) so that its
        box takes the focus when the page loads. Called by the error summary."""
        first = self.first_error_id()
        for field in self:
            field.flags.first_error = field.id == first
        return ""

    def attach_errors(self, fields: dict[str, list[str]]) -> None:
        """Show a service's validation errors next to the fields they concern."""
        for name, messages in fields.items():
            field = getattr(self, name, None)
            if isinstance(field, HiddenField):
                field = None  # nothing to show it beside: it goes above the form
            target = field.errors if field is not None else self.form_errors
            if isinstance(target, tuple):
                target = field.errors = list(target)
            target.extend(messages)


class PlantForm(VppForm):
    name = StringField("Name", render_kw={"maxlength": NAME_MAX_LENGTH, "required": True})
    kind = SelectField(
        "Kind",
        choices=[SelectChoice(k, _label(k)) for k in PLANT_KINDS],
        default=DEFAULT_KIND,
        validate_choice=False,
    )
    max_capacity = StringField(
        "Max capacity (kW)", widget=_number_input(0), render_kw={"required": True}
    )
    min_capacity = StringField("Min stable output (kW)", widget=_number_input(0), default="0")
    status = SelectField(
        "Status",
        choices=[SelectChoice(s, _label(s)) for s in PLANT_STATUSES],
        default=DEFAULT_STATUS,
        validate_choice=False,
    )
    marginal_cost = StringField("Marginal cost (per MWh)", widget=_number_input(), default="0")
    # For schedules (optional; DESIGN.md, "Schedules"): blank means no limit, not a
    # store, no location; for minimum times and start-up cost, their default 0.
    ramp_up_kw_per_min = StringField("Ramp up (kW/min)", widget=_number_input())
    ramp_down_kw_per_min = StringField("Ramp down (kW/min)", widget=_number_input())
    min_up_minutes = StringField("Minimum up time (min)", widget=_number_input())
    min_down_minutes = StringField("Minimum down time (min)", widget=_number_input())
    startup_cost = StringField("Start-up cost (per start)", widget=_number_input())
    energy_capacity_kwh = StringField("Energy capacity (kWh)", widget=_number_input())
    soc_kwh = StringField("State of charge now (kWh)", widget=_number_input())
    soc_min_kwh = StringField("Lowest charge (kWh)", widget=_number_input())
    soc_max_kwh = StringField("Highest charge (kWh)", widget=_number_input())
    max_charge_kw = StringField("Fastest charge (kW)", widget=_number_input())
    charge_efficiency = StringField("Charging efficiency (0–1)", widget=_number_input())
    discharge_efficiency = StringField("Discharging efficiency (0–1)", widget=_number_input())
    latitude = StringField("Latitude (°N)", widget=_number_input())
    longitude = StringField("Longitude (°E)", widget=_number_input())
    telemetry = BooleanField("Reports readings (taken down when silent)")
    # The version an edit started from (empty when adding): a stale edit is refused.
    version = HiddenField()
    submit = SubmitField("Add plant")

    FIELDS = (*DISPATCH_FIELDS, *SCHEDULE_FIELDS, *LIVE_FIELDS, "version")

    def schedule_fields_in_use(self) -> bool:
        """Whether a schedule field holds something or has an error: then its section
        of the form is shown open."""
        return any(
            getattr(self, name).errors or getattr(self, name).data not in (None, "", "0", 0)
            for name in SCHEDULE_FIELDS
        )

    def plant_data(self, *, drop_empty: bool) -> dict[str, str | None]:
        """The submitted values under the API's field names. With ``drop_empty`` an
        empty field is left out, so the rules' defaults apply (a new plant); on an
        edit a blank schedule field is null (no limit, not a store, no location) or,
        for minimum times and start-up cost, their documented default 0."""
        data: dict[str, str | None] = {
            name: str(getattr(self, name).data or "").strip() for name in self.FIELDS
        }
        if not data["version"]:
            del data["version"]
        if drop_empty:
            return {name: value for name, value in data.items() if value != ""}
        for name in (*SCHEDULE_FIELDS, *LIVE_FIELDS):
            if data[name] == "":
                data[name] = None if name in NULLABLE_FIELDS else "0"
        return data


class DispatchForm(VppForm):
    demand = StringField("Demand (kW)", widget=_number_input(0), render_kw={"required": True})
    submit = SubmitField("Dispatch and record")


class DeleteForm(VppForm):
    submit = SubmitField("Delete plant")


def _role_choices() -> list[SelectChoice]:
    return [SelectChoice(r, r.capitalize()) for r in ROLES]


class LoginForm(VppForm):
    username = StringField("Username", render_kw={"autocomplete": "username", "required": True})
    password = PasswordField(
        "Password", render_kw={"autocomplete": "current-password", "required": True}
    )
    submit = SubmitField("Log in")


class UserForm(VppForm):
    username = StringField("Username", render_kw={"autocomplete": "off", "required": True})
    role = SelectField("Role", choices=_role_choices(), default=ROLE_VIEWER, validate_choice=False)
    submit = SubmitField("Add user")


class RoleForm(VppForm):
    role = SelectField("Role", choices=_role_choices(), validate_choice=False)
    submit = SubmitField("Change role")


class TokenForm(VppForm):
    name = StringField("Name (what uses it)", render_kw={"autocomplete": "off", "required": True})
    role = SelectField("Role", choices=_role_choices(), default=ROLE_VIEWER, validate_choice=False)
    submit = SubmitField("Create token")


class ActionForm(VppForm):
    """A button that changes something: CSRF and nothing else."""

    submit = SubmitField("Confirm")


class ScheduleForm(VppForm):
    """A schedule from a built-in shape scaled to a share of the available capacity,
    or from an uploaded demand CSV; the rules are the API's (``ScheduleRequestSchema``)."""

    source = SelectField(
        "Demand",
        choices=[SelectChoice("shape", "A built-in shape"), SelectChoice("file", "A CSV file")],
        default="shape",
        validate_choice=False,
    )
    shape = SelectField(
        "Shape",
        choices=[SelectChoice(key, label) for key, (label, _) in SHAPES.items()],
        default="typical_day",
        validate_choice=False,
    )
    peak_share = StringField("Peak (% of available capacity)", widget=_number_input(), default="70")
    hours = StringField("Hours", widget=_number_input(), default="24")
    demand_file = FileField("Demand CSV (a demand_kw column, one row per interval)")
    start = StringField(
        "Start (UTC, ISO 8601)", render_kw={"placeholder": "Blank: the next interval"}
    )
    resolution_minutes = SelectField(
        "Interval",
        choices=[SelectChoice(str(r), f"{r} minutes") for r in SCHEDULE_RESOLUTIONS],
        default="15",
        validate_choice=False,
    )
    time_limit_s = StringField("Time limit (s)", widget=_number_input(), default="30")
    target_gap = StringField("Target gap (%)", widget=_number_input(), default="1")
    availability_file = FileField("Availability CSV (optional: plant_id, then 0–1 per interval)")
    final_soc = SelectField(
        "Batteries at the end",
        choices=[
            SelectChoice("keep", "No emptier than now"),
            SelectChoice("free", "Free to end empty"),
        ],
        default="keep",
        validate_choice=False,
    )
    value_of_lost_load = StringField(
        "Value of lost load (per MWh)", widget=_number_input(), default="10000"
    )
    submit = SubmitField("Plan")
