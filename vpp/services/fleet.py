"""The fleet registry: register, edit, retire plants, and aggregate their capacity.

Shared by the API, the pages and the CLI. These functions validate their input
with ``vpp.schemas`` and change the session, but they **do not commit**: the door
owns the transaction (``vpp.transactions.transaction``), so that a request or a
CLI command lands whole or not at all.
"""

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError

from vpp.domain import PLANT_KINDS, PLANT_STATUSES, STATUS_DOWN
from vpp.errors import Conflict, InvalidInput, NotFound
from vpp.extensions import db
from vpp.models import Plant
from vpp.schemas import PlantPatchSchema, PlantSchema, check_capacity_bounds
from vpp.services import audit

PLANT_FIELDS = tuple(name for name, f in PlantSchema().fields.items() if not f.dump_only)
PLANT_API_FIELDS = ("id", *PLANT_FIELDS, "version")

_plant_schema = PlantSchema()
_plant_patch_schema = PlantPatchSchema()


def validate_plant(data: Mapping[str, Any]) -> dict[str, Any]:
    """Check a whole new plant against the field rules; return the clean values."""
    try:
        return _plant_schema.load(dict(data))
    except ValidationError as exc:
        raise InvalidInput.from_validation_error(exc, "plant") from exc


def list_plants() -> list[Plant]:
    return list(db.session.scalars(sa.select(Plant).order_by(Plant.id)))


def get_plant(plant_id: int) -> Plant:
    plant = db.session.get(Plant, plant_id)
    if plant is None:
        raise NotFound(f"No plant with id {plant_id}.")
    return plant


def _check_name_free(name: str, except_id: int | None = None) -> None:
    query = sa.select(Plant.id).where(Plant.name == name)
    if except_id is not None:
        query = query.where(Plant.id != except_id)
    if db.session.scalar(query) is not None:
        raise Conflict(
            f"A plant named {name!r} already exists.",
            {"name": ["A plant with this name already exists."]},
        )


def create_plant(data: Mapping[str, Any]) -> Plant:
    """Validate and add one plant; flushes (the plant gets its id), does not commit.

    Raises ``InvalidInput`` (a field rule) or ``Conflict`` (the name is taken).
    """
    values = validate_plant(data)
    _check_name_free(values["name"])
    plant = Plant(**values)
    db.session.add(plant)
    db.session.flush()
    audit.record("plant.create", f"plant:{plant.id}", after=plant_as_dict(plant))
    return plant


def create_plants(rows: Iterable[Mapping[str, Any]], first_line: int = 2) -> list[Plant]:
    """Validate and add many plants (a CSV import), all or none; does not commit.

    Every row is checked before anything is added, and every bad row is reported
    in one ``InvalidInput`` whose fields are keyed ``line N``, counting lines from
    ``first_line`` (the line of the first row in the file).
    """
    problems: dict[str, list[str]] = {}
    valid: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows, start=first_line):
        try:
            values = _plant_schema.load(dict(row))
        except ValidationError as exc:
            problems[f"line {line}"] = [
                f"{name}: {' '.join(msgs)}"
                for name, msgs in InvalidInput.from_validation_error(exc).fields.items()
            ]
            continue
        name = values["name"]
        if name in seen:
            problems[f"line {line}"] = [f"name: {name!r} is also on line {seen[name]}."]
            continue
        seen[name] = line
        valid.append(values)
    if seen:
        taken = db.session.scalars(sa.select(Plant.name).where(Plant.name.in_(list(seen))))
        for name in taken:
            problems.setdefault(f"line {seen[name]}", []).append(
                f"name: a plant named {name!r} already exists."
            )
    if problems:
        lines = "; ".join(f"{key}: {' '.join(msgs)}" for key, msgs in problems.items())
        raise InvalidInput(f"{len(problems)} bad row(s), nothing imported: {lines}", problems)
    plants = [Plant(**values) for values in valid]
    db.session.add_all(plants)
    db.session.flush()
    audit.record_many("plant.create", [(f"plant:{p.id}", None, plant_as_dict(p)) for p in plants])
    return plants


def update_plant(plant_id: int, changes: Mapping[str, Any]) -> Plant:
    """Apply a partial update; the merged plant must keep every rule. With
    ``version`` in ``changes``, refuse (``Conflict``) if the plant has changed
    since that version; two concurrent updates from the same version cannot both
    land either way (the model's version column). Does not commit."""
    plant = get_plant(plant_id)
    try:
        values = _plant_patch_schema.load(dict(changes))
        check_capacity_bounds(
            values.get("min_capacity", plant.min_capacity),
            values.get("max_capacity", plant.max_capacity),
        )
    except ValidationError as exc:
        raise InvalidInput.from_validation_error(exc, "plant") from exc
    expected_version = values.pop("version", None)
    if expected_version is not None and expected_version != plant.version:
        raise Conflict(
            f"Plant {plant.id} has changed since version {expected_version} "
            f"(it is at version {plant.version}): reload it and try again.",
            {
                "version": [
                    f"The plant has changed since version {expected_version} "
                    f"(it is at version {plant.version}): reload it and try again."
                ]
            },
        )
    if "name" in values and values["name"] != plant.name:
        _check_name_free(values["name"], except_id=plant.id)
    before = plant_as_dict(plant)
    for key, value in values.items():
        setattr(plant, key, value)
    db.session.flush()
    after = plant_as_dict(plant)
    if after != before:
        changed = [k for k in after if after[k] != before[k]]
        audit.record(
            "plant.update",
            f"plant:{plant.id}",
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
    return plant


def delete_plant(plant_id: int) -> Plant:
    """Retire a plant from the fleet. Does not commit."""
    plant = get_plant(plant_id)
    audit.record("plant.delete", f"plant:{plant.id}", before=plant_as_dict(plant))
    db.session.delete(plant)
    db.session.flush()
    return plant


def plant_as_dict(plant: Plant) -> dict[str, Any]:
    return {name: getattr(plant, name) for name in PLANT_API_FIELDS}


def aggregate() -> dict[str, Any]:
    """Fleet capacity at a glance (kW).

    ``total_available`` is the prototype's figure: the sum of ``max_capacity`` over
    plants that are not down. ``total_min_available`` is the sum of their minimum
    stable outputs. ``by_status`` and ``by_kind`` give counts and summed
    ``max_capacity``; every status and kind appears, with zeros where none.
    """
    rows = db.session.execute(
        sa.select(
            Plant.status,
            Plant.kind,
            sa.func.count(),
            sa.func.sum(Plant.max_capacity),
            sa.func.sum(Plant.min_capacity),
        ).group_by(Plant.status, Plant.kind)
    ).all()
    by_status = {s: {"count": 0, "max_capacity": 0.0} for s in PLANT_STATUSES}
    by_kind = {k: {"count": 0, "max_capacity": 0.0} for k in PLANT_KINDS}
    total_available = total_min_available = 0.0
    plant_count = 0
    for status, kind, count, max_sum, min_sum in rows:
        plant_count += count
        by_status[status]["count"] += count
        by_status[status]["max_capacity"] += max_sum
        by_kind[kind]["count"] += count
        by_kind[kind]["max_capacity"] += max_sum
        if status != STATUS_DOWN:
            total_available += max_sum
            total_min_available += min_sum
    return {
        "total_available": total_available,
        "total_min_available": total_min_available,
        "plant_count": plant_count,
        "by_status": by_status,
        "by_kind": by_kind,
    }
