"""Dispatch runs: previews of a demand against the current fleet, and committed
dispatches kept as history.

Previews use a ``PreparedFleet`` cached per process and per fleet version (the
``fleet_version`` row that every plant write bumps in its own transaction), so a
preview reads one integer from the database unless the fleet changed.

Committing first takes the fleet's write lock (``lock_fleet``: an UPDATE of the
``fleet_version`` row, which every plant write also updates), then reads the fleet,
solves and records, all in one transaction: no plant write can land between the
read and the record, so a recorded dispatch is exactly the answer for the fleet as
it was when it was recorded. Plant writes wait for it (at most the commit time
limit plus the write; SQLite's busy timeout is 10 s).

These functions change the session but **do not commit**: the door owns the
transaction.
"""

import math
from typing import Any

import sqlalchemy as sa
from flask import current_app
from marshmallow import ValidationError

from vpp.errors import InvalidInput, NotFound, TooManyRequests
from vpp.extensions import db
from vpp.models import FLEET_VERSION_ROW, Dispatch, DispatchAllocation, FleetVersion, Plant
from vpp.schemas import DispatchRequestSchema
from vpp.services import audit, pages
from vpp.services.compute_budget import ComputeBudget
from vpp.services.dispatch import REASON_DOWN, DispatchResult, PreparedFleet, Unit, dispatch_demand

CACHE_KEY = "vpp.prepared_fleet"
# A preview answers within this time; a committed dispatch may search longer.
PREVIEW_TIME_LIMIT_S = 2.0
# The commit holds the fleet's write lock while it solves: keep it well inside
# SQLite's 10 s busy timeout, which plant writes queued behind it wait for.
COMMIT_TIME_LIMIT_S = 5.0

_dispatch_request_schema = DispatchRequestSchema()
UNIT_COLUMNS = (Plant.id, Plant.min_capacity, Plant.max_capacity, Plant.marginal_cost, Plant.status)


def validate_demand(demand: Any) -> float:
    try:
        return _dispatch_request_schema.load({"demand": demand})["demand"]
    except ValidationError as exc:
        raise InvalidInput.from_validation_error(exc, "demand") from exc


def fleet_version() -> int:
    return db.session.scalar(
        sa.select(FleetVersion.version).where(FleetVersion.id == FLEET_VERSION_ROW)
    )


def lock_fleet() -> int:
    """Take the fleet's write lock for the rest of the transaction and return the
    fleet version under it. The lock is a write to the ``fleet_version`` row (of its
    own value), which every plant write also updates: PostgreSQL's row lock, or
    SQLite's one writer, then keeps plant writes out until this transaction ends,
    and what it reads after this is the fleet as it stands. Does not commit."""
    db.session.execute(
        sa.update(FleetVersion)
        .where(FleetVersion.id == FLEET_VERSION_ROW)
        .values(version=FleetVersion.version)
    )
    return fleet_version()


def prepared_fleet() -> PreparedFleet:
    """The fleet ready for the algorithm, rebuilt only when its version changed.

    The version is read before the plants: if a write lands in between, the cache
    holds newer plants under an older version and is merely rebuilt once more."""
    version = fleet_version()
    cached = current_app.extensions.get(CACHE_KEY)
    if cached is not None and cached[0] == version:
        return cached[1]
    rows = db.session.execute(sa.select(*UNIT_COLUMNS)).all()
    prepared = PreparedFleet(Unit(*row) for row in rows)
    current_app.extensions[CACHE_KEY] = (version, prepared)
    return prepared


BUDGET_KEY = "vpp.preview_budget"


def _preview_budget() -> ComputeBudget:
    budget = current_app.extensions.get(BUDGET_KEY)
    if budget is None:
        budget = ComputeBudget(current_app.config["PREVIEW_BUDGET_S_PER_MIN"])
        current_app.extensions[BUDGET_KEY] = budget
    return budget


def preview_dispatch(demand: Any, caller: str) -> DispatchResult:
    """Dispatch a demand (kW) across the current fleet without recording it, on
    ``caller``'s solver budget (``vpp.services.compute_budget``): the search may use
    at most what is left of it, and ``TooManyRequests`` says when to come back if
    nothing is."""
    demand_kw = validate_demand(demand)
    budget = _preview_budget()
    left = budget.available(caller)
    if left <= 0:
        wait = max(1, math.ceil(budget.wait_s(caller)))
        raise TooManyRequests(
            f"{caller} has used its solver time for dispatch previews; try again in {wait} s.",
            retry_after_s=wait,
        )
    result = dispatch_demand(
        prepared_fleet(), demand_kw, time_limit_s=min(PREVIEW_TIME_LIMIT_S, left)
    )
    budget.charge(caller, result.solve_time_s)
    return result


def commit_dispatch(demand: Any) -> Dispatch:
    """Dispatch a demand and record it with every plant as it is now, under the
    fleet's write lock (``lock_fleet``): the record is the answer for the fleet as
    it is when recorded. Does not commit."""
    demand_kw = validate_demand(demand)
    lock_fleet()
    plants = db.session.execute(
        sa.select(*UNIT_COLUMNS, Plant.name, Plant.kind).order_by(Plant.id)
    ).all()
    # Read under the lock, so the cache is for this very fleet.
    result = dispatch_demand(prepared_fleet(), demand_kw, time_limit_s=COMMIT_TIME_LIMIT_S)
    record = Dispatch(
        demand=demand_kw,
        total_dispatched=result.total_dispatched_kw,
        unmet_demand=result.unmet_demand_kw,
        total_cost=result.total_cost_per_h,
        startups=result.startups,
        marginal_cost=result.marginal_cost,
        strategy=result.strategy,
        optimal=result.optimal,
        status=result.status,
        solve_time_ms=result.solve_time_s * 1000,
        plant_count=len(plants),
    )
    db.session.add(record)
    db.session.flush()
    reasons = result.reason_by_unit()
    if plants:
        db.session.execute(
            sa.insert(DispatchAllocation),
            [
                {
                    "dispatch_id": record.id,
                    "plant_id": plant_id,
                    "plant_name": name,
                    "kind": kind,
                    "status": status,
                    "min_capacity": min_kw,
                    "max_capacity": max_kw,
                    "marginal_cost": cost,
                    "output": result.allocations.get(plant_id, 0.0),
                    "reason": reasons[plant_id],
                }
                for plant_id, min_kw, max_kw, cost, status, name, kind in plants
            ],
        )
    audit.record(
        "dispatch.commit",
        f"dispatch:{record.id}",
        after={
            "demand": demand_kw,
            "total_dispatched": record.total_dispatched,
            "total_cost": record.total_cost,
            "optimal": record.optimal,
        },
    )
    return record


def list_dispatches(page: int, per_page: int) -> tuple[list[Dispatch], int]:
    """Committed dispatches, newest first: one page, and how many there are in all."""
    return pages.newest_first(Dispatch, Dispatch.created_at, page, per_page)


def get_dispatch(dispatch_id: int) -> Dispatch:
    record = db.session.get(Dispatch, dispatch_id)
    if record is None:
        raise NotFound(f"No dispatch with id {dispatch_id}.")
    return record


def result_as_dict(result: DispatchResult) -> dict[str, Any]:
    """The prototype's contract (``allocations`` keyed by plant id as a string, for
    every plant not down; ``total_dispatched``; ``unmet_demand``) and what explains
    it: the plant ids under each reason code, cost, start-ups, whether optimality
    was proven. ``allocations`` keeps its integer keys: JSON writes them as strings,
    and converting 100,000 of them here would cost more than the dispatch."""
    return {
        "demand": result.demand_kw,
        "allocations": result.allocations,
        "total_dispatched": result.total_dispatched_kw,
        "unmet_demand": result.unmet_demand_kw,
        "total_cost": result.total_cost_per_h,
        "startups": result.startups,
        "marginal_cost": result.marginal_cost,
        "reasons": result.reasons,
        "optimal": result.optimal,
        "status": result.status,
        "solve_time_ms": result.solve_time_s * 1000,
        "strategy": result.strategy,
    }


def record_summary(record: Dispatch) -> dict[str, Any]:
    return {
        "id": record.id,
        "created_at": record.created_at.isoformat(),
        "demand": record.demand,
        "total_dispatched": record.total_dispatched,
        "unmet_demand": record.unmet_demand,
        "total_cost": record.total_cost,
        "startups": record.startups,
        "marginal_cost": record.marginal_cost,
        "optimal": record.optimal,
        "status": record.status,
        "solve_time_ms": record.solve_time_ms,
        "strategy": record.strategy,
        "plant_count": record.plant_count,
    }


def record_as_dict(record: Dispatch) -> dict[str, Any]:
    """A committed dispatch in full: the summary, the prototype's ``allocations``
    (plants not down then), and every plant as it was, with its output and reason."""
    rows = record.allocations
    return {
        **record_summary(record),
        "allocations": {str(a.plant_id): a.output for a in rows if a.reason != REASON_DOWN},
        "plants": [
            {
                "plant_id": a.plant_id,
                "name": a.plant_name,
                "kind": a.kind,
                "status": a.status,
                "min_capacity": a.min_capacity,
                "max_capacity": a.max_capacity,
                "marginal_cost": a.marginal_cost,
                "output": a.output,
                "reason": a.reason,
            }
            for a in rows
        ],
    }
