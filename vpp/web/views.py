"""The dashboard, the plant pages and the dispatch history. Views are thin: they call
``vpp.services`` inside one transaction and render; a rejected form re-renders with
its errors inline (status 422) and changes nothing."""

import math
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from vpp.auth import acting, authorize
from vpp.config import CHARTJS_CDN_INTEGRITY, CHARTJS_CDN_URL
from vpp.domain import PLANT_KINDS, PLANT_STATUSES, REASON_CODES, ROLE_OPERATOR, ROLE_VIEWER
from vpp.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from vpp.formatting import format_input
from vpp.models import Dispatch
from vpp.routing import MAX_ID, query_whole_number
from vpp.schemas import (
    DETAIL_SUMMARY,
    MAX_PAGE,
    PLANT_SORT_KEYS,
    SCHEDULE_FIELDS,
    DispatchRowsQuerySchema,
    PlantListQuerySchema,
)
from vpp.services import dispatch_runs, fleet, pages, telemetry
from vpp.web.forms import DeleteForm, DispatchForm, PlantForm
from vpp.web.submit import run_action, run_form

bp = Blueprint("web", __name__)
# Posts that change nothing (a dispatch preview): a viewer may send them.
READ_ONLY_POSTS = frozenset({"web.dashboard_preview"})


@bp.before_request
def operators_post() -> None:
    """Reading the pages needs a viewer (``vpp.auth``); changing anything, an operator."""
    if request.method == "POST" and request.endpoint not in READ_ONLY_POSTS:
        authorize(ROLE_OPERATOR)


# The prototype's dispatch control: the slider reaches 1.5 x the available capacity
# and starts at 80 % of it.
SLIDER_MAX_FACTOR = 1.5
SLIDER_DEFAULT_FACTOR = 0.8
# The slider moves in round steps: about this many across its range.
SLIDER_STEPS = 200
FLEET_PAGE_SIZE = 25
HISTORY_PAGE_SIZE = 25
ROWS_PAGE_SIZE = 50


def round_step(span: float, steps: int = SLIDER_STEPS) -> float:
    """A 1, 2 or 5 times a power of ten, near ``span / steps``: the slider's step."""
    if span <= 0:
        return 1.0
    raw = span / steps
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def listing_args(schema, defaults: dict[str, Any]) -> dict[str, Any]:
    """A page's query string checked by the API's schema for the same listing: a
    value that breaks a rule is dropped (the page shows the unfiltered listing),
    never a 500. Returns ``defaults`` updated with what passed."""
    raw = {key: value for key, value in request.args.items() if key in schema.fields}
    try:
        return {**defaults, **schema.load(raw)}
    except ValidationError as exc:
        good = {k: v for k, v in raw.items() if k not in exc.messages}
        return {**defaults, **schema.load(good)}


FLEET_SORTS = {
    "id": "Id",
    "name": "Name, A to Z",
    "-max_capacity": "Largest first",
    "max_capacity": "Smallest first",
    "marginal_cost": "Cheapest first",
    "-marginal_cost": "Dearest first",
    "status": "Status",
    "kind": "Kind",
}
ROW_SORTS = {
    "merit": "Merit order",
    "output": "Largest output first",
    "plant_id": "Plant id",
    "name": "Name, A to Z",
}


def _dispatch_shown(shown: Dispatch | None, demand: float) -> dict[str, Any] | None:
    """What the dispatch control shows: a recorded dispatch, or a preview of
    ``demand`` computed now (rendered by the server: no JavaScript needed)."""
    if shown is not None:
        return dispatch_runs.record_as_dict(shown, DETAIL_SUMMARY)
    if demand <= 0:
        return None
    try:
        preview = dispatch_runs.preview_dispatch(demand, authorize(ROLE_VIEWER).actor)
    except TooManyRequests:
        return None  # the caller's solver budget is spent: the page shows no preview
    return preview.as_dict(DETAIL_SUMMARY)


def _render_dashboard(
    plant_form: PlantForm | None = None,
    dispatch_form: DispatchForm | None = None,
    shown: Dispatch | None = None,
    status: int = 200,
):
    aggregate = fleet.aggregate()
    total = aggregate["total_available"]
    dispatch_form = dispatch_form or DispatchForm(formdata=None)
    step = round_step(total * SLIDER_MAX_FACTOR)
    if dispatch_form.demand.data:  # a demand typed and posted: its preview, if it is one
        try:
            demand = dispatch_runs.validate_demand(dispatch_form.demand.data)
        except InvalidInput:
            demand = 0.0
    else:
        demand = shown.demand if shown else round(total * SLIDER_DEFAULT_FACTOR / step) * step
        if demand > 0:
            dispatch_form.demand.data = f"{demand:.10g}"
    view = _dispatch_shown(shown, demand)
    filters = listing_args(PlantListQuerySchema(), {"page": 1, "sort": "id"})
    plants, matching = fleet.find_plants(
        filters["page"],
        FLEET_PAGE_SIZE,
        **{key: filters.get(key) for key in ("status", "kind", "q", "sort")},
    )
    chart_data = {
        "kinds": list(PLANT_KINDS),
        "statuses": list(PLANT_STATUSES),
        "capacity": aggregate["by_kind_and_status"],
        "dispatch": view,
    }
    fleet_args = {key: filters[key] for key in ("q", "status", "kind", "sort") if filters.get(key)}
    return (
        render_template(
            "dashboard.html",
            aggregate=aggregate,
            plants=plants,
            filters=filters,
            matching=matching,
            fleet_pages=pages.page_count(matching, FLEET_PAGE_SIZE),
            plant_form=plant_form or PlantForm(formdata=None),
            dispatch_form=dispatch_form,
            view=view,
            slider_max=total * SLIDER_MAX_FACTOR,
            slider_step=step,
            chart_data=chart_data,
            fleet_args=fleet_args,
            statuses=list(PLANT_STATUSES),
            kinds=list(PLANT_KINDS),
            sorts=[key for key in FLEET_SORTS if key.lstrip("-") in PLANT_SORT_KEYS],
            sort_label=lambda key: FLEET_SORTS.get(key, key),
        ),
        status,
    )


@bp.post("/preview")
def dashboard_preview():
    """The dispatch form's Preview button, for browsers without JavaScript: the
    dashboard with a preview of the typed demand (a read: viewers may)."""
    form = DispatchForm()
    if form.validate_on_submit():
        try:
            dispatch_runs.validate_demand(form.demand.data)
        except InvalidInput as exc:
            form.attach_errors(exc.fields)
        else:
            return _render_dashboard(dispatch_form=form)
    return _render_dashboard(dispatch_form=form, status=422)


@bp.get("/")
def dashboard():
    shown = None
    asked = request.args.get("dispatch")
    if asked is not None:
        dispatch_id = query_whole_number(asked, 1, MAX_ID)
        if dispatch_id is None:
            raise NotFound(f"No dispatch with id {asked[:40]!r}.")
        shown = dispatch_runs.get_dispatch(dispatch_id)
    return _render_dashboard(shown=shown)


@bp.post("/plants")
def add_plant():
    form = PlantForm()
    outcome = run_form(
        form, lambda: fleet.create_plant(form.plant_data(drop_empty=True), actor=acting())
    )
    if outcome.done:
        plant = outcome.result
        flash(f"Added plant {plant.name!r} (id {plant.id}).", "success")
        return redirect(url_for("web.dashboard") + "#fleet")
    return _render_dashboard(plant_form=form, status=422)


def _plant_form_values(plant) -> dict[str, Any]:
    """A stored plant as its edit form shows it: numbers as one would type them
    (``1200``, not ``1200.0``)."""
    values = fleet.plant_as_dict(plant)
    for name in ("max_capacity", "min_capacity", "marginal_cost", *SCHEDULE_FIELDS):
        values[name] = format_input(values[name])
    return values


@bp.route("/plants/<id:plant_id>/edit", methods=["GET", "POST"])
def edit_plant(plant_id: int):
    plant = fleet.get_plant(plant_id)
    form = PlantForm(data=_plant_form_values(plant))
    outcome = run_form(
        form,
        lambda: fleet.update_plant(plant_id, form.plant_data(drop_empty=False), actor=acting()),
    )
    if outcome.done:
        flash(f"Saved plant {outcome.result.name!r}.", "success")
        return redirect(url_for("web.dashboard") + "#fleet")
    current = None
    if isinstance(outcome.refusal, Conflict) and "version" in outcome.refusal.fields:
        # Someone saved the plant meanwhile: show what it holds now beside what was
        # typed, and let a second Save (from the current version) overwrite it.
        current = _plant_form_values(fleet.get_plant(plant_id))
        form.version.data = str(current["version"])
        changed = outcome.refusal.message.split(":")[0]
        form.form_errors[:] = [
            f"{changed}: someone saved it while you edited. Its values now are shown "
            "beside yours; Save again to keep yours, or go back to keep theirs."
        ]
    status = 422 if form.is_submitted() else 200
    return render_template(
        "plant_edit.html",
        plant=plant,
        form=form,
        delete_form=DeleteForm(),
        current=current,
        live=_live(plant),
    ), status


def _live(plant) -> dict[str, Any] | None:
    """A plant's latest reading and setpoint, for its page (None: it never reported
    and does not report telemetry)."""
    reading = telemetry.latest_reading(plant.id)
    if reading is None and not plant.telemetry:
        return None
    return {"reading": reading, "setpoint": telemetry.plant_setpoint(plant.id)}


@bp.post("/plants/<id:plant_id>/delete")
def delete_plant(plant_id: int):
    form = DeleteForm()
    outcome = run_action(
        form,
        lambda: fleet.delete_plant(plant_id, actor=acting()),
        lambda p: f"Deleted plant {p.name!r}.",
    )
    if not outcome.done and outcome.refusal is None:  # a stale or missing CSRF token
        plant = fleet.get_plant(plant_id)
        return render_template(
            "plant_edit.html",
            plant=plant,
            form=PlantForm(data=_plant_form_values(plant)),
            delete_form=form,
            current=None,
            live=_live(plant),
        ), 422
    return redirect(url_for("web.dashboard") + "#fleet")


@bp.post("/dispatch")
def dispatch():
    """Commit a dispatch (the form's button; the slider only previews through the
    API), then show it on the dashboard: post, redirect, get. With no plant
    available there is nothing to dispatch: the form says so and nothing is recorded."""
    form = DispatchForm()

    def commit():
        if fleet.aggregate()["total_available"] <= 0:
            raise InvalidInput(NOTHING_AVAILABLE, {"demand": [NOTHING_AVAILABLE]})
        return dispatch_runs.commit_dispatch(form.demand.data, actor=acting())

    outcome = run_form(form, commit, field="demand")
    if outcome.done:
        flash(f"Dispatch {outcome.result.id} recorded.", "success")
        return redirect(url_for("web.dashboard", dispatch=outcome.result.id) + "#dispatch")
    return _render_dashboard(dispatch_form=form, status=422)


NOTHING_AVAILABLE = (
    "No plant is available to dispatch: register plants, or bring one back from down."
)


# A failed post shows its page at the post's address; asked for again by GET (a
# reload after the browser forgot the form, a bookmarked address) it is the page the
# form is on, not a 405.
@bp.get("/plants")
def plants_page():
    return redirect(url_for("web.dashboard") + "#fleet")


@bp.get("/dispatch")
@bp.get("/preview")
def dispatch_page():
    return redirect(url_for("web.dashboard") + "#dispatch")


@bp.get("/plants/<id:plant_id>/delete")
def delete_page(plant_id: int):
    return redirect(url_for("web.edit_plant", plant_id=plant_id))


@bp.get("/dispatches")
def dispatch_history():
    order = request.args.get("order", "newest")
    order = order if order in dispatch_runs.HISTORY_ORDERS else "newest"
    unmet_only = request.args.get("unmet") == "1"
    page = query_whole_number(request.args.get("page"), 1, MAX_PAGE) or 1
    items, total = dispatch_runs.list_dispatches(page, HISTORY_PAGE_SIZE, order, unmet_only)
    return render_template(
        "dispatches.html",
        items=items,
        page=page,
        pages=pages.page_count(total, HISTORY_PAGE_SIZE),
        total=total,
        order=order,
        orders=list(dispatch_runs.HISTORY_ORDERS),
        unmet_only=unmet_only,
        history_args={"order": order, **({"unmet": "1"} if unmet_only else {})},
    )


@bp.get("/dispatches/<id:dispatch_id>")
def dispatch_detail(dispatch_id: int):
    record = dispatch_runs.get_dispatch(dispatch_id)
    view = dispatch_runs.record_as_dict(record, DETAIL_SUMMARY)
    filters = listing_args(
        DispatchRowsQuerySchema(), {"page": 1, "sort": "merit", "startups": False}
    )
    rows, matching = dispatch_runs.find_dispatch_rows(
        dispatch_id,
        filters["page"],
        ROWS_PAGE_SIZE,
        filters["sort"],
        **{key: filters.get(key) for key in ("reason", "kind", "q", "startups")},
    )
    return render_template(
        "dispatch_detail.html",
        view=view,
        rows=rows,
        filters=filters,
        matching=matching,
        row_pages=pages.page_count(matching, ROWS_PAGE_SIZE),
        row_args={
            "dispatch_id": dispatch_id,
            **{
                k: filters[k] for k in ("q", "reason", "kind", "sort", "startups") if filters.get(k)
            },
        },
        row_sorts=ROW_SORTS,
        kinds=list(PLANT_KINDS),
        chart_data={"kinds": list(PLANT_KINDS), "dispatch": view},
    )


@bp.app_context_processor
def page_settings() -> dict[str, Any]:
    return {
        "config_chartjs": {
            "source": current_app.config["CHARTJS_SOURCE"],
            "cdn_url": CHARTJS_CDN_URL,
            "integrity": CHARTJS_CDN_INTEGRITY,
            "timeout_ms": current_app.config["CHARTJS_CDN_TIMEOUT_MS"],
        },
        "reason_words": REASON_CODES,
    }
