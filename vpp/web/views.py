"""The dashboard, the plant pages and the dispatch history. Views are thin: they call
``vpp.services`` inside one transaction and render; a rejected form re-renders with
its errors inline (status 422) and changes nothing."""

import math
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from vpp.auth import authorize
from vpp.config import CHARTJS_CDN_INTEGRITY, CHARTJS_CDN_URL
from vpp.domain import PLANT_STATUSES, REASON_CODES, ROLE_OPERATOR
from vpp.errors import Conflict, InvalidInput, NotFound
from vpp.models import Dispatch
from vpp.routing import MAX_ID, query_whole_number
from vpp.schemas import MAX_PAGE
from vpp.services import dispatch_runs, fleet
from vpp.transactions import transaction
from vpp.web.forms import DeleteForm, DispatchForm, PlantForm

bp = Blueprint("web", __name__)


@bp.before_request
def operators_post() -> None:
    """Reading the pages needs a viewer (``vpp.auth``); changing anything, an operator."""
    if request.method == "POST":
        authorize(ROLE_OPERATOR)


# The prototype's dispatch control: the slider reaches 1.5 x the available capacity
# and starts at 80 % of it.
SLIDER_MAX_FACTOR = 1.5
SLIDER_DEFAULT_FACTOR = 0.8
HISTORY_PAGE_SIZE = 25


def dispatch_view(record: Dispatch) -> dict[str, Any]:
    """A committed dispatch as the templates and the charts read it: the totals, and
    one row per plant as it was then, with its output and the reason for it, in
    merit order."""
    summary = dispatch_runs.record_summary(record)
    rows = [
        {
            "id": a.plant_id,
            "name": a.plant_name,
            "status": a.status,
            "min": a.min_capacity,
            "max": a.max_capacity,
            "cost": a.marginal_cost,
            "output": a.output,
            "reason": a.reason,
        }
        for a in record.allocations
    ]
    rows.sort(key=merit_order)
    return {**summary, "rows": rows}


def merit_order(row: dict[str, Any]) -> tuple[bool, float, int]:
    """Cheapest first, down plants last (the dashboard's JavaScript sorts alike)."""
    return (row["reason"] == "down", row["cost"], row["id"])


def _page_data(**extra: Any) -> dict[str, Any]:
    return {"statuses": list(PLANT_STATUSES), "reasons": REASON_CODES, **extra}


def _render_dashboard(
    plant_form: PlantForm | None = None,
    dispatch_form: DispatchForm | None = None,
    shown: Dispatch | None = None,
    status: int = 200,
):
    plants = fleet.list_plants()
    aggregate = fleet.aggregate()
    total = aggregate["total_available"]
    dispatch_form = dispatch_form or DispatchForm(formdata=None)
    if not dispatch_form.demand.data:
        demand = shown.demand if shown else total * SLIDER_DEFAULT_FACTOR
        if demand > 0:
            dispatch_form.demand.data = f"{round(demand, 3):g}"
    view = dispatch_view(shown) if shown else None
    chart_data = _page_data(
        plants=[
            {
                "id": p.id,
                "name": p.name,
                "status": p.status,
                "min": p.min_capacity,
                "max": p.max_capacity,
                "cost": p.marginal_cost,
            }
            for p in plants
        ],
        dispatch=view,
    )
    return (
        render_template(
            "dashboard.html",
            plants=plants,
            aggregate=aggregate,
            plant_form=plant_form or PlantForm(formdata=None),
            dispatch_form=dispatch_form,
            view=view,
            slider_max=total * SLIDER_MAX_FACTOR,
            chart_data=chart_data,
        ),
        status,
    )


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
    if form.validate_on_submit():
        try:
            with transaction():
                plant = fleet.create_plant(form.plant_data(drop_empty=True))
        except (InvalidInput, Conflict) as exc:
            form.attach_errors(exc.fields or {"_schema": [exc.message]})
        else:
            flash(f"Added plant {plant.name!r} (id {plant.id}).", "success")
            return redirect(url_for("web.dashboard") + "#fleet")
    return _render_dashboard(plant_form=form, status=422)


@bp.route("/plants/<id:plant_id>/edit", methods=["GET", "POST"])
def edit_plant(plant_id: int):
    plant = fleet.get_plant(plant_id)
    form = PlantForm(obj=plant)
    if form.validate_on_submit():
        try:
            with transaction():
                plant = fleet.update_plant(plant_id, form.plant_data(drop_empty=False))
        except (InvalidInput, Conflict) as exc:
            form.attach_errors(exc.fields or {"_schema": [exc.message]})
        else:
            flash(f"Saved plant {plant.name!r}.", "success")
            return redirect(url_for("web.dashboard") + "#fleet")
    status = 422 if form.is_submitted() else 200
    return render_template(
        "plant_edit.html", plant=plant, form=form, delete_form=DeleteForm()
    ), status


@bp.post("/plants/<id:plant_id>/delete")
def delete_plant(plant_id: int):
    form = DeleteForm()
    if not form.validate_on_submit():
        plant = fleet.get_plant(plant_id)
        return render_template(
            "plant_edit.html", plant=plant, form=PlantForm(obj=plant), delete_form=form
        ), 422
    with transaction():
        plant = fleet.delete_plant(plant_id)
    flash(f"Deleted plant {plant.name!r}.", "success")
    return redirect(url_for("web.dashboard") + "#fleet")


@bp.post("/dispatch")
def dispatch():
    """Commit a dispatch (the form's button; the slider only previews through the
    API), then show it on the dashboard: post, redirect, get."""
    form = DispatchForm()
    if form.validate_on_submit():
        try:
            with transaction():
                record = dispatch_runs.commit_dispatch(form.demand.data)
        except InvalidInput as exc:
            form.attach_errors(exc.fields)
        else:
            flash(f"Dispatch {record.id} recorded.", "success")
            return redirect(url_for("web.dashboard", dispatch=record.id) + "#dispatch")
    return _render_dashboard(dispatch_form=form, status=422)


@bp.get("/dispatches")
def dispatch_history():
    page = query_whole_number(request.args.get("page"), 1, MAX_PAGE) or 1
    items, total = dispatch_runs.list_dispatches(page, HISTORY_PAGE_SIZE)
    return render_template(
        "dispatches.html",
        items=items,
        page=page,
        pages=max(1, math.ceil(total / HISTORY_PAGE_SIZE)),
        total=total,
    )


@bp.get("/dispatches/<id:dispatch_id>")
def dispatch_detail(dispatch_id: int):
    view = dispatch_view(dispatch_runs.get_dispatch(dispatch_id))
    return render_template(
        "dispatch_detail.html", view=view, chart_data=_page_data(plants=[], dispatch=view)
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
