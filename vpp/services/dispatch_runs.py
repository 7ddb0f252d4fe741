"""Dispatch runs: previews of a demand against the current fleet, and committed
dispatches kept as history, told in the vocabulary of ``dispatch_summary``.

Previews use a ``FleetSnapshot`` (the fleet prepared for the algorithm, and as
arrays for the summaries) cached per process and per fleet version (the
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
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from flask import current_app
from marshmallow import ValidationError

from vpp.domain import PLANT_KINDS, REASON_DOWN, STATUS_DOWN, STATUS_IDLE
from vpp.errors import InvalidInput, TooManyRequests
from vpp.extensions import db
from vpp.models import FLEET_VERSION_ROW, Dispatch, DispatchAllocation, FleetVersion, Plant
from vpp.schemas import DETAIL_FULL, DispatchRequestSchema
from vpp.services import audit, fleet_cache, pages, telemetry
from vpp.services import dispatch_summary as summary
from vpp.services.compute_budget import ComputeBudget
from vpp.services.dispatch import DispatchResult, PreparedFleet, Unit, dispatch_demand

BUDGET_KEY = "vpp.preview_budget"
# A preview answers within this time; a committed dispatch may search longer.
PREVIEW_TIME_LIMIT_S = 2.0
# The commit holds the fleet's write lock while it solves: keep it well inside
# SQLite's 10 s busy timeout, which plant writes queued behind it wait for.
COMMIT_TIME_LIMIT_S = 5.0

_dispatch_request_schema = DispatchRequestSchema()
UNIT_COLUMNS = (Plant.id, Plant.min_capacity, Plant.max_capacity, Plant.marginal_cost, Plant.status)
SNAPSHOT_COLUMNS = (*UNIT_COLUMNS, Plant.kind)
ROW_SOURCE = (
    Plant.id,
    Plant.name,
    Plant.kind,
    Plant.status,
    Plant.min_capacity,
    Plant.max_capacity,
    Plant.marginal_cost,
)
KIND_INDEX = {kind: i for i, kind in enumerate(PLANT_KINDS)}
REASON_INDEX = {code: i for i, code in enumerate(summary.REASONS)}


def validate_demand(demand: Any) -> float:
    try:
        return _dispatch_request_schema.load({"demand": demand})["demand"]
    except ValidationError as exc:
        raise InvalidInput.from_validation_error(exc, "demand") from exc


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
    return fleet_cache.fleet_version()


@dataclass(slots=True)
class FleetSnapshot:
    """One version of the fleet: prepared for the algorithm, and as arrays by plant
    id for the summaries (kinds as indices into ``PLANT_KINDS``). Demand-independent:
    built once per fleet version and process."""

    prepared: PreparedFleet
    ids: np.ndarray
    kinds: np.ndarray
    idle: np.ndarray
    available: np.ndarray
    max_kw: np.ndarray
    available_positions: np.ndarray
    supply_curve: list[dict[str, float]]

    @classmethod
    def of(cls, rows) -> "FleetSnapshot":
        """From rows of ``SNAPSHOT_COLUMNS``, by id."""
        rows = list(rows)
        prepared = PreparedFleet(Unit(*row[:5]) for row in rows)
        ids = np.array([row.id for row in rows], dtype=np.int64)
        available = np.array([row.status != STATUS_DOWN for row in rows], dtype=bool)
        max_kw = np.array([row.max_capacity for row in rows], dtype=float)
        costs = np.array([row.marginal_cost for row in rows], dtype=float)
        return cls(
            prepared=prepared,
            ids=ids,
            kinds=np.array([KIND_INDEX[row.kind] for row in rows], dtype=np.int64),
            idle=np.array([row.status == STATUS_IDLE for row in rows], dtype=bool),
            available=available,
            max_kw=max_kw,
            available_positions=np.searchsorted(
                ids, np.array(prepared.available_ids, dtype=np.int64)
            ),
            supply_curve=summary.supply_curve(costs[available], max_kw[available]),
        )

    def summarise(self, result: DispatchResult) -> dict[str, Any]:
        """``by_kind``, ``by_reason`` and ``supply_curve`` of a dispatch of this fleet."""
        outputs = np.zeros(len(self.ids))
        outputs[self.available_positions] = np.fromiter(
            result.allocations.values(), float, len(result.allocations)
        )
        reasons = np.zeros(len(self.ids), dtype=np.int64)
        for code, ids in result.reasons.items():
            reasons[np.searchsorted(self.ids, np.array(ids, dtype=np.int64))] = REASON_INDEX[code]
        parts = summary.summarise(
            self.kinds, self.idle, self.available, self.max_kw, outputs, reasons
        )
        return {**parts, "supply_curve": self.supply_curve}


def fleet_snapshot() -> FleetSnapshot:
    """The fleet ready for the algorithm and the summaries, rebuilt only when its
    version changed (``fleet_cache``)."""
    return fleet_cache.cached(
        "snapshot",
        lambda: FleetSnapshot.of(
            db.session.execute(sa.select(*SNAPSHOT_COLUMNS).order_by(Plant.id))
        ),
    )


def _preview_budget() -> ComputeBudget:
    budget = current_app.extensions.get(BUDGET_KEY)
    if budget is None:
        budget = ComputeBudget(current_app.config["PREVIEW_BUDGET_S_PER_MIN"])
        current_app.extensions[BUDGET_KEY] = budget
    return budget


@dataclass(slots=True)
class Preview:
    """A dispatch computed and not recorded, with the fleet it was computed for."""

    result: DispatchResult
    snapshot: FleetSnapshot

    def as_dict(self, detail: str = DETAIL_FULL) -> dict[str, Any]:
        return result_as_dict(self.result, self.snapshot.summarise(self.result), detail)

    def rows(self) -> list[dict[str, Any]]:
        """Every plant's part in the preview as rows (``dispatch_summary.ROW_FIELDS``),
        in merit order, like a record's (``dispatch_rows``). Reads the plants' names:
        one query, for a person who asked for every plant."""
        reasons = self.result.reason_by_unit()
        rows = []
        for plant in db.session.execute(sa.select(*ROW_SOURCE).order_by(Plant.id)):
            if plant.id not in reasons:
                continue  # registered after this preview's fleet version
            output = self.result.allocations.get(plant.id, 0.0)
            rows.append(
                _as_row(
                    (
                        plant.id,
                        plant.name,
                        plant.kind,
                        plant.status,
                        plant.min_capacity,
                        plant.max_capacity,
                        plant.marginal_cost,
                        output,
                        reasons[plant.id],
                    )
                )
            )
        rows.sort(key=lambda r: (r["reason"] == REASON_DOWN, r["marginal_cost"], r["plant_id"]))
        return rows


def preview_dispatch(demand: Any, caller: str) -> Preview:
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
    snapshot = fleet_snapshot()
    result = dispatch_demand(
        snapshot.prepared, demand_kw, time_limit_s=min(PREVIEW_TIME_LIMIT_S, left)
    )
    budget.charge(caller, result.solve_time_s)
    return Preview(result, snapshot)


def commit_dispatch(demand: Any, *, actor: str) -> Dispatch:
    """Dispatch a demand and record it with every plant as it is now, under the
    fleet's write lock (``lock_fleet``): the record is the answer for the fleet as
    it is when recorded. Does not commit."""
    demand_kw = validate_demand(demand)
    lock_fleet()
    # Silent telemetry plants go down now, in this transaction, whenever the
    # background check last ran: a dispatch never counts on a unit not heard from.
    telemetry.sweep()
    plants = db.session.execute(
        sa.select(*UNIT_COLUMNS, Plant.name, Plant.kind).order_by(Plant.id)
    ).all()
    # Read under the lock, so the cache is for this very fleet.
    result = dispatch_demand(fleet_snapshot().prepared, demand_kw, time_limit_s=COMMIT_TIME_LIMIT_S)
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
        actor=actor,
    )
    return record


# How the history may be ordered.
HISTORY_ORDERS = {
    "newest": (Dispatch.created_at.desc(), Dispatch.id.desc()),
    "oldest": (Dispatch.created_at, Dispatch.id),
    "demand": (Dispatch.demand.desc(), Dispatch.id.desc()),
    "unmet": (Dispatch.unmet_demand.desc(), Dispatch.id.desc()),
    "cost": (Dispatch.total_cost.desc(), Dispatch.id.desc()),
}


def list_dispatches(
    page: int, per_page: int, order: str = "newest", unmet_only: bool = False
) -> tuple[list[Dispatch], int]:
    """Committed dispatches, newest first (or by ``HISTORY_ORDERS``), optionally only
    those that left demand unmet: one page, and how many there are in all."""
    query = sa.select(Dispatch).order_by(*HISTORY_ORDERS[order])
    if unmet_only:
        query = query.where(Dispatch.unmet_demand > 0)
    return pages.page_of(query, page, per_page)


def get_dispatch(dispatch_id: int) -> Dispatch:
    return pages.get_or_not_found(Dispatch, dispatch_id, "dispatch")


def result_as_dict(
    result: DispatchResult, summaries: dict[str, Any], detail: str = DETAIL_FULL
) -> dict[str, Any]:
    """A preview as the API gives it: the totals and the summaries; with ``detail``
    "full", also the prototype's contract (``allocations`` keyed by plant id as a
    string, every plant not down) and the plant ids under each reason code.
    ``allocations`` keeps its integer keys: JSON writes them as strings, and
    converting 100,000 of them here would cost more than the dispatch."""
    body = {
        "demand": result.demand_kw,
        "total_dispatched": result.total_dispatched_kw,
        "unmet_demand": result.unmet_demand_kw,
        "total_cost": result.total_cost_per_h,
        "startups": result.startups,
        "marginal_cost": result.marginal_cost,
        "optimal": result.optimal,
        "status": result.status,
        "solve_time_ms": result.solve_time_s * 1000,
        "strategy": result.strategy,
        **summaries,
    }
    if detail == DETAIL_FULL:
        body["allocations"] = result.allocations
        body["reasons"] = result.reasons
    return body


def record_summary(record: Dispatch) -> dict[str, Any]:
    """A committed dispatch's totals, as the history lists it."""
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


def record_summaries(record: Dispatch) -> dict[str, Any]:
    """``by_kind``, ``by_reason`` and ``supply_curve`` of a committed dispatch, summed
    by the database over its rows (the plants as they were)."""
    rows = sa.select(DispatchAllocation).where(DispatchAllocation.dispatch_id == record.id)
    rows = rows.subquery()
    not_down = rows.c.reason != REASON_DOWN
    started = sa.and_(rows.c.status == STATUS_IDLE, rows.c.output > 0)
    by_kind = summary.empty_by_kind()
    for kind, plants, offered, dispatched, startups in db.session.execute(
        sa.select(
            rows.c.kind,
            sa.func.count(),
            sa.func.sum(sa.case((not_down, rows.c.max_capacity), else_=0.0)),
            sa.func.sum(rows.c.output),
            sa.func.sum(sa.case((started, 1), else_=0)),
        ).group_by(rows.c.kind)
    ):
        by_kind[kind] = {
            "plants": plants,
            "available": float(offered or 0),
            "dispatched": float(dispatched or 0),
            "startups": int(startups or 0),
        }
    by_reason = summary.empty_by_reason()
    for reason, plants, dispatched in db.session.execute(
        sa.select(rows.c.reason, sa.func.count(), sa.func.sum(rows.c.output)).group_by(
            rows.c.reason
        )
    ):
        by_reason[reason] = {"plants": plants, "dispatched": float(dispatched or 0)}
    levels = db.session.execute(
        sa.select(rows.c.marginal_cost, sa.func.sum(rows.c.max_capacity))
        .where(not_down)
        .group_by(rows.c.marginal_cost)
    ).all()
    costs = np.array([cost for cost, _ in levels], dtype=float)
    capacity = np.array([kw for _, kw in levels], dtype=float)
    return {
        "by_kind": by_kind,
        "by_reason": by_reason,
        "supply_curve": summary.supply_curve(costs, capacity),
    }


def record_as_dict(record: Dispatch, detail: str = DETAIL_FULL) -> dict[str, Any]:
    """A committed dispatch: its totals and summaries; with ``detail`` "full", also
    the prototype's ``allocations`` (plants not down then) and every plant as it was,
    with its output and reason (``plants``: rows, in id order)."""
    body = {**record_summary(record), **record_summaries(record)}
    if detail == DETAIL_FULL:
        rows = dispatch_rows(record.id, sort="plant_id")
        body["allocations"] = {
            str(row["plant_id"]): row["output"] for row in rows if row["reason"] != REASON_DOWN
        }
        body["plants"] = rows
    return body


# How a dispatch's rows may be sorted: merit order (cheapest first, down plants
# last), largest output first, by plant id or name.
ROW_SORTS = ("merit", "output", "plant_id", "name")
ROW_COLUMNS = (
    DispatchAllocation.plant_id,
    DispatchAllocation.plant_name,
    DispatchAllocation.kind,
    DispatchAllocation.status,
    DispatchAllocation.min_capacity,
    DispatchAllocation.max_capacity,
    DispatchAllocation.marginal_cost,
    DispatchAllocation.output,
    DispatchAllocation.reason,
)


def _row_query(dispatch_id: int, reason=None, kind=None, q=None, startups=False):
    query = sa.select(*ROW_COLUMNS).where(DispatchAllocation.dispatch_id == dispatch_id)
    if reason:
        query = query.where(DispatchAllocation.reason == reason)
    if kind:
        query = query.where(DispatchAllocation.kind == kind)
    if q:
        query = query.where(pages.contains(DispatchAllocation.plant_name, q))
    if startups:
        query = query.where(DispatchAllocation.status == STATUS_IDLE, DispatchAllocation.output > 0)
    return query


def _row_order(sort: str):
    a = DispatchAllocation
    return {
        "merit": (a.reason == REASON_DOWN, a.marginal_cost, a.plant_id),
        "output": (a.output.desc(), a.plant_id),
        "plant_id": (a.plant_id,),
        "name": (a.plant_name, a.plant_id),
    }[sort]


def _as_row(values) -> dict[str, Any]:
    row = dict(zip(summary.ROW_FIELDS, (*values, None), strict=True))
    row["startup"] = row["status"] == STATUS_IDLE and row["output"] > 0
    return row


def dispatch_rows(dispatch_id: int, sort: str = "merit", **filters) -> list[dict[str, Any]]:
    """Every plant of a committed dispatch as rows (``dispatch_summary.ROW_FIELDS``)."""
    query = _row_query(dispatch_id, **filters).order_by(*_row_order(sort))
    return [_as_row(values) for values in db.session.execute(query)]


def find_dispatch_rows(
    dispatch_id: int, page: int, per_page: int, sort: str = "merit", **filters
) -> tuple[list[dict[str, Any]], int]:
    """One page of a committed dispatch's rows that pass the filters (``reason``,
    ``kind``, ``q`` a part of the name, ``startups`` the idle plants switched on),
    and how many pass in all."""
    query = _row_query(dispatch_id, **filters)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    paged = query.order_by(*_row_order(sort)).limit(per_page).offset((page - 1) * per_page)
    return [_as_row(values) for values in db.session.execute(paged)], total
