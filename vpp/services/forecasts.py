"""Availability forecasts for schedules. Pure: plain data in and out.

A solar plant with a location and no profile given gets its **clear-sky** profile:
pvlib's Haurwitz clear-sky global horizontal irradiance at each interval's midpoint,
as a share of the 1,000 W/m² at which a panel's rating is measured, clipped to
[0, 1]. It is an upper bound on what the plant can produce (no clouds, no tilt: a
flat panel), so a schedule built on it plans for a clear day. Haurwitz needs only the
sun's position, no data files (Ineichen's Linke turbidity tables would add h5py
reads per location).
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

import numpy as np

# Plants this close together (degrees, about 1 km) share one profile: the sun rises
# about 4 s later per 0.01° of longitude, far less than any interval.
LOCATION_GRID_DEG = 0.01
STC_IRRADIANCE_W_PER_M2 = 1000.0


def clear_sky_shares(
    locations: Iterable[tuple[float, float]],
    start: datetime,
    resolution_minutes: int,
    intervals: int,
) -> dict[tuple[float, float], list[float]]:
    """Location (rounded to ``LOCATION_GRID_DEG``) -> clear-sky share per interval,
    for every location given."""
    import pandas as pd  # pvlib needs pandas; both load only when a profile is made
    import pvlib

    step = timedelta(minutes=resolution_minutes)
    midpoints = pd.DatetimeIndex([start + step * (t + 0.5) for t in range(intervals)])
    shares: dict[tuple[float, float], list[float]] = {}
    for latitude, longitude in {grid_location(lat, lon) for lat, lon in locations}:
        site = pvlib.location.Location(latitude, longitude, tz="UTC")
        ghi = site.get_clearsky(midpoints, model="haurwitz")["ghi"].to_numpy()
        share = np.clip(np.nan_to_num(ghi) / STC_IRRADIANCE_W_PER_M2, 0.0, 1.0)
        shares[(latitude, longitude)] = [float(x) for x in share]
    return shares


def grid_location(latitude: float, longitude: float) -> tuple[float, float]:
    return (
        round(round(latitude / LOCATION_GRID_DEG) * LOCATION_GRID_DEG, 6),
        round(round(longitude / LOCATION_GRID_DEG) * LOCATION_GRID_DEG, 6),
    )
