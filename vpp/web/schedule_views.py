"""The Schedules pages: ask for a plan (a built-in shape or a CSV), watch it being
solved, read it (charts, totals, every plant a page at a time), export it as CSV."""

from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from vpp.auth import acting, authorize
from vpp.domain import PLANT_KINDS, ROLE_OPERATOR, SCHEDULE_DONE, SCHEDULE_FAILED
from vpp.errors import InvalidInput
from vpp.routing import query_whole_number
from vpp.schemas import MAX_PAGE, SchedulePlantQuerySchema
from vpp.services import fleet, pages, schedule_files, schedule_jobs
from vpp.web.forms import ScheduleForm
from vpp.web.submit import run_form
from vpp.web.views import listing_args

bp = Blueprint("schedules_web", __name__)
LIST_PAGE_SIZE = 20
ROWS_PAGE_SIZE = 50
ROW_SORTS = {
    "plant_id": "Id",
    "name": "Name, A to Z",
    "energy": "Most energy first",
    "cost": "Dearest first",
    "startups": "Most start-ups first",
}
# How often a page of a schedule not yet solved reloads itself (no script needed).
REFRESH_S = 2


@bp.before_request
def operators_post() -> None:
    if request.method == "POST":
        authorize(ROLE_OPERATOR)


def _percent(text: str | None, field: str, low: float, high: float) -> float:
    try:
        value = float((text or "").strip())
    except ValueError:
        raise InvalidInput(f"Invalid {field}.", {field: ["Must be a number."]}) from None
    if not low < value <= high:
        raise InvalidInput(
            f"Invalid {field}.", {field: [f"Must be more than {low:g} and at most {high:g}."]}
        )
    return value


def _uploaded(field, name: str) -> str | None:
    """An uploaded file's text, or None if none was chosen."""
    upload = field.data
    if upload is None or not getattr(upload, "filename", ""):
        return None
    try:
        return upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("Invalid file.", {name: ["Not UTF-8 text."]}) from None


def _request_body(form: ScheduleForm) -> dict[str, Any]:
    """The form as the API's request body; what only the form has (shape, share,
    hours, the file) is checked here, the rest by the API's schema."""
    body: dict[str, Any] = {
        "resolution_minutes": form.resolution_minutes.data,
        "time_limit_s": form.time_limit_s.data,
        "final_soc": form.final_soc.data,
        "value_of_lost_load": form.value_of_lost_load.data,
    }
    profiles = _uploaded(form.availability_file, "availability_file")
    if profiles is not None:
        try:
            body["availability"] = schedule_files.availability_from_csv(profiles)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, {"availability_file": [exc.message]}) from exc
    if (form.start.data or "").strip():
        body["start"] = form.start.data.strip()
    gap = _percent(form.target_gap.data or "1", "target_gap", -1e-12, 100)
    body["target_gap"] = gap / 100
    if form.source.data == "file":
        text = _uploaded(form.demand_file, "demand_file")
        if text is None:
            raise InvalidInput("Choose a demand file.", {"demand_file": ["Choose a CSV file."]})
        try:
            body["demand"] = schedule_files.demand_from_csv(text)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, {"demand_file": [exc.message]}) from exc
        return body
    shape = form.shape.data if form.shape.data in schedule_files.SHAPES else "typical_day"
    share = _percent(form.peak_share.data, "peak_share", 0, 1000)
    hours = _percent(form.hours.data, "hours", 0, 7 * 24)
    # The start and resolution as the API's rules read them (errors shown by their fields).
    data = schedule_jobs.load_request(
        {**{k: v for k, v in body.items() if k != "availability"}, "demand": [0.0]}
    )
    resolution = data["resolution_minutes"]
    intervals = max(1, round(hours * 60 / resolution))
    available = fleet.aggregate()["total_available"]
    if available <= 0:
        raise InvalidInput(
            "No plant is available: a shape is scaled to the available capacity.",
            {"peak_share": ["No plant is available to scale it to."]},
        )
    body["start"] = data["start"].isoformat()
    body["demand"] = schedule_files.shaped_demand(
        shape, available * share / 100, data["start"], resolution, intervals
    )
    return body


def _render_list(form: ScheduleForm, status: int = 200):
    page = query_whole_number(request.args.get("page"), 1, MAX_PAGE) or 1
    items, total = schedule_jobs.list_schedules(page, LIST_PAGE_SIZE)
    return (
        render_template(
            "schedules.html",
            form=form,
            items=items,
            page=page,
            pages=pages.page_count(total, LIST_PAGE_SIZE),
            total=total,
            available=fleet.aggregate()["total_available"],
        ),
        status,
    )


@bp.get("/schedules")
def schedules():
    return _render_list(ScheduleForm(formdata=None))


@bp.post("/schedules")
def create_schedule():
    form = ScheduleForm()

    def work():
        try:
            data = schedule_jobs.load_request(_request_body(form))
            return schedule_jobs.submit(data, actor=acting())
        except InvalidInput as exc:  # a profile's problem is the uploaded file's
            fields = {}
            for key, messages in (exc.fields or {}).items():
                name = "availability_file" if key.startswith("availability") else key
                fields.setdefault(name, []).extend(messages)
            raise InvalidInput(exc.message, fields) from exc

    outcome = run_form(form, work)
    if outcome.done:
        # Its own fragment: a browser would otherwise keep the form's (#new-schedule).
        target = url_for("schedules_web.schedule_detail", schedule_id=outcome.result.id)
        return redirect(target + "#schedule-status")
    return _render_list(form, 422)


def _chart_data(record) -> dict[str, Any]:
    result = record.result
    return {
        "kinds": list(PLANT_KINDS),
        "times": [moment.isoformat() for moment in schedule_jobs.interval_starts(record)],
        "boundaries": [
            (record.start + timedelta(minutes=record.resolution_minutes * t)).isoformat()
            for t in range(len(record.demand) + 1)
        ],
        "demand": record.demand,
        "unmet": result["unmet"],
        "by_kind": result["by_kind"],
        "marginal_price": result["marginal_price"],
        "stored_energy_kwh": result["stored_energy_kwh"],
    }


@bp.get("/schedules/<id:schedule_id>")
def schedule_detail(schedule_id: int):
    record = schedule_jobs.get_schedule(schedule_id)
    context: dict[str, Any] = {"record": record, "refresh_s": None}
    if record.status == SCHEDULE_DONE:
        filters = listing_args(
            SchedulePlantQuerySchema(), {"page": 1, "sort": "plant_id", "startups": False}
        )
        rows, matching = schedule_jobs.find_rows(
            schedule_id,
            filters["page"],
            ROWS_PAGE_SIZE,
            filters["sort"],
            **{key: filters.get(key) for key in ("kind", "q", "startups")},
        )
        hours = record.resolution_minutes / 60
        context.update(
            result=record.result,
            hours=hours,
            by_kind=[
                (kind, sum(series) * hours, max(series))
                for kind, series in record.result["by_kind"].items()
            ],
            demand_kwh=sum(record.demand) * hours,
            rows=rows,
            filters=filters,
            matching=matching,
            row_pages=pages.page_count(matching, ROWS_PAGE_SIZE),
            row_args={
                "schedule_id": schedule_id,
                **{k: filters[k] for k in ("q", "kind", "sort", "startups") if filters.get(k)},
            },
            row_sorts=ROW_SORTS,
            kinds=list(PLANT_KINDS),
            chart_data=_chart_data(record),
        )
    elif record.status != SCHEDULE_FAILED:
        context["refresh_s"] = REFRESH_S
        context["progress"] = {
            "objective": None,
            "lower_bound": None,
            "gap": None,
            "elapsed_s": 0,
            **(record.progress or {}),
        }
    return render_template("schedule_detail.html", **context)


@bp.get("/schedules/<id:schedule_id>.csv")
def schedule_csv(schedule_id: int):
    record = schedule_jobs.get_schedule(schedule_id)
    if record.status != SCHEDULE_DONE:
        raise InvalidInput(
            f"Schedule {schedule_id} is {record.status}, not done: nothing to export."
        )
    starts = schedule_jobs.interval_starts(record)
    lines = schedule_files.export_rows(starts, schedule_jobs.iter_rows(schedule_id))
    return Response(
        stream_with_context(lines),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="schedule-{schedule_id}.csv"'},
    )
