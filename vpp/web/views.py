"""The dashboard and the plant pages. Views are thin: they call ``vpp.services``
inside one transaction and render; a rejected form re-renders with its errors
inline (status 422) and changes nothing."""

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, url_for

from vpp.config import CHARTJS_CDN_INTEGRITY, CHARTJS_CDN_URL
from vpp.domain import PLANT_STATUSES
from vpp.errors import Conflict, InvalidInput
from vpp.services import fleet
from vpp.services.dispatch import DispatchResult
from vpp.transactions import transaction
from vpp.web.forms import DeleteForm, DispatchForm, PlantForm

bp = Blueprint("web", __name__)

# The prototype's dispatch control: the slider reaches 1.5 x the available capacity
# and starts at 80 % of it.
SLIDER_MAX_FACTOR = 1.5
SLIDER_DEFAULT_FACTOR = 0.8


def _render_dashboard(
    plant_form: PlantForm | None = None,
    dispatch_form: DispatchForm | None = None,
    result: DispatchResult | None = None,
    status: int = 200,
):
    plants = fleet.list_plants()
    aggregate = fleet.aggregate()
    total = aggregate["total_available"]
    dispatch_form = dispatch_form or DispatchForm()
    if dispatch_form.demand.data is None and total > 0:
        dispatch_form.demand.data = f"{round(total * SLIDER_DEFAULT_FACTOR, 3):g}"
    names = {plant.id: plant.name for plant in plants}
    chart_data: dict[str, Any] = {
        "statuses": list(PLANT_STATUSES),
        "capacities": [
            {"id": p.id, "name": p.name, "max": p.max_capacity, "status": p.status} for p in plants
        ],
        "dispatch": fleet.dispatch_as_dict(result) if result else None,
        "names": {str(pid): name for pid, name in names.items()},
    }
    return (
        render_template(
            "dashboard.html",
            plants=plants,
            aggregate=aggregate,
            plant_form=plant_form or PlantForm(formdata=None),
            dispatch_form=dispatch_form,
            result=result,
            names=names,
            slider_max=total * SLIDER_MAX_FACTOR,
            chart_data=chart_data,
            chartjs_source=current_app.config["CHARTJS_SOURCE"],
        ),
        status,
    )


@bp.get("/")
def dashboard():
    return _render_dashboard()


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


@bp.route("/plants/<int:plant_id>/edit", methods=["GET", "POST"])
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


@bp.post("/plants/<int:plant_id>/delete")
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
    form = DispatchForm()
    if form.validate_on_submit():
        try:
            result = fleet.run_dispatch(form.demand.data)
        except InvalidInput as exc:
            form.attach_errors(exc.fields)
        else:
            return _render_dashboard(dispatch_form=form, result=result)
    return _render_dashboard(dispatch_form=form, status=422)


@bp.app_context_processor
def chartjs_settings() -> dict[str, Any]:
    return {
        "config_chartjs": {
            "cdn_url": CHARTJS_CDN_URL,
            "integrity": CHARTJS_CDN_INTEGRITY,
            "timeout_ms": current_app.config["CHARTJS_CDN_TIMEOUT_MS"],
        }
    }
