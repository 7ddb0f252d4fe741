"""Schedules as jobs: asked for at once (``submit``), solved in the background by a
worker, kept with every plant's part.

**The queue is the ``schedule`` table itself** (no other service: the embedded SQLite
default needs none, and PostgreSQL deployments already have their database). A worker
*claims* a job with one conditional UPDATE (``status`` queued, or running with a
heartbeat older than the lease) and owns it while its heartbeat stays fresh: the
database lets only one UPDATE match (SQLite has one writer; PostgreSQL re-checks the
WHERE clause after the row lock), so two workers never take the same job. A worker
that dies mid-solve (SIGKILL, a lost server) stops beating; after ``SCHEDULE_LEASE_S``
another worker takes the job over, up to ``SCHEDULE_MAX_ATTEMPTS`` attempts, after
which it is marked ``failed`` with the reason. Every write a worker makes after the
claim checks that it still owns the job, so a worker that was presumed dead and comes
back cannot overwrite its successor.

Why not a job library: huey removes a task from its queue when a consumer takes it
(a consumer killed mid-task loses it), procrastinate and pgqueuer need PostgreSQL,
rq, dramatiq and celery need Redis or RabbitMQ; none fits "SQLite with no other
service" and "PostgreSQL with several servers, nothing lost" at once.

The workers themselves (threads, the loop, the transactions) are a door of their
own: ``vpp.worker``. These functions change the session and never commit.
"""

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from vpp.domain import (
    AVAILABILITY_CLEAR_SKY,
    AVAILABILITY_FULL,
    AVAILABILITY_REQUEST,
    PLANT_KINDS,
    SCHEDULE_DONE,
    SCHEDULE_FAILED,
    SCHEDULE_QUEUED,
    SCHEDULE_RUNNING,
    STATUS_DOWN,
)
from vpp.errors import InvalidInput
from vpp.extensions import db
from vpp.models import Plant, PlantLive, Schedule, SchedulePlantRow
from vpp.schemas import FINAL_SOC_FREE, ScheduleRequestSchema, resolve_store
from vpp.services import audit, forecasts, pages
from vpp.services.schedule import (
    ScheduleAnswer,
    ScheduleProblem,
    count_startups,
    plant_from_fields,
)

PLANT_COLUMNS = (
    "id", "name", "kind", "status", "min_capacity", "max_capacity", "marginal_cost",
    "ramp_up_kw_per_min", "ramp_down_kw_per_min", "min_up_minutes", "min_down_minutes",
    "startup_cost", "energy_capacity_kwh", "soc_kwh", "soc_min_kwh", "soc_max_kwh",
    "max_charge_kw", "charge_efficiency", "discharge_efficiency", "latitude", "longitude",
    "telemetry",
)  # fmt: skip
ROW_INSERT_BATCH = 2000


def _now() -> datetime:
    return datetime.now(UTC)


# --- asking -------------------------------------------------------------------------


def submit(data: dict[str, Any], *, actor: str) -> Schedule:
    """A queued schedule for ``data`` (loaded by ``ScheduleRequestSchema``). 422 for an
    availability profile of a plant that does not exist. Does not commit."""
    unknown = _unknown_plants(data["availability"])
    if unknown:
        shown = ", ".join(str(i) for i in unknown[:10]) + (" …" if len(unknown) > 10 else "")
        raise InvalidInput(
            f"Invalid availability: no plant has the id {shown}.",
            {f"availability.{i}": ["No plant has this id."] for i in unknown[:10]},
        )
    options = {
        "availability": {str(k): v for k, v in data["availability"].items()},
        "value_of_lost_load": data["value_of_lost_load"],
        "final_soc": data["final_soc"],
        "time_limit_s": data["time_limit_s"],
        "target_gap": data["target_gap"],
    }
    record = Schedule(
        created_by=actor,
        status=SCHEDULE_QUEUED,
        start=data["start"],
        resolution_minutes=data["resolution_minutes"],
        demand=data["demand"],
        options=options,
        attempts=0,
    )
    db.session.add(record)
    db.session.flush()
    audit.record(
        "schedule.create",
        f"schedule:{record.id}",
        after={
            "start": record.start.isoformat(),
            "resolution_minutes": record.resolution_minutes,
            "intervals": len(record.demand),
            "peak_demand_kw": max(record.demand),
        },
        actor=actor,
    )
    return record


def load_request(body: Any) -> dict[str, Any]:
    """``body`` checked by the schema the API uses (for the CLI and the pages)."""
    from marshmallow import ValidationError

    try:
        return ScheduleRequestSchema().load(body)
    except ValidationError as exc:
        raise InvalidInput.from_validation_error(exc, "schedule") from exc


def _unknown_plants(availability: dict[int, list[float]]) -> list[int]:
    wanted = sorted(availability)
    known: set[int] = set()
    for chunk in range(0, len(wanted), 900):  # SQLite's bound-parameter limit
        part = wanted[chunk : chunk + 900]
        known |= set(db.session.scalars(sa.select(Plant.id).where(Plant.id.in_(part))))
    return [i for i in wanted if i not in known]


# --- reading ------------------------------------------------------------------------


def get_schedule(schedule_id: int) -> Schedule:
    return pages.get_or_not_found(Schedule, schedule_id, "schedule")


def list_schedules(page: int, per_page: int) -> tuple[list[Schedule], int]:
    return pages.page_of(sa.select(Schedule).order_by(Schedule.id.desc()), page, per_page)


def schedule_as_dict(record: Schedule) -> dict[str, Any]:
    body = {
        "id": record.id,
        "status": record.status,
        "error": record.error,
        "created_at": record.created_at,
        "created_by": record.created_by,
        "start": record.start,
        "resolution_minutes": record.resolution_minutes,
        "demand": record.demand,
        "attempts": record.attempts,
        "heartbeat_at": record.heartbeat_at,
        "progress": record.progress,
        "plant_count": record.plant_count,
    }
    if record.status == SCHEDULE_DONE and record.result:
        body.update(record.result)
    return body


def find_rows(
    schedule_id: int,
    page: int,
    per_page: int,
    sort: str = "plant_id",
    kind: str | None = None,
    q: str | None = None,
    startups: bool = False,
) -> tuple[list[SchedulePlantRow], int]:
    query = sa.select(SchedulePlantRow).where(SchedulePlantRow.schedule_id == schedule_id)
    if kind:
        query = query.where(SchedulePlantRow.kind == kind)
    if q:
        query = query.where(pages.contains(SchedulePlantRow.name, q))
    if startups:
        query = query.where(SchedulePlantRow.startups > 0)
    order = {
        "plant_id": (SchedulePlantRow.plant_id,),
        "name": (SchedulePlantRow.name, SchedulePlantRow.plant_id),
        "energy": (SchedulePlantRow.energy_kwh.desc(), SchedulePlantRow.plant_id),
        "cost": (SchedulePlantRow.cost.desc(), SchedulePlantRow.plant_id),
        "startups": (SchedulePlantRow.startups.desc(), SchedulePlantRow.plant_id),
    }[sort]
    return pages.page_of(query.order_by(*order), page, per_page)


def row_as_dict(row: SchedulePlantRow) -> dict[str, Any]:
    return {
        "id": row.plant_id,
        "name": row.name,
        "kind": row.kind,
        "output": row.output,
        "soc": row.soc,
        "startups": row.startups,
        "energy_kwh": row.energy_kwh,
        "cost": row.cost,
        "availability_source": row.availability_source,
    }


def iter_rows(schedule_id: int, chunk: int = 2000):
    """Every plant row of a schedule, by plant id, a chunk at a time (CSV export)."""
    last = 0
    while True:
        rows = db.session.scalars(
            sa.select(SchedulePlantRow)
            .where(SchedulePlantRow.schedule_id == schedule_id, SchedulePlantRow.plant_id > last)
            .order_by(SchedulePlantRow.plant_id)
            .limit(chunk)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].plant_id
        db.session.expunge_all()


def interval_starts(record: Schedule) -> list[datetime]:
    step = timedelta(minutes=record.resolution_minutes)
    return [record.start + step * t for t in range(len(record.demand))]


# --- working ------------------------------------------------------------------------


def settings() -> tuple[float, int]:
    config = current_app.config
    return float(config["SCHEDULE_LEASE_S"]), int(config["SCHEDULE_MAX_ATTEMPTS"])


def _takeable(cutoff: datetime, max_attempts: int):
    return sa.or_(
        Schedule.status == SCHEDULE_QUEUED,
        sa.and_(
            Schedule.status == SCHEDULE_RUNNING,
            Schedule.heartbeat_at < cutoff,
            Schedule.attempts < max_attempts,
        ),
    )


def _abandoned(cutoff: datetime, max_attempts: int):
    return sa.and_(
        Schedule.status == SCHEDULE_RUNNING,
        Schedule.heartbeat_at < cutoff,
        Schedule.attempts >= max_attempts,
    )


def fail_abandoned() -> int:
    """Mark failed every running job whose worker stopped beating and which has had
    all its attempts; how many. Reads first, so that an idle worker's polling never
    takes SQLite's write lock. Does not commit."""
    lease_s, max_attempts = settings()
    abandoned = _abandoned(_now() - timedelta(seconds=lease_s), max_attempts)
    if db.session.scalar(sa.select(sa.func.count()).where(abandoned)) == 0:
        return 0
    return db.session.execute(
        sa.update(Schedule)
        .where(abandoned)
        .values(
            status=SCHEDULE_FAILED,
            finished_at=_now(),
            error=(
                f"The worker solving it stopped answering (no heartbeat for {lease_s:g} s) "
                f"on each of its {max_attempts} attempts; it was not tried again."
            ),
        )
    ).rowcount


def claim_candidates(schedule_id: int | None = None) -> list[int]:
    """The oldest jobs a worker may take (queued, or abandoned with attempts left), or
    only ``schedule_id``."""
    lease_s, max_attempts = settings()
    query = (
        sa.select(Schedule.id)
        .where(_takeable(_now() - timedelta(seconds=lease_s), max_attempts))
        .order_by(Schedule.id)
        .limit(5)
    )
    if schedule_id is not None:
        query = query.where(Schedule.id == schedule_id)
    return list(db.session.scalars(query))


def try_claim(candidate: int, worker: str) -> bool:
    """Make job ``candidate`` ``worker``'s if it is still takeable: one conditional
    UPDATE, which the database lets only one worker match. Does not commit."""
    lease_s, max_attempts = settings()
    now = _now()
    result = db.session.execute(
        sa.update(Schedule)
        .where(Schedule.id == candidate, _takeable(now - timedelta(seconds=lease_s), max_attempts))
        .values(
            status=SCHEDULE_RUNNING,
            worker=worker,
            heartbeat_at=now,
            started_at=now,
            attempts=Schedule.attempts + 1,
            progress={"objective": None, "lower_bound": None, "gap": None, "elapsed_s": 0},
        )
    )
    return result.rowcount == 1


def _owned(schedule_id: int, worker: str):
    return sa.and_(
        Schedule.id == schedule_id,
        Schedule.worker == worker,
        Schedule.status == SCHEDULE_RUNNING,
    )


def beat(schedule_id: int, worker: str, progress: dict[str, Any]) -> bool:
    """A running job's heartbeat and latest progress; False if it is no longer
    ``worker``'s. Does not commit."""
    result = db.session.execute(
        sa.update(Schedule)
        .where(_owned(schedule_id, worker))
        .values(heartbeat_at=_now(), progress=progress)
    )
    return result.rowcount == 1


def mark_failed(schedule_id: int, worker: str, error: str) -> bool:
    """``worker``'s job failed, with why. Does not commit."""
    result = db.session.execute(
        sa.update(Schedule)
        .where(_owned(schedule_id, worker))
        .values(status=SCHEDULE_FAILED, error=error[:2000], finished_at=_now())
    )
    return result.rowcount == 1


def _measured_charge(plants: list[dict]) -> None:
    """A telemetry store starts from the charge it last reported (within its range),
    not the one typed when it was registered."""
    stores = [p for p in plants if p.get("telemetry") and p["energy_capacity_kwh"]]
    if not stores:
        return
    reported = dict(
        db.session.execute(
            sa.select(PlantLive.plant_id, PlantLive.soc_kwh).where(
                PlantLive.plant_id.in_([p["id"] for p in stores]), PlantLive.soc_kwh.is_not(None)
            )
        ).all()
    )
    for plant in stores:
        if plant["id"] in reported:
            plant["soc_kwh"] = min(
                max(reported[plant["id"]], plant["soc_min_kwh"]), plant["soc_max_kwh"]
            )


def build_problem(record: Schedule) -> tuple[ScheduleProblem, list[dict], dict[int, str]]:
    """The fleet as it stands (every plant that is not down), its availability, and
    where each plant's availability came from."""
    columns = [getattr(Plant, name) for name in PLANT_COLUMNS]
    # A store's defaults filled in as the registry's rules say, also for a row written
    # around the app (the database's CHECKs allow the nulls the rules resolve).
    plants = [
        resolve_store(dict(zip(PLANT_COLUMNS, row, strict=True)))
        for row in db.session.execute(
            sa.select(*columns).where(Plant.status != STATUS_DOWN).order_by(Plant.id)
        )
    ]
    _measured_charge(plants)
    T = len(record.demand)
    given = {int(k): v for k, v in record.options["availability"].items()}
    sources: dict[int, str] = {}
    availability: dict[int, list[float]] = {}
    sunny = []
    for plant in plants:
        if plant["id"] in given:
            sources[plant["id"]] = AVAILABILITY_REQUEST
            availability[plant["id"]] = given[plant["id"]]
        elif (
            plant["kind"] == "solar"
            and plant["latitude"] is not None
            and plant["longitude"] is not None
        ):
            sources[plant["id"]] = AVAILABILITY_CLEAR_SKY
            sunny.append(plant)
        else:
            sources[plant["id"]] = AVAILABILITY_FULL
    if sunny:
        shares = forecasts.clear_sky_shares(
            ((p["latitude"], p["longitude"]) for p in sunny),
            record.start,
            record.resolution_minutes,
            T,
        )
        for plant in sunny:
            availability[plant["id"]] = shares[
                forecasts.grid_location(plant["latitude"], plant["longitude"])
            ]
    problem = ScheduleProblem(
        plants=[plant_from_fields(p) for p in plants],
        demand_kw=record.demand,
        resolution_minutes=record.resolution_minutes,
        availability=availability,
        value_of_lost_load=record.options["value_of_lost_load"],
        final_soc_free=record.options["final_soc"] == FINAL_SOC_FREE,
    )
    return problem, plants, sources


def result_summary(
    problem: ScheduleProblem, answer: ScheduleAnswer, plants: list[dict], sources: dict[int, str]
) -> dict[str, Any]:
    T = len(problem.demand_kw)
    by_kind = {kind: [0.0] * T for kind in PLANT_KINDS}
    for plant in plants:
        series = by_kind[plant["kind"]]
        for t, kw in enumerate(answer.output_kw[plant["id"]]):
            series[t] += kw
    stored = [0.0] * (T + 1)
    for socs in answer.soc_kwh.values():
        for t, kwh in enumerate(socs):
            stored[t] += kwh
    counts = {
        source: 0 for source in (AVAILABILITY_REQUEST, AVAILABILITY_CLEAR_SKY, AVAILABILITY_FULL)
    }
    for source in sources.values():
        counts[source] += 1
    delivered = [float(problem.demand_kw[t]) - answer.unmet_kw[t] for t in range(T)]
    return {
        "delivered": delivered,
        "unmet": answer.unmet_kw,
        "marginal_price": answer.marginal_price,
        "objective": answer.objective,
        "energy_cost": answer.energy_cost,
        "startup_cost": answer.startup_cost,
        "unmet_cost": answer.unmet_cost,
        "startups": answer.startups,
        "unmet_energy_kwh": math.fsum(answer.unmet_kw) * problem.hours,
        "lower_bound": answer.lower_bound,
        "gap": max(0.0, answer.gap),
        "optimal": answer.status == "optimal",
        "solver_status": answer.status,
        "solve_time_ms": answer.solve_time_s * 1000,
        "method": answer.method,
        "by_kind": {kind: series for kind, series in by_kind.items() if any(series)},
        "stored_energy_kwh": stored,
        "availability_sources": counts,
    }


def keep_answer(
    schedule_id: int,
    worker: str,
    problem: ScheduleProblem,
    answer: ScheduleAnswer,
    plants: list[dict],
    sources: dict[int, str],
) -> bool:
    """The answer and every plant's part, if the job is still ``worker``'s (else
    nothing, and False). Does not commit: the worker's one transaction holds it all."""
    owned = db.session.execute(
        sa.update(Schedule)
        .where(_owned(schedule_id, worker))
        .values(
            status=SCHEDULE_DONE,
            finished_at=_now(),
            progress=None,
            result=result_summary(problem, answer, plants, sources),
            plant_count=len(plants),
        )
    )
    if owned.rowcount != 1:
        return False
    per_mwh = problem.hours / 1000
    costs = {p.id: (p.cost, p.startup_cost, p.running) for p in problem.plants}
    rows = []
    for plant in plants:
        output = answer.output_kw[plant["id"]]
        cost, startup_cost, running = costs[plant["id"]]
        starts = count_startups(running, answer.on.get(plant["id"], ()))
        discharged = math.fsum(max(0.0, kw) for kw in output)
        rows.append(
            {
                "schedule_id": schedule_id,
                "plant_id": plant["id"],
                "name": plant["name"],
                "kind": plant["kind"],
                "output": output,
                "soc": answer.soc_kwh.get(plant["id"]),
                "startups": starts,
                "energy_kwh": math.fsum(output) * problem.hours,
                "cost": cost * discharged * per_mwh + startup_cost * starts,
                "availability_source": sources[plant["id"]],
            }
        )
        if len(rows) >= ROW_INSERT_BATCH:
            db.session.execute(sa.insert(SchedulePlantRow), rows)
            rows = []
    if rows:
        db.session.execute(sa.insert(SchedulePlantRow), rows)
    return True
