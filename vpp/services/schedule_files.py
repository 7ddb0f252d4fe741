"""Schedules in and out of files and shapes: a demand profile from CSV or a built-in
shape, availability profiles from CSV, a done schedule as CSV. The same for the
pages and the CLI.

Demand CSV: a header row with a ``demand_kw`` column, then one row per interval
(other columns are ignored). Availability CSV: a ``plant_id`` column, then one column
per interval (0 to 1), one row per plant.
"""

import csv
import io
import math
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from vpp.errors import InvalidInput
from vpp.services.fleet_csv import guard_formula

DEMAND_COLUMN = "demand_kw"
# Built-in demand shapes: the share of the peak at each hour of the day (UTC), as
# piecewise-linear curves through these points.
SHAPES: dict[str, tuple[str, list[tuple[float, float]]]] = {
    "flat": ("Flat", [(0, 1.0), (24, 1.0)]),
    "typical_day": (
        "Typical day",
        [
            (0, 0.55),
            (4, 0.5),
            (7, 0.75),
            (9, 0.9),
            (12, 0.95),
            (14, 0.85),
            (18, 1.0),
            (21, 0.8),
            (24, 0.55),
        ],
    ),  # fmt: skip
    "evening_peak": (
        "Evening peak",
        [(0, 0.4), (6, 0.4), (12, 0.5), (16, 0.6), (18, 1.0), (20, 1.0), (22, 0.6), (24, 0.4)],
    ),
}


def shaped_demand(
    shape: str, peak_kw: float, start: datetime, resolution_minutes: int, intervals: int
) -> list[float]:
    """``intervals`` values of ``shape`` scaled so that its peak is ``peak_kw``."""
    points = SHAPES[shape][1]
    values = []
    for t in range(intervals):
        hour = (start.hour + start.minute / 60 + (t + 0.5) * resolution_minutes / 60) % 24
        for (h0, v0), (h1, v1) in zip(points, points[1:], strict=False):
            if h0 <= hour <= h1:
                values.append(peak_kw * (v0 + (v1 - v0) * (hour - h0) / (h1 - h0)))
                break
    return values


def _rows(text: str, what: str) -> tuple[list[str], list[list[str]]]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        rows = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise InvalidInput(f"The {what} file is not CSV: {exc}") from exc
    if not rows:
        raise InvalidInput(f"The {what} file is empty.")
    return [h.strip().lower() for h in rows[0]], rows[1:]


def _number(text: str, what: str, line: int) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise InvalidInput(
            f"Line {line} of the {what} file: {text.strip()!r} is not a number."
        ) from None
    if not math.isfinite(value):
        raise InvalidInput(f"Line {line} of the {what} file: {text.strip()!r} is not finite.")
    return value


def demand_from_csv(text: str) -> list[float]:
    """The ``demand_kw`` column, one value per interval (checked later by the
    schedule request's rules)."""
    header, rows = _rows(text, "demand")
    if DEMAND_COLUMN not in header:
        raise InvalidInput(f"The demand file needs a '{DEMAND_COLUMN}' column in its first row.")
    column = header.index(DEMAND_COLUMN)
    demand = []
    for line, row in enumerate(rows, start=2):
        if column >= len(row) or not row[column].strip():
            raise InvalidInput(f"Line {line} of the demand file has no {DEMAND_COLUMN}.")
        demand.append(_number(row[column], "demand", line))
    if not demand:
        raise InvalidInput("The demand file has no intervals.")
    return demand


def availability_from_csv(text: str) -> dict[str, list[float]]:
    """Plant id (as text, as the API takes it) -> its values."""
    header, rows = _rows(text, "availability")
    if not header or header[0] != "plant_id":
        raise InvalidInput("The availability file's first column must be 'plant_id'.")
    profiles: dict[str, list[float]] = {}
    for line, row in enumerate(rows, start=2):
        plant_id = row[0].strip()
        if plant_id in profiles:
            raise InvalidInput(f"Line {line} of the availability file repeats plant {plant_id}.")
        profiles[plant_id] = [_number(cell, "availability", line) for cell in row[1:]]
    return profiles


def export_rows(starts: list[datetime], rows: Any) -> Iterator[str]:
    """A done schedule's CSV, line by line: one row per plant, its output (kW) in a
    column per interval start; names guarded as the fleet's CSV guards them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(
        ["plant_id", "name", "kind", "availability_source", "startups", "energy_kwh", "cost"]
        + [moment.isoformat() for moment in starts]
    )
    yield flush()
    for row in rows:
        writer.writerow(
            [row.plant_id, guard_formula(row.name), row.kind, row.availability_source, row.startups,
             repr(row.energy_kwh), repr(row.cost)] + [repr(float(kw)) for kw in row.output]
        )  # fmt: skip
        yield flush()
