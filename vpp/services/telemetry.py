"""Live devices (DESIGN.md, "Live devices"): readings in, silent units out, setpoints.

**Readings** (``validate_readings``, ``ingest``) are kept three ways in one transaction:
raw in ``reading`` (keyed by plant and time: a reading delivered twice, as MQTT may
after a crash, is stored once and counted once), summed per plant and minute in
``reading_minute`` (the averages kept after the raw readings' retention), and the
fleet's output per minute in ``fleet_minute`` (the sum over plants of each one's average
that minute, moved by each ingest by exactly how much it moved those averages), so the
fleet's last hour is 60 rows whatever the fleet's size. ``plant_live`` holds each
plant's latest reading.

**Silence** (``sweep``) is a background check, not a request's side effect: the
server's housekeeping thread (``vpp.worker``), ``flask telemetry listen`` and
``flask telemetry sweep`` run it every quarter of ``VPP_STALE_AFTER_S``, and a
committed dispatch and a schedule's worker run it once more under their own
transaction before they read the fleet. A telemetry plant whose latest reading (or,
before its first, its last change) is older than ``VPP_STALE_AFTER_S`` goes ``down``
with ``status_reason`` "silent", audited; a fresh reading brings it back (``running``
when it produces, else ``idle``). A plant put down by hand stays down whatever it reports.

**Setpoints** (``current_source``, ``source_setpoints``) are computed when asked, from
what is committed: the latest committed dispatch, or the current interval of the latest
done schedule that covers now, whichever took effect last (``since``). Nothing is stored
for them, so they cannot disagree with the dispatch or schedule they come from.

These functions change the session but **do not commit**: the door owns the transaction.
"""

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from vpp.domain import SCHEDULE_DONE, STATUS_DOWN, STATUS_IDLE, STATUS_RUNNING
from vpp.errors import InvalidInput
from vpp.extensions import db
from vpp.models import (
    Dispatch,
    DispatchAllocation,
    FleetMinute,
    Plant,
    PlantLive,
    Reading,
    ReadingMinute,
    Schedule,
    SchedulePlantRow,
    bump_fleet_version,
)
from vpp.routing import MAX_ID
from vpp.services import audit, fleet_cache, pages

REASON_SILENT = "silent"
# Who the audit log names for what the VPP does by itself.
ACTOR = "vpp:telemetry"
READING_KEYS = frozenset({"plant_id", "at", "power_kw", "soc_kwh"})
# A reading may report more than the nameplate (meters and nameplates disagree) and a
# unit may draw a little on standby; beyond these it is a fault, refused.
OVER_NAMEPLATE = 1.1
STANDBY_DRAW = 0.01
MAX_READINGS_PER_REQUEST = 50_000
# How many bad readings a refused request names in its message (every one is in fields).
SHOWN_PROBLEMS = 10
# Ids per IN (...) (SQLite allows 32,766 bound parameters).
ID_CHUNK = 10_000
# The fleet series: at most this many buckets per answer, over at most this long.
MAX_BUCKETS = 2_000
MAX_SERIES_DAYS = 31
MAX_READINGS_PAGE = 10_000
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Settings:
    stale_after_s: float
    raw_days: int
    rollup_days: int
    clock_skew_s: float


def settings() -> Settings:
    config = current_app.config
    return Settings(
        stale_after_s=float(config["VPP_STALE_AFTER_S"]),
        raw_days=int(config["TELEMETRY_RAW_DAYS"]),
        rollup_days=int(config["TELEMETRY_ROLLUP_DAYS"]),
        clock_skew_s=float(config["TELEMETRY_CLOCK_SKEW_S"]),
    )


def now_utc() -> datetime:
    return datetime.now(UTC)


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def parse_moment(text: Any) -> datetime:
    """An ISO 8601 moment with its offset, as UTC; ``ValueError`` with the reason."""
    if not isinstance(text, str):
        raise ValueError("Give an ISO 8601 time with its offset, e.g. 2026-11-26T15:00:00Z.")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not an ISO 8601 time.") from None
    if moment.tzinfo is None:
        raise ValueError("Give the time's offset (Z or +01:00): a time without one is ambiguous.")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text[:40]!r} is out of range.") from None


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("Must be a number.")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("Must be a finite number (not NaN or infinite).")
    return number


@dataclass(frozen=True, slots=True)
class ReadingIn:
    plant_id: int
    at: datetime
    power_kw: float
    soc_kwh: float | None


def _limits(plant_ids: Iterable[int]) -> dict[int, tuple]:
    """Each known plant's (max_capacity, energy_capacity_kwh, max_charge_kw), by id."""
    ids = sorted(set(plant_ids))
    found: dict[int, tuple] = {}
    connection = db.session.connection()
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start : start + ID_CHUNK]
        query = sa.select(
            Plant.id, Plant.max_capacity, Plant.energy_capacity_kwh, Plant.max_charge_kw
        ).where(Plant.id.in_(chunk))
        found.update((row[0], tuple(row[1:])) for row in connection.execute(query))
    return found


def check_readings(
    items: Any, now: datetime, plant_id: int | None = None
) -> tuple[list[ReadingIn], dict[str, list[str]]]:
    """The readings of ``items`` (a list of objects; each one's ``plant_id`` is
    ``plant_id`` when given, as on an MQTT topic) that keep the rules, and the problems
    of the others keyed ``INDEX.FIELD``. Rules: a known plant; ``power_kw`` finite,
    at most 110 % of its max capacity and no lower than minus its charging rate (a
    store) or 1 % of its capacity (standby draw); ``soc_kwh`` only for a store, within
    its energy capacity; ``at`` (default ``now``) with an offset, no later than ``now``
    plus the clock skew allowed, and not older than the raw readings kept."""
    config = settings()
    latest = now + timedelta(seconds=config.clock_skew_s)
    oldest = now - timedelta(days=config.raw_days)
    problems: dict[str, list[str]] = {}
    parsed: list[tuple[int, int, datetime, float, float | None]] = []

    def problem(index: int, name: str, message: str) -> None:
        problems.setdefault(f"{index}.{name}", []).append(message)

    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problem(index, "_schema", "Each reading must be a JSON object.")
            continue
        unknown = sorted(set(item) - READING_KEYS - ({"plant_id"} if plant_id else set()))
        for key in unknown:
            problem(index, key, "Unknown field.")
        if plant_id is not None:
            pid = plant_id
        else:
            pid = item.get("plant_id")
            if isinstance(pid, bool) or not isinstance(pid, int) or not 1 <= pid <= MAX_ID:
                problem(index, "plant_id", "Give the plant's id, a whole number >= 1.")
                continue
        try:
            power = _number(item.get("power_kw"))
        except ValueError as exc:
            problem(index, "power_kw", str(exc))
            continue
        soc = item.get("soc_kwh")
        if soc is not None:
            try:
                soc = _number(soc)
            except ValueError as exc:
                problem(index, "soc_kwh", str(exc))
                continue
        if item.get("at") is None:
            at = now
        else:
            try:
                at = parse_moment(item["at"])
            except ValueError as exc:
                problem(index, "at", str(exc))
                continue
            if at > latest:
                problem(index, "at", f"{at.isoformat()} is in the future (now {now.isoformat()}).")
                continue
            if at < oldest:
                problem(index, "at", f"Older than the {config.raw_days} days of readings kept.")
                continue
        if not unknown:
            parsed.append((index, pid, at, power, soc))
    limits = _limits(pid for _, pid, *_ in parsed)
    readings: list[ReadingIn] = []
    for index, pid, at, power, soc in parsed:
        if pid not in limits:
            problem(index, "plant_id", f"No plant with id {pid}.")
            continue
        max_kw, energy_kwh, charge_kw = limits[pid]
        lowest = -(charge_kw or max_kw) if energy_kwh else -STANDBY_DRAW * max_kw
        if not lowest * OVER_NAMEPLATE <= power <= max_kw * OVER_NAMEPLATE:
            problem(
                index,
                "power_kw",
                f"{power:g} kW is impossible for plant {pid} "
                f"({lowest * OVER_NAMEPLATE:g} to {max_kw * OVER_NAMEPLATE:g} kW).",
            )
            continue
        if soc is not None:
            if not energy_kwh:
                problem(index, "soc_kwh", f"Plant {pid} is not a store.")
                continue
            if not 0 <= soc <= energy_kwh:
                problem(index, "soc_kwh", f"Must be 0 to {energy_kwh:g} kWh (plant {pid}).")
                continue
        readings.append(ReadingIn(pid, at, power, soc))
    return readings, problems


def validate_readings(items: Any, now: datetime) -> list[ReadingIn]:
    """All of ``items`` as readings, or ``InvalidInput`` naming each bad one by its
    index (``3.power_kw``): a request is stored whole or not at all."""
    if not isinstance(items, list):
        raise InvalidInput("Send a JSON array of readings.", {"_schema": ["Not an array."]})
    if len(items) > MAX_READINGS_PER_REQUEST:
        raise InvalidInput(
            f"At most {MAX_READINGS_PER_REQUEST:,} readings per request, not {len(items):,}.",
            {"_schema": ["Too many readings."]},
        )
    readings, problems = check_readings(items, now)
    if problems:
        problems = dict(sorted(problems.items(), key=lambda kv: int(kv[0].split(".")[0])))
        bad = sorted({int(key.split(".")[0]) for key in problems})
        shown = "; ".join(
            f"reading {key.split('.')[0]}: {key.split('.', 1)[1]}: "
            + " ".join(messages).rstrip(".")
            for key, messages in problems.items()
            if int(key.split(".")[0]) in set(bad[:SHOWN_PROBLEMS])
        )
        more = f"; and {len(bad) - SHOWN_PROBLEMS} more" if len(bad) > SHOWN_PROBLEMS else ""
        raise InvalidInput(
            f"{len(bad)} bad reading(s), nothing stored: {shown}{more}.", dict(problems)
        )
    return readings


def _insert(table: sa.Table):
    """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL)."""
    dialect = db.session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def ingest(readings: Sequence[ReadingIn], now: datetime) -> int:
    """Store ``readings`` (checked) with their rollups, move each plant's latest, and
    bring back silent plants that report again. Returns how many were new (a reading
    already stored is not counted twice). Does not commit."""
    if not readings:
        return 0
    connection = db.session.connection()
    table = Reading.__table__
    statement = _insert(table).on_conflict_do_nothing().returning(table.c.plant_id, table.c.at)
    # Rows in a stable order (plant, time): concurrent ingests lock rollup rows in the
    # same order on PostgreSQL, so they cannot deadlock.
    rows = sorted(
        (
            {"plant_id": r.plant_id, "at": r.at, "power_kw": r.power_kw, "soc_kwh": r.soc_kwh}
            for r in readings
        ),
        key=lambda row: (row["plant_id"], row["at"]),
    )
    by_key = {(row["plant_id"], row["at"]): row for row in rows}
    new = [by_key[(pid, _aware(at))] for pid, at in connection.execute(statement, rows)]
    if not new:
        return 0
    latest = _latest_by_plant(new)
    _roll_up(connection, new)
    _keep_latest(connection, latest, now)
    _bring_back(latest, now)
    return len(new)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _roll_up(connection, new: list[dict]) -> None:
    sums: dict[tuple[int, datetime], list[float]] = {}
    for row in new:
        entry = sums.setdefault((row["plant_id"], minute_of(row["at"])), [0.0, 0])
        entry[0] += row["power_kw"]
        entry[1] += 1
    table = ReadingMinute.__table__
    upsert = _insert(table)
    upsert = upsert.on_conflict_do_update(
        index_elements=[table.c.plant_id, table.c.minute],
        set_={
            "sum_kw": table.c.sum_kw + upsert.excluded.sum_kw,
            "readings": table.c.readings + upsert.excluded.readings,
        },
    ).returning(table.c.plant_id, table.c.minute, table.c.sum_kw, table.c.readings)
    totals = connection.execute(
        upsert,
        [
            {"plant_id": pid, "minute": minute, "sum_kw": total, "readings": count}
            for (pid, minute), (total, count) in sorted(sums.items())
        ],
    )
    # Each plant's average moves from its old value (0: no reading that minute yet) to
    # the new one; the fleet's minute moves by the sum of those moves.
    moves: dict[datetime, list[float]] = defaultdict(lambda: [0.0, 0])
    for pid, minute, total, count in totals:
        minute = _aware(minute)
        added, added_count = sums[(pid, minute)]
        before = count - added_count
        old_average = (total - added) / before if before else 0.0
        move = moves[minute]
        move[0] += total / count - old_average
        move[1] += 0 if before else 1
    fleet = FleetMinute.__table__
    upsert = _insert(fleet)
    upsert = upsert.on_conflict_do_update(
        index_elements=[fleet.c.minute],
        set_={
            "power_kw": fleet.c.power_kw + upsert.excluded.power_kw,
            "plants": fleet.c.plants + upsert.excluded.plants,
        },
    )
    connection.execute(
        upsert,
        [
            {"minute": minute, "power_kw": kw, "plants": plants}
            for minute, (kw, plants) in sorted(moves.items())
        ],
    )


def _latest_by_plant(new: list[dict]) -> dict[int, dict]:
    latest: dict[int, dict] = {}
    for row in new:
        kept = latest.get(row["plant_id"])
        if kept is None or row["at"] > kept["at"]:
            latest[row["plant_id"]] = row
    return latest


def _keep_latest(connection, latest: dict[int, dict], now: datetime) -> None:
    table = PlantLive.__table__
    upsert = _insert(table)
    upsert = upsert.on_conflict_do_update(
        index_elements=[table.c.plant_id],
        set_={
            "at": upsert.excluded.at,
            "power_kw": upsert.excluded.power_kw,
            "soc_kwh": upsert.excluded.soc_kwh,
            "received_at": upsert.excluded.received_at,
        },
        where=upsert.excluded.at > table.c.at,
    )
    connection.execute(
        upsert,
        [
            {
                "plant_id": pid,
                "at": row["at"],
                "power_kw": row["power_kw"],
                "soc_kwh": row["soc_kwh"],
                "received_at": now,
            }
            for pid, row in sorted(latest.items())
        ],
    )


def _move_status(
    ids: list[int], status: str, reason: str | None, now: datetime, *still: Any
) -> list[int]:
    """Set ``status`` and ``status_reason`` of the plants of ``ids`` that still meet
    ``still`` (checked in the UPDATE itself, under the write), as a plant write does
    (version and updated_at moved); the ids moved. Does not bump the fleet version."""
    moved: list[int] = []
    connection = db.session.connection()
    for start in range(0, len(ids), ID_CHUNK):
        moved += connection.execute(
            sa.update(Plant)
            .where(Plant.id.in_(ids[start : start + ID_CHUNK]), *still)
            .values(status=status, status_reason=reason, version=Plant.version + 1, updated_at=now)
            .returning(Plant.id)
        ).scalars()
    return sorted(moved)


def _audit_moves(action: str, moved: list[int], before, after: dict[str, Any]) -> None:
    """The moves of ``_move_status`` in the audit log (``before``: a plant's status
    then, by id), and the fleet version moved once for them all."""
    if moved:
        bump_fleet_version(db.session)
        audit.record_many(
            action, [(f"plant:{pid}", before(pid), after) for pid in moved], actor=ACTOR
        )


def _bring_back(latest: dict[int, dict], now: datetime) -> None:
    """Silent plants whose reading is fresh come back: running when they produce."""
    fresh_after = now - timedelta(seconds=settings().stale_after_s)
    was_silent = {"status": STATUS_DOWN, "status_reason": REASON_SILENT}
    for status in (STATUS_RUNNING, STATUS_IDLE):
        ids = sorted(
            pid
            for pid, row in latest.items()
            if row["at"] >= fresh_after and (row["power_kw"] > 0) == (status == STATUS_RUNNING)
        )
        moved = _move_status(
            ids,
            status,
            None,
            now,
            Plant.status == STATUS_DOWN,
            Plant.status_reason == REASON_SILENT,
        )
        _audit_moves(
            "plant.telemetry_resumed",
            moved,
            lambda _pid: was_silent,
            {"status": status, "status_reason": None},
        )


def sweep(now: datetime | None = None) -> list[int]:
    """Take down every telemetry plant silent for longer than ``VPP_STALE_AFTER_S``
    (its latest reading, or its last change before its first reading, is older);
    audited. Returns their ids. Does not commit."""
    now = now or now_utc()
    cutoff = now - timedelta(seconds=settings().stale_after_s)
    last_heard = sa.func.coalesce(PlantLive.at, Plant.updated_at)
    before = dict(
        db.session.execute(
            sa.select(Plant.id, Plant.status)
            .outerjoin(PlantLive, PlantLive.plant_id == Plant.id)
            .where(Plant.telemetry.is_(True), Plant.status != STATUS_DOWN, last_heard < cutoff)
        ).all()
    )
    # Checked again in the UPDATE: a reading may have landed since the read.
    fresh = sa.select(PlantLive.plant_id).where(
        PlantLive.plant_id == Plant.id, PlantLive.at >= cutoff
    )
    taken = _move_status(
        sorted(before),
        STATUS_DOWN,
        REASON_SILENT,
        now,
        Plant.status != STATUS_DOWN,
        Plant.telemetry.is_(True),
        ~fresh.exists(),
    )
    _audit_moves(
        "plant.silent",
        taken,
        lambda pid: {"status": before[pid]},
        {"status": STATUS_DOWN, "status_reason": REASON_SILENT},
    )
    return taken


def purge(now: datetime | None = None, batch_minutes: int = 10) -> int:
    """Delete the oldest slice (``batch_minutes`` long) of raw readings past their
    retention, or else of per-minute averages past theirs; how many rows went. A door
    calls it until it returns 0, committing between calls (short write locks)."""
    now = now or now_utc()
    config = settings()
    for model, column, days in (
        (Reading, Reading.at, config.raw_days),
        (ReadingMinute, ReadingMinute.minute, config.rollup_days),
        (FleetMinute, FleetMinute.minute, config.rollup_days),
    ):
        cutoff = now - timedelta(days=days)
        oldest = db.session.scalar(sa.select(sa.func.min(column)))
        if oldest is None or _aware(oldest) >= cutoff:
            continue
        upto = min(cutoff, _aware(oldest) + timedelta(minutes=batch_minutes))
        return db.session.execute(sa.delete(model).where(column < upto)).rowcount or 1
    return 0


# --- Reading back ---------------------------------------------------------------


def plant_readings(
    plant_id: int, since: datetime, until: datetime, limit: int = 3600
) -> list[dict[str, Any]]:
    """One plant's raw readings in [since, until), oldest first, at most ``limit``."""
    query = (
        sa.select(Reading.at, Reading.power_kw, Reading.soc_kwh)
        .where(Reading.plant_id == plant_id, Reading.at >= since, Reading.at < until)
        .order_by(Reading.at)
        .limit(limit)
    )
    return [
        {"at": _aware(at).isoformat(), "power_kw": kw, "soc_kwh": soc}
        for at, kw, soc in db.session.execute(query)
    ]


def plant_minutes(plant_id: int, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """One plant's average per minute in [since, until) (kept after the raw readings)."""
    query = (
        sa.select(ReadingMinute.minute, ReadingMinute.sum_kw, ReadingMinute.readings)
        .where(
            ReadingMinute.plant_id == plant_id,
            ReadingMinute.minute >= minute_of(since),
            ReadingMinute.minute < until,
        )
        .order_by(ReadingMinute.minute)
        .limit(MAX_READINGS_PAGE)
    )
    return [
        {"minute": _aware(m).isoformat(), "power_kw": total / count, "readings": count}
        for m, total, count in db.session.execute(query)
    ]


def latest_reading(plant_id: int) -> dict[str, Any] | None:
    live = db.session.get(PlantLive, plant_id)
    if live is None:
        return None
    return {
        "at": _aware(live.at).isoformat(),
        "power_kw": live.power_kw,
        "soc_kwh": live.soc_kwh,
        "received_at": _aware(live.received_at).isoformat(),
    }


# --- Setpoints ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """What gives setpoints from ``since``: a committed dispatch, or one interval of a
    done schedule."""

    kind: str  # "dispatch" or "schedule"
    id: int
    since: datetime
    interval: int | None = None
    until: datetime | None = None  # a schedule's interval ends

    @property
    def name(self) -> str:
        if self.kind == "dispatch":
            return f"dispatch:{self.id}"
        return f"schedule:{self.id}#{self.interval}"


def _dispatches_until(until: datetime, since: datetime | None = None) -> list[tuple[int, datetime]]:
    """Committed dispatches up to ``until``: those after ``since`` and the one in effect
    at ``since`` (all but the latest when ``since`` is None), oldest first."""
    latest_before = (
        sa.select(Dispatch.id, Dispatch.created_at)
        .where(Dispatch.created_at <= (since or until))
        .order_by(Dispatch.created_at.desc(), Dispatch.id.desc())
        .limit(1)
    )
    rows = [tuple(row) for row in db.session.execute(latest_before)]
    if since is not None:
        rows += [
            tuple(row)
            for row in db.session.execute(
                sa.select(Dispatch.id, Dispatch.created_at)
                .where(Dispatch.created_at > since, Dispatch.created_at <= until)
                .order_by(Dispatch.created_at, Dispatch.id)
            )
        ]
    return [(i, _aware(at)) for i, at in rows]


def _schedules_over(since: datetime, until: datetime) -> list[Schedule]:
    """Done schedules whose horizon overlaps [since, until], newest first."""
    earliest = since - timedelta(days=8)  # a horizon is at most 7 days
    return list(
        db.session.scalars(
            sa.select(Schedule)
            .where(
                Schedule.status == SCHEDULE_DONE,
                Schedule.start <= until,
                Schedule.start >= earliest,
            )
            .order_by(Schedule.created_at.desc(), Schedule.id.desc())
        )
    )


def _schedule_source(record: Schedule, moment: datetime) -> Source | None:
    start = _aware(record.start)
    step = timedelta(minutes=record.resolution_minutes)
    finished = _aware(record.finished_at) if record.finished_at else None
    if finished is None or finished > moment or moment < start:
        return None
    interval = int((moment - start) // step)
    if interval >= len(record.demand):
        return None
    begins = start + interval * step
    return Source("schedule", record.id, max(begins, finished), interval, begins + step)


def _source_at(
    moment: datetime, dispatches: list[tuple[int, datetime]], schedules: list[Schedule]
) -> Source | None:
    """The source in effect at ``moment``: the later to take effect of the latest
    dispatch committed by then and the newest done schedule's interval covering it."""
    found: Source | None = None
    times = [at for _, at in dispatches]
    position = bisect.bisect_right(times, moment) - 1
    if position >= 0:
        found = Source("dispatch", dispatches[position][0], dispatches[position][1])
    for record in schedules:
        source = _schedule_source(record, moment)
        if source is not None:
            if found is None or source.since > found.since:
                found = source
            break  # the newest schedule covering the moment is the one in force
    return found


def current_source(now: datetime | None = None) -> Source | None:
    now = now or now_utc()
    return _source_at(now, _dispatches_until(now), _schedules_over(now, now))


def _telemetry_join(query, plant_column):
    return query.join(Plant, Plant.id == plant_column).where(Plant.telemetry.is_(True))


def _source_rows(source: Source):
    """The query of (plant_id, output) of the telemetry plants under ``source`` (a
    schedule's output is per interval), and its plant id column."""
    model = DispatchAllocation if source.kind == "dispatch" else SchedulePlantRow
    owner = model.dispatch_id if source.kind == "dispatch" else model.schedule_id
    query = sa.select(model.plant_id, model.output).where(owner == source.id)
    return _telemetry_join(query, model.plant_id), model.plant_id


def source_setpoints(
    source: Source, plant_id: int | None = None, page: int | None = None, per_page: int = 1
) -> dict[int, float]:
    """Each telemetry plant's setpoint (kW) under ``source``: only ``plant_id``'s, or
    page ``page`` of ``per_page`` by plant id, or all (the listener's)."""
    query, plant_column = _source_rows(source)
    if plant_id is not None:
        query = query.where(plant_column == plant_id)
    if page is not None:
        query = query.order_by(plant_column).offset((page - 1) * per_page).limit(per_page)
    rows = db.session.execute(query)
    if source.kind == "dispatch":
        return dict(rows.all())
    return {pid: output[source.interval] for pid, output in rows}


def setpoint(plant_id: int, now: datetime | None = None) -> dict[str, Any]:
    """``{"setpoint_kw", "since", "source"}`` for one plant; nulls when nothing
    committed gives it one (it is not a telemetry plant, or was not in the source)."""
    source = current_source(now)
    value = source_setpoints(source, plant_id).get(plant_id) if source else None
    if value is None:
        return {"setpoint_kw": None, "since": None, "source": None}
    return {"setpoint_kw": value, "since": source.since.isoformat(), "source": source.name}


def plant_setpoint(plant_id: int, now: datetime | None = None) -> dict[str, Any]:
    """``setpoint`` with the plant's latest reading and the tracking error."""
    answer = setpoint(plant_id, now)
    live = db.session.get(PlantLive, plant_id)
    measured = live.power_kw if live is not None else None
    answer["measured_kw"] = measured
    answer["tracking_error_kw"] = (
        measured - answer["setpoint_kw"]
        if measured is not None and answer["setpoint_kw"] is not None
        else None
    )
    return answer


def setpoints_page(
    page: int, per_page: int, now: datetime | None = None
) -> tuple[Source | None, dict[int, float], int]:
    """The source in effect, one page of the telemetry plants' setpoints under it (by
    plant id), and how many plants it gives one in all."""
    source = current_source(now)
    if source is None:
        return None, {}, 0
    query, _ = _source_rows(source)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    return source, source_setpoints(source, page=page, per_page=per_page), total


def _target_totals(sources: Iterable[Source]) -> dict[tuple[str, int, int | None], float]:
    """The sum of the telemetry plants' setpoints under each source (a schedule's per
    interval, kept per process and fleet version: a done schedule never changes)."""
    totals: dict[tuple[str, int, int | None], float] = {}
    dispatch_ids = sorted({s.id for s in sources if s.kind == "dispatch"})
    for start in range(0, len(dispatch_ids), ID_CHUNK):
        chunk = dispatch_ids[start : start + ID_CHUNK]
        query = _telemetry_join(
            sa.select(DispatchAllocation.dispatch_id, sa.func.sum(DispatchAllocation.output))
            .where(DispatchAllocation.dispatch_id.in_(chunk))
            .group_by(DispatchAllocation.dispatch_id),
            DispatchAllocation.plant_id,
        )
        totals.update({("dispatch", i, None): kw for i, kw in db.session.execute(query)})
    for i in dispatch_ids:
        totals.setdefault(("dispatch", i, None), 0.0)
    for schedule_id in sorted({s.id for s in sources if s.kind == "schedule"}):
        per_interval = fleet_cache.cached(
            f"telemetry.schedule_targets.{schedule_id}",
            lambda schedule_id=schedule_id: _schedule_totals(schedule_id),
        )
        for interval, kw in enumerate(per_interval):
            totals[("schedule", schedule_id, interval)] = kw
    return totals


def _schedule_totals(schedule_id: int) -> list[float]:
    query = _telemetry_join(
        sa.select(SchedulePlantRow.output).where(SchedulePlantRow.schedule_id == schedule_id),
        SchedulePlantRow.plant_id,
    )
    totals: list[float] = []
    for (output,) in db.session.execute(query):
        if len(totals) < len(output):
            totals += [0.0] * (len(output) - len(totals))
        for k, kw in enumerate(output):
            totals[k] += kw
    return totals


def check_window(
    since: datetime | None,
    until: datetime | None,
    now: datetime,
    resolution_minutes: int | None = None,
) -> tuple[datetime, datetime]:
    """[since, until) with their defaults (the last hour up to ``now``); ``InvalidInput``
    unless since is before until, at most ``MAX_SERIES_DAYS`` apart, and (buckets of
    ``resolution_minutes`` asked for) at most ``MAX_BUCKETS`` buckets."""
    until = until or now
    since = since or until - timedelta(hours=1)
    fields: dict[str, list[str]] = {}
    if since >= until:
        fields["since"] = ["Must be before until."]
    elif until - since > timedelta(days=MAX_SERIES_DAYS):
        fields["since"] = [f"At most {MAX_SERIES_DAYS} days from since to until."]
    elif (
        resolution_minutes is not None
        and (until - since) / timedelta(minutes=resolution_minutes) > MAX_BUCKETS
    ):
        fields["resolution_minutes"] = [
            f"At most {MAX_BUCKETS:,} buckets: choose a longer resolution."
        ]
    if fields:
        raise InvalidInput(next(iter(fields.values()))[0], fields)
    return since, until


def fleet_series(
    since: datetime | None,
    until: datetime | None,
    resolution_minutes: int = 1,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The fleet's measured output per bucket of ``resolution_minutes`` from ``since``
    (default: an hour before ``until``) to ``until`` (default now), beside the target:
    the sum of the telemetry plants' setpoints, averaged over each minute of the bucket
    (sampled at the middle of the minute, or at ``until`` in the minute under way),
    and the tracking error (measured - target).
    A bucket's measured output is the mean of its minutes with readings (each minute:
    the sum over plants of each one's average); null where nothing was heard."""
    now = now or now_utc()
    since, until = check_window(since, until, now, resolution_minutes)
    start = minute_of(since)
    step = timedelta(minutes=resolution_minutes)
    count = math.ceil((until - start) / step)
    measured = {
        _aware(minute): (kw, plants)
        for minute, kw, plants in db.session.execute(
            sa.select(FleetMinute.minute, FleetMinute.power_kw, FleetMinute.plants).where(
                FleetMinute.minute >= start, FleetMinute.minute < until
            )
        )
    }
    dispatches = _dispatches_until(until, start)
    schedules = _schedules_over(start, until)
    minutes = [start + k * MINUTE for k in range(count * resolution_minutes)]
    # Each minute's setpoints at its middle (the minute under way: as they are now).
    sources = [
        _source_at(m + MINUTE / 2 if m + MINUTE <= until else until, dispatches, schedules)
        for m in minutes
    ]
    totals = _target_totals(s for s in sources if s is not None)
    buckets = []
    for b in range(count):
        chunk = range(b * resolution_minutes, (b + 1) * resolution_minutes)
        heard = [measured[minutes[k]] for k in chunk if minutes[k] in measured]
        targets = [
            totals.get((sources[k].kind, sources[k].id, sources[k].interval), 0.0)
            for k in chunk
            if sources[k] is not None
        ]
        kw = sum(h[0] for h in heard) / len(heard) if heard else None
        target = sum(targets) / len(chunk) if targets else None
        buckets.append(
            {
                "start": (start + b * step).isoformat(),
                "measured_kw": kw,
                "target_kw": target,
                "tracking_error_kw": kw - target if kw is not None and target is not None else None,
                "plants_reporting": max((h[1] for h in heard), default=0),
            }
        )
    return {
        "since": start.isoformat(),
        "until": until.isoformat(),
        "resolution_minutes": resolution_minutes,
        "buckets": buckets,
    }


# --- The fleet's state ------------------------------------------------------------


def silent_query():
    return (
        sa.select(Plant)
        .where(Plant.status == STATUS_DOWN, Plant.status_reason == REASON_SILENT)
        .order_by(Plant.id)
    )


def silent_page(page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
    """Silent plants, a page at a time, each with when it was last heard."""
    plants, total = pages.page_of(silent_query(), page, per_page)
    heard = dict(
        db.session.execute(
            sa.select(PlantLive.plant_id, PlantLive.at).where(
                PlantLive.plant_id.in_([p.id for p in plants])
            )
        ).all()
    )
    return [
        {
            "id": p.id,
            "name": p.name,
            "kind": p.kind,
            "max_capacity": p.max_capacity,
            "last_reading_at": _aware(heard[p.id]).isoformat() if p.id in heard else None,
            "down_since": _aware(p.updated_at).isoformat(),
        }
        for p in plants
    ], total


def status(now: datetime | None = None) -> dict[str, Any]:
    """Telemetry plants, silent ones, those heard within ``VPP_STALE_AFTER_S``, and
    readings per second over the last complete minute."""
    now = now or now_utc()
    config = settings()
    telemetry_plants = db.session.scalar(
        sa.select(sa.func.count()).select_from(Plant).where(Plant.telemetry.is_(True))
    )
    silent = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Plant)
        .where(Plant.status == STATUS_DOWN, Plant.status_reason == REASON_SILENT)
    )
    fresh = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(PlantLive)
        .where(PlantLive.at >= now - timedelta(seconds=config.stale_after_s))
    )
    last_minute = minute_of(now) - MINUTE
    in_last_minute = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(ReadingMinute.readings), 0)).where(
            ReadingMinute.minute == last_minute
        )
    )
    latest = db.session.scalar(sa.select(sa.func.max(PlantLive.at)))
    source = current_source(now)
    return {
        "telemetry_plants": telemetry_plants,
        "silent": silent,
        "reporting": fresh,
        "stale_after_s": config.stale_after_s,
        "readings_per_s": in_last_minute / 60,
        "last_reading_at": _aware(latest).isoformat() if latest else None,
        "setpoint_source": source.name if source else None,
        "setpoint_since": source.since.isoformat() if source else None,
    }
