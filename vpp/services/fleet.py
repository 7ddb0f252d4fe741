"""The fleet registry: register, edit, retire plants, and aggregate their capacity.

Shared by the API, the pages and the CLI. These functions validate their input
with ``vpp.schemas`` and change the session, but they **do not commit**: the door
owns the transaction (``vpp.transactions.transaction``), so that a request or a
CLI command lands whole or not at all.
"""

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError

from vpp.domain import PLANT_KINDS, PLANT_STATUSES, STATUS_DOWN
from vpp.errors import Conflict, InvalidInput
from vpp.extensions import db
from vpp.models import Plant, bump_fleet_version
from vpp.schemas import (
    STORE_FIELDS,
    PlantPatchSchema,
    PlantSchema,
    check_capacity_bounds,
    resolve_store,
)
from vpp.services import audit, fleet_cache, pages

PLANT_FIELDS = tuple(name for name, f in PlantSchema().fields.items() if not f.dump_only)
PLANT_API_FIELDS = ("id", *PLANT_FIELDS, "status_reason", "version")

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


API_COLUMNS = tuple(getattr(Plant, name) for name in PLANT_API_FIELDS)


def _filtered(query, status=None, kind=None, q=None):
    if status:
        query = query.where(Plant.status == status)
    if kind:
        query = query.where(Plant.kind == kind)
    if q:
        query = query.where(pages.contains(Plant.name, q))
    return query


def _ordered(query, sort: str = "id"):
    descending = sort.startswith("-")
    column = getattr(Plant, sort.lstrip("-"))
    order = column.desc() if descending else column.asc()
    return query.order_by(order, Plant.id.desc() if descending else Plant.id)


def plant_rows(status=None, kind=None, q=None, sort: str = "id") -> list[dict[str, Any]]:
    """Every plant that passes the filters, as the API shows them, read as plain rows
    (no ORM objects, no schema): the fast path for the whole fleet."""
    query = _ordered(_filtered(sa.select(*API_COLUMNS), status, kind, q), sort)
    return [dict(zip(PLANT_API_FIELDS, row, strict=True)) for row in db.session.execute(query)]


def find_plants(
    page: int, per_page: int, status=None, kind=None, q=None, sort: str = "id"
) -> tuple[list[dict[str, Any]], int]:
    """One page of the plants that pass the filters (``status``, ``kind``, ``q`` a part
    of the name, any case), sorted by ``sort`` (``schemas.PLANT_SORT_KEYS``, ``-`` for
    descending; ties by id), and how many pass in all."""
    if status or kind or q:
        total = db.session.scalar(_filtered(sa.select(sa.func.count(Plant.id)), status, kind, q))
    else:  # the whole fleet: counted once per fleet version
        total = aggregate()["plant_count"]
    query = _ordered(_filtered(sa.select(*API_COLUMNS), status, kind, q), sort)
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page))
    return [dict(zip(PLANT_API_FIELDS, row, strict=True)) for row in rows], total


def get_plant(plant_id: int) -> Plant:
    return pages.get_or_not_found(Plant, plant_id, "plant")


def _check_name_free(name: str, except_id: int | None = None) -> None:
    query = sa.select(Plant.id).where(Plant.name == name)
    if except_id is not None:
        query = query.where(Plant.id != except_id)
    if db.session.scalar(query) is not None:
        raise Conflict(
            f"A plant named {name!r} already exists.",
            {"name": ["A plant with this name already exists."]},
        )


def create_plant(data: Mapping[str, Any], *, actor: str) -> Plant:
    """Validate and add one plant for ``actor`` (who is audited as doing it); flushes
    (the plant gets its id), does not commit.

    Raises ``InvalidInput`` (a field rule) or ``Conflict`` (the name is taken).
    """
    values = validate_plant(data)
    _check_name_free(values["name"])
    plant = Plant(**values)
    db.session.add(plant)
    db.session.flush()
    audit.record("plant.create", f"plant:{plant.id}", after=plant_as_dict(plant), actor=actor)
    return plant


# How many bad plants a rejected batch names in its message (every one is in ``fields``).
SHOWN_PROBLEMS = 20
# Names looked up per query when a batch checks which are taken (SQLite's limit on
# bound parameters is 32,766).
NAME_LOOKUP_CHUNK = 10_000
# Plants per INSERT (and their audit events): bounds the memory of a large batch.
INSERT_CHUNK = 5_000


def validate_plants(rows: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], dict]:
    """Check every row of a batch against the field rules, and names against each
    other and the fleet. Returns the clean values and the problems, ``{(index,
    field): [message, ...]}`` in row order (index from 0); nothing is written."""
    problems: dict[tuple[int, str], list[str]] = {}
    valid: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        try:
            values = _plant_schema.load(dict(row) if isinstance(row, Mapping) else row)
        except ValidationError as exc:
            for name, messages in InvalidInput.from_validation_error(exc).fields.items():
                problems[(index, name)] = messages
            continue
        name = values["name"]
        if name in seen:
            problems[(index, "name")] = [f"{name!r} appears earlier in this batch."]
            continue
        seen[name] = index
        valid.append(values)
    names = list(seen)
    for start in range(0, len(names), NAME_LOOKUP_CHUNK):
        chunk = names[start : start + NAME_LOOKUP_CHUNK]
        for name in db.session.scalars(sa.select(Plant.name).where(Plant.name.in_(chunk))):
            problems[(seen[name], "name")] = [f"A plant named {name!r} already exists."]
    return valid, dict(sorted(problems.items()))


def create_plants(rows: Iterable[Mapping[str, Any]], *, actor: str) -> list[dict[str, Any]]:
    """Validate and add many plants (an API array, a CSV import), all or none; does
    not commit. Returns them as the API shows them, in the order given.

    Every row is checked before anything is added; a bad batch raises one
    ``InvalidInput`` whose ``fields`` are keyed ``INDEX.FIELD`` (``3.max_capacity``,
    index from 0) and whose message names the first few. The rows go in as one
    multi-row INSERT (with the fleet version bumped and one audit event per plant in
    the same transaction), not one ORM object each: 100,000 plants in seconds.
    """
    valid, problems = validate_plants(rows)
    if problems:
        raise InvalidInput(describe_batch_problems(problems), batch_fields(problems))
    return insert_plants(valid, actor=actor)


def insert_plants(valid: list[dict[str, Any]], *, actor: str) -> list[dict[str, Any]]:
    """Add plants whose values ``validate_plants`` has cleaned (with nothing else
    written between, in one transaction); returns them as the API shows them, in
    order. Does not commit."""
    if not valid:
        return []
    now = datetime.now(UTC)
    created: list[dict[str, Any]] = []
    for start in range(0, len(valid), INSERT_CHUNK):
        chunk = valid[start : start + INSERT_CHUNK]
        for values in chunk:
            values["created_at"] = values["updated_at"] = now
        # Core executemany, not the ORM's bulk path nor RETURNING (which SQLite answers
        # one row per statement): then the ids, by the names, which are unique.
        table = Plant.__table__
        connection = db.session.connection()
        connection.execute(sa.insert(table), chunk)
        names = [values["name"] for values in chunk]
        id_of = dict(
            connection.execute(
                sa.select(table.c.name, table.c.id).where(table.c.name.in_(names))
            ).all()
        )
        chunk_ids = [id_of[name] for name in names]
        plants = [
            {"id": plant_id, **_api_values(values), "status_reason": None, "version": 1}
            for plant_id, values in zip(chunk_ids, chunk, strict=True)
        ]
        audit.record_many(
            "plant.create", [(f"plant:{p['id']}", None, p) for p in plants], actor=actor
        )
        created += plants
    bump_fleet_version(db.session)
    return created


def _api_values(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: values[name] for name in PLANT_FIELDS}


def batch_fields(problems: dict[tuple[int, str], list[str]]) -> dict[str, list[str]]:
    return {f"{index}.{name}": messages for (index, name), messages in problems.items()}


def describe_batch_problems(
    problems: dict[tuple[int, str], list[str]], label=lambda index: f"plant {index}"
) -> str:
    """One sentence for a rejected batch: how many rows are bad, and the first
    ``SHOWN_PROBLEMS`` of them (``label`` names a row: its index, its line...)."""
    bad = sorted({index for index, _ in problems})
    shown = [
        f"{label(index)}: {name}: {' '.join(messages)}"
        for (index, name), messages in problems.items()
        if index in set(bad[:SHOWN_PROBLEMS])
    ]
    more = f"; and {len(bad) - SHOWN_PROBLEMS} more" if len(bad) > SHOWN_PROBLEMS else ""
    return f"{len(bad)} bad plant(s), nothing registered: {'; '.join(shown)}{more}."


def update_plant(plant_id: int, changes: Mapping[str, Any], *, actor: str) -> Plant:
    """Apply a partial update; the merged plant must keep every rule. With
    ``version`` in ``changes``, refuse (``Conflict``) if the plant has changed
    since that version; two concurrent updates from the same version cannot both
    land either way (the model's version column). Does not commit."""
    plant = get_plant(plant_id)
    try:
        values = _plant_patch_schema.load(dict(changes))
        merged = {**plant_as_dict(plant), **values}
        if values.get("energy_capacity_kwh", ...) is None:
            # No longer a store: its storage settings go with it, unless given.
            merged.update({name: values.get(name) for name in STORE_FIELDS})
        check_capacity_bounds(merged["min_capacity"], merged["max_capacity"])
        resolved = resolve_store(merged)
    except ValidationError as exc:
        raise InvalidInput.from_validation_error(exc, "plant") from exc
    # The storage settings as the rules resolve them (defaults filled in).
    for name in (*STORE_FIELDS, "energy_capacity_kwh"):
        if resolved[name] != getattr(plant, name):
            values[name] = resolved[name]
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
            actor=actor,
        )
    return plant


def delete_plant(plant_id: int, *, actor: str) -> Plant:
    """Retire a plant from the fleet. Does not commit."""
    plant = get_plant(plant_id)
    audit.record("plant.delete", f"plant:{plant.id}", before=plant_as_dict(plant), actor=actor)
    db.session.delete(plant)
    db.session.flush()
    return plant


def plant_as_dict(plant: Plant) -> dict[str, Any]:
    return {name: getattr(plant, name) for name in PLANT_API_FIELDS}


def aggregate() -> dict[str, Any]:
    """``summarise_fleet``, kept per process until the fleet changes (``fleet_cache``)."""
    return fleet_cache.cached("aggregate", summarise_fleet)


def summarise_fleet() -> dict[str, Any]:
    """Fleet capacity at a glance (kW).

    ``total_available`` is the prototype's figure: the sum of ``max_capacity`` over
    plants that are not down. ``total_min_available`` is the sum of their minimum
    stable outputs. ``by_status`` and ``by_kind`` give counts and summed
    ``max_capacity``; every status and kind appears, with zeros where none.
    ``by_kind_and_status`` is the capacity (kW) of each kind in each status.
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
    by_kind_and_status = {k: {s: 0.0 for s in PLANT_STATUSES} for k in PLANT_KINDS}
    total_available = total_min_available = 0.0
    plant_count = 0
    for status, kind, count, max_sum, min_sum in rows:
        plant_count += count
        by_status[status]["count"] += count
        by_status[status]["max_capacity"] += max_sum
        by_kind[kind]["count"] += count
        by_kind[kind]["max_capacity"] += max_sum
        by_kind_and_status[kind][status] += max_sum
        if status != STATUS_DOWN:
            total_available += max_sum
            total_min_available += min_sum
    return {
        "total_available": total_available,
        "total_min_available": total_min_available,
        "plant_count": plant_count,
        "by_status": by_status,
        "by_kind": by_kind,
        "by_kind_and_status": by_kind_and_status,
    }
